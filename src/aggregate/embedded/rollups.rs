//! The rollups the embedded analytics keep per code and per team, moved as each scan is counted
//! (the same ones the Redis rollups keep, see `aggregate::redis`): headline scans per day in the
//! team's zone, unique visitors per day, 5-minute buckets of the last days, and all-time breakdowns.
//! Sorted vectors rather than maps: most codes are scanned on few days, and a map per code would
//! cost more than its entries.

use serde::{Deserialize, Serialize};
use ustr::Ustr;

use super::breakdowns::{Breakdowns, Interner};
use crate::aggregate::contract::DayCounts;
use crate::aggregate::prefetch::prefetch_last;
use crate::aggregate::rollup::{bucket_start, visitor_key, Dimension};
use crate::aggregate::visitors::VisitorSketch;
use crate::clock::MS_PER_DAY;
use crate::model::ScanEvent;

/// 5-minute buckets older than this before a code's newest one are dropped: the endpoints serve
/// today's and yesterday's (in any zone, within three UTC days of the newest scan).
const BUCKETS_KEPT_MS: i64 = 3 * MS_PER_DAY;

#[derive(Debug, Default, Clone, Serialize, Deserialize)]
pub struct Rollups {
    /// (local day, headline scans), by day.
    days: Vec<(i64, u64)>,
    /// (local day, its visitors), by day.
    visitors: Vec<(i64, VisitorSketch)>,
    /// (bucket start, headline scans), by start.
    buckets: Vec<(i64, u64)>,
    /// Per dimension: value -> headline scans.
    breakdowns: Breakdowns,
}

/// What a headline scan adds to rollups, worked out once for both that it is added to (its
/// code's and its team's): the visitor key is a SHA-256, a referrer's host is parsed, and each
/// value is interned.
pub struct Counted {
    day: i64,
    visitor: [u8; 16],
    bucket: i64,
    values: [Ustr; Dimension::ALL.len()],
}

impl Counted {
    /// `event`, a headline scan on `day` (a date in its team's zone).
    pub fn of(event: &ScanEvent, day: i64, interner: &mut Interner) -> Self {
        Counted {
            day,
            visitor: visitor_key(&event.ip_address, &event.user_agent),
            bucket: bucket_start(event.scan_time),
            values: std::array::from_fn(|i| interner.intern_in(i, &Dimension::ALL[i].value(event))),
        }
    }
}

impl Rollups {
    /// Counts a headline scan.
    pub fn add(&mut self, scan: &Counted) {
        *entry(&mut self.days, scan.day) += 1;
        entry(&mut self.visitors, scan.day).add(&scan.visitor);
        let bucket = scan.bucket;
        let newest = self.buckets.last().map_or(bucket, |(b, _)| bucket.max(*b));
        if bucket > newest - BUCKETS_KEPT_MS {
            *entry(&mut self.buckets, bucket) += 1;
            let old = self
                .buckets
                .partition_point(|(b, _)| *b <= newest - BUCKETS_KEPT_MS);
            self.buckets.drain(..old);
        }
        self.breakdowns.add_all(&scan.values);
    }

    /// Starts loading what counting `scan` touches: the newest day, its visitors, the newest
    /// bucket (scans mostly come in time order) and the slots of its breakdown values.
    pub fn prefetch(&self, scan: &Counted) {
        prefetch_last(&self.days);
        prefetch_last(&self.visitors);
        prefetch_last(&self.buckets);
        self.breakdowns.prefetch(&scan.values);
    }

    /// Starts loading the newest day's visitors, whose place `prefetch` asked for: a step later,
    /// as it is behind that place.
    pub fn prefetch_visitors(&self, scan: &Counted) {
        if let Some((_, sketch)) = self.visitors.last() {
            sketch.prefetch(&scan.visitor);
        }
    }

    /// Adds `other`'s counts into these (a team's rollups built from its codes' once): the same
    /// as if its scans had been added here, buckets past the kept window dropped alike.
    pub fn merge(&mut self, other: &Rollups) {
        for &(day, scans) in &other.days {
            *entry(&mut self.days, day) += scans;
        }
        for (day, sketch) in &other.visitors {
            entry(&mut self.visitors, *day).merge(sketch);
        }
        for &(bucket, scans) in &other.buckets {
            *entry(&mut self.buckets, bucket) += scans;
        }
        if let Some(&(newest, _)) = self.buckets.last() {
            let old = self
                .buckets
                .partition_point(|(b, _)| *b <= newest - BUCKETS_KEPT_MS);
            self.buckets.drain(..old);
        }
        self.breakdowns.merge(&other.breakdowns);
    }

    /// Headline scans on `day`.
    pub fn on(&self, day: i64) -> u64 {
        find(&self.days, day).copied().unwrap_or(0)
    }

    /// Adds this code's days `first..=last` into `days` (one entry per day, oldest first) and its
    /// visitors into `visitors` (one sketch per day, merged across codes).
    pub fn add_days(&self, days: &mut [DayCounts], visitors: &mut [VisitorSketch]) {
        let Some(first) = days.first().map(|d| d.day) else {
            return;
        };
        let last = first + days.len() as i64 - 1;
        let from = self.days.partition_point(|(d, _)| *d < first);
        for &(day, scans) in self.days[from..].iter().take_while(|(d, _)| *d <= last) {
            days[(day - first) as usize].scans += scans;
        }
        let from = self.visitors.partition_point(|(d, _)| *d < first);
        for (day, sketch) in self.visitors[from..].iter().take_while(|(d, _)| *d <= last) {
            visitors[(day - first) as usize].merge(sketch);
        }
    }

    /// The non-empty buckets that start in `[start, end]`.
    pub fn buckets(&self, start: i64, end: i64) -> impl Iterator<Item = (i64, u64)> + '_ {
        let from = self.buckets.partition_point(|(b, _)| *b < start);
        self.buckets[from..]
            .iter()
            .take_while(move |(b, _)| *b <= end)
            .copied()
    }

    /// The counts per value of `dimension`.
    pub fn breakdown(&self, dimension: Dimension) -> impl Iterator<Item = (String, u64)> + '_ {
        let index = Dimension::ALL
            .iter()
            .position(|d| *d == dimension)
            .expect("every dimension is in Dimension::ALL");
        self.breakdowns
            .of(index)
            .map(|(value, n)| (value.to_string(), n))
    }
}

/// The value at `key` of a vector sorted by key, inserted as the default when missing.
fn entry<V: Default>(sorted: &mut Vec<(i64, V)>, key: i64) -> &mut V {
    // Scans mostly come in time order: the newest entry is the usual one.
    let i = match sorted.last() {
        Some((last, _)) if *last == key => sorted.len() - 1,
        _ => match sorted.binary_search_by_key(&key, |(k, _)| *k) {
            Ok(i) => i,
            Err(i) => {
                sorted.insert(i, (key, V::default()));
                i
            }
        },
    };
    &mut sorted[i].1
}

fn find<V>(sorted: &[(i64, V)], key: i64) -> Option<&V> {
    let i = sorted.binary_search_by_key(&key, |(k, _)| *k).ok()?;
    Some(&sorted[i].1)
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::aggregate::embedded::breakdowns::Interner;
    use crate::aggregate::rollup::BUCKET_MS;

    fn scan(time: i64, ip: &str, country: &str) -> ScanEvent {
        ScanEvent {
            device: "mobile".into(),
            country: country.into(),
            ip_address: ip.into(),
            user_agent: "ua".into(),
            ..ScanEvent::test_scan("qr", time)
        }
    }

    #[test]
    fn days_visitors_buckets_and_breakdowns_move_with_each_scan() {
        let mut r = Rollups::default();
        let t = 20_000 * MS_PER_DAY;
        r.add(&Counted::of(
            &scan(t, "1.1.1.1", "DE"),
            20_000,
            &mut Interner::default(),
        ));
        r.add(&Counted::of(
            &scan(t + 1, "1.1.1.1", "DE"),
            20_000,
            &mut Interner::default(),
        ));
        r.add(&Counted::of(
            &scan(t + BUCKET_MS, "2.2.2.2", "FR"),
            20_000,
            &mut Interner::default(),
        ));
        r.add(&Counted::of(
            &scan(t - MS_PER_DAY, "2.2.2.2", "FR"),
            19_999,
            &mut Interner::default(),
        ));
        let mut days = vec![DayCounts::default(); 3];
        (0..3).for_each(|i| days[i].day = 19_999 + i as i64);
        let mut visitors = vec![VisitorSketch::default(); 3];
        r.add_days(&mut days, &mut visitors);
        let scans: Vec<u64> = days.iter().map(|d| d.scans).collect();
        let unique: Vec<u64> = visitors.iter().map(VisitorSketch::count).collect();
        assert_eq!((scans, unique), (vec![1, 3, 0], vec![1, 2, 0]));
        // The day-old bucket is within the kept window; one older than it is not stored.
        let buckets: Vec<_> = r.buckets(t - MS_PER_DAY, t + MS_PER_DAY).collect();
        assert_eq!(
            buckets,
            vec![(t - MS_PER_DAY, 1), (t, 2), (t + BUCKET_MS, 1)]
        );
        r.add(&Counted::of(
            &scan(t - 4 * MS_PER_DAY, "3.3.3.3", "DE"),
            19_996,
            &mut Interner::default(),
        ));
        assert_eq!(r.buckets(i64::MIN, i64::MAX).count(), 3);
        let mut countries: Vec<_> = r.breakdown(Dimension::Country).collect();
        countries.sort();
        assert_eq!(countries, vec![("DE".into(), 3), ("FR".into(), 2)]);
    }
}
