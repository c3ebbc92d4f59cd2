//! JSON request bodies with the envelope's errors: 413 past the size limit, 400 with serde's
//! own words (field, expected type, position) for anything malformed.

use axum::body::Bytes;
use axum::extract::{FromRequest, OptionalFromRequest, Request};
use axum::http::StatusCode;
use serde::de::DeserializeOwned;

use super::ApiError;

/// A JSON body; as `Option<ApiJson<T>>`, one that may be left out (an empty body is None).
pub struct ApiJson<T>(pub T);

async fn read_body<S: Send + Sync>(request: Request, state: &S) -> Result<Bytes, ApiError> {
    Bytes::from_request(request, state)
        .await
        .map_err(|rejection| {
            if rejection.status() == StatusCode::PAYLOAD_TOO_LARGE {
                ApiError::new(
                    StatusCode::PAYLOAD_TOO_LARGE,
                    "request body is larger than the limit",
                )
            } else {
                ApiError::bad_request(format!("cannot read the request body: {rejection}"))
            }
        })
}

fn parse<T: DeserializeOwned>(bytes: &[u8]) -> Result<ApiJson<T>, ApiError> {
    serde_json::from_slice(bytes)
        .map(ApiJson)
        .map_err(|e| ApiError::bad_request(format!("invalid JSON body: {e}")))
}

impl<S: Send + Sync, T: DeserializeOwned> FromRequest<S> for ApiJson<T> {
    type Rejection = ApiError;

    async fn from_request(request: Request, state: &S) -> Result<Self, ApiError> {
        let bytes = read_body(request, state).await?;
        if bytes.is_empty() {
            return Err(ApiError::bad_request("a JSON request body is required"));
        }
        parse(&bytes)
    }
}

impl<S: Send + Sync, T: DeserializeOwned> OptionalFromRequest<S> for ApiJson<T> {
    type Rejection = ApiError;

    async fn from_request(request: Request, state: &S) -> Result<Option<Self>, ApiError> {
        let bytes = read_body(request, state).await?;
        if bytes.is_empty() {
            return Ok(None);
        }
        parse(&bytes).map(Some)
    }
}
