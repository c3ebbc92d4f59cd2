//! LINK_LIST: a page of buttons, one per link, under a title and an optional image.

use serde::Deserialize;
use serde_json::{Map, Value};

use super::fields::{self, MAX_TITLE};
use super::layout::{accent, Page};
use super::{Hosted, PageContext};

/// Validated LINK_LIST settings.
#[derive(Debug, Clone, PartialEq, Deserialize)]
#[serde(rename_all = "camelCase", deny_unknown_fields)]
pub struct LinkList {
    pub title: Option<String>,
    pub description: Option<String>,
    /// A round picture above the title (a logo or a face).
    pub image_url: Option<String>,
    pub links: Vec<Link>,
    pub accent_color: Option<String>,
}

/// One button of a LINK_LIST.
#[derive(Debug, Clone, PartialEq, Deserialize)]
#[serde(rename_all = "camelCase", deny_unknown_fields)]
pub struct Link {
    pub title: String,
    pub url: String,
}

pub(super) fn parse(settings: &Map<String, Value>) -> Result<LinkList, String> {
    let s: LinkList = fields::deserialize(settings)?;
    fields::list_len("settings.links", s.links.len(), 1)?;
    let links = s
        .links
        .into_iter()
        .enumerate()
        .map(|(i, link)| {
            Ok(Link {
                title: fields::title(&format!("settings.links[{i}].title"), link.title, MAX_TITLE)?,
                url: fields::url(&format!("settings.links[{i}].url"), &link.url)?,
            })
        })
        .collect::<Result<_, String>>()?;
    Ok(LinkList {
        title: fields::opt_title("settings.title", s.title, MAX_TITLE)?,
        description: fields::opt_text("settings.description", s.description)?,
        image_url: fields::opt_url("settings.imageUrl", s.image_url)?,
        links,
        accent_color: fields::opt_colour("settings.accentColor", s.accent_color)?,
    })
}

impl LinkList {
    pub(super) fn render(&self, ctx: &PageContext) -> Hosted {
        let title = self.title.as_deref().unwrap_or(ctx.title);
        let mut page = Page::new(
            title,
            accent(self.accent_color.as_deref(), ctx.brand_colour),
        );
        page.intro(
            self.image_url.as_deref(),
            title,
            self.description.as_deref(),
        );
        page.body.push_str("</div><nav>");
        for link in &self.links {
            page.button(&link.url, &link.title, false);
        }
        page.body.push_str("</nav>");
        page.finish()
    }
}
