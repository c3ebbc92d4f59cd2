//! Versions over HTTP: a record's answer carries its version as a strong `ETag` (`"7"`), and a
//! change sent with `If-Match` applies only to a record still at one of the versions it names
//! (`*`: any), else 412 and nothing changes. The check runs inside the store's write, against
//! the record as stored there.

use axum::extract::FromRequestParts;
use axum::http::header::{ETAG, IF_MATCH};
use axum::http::request::Parts;
use axum::http::{HeaderMap, HeaderValue, StatusCode};
use axum::response::{IntoResponse, IntoResponseParts, ResponseParts};

use super::ApiError;
use crate::model::{etag, IfMatch};
use crate::store::StoreError;

/// The request's `If-Match`, if it has one (several headers are one list).
#[derive(Debug, Clone, Default)]
pub struct Precondition(Option<IfMatch>);

impl Precondition {
    /// A refusal (`StoreError::Stale`) unless the record at `version` meets it.
    pub fn check(&self, version: u64) -> Result<(), StoreError> {
        match &self.0 {
            Some(wanted) if !wanted.admits(version) => Err(StoreError::Stale { current: version }),
            _ => Ok(()),
        }
    }

    /// Only while the record is still at `version`: what a form that carries the version it
    /// showed asks for.
    pub fn at(version: u64) -> Self {
        Self(Some(IfMatch::OneOf(vec![version])))
    }

    fn of(headers: &HeaderMap) -> Result<Self, ApiError> {
        let mut values = Vec::new();
        for value in headers.get_all(IF_MATCH) {
            let text = value
                .to_str()
                .map_err(|_| ApiError::bad_request("If-Match must be ASCII"))?;
            values.push(text);
        }
        if values.is_empty() {
            return Ok(Self(None));
        }
        let wanted = IfMatch::parse(&values.join(",")).map_err(ApiError::bad_request)?;
        Ok(Self(Some(wanted)))
    }
}

impl<S: Send + Sync> FromRequestParts<S> for Precondition {
    type Rejection = ApiError;

    async fn from_request_parts(parts: &mut Parts, _: &S) -> Result<Self, ApiError> {
        Self::of(&parts.headers)
    }
}

/// The `ETag` header of a record at this version.
pub struct Tag(pub u64);

impl IntoResponseParts for Tag {
    type Error = std::convert::Infallible;

    fn into_response_parts(self, mut parts: ResponseParts) -> Result<ResponseParts, Self::Error> {
        let value = HeaderValue::from_str(&etag(self.0)).expect("digits in quotes");
        parts.headers_mut().insert(ETAG, value);
        Ok(parts)
    }
}

/// The answer to a change whose precondition failed.
pub fn stale(what: &str, current: u64) -> ApiError {
    ApiError::new(
        StatusCode::PRECONDITION_FAILED,
        format!(
            "the {what} has changed: it is at ETag {}, which If-Match does not name; read it again",
            etag(current)
        ),
    )
}

/// `body` with the `ETag` of a record at `version`.
pub fn tagged(version: u64, body: impl IntoResponse) -> impl IntoResponse {
    (Tag(version), body)
}

/// The `If-Match` header, documented once for the endpoints that honour it.
#[derive(utoipa::IntoParams)]
#[into_params(parameter_in = Header)]
#[allow(dead_code)] // never built: only its description is used
pub(super) struct IfMatchHeader {
    /// Change the record only while it is at one of these versions: `*` or a list of the ETags
    /// its answers carry (`"7"`); else 412 and nothing changes
    #[param(rename = "If-Match")]
    if_match: Option<String>,
}
