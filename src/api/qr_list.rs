//! `GET /api/qrs-api`: a page of the team's live codes, read from the store's list indexes. The
//! reference pages by number (`page`); a page's `nextCursor` continues from where it ended
//! instead, which codes written meanwhile do not shift.

use std::collections::HashMap;

use axum::extract::rejection::QueryRejection;
use axum::extract::{Query, State};
use axum::http::Uri;
use axum::response::Response;
use serde::Serialize;

use super::auth::Caller;
use super::error::ErrorBody;
use super::paging::{self, paged_get, Cursor, Paged};
use super::view::{qr_view, QrView};
use super::{ApiError, AppState};
use crate::model::qr_input::refuse_folders;
use crate::model::QrType;
use crate::store::{ListOrder, PageStart, QrListQuery};

/// Codes a page carries unless `limit` says otherwise, and at most (the reference's).
const DEFAULT_LIMIT: usize = 10;
const MAX_LIMIT: usize = 100;

/// A page of the list, with the count of every code that matches.
#[derive(Serialize, utoipa::ToSchema)]
#[serde(rename_all = "camelCase")]
pub struct Page {
    qrs: Vec<QrView>,
    total_count: u64,
    /// The page's number; null when it was asked for by cursor.
    page: Option<usize>,
    limit: usize,
}

#[utoipa::path(
    get,
    path = "/api/qrs-api",
    operation_id = "listQrs",
    tag = "QR codes",
    params(
        ("limit" = Option<u32>, Query, minimum = 1, maximum = 100, description = "Codes per page (default 10)"),
        ("page" = Option<u64>, Query, minimum = 1, description = "From 1 (default 1); not with cursor"),
        ("cursor" = Option<String>, Query, description = "A page's nextCursor: the page after it, in the same order (not with page)"),
        ("search" = Option<String>, Query, description = "Case-insensitive substring of the name or displayId"),
        ("sortBy" = Option<String>, Query, pattern = "^(createdAt|updatedAt|name)$", description = "createdAt, updatedAt (default) or name; ties break on id"),
        ("sortOrder" = Option<String>, Query, pattern = "^(asc|desc)$", description = "asc or desc (default)"),
        ("qrType" = Option<String>, Query, description = "Only codes of this type (WEB, PDF, ...: the qrType values); \"\" for any"),
        ("tag" = Option<String>, Query, description = "Only codes with this tag, exactly (case included) as the code stores it; \"\" for any"),
        ("folderId" = Option<String>, Query, description = "The reference's folder filter: folders are not supported, so any value but \"\" is refused (400)"),
    ),
    responses(
        (status = 200, description = "A page of the team's live codes; nextCursor (and a Link header) when more follow", body = Paged<Page>),
        (status = 400, description = "A query parameter out of range, an unknown qrType, page with cursor, a cursor of another order, or a folder", body = ErrorBody),
    )
)]
pub async fn list(
    State(state): State<AppState>,
    caller: Caller,
    uri: Uri,
    params: Result<Query<HashMap<String, String>>, QueryRejection>,
) -> Result<Response, ApiError> {
    let Query(params) = params.map_err(|e| ApiError::bad_request(e.body_text()))?;
    let query = list_query(&params, &caller.team.id)?;
    let page = state.store.list_qrs(&query).await?;
    let data = Page {
        qrs: page.qrs.into_iter().map(|qr| qr_view(qr, &state)).collect(),
        total_count: page.total,
        page: match query.start {
            PageStart::Offset(offset) => Some(offset / query.limit + 1),
            PageStart::After(_) => None,
        },
        limit: query.limit,
    };
    let next = page.next.map(|last| Cursor::of_list(query.order, last));
    Ok(paged_get(&state, &uri, data, next))
}

/// The list's query, checked: limit 1..=100 (10), page >= 1 (1) or a cursor, search, sortBy
/// (updatedAt), sortOrder (desc), the qrType and tag filters (none).
pub(crate) fn list_query(
    params: &HashMap<String, String>,
    team_id: &str,
) -> Result<QrListQuery, ApiError> {
    // The reference's folder filter: refused rather than ignored, which would list every code.
    let folder = ["folderId", "folderIds"]
        .into_iter()
        .filter_map(|name| params.get(name))
        .find(|value| !value.is_empty());
    refuse_folders(folder.map(String::as_str), None).map_err(ApiError::bad_request)?;
    let order = match params.get("sortBy").map(String::as_str) {
        None | Some("updatedAt") => ListOrder::UpdatedAt,
        Some("createdAt") => ListOrder::CreatedAt,
        Some("name") => ListOrder::Name,
        Some(other) => {
            return Err(ApiError::bad_request(format!(
                "sortBy {other:?} must be one of createdAt, updatedAt, name"
            )))
        }
    };
    let descending = match params.get("sortOrder").map(String::as_str) {
        None | Some("desc") => true,
        Some("asc") => false,
        Some(other) => {
            return Err(ApiError::bad_request(format!(
                "sortOrder {other:?} must be asc or desc"
            )))
        }
    };
    let limit = paging::limit(params, DEFAULT_LIMIT, MAX_LIMIT)?;
    Ok(QrListQuery {
        team_id: team_id.to_owned(),
        order,
        descending,
        start: page_start(params, order, limit)?,
        limit,
        search: params
            .get("search")
            .map(|s| s.trim().to_lowercase())
            .filter(|s| !s.is_empty()),
        qr_type: qr_type_filter(params)?,
        tag: params
            .get("tag")
            .map(|tag| tag.trim().to_owned())
            .filter(|tag| !tag.is_empty()),
    })
}

/// The `qrType` filter: one of the twelve types, or none when absent or "".
fn qr_type_filter(params: &HashMap<String, String>) -> Result<Option<QrType>, ApiError> {
    match params.get("qrType").map(|text| text.trim()) {
        None | Some("") => Ok(None),
        Some(text) => QrType::parse(text).map(Some).ok_or_else(|| {
            let types: Vec<&str> = QrType::ALL.iter().map(|t| t.as_str()).collect();
            ApiError::bad_request(format!(
                "qrType {text:?} must be one of {}",
                types.join(", ")
            ))
        }),
    }
}

/// Where the page starts: past the cursor, or at the page's offset.
fn page_start(
    params: &HashMap<String, String>,
    order: ListOrder,
    limit: usize,
) -> Result<PageStart, ApiError> {
    let cursor = paging::cursor(params)?;
    match (cursor, params.get("page")) {
        (Some(_), Some(_)) => Err(ApiError::bad_request(
            "page and cursor cannot be given together: a cursor names its page",
        )),
        (Some(cursor), None) => Ok(PageStart::After(cursor.in_list(order)?)),
        (None, page) => {
            // A page past any possible end is refused rather than overflowing the offset.
            let max = usize::MAX / MAX_LIMIT;
            let page = match page {
                None => 1,
                Some(text) => text
                    .parse::<usize>()
                    .ok()
                    .filter(|n| (1..=max).contains(n))
                    .ok_or_else(|| {
                        ApiError::bad_request(format!("page must be an integer from 1 to {max}"))
                    })?,
            };
            Ok(PageStart::Offset((page - 1) * limit))
        }
    }
}
