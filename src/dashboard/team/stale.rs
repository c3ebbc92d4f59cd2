//! Stale-edit protection of the team pages' forms: a form carries the version of the record it
//! was drawn from, sent to the API as its `If-Match`, so a change over someone else's newer one
//! is refused (412) and changes nothing; the page then says so in words and shows the record as
//! it now is.

use axum::http::StatusCode;
use maud::{html, Markup};

use crate::api::precondition::Precondition;
use crate::api::ApiError;
use crate::dashboard::error::PageError;
use crate::dashboard::form::FormData;

/// The hidden field with the version the form was drawn from.
pub fn hidden(version: u64) -> Markup {
    html! { input type="hidden" name="version" value=(version); }
}

/// The version a posted form was drawn from; a form without one is refused (400).
pub fn version(form: &FormData) -> Result<u64, PageError> {
    form.get("version").parse::<u64>().map_err(|_| {
        PageError::new(
            StatusCode::BAD_REQUEST,
            "the form's version is missing: reload the page",
        )
    })
}

/// Only while the record is still at the version the posted form was drawn from.
pub fn precondition(form: &FormData) -> Result<Precondition, PageError> {
    version(form).map(Precondition::at)
}

/// The refusal as the page shows it: a stale change (412) says that `what` changed meanwhile
/// and that nothing was saved; any other keeps the API's message.
pub fn worded(mut refusal: ApiError, what: &str) -> ApiError {
    if refusal.status == StatusCode::PRECONDITION_FAILED {
        refusal.message = format!(
            "{what} was changed since you opened it: nothing was saved. The page now shows it \
             as it is; make your change again."
        );
    }
    refusal
}
