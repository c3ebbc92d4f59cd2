//! The embedded aggregator's storage: `DATA_DIR/analytics.redb`.
//!
//! A batch is one write transaction: events are inserted under (qrId, scanTime, eventId) — an
//! event already there is a replay and is not counted again — and the counts move with them.

use std::path::Path;

use redb::{Database, ReadableDatabase, ReadableTable, TableDefinition};

use super::rollup::{increments, Overview};
use crate::clock::utc_day;
use crate::model::ScanEvent;

/// (qrId, scanTime, eventId) -> the event as JSON.
const EVENTS: TableDefinition<(&str, i64, &str), &[u8]> = TableDefinition::new("events");
/// qrId -> (headline scans, bot scans, newest scan time).
const QR_STATS: TableDefinition<&str, (u64, u64, i64)> = TableDefinition::new("qr_stats");
/// (qrId, UTC day) -> headline scans that day.
const DAILY: TableDefinition<(&str, i64), u64> = TableDefinition::new("daily");

/// redb's own page cache for the analytics (its default is 1 GiB): enough for the pages the
/// writes keep touching; the rest come from the OS page cache. Measured with 1M codes under
/// load: 0.5 GB less resident memory than the default, no loss of throughput.
const CACHE_BYTES: usize = 64 << 20;

/// Greater than any event id (they are hex), for inclusive range ends.
const AFTER_ANY_EVENT_ID: &str = "~";

#[derive(Debug, thiserror::Error)]
pub enum AnalyticsError {
    #[error("analytics storage error: {0}")]
    Db(#[from] redb::Error),
    #[error("a stored scan event could not be read: {0}")]
    Corrupt(#[from] serde_json::Error),
    #[error("i/o error: {0}")]
    Io(#[from] std::io::Error),
    #[error("the analytics (Redis) are unavailable: {0}")]
    Redis(#[from] super::redis::RedisAnalyticsError),
}

from_redb_errors!(AnalyticsError);

pub struct Analytics {
    db: Database,
}

impl Analytics {
    pub fn open(dir: &Path) -> Result<Self, AnalyticsError> {
        std::fs::create_dir_all(dir)?;
        let db = Database::builder()
            .set_cache_size(CACHE_BYTES)
            .create(dir.join("analytics.redb"))?;
        let txn = db.begin_write()?;
        txn.open_table(EVENTS)?;
        txn.open_table(QR_STATS)?;
        txn.open_table(DAILY)?;
        txn.commit()?;
        Ok(Self { db })
    }

    /// Stores and counts a batch atomically. Returns how many events were new.
    pub fn apply(&self, events: &[ScanEvent]) -> Result<usize, AnalyticsError> {
        let txn = self.db.begin_write()?;
        let mut new_events = Vec::with_capacity(events.len());
        {
            let mut table = txn.open_table(EVENTS)?;
            for event in events {
                let rollup_id = event.rollup_id();
                let key = (rollup_id.as_ref(), event.scan_time, event.event_id.as_str());
                let json = serde_json::to_vec(event)?;
                if table.insert(key, json.as_slice())?.is_none() {
                    new_events.push(event);
                }
            }
        }
        {
            let mut stats = txn.open_table(QR_STATS)?;
            let mut daily = txn.open_table(DAILY)?;
            for (qr_id, inc) in increments(new_events.iter().copied()) {
                let (scans, bots, last) = stats
                    .get(qr_id.as_str())?
                    .map(|v| v.value())
                    .unwrap_or((0, 0, 0));
                stats.insert(
                    qr_id.as_str(),
                    (
                        scans + inc.scans,
                        bots + inc.bot_scans,
                        last.max(inc.last_scan_time),
                    ),
                )?;
                for (day, n) in inc.per_day {
                    let key = (qr_id.as_str(), day);
                    let before = daily.get(key)?.map(|v| v.value()).unwrap_or(0);
                    daily.insert(key, before + n)?;
                }
            }
        }
        txn.commit()?;
        Ok(new_events.len())
    }

    /// Headline counts of a code as of `now_ms` (UTC days).
    pub fn overview(&self, qr_id: &str, now_ms: i64) -> Result<Overview, AnalyticsError> {
        let txn = self.db.begin_read()?;
        let stats = txn.open_table(QR_STATS)?;
        let daily = txn.open_table(DAILY)?;
        let today = utc_day(now_ms);
        let day_count = |day: i64| -> Result<u64, AnalyticsError> {
            Ok(daily.get((qr_id, day))?.map(|v| v.value()).unwrap_or(0))
        };
        let (total, bots, last) = stats.get(qr_id)?.map(|v| v.value()).unwrap_or((0, 0, 0));
        Ok(Overview {
            total_scans: total,
            today_scans: day_count(today)?,
            yesterday_scans: day_count(today - 1)?,
            bot_scans: bots,
            last_scan_time: (total + bots > 0).then_some(last),
            today,
        })
    }

    /// A code's events with `start <= scanTime <= end`, newest first, at most `limit`.
    pub fn events(
        &self,
        qr_id: &str,
        start: i64,
        end: i64,
        limit: usize,
    ) -> Result<Vec<ScanEvent>, AnalyticsError> {
        let txn = self.db.begin_read()?;
        let table = txn.open_table(EVENTS)?;
        let mut out = Vec::new();
        if start > end {
            return Ok(out);
        }
        for entry in table
            .range((qr_id, start, "")..=(qr_id, end, AFTER_ANY_EVENT_ID))?
            .rev()
            .take(limit)
        {
            let (_, json) = entry?;
            out.push(serde_json::from_slice(json.value())?);
        }
        Ok(out)
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::clock::MS_PER_DAY;

    fn event(id: &str, qr: &str, time: i64, bot: bool) -> ScanEvent {
        ScanEvent {
            event_id: id.into(),
            qr_id: qr.into(),
            team_id: "t".into(),
            display_id: "d".into(),
            scan_time: time,
            device: "mobile".into(),
            browser: "Safari".into(),
            os: "iOS".into(),
            country: "DE".into(),
            city: "Berlin".into(),
            ip_address: "127.0.0.1".into(),
            referrer: String::new(),
            user_agent: "ua".into(),
            bot,
            head: false,
            orphan: false,
        }
    }

    #[test]
    fn today_and_yesterday_come_from_per_day_counts() {
        let dir = tempfile::tempdir().unwrap();
        let analytics = Analytics::open(dir.path()).unwrap();
        let now = 20_000 * MS_PER_DAY + 3_600_000;
        let batch = [
            event("e1", "qr_a", now, false),
            event("e2", "qr_a", now - 2 * 3_600_000, false), // yesterday, 23:00
            event("e3", "qr_a", now - 3 * MS_PER_DAY, false),
            event("e4", "qr_a", now, true),
            event("e5", "qr_b", now, false),
        ];
        assert_eq!(analytics.apply(&batch).unwrap(), 5);
        let a = analytics.overview("qr_a", now).unwrap();
        assert_eq!(
            (a.total_scans, a.today_scans, a.yesterday_scans, a.bot_scans),
            (3, 1, 1, 1)
        );
        assert_eq!(a.last_scan_time, Some(now));
        // A day later, today's scan is yesterday's.
        let later = analytics.overview("qr_a", now + MS_PER_DAY).unwrap();
        assert_eq!((later.today_scans, later.yesterday_scans), (0, 1));
        let none = analytics.overview("qr_none", now).unwrap();
        assert_eq!((none.total_scans, none.last_scan_time), (0, None));
    }

    #[test]
    fn a_replayed_event_is_counted_once() {
        let dir = tempfile::tempdir().unwrap();
        let analytics = Analytics::open(dir.path()).unwrap();
        let e = event("e1", "qr_a", 1_000, false);
        assert_eq!(analytics.apply(std::slice::from_ref(&e)).unwrap(), 1);
        assert_eq!(analytics.apply(&[e.clone(), e.clone()]).unwrap(), 0);
        assert_eq!(analytics.overview("qr_a", 1_000).unwrap().total_scans, 1);
        assert_eq!(analytics.events("qr_a", 0, i64::MAX, 10).unwrap(), vec![e]);
    }

    #[test]
    fn events_come_newest_first_within_the_range() {
        let dir = tempfile::tempdir().unwrap();
        let analytics = Analytics::open(dir.path()).unwrap();
        let batch: Vec<_> = (0..5)
            .map(|i| event(&format!("e{i}"), "qr_a", 1_000 + i, false))
            .chain([event("x", "qr_b", 1_002, false)])
            .collect();
        analytics.apply(&batch).unwrap();
        let times: Vec<i64> = analytics
            .events("qr_a", 1_001, 1_003, 10)
            .unwrap()
            .iter()
            .map(|e| e.scan_time)
            .collect();
        assert_eq!(times, vec![1_003, 1_002, 1_001]);
        assert_eq!(analytics.events("qr_a", 0, i64::MAX, 2).unwrap().len(), 2);
        assert!(analytics.events("qr_a", 5, 1, 10).unwrap().is_empty());
    }
}
