//! The reference's narrow code operations: duplicate, replace the tags, rename.

use axum::extract::{Path, State};
use axum::http::StatusCode;
use axum::response::IntoResponse;
use serde::Deserialize;

use super::auth::Caller;
use super::body::ApiJson;
use super::qrs::{apply_update, code_limit, live_team_qr, store_new_qr, write_context};
use super::view::{ok, qr_view};
use super::{ApiError, AppState};
use crate::model::qr_input::{duplicated_qr, QrInput};

/// `POST /api/qrs-api/{id}/duplicate`: a new code (new id and displayId, on the same domain)
/// with the original's name, type, target, settings and tags. 201 with the copy.
pub async fn duplicate(
    State(state): State<AppState>,
    caller: Caller,
    Path(id): Path<String>,
) -> Result<impl IntoResponse, ApiError> {
    caller.require_code_writer()?;
    let original = live_team_qr(&state, &caller, &id, "duplicate").await?;
    let platform_host = state.platform_host();
    // A copy keeps its original's templateId, checked when that was written.
    let ctx = write_context(&caller, &platform_host, &[]);
    let limit = code_limit(&state, &caller).await?;
    let copy = store_new_qr(&state.store, false, limit, |id, display_id| {
        duplicated_qr(&original, id, display_id, &ctx)
    })
    .await?;
    Ok((StatusCode::CREATED, ok(qr_view(copy, &state))))
}

#[derive(Deserialize)]
#[serde(deny_unknown_fields)]
pub struct TagsBody {
    tags: Vec<String>,
}

/// `PUT /api/qrs-api/{id}/tags`: replaces the code's tags (`[]` clears them).
pub async fn tags(
    State(state): State<AppState>,
    caller: Caller,
    Path(id): Path<String>,
    ApiJson(body): ApiJson<TagsBody>,
) -> Result<impl IntoResponse, ApiError> {
    caller.require_code_writer()?;
    let input = QrInput {
        tags: Some(body.tags),
        ..QrInput::default()
    };
    Ok(ok(qr_view(
        apply_update(&state, &caller, &id, input).await?,
        &state,
    )))
}

#[derive(Deserialize)]
#[serde(deny_unknown_fields)]
pub struct TitleBody {
    title: String,
}

/// `PUT /api/qrs-api/{id}/title`: renames the code; the title must not be blank.
pub async fn title(
    State(state): State<AppState>,
    caller: Caller,
    Path(id): Path<String>,
    ApiJson(body): ApiJson<TitleBody>,
) -> Result<impl IntoResponse, ApiError> {
    caller.require_code_writer()?;
    if body.title.trim().is_empty() {
        return Err(ApiError::bad_request("title must not be empty"));
    }
    let input = QrInput {
        name: Some(body.title),
        ..QrInput::default()
    };
    Ok(ok(qr_view(
        apply_update(&state, &caller, &id, input).await?,
        &state,
    )))
}
