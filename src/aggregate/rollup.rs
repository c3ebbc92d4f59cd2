//! Rollup arithmetic, free of storage: which counts a batch adds, and how "today" and
//! "yesterday" come out of per-day counts.

use std::collections::HashMap;

use crate::clock::utc_day;
use crate::model::ScanEvent;

/// The counts one batch adds to one code.
#[derive(Debug, Default, Clone, PartialEq, Eq)]
pub struct Increments {
    pub scans: u64,
    pub bot_scans: u64,
    pub last_scan_time: i64,
    /// UTC day -> headline scans on that day.
    pub per_day: HashMap<i64, u64>,
}

impl Increments {
    pub fn add(&mut self, event: &ScanEvent) {
        self.last_scan_time = self.last_scan_time.max(event.scan_time);
        if event.bot {
            self.bot_scans += 1;
        } else {
            self.scans += 1;
            *self.per_day.entry(utc_day(event.scan_time)).or_default() += 1;
        }
    }
}

/// Headline counts of one code, as the overviews endpoint reports them.
#[derive(Debug, Default, Clone, PartialEq, Eq)]
pub struct Overview {
    pub total_scans: u64,
    pub today_scans: u64,
    pub yesterday_scans: u64,
    pub bot_scans: u64,
    /// The newest scan's time, None before the first scan.
    pub last_scan_time: Option<i64>,
    /// The UTC day "today" refers to.
    pub today: i64,
}

/// Groups new (not yet counted) events by code.
pub fn increments<'a>(
    events: impl IntoIterator<Item = &'a ScanEvent>,
) -> HashMap<String, Increments> {
    let mut by_qr: HashMap<String, Increments> = HashMap::new();
    for event in events {
        by_qr.entry(event.qr_id.clone()).or_default().add(event);
    }
    by_qr
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::clock::MS_PER_DAY;

    fn event(qr: &str, time: i64, bot: bool) -> ScanEvent {
        ScanEvent {
            event_id: format!("{qr}-{time}"),
            qr_id: qr.into(),
            team_id: "t".into(),
            display_id: "d".into(),
            scan_time: time,
            device: "mobile".into(),
            browser: String::new(),
            os: String::new(),
            country: String::new(),
            city: String::new(),
            ip_address: "127.0.0.1".into(),
            referrer: String::new(),
            user_agent: String::new(),
            bot,
        }
    }

    #[test]
    fn bots_are_kept_apart_from_headline_counts() {
        let day = 20_000 * MS_PER_DAY;
        let events = [
            event("a", day + 5, false),
            event("a", day + 9, true),
            event("a", day - 1, false),
            event("b", day, false),
        ];
        let inc = increments(&events);
        let a = &inc["a"];
        assert_eq!((a.scans, a.bot_scans, a.last_scan_time), (2, 1, day + 9));
        assert_eq!(a.per_day[&20_000], 1);
        assert_eq!(a.per_day[&19_999], 1);
        assert_eq!(inc["b"].scans, 1);
    }
}
