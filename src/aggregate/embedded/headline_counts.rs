//! The headline counts of a code or of a team (all its codes together): what an overview reads
//! besides the days' counts, which are the rollups'.

use chrono_tz::Tz;
use serde::{Deserialize, Serialize};

use super::rollups::Rollups;
use crate::aggregate::rollup::{day_number, local_date, Overview};
use crate::model::ScanEvent;

/// Saved inline where it is kept: a code's three fields as they were before there was this type.
#[derive(Debug, Default, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct HeadlineCounts {
    pub scans: u64,
    pub bot_scans: u64,
    /// The newest counted or bot scan's time; 0 before the first.
    pub last_scan_time: i64,
}

impl HeadlineCounts {
    /// Counts an event that is new. A HEAD request is counted nowhere (link checkers, and our
    /// own tests' probes), as in the Redis rollups; a bot apart.
    pub fn count(&mut self, event: &ScanEvent) {
        if event.head {
            return;
        }
        self.last_scan_time = self.last_scan_time.max(event.scan_time);
        if event.is_headline() {
            self.scans += 1;
        } else {
            self.bot_scans += 1;
        }
    }

    /// Adds `other`'s counts into these.
    pub fn merge(&mut self, other: &HeadlineCounts) {
        self.scans += other.scans;
        self.bot_scans += other.bot_scans;
        self.last_scan_time = self.last_scan_time.max(other.last_scan_time);
    }

    /// The overview of what nothing was counted for yet, as of `now_ms` in `zone`.
    pub fn none_yet(now_ms: i64, zone: Tz) -> Overview {
        Overview {
            today: day_number(local_date(now_ms, zone)),
            ..Overview::default()
        }
    }

    /// The overview as of `now_ms` with the days of `rollups`, "today" being the date in `zone`.
    pub fn overview(&self, rollups: &Rollups, now_ms: i64, zone: Tz) -> Overview {
        let today = day_number(local_date(now_ms, zone));
        Overview {
            total_scans: self.scans,
            today_scans: rollups.on(today),
            yesterday_scans: rollups.on(today - 1),
            bot_scans: self.bot_scans,
            last_scan_time: (self.scans + self.bot_scans > 0).then_some(self.last_scan_time),
            today,
        }
    }
}
