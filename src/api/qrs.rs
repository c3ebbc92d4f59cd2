//! QR code endpoints: create, get, update, soft delete (and the helpers the code operations in
//! `qr_edits` share). The list is in `qr_list`.

use axum::extract::{Path, State};
use axum::http::StatusCode;
use axum::response::IntoResponse;

use super::auth::Caller;
use super::body::ApiJson;
use super::error::ErrorBody;
use super::openapi::CodePath;
use super::precondition::{stale, tagged, IfMatchHeader, Precondition, Tag};
use super::templates::team_template_ids;
use super::view::{ok, qr_view, Envelope, QrView};
use super::{ApiError, AppState};
use crate::clock::now_ms;
use crate::ids::{new_display_id, new_id};
use crate::model::qr_input::{new_qr, updated_qr, QrInput, WriteContext};
use crate::model::Qr;
use crate::store::{self, Store, StoreError};

/// Attempts at a free generated displayId before giving up (collisions are ~never).
const DISPLAY_ID_ATTEMPTS: usize = 5;

/// The code `id` if it belongs to `team_id`; codes of other teams are as unknown as missing ones.
pub(crate) async fn team_qr(store: &Store, team_id: &str, id: &str) -> Result<Qr, ApiError> {
    match store.qr(id).await? {
        Some(qr) if qr.team_id == team_id => Ok(qr),
        _ => Err(ApiError::not_found(format!("QR code {id:?} not found"))),
    }
}

#[utoipa::path(
    post,
    path = "/api/qrs-api",
    operation_id = "createQr",
    tag = "QR codes",
    request_body = QrInput,
    responses(
        (status = 201, description = "The new code", body = Envelope<QrView>),
        (status = 400, description = "Malformed JSON or a failed validation (the message names the field)", body = ErrorBody),
        (status = 403, description = "No access to the team, a role that cannot write codes, or a key without codes:write", body = ErrorBody),
        (status = 409, description = "The displayId is already in use on that domain", body = ErrorBody),
    )
)]
pub async fn create(
    State(state): State<AppState>,
    caller: Caller,
    ApiJson(input): ApiJson<QrInput>,
) -> Result<impl IntoResponse, ApiError> {
    let qr = create_qr(&state, &caller, input).await?;
    Ok((
        StatusCode::CREATED,
        Tag(qr.version),
        ok(qr_view(qr, &state)),
    ))
}

/// A new code of the caller's team from a create request, validated and stored (the API's and
/// the dashboard's create).
pub(crate) async fn create_qr(
    state: &AppState,
    caller: &Caller,
    input: QrInput,
) -> Result<Qr, ApiError> {
    caller.require_code_writer()?;
    let platform_host = state.platform_host();
    let templates = team_template_ids(state, &caller.team.id).await?;
    let ctx = write_context(caller, &platform_host, &templates);
    let chosen = input.display_id.is_some();
    let limit = code_limit(state, caller);
    store_new_qr(&state.store, chosen, limit, |id, display_id| {
        new_qr(input.clone(), id, display_id, &ctx)
    })
    .await
}

/// Who writes, in which team, now.
pub(super) fn write_context<'a>(
    caller: &'a Caller,
    platform_host: &'a str,
    templates: &'a [String],
) -> WriteContext<'a> {
    WriteContext {
        team: &caller.team,
        member_id: &caller.member.id,
        now: now_ms(),
        platform_host,
        templates,
    }
}

/// How many live codes the caller's team may have, by its organization's plan (the reference's
/// `checkQrLimit`); None: no limit.
pub(super) fn code_limit(state: &AppState, caller: &Caller) -> Option<u64> {
    state.codes_per_team.limit(caller.plan)
}

/// Stores the new code `make` builds from a fresh id and a generated displayId, trying another
/// displayId on the rare collision unless the request chose its own (`chosen`). Refused (403)
/// when the team already has `limit` live codes.
pub(super) async fn store_new_qr(
    store: &Store,
    chosen: bool,
    limit: Option<u64>,
    make: impl Fn(String, String) -> Result<Qr, String>,
) -> Result<Qr, ApiError> {
    for _ in 0..DISPLAY_ID_ATTEMPTS {
        let qr = make(new_id("qr"), new_display_id()).map_err(ApiError::bad_request)?;
        match store.create_qr_within(&qr, limit).await {
            Err(StoreError::DisplayIdTaken(_)) if !chosen => continue,
            Err(e) => return Err(e.into()),
            Ok(()) => return Ok(qr),
        }
    }
    Err(ApiError::internal(
        "no free displayId after several attempts",
    ))
}

#[utoipa::path(
    get,
    path = "/api/qrs-api/{id}",
    operation_id = "getQr",
    tag = "QR codes",
    params(CodePath),
    responses(
        (status = 200, description = "The code (deleted ones too, with `deleted: true`); its ETag header is its version", body = Envelope<QrView>),
        (status = 404, description = "No such code in the team", body = ErrorBody),
    )
)]
pub async fn get(
    State(state): State<AppState>,
    caller: Caller,
    Path(id): Path<String>,
) -> Result<impl IntoResponse, ApiError> {
    let qr = team_qr(&state.store, &caller.team.id, &id).await?;
    Ok(tagged(qr.version, ok(qr_view(qr, &state))))
}

#[utoipa::path(
    put,
    path = "/api/qrs-api/{id}",
    operation_id = "updateQr",
    tag = "QR codes",
    params(CodePath, IfMatchHeader),
    request_body(content = QrInput, description = "The fields to replace; the others are kept"),
    responses(
        (status = 200, description = "The updated code; its ETag header is its version", body = Envelope<QrView>),
        (status = 400, description = "Malformed JSON or a failed validation (the message names the field)", body = ErrorBody),
        (status = 403, description = "No access to the team, a role that cannot write codes, or a key without codes:write", body = ErrorBody),
        (status = 404, description = "No such code in the team", body = ErrorBody),
        (status = 409, description = "The code is deleted, or the new displayId is in use on that domain", body = ErrorBody),
        (status = 412, description = "If-Match names none of the code's current version: nothing changed", body = ErrorBody),
    )
)]
pub async fn update(
    State(state): State<AppState>,
    caller: Caller,
    Path(id): Path<String>,
    precondition: Precondition,
    ApiJson(input): ApiJson<QrInput>,
) -> Result<impl IntoResponse, ApiError> {
    caller.require_code_writer()?;
    let qr = apply_update(&state, &caller, &id, precondition, input).await?;
    Ok(tagged(qr.version, ok(qr_view(qr, &state))))
}

/// Applies an update request to the caller's live code `id`, as the store holds it at the write
/// (the caller's role is checked by the caller of this).
pub(crate) async fn apply_update(
    state: &AppState,
    caller: &Caller,
    id: &str,
    precondition: Precondition,
    input: QrInput,
) -> Result<Qr, ApiError> {
    let platform_host = state.platform_host();
    // Read only when the update names a template.
    let templates = match input.template_id {
        Some(Some(_)) => team_template_ids(state, &caller.team.id).await?,
        _ => Vec::new(),
    };
    let (team, member_id, now) = (caller.team.clone(), caller.member.id.clone(), now_ms());
    change_live_qr(state, caller, id, precondition, "update", move |qr| {
        let ctx = WriteContext {
            team: &team,
            member_id: &member_id,
            now,
            platform_host: &platform_host,
            templates: &templates,
        };
        *qr = updated_qr(qr, input.clone(), &ctx).map_err(ApiError::bad_request)?;
        Ok(())
    })
    .await
}

/// Applies `change` to the caller's code `id` as the store holds it at the write, unless it is
/// deleted (409, naming the `action` refused): a deleted code is only read, and stays deleted
/// whatever races it. The code as stored after the change.
pub(super) async fn change_live_qr(
    state: &AppState,
    caller: &Caller,
    id: &str,
    precondition: Precondition,
    action: &'static str,
    change: impl Fn(&mut Qr) -> Result<(), ApiError> + Send + Sync + 'static,
) -> Result<Qr, ApiError> {
    change_team_qr(state, caller, id, precondition, move |qr| {
        if qr.deleted {
            return Err(ApiError::conflict(format!(
                "cannot {action} a deleted QR code"
            )));
        }
        change(qr)
    })
    .await
}

/// Applies `change` to the caller's code `id` as the store holds it at the write: 404 for
/// another team's code (or none), 412 when the code is not at a version `precondition` names.
async fn change_team_qr(
    state: &AppState,
    caller: &Caller,
    id: &str,
    precondition: Precondition,
    change: impl Fn(&mut Qr) -> Result<(), ApiError> + Send + Sync + 'static,
) -> Result<Qr, ApiError> {
    let not_found = ApiError::not_found(format!("QR code {id:?} not found"));
    let team_id = caller.team.id.clone();
    let message = not_found.message.clone();
    let edit = store::edit(move |qr: &mut Qr| {
        if qr.team_id != team_id {
            return Err(ApiError::not_found(message.clone()).into());
        }
        precondition.check(qr.version)?;
        Ok(change(qr)?)
    });
    match state.store.update_qr(id, edit).await {
        Err(StoreError::NotFound) => Err(not_found),
        Err(StoreError::Stale { current }) => Err(stale("QR code", current)),
        other => Ok(other?),
    }
}

/// The caller's code `id`, refused (409) when it is deleted: a deleted code is only read.
pub(super) async fn live_team_qr(
    state: &AppState,
    caller: &Caller,
    id: &str,
    action: &str,
) -> Result<Qr, ApiError> {
    let qr = team_qr(&state.store, &caller.team.id, id).await?;
    if qr.deleted {
        return Err(ApiError::conflict(format!(
            "cannot {action} a deleted QR code"
        )));
    }
    Ok(qr)
}

/// Soft delete: the record stays (`deleted: true`), the edge stops serving it, and its displayId
/// stays taken so a printed code never starts pointing somewhere else.
#[utoipa::path(
    delete,
    path = "/api/qrs-api/{id}",
    operation_id = "deleteQr",
    tag = "QR codes",
    params(CodePath, IfMatchHeader),
    responses(
        (status = 200, description = "The code, now `deleted: true` (deleting twice is a no-op)", body = Envelope<QrView>),
        (status = 403, description = "No access to the team, a role that cannot write codes, or a key without codes:write", body = ErrorBody),
        (status = 404, description = "No such code in the team", body = ErrorBody),
        (status = 412, description = "If-Match names none of the code's current version: nothing changed", body = ErrorBody),
    )
)]
pub async fn delete(
    State(state): State<AppState>,
    caller: Caller,
    Path(id): Path<String>,
    precondition: Precondition,
) -> Result<impl IntoResponse, ApiError> {
    let qr = delete_qr(&state, &caller, &id, precondition).await?;
    Ok(tagged(qr.version, ok(qr_view(qr, &state))))
}

/// Soft-deletes the caller's code `id` (the API's and the dashboard's delete).
pub(crate) async fn delete_qr(
    state: &AppState,
    caller: &Caller,
    id: &str,
    precondition: Precondition,
) -> Result<Qr, ApiError> {
    caller.require_code_writer()?;
    let (member_id, now) = (caller.member.id.clone(), now_ms());
    change_team_qr(state, caller, id, precondition, move |qr| {
        if !qr.deleted {
            qr.deleted = true;
            qr.updated_at = now;
            qr.updated_by = member_id.clone();
        }
        Ok(())
    })
    .await
}
