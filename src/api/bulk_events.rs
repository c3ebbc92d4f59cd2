//! `POST /api/analytics-api/bulk`: the events of several codes in a time range, newest first, a
//! page at a time. The codes' events are merged as they are read, a chunk of each at a time, so
//! a page costs its own events and a chunk per code however many events the codes have.
//!
//! The order: scan time, newest first; among the events of one millisecond, by code id and then
//! by each code's own order (all descending), so that a cursor (a position and its code) says
//! which of every code's events are still to come.

use std::collections::VecDeque;

use axum::extract::State;
use axum::response::Response;
use serde::Deserialize;

use super::analytics::{check_qr_ids, DEFAULT_EVENTS, MAX_EVENTS};
use super::auth::Caller;
use super::body::ApiJson;
use super::error::ErrorBody;
use super::paging::{self, paged, Cursor, Paged};
use super::qrs::team_qr;
use super::{ApiError, AppState};
use crate::aggregate::contract::{EventPosition, EventsOf};
use crate::model::ScanEvent;

/// Events read from one code at a time, at most (fewer for a smaller page).
const CHUNK: usize = 256;

#[derive(Deserialize, utoipa::ToSchema)]
#[serde(rename_all = "camelCase", deny_unknown_fields)]
pub struct BulkRequest {
    #[schema(min_items = 1, max_items = 100)]
    qr_ids: Vec<String>,
    start_time: i64,
    end_time: i64,
    /// Events per page (default 1000).
    #[schema(minimum = 1, maximum = 10000)]
    limit: Option<usize>,
    /// A page's nextCursor: the older events after it (send the same codes and range with it).
    cursor: Option<String>,
}

#[utoipa::path(
    post,
    path = "/api/analytics-api/bulk",
    operation_id = "bulkEvents",
    tag = "Analytics",
    request_body = BulkRequest,
    responses(
        (status = 200, description = "A page of the scans of those codes in the range (inclusive), newest first; nextCursor when more follow", body = Paged<Vec<ScanEvent>>),
        (status = 400, description = "Malformed JSON, not 1 to 100 qrIds, startTime after endTime, limit out of range, or a cursor of another list", body = ErrorBody),
        (status = 404, description = "One of qrIds is no code of the team (the message names it)", body = ErrorBody),
    )
)]
pub async fn bulk(
    State(state): State<AppState>,
    caller: Caller,
    ApiJson(request): ApiJson<BulkRequest>,
) -> Result<Response, ApiError> {
    check_qr_ids(&request.qr_ids)?;
    if request.start_time > request.end_time {
        return Err(ApiError::bad_request("startTime must not be after endTime"));
    }
    let limit = request.limit.unwrap_or(DEFAULT_EVENTS);
    if !(1..=MAX_EVENTS).contains(&limit) {
        return Err(ApiError::bad_request(format!(
            "limit must be an integer from 1 to {MAX_EVENTS}"
        )));
    }
    let after = match &request.cursor {
        Some(text) => Some(Cursor::parse(text)?.in_bulk_events()?),
        None => None,
    };
    for id in &request.qr_ids {
        team_qr(&state.store, &caller.team.id, id).await?;
    }
    let range = (request.start_time, request.end_time);
    let (events, next) = merged_page(&state, request.qr_ids, range, after.as_ref(), limit).await?;
    Ok(paged(events, next))
}

/// A page of the events of the codes `qr_ids` with a scan time in `range` (inclusive), in the
/// order above, past `after` (a bulk cursor's position): at most `limit`, and the cursor past
/// them when more follow. The caller has checked that the codes are its team's.
async fn merged_page(
    state: &AppState,
    mut qr_ids: Vec<String>,
    range: (i64, i64),
    after: Option<&(EventPosition, String)>,
    limit: usize,
) -> Result<(Vec<ScanEvent>, Option<Cursor>), ApiError> {
    qr_ids.sort_unstable();
    qr_ids.dedup();
    let mut sources: Vec<Source> = qr_ids
        .into_iter()
        .map(|qr_id| Source::new(qr_id, range, after, (limit + 1).min(CHUNK)))
        .collect();
    let mut events = Vec::with_capacity(limit + 1);
    while events.len() <= limit {
        match next_event(state, &mut sources).await? {
            Some(event) => events.push(event),
            None => break,
        }
    }
    let (events, next) = paging::split(events, limit, |(at, qr, _)| Cursor::BulkEvents {
        at: at.clone(),
        qr: qr.clone(),
    });
    Ok((
        events.into_iter().map(|(_, _, event)| event).collect(),
        next,
    ))
}

/// The newest event not taken yet of all the codes', with its position and code.
async fn next_event(
    state: &AppState,
    sources: &mut [Source],
) -> Result<Option<(EventPosition, String, ScanEvent)>, ApiError> {
    for source in sources.iter_mut() {
        source.fill(state).await?;
    }
    // Newest first; in one millisecond, the greatest code id, then the code's own order.
    let newest = sources
        .iter_mut()
        .filter(|source| !source.read.is_empty())
        .max_by(|a, b| {
            let (a_at, b_at) = (&a.read[0].0, &b.read[0].0);
            (a_at.time, &a.qr_id, &a_at.tie).cmp(&(b_at.time, &b.qr_id, &b_at.tie))
        });
    Ok(newest.and_then(|source| {
        let (at, event) = source.read.pop_front()?;
        Some((at, source.qr_id.clone(), event))
    }))
}

/// One code's events, read a chunk at a time.
struct Source {
    qr_id: String,
    start: i64,
    /// The newest scan time still to come.
    end: i64,
    /// Where the last chunk (or the cursor) ended.
    after: Option<EventPosition>,
    read: VecDeque<(EventPosition, ScanEvent)>,
    /// Events read at a time.
    chunk: usize,
    /// Every event of the range has been read.
    exhausted: bool,
}

impl Source {
    /// The code's events still to come past the cursor's position `after` (in code `qr`):
    /// those of the cursor's millisecond come after its own code's events only in codes with a
    /// smaller id.
    fn new(
        qr_id: String,
        (start, end): (i64, i64),
        after: Option<&(EventPosition, String)>,
        chunk: usize,
    ) -> Self {
        let (end, after) = match after {
            None => (end, None),
            Some((at, qr)) if *qr == qr_id => (end, Some(at.clone())),
            Some((at, qr)) if qr_id < *qr => (end.min(at.time), None),
            Some((at, _)) => (end.min(at.time.saturating_sub(1)), None),
        };
        Self {
            qr_id,
            start,
            end,
            after,
            read: VecDeque::new(),
            chunk,
            exhausted: false,
        }
    }

    /// Reads the next chunk when everything read has been taken.
    async fn fill(&mut self, state: &AppState) -> Result<(), ApiError> {
        if !self.read.is_empty() || self.exhausted {
            return Ok(());
        }
        let chunk = state
            .analytics
            .events_after(
                EventsOf::Code(&self.qr_id),
                self.start,
                self.end,
                self.after.as_ref(),
                self.chunk,
            )
            .await?;
        self.exhausted = chunk.len() < self.chunk;
        if let Some((last, _)) = chunk.last() {
            self.after = Some(last.clone());
        }
        self.read.extend(chunk);
        Ok(())
    }
}
