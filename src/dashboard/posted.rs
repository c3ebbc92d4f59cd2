//! A signed-in member's form, read and checked: the opening every form handler shares. The
//! session must be live (else to the sign-in page) and the form must carry its CSRF token (else
//! 403, nothing read further).

use axum::body::Bytes;
use axum::extract::{FromRequest, FromRequestParts, Request};
use axum::response::{IntoResponse, Response};

use super::form::FormData;
use super::session::Signed;
use super::{csrf, DashState};

pub struct Posted {
    pub signed: Signed,
    pub form: FormData,
}

impl FromRequest<DashState> for Posted {
    type Rejection = Response;

    async fn from_request(request: Request, state: &DashState) -> Result<Self, Response> {
        let (mut parts, body) = request.into_parts();
        let signed = Signed::from_request_parts(&mut parts, state).await?;
        let body = Bytes::from_request(Request::from_parts(parts, body), state)
            .await
            .map_err(IntoResponse::into_response)?;
        let form = FormData::parse(&body);
        csrf::check(&form, &signed.csrf).map_err(IntoResponse::into_response)?;
        Ok(Posted { signed, form })
    }
}
