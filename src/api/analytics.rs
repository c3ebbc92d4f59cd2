//! Analytics endpoints: the events of a code and the orphan scans of the team's domains, a page
//! at a time, and the headline counts (today / yesterday / total). The events of several codes
//! are in `bulk_events`.

use std::collections::HashMap;

use axum::extract::rejection::QueryRejection;
use axum::extract::{Path, Query, State};
use axum::http::Uri;
use axum::response::{IntoResponse, Response};
use serde::{Deserialize, Serialize};

use super::auth::Caller;
use super::body::ApiJson;
use super::error::ErrorBody;
use super::openapi::CodePath;
use super::paging::{self, paged_get, Cursor, Paged};
use super::qrs::team_qr;
use super::view::{ok, Envelope};
use super::{ApiError, AppState};
use crate::aggregate::contract::{EventPosition, EventsOf};
use crate::clock::{format_day, now_ms};
use crate::model::ScanEvent;

/// Codes one analytics request may name.
const MAX_QR_IDS: usize = 100;
/// Events a page carries unless `limit` says otherwise (newest first), and at most.
pub(super) const DEFAULT_EVENTS: usize = 1_000;
pub(super) const MAX_EVENTS: usize = 10_000;

pub(super) fn check_qr_ids(qr_ids: &[String]) -> Result<(), ApiError> {
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

/// A page of one code's events: its time range, size and start.
pub(crate) struct EventsPage {
    start: i64,
    end: i64,
    limit: usize,
    after: Option<EventPosition>,
}

impl EventsPage {
    pub(crate) fn of(
        params: Result<Query<HashMap<String, String>>, QueryRejection>,
    ) -> Result<Self, ApiError> {
        let Query(params) = params.map_err(|e| ApiError::bad_request(e.body_text()))?;
        let start = optional_number(&params, "startTime")?.unwrap_or(i64::MIN);
        let end = optional_number(&params, "endTime")?.unwrap_or(i64::MAX);
        let limit = paging::limit(&params, DEFAULT_EVENTS, MAX_EVENTS)?;
        let after = paging::cursor(&params)?
            .map(Cursor::in_events)
            .transpose()?;
        Ok(Self {
            start,
            end,
            limit,
            after,
        })
    }

    /// The page of the events of `id` (a code, or a team's orphans), and the cursor past it.
    pub(crate) async fn read(
        &self,
        state: &AppState,
        id: &str,
    ) -> Result<(Vec<ScanEvent>, Option<Cursor>), ApiError> {
        let (start, end, after) = (self.start, self.end, self.after.as_ref());
        let events = state
            .analytics
            .events_after(EventsOf::Code(id), start, end, after, self.limit + 1)
            .await?;
        let (events, next) = paging::split(events, self.limit, |(at, _)| Cursor::Events {
            at: at.clone(),
        });
        Ok((events.into_iter().map(|(_, event)| event).collect(), next))
    }
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
        ("limit" = Option<u32>, Query, minimum = 1, maximum = 10000, description = "Events per page, newest first (default 1000)"),
        ("cursor" = Option<String>, Query, description = "A page's nextCursor: the older events after it (with the same range)"),
    ),
    responses(
        (status = 200, description = "A page of the code's scans, newest first; nextCursor (and a Link header) when more follow", body = Paged<Vec<ScanEvent>>),
        (status = 400, description = "A query parameter that is not an integer, limit out of range, or a cursor of another list", body = ErrorBody),
        (status = 404, description = "No such code in the team", body = ErrorBody),
    )
)]
pub async fn detailed(
    State(state): State<AppState>,
    caller: Caller,
    Path(id): Path<String>,
    uri: Uri,
    params: Result<Query<HashMap<String, String>>, QueryRejection>,
) -> Result<Response, ApiError> {
    let page = EventsPage::of(params)?;
    team_qr(&state.store, &caller.team.id, &id).await?;
    let (events, next) = page.read(&state, &id).await?;
    Ok(paged_get(&state, &uri, events, next))
}

/// Scans of unknown codes on the team's custom domains (a mistyped or unprinted displayId):
/// their counts and the events, newest first.
#[derive(Serialize, utoipa::ToSchema)]
#[serde(rename_all = "camelCase")]
pub struct OrphansView {
    pub(crate) total_scans: u64,
    pub(crate) today_scans: u64,
    pub(crate) yesterday_scans: u64,
    pub(crate) bot_scans: u64,
    today_date: String,
    pub(crate) events: Vec<ScanEvent>,
}

#[utoipa::path(
    get,
    path = "/api/analytics-api/orphans",
    operation_id = "orphanScans",
    tag = "Analytics",
    params(
        ("startTime" = Option<i64>, Query, description = "Epoch ms, inclusive (default: no bound)"),
        ("endTime" = Option<i64>, Query, description = "Epoch ms, inclusive (default: no bound)"),
        ("limit" = Option<u32>, Query, minimum = 1, maximum = 10000, description = "Events per page, newest first (default 1000)"),
        ("cursor" = Option<String>, Query, description = "A page's nextCursor: the older events after it (with the same range)"),
    ),
    responses(
        (status = 200, description = "Scans of unknown codes on the team's custom domains: counts and a page of events; nextCursor (and a Link header) when more follow", body = Paged<OrphansView>),
        (status = 400, description = "A query parameter that is not an integer, limit out of range, or a cursor of another list", body = ErrorBody),
    )
)]
pub async fn orphans(
    State(state): State<AppState>,
    caller: Caller,
    uri: Uri,
    params: Result<Query<HashMap<String, String>>, QueryRejection>,
) -> Result<Response, ApiError> {
    let (view, next) = orphan_scans(&state, &caller, params).await?;
    Ok(paged_get(&state, &uri, view, next))
}

/// The team's orphan scans as `orphans` answers them (its query: `startTime`, `endTime`,
/// `limit`, `cursor`), with the cursor of the next page if one follows.
pub(crate) async fn orphan_scans(
    state: &AppState,
    caller: &Caller,
    params: Result<Query<HashMap<String, String>>, QueryRejection>,
) -> Result<(OrphansView, Option<Cursor>), ApiError> {
    let page = EventsPage::of(params)?;
    let id = crate::model::scan::orphans_id(&caller.team.id);
    let o = state
        .analytics
        .overview(&id, now_ms(), caller.team.zone())
        .await?;
    let (events, next) = page.read(state, &id).await?;
    let view = OrphansView {
        total_scans: o.total_scans,
        today_scans: o.today_scans,
        yesterday_scans: o.yesterday_scans,
        bot_scans: o.bot_scans,
        today_date: format_day(o.today),
        events,
    };
    Ok((view, next))
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
