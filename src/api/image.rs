//! The QR image of a code, as SVG or PNG, in the design of its template:
//! `GET /api/qrs-api/{id}/image.svg` and `…/image.png` with the credentials, with `?size=` in
//! pixels and `?errorCorrection=` to override the template's level. The same images without
//! credentials, at the code's public URL (`qrImageUrl`), are `public_image`'s.

use std::collections::HashMap;

use axum::extract::rejection::QueryRejection;
use axum::extract::{Path, Query, State};
use axum::http::header;
use axum::response::{IntoResponse, Response};

use super::auth::Caller;
use super::error::ErrorBody;
use super::openapi::CodePath;
use super::qrs::team_qr;
use super::templates::code_template;
use super::{ApiError, AppState};
use crate::model::template::ErrorCorrection;
use crate::model::Qr;
use crate::qr_image::{Design, DEFAULT_SIZE, SIZES};

/// What an image request may ask for.
pub(crate) struct ImageQuery {
    pub size: u32,
    pub error_correction: Option<ErrorCorrection>,
}

impl ImageQuery {
    pub fn parse(
        params: Result<Query<HashMap<String, String>>, QueryRejection>,
    ) -> Result<Self, ApiError> {
        let Query(params) = params.map_err(|e| ApiError::bad_request(e.body_text()))?;
        let size = match params.get("size") {
            None => DEFAULT_SIZE,
            Some(text) => text
                .parse::<u32>()
                .ok()
                .filter(|n| SIZES.contains(n))
                .ok_or_else(|| {
                    ApiError::bad_request(format!(
                        "size must be from {} to {} pixels",
                        SIZES.start(),
                        SIZES.end()
                    ))
                })?,
        };
        let error_correction = params
            .get("errorCorrection")
            .map(|text| ErrorCorrection::parse(text))
            .transpose()
            .map_err(ApiError::bad_request)?;
        Ok(Self {
            size,
            error_correction,
        })
    }
}

/// The query of an image request as the OpenAPI document states it (`ImageQuery::parse` reads
/// the query itself, so that a bad value is answered with the envelope's message).
#[derive(utoipa::IntoParams)]
#[into_params(parameter_in = Query, rename_all = "camelCase")]
#[allow(dead_code)] // never built: only its description is used
pub(super) struct ImageParams {
    /// Pixels (default 256).
    #[param(minimum = 64, maximum = 2048)]
    size: Option<u32>,
    /// L, M, Q or H: overrides the template's level (a logo needs Q or H).
    #[param(pattern = "^[LMQHlmqh]$")]
    error_correction: Option<String>,
}

/// An image's file format.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub(crate) enum Format {
    Svg,
    Png,
}

/// The image of the URL `qr` encodes (its custom domain's, if it has one), in its template.
pub(crate) async fn drawn(
    state: &AppState,
    qr: &Qr,
    query: &ImageQuery,
    format: Format,
) -> Result<Response, ApiError> {
    let template = code_template(state, qr).await?;
    let design = Design::of(&template, query.error_correction).map_err(ApiError::bad_request)?;
    let url = qr.short_url(&state.edge_base_url);
    match format {
        Format::Png => png_response(&url, design, query.size).await,
        Format::Svg => {
            let image =
                crate::qr_image::svg(&url, &design, query.size).map_err(ApiError::bad_request)?;
            Ok(([(header::CONTENT_TYPE, "image/svg+xml")], image).into_response())
        }
    }
}

#[utoipa::path(
    get,
    path = "/api/qrs-api/{id}/image.svg",
    operation_id = "qrImageSvg",
    tag = "QR codes",
    params(
        CodePath,
        ImageParams,
    ),
    responses(
        (status = 200, description = "The QR image of the URL the code encodes, in its template", body = String, content_type = "image/svg+xml"),
        (status = 400, description = "size or errorCorrection out of range", body = ErrorBody),
        (status = 404, description = "No such code in the team", body = ErrorBody),
    )
)]
pub async fn svg(
    State(state): State<AppState>,
    caller: Caller,
    Path(id): Path<String>,
    params: Result<Query<HashMap<String, String>>, QueryRejection>,
) -> Result<Response, ApiError> {
    let query = ImageQuery::parse(params)?;
    let qr = team_qr(&state.store, &caller.team.id, &id).await?;
    drawn(&state, &qr, &query, Format::Svg).await
}

#[utoipa::path(
    get,
    path = "/api/qrs-api/{id}/image.png",
    operation_id = "qrImagePng",
    tag = "QR codes",
    params(
        CodePath,
        ImageParams,
    ),
    responses(
        (status = 200, description = "The QR image of the URL the code encodes, in its template", body = Vec<u8>, content_type = "image/png"),
        (status = 400, description = "size or errorCorrection out of range", body = ErrorBody),
        (status = 404, description = "No such code in the team", body = ErrorBody),
    )
)]
pub async fn png(
    State(state): State<AppState>,
    caller: Caller,
    Path(id): Path<String>,
    params: Result<Query<HashMap<String, String>>, QueryRejection>,
) -> Result<Response, ApiError> {
    let query = ImageQuery::parse(params)?;
    let qr = team_qr(&state.store, &caller.team.id, &id).await?;
    drawn(&state, &qr, &query, Format::Png).await
}

/// The PNG of `text` in `design`, drawn off the async workers (a large image with a logo takes
/// milliseconds of CPU).
pub(super) async fn png_response(
    text: &str,
    design: Design,
    size: u32,
) -> Result<Response, ApiError> {
    let text = text.to_owned();
    let image = tokio::task::spawn_blocking(move || crate::qr_image::png(&text, &design, size))
        .await
        .map_err(ApiError::internal)?
        .map_err(ApiError::bad_request)?;
    Ok(([(header::CONTENT_TYPE, "image/png")], image).into_response())
}
