//! What the embedded analytics keep in memory per code (or per team's orphan scans): the counts
//! the overviews read, the rollups, and where each of its events is in the log, by scan time.

use chrono_tz::Tz;
use serde::{Deserialize, Serialize};

use super::event_log::Position;
use super::event_places::EventPlaces;
use super::headline_counts::HeadlineCounts;
use super::rollups::{Counted, Rollups};
use crate::aggregate::prefetch::prefetch_lines;
use crate::aggregate::rollup::Overview;
use crate::model::ScanEvent;

#[derive(Debug, Default, Clone, Serialize, Deserialize)]
pub struct CodeStats {
    counts: HeadlineCounts,
    /// Headline scans per day in the team's zone, and the rest the rollup endpoints read.
    rollups: Rollups,
    events: EventPlaces,
}

/// A code's stats as version 1 of the checkpoint kept them: the two newest UTC days with scans
/// instead of the rollups.
#[derive(Debug, Default, Clone, Serialize, Deserialize)]
pub struct PreviousCodeStats {
    pub scans: u64,
    pub bot_scans: u64,
    pub last_scan_time: i64,
    pub recent_days: [(i64, u64); 2],
    pub events: Vec<(i64, Position)>,
}

impl CodeStats {
    /// Takes the totals of a previous version's checkpoint, which count events the log may no
    /// longer hold (removed by retention) as well.
    pub fn take_totals(&mut self, previous: &PreviousCodeStats) {
        self.counts = HeadlineCounts {
            scans: previous.scans,
            bot_scans: previous.bot_scans,
            last_scan_time: previous.last_scan_time,
        };
    }

    /// Counts an event that is new, stored at `at`; `counted` is what it adds to the rollups
    /// (None for a bot or a HEAD request, which are not rolled up).
    pub fn add(&mut self, event: &ScanEvent, at: Position, counted: Option<&Counted>) {
        self.events.note(event.scan_time, at);
        self.counts.count(event);
        if let Some(counted) = counted {
            self.rollups.add(counted);
        }
    }

    /// Starts loading what counting a scan of this code touches.
    pub fn prefetch(&self, counted: Option<&Counted>) {
        prefetch_lines(self);
        self.events.prefetch();
        if let Some(counted) = counted {
            self.rollups.prefetch(counted);
        }
    }

    /// The second step of `prefetch`, once what it asked for has come: the memory behind it.
    pub fn prefetch_behind(&self, counted: Option<&Counted>) {
        if let Some(counted) = counted {
            self.rollups.prefetch_visitors(counted);
        }
    }

    pub fn rollups(&self) -> &Rollups {
        &self.rollups
    }

    pub fn counts(&self) -> &HeadlineCounts {
        &self.counts
    }

    /// Headline counts as of `now_ms`, "today" being the date in `zone` then.
    pub fn overview(&self, now_ms: i64, zone: Tz) -> Overview {
        self.counts.overview(&self.rollups, now_ms, zone)
    }

    /// Where its events are in the log.
    pub fn events(&self) -> &EventPlaces {
        &self.events
    }

    pub fn events_mut(&mut self) -> &mut EventPlaces {
        &mut self.events
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::aggregate::embedded::breakdowns::Interner;
    use crate::aggregate::rollup::{day_number, local_date};
    use crate::clock::MS_PER_DAY;

    /// Counts `event` as the aggregator does: on its date in `zone`.
    fn count(stats: &mut CodeStats, event: &ScanEvent, at: Position, zone: Tz) {
        let day = day_number(local_date(event.scan_time, zone));
        let counted = event
            .is_headline()
            .then(|| Counted::of(event, day, &mut Interner::default()));
        stats.add(event, at, counted.as_ref());
    }

    fn scan(time: i64) -> ScanEvent {
        ScanEvent::test_scan("qr", time)
    }

    #[test]
    fn late_scans_of_older_days_count_in_the_total_and_in_their_day_when_it_is_recent() {
        let mut stats = CodeStats::default();
        let day = 20_000 * MS_PER_DAY;
        for time in [
            day + 5,
            day - MS_PER_DAY,
            day + 7,
            day - 3 * MS_PER_DAY,
            day - 1,
        ] {
            count(&mut stats, &scan(time), Position::START, Tz::UTC);
        }
        let o = stats.overview(day + 100, Tz::UTC);
        assert_eq!((o.total_scans, o.today_scans, o.yesterday_scans), (5, 2, 2));
        assert_eq!(o.last_scan_time, Some(day + 7));
        // The next day's first scan makes today yesterday.
        count(
            &mut stats,
            &scan(day + MS_PER_DAY),
            Position::START,
            Tz::UTC,
        );
        let o = stats.overview(day + MS_PER_DAY, Tz::UTC);
        assert_eq!((o.total_scans, o.today_scans, o.yesterday_scans), (6, 1, 2));
    }

    #[test]
    fn days_are_the_teams_dates_around_its_midnight() {
        // 2026-12-03T10:00:00Z is midnight, December 4th begins, in Kiritimati (UTC+14).
        let midnight = 1_796_292_000_000;
        let kiritimati = chrono_tz::Pacific::Kiritimati;
        let mut stats = CodeStats::default();
        for time in [midnight - 1, midnight - 1, midnight] {
            count(&mut stats, &scan(time), Position::START, kiritimati);
        }
        let o = stats.overview(midnight + 5, kiritimati);
        assert_eq!(crate::clock::format_day(o.today), "12/4/2026");
        assert_eq!((o.today_scans, o.yesterday_scans), (1, 2));
        let o = stats.overview(midnight - 5, kiritimati);
        assert_eq!(crate::clock::format_day(o.today), "12/3/2026");
        assert_eq!((o.today_scans, o.yesterday_scans), (2, 0));
    }
}
