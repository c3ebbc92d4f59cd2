//! What the analytics endpoints read: the embedded store, or the Redis rollups.

use std::sync::Arc;

use chrono_tz::Tz;
use serde::{Deserialize, Serialize};

use super::redis::RedisAnalytics;
use super::{Analytics, AnalyticsError, Overview};
use crate::model::ScanEvent;

#[derive(Clone)]
pub enum AnalyticsReader {
    Embedded(Arc<Analytics>),
    Redis(RedisAnalytics),
}

impl AnalyticsReader {
    /// Headline counts of a code as of `now_ms`, days counted in `zone`. The embedded store
    /// counts UTC days.
    pub async fn overview(
        &self,
        qr_id: &str,
        now_ms: i64,
        zone: Tz,
    ) -> Result<Overview, AnalyticsError> {
        match self {
            AnalyticsReader::Embedded(store) => {
                let (store, qr_id) = (Arc::clone(store), qr_id.to_owned());
                blocking(move || store.overview(&qr_id, now_ms)).await
            }
            AnalyticsReader::Redis(redis) => Ok(redis.overview(qr_id, now_ms, zone).await?),
        }
    }

    /// A code's events with `start <= scanTime <= end`, newest first, at most `limit`.
    pub async fn events(
        &self,
        qr_id: &str,
        start: i64,
        end: i64,
        limit: usize,
    ) -> Result<Vec<ScanEvent>, AnalyticsError> {
        match self {
            AnalyticsReader::Embedded(store) => {
                let (store, qr_id) = (Arc::clone(store), qr_id.to_owned());
                blocking(move || store.events(&qr_id, start, end, limit)).await
            }
            AnalyticsReader::Redis(redis) => Ok(redis.events(qr_id, start, end, limit).await?),
        }
    }
}

/// Where an event is among a code's events (which come newest first): its scan time and, among
/// the events of one millisecond, its place in the embedded log or its id in the Redis rollups.
/// A page of events ends at one; the next starts just past it, whatever arrived meanwhile.
#[derive(Debug, Clone, PartialEq, Eq, PartialOrd, Ord, Serialize, Deserialize)]
pub struct EventPosition {
    pub time: i64,
    pub tie: EventTie,
}

#[derive(Debug, Clone, PartialEq, Eq, PartialOrd, Ord, Serialize, Deserialize)]
pub enum EventTie {
    /// The embedded log's segment and offset.
    Log(u32, u32),
    /// The event's id (Redis).
    Id(String),
}

impl AnalyticsReader {
    /// A page of a code's events with `start <= scanTime <= end`, newest first, past `after`,
    /// at most `limit`; each with its position. A position of the other store's kind (a cursor
    /// kept across a move between stores) starts the page at its millisecond: those events come
    /// again rather than some being skipped.
    pub async fn events_after(
        &self,
        qr_id: &str,
        start: i64,
        end: i64,
        after: Option<&EventPosition>,
        limit: usize,
    ) -> Result<Vec<(EventPosition, ScanEvent)>, AnalyticsError> {
        match self {
            AnalyticsReader::Embedded(store) => {
                let (store, qr_id) = (Arc::clone(store), qr_id.to_owned());
                let before = after.map(|p| match p.tie {
                    EventTie::Log(segment, offset) => (p.time, (segment, offset)),
                    EventTie::Id(_) => (p.time, (u32::MAX, u32::MAX)),
                });
                let page = blocking(move || store.events_before(&qr_id, start, end, before, limit));
                Ok(page
                    .await?
                    .into_iter()
                    .map(|((time, (segment, offset)), event)| {
                        let tie = EventTie::Log(segment, offset);
                        (EventPosition { time, tie }, event)
                    })
                    .collect())
            }
            AnalyticsReader::Redis(redis) => {
                let before = after.map(|p| match &p.tie {
                    EventTie::Id(id) => (p.time, id.as_str()),
                    // Before every id of that millisecond ("~" sorts after hex digits).
                    EventTie::Log(..) => (p.time, "~"),
                });
                let page = redis
                    .events_before(qr_id, start, end, before, limit)
                    .await?;
                Ok(page
                    .into_iter()
                    .map(|((time, id), event)| {
                        (
                            EventPosition {
                                time,
                                tie: EventTie::Id(id),
                            },
                            event,
                        )
                    })
                    .collect())
            }
        }
    }
}

async fn blocking<T: Send + 'static>(
    work: impl FnOnce() -> Result<T, AnalyticsError> + Send + 'static,
) -> Result<T, AnalyticsError> {
    tokio::task::spawn_blocking(work)
        .await
        .map_err(|e| AnalyticsError::Io(std::io::Error::other(e)))?
}
