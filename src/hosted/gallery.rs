//! IMAGE_GALLERY: a title and a column of images with captions.

use serde::Deserialize;
use serde_json::{Map, Value};

use super::escape::escape;
use super::fields::{self, MAX_TITLE};
use super::layout::{accent, Page};
use super::{Hosted, PageContext};

/// Validated IMAGE_GALLERY settings.
#[derive(Debug, Clone, PartialEq, Deserialize)]
#[serde(rename_all = "camelCase", deny_unknown_fields)]
pub struct Gallery {
    pub title: Option<String>,
    pub description: Option<String>,
    pub images: Vec<GalleryImage>,
    pub accent_color: Option<String>,
}

/// One image of a gallery.
#[derive(Debug, Clone, PartialEq, Deserialize)]
#[serde(rename_all = "camelCase", deny_unknown_fields)]
pub struct GalleryImage {
    pub url: String,
    /// Shown under the image and used as its alternative text.
    pub caption: Option<String>,
}

pub(super) fn parse(settings: &Map<String, Value>) -> Result<Gallery, String> {
    let s: Gallery = fields::deserialize(settings)?;
    fields::list_len("settings.images", s.images.len(), 1)?;
    let images = s
        .images
        .into_iter()
        .enumerate()
        .map(|(i, image)| {
            Ok(GalleryImage {
                url: fields::url(&format!("settings.images[{i}].url"), &image.url)?,
                caption: fields::opt_title(
                    &format!("settings.images[{i}].caption"),
                    image.caption,
                    MAX_TITLE,
                )?,
            })
        })
        .collect::<Result<_, String>>()?;
    Ok(Gallery {
        title: fields::opt_title("settings.title", s.title, MAX_TITLE)?,
        description: fields::opt_text("settings.description", s.description)?,
        images,
        accent_color: fields::opt_colour("settings.accentColor", s.accent_color)?,
    })
}

impl Gallery {
    pub(super) fn render(&self, ctx: &PageContext) -> Hosted {
        let title = self.title.as_deref().unwrap_or(ctx.title);
        let mut page = Page::new(
            title,
            accent(self.accent_color.as_deref(), ctx.brand_colour),
        );
        page.intro(None, title, self.description.as_deref());
        page.body.push_str("</div>");
        for image in &self.images {
            page.body.push_str("<figure class=\"card\">");
            let caption = image.caption.as_deref().unwrap_or("");
            page.image(&image.url, "", caption);
            if !caption.is_empty() {
                w!(page.body, "<figcaption>{}</figcaption>", escape(caption));
            }
            page.body.push_str("</figure>");
        }
        page.finish()
    }
}
