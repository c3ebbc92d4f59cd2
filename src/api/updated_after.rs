//! The change feeds: codes updated at or after `fromTime`, oldest change first, deleted ones
//! included (a client keeping a copy in step must see deletions), a page at a time. At or after,
//! not strictly after: a client that passes the newest `updatedAt` it has seen gets that code
//! again rather than missing another one written in the same millisecond.
//!
//! A page is read from the per-team index of changes (updatedAt, id) just past the cursor, then
//! only its codes are loaded: a feed of any length costs a page's worth of memory.

use std::collections::HashMap;

use axum::extract::rejection::QueryRejection;
use axum::extract::{Query, State};
use axum::http::Uri;
use axum::response::Response;

use super::auth::{Account, Caller};
use super::error::ErrorBody;
use super::paging::{self, paged_get, Cursor, Paged};
use super::view::{qr_view, QrView};
use super::{ApiError, AppState};
use crate::store::ListPosition;

/// Codes a page carries unless `limit` says otherwise, and at most.
const DEFAULT_CHANGES: usize = 100;
const MAX_CHANGES: usize = 1_000;

/// A page of a feed: just past `after`, at most `limit` codes.
struct FeedPage {
    after: ListPosition,
    limit: usize,
}

impl FeedPage {
    fn of(
        params: Result<Query<HashMap<String, String>>, QueryRejection>,
    ) -> Result<Self, ApiError> {
        let Query(params) = params.map_err(|e| ApiError::bad_request(e.body_text()))?;
        let from = ListPosition::changes_from(from_time(&params)?);
        let limit = paging::limit(&params, DEFAULT_CHANGES, MAX_CHANGES)?;
        // A cursor from before fromTime starts at fromTime.
        let after = match paging::cursor(&params)? {
            Some(cursor) => cursor.in_changes()?.max(from),
            None => from,
        };
        Ok(Self { after, limit })
    }
}

fn from_time(params: &HashMap<String, String>) -> Result<i64, ApiError> {
    let text = params
        .get("fromTime")
        .ok_or_else(|| ApiError::bad_request("fromTime is required (epoch milliseconds)"))?;
    text.parse::<i64>().ok().filter(|t| *t >= 0).ok_or_else(|| {
        ApiError::bad_request(format!(
            "fromTime {text:?} must be epoch milliseconds (an integer >= 0)"
        ))
    })
}

/// The answer: the codes at `positions` (in that order) and the cursor past the last, if more.
async fn answer(
    state: &AppState,
    uri: &Uri,
    positions: Vec<ListPosition>,
    limit: usize,
) -> Result<Response, ApiError> {
    let (positions, next) =
        paging::split(positions, limit, |last| Cursor::of_changes(last.clone()));
    let ids: Vec<&str> = positions.iter().map(ListPosition::id).collect();
    let qrs = state.store.qrs_by_id(&ids).await?;
    let views: Vec<QrView> = qrs.into_iter().map(|qr| qr_view(qr, state)).collect();
    Ok(paged_get(state, uri, views, next))
}

/// `GET /api/qrs-api/updated-after?fromTime=`: the request's team.
#[utoipa::path(
    get,
    path = "/api/qrs-api/updated-after",
    operation_id = "qrsUpdatedAfter",
    tag = "QR codes",
    params(
        ("fromTime" = i64, Query, minimum = 0, description = "Epoch milliseconds: codes updated at or after it"),
        ("limit" = Option<u32>, Query, minimum = 1, maximum = 1000, description = "Codes per page (default 100)"),
        ("cursor" = Option<String>, Query, description = "A page's nextCursor: the page after it (with the same fromTime)"),
    ),
    responses(
        (status = 200, description = "A page of the team's codes changed since, oldest change first, deleted ones included; nextCursor (and a Link header) when more follow", body = Paged<Vec<QrView>>),
        (status = 400, description = "fromTime missing or not epoch milliseconds, limit out of range, or a cursor this feed did not give", body = ErrorBody),
    )
)]
pub async fn team(
    State(state): State<AppState>,
    caller: Caller,
    uri: Uri,
    params: Result<Query<HashMap<String, String>>, QueryRejection>,
) -> Result<Response, ApiError> {
    let page = FeedPage::of(params)?;
    let positions = state
        .store
        .changes(&caller.team.id, &page.after, page.limit + 1)
        .await?;
    answer(&state, &uri, positions, page.limit).await
}

/// `GET /api/qrs-api/all/updated-after?fromTime=`: every team of the organization the caller
/// belongs to and is not paused in (other teams stay out of reach).
#[utoipa::path(
    get,
    path = "/api/qrs-api/all/updated-after",
    operation_id = "allTeamsQrsUpdatedAfter",
    tag = "QR codes",
    params(
        ("fromTime" = i64, Query, minimum = 0, description = "Epoch milliseconds: codes updated at or after it"),
        ("limit" = Option<u32>, Query, minimum = 1, maximum = 1000, description = "Codes per page (default 100)"),
        ("cursor" = Option<String>, Query, description = "A page's nextCursor: the page after it (with the same fromTime)"),
    ),
    security(("clientId" = [], "clientSecret" = []), ("bearer" = [])),
    responses(
        (status = 200, description = "A page of the codes of every team of the caller's, changed since, oldest change first; nextCursor (and a Link header) when more follow", body = Paged<Vec<QrView>>),
        (status = 400, description = "fromTime missing or not epoch milliseconds, limit out of range, or a cursor this feed did not give", body = ErrorBody),
    )
)]
pub async fn all_teams(
    State(state): State<AppState>,
    account: Account,
    uri: Uri,
    params: Result<Query<HashMap<String, String>>, QueryRejection>,
) -> Result<Response, ApiError> {
    let page = FeedPage::of(params)?;
    let mut positions = Vec::new();
    let member = &account.member;
    for team_id in member.teams.keys().filter(|t| member.is_active_in(t)) {
        let team = state.store.changes(team_id, &page.after, page.limit + 1);
        positions.extend(team.await?);
    }
    // Each team's changes are in (updatedAt, id) order; merged, the first limit + 1 are the
    // page's (and tell whether more follow).
    positions.sort_unstable();
    positions.truncate(page.limit + 1);
    answer(&state, &uri, positions, page.limit).await
}
