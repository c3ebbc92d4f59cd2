//! The error envelope `{"success": false, "message": ...}` with the right status code.

use axum::http::StatusCode;
use axum::response::{IntoResponse, Response};
use axum::Json;
use serde::Serialize;

use crate::aggregate::AnalyticsError;
use crate::store::StoreError;

/// What every error answer carries: `{"success": false, "message": ...}` (the reference's
/// envelope; the document at /openapi.json refers to it by this name).
#[derive(Serialize, utoipa::ToSchema)]
pub struct ErrorBody<'a> {
    /// Always false.
    success: bool,
    /// What went wrong, in words (names the field for a validation failure).
    #[schema(value_type = String)]
    message: &'a str,
}

#[derive(Debug)]
pub struct ApiError {
    pub status: StatusCode,
    pub message: String,
}

impl ApiError {
    pub fn new(status: StatusCode, message: impl Into<String>) -> Self {
        Self {
            status,
            message: message.into(),
        }
    }

    pub fn bad_request(message: impl Into<String>) -> Self {
        Self::new(StatusCode::BAD_REQUEST, message)
    }

    pub fn unauthorized(message: impl Into<String>) -> Self {
        Self::new(StatusCode::UNAUTHORIZED, message)
    }

    pub fn forbidden(message: impl Into<String>) -> Self {
        Self::new(StatusCode::FORBIDDEN, message)
    }

    pub fn not_found(message: impl Into<String>) -> Self {
        Self::new(StatusCode::NOT_FOUND, message)
    }

    pub fn conflict(message: impl Into<String>) -> Self {
        Self::new(StatusCode::CONFLICT, message)
    }

    /// A backend (Redis) that is away: 503, so clients retry; logged with the cause.
    pub fn unavailable(what: &str, cause: impl std::fmt::Display) -> Self {
        tracing::warn!(error = %cause, "{what} is unavailable");
        Self::new(
            StatusCode::SERVICE_UNAVAILABLE,
            format!("{what} (Redis) is unavailable; retry shortly"),
        )
    }

    /// Logged in full; the client gets a generic message.
    pub fn internal(detail: impl std::fmt::Display) -> Self {
        tracing::error!(error = %detail, "internal error");
        Self::new(StatusCode::INTERNAL_SERVER_ERROR, "internal error")
    }
}

impl std::fmt::Display for ApiError {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        write!(f, "{} {}", self.status, self.message)
    }
}

impl std::error::Error for ApiError {}

/// An edit's refusal carried through the store's write (`StoreError::Refused`), to be answered
/// as it is.
impl From<ApiError> for StoreError {
    fn from(e: ApiError) -> Self {
        StoreError::Refused(Box::new(e))
    }
}

impl IntoResponse for ApiError {
    fn into_response(self) -> Response {
        (
            self.status,
            Json(ErrorBody {
                success: false,
                message: &self.message,
            }),
        )
            .into_response()
    }
}

impl From<StoreError> for ApiError {
    fn from(e: StoreError) -> Self {
        match e {
            e @ StoreError::DisplayIdTaken(_) => ApiError::conflict(e.to_string()),
            StoreError::DomainTaken(domain) => {
                ApiError::conflict(format!("domain {domain:?} is already used by another team"))
            }
            StoreError::DomainNotTeams(domain) => ApiError::bad_request(format!(
                "baseUrl domain {domain:?} is not configured for this team"
            )),
            StoreError::DomainInUse { domain, live } => ApiError::conflict(format!(
                "domain {domain:?} still has {live} live QR codes; move or delete them first"
            )),
            StoreError::EmailTaken(email) => {
                ApiError::conflict(format!("a member with email {email:?} already exists"))
            }
            e @ (StoreError::CodeLimit(_) | StoreError::TeamLimit(_)) => {
                ApiError::forbidden(e.to_string())
            }
            StoreError::NotFound => ApiError::not_found("not found"),
            StoreError::Refused(reason) => match reason.downcast::<ApiError>() {
                Ok(refusal) => *refusal,
                Err(other) => ApiError::internal(other),
            },
            StoreError::Stale { current } => super::precondition::stale("record", current),
            e @ StoreError::Contended => ApiError::conflict(e.to_string()),
            StoreError::Redis(e) => ApiError::unavailable("the store", e),
            other => ApiError::internal(other),
        }
    }
}

impl From<AnalyticsError> for ApiError {
    fn from(e: AnalyticsError) -> Self {
        match e {
            AnalyticsError::Redis(e) => ApiError::unavailable("the analytics store", e),
            other => ApiError::internal(other),
        }
    }
}
