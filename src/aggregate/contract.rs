//! The analytics contract: what the API reads, answered alike by the embedded analytics
//! (`embedded::reads`) and by the Redis rollups (`redis_reads`). Every count is of headline scans
//! (bots and HEAD requests apart; the overview carries the bots' own count), and every day is a
//! date in the zone of the code's team when the scan was counted (`TeamZones`).

use std::sync::Arc;

use chrono_tz::Tz;
use futures::future::BoxFuture;
use serde::{Deserialize, Serialize};

use super::{AnalyticsError, Dimension, Overview};
use crate::model::ScanEvent;

/// How many of a team's most scanned codes are kept, and read at most (`top_codes`).
pub const TOP_CODES_KEPT: usize = 10;

/// What a read resolves to.
pub type Answer<'a, T> = BoxFuture<'a, Result<T, AnalyticsError>>;

/// The analytics the API reads, whichever store keeps them.
pub type AnalyticsReader = Arc<dyn ScanAnalytics>;

/// Whose counts a rollup read sums: some codes, or a whole team (its own rollups, kept per scan:
/// one read whatever the team's size, and a deleted code's scans stay in it).
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Codes<'a> {
    These(&'a [String]),
    /// Every scan of the team's codes (its orphan scans apart, as they are no code's).
    Team(&'a str),
}

/// Whose events a page lists.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum EventsOf<'a> {
    /// A code's (or a team's orphan scans', by their rollup id).
    Code(&'a str),
    /// Every event of the team's codes (bots and HEAD requests too, its orphan scans apart, a
    /// deleted code's in): one list kept per team, read whatever the number of its codes. A
    /// position in it is not one in a code's.
    Team(&'a str),
}

/// One day of several codes together.
#[derive(Debug, Clone, Copy, Default, PartialEq, Eq)]
pub struct DayCounts {
    /// Days since 1970-01-01 (a date in the team's zone).
    pub day: i64,
    pub scans: u64,
    /// Distinct visitors (client address and user agent), counted as Redis's HyperLogLog does.
    pub unique_visitors: u64,
}

pub trait ScanAnalytics: Send + Sync {
    /// Headline counts of a code (or a team's orphan scans) as of `now_ms`; "today" and
    /// "yesterday" are the dates in `zone` then.
    fn overview<'a>(&'a self, id: &'a str, now_ms: i64, zone: Tz) -> Answer<'a, Overview>;

    /// Headline counts of all the team's codes together as of `now_ms` (its orphan scans apart,
    /// a deleted code's scans in), "today" and "yesterday" being the dates in `zone` then.
    fn team_overview<'a>(&'a self, team_id: &'a str, now_ms: i64, zone: Tz)
        -> Answer<'a, Overview>;

    /// The team's most scanned codes (all-time headline scans; a deleted code's among them, its
    /// orphan scans apart), most first, ties by id: at most `limit`, up to `TOP_CODES_KEPT`.
    fn top_codes<'a>(&'a self, team_id: &'a str, limit: usize) -> Answer<'a, Vec<(String, u64)>>;

    /// A page of the events of a code or a team (`of`) with `start <= scanTime <= end`, newest
    /// first, past `after`, at most `limit`; each with its position. A position of the other
    /// store's kind (a cursor kept across a move between stores) starts the page at its
    /// millisecond: those events come again rather than some being skipped.
    fn events_after<'a>(
        &'a self,
        of: EventsOf<'a>,
        start: i64,
        end: i64,
        after: Option<&'a EventPosition>,
        limit: usize,
    ) -> Answer<'a, Vec<(EventPosition, ScanEvent)>>;

    /// Scans and unique visitors of the codes together on every day `first..=last` (oldest
    /// first, days without scans as zeros). Visitors are counted once across the codes.
    fn days<'a>(&'a self, codes: Codes<'a>, first: i64, last: i64) -> Answer<'a, Vec<DayCounts>>;

    /// The non-empty 5-minute buckets `(start, scans)` of the codes together that overlap
    /// `[start, end]`, oldest first. Buckets are kept for the last two days at least.
    fn buckets<'a>(&'a self, codes: Codes<'a>, start: i64, end: i64)
        -> Answer<'a, Vec<(i64, u64)>>;

    /// All-time scans of the codes together per value of `dimension`, most first (ties by
    /// value); unknown values count under "".
    fn breakdown<'a>(
        &'a self,
        codes: Codes<'a>,
        dimension: Dimension,
    ) -> Answer<'a, Vec<(String, u64)>>;
}

/// Where an event is among a code's or a team's events (which come newest first): its scan time
/// and, among the events of one millisecond, its place in the embedded log or its id in the Redis
/// rollups (in a team's list, its id and its code's).
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

/// Sums per-value counts into one breakdown, most first (ties by value).
pub fn ranked(counts: impl IntoIterator<Item = (String, u64)>) -> Vec<(String, u64)> {
    let mut sums: std::collections::HashMap<String, u64> = std::collections::HashMap::new();
    for (value, n) in counts {
        *sums.entry(value).or_default() += n;
    }
    let mut out: Vec<(String, u64)> = sums.into_iter().collect();
    out.sort_unstable_by(|a, b| b.1.cmp(&a.1).then_with(|| a.0.cmp(&b.0)));
    out
}
