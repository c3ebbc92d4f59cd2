//! The live fragment's answer: the HTML of the moving parts with an ETag (a hash of that HTML),
//! and 304 without a body when the poller already has it, so an idle page's polls stay small.

use axum::http::header::{CONTENT_TYPE, ETAG, IF_NONE_MATCH};
use axum::http::{HeaderMap, StatusCode};
use axum::response::{IntoResponse, Response};
use maud::Markup;
use sha2::{Digest, Sha256};

pub fn fragment(request: &HeaderMap, markup: Markup) -> Response {
    let body = markup.into_string();
    let etag = format!(
        "\"{}\"",
        hex::encode(&Sha256::digest(body.as_bytes())[..16])
    );
    let known = request
        .get(IF_NONE_MATCH)
        .and_then(|value| value.to_str().ok())
        .is_some_and(|tags| tags.split(',').any(|tag| tag.trim() == etag));
    if known {
        return (StatusCode::NOT_MODIFIED, [(ETAG, etag)]).into_response();
    }
    (
        [
            (CONTENT_TYPE, "text/html; charset=utf-8".to_owned()),
            (ETAG, etag),
        ],
        body,
    )
        .into_response()
}
