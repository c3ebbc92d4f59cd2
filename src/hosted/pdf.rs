//! PDF: a page showing the document inline where the browser can, with buttons to open and
//! download it (phones rarely show PDFs inline).

use serde::Deserialize;
use serde_json::{Map, Value};

use super::escape::escape;
use super::fields::{self, MAX_TITLE};
use super::layout::{accent, Page};
use super::{Hosted, PageContext};

/// Validated PDF settings.
#[derive(Debug, Clone, PartialEq, Deserialize)]
#[serde(rename_all = "camelCase", deny_unknown_fields)]
pub struct Pdf {
    pub pdf_url: String,
    pub title: Option<String>,
    pub description: Option<String>,
    /// The name offered when downloading (`report-2025.pdf`).
    pub file_name: Option<String>,
    pub accent_color: Option<String>,
}

pub(super) fn parse(settings: &Map<String, Value>) -> Result<Pdf, String> {
    let s: Pdf = fields::deserialize(settings)?;
    let file_name = fields::opt_title("settings.fileName", s.file_name, MAX_TITLE)?;
    if let Some(name) = &file_name {
        if name.contains(['/', '\\']) {
            return Err("settings.fileName must be a file name without '/' or '\\'".into());
        }
    }
    Ok(Pdf {
        pdf_url: fields::url("settings.pdfUrl", &s.pdf_url)?,
        title: fields::opt_title("settings.title", s.title, MAX_TITLE)?,
        description: fields::opt_text("settings.description", s.description)?,
        file_name,
        accent_color: fields::opt_colour("settings.accentColor", s.accent_color)?,
    })
}

impl Pdf {
    pub(super) fn render(&self, ctx: &PageContext) -> Hosted {
        let title = self.title.as_deref().unwrap_or(ctx.title);
        let mut page = Page::new(
            title,
            accent(self.accent_color.as_deref(), ctx.brand_colour),
        );
        page.intro(None, title, self.description.as_deref());
        page.button(&self.pdf_url, "Open PDF", false);
        w!(
            page.body,
            "<a class=\"btn alt\" href=\"{}\" download=\"{}\" rel=\"noopener\">Download</a></div>",
            escape(&self.pdf_url),
            escape(self.file_name.as_deref().unwrap_or(""))
        );
        page.csp.object(&self.pdf_url);
        w!(
            page.body,
            "<object class=\"pdf\" data=\"{}\" type=\"application/pdf\" title=\"{}\">\
             <p class=\"card center muted\">This browser cannot show the PDF here; \
             use the buttons above.</p></object>",
            escape(&self.pdf_url),
            escape(title)
        );
        page.finish()
    }
}
