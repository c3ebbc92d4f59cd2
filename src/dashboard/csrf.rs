//! CSRF protection on every form. A signed-in member's forms carry their session's token in a
//! hidden field; the sign-in forms, before any session exists, carry a random token that must
//! match the `qredge_form` cookie set with the page (a double submit). A POST whose field does
//! not match gets 403 and changes nothing.

use axum::http::{HeaderMap, StatusCode};
use maud::{html, Markup};
use subtle::ConstantTimeEq;

use super::error::PageError;
use super::form::FormData;
use super::session::{cookie_value, set_cookie};

/// The hidden field every form carries.
pub const FIELD: &str = "csrf";
/// The cookie of the forms shown before a session exists.
const FORM_COOKIE: &str = "qredge_form";
/// How long that cookie lives: long enough to fill in a sign-in form.
const FORM_COOKIE_SECONDS: u64 = 3600;

pub fn hidden(token: &str) -> Markup {
    html! { input type="hidden" name=(FIELD) value=(token); }
}

/// Refuses a form whose token is not `expected`.
pub fn check(form: &FormData, expected: &str) -> Result<(), PageError> {
    let sent = form.get(FIELD);
    let matches = !expected.is_empty() && bool::from(sent.as_bytes().ct_eq(expected.as_bytes()));
    if matches {
        Ok(())
    } else {
        Err(PageError::new(
            StatusCode::FORBIDDEN,
            "the form's security token is missing or out of date: reload the page and try again",
        ))
    }
}

/// The token of a form shown before sign-in: the browser's `qredge_form` cookie, or a new one
/// with the `Set-Cookie` value that gives it.
pub fn pre_session_token(headers: &HeaderMap, secure: bool) -> (String, Option<String>) {
    match cookie_value(headers, FORM_COOKIE).filter(|t| t.len() >= 32) {
        Some(token) => (token.to_owned(), None),
        None => {
            let token = crate::ids::random_alphanumeric(43);
            let cookie = set_cookie(FORM_COOKIE, &token, FORM_COOKIE_SECONDS, secure);
            (token, Some(cookie))
        }
    }
}

/// Refuses a sign-in form whose token is not its cookie's.
pub fn check_pre_session(headers: &HeaderMap, form: &FormData) -> Result<(), PageError> {
    check(form, cookie_value(headers, FORM_COOKIE).unwrap_or_default())
}
