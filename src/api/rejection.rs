//! axum's own extractor rejections in the envelope: a path segment that is not UTF-8 once
//! percent-decoded (`Path`), or a body past `api.max_body_bytes` read as raw bytes (the CSV
//! import), is answered by axum in `text/plain`. Every error of the API is
//! `{"success": false, "message": ...}` (and /openapi.json says so), so such an answer is
//! re-wrapped here, its status and other headers kept.

use axum::body::to_bytes;
use axum::http::header::{CONTENT_LENGTH, CONTENT_TYPE};
use axum::response::{IntoResponse, Response};

use super::ApiError;

/// A rejection's text is one short line; anything longer is cut.
const MAX_MESSAGE_BYTES: usize = 4096;

pub async fn envelope(response: Response) -> Response {
    let plain_text = response
        .headers()
        .get(CONTENT_TYPE)
        .and_then(|v| v.to_str().ok())
        .is_some_and(|v| v.starts_with("text/plain"));
    let status = response.status();
    if !(plain_text && (status.is_client_error() || status.is_server_error())) {
        return response;
    }
    let (mut parts, body) = response.into_parts();
    let text = to_bytes(body, MAX_MESSAGE_BYTES).await.unwrap_or_default();
    let message = String::from_utf8_lossy(&text).trim().to_owned();
    let (enveloped, body) = ApiError::new(status, message).into_response().into_parts();
    parts.headers.remove(CONTENT_LENGTH);
    if let Some(json) = enveloped.headers.get(CONTENT_TYPE) {
        parts.headers.insert(CONTENT_TYPE, json.clone());
    }
    Response::from_parts(parts, body)
}
