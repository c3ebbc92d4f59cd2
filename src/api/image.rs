//! The QR image of a code as SVG: what `qrImageUrl` points at.

use std::collections::HashMap;

use axum::extract::rejection::QueryRejection;
use axum::extract::{Path, Query, State};
use axum::http::header;
use axum::response::IntoResponse;
use qrcode::render::svg;
use qrcode::QrCode;

use super::auth::Caller;
use super::error::ErrorBody;
use super::qrs::team_qr;
use super::{ApiError, AppState};

const DEFAULT_SIZE: u32 = 256;
const SIZES: std::ops::RangeInclusive<u32> = 64..=2048;

#[utoipa::path(
    get,
    path = "/api/qrs-api/{id}/image.svg",
    operation_id = "qrImageSvg",
    tag = "QR codes",
    params(
        ("id" = String, Path, description = "The code's id (`qr_…`)"),
        ("size" = Option<u32>, Query, minimum = 64, maximum = 2048, description = "Pixels (default 256)"),
    ),
    responses(
        (status = 200, description = "The QR image of the URL the code encodes", body = String, content_type = "image/svg+xml"),
        (status = 400, description = "size out of range", body = ErrorBody),
        (status = 404, description = "No such code in the team", body = ErrorBody),
    )
)]
pub async fn svg(
    State(state): State<AppState>,
    caller: Caller,
    Path(id): Path<String>,
    params: Result<Query<HashMap<String, String>>, QueryRejection>,
) -> Result<impl IntoResponse, ApiError> {
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
    let qr = team_qr(&state.store, &caller.team.id, &id).await?;
    let url = qr.short_url(&state.edge_base_url);
    let code = QrCode::new(url.as_bytes())
        .map_err(|e| ApiError::bad_request(format!("cannot encode {url:?} as a QR code: {e}")))?;
    let image = code
        .render::<svg::Color>()
        .min_dimensions(size, size)
        .quiet_zone(true)
        .build();
    Ok(([(header::CONTENT_TYPE, "image/svg+xml")], image))
}
