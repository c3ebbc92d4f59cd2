//! Analytics endpoints: detailed events of a code, events of several codes in a time range, and
//! the headline counts (today / yesterday / total).

use std::collections::HashMap;

use axum::extract::rejection::QueryRejection;
use axum::extract::{Path, Query, State};
use axum::response::IntoResponse;
use serde::{Deserialize, Serialize};

use super::auth::Caller;
use super::body::ApiJson;
use super::error::ErrorBody;
use super::openapi::CodePath;
use super::qrs::team_qr;
use super::view::{ok, Envelope};
use super::{ApiError, AppState};
use crate::clock::{format_day, now_ms};
use crate::model::ScanEvent;

/// Codes one analytics request may name.
const MAX_QR_IDS: usize = 100;
/// Events one answer carries at most (newest first); `limit` asks for fewer.
const MAX_EVENTS: usize = 10_000;
const DEFAULT_EVENTS: usize = 1_000;

fn check_qr_ids(qr_ids: &[String]) -> Result<(), ApiError> {
    if qr_ids.is_empty() || qr_ids.len() > MAX_QR_IDS {
        return Err(ApiError::bad_request(format!(
            "qrIds must name 1 to {MAX_QR_IDS} QR codes"
        )));
    }
    Ok(())
}

fn optional_number(params: &HashMap<String, String>, name: &str) -> Result<Option<i64>, ApiError> {
    params
        .get(name)
        .map(|text| {
            text.parse::<i64>()
                .map_err(|_| ApiError::bad_request(format!("{name} must be an integer")))
        })
        .transpose()
}

#[utoipa::path(
    get,
    path = "/api/analytics-api/detailed/{id}",
    operation_id = "detailedEvents",
    tag = "Analytics",
    params(
        CodePath,
        ("startTime" = Option<i64>, Query, description = "Epoch ms, inclusive (default: no bound)"),
        ("endTime" = Option<i64>, Query, description = "Epoch ms, inclusive (default: no bound)"),
        ("limit" = Option<u32>, Query, minimum = 1, maximum = 10000, description = "Events at most, newest first (default 1000)"),
    ),
    responses(
        (status = 200, description = "The code's scans, newest first", body = Envelope<Vec<ScanEvent>>),
        (status = 400, description = "A query parameter that is not an integer, or limit out of range", body = ErrorBody),
        (status = 404, description = "No such code in the team", body = ErrorBody),
    )
)]
pub async fn detailed(
    State(state): State<AppState>,
    caller: Caller,
    Path(id): Path<String>,
    params: Result<Query<HashMap<String, String>>, QueryRejection>,
) -> Result<impl IntoResponse, ApiError> {
    let Query(params) = params.map_err(|e| ApiError::bad_request(e.body_text()))?;
    let (start, end, limit) = time_range(&params)?;
    team_qr(&state.store, &caller.team.id, &id).await?;
    let events = state.analytics.events(&id, start, end, limit).await?;
    Ok(ok(events))
}

fn time_range(params: &HashMap<String, String>) -> Result<(i64, i64, usize), ApiError> {
    let start = optional_number(params, "startTime")?.unwrap_or(i64::MIN);
    let end = optional_number(params, "endTime")?.unwrap_or(i64::MAX);
    let limit = match optional_number(params, "limit")? {
        None => DEFAULT_EVENTS,
        Some(n) if (1..=MAX_EVENTS as i64).contains(&n) => n as usize,
        Some(_) => {
            return Err(ApiError::bad_request(format!(
                "limit must be from 1 to {MAX_EVENTS}"
            )))
        }
    };
    Ok((start, end, limit))
}

/// Scans of unknown codes on the team's custom domains (a mistyped or unprinted displayId):
/// their counts and the events, newest first.
#[derive(Serialize, utoipa::ToSchema)]
#[serde(rename_all = "camelCase")]
pub struct OrphansView {
    total_scans: u64,
    today_scans: u64,
    yesterday_scans: u64,
    bot_scans: u64,
    today_date: String,
    events: Vec<ScanEvent>,
}

#[utoipa::path(
    get,
    path = "/api/analytics-api/orphans",
    operation_id = "orphanScans",
    tag = "Analytics",
    params(
        ("startTime" = Option<i64>, Query, description = "Epoch ms, inclusive (default: no bound)"),
        ("endTime" = Option<i64>, Query, description = "Epoch ms, inclusive (default: no bound)"),
        ("limit" = Option<u32>, Query, minimum = 1, maximum = 10000, description = "Events at most, newest first (default 1000)"),
    ),
    responses(
        (status = 200, description = "Scans of unknown codes on the team's custom domains: counts and events", body = Envelope<OrphansView>),
        (status = 400, description = "A query parameter that is not an integer, or limit out of range", body = ErrorBody),
    )
)]
pub async fn orphans(
    State(state): State<AppState>,
    caller: Caller,
    params: Result<Query<HashMap<String, String>>, QueryRejection>,
) -> Result<impl IntoResponse, ApiError> {
    let Query(params) = params.map_err(|e| ApiError::bad_request(e.body_text()))?;
    let (start, end, limit) = time_range(&params)?;
    let id = crate::model::scan::orphans_id(&caller.team.id);
    let o = state
        .analytics
        .overview(&id, now_ms(), caller.team.zone())
        .await?;
    let events = state.analytics.events(&id, start, end, limit).await?;
    Ok(ok(OrphansView {
        total_scans: o.total_scans,
        today_scans: o.today_scans,
        yesterday_scans: o.yesterday_scans,
        bot_scans: o.bot_scans,
        today_date: format_day(o.today),
        events,
    }))
}

#[derive(Deserialize, utoipa::ToSchema)]
#[serde(rename_all = "camelCase", deny_unknown_fields)]
pub struct BulkRequest {
    #[schema(min_items = 1, max_items = 100)]
    qr_ids: Vec<String>,
    start_time: i64,
    end_time: i64,
}

#[utoipa::path(
    post,
    path = "/api/analytics-api/bulk",
    operation_id = "bulkEvents",
    tag = "Analytics",
    request_body = BulkRequest,
    responses(
        (status = 200, description = "The scans of those codes in the range (inclusive), newest first, at most 10000", body = Envelope<Vec<ScanEvent>>),
        (status = 400, description = "Malformed JSON, not 1 to 100 qrIds, or startTime after endTime", body = ErrorBody),
        (status = 404, description = "One of qrIds is no code of the team (the message names it)", body = ErrorBody),
    )
)]
pub async fn bulk(
    State(state): State<AppState>,
    caller: Caller,
    ApiJson(request): ApiJson<BulkRequest>,
) -> Result<impl IntoResponse, ApiError> {
    check_qr_ids(&request.qr_ids)?;
    if request.start_time > request.end_time {
        return Err(ApiError::bad_request("startTime must not be after endTime"));
    }
    for id in &request.qr_ids {
        team_qr(&state.store, &caller.team.id, id).await?;
    }
    let mut events = Vec::new();
    for id in &request.qr_ids {
        let range = (request.start_time, request.end_time);
        events.extend(
            state
                .analytics
                .events(id, range.0, range.1, MAX_EVENTS)
                .await?,
        );
    }
    events.sort_by_key(|e| std::cmp::Reverse(e.scan_time));
    events.truncate(MAX_EVENTS);
    Ok(ok(events))
}

#[derive(Deserialize, utoipa::ToSchema)]
#[serde(rename_all = "camelCase", deny_unknown_fields)]
pub struct OverviewsRequest {
    #[schema(min_items = 1, max_items = 100)]
    qr_ids: Vec<String>,
}

/// The reference's overview record. qredge captures no leads, so the lead counts are zero.
#[derive(Serialize, utoipa::ToSchema)]
#[serde(rename_all = "camelCase")]
pub struct OverviewView {
    id: String,
    total_scans: u64,
    today_scans: u64,
    yesterday_scans: u64,
    /// Bots and link previews, kept out of the counts above.
    bot_scans: u64,
    today_date: String,
    created_at: i64,
    /// The newest scan's time (the code's creation time before the first scan).
    updated_at: i64,
    total_leads_count: u64,
    leads_today_count: u64,
    leads_yesterday_count: u64,
    leads_today_date: String,
    leads_updated_at: i64,
}

#[utoipa::path(
    post,
    path = "/api/analytics-api/overviews",
    operation_id = "overviews",
    tag = "Analytics",
    request_body = OverviewsRequest,
    responses(
        (status = 200, description = "The headline counts of each code, in the order asked", body = Envelope<Vec<OverviewView>>),
        (status = 400, description = "Malformed JSON, or not 1 to 100 qrIds", body = ErrorBody),
        (status = 404, description = "One of qrIds is no code of the team (the message names it)", body = ErrorBody),
    )
)]
pub async fn overviews(
    State(state): State<AppState>,
    caller: Caller,
    ApiJson(request): ApiJson<OverviewsRequest>,
) -> Result<impl IntoResponse, ApiError> {
    check_qr_ids(&request.qr_ids)?;
    let mut qrs = Vec::with_capacity(request.qr_ids.len());
    for id in &request.qr_ids {
        qrs.push(team_qr(&state.store, &caller.team.id, id).await?);
    }
    let now = now_ms();
    let zone = caller.team.zone();
    let mut views = Vec::with_capacity(qrs.len());
    for qr in qrs {
        let o = state.analytics.overview(&qr.id, now, zone).await?;
        let today_date = format_day(o.today);
        views.push(OverviewView {
            id: qr.id,
            total_scans: o.total_scans,
            today_scans: o.today_scans,
            yesterday_scans: o.yesterday_scans,
            bot_scans: o.bot_scans,
            today_date: today_date.clone(),
            created_at: qr.created_at,
            updated_at: o.last_scan_time.unwrap_or(qr.created_at),
            total_leads_count: 0,
            leads_today_count: 0,
            leads_yesterday_count: 0,
            leads_today_date: today_date,
            leads_updated_at: qr.created_at,
        });
    }
    Ok(ok(views))
}
