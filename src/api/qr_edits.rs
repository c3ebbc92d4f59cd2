//! The reference's narrow code operations: duplicate, replace the tags, rename.

use axum::extract::{Path, State};
use axum::http::StatusCode;
use axum::response::IntoResponse;
use serde::Deserialize;

use super::auth::Caller;
use super::body::ApiJson;
use super::error::ErrorBody;
use super::openapi::CodePath;
use super::precondition::{tagged, IfMatchHeader, Precondition, Tag};
use super::qrs::{apply_update, code_limit, live_team_qr, store_new_qr, write_context};
use super::view::{ok, qr_view, Envelope, QrView};
use super::{ApiError, AppState};
use crate::model::qr_input::{duplicated_qr, refuse_folders, QrInput};
use crate::model::text;
use crate::model::Qr;

/// The optional body of a duplicate: only the folder a client of the reference may name for the
/// copy, which is refused (folders are not supported).
#[derive(Deserialize, utoipa::ToSchema)]
#[serde(deny_unknown_fields, rename_all = "camelCase")]
pub struct DuplicateBody {
    /// Refused unless null or "": folders are not supported.
    folder_id: Option<String>,
    /// Refused unless null or []: folders are not supported.
    folder_ids: Option<Vec<String>>,
}

/// `POST /api/qrs-api/{id}/duplicate`: a new code (new id and displayId, on the same domain)
/// with the original's name, type, target, settings and tags. 201 with the copy.
#[utoipa::path(
    post,
    path = "/api/qrs-api/{id}/duplicate",
    operation_id = "duplicateQr",
    tag = "QR codes",
    params(CodePath),
    request_body(content = Option<DuplicateBody>, description = "None needed; a folder for the copy is refused"),
    responses(
        (status = 201, description = "The copy", body = Envelope<QrView>),
        (status = 400, description = "Malformed JSON, an unknown field, or a folder (folders are not supported)", body = ErrorBody),
        (status = 403, description = "No access to the team, a role that cannot write codes, or a key without codes:write", body = ErrorBody),
        (status = 404, description = "No such code in the team", body = ErrorBody),
        (status = 409, description = "The code is deleted", body = ErrorBody),
    )
)]
pub async fn duplicate(
    State(state): State<AppState>,
    caller: Caller,
    Path(id): Path<String>,
    body: Option<ApiJson<DuplicateBody>>,
) -> Result<impl IntoResponse, ApiError> {
    caller.require_code_writer()?;
    if let Some(ApiJson(body)) = body {
        refuse_folders(body.folder_id.as_deref(), body.folder_ids.as_deref())
            .map_err(ApiError::bad_request)?;
    }
    let copy = duplicate_qr(&state, &caller, &id).await?;
    Ok((
        StatusCode::CREATED,
        Tag(copy.version),
        ok(qr_view(copy, &state)),
    ))
}

/// A copy of the caller's live code `id`, stored (the API's and the dashboard's duplicate).
pub(crate) async fn duplicate_qr(
    state: &AppState,
    caller: &Caller,
    id: &str,
) -> Result<Qr, ApiError> {
    caller.require_code_writer()?;
    let original = live_team_qr(state, caller, id, "duplicate").await?;
    let platform_host = state.platform_host();
    // A copy keeps its original's templateId, checked when that was written.
    let ctx = write_context(caller, &platform_host, &[]);
    let limit = code_limit(state, caller);
    store_new_qr(&state.store, false, limit, |id, display_id| {
        duplicated_qr(&original, id, display_id, &ctx)
    })
    .await
}

#[derive(Deserialize, utoipa::ToSchema)]
#[serde(deny_unknown_fields)]
pub struct TagsBody {
    /// At most 50, each 1 to 64 characters; `[]` clears them.
    #[schema(max_items = 50)]
    tags: Vec<String>,
}

/// `PUT /api/qrs-api/{id}/tags`: replaces the code's tags (`[]` clears them).
#[utoipa::path(
    put,
    path = "/api/qrs-api/{id}/tags",
    operation_id = "setQrTags",
    tag = "QR codes",
    params(CodePath, IfMatchHeader),
    request_body = TagsBody,
    responses(
        (status = 200, description = "The code with its new tags", body = Envelope<QrView>),
        (status = 400, description = "Malformed JSON or invalid tags", body = ErrorBody),
        (status = 403, description = "No access to the team, a role that cannot write codes, or a key without codes:write", body = ErrorBody),
        (status = 404, description = "No such code in the team", body = ErrorBody),
        (status = 409, description = "The code is deleted", body = ErrorBody),
        (status = 412, description = "If-Match names none of the code's current version: nothing changed", body = ErrorBody),
    )
)]
pub async fn tags(
    State(state): State<AppState>,
    caller: Caller,
    Path(id): Path<String>,
    precondition: Precondition,
    ApiJson(body): ApiJson<TagsBody>,
) -> Result<impl IntoResponse, ApiError> {
    caller.require_code_writer()?;
    let input = QrInput {
        tags: Some(body.tags),
        ..QrInput::default()
    };
    let qr = apply_update(&state, &caller, &id, precondition, input).await?;
    Ok(tagged(qr.version, ok(qr_view(qr, &state))))
}

#[derive(Deserialize, utoipa::ToSchema)]
#[serde(deny_unknown_fields)]
pub struct TitleBody {
    #[schema(min_length = 1, max_length = 256, pattern = r"\S")]
    title: String,
}

/// `PUT /api/qrs-api/{id}/title`: renames the code; the title must not be blank.
#[utoipa::path(
    put,
    path = "/api/qrs-api/{id}/title",
    operation_id = "setQrTitle",
    tag = "QR codes",
    params(CodePath, IfMatchHeader),
    request_body = TitleBody,
    responses(
        (status = 200, description = "The renamed code", body = Envelope<QrView>),
        (status = 400, description = "Malformed JSON, or a blank or too long title", body = ErrorBody),
        (status = 403, description = "No access to the team, a role that cannot write codes, or a key without codes:write", body = ErrorBody),
        (status = 404, description = "No such code in the team", body = ErrorBody),
        (status = 409, description = "The code is deleted", body = ErrorBody),
        (status = 412, description = "If-Match names none of the code's current version: nothing changed", body = ErrorBody),
    )
)]
pub async fn title(
    State(state): State<AppState>,
    caller: Caller,
    Path(id): Path<String>,
    precondition: Precondition,
    ApiJson(body): ApiJson<TitleBody>,
) -> Result<impl IntoResponse, ApiError> {
    caller.require_code_writer()?;
    // Its characters named as the title; its length is the name's, checked with the update.
    let title = text::line("title", &body.title, usize::MAX).map_err(ApiError::bad_request)?;
    if title.is_empty() {
        return Err(ApiError::bad_request("title must not be empty"));
    }
    let input = QrInput {
        name: Some(title),
        ..QrInput::default()
    };
    let qr = apply_update(&state, &caller, &id, precondition, input).await?;
    Ok(tagged(qr.version, ok(qr_view(qr, &state))))
}
