//! Many codes at once: `POST /api/qrs-api/bulk` (a JSON array of up to 100 create bodies, all
//! valid or none created) and `POST /api/qrs-api/import` (a CSV file, as `qredge import` reads
//! it: each valid row created, each other one reported with its line).

use axum::extract::State;
use axum::http::StatusCode;
use axum::response::{IntoResponse, Response};
use serde::Serialize;
use serde_json::Value;

use super::auth::Caller;
use super::body::{ApiJson, CsvBody};
use super::error::ErrorBody;
use super::qrs::{code_limit, store_new_qr, write_context};
use super::templates::team_template_ids;
use super::view::{ok, qr_view, refused, Envelope, QrView, Refusal};
use super::{ApiError, AppState};
use crate::ids::{new_display_id, new_id};
use crate::import::{row_code, CsvRows, Row};
use crate::model::qr_input::{new_qr, QrInput};
use crate::model::Qr;
use crate::store::{Created, StoreError};

const MAX_BULK: usize = 100;

#[derive(Serialize, utoipa::ToSchema)]
pub struct Refused {
    index: usize,
    message: String,
}

#[derive(Serialize, utoipa::ToSchema)]
pub struct BulkResult {
    qrs: Vec<QrView>,
    /// Items whose displayId another code took meanwhile, or that the plan's code limit refused
    /// after a concurrent create (validation failures refuse the whole
    /// request before anything is stored).
    refused: Vec<Refused>,
}

/// `POST /api/qrs-api/bulk`: every item is validated first; one invalid item refuses the whole
/// request (400 naming it). Then all are stored at once.
#[utoipa::path(
    post,
    path = "/api/qrs-api/bulk",
    operation_id = "bulkCreateQrs",
    tag = "QR codes",
    request_body(content = Vec<QrInput>, description = "1 to 100 create bodies"),
    responses(
        (status = 201, description = "The codes created, and those whose displayId another request took meanwhile", body = Envelope<BulkResult>),
        (status = 400, description = "Not 1 to 100 items, an invalid item (`item N: …`), or two items naming one displayId", body = ErrorBody),
        (status = 403, description = "No access to the team, a role that cannot write codes, or a key without codes:write", body = ErrorBody),
        (status = 409, description = "No item could be created: every chosen displayId is taken (the report, as for 201, with `success: false` and a message)", body = Refusal<BulkResult>),
    )
)]
pub async fn bulk(
    State(state): State<AppState>,
    caller: Caller,
    ApiJson(items): ApiJson<Vec<Value>>,
) -> Result<Response, ApiError> {
    caller.require_code_writer()?;
    if items.is_empty() || items.len() > MAX_BULK {
        return Err(ApiError::bad_request(format!(
            "a bulk create takes 1 to {MAX_BULK} codes"
        )));
    }
    let platform_host = state.platform_host();
    let templates = team_template_ids(&state, &caller.team.id).await?;
    let ctx = write_context(&caller, &platform_host, &templates);
    let mut qrs = Vec::with_capacity(items.len());
    let mut chosen = Vec::with_capacity(items.len());
    for (index, item) in items.into_iter().enumerate() {
        let input: QrInput = serde_json::from_value(item)
            .map_err(|e| ApiError::bad_request(format!("item {index}: {e}")))?;
        chosen.push(input.display_id.is_some());
        let qr = new_qr(input, new_id("qr"), new_display_id(), &ctx)
            .map_err(|e| ApiError::bad_request(format!("item {index}: {e}")))?;
        if let Some(earlier) = qrs
            .iter()
            .position(|q: &Qr| q.route_key() == qr.route_key())
        {
            return Err(ApiError::bad_request(format!(
                "item {index}: displayId {:?} is also item {earlier}'s",
                qr.display_id
            )));
        }
        qrs.push(qr);
    }
    let limit = code_limit(&state, &caller);
    if let Some(limit) = limit {
        // All or none here too: a request the plan cannot take whole is refused before any is
        // stored (the store still checks each code, against concurrent creates).
        let live = state.store.live_qr_count(&caller.team.id).await?;
        if live + qrs.len() as u64 > limit {
            return Err(ApiError::forbidden(format!(
                "{}: the team has {live} live QR codes and {} more would pass it",
                StoreError::CodeLimit(limit),
                qrs.len()
            )));
        }
    }
    let created = state.store.create_qrs_within(qrs.clone(), limit).await?;
    let mut result = BulkResult {
        qrs: Vec::new(),
        refused: Vec::new(),
    };
    for (index, (qr, created)) in qrs.into_iter().zip(created).enumerate() {
        let refused = match created {
            Created::Stored => {
                result.qrs.push(qr_view(qr, &state));
                continue;
            }
            Created::OverLimit => StoreError::CodeLimit(limit.unwrap_or_default()),
            Created::DomainNotTeams => StoreError::DomainNotTeams(qr.domain.unwrap_or_default()),
            Created::DisplayIdTaken if chosen[index] => StoreError::DisplayIdTaken(qr.display_id),
            Created::DisplayIdTaken => {
                // A generated displayId that happened to be taken: another one.
                let again = store_new_qr(&state.store, false, limit, |id, display_id| {
                    Ok(Qr {
                        id,
                        display_id,
                        ..qr.clone()
                    })
                })
                .await?;
                result.qrs.push(qr_view(again, &state));
                continue;
            }
        };
        result.refused.push(Refused {
            index,
            message: refused.to_string(),
        });
    }
    if result.qrs.is_empty() {
        let reasons = result
            .refused
            .iter()
            .map(|r| (format!("item {}", r.index), &r.message));
        let message = format!("no code was created: {}", first_reasons(reasons));
        return Ok((StatusCode::CONFLICT, refused(message, result)).into_response());
    }
    Ok((StatusCode::CREATED, ok(result)).into_response())
}

/// The first refusal of a report (where, why), and how many more there are.
fn first_reasons<'a>(mut reasons: impl ExactSizeIterator<Item = (String, &'a String)>) -> String {
    let more = reasons.len().saturating_sub(1);
    match reasons.next() {
        None => "there was nothing to create".to_owned(),
        Some((at, why)) if more == 0 => format!("{at}: {why}"),
        Some((at, why)) => format!("{at}: {why} (and {more} more)"),
    }
}

#[derive(Serialize, utoipa::ToSchema)]
pub struct RefusedRow {
    pub line: u64,
    pub message: String,
}

#[derive(Serialize, utoipa::ToSchema)]
#[serde(rename_all = "camelCase")]
pub struct ImportResult {
    /// Every imported code carries it (`batchId`).
    batch_id: String,
    pub imported: usize,
    pub refused: Vec<RefusedRow>,
}

/// `POST /api/qrs-api/import` with a `text/csv` body: the columns of `qredge import`
/// (docs/import.md; each row names its displayId). Valid rows are created, the others reported
/// by line; 201 when at least one row was imported, 400 when none could be.
#[utoipa::path(
    post,
    path = "/api/qrs-api/import",
    operation_id = "importQrs",
    tag = "QR codes",
    request_body(
        content = String,
        content_type = "text/csv",
        description = "Rows of `displayId,url,type[,name]`, or a header naming those columns (docs/import.md)"
    ),
    responses(
        (status = 201, description = "At least one row was imported; the others are listed by line", body = Envelope<ImportResult>),
        (status = 400, description = "No row could be imported (the report, as for 201, with `success: false` and a message), or a file that cannot be read (no report)", body = Refusal<ImportResult>),
        (status = 403, description = "No access to the team, a role that cannot write codes, or a key without codes:write", body = ErrorBody),
        (status = 415, description = "The body is not `text/csv` (any case, parameters allowed; a charset other than UTF-8 is refused)", body = ErrorBody),
    )
)]
pub async fn import(
    State(state): State<AppState>,
    caller: Caller,
    CsvBody(body): CsvBody,
) -> Result<Response, ApiError> {
    let result = import_csv(&state, &caller, &body).await?;
    if result.imported == 0 {
        let message = nothing_imported(&result);
        return Ok((StatusCode::BAD_REQUEST, refused(message, result)).into_response());
    }
    Ok((StatusCode::CREATED, ok(result)).into_response())
}

/// Why nothing was imported: the first refused line, and how many more were.
pub(crate) fn nothing_imported(result: &ImportResult) -> String {
    let reasons = result
        .refused
        .iter()
        .map(|r| (format!("line {}", r.line), &r.message));
    format!("no row was imported: {}", first_reasons(reasons))
}

/// Creates the valid rows of a CSV file (the API's and the dashboard's import); the others are
/// reported by line. Err: a file that cannot be read, or a caller who may not write codes.
pub(crate) async fn import_csv(
    state: &AppState,
    caller: &Caller,
    body: &[u8],
) -> Result<ImportResult, ApiError> {
    caller.require_code_writer()?;
    let rows = CsvRows::new(body).map_err(ApiError::bad_request)?;
    let platform_host = state.platform_host();
    let templates = team_template_ids(state, &caller.team.id).await?;
    let ctx = write_context(caller, &platform_host, &templates);
    let batch_id = new_id("batch");
    let mut result = ImportResult {
        batch_id: batch_id.clone(),
        imported: 0,
        refused: Vec::new(),
    };
    let mut codes = Vec::new();
    for row in rows {
        let Row { line, input } = row.map_err(ApiError::bad_request)?;
        match row_code(input, new_id("qr"), &ctx, &batch_id) {
            Ok(qr) => codes.push((line, qr)),
            Err(message) => result.refused.push(RefusedRow { line, message }),
        }
    }
    let (lines, qrs): (Vec<u64>, Vec<Qr>) = codes.into_iter().unzip();
    let display_ids: Vec<(String, Option<String>)> = qrs
        .iter()
        .map(|qr| (qr.display_id.clone(), qr.domain.clone()))
        .collect();
    let limit = code_limit(state, caller);
    let created = if qrs.is_empty() {
        Vec::new()
    } else {
        state.store.create_qrs_within(qrs, limit).await?
    };
    for ((line, (display_id, domain)), created) in lines.into_iter().zip(display_ids).zip(created) {
        let refused = match created {
            Created::Stored => {
                result.imported += 1;
                continue;
            }
            Created::DisplayIdTaken => StoreError::DisplayIdTaken(display_id),
            Created::OverLimit => StoreError::CodeLimit(limit.unwrap_or_default()),
            Created::DomainNotTeams => StoreError::DomainNotTeams(domain.unwrap_or_default()),
        };
        result.refused.push(RefusedRow {
            line,
            message: refused.to_string(),
        });
    }
    result.refused.sort_by_key(|r| r.line);
    Ok(result)
}
