//! The analytics contract on the embedded analytics: every read runs on a blocking thread, off
//! the async workers (the edge's, on a small machine), since it takes the state's lock and may
//! read the event log.

use std::sync::Arc;

use chrono_tz::Tz;

use super::{Analytics, AnalyticsError};
use crate::aggregate::contract::{Answer, DayCounts, EventPosition, EventTie, ScanAnalytics};
use crate::aggregate::{Dimension, Overview};
use crate::model::ScanEvent;

impl ScanAnalytics for Arc<Analytics> {
    fn overview<'a>(&'a self, id: &'a str, now_ms: i64, zone: Tz) -> Answer<'a, Overview> {
        let (analytics, id) = (Arc::clone(self), id.to_owned());
        blocking(move || Ok(Analytics::overview(&analytics, &id, now_ms, zone)))
    }

    fn events_after<'a>(
        &'a self,
        id: &'a str,
        start: i64,
        end: i64,
        after: Option<&'a EventPosition>,
        limit: usize,
    ) -> Answer<'a, Vec<(EventPosition, ScanEvent)>> {
        let (analytics, id) = (Arc::clone(self), id.to_owned());
        let before = after.map(|p| match p.tie {
            EventTie::Log(segment, offset) => (p.time, (segment, offset)),
            EventTie::Id(_) => (p.time, (u32::MAX, u32::MAX)),
        });
        blocking(move || {
            let page = analytics.events_before(&id, start, end, before, limit)?;
            Ok(page
                .into_iter()
                .map(|((time, (segment, offset)), event)| {
                    let tie = EventTie::Log(segment, offset);
                    (EventPosition { time, tie }, event)
                })
                .collect())
        })
    }

    fn days<'a>(&'a self, ids: &'a [String], first: i64, last: i64) -> Answer<'a, Vec<DayCounts>> {
        let (analytics, ids) = (Arc::clone(self), ids.to_vec());
        blocking(move || Ok(Analytics::days(&analytics, &ids, first, last)))
    }

    fn buckets<'a>(
        &'a self,
        ids: &'a [String],
        start: i64,
        end: i64,
    ) -> Answer<'a, Vec<(i64, u64)>> {
        let (analytics, ids) = (Arc::clone(self), ids.to_vec());
        blocking(move || Ok(Analytics::buckets(&analytics, &ids, start, end)))
    }

    fn breakdown<'a>(
        &'a self,
        ids: &'a [String],
        dimension: Dimension,
    ) -> Answer<'a, Vec<(String, u64)>> {
        let (analytics, ids) = (Arc::clone(self), ids.to_vec());
        blocking(move || Ok(Analytics::breakdown(&analytics, &ids, dimension)))
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
