//! The analytics contract on the Redis rollups.

use chrono_tz::Tz;

use super::contract::{Answer, Codes, DayCounts, EventPosition, EventTie, EventsOf, ScanAnalytics};
use super::{Dimension, Overview, RedisAnalytics};
use crate::model::ScanEvent;

impl ScanAnalytics for RedisAnalytics {
    fn overview<'a>(&'a self, id: &'a str, now_ms: i64, zone: Tz) -> Answer<'a, Overview> {
        Box::pin(async move { Ok(RedisAnalytics::overview(self, id, now_ms, zone).await?) })
    }

    fn team_overview<'a>(
        &'a self,
        team_id: &'a str,
        now_ms: i64,
        zone: Tz,
    ) -> Answer<'a, Overview> {
        Box::pin(async move { Ok(self.team_overview(team_id, now_ms, zone).await?) })
    }

    fn top_codes<'a>(&'a self, team_id: &'a str, limit: usize) -> Answer<'a, Vec<(String, u64)>> {
        Box::pin(async move { Ok(RedisAnalytics::top_codes(self, team_id, limit).await?) })
    }

    fn events_after<'a>(
        &'a self,
        of: EventsOf<'a>,
        start: i64,
        end: i64,
        after: Option<&'a EventPosition>,
        limit: usize,
    ) -> Answer<'a, Vec<(EventPosition, ScanEvent)>> {
        Box::pin(async move {
            let page = self.events_before(of, start, end, place_of(after), limit);
            Ok(positioned(page.await?))
        })
    }

    fn days<'a>(&'a self, codes: Codes<'a>, first: i64, last: i64) -> Answer<'a, Vec<DayCounts>> {
        Box::pin(async move { Ok(RedisAnalytics::days(self, codes, first, last).await?) })
    }

    fn buckets<'a>(
        &'a self,
        codes: Codes<'a>,
        start: i64,
        end: i64,
    ) -> Answer<'a, Vec<(i64, u64)>> {
        Box::pin(async move { Ok(RedisAnalytics::buckets(self, codes, start, end).await?) })
    }

    fn breakdown<'a>(
        &'a self,
        codes: Codes<'a>,
        dimension: Dimension,
    ) -> Answer<'a, Vec<(String, u64)>> {
        Box::pin(async move { Ok(RedisAnalytics::breakdown(self, codes, dimension).await?) })
    }
}

/// Where a page ends in a sorted set of events: a position of the embedded log's kind starts
/// the page at its millisecond.
fn place_of(after: Option<&EventPosition>) -> Option<(i64, &str)> {
    after.map(|p| match &p.tie {
        EventTie::Id(id) => (p.time, id.as_str()),
        // Before every member of that millisecond ("~" sorts after ids and code ids).
        EventTie::Log(..) => (p.time, "~"),
    })
}

fn positioned(page: Vec<((i64, String), ScanEvent)>) -> Vec<(EventPosition, ScanEvent)> {
    page.into_iter()
        .map(|((time, id), event)| {
            let tie = EventTie::Id(id);
            (EventPosition { time, tie }, event)
        })
        .collect()
}
