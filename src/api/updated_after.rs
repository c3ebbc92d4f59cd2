//! The change feeds: codes updated at or after `fromTime`, oldest change first, deleted ones
//! included (a client keeping a copy in step must see deletions). At or after, not strictly
//! after: a client that passes the newest `updatedAt` it has seen gets that code again rather
//! than missing another one written in the same millisecond.

use std::collections::HashMap;

use axum::extract::rejection::QueryRejection;
use axum::extract::{Query, State};
use axum::response::IntoResponse;

use super::auth::{Account, Caller};
use super::error::ErrorBody;
use super::view::{ok, qr_view, Envelope, QrView};
use super::{ApiError, AppState};
use crate::model::Qr;

fn from_time(
    params: Result<Query<HashMap<String, String>>, QueryRejection>,
) -> Result<i64, ApiError> {
    let Query(params) = params.map_err(|e| ApiError::bad_request(e.body_text()))?;
    let text = params
        .get("fromTime")
        .ok_or_else(|| ApiError::bad_request("fromTime is required (epoch milliseconds)"))?;
    text.parse::<i64>().ok().filter(|t| *t >= 0).ok_or_else(|| {
        ApiError::bad_request(format!(
            "fromTime {text:?} must be epoch milliseconds (an integer >= 0)"
        ))
    })
}

fn feed(qrs: Vec<Qr>, state: &AppState) -> Vec<QrView> {
    qrs.into_iter().map(|qr| qr_view(qr, state)).collect()
}

/// `GET /api/qrs-api/updated-after?fromTime=`: the request's team.
#[utoipa::path(
    get,
    path = "/api/qrs-api/updated-after",
    operation_id = "qrsUpdatedAfter",
    tag = "QR codes",
    params(("fromTime" = i64, Query, minimum = 0, description = "Epoch milliseconds: codes updated at or after it")),
    responses(
        (status = 200, description = "The team's codes changed since, oldest change first, deleted ones included", body = Envelope<Vec<QrView>>),
        (status = 400, description = "fromTime missing or not epoch milliseconds", body = ErrorBody),
    )
)]
pub async fn team(
    State(state): State<AppState>,
    caller: Caller,
    params: Result<Query<HashMap<String, String>>, QueryRejection>,
) -> Result<impl IntoResponse, ApiError> {
    let from = from_time(params)?;
    let qrs = state.store.changed_qrs(&caller.team.id, from).await?;
    Ok(ok(feed(qrs, &state)))
}

/// `GET /api/qrs-api/all/updated-after?fromTime=`: every team of the organization the caller
/// belongs to and is not paused in (other teams stay out of reach).
#[utoipa::path(
    get,
    path = "/api/qrs-api/all/updated-after",
    operation_id = "allTeamsQrsUpdatedAfter",
    tag = "QR codes",
    params(("fromTime" = i64, Query, minimum = 0, description = "Epoch milliseconds: codes updated at or after it")),
    security(("clientId" = [], "clientSecret" = []), ("bearer" = [])),
    responses(
        (status = 200, description = "The codes of every team of the caller's, changed since, oldest change first", body = Envelope<Vec<QrView>>),
        (status = 400, description = "fromTime missing or not epoch milliseconds", body = ErrorBody),
    )
)]
pub async fn all_teams(
    State(state): State<AppState>,
    account: Account,
    params: Result<Query<HashMap<String, String>>, QueryRejection>,
) -> Result<impl IntoResponse, ApiError> {
    let from = from_time(params)?;
    let mut qrs = Vec::new();
    let member = &account.member;
    for team_id in member.teams.keys().filter(|t| member.is_active_in(t)) {
        qrs.extend(state.store.changed_qrs(team_id, from).await?);
    }
    // Each team's feed is in order; together they are merged into one.
    qrs.sort_by(|a, b| {
        a.updated_at
            .cmp(&b.updated_at)
            .then_with(|| a.id.cmp(&b.id))
    });
    Ok(ok(feed(qrs, &state)))
}
