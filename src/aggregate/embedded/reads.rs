//! The analytics contract on the embedded analytics: every read runs on a blocking thread, off
//! the async workers (the edge's, on a small machine), since it takes the state's lock and may
//! read the event log.

use std::sync::Arc;

use chrono_tz::Tz;

use super::{Analytics, AnalyticsError, EventPlace};
use crate::aggregate::contract::{
    Answer, Codes, DayCounts, EventPosition, EventTie, EventsOf, ScanAnalytics,
};
use crate::aggregate::{Dimension, Overview};
use crate::model::ScanEvent;

impl ScanAnalytics for Arc<Analytics> {
    fn overview<'a>(&'a self, id: &'a str, now_ms: i64, zone: Tz) -> Answer<'a, Overview> {
        let (analytics, id) = (Arc::clone(self), id.to_owned());
        blocking(move || Ok(Analytics::overview(&analytics, &id, now_ms, zone)))
    }

    fn team_overview<'a>(
        &'a self,
        team_id: &'a str,
        now_ms: i64,
        zone: Tz,
    ) -> Answer<'a, Overview> {
        let (analytics, team_id) = (Arc::clone(self), team_id.to_owned());
        blocking(move || Ok(Analytics::team_overview(&analytics, &team_id, now_ms, zone)))
    }

    fn top_codes<'a>(&'a self, team_id: &'a str, limit: usize) -> Answer<'a, Vec<(String, u64)>> {
        let (analytics, team_id) = (Arc::clone(self), team_id.to_owned());
        blocking(move || Ok(Analytics::top_codes(&analytics, &team_id, limit)))
    }

    fn events_after<'a>(
        &'a self,
        of: EventsOf<'a>,
        start: i64,
        end: i64,
        after: Option<&'a EventPosition>,
        limit: usize,
    ) -> Answer<'a, Vec<(EventPosition, ScanEvent)>> {
        let (analytics, of, before) = (Arc::clone(self), OwnedEventsOf::from(of), place_of(after));
        blocking(move || {
            let page = analytics.events_before(of.as_events_of(), start, end, before, limit)?;
            Ok(positioned(page))
        })
    }

    fn days<'a>(&'a self, codes: Codes<'a>, first: i64, last: i64) -> Answer<'a, Vec<DayCounts>> {
        let (analytics, codes) = (Arc::clone(self), OwnedCodes::from(codes));
        blocking(move || Ok(Analytics::days(&analytics, codes.as_codes(), first, last)))
    }

    fn buckets<'a>(
        &'a self,
        codes: Codes<'a>,
        start: i64,
        end: i64,
    ) -> Answer<'a, Vec<(i64, u64)>> {
        let (analytics, codes) = (Arc::clone(self), OwnedCodes::from(codes));
        blocking(move || Ok(Analytics::buckets(&analytics, codes.as_codes(), start, end)))
    }

    fn breakdown<'a>(
        &'a self,
        codes: Codes<'a>,
        dimension: Dimension,
    ) -> Answer<'a, Vec<(String, u64)>> {
        let (analytics, codes) = (Arc::clone(self), OwnedCodes::from(codes));
        blocking(move || {
            Ok(Analytics::breakdown(
                &analytics,
                codes.as_codes(),
                dimension,
            ))
        })
    }
}

/// The log place a page ends at; a Redis position starts the page at its millisecond.
fn place_of(after: Option<&EventPosition>) -> Option<EventPlace> {
    after.map(|p| match p.tie {
        EventTie::Log(segment, offset) => (p.time, (segment, offset)),
        EventTie::Id(_) => (p.time, (u32::MAX, u32::MAX)),
    })
}

fn positioned(page: Vec<(EventPlace, ScanEvent)>) -> Vec<(EventPosition, ScanEvent)> {
    page.into_iter()
        .map(|((time, (segment, offset)), event)| {
            let tie = EventTie::Log(segment, offset);
            (EventPosition { time, tie }, event)
        })
        .collect()
}

/// Whose events, owned by the blocking thread.
enum OwnedEventsOf {
    Code(String),
    Team(String),
}

impl From<EventsOf<'_>> for OwnedEventsOf {
    fn from(of: EventsOf<'_>) -> Self {
        match of {
            EventsOf::Code(id) => OwnedEventsOf::Code(id.to_owned()),
            EventsOf::Team(id) => OwnedEventsOf::Team(id.to_owned()),
        }
    }
}

impl OwnedEventsOf {
    fn as_events_of(&self) -> EventsOf<'_> {
        match self {
            OwnedEventsOf::Code(id) => EventsOf::Code(id),
            OwnedEventsOf::Team(id) => EventsOf::Team(id),
        }
    }
}

/// A scope the blocking thread owns.
enum OwnedCodes {
    These(Vec<String>),
    Team(String),
}

impl From<Codes<'_>> for OwnedCodes {
    fn from(codes: Codes<'_>) -> Self {
        match codes {
            Codes::These(ids) => OwnedCodes::These(ids.to_vec()),
            Codes::Team(team_id) => OwnedCodes::Team(team_id.to_owned()),
        }
    }
}

impl OwnedCodes {
    fn as_codes(&self) -> Codes<'_> {
        match self {
            OwnedCodes::These(ids) => Codes::These(ids),
            OwnedCodes::Team(team_id) => Codes::Team(team_id),
        }
    }
}

fn blocking<'a, T: Send + 'static>(
    work: impl FnOnce() -> Result<T, AnalyticsError> + Send + 'static,
) -> Answer<'a, T> {
    Box::pin(async move {
        tokio::task::spawn_blocking(work)
            .await
            .map_err(|e| AnalyticsError::Io(std::io::Error::other(e)))?
    })
}
