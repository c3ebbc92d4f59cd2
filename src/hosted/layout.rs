//! The frame every hosted page shares: head, the one stylesheet with the accent colour, and the
//! Content-Security-Policy that allows exactly that stylesheet.

use super::csp::Csp;
use super::escape::escape;
use super::fields::is_colour;
use super::Hosted;

/// The accent when neither the code nor its team names one.
pub const DEFAULT_ACCENT: &str = "#1a73e8";

/// Mobile-first, system fonts, light and dark. Only classes: the CSP allows no `style=`.
const CSS: &str = concat!(
    "*{box-sizing:border-box}",
    "body{margin:0;font:16px/1.5 system-ui,-apple-system,\"Segoe UI\",Roboto,sans-serif;",
    "color:#1c1c1e;background:#f2f2f5;-webkit-text-size-adjust:100%}",
    "main{max-width:34rem;margin:0 auto;padding:1.5rem 1rem 2.5rem}",
    ".card{background:#fff;border-radius:16px;padding:1.25rem;margin:0 0 1rem;",
    "box-shadow:0 1px 3px rgba(0,0,0,.08);overflow-wrap:anywhere}",
    ".center{text-align:center}",
    "h1{font-size:1.5rem;line-height:1.25;margin:.25rem 0 .5rem}",
    "h2{font-size:1.1rem;margin:0 0 .5rem}",
    "p{margin:.25rem 0 .75rem;white-space:pre-line}",
    ".muted,figcaption{color:#6b6b70}",
    "a{color:var(--accent)}",
    ".btn{display:block;text-align:center;padding:.85rem 1rem;margin:.6rem 0;border-radius:12px;",
    "background:var(--accent);color:var(--on-accent);text-decoration:none;font-weight:600}",
    ".btn.alt{background:transparent;color:var(--accent);border:2px solid var(--accent)}",
    ".avatar{width:96px;height:96px;border-radius:50%;object-fit:cover;display:block;",
    "margin:0 auto .75rem}",
    ".hero{width:100%;height:auto;border-radius:12px;display:block;margin:0 0 .75rem}",
    "figure{margin:0 0 1rem}figure img{width:100%;height:auto;border-radius:12px;display:block}",
    "figcaption{font-size:.9rem;padding:.35rem .25rem 0}",
    ".frame{display:block;width:100%;aspect-ratio:16/9;height:auto;border:0;border-radius:12px;",
    "background:#000}",
    ".pdf{display:block;width:100%;height:70vh;border:0;border-radius:12px;background:#e5e5ea}",
    ".code{font:700 1.6rem/1.2 ui-monospace,Menlo,Consolas,monospace;letter-spacing:.08em;",
    "padding:.9rem;border:2px dashed var(--accent);border-radius:12px;text-align:center;",
    "user-select:all;-webkit-user-select:all;margin:.75rem 0;word-break:break-all}",
    ".badge{display:inline-block;background:var(--accent);color:var(--on-accent);",
    "border-radius:999px;padding:.2rem .8rem;font-weight:700;margin:.25rem 0}",
    ".row{display:flex;justify-content:space-between;gap:1rem;padding:.65rem 0;",
    "border-top:1px solid #e5e5ea}",
    ".row:first-of-type{border-top:0}.row div{min-width:0}",
    ".row .label{color:#6b6b70;font-size:.85rem}",
    ".price{font-weight:600;white-space:nowrap}",
    ".tag{display:inline-block;font-size:.75rem;border:1px solid #c7c7cc;border-radius:999px;",
    "padding:0 .5rem;margin:.2rem .25rem 0 0}",
    "label{display:block;font-weight:600;margin:.5rem 0 .25rem}",
    "input{width:100%;font:inherit;padding:.75rem;border:1px solid #c7c7cc;border-radius:10px}",
    "button{width:100%;font:inherit;border:0;cursor:pointer}",
    ".error{color:#c5221f;font-weight:600}",
    "@media (prefers-color-scheme:dark){body{background:#000;color:#f2f2f7}",
    ".card{background:#1c1c1e;box-shadow:none}.muted,figcaption,.row .label{color:#a1a1a6}",
    ".row{border-color:#38383a}input{background:#2c2c2e;color:#f2f2f7;border-color:#48484a}",
    ".tag{border-color:#48484a}}"
);

/// The first valid colour of the code's own accent and its team's brand colour, else the default.
pub fn accent<'a>(own: Option<&'a str>, brand: Option<&'a str>) -> &'a str {
    own.into_iter()
        .chain(brand)
        .find(|c| is_colour(c))
        .unwrap_or(DEFAULT_ACCENT)
}

/// White or near-black, whichever reads better on `accent` (`#rrggbb`).
fn on_accent(accent: &str) -> &'static str {
    let channel = |i: usize| u8::from_str_radix(&accent[i..i + 2], 16).unwrap_or(0) as u32;
    // Rec. 601 luma, 0..=255000.
    let luma = 299 * channel(1) + 587 * channel(3) + 114 * channel(5);
    if luma > 160_000 {
        "#111111"
    } else {
        "#ffffff"
    }
}

/// The text of the page's one `<style>` element for this accent.
pub fn style(accent: &str) -> String {
    let accent = if is_colour(accent) {
        accent
    } else {
        DEFAULT_ACCENT
    };
    format!(
        ":root{{--accent:{accent};--on-accent:{}}}{CSS}",
        on_accent(accent)
    )
}

/// A page being built: its `<title>`, what goes inside `<main>`, and what it embeds.
pub struct Page<'a> {
    pub title: &'a str,
    pub accent: &'a str,
    pub body: String,
    pub csp: Csp,
    /// Fixed pages (not found, password…) ask search engines to stay away.
    pub noindex: bool,
}

impl<'a> Page<'a> {
    pub fn new(title: &'a str, accent: &'a str) -> Page<'a> {
        Page {
            title,
            accent,
            body: String::with_capacity(2048),
            csp: Csp::default(),
            noindex: false,
        }
    }

    /// `<img>` of `url` with this class and alternative text (allowed by the policy).
    pub fn image(&mut self, url: &str, class: &str, alt: &str) {
        self.csp.image(url);
        self.body.push_str("<img");
        if !class.is_empty() {
            w!(self.body, " class=\"{class}\"");
        }
        w!(
            self.body,
            " src=\"{}\" alt=\"{}\" loading=\"lazy\">",
            escape(url),
            escape(alt)
        );
    }

    /// A full-width button linking `url`; `alt` draws it outlined.
    pub fn button(&mut self, url: &str, text: &str, alt: bool) {
        w!(
            self.body,
            "<a class=\"btn{}\" href=\"{}\" rel=\"noopener\">{}</a>",
            if alt { " alt" } else { "" },
            escape(url),
            escape(text)
        );
    }

    /// A full-width button that saves `url` (a `data:` URL) as the file `file_name`.
    pub fn download_button(&mut self, url: &str, file_name: &str, text: &str) {
        w!(
            self.body,
            "<a class=\"btn\" href=\"{}\" download=\"{}\">{}</a>",
            escape(url),
            escape(file_name),
            escape(text)
        );
    }

    /// The usual opening card: an optional round image, the title, an optional description.
    /// Leaves the card open for the caller to add to and close with `</div>`.
    pub fn intro(&mut self, avatar: Option<&str>, title: &str, description: Option<&str>) {
        self.body.push_str("<div class=\"card center\">");
        if let Some(url) = avatar {
            self.image(url, "avatar", "");
        }
        w!(self.body, "<h1>{}</h1>", escape(title));
        if let Some(text) = description {
            w!(self.body, "<p class=\"muted\">{}</p>", escape(text));
        }
    }

    /// The finished document and its policy.
    pub fn finish(self) -> Hosted {
        let style = style(self.accent);
        let csp = self.csp.header(&style);
        let mut html = String::with_capacity(self.body.len() + style.len() + 512);
        html.push_str("<!doctype html><html><head><meta charset=\"utf-8\">");
        html.push_str("<meta name=\"viewport\" content=\"width=device-width,initial-scale=1\">");
        if self.noindex {
            html.push_str("<meta name=\"robots\" content=\"noindex\">");
        }
        w!(
            html,
            "<title>{}</title><style>{style}</style></head><body><main>{}</main></body></html>\n",
            escape(self.title),
            self.body
        );
        Hosted {
            html,
            csp,
            download: None,
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn the_accent_falls_back_to_valid_colours_only() {
        assert_eq!(accent(Some("#ff0000"), Some("#00ff00")), "#ff0000");
        assert_eq!(accent(Some("red"), Some("#00ff00")), "#00ff00");
        assert_eq!(accent(None, Some("#00ff00;}")), DEFAULT_ACCENT);
        assert_eq!(on_accent("#ffeb3b"), "#111111");
        assert_eq!(on_accent("#1a73e8"), "#ffffff");
    }
}
