//! Request bodies with the envelope's errors: 413 past the size limit, 415 for a body declared
//! as another media type than the endpoint reads, 400 with serde's own words (field, expected
//! type, position) for anything malformed.
//!
//! Media types are compared as RFC 9110 says: type and subtype case-insensitively, parameters
//! (`; charset=utf-8`) allowed; a charset other than UTF-8 is refused, as both JSON and the CSV
//! import are read as UTF-8.

use axum::body::Bytes;
use axum::extract::{FromRequest, OptionalFromRequest, Request};
use axum::http::{header, HeaderMap, StatusCode};
use serde::de::DeserializeOwned;

use super::ApiError;

/// A JSON body; as `Option<ApiJson<T>>`, one that may be left out (an empty body is None).
pub struct ApiJson<T>(pub T);

impl<S: Send + Sync, T: DeserializeOwned> FromRequest<S> for ApiJson<T> {
    type Rejection = ApiError;

    async fn from_request(request: Request, state: &S) -> Result<Self, ApiError> {
        match json_body(request, state).await? {
            Some(value) => Ok(ApiJson(value)),
            None => Err(ApiError::bad_request("a JSON request body is required")),
        }
    }
}

/// `Option<ApiJson<T>>`: a body an endpoint takes but does not need (None when it is empty).
impl<S: Send + Sync, T: DeserializeOwned> OptionalFromRequest<S> for ApiJson<T> {
    type Rejection = ApiError;

    async fn from_request(request: Request, state: &S) -> Result<Option<Self>, ApiError> {
        Ok(json_body(request, state).await?.map(ApiJson))
    }
}

/// The JSON body, None when the request has none.
async fn json_body<S: Send + Sync, T: DeserializeOwned>(
    request: Request,
    state: &S,
) -> Result<Option<T>, ApiError> {
    // A body without a Content-Type is taken as JSON (clients that leave it out mean it);
    // one declared as something else is not read.
    if let Some(declared) = media_type(request.headers())? {
        let json = declared.type_() == mime::APPLICATION
            && (declared.subtype() == mime::JSON || declared.suffix() == Some(mime::JSON));
        if !json {
            return Err(unsupported(&declared, "a JSON body (application/json)"));
        }
    }
    let bytes = body_bytes(request, state).await?;
    if bytes.is_empty() {
        return Ok(None);
    }
    serde_json::from_slice(&bytes)
        .map(Some)
        .map_err(|e| ApiError::bad_request(format!("invalid JSON body: {e}")))
}

/// A CSV body (`text/csv`, the CSV import's).
pub struct CsvBody(pub Bytes);

impl<S: Send + Sync> FromRequest<S> for CsvBody {
    type Rejection = ApiError;

    async fn from_request(request: Request, state: &S) -> Result<Self, ApiError> {
        let what = "a text/csv body";
        match media_type(request.headers())? {
            Some(declared) if declared.essence_str() == "text/csv" => {}
            Some(declared) => return Err(unsupported(&declared, what)),
            None => {
                return Err(ApiError::new(
                    StatusCode::UNSUPPORTED_MEDIA_TYPE,
                    format!("the endpoint reads {what}; the request has no Content-Type"),
                ))
            }
        }
        Ok(CsvBody(body_bytes(request, state).await?))
    }
}

/// The request's declared media type, None without a Content-Type header. Err (415): one that
/// is not a media type, or text in a charset other than UTF-8.
fn media_type(headers: &HeaderMap) -> Result<Option<mime::Mime>, ApiError> {
    let Some(value) = headers.get(header::CONTENT_TYPE) else {
        return Ok(None);
    };
    let declared: mime::Mime = value
        .to_str()
        .ok()
        .and_then(|text| text.parse().ok())
        .ok_or_else(|| {
            ApiError::new(
                StatusCode::UNSUPPORTED_MEDIA_TYPE,
                "the Content-Type header is not a media type (type/subtype)",
            )
        })?;
    if let Some(charset) = declared.get_param(mime::CHARSET) {
        if !charset
            .as_str()
            .trim_matches('"')
            .eq_ignore_ascii_case("utf-8")
        {
            return Err(ApiError::new(
                StatusCode::UNSUPPORTED_MEDIA_TYPE,
                format!("charset {charset} is not read; send UTF-8 (charset=utf-8)"),
            ));
        }
    }
    Ok(Some(declared))
}

fn unsupported(declared: &mime::Mime, wanted: &str) -> ApiError {
    ApiError::new(
        StatusCode::UNSUPPORTED_MEDIA_TYPE,
        format!(
            "the endpoint reads {wanted}, not {}",
            declared.essence_str()
        ),
    )
}

/// The whole body, within `api.max_body_bytes`.
async fn body_bytes<S: Send + Sync>(request: Request, state: &S) -> Result<Bytes, ApiError> {
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

#[cfg(test)]
mod tests {
    use super::*;

    fn declared(value: &str) -> Result<Option<String>, u16> {
        let mut headers = HeaderMap::new();
        headers.insert(header::CONTENT_TYPE, value.parse().unwrap());
        media_type(&headers)
            .map(|m| m.map(|m| m.essence_str().to_owned()))
            .map_err(|e| e.status.as_u16())
    }

    #[test]
    fn media_types_are_case_insensitive_and_may_carry_parameters() {
        assert_eq!(declared("TEXT/CSV"), Ok(Some("text/csv".into())));
        assert_eq!(
            declared("text/csv; charset=UTF-8"),
            Ok(Some("text/csv".into()))
        );
        assert_eq!(
            declared("Application/JSON;charset=utf-8"),
            Ok(Some("application/json".into()))
        );
        assert_eq!(
            declared("text/csv; charset=\"utf-8\""),
            Ok(Some("text/csv".into()))
        );
        assert_eq!(declared("text/csv; charset=latin1"), Err(415));
        assert_eq!(declared("csv"), Err(415));
        assert_eq!(media_type(&HeaderMap::new()).unwrap(), None);
    }
}
