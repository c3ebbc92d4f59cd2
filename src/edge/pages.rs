//! The edge's own small pages: not found, expired, password. Rendered when the table is built
//! (never per request); the only user text in them, a displayId or a colour, is validated when
//! saved and escaped here all the same.

use std::fmt::Write;

/// The policy of every page here: no scripts, no frames, forms only back to us.
pub const CONTENT_SECURITY_POLICY: &str =
    "default-src 'none'; style-src 'unsafe-inline'; form-action 'self'; base-uri 'none'; frame-ancestors 'none'";

const DEFAULT_COLOUR: &str = "#1f6feb";

pub const NOT_FOUND: &str = concat!(
    "<!doctype html><html lang=\"en\"><head><meta charset=\"utf-8\">",
    "<meta name=\"viewport\" content=\"width=device-width,initial-scale=1\">",
    "<title>Code not found</title></head><body style=\"font-family:system-ui,sans-serif;",
    "max-width:32rem;margin:4rem auto;padding:0 1rem;text-align:center\">",
    "<h1>Code not found</h1><p>This QR code or link does not exist or is no longer active.</p>",
    "</body></html>\n"
);

pub const EXPIRED: &str = concat!(
    "<!doctype html><html lang=\"en\"><head><meta charset=\"utf-8\">",
    "<meta name=\"viewport\" content=\"width=device-width,initial-scale=1\">",
    "<title>Code expired</title></head><body style=\"font-family:system-ui,sans-serif;",
    "max-width:32rem;margin:4rem auto;padding:0 1rem;text-align:center\">",
    "<h1>Code expired</h1><p>This QR code or link has expired.</p>",
    "</body></html>\n"
);

/// HTML-escapes text for element content and quoted attribute values.
pub fn escape(text: &str) -> String {
    let mut out = String::with_capacity(text.len());
    for c in text.chars() {
        match c {
            '&' => out.push_str("&amp;"),
            '<' => out.push_str("&lt;"),
            '>' => out.push_str("&gt;"),
            '"' => out.push_str("&quot;"),
            '\'' => out.push_str("&#39;"),
            c => out.push(c),
        }
    }
    out
}

/// A `#rrggbb` colour, or the default one for anything else.
fn colour(brand: Option<&str>) -> &str {
    match brand {
        Some(c)
            if c.len() == 7
                && c.starts_with('#')
                && c[1..].bytes().all(|b| b.is_ascii_hexdigit()) =>
        {
            c
        }
        _ => DEFAULT_COLOUR,
    }
}

fn page(title: &str, brand: Option<&str>, body: &str) -> String {
    let mut html = String::with_capacity(1024 + body.len());
    let _ = writeln!(
        html,
        "<!doctype html><html lang=\"en\"><head><meta charset=\"utf-8\">\
         <meta name=\"viewport\" content=\"width=device-width,initial-scale=1\">\
         <meta name=\"robots\" content=\"noindex\"><title>{title}</title></head>\
         <body style=\"font-family:system-ui,sans-serif;max-width:32rem;margin:4rem auto;\
         padding:0 1rem;text-align:center;border-top:6px solid {colour}\">{body}</body></html>",
        title = escape(title),
        colour = colour(brand),
    );
    html
}

pub fn not_found(brand: Option<&str>) -> String {
    page(
        "Code not found",
        brand,
        "<h1>Code not found</h1><p>This QR code or link does not exist or is no longer active.</p>",
    )
}

pub fn expired(brand: Option<&str>) -> String {
    page(
        "Code expired",
        brand,
        "<h1>Code expired</h1><p>This QR code or link has expired.</p>",
    )
}

/// The form of a password-protected code; it posts back to the code's own URL.
pub fn password(display_id: &str, brand: Option<&str>, wrong: bool) -> String {
    let notice = if wrong {
        "<p role=\"alert\" style=\"color:#b42318\">That password is not right. Try again.</p>"
    } else {
        ""
    };
    let body = format!(
        "<h1>Password required</h1><p>Enter the password to open this code.</p>{notice}\
         <form method=\"post\" action=\"/{id}\"><input type=\"password\" name=\"password\" \
         autocomplete=\"current-password\" required autofocus style=\"font-size:1.1rem;padding:.5rem;\
         width:100%;box-sizing:border-box\"><button type=\"submit\" style=\"margin-top:1rem;\
         font-size:1.1rem;padding:.6rem 1.5rem;border:0;border-radius:.4rem;color:#fff;\
         background:{colour}\">Open</button></form>",
        id = escape(display_id),
        colour = colour(brand),
    );
    page("Password required", brand, &body)
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn text_is_escaped_and_colours_are_checked() {
        assert_eq!(
            escape(r#"<a href="x">'&'</a>"#),
            "&lt;a href=&quot;x&quot;&gt;&#39;&amp;&#39;&lt;/a&gt;"
        );
        assert!(not_found(Some("#00ff00")).contains("#00ff00"));
        assert!(not_found(Some("red;background:url(x)")).contains(DEFAULT_COLOUR));
        assert!(password("a\"b", None, true).contains("/a&quot;b"));
    }
}
