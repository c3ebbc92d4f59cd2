//! The edge's own pages, in the team's colour: not found (404), expired (410) and the password
//! prompt of a protected code. The status codes are the edge's to set.

use super::escape::escape;
use super::layout::{accent, Page};
use super::Hosted;

fn message(title: &str, text: &str, brand: Option<&str>) -> Hosted {
    let mut page = Page::new(title, accent(None, brand));
    page.noindex = true;
    w!(
        page.body,
        "<div class=\"card center\"><h1>{}</h1><p class=\"muted\">{}</p></div>",
        escape(title),
        escape(text)
    );
    page.finish()
}

/// The page of a code that does not exist or is no longer active (served with 404).
pub fn not_found_page(brand: Option<&str>) -> Hosted {
    message(
        "Code not found",
        "This QR code or link does not exist or is no longer active.",
        brand,
    )
}

/// The page of a code past its expiry date or scan limit (served with 410).
pub fn expired_page(brand: Option<&str>) -> Hosted {
    message("Code expired", "This QR code or link has expired.", brand)
}

/// The prompt of a password-protected code: a form POSTing `password` to `/{display_id}`;
/// `error` after a wrong password.
pub fn password_page(display_id: &str, title: &str, brand: Option<&str>, error: bool) -> Hosted {
    let heading = if title.trim().is_empty() {
        "Protected"
    } else {
        title
    };
    let mut page = Page::new(heading, accent(None, brand));
    page.noindex = true;
    w!(
        page.body,
        "<form class=\"card\" method=\"post\" action=\"/{}\"><h1>{}</h1>\
         <p class=\"muted\">This content is protected. Enter the password to continue.</p>",
        escape(display_id),
        escape(heading)
    );
    if error {
        page.body
            .push_str("<p class=\"error\" role=\"alert\">Wrong password. Please try again.</p>");
    }
    page.body.push_str(
        "<label for=\"password\">Password</label>\
         <input id=\"password\" name=\"password\" type=\"password\" autocomplete=\"current-password\" \
         required autofocus><button class=\"btn\" type=\"submit\">Continue</button></form>",
    );
    page.finish()
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn fixed_pages_carry_the_brand_and_a_strict_policy() {
        let page = not_found_page(Some("#e91e63"));
        assert!(page.html.contains("Code not found"));
        assert!(page.html.contains("--accent:#e91e63"));
        assert!(page
            .csp
            .starts_with("default-src 'none'; style-src 'sha256-"));
        assert!(expired_page(None).html.contains("has expired"));
    }

    #[test]
    fn the_password_form_posts_back_to_the_code() {
        let page = password_page("launch", "<b>Launch</b>", None, false);
        assert!(page
            .html
            .contains("<form class=\"card\" method=\"post\" action=\"/launch\">"));
        assert!(page.html.contains("name=\"password\" type=\"password\""));
        assert!(page.html.contains("&lt;b&gt;Launch&lt;/b&gt;"));
        assert!(!page.html.contains("Wrong password"));
        assert!(page.csp.contains("form-action 'self'"));
        assert!(password_page("launch", "", None, true)
            .html
            .contains("Wrong password"));
    }
}
