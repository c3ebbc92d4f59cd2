//! Rollup arithmetic, free of storage: the per-event values both stores' rollups are keyed by (a
//! day in the team's zone, a 5-minute bucket, a visitor key, a breakdown value).

use std::borrow::Cow;

use chrono::{DateTime, Datelike, NaiveDate};
use chrono_tz::Tz;
use sha2::{Digest, Sha256};

use super::referrer::referrer_host;
use crate::model::ScanEvent;

/// Headline counts of one code, as the overviews endpoint reports them.
#[derive(Debug, Default, Clone, PartialEq, Eq)]
pub struct Overview {
    pub total_scans: u64,
    pub today_scans: u64,
    pub yesterday_scans: u64,
    pub bot_scans: u64,
    /// The newest scan's time, None before the first scan.
    pub last_scan_time: Option<i64>,
    /// The day "today" refers to (days since 1970-01-01), a date in the team's time zone.
    pub today: i64,
}

/// The width of the live-chart buckets.
pub const BUCKET_MS: i64 = 5 * 60 * 1000;

/// The start of the 5-minute bucket that holds `ms` (buckets are aligned on the epoch, so they
/// are the same in every zone whose offset is a multiple of 5 minutes: all of today's).
pub fn bucket_start(ms: i64) -> i64 {
    ms - ms.rem_euclid(BUCKET_MS)
}

/// The calendar date a team in `zone` sees a scan at `ms` on.
pub fn local_date(ms: i64, zone: Tz) -> NaiveDate {
    DateTime::from_timestamp_millis(ms)
        .unwrap_or_default()
        .with_timezone(&zone)
        .date_naive()
}

/// Days since 1970-01-01 of a calendar date (the inverse of `day_date`).
pub fn day_number(date: NaiveDate) -> i64 {
    i64::from(date.num_days_from_ce()) - 719_163
}

/// The calendar date of a day number; out-of-range numbers clamp to the representable dates.
pub fn day_date(day: i64) -> NaiveDate {
    let ce = (day + 719_163).clamp(i64::from(i32::MIN), i64::from(i32::MAX)) as i32;
    NaiveDate::from_num_days_from_ce_opt(ce).unwrap_or(if day < 0 {
        NaiveDate::MIN
    } else {
        NaiveDate::MAX
    })
}

/// Who counts as the same visitor for unique scans: the client address and user agent, hashed
/// so the HyperLogLog input is short and fixed-size (64 bits is plenty for a probabilistic count).
/// The 16 hex digits of the hash, as ASCII, on the stack: both stores count a visitor under this
/// key, and the embedded one does so for every scan.
pub fn visitor_key(ip: &str, user_agent: &str) -> [u8; 16] {
    let mut hasher = Sha256::new();
    hasher.update(ip.as_bytes());
    hasher.update([0]);
    hasher.update(user_agent.as_bytes());
    let mut key = [0; 16];
    hex::encode_to_slice(&hasher.finalize()[..8], &mut key).expect("8 bytes are 16 hex digits");
    key
}

/// Breakdown values longer than this are cut: they are hash fields, and a hostile client controls
/// some of them.
pub const MAX_DIMENSION_VALUE: usize = 200;

/// What scans are broken down by.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash)]
pub enum Dimension {
    Country,
    City,
    Device,
    Browser,
    Os,
    Referrer,
}

impl Dimension {
    pub const ALL: [Dimension; 6] = [
        Dimension::Country,
        Dimension::City,
        Dimension::Device,
        Dimension::Browser,
        Dimension::Os,
        Dimension::Referrer,
    ];

    /// The name used in storage keys.
    pub fn name(self) -> &'static str {
        match self {
            Dimension::Country => "country",
            Dimension::City => "city",
            Dimension::Device => "device",
            Dimension::Browser => "browser",
            Dimension::Os => "os",
            Dimension::Referrer => "referrer",
        }
    }

    /// The event's value in this dimension; empty when unknown. Referrers count by host: full
    /// URLs (with their query strings) would make one breakdown entry per click.
    pub fn value(self, event: &ScanEvent) -> Cow<'_, str> {
        let raw = match self {
            Dimension::Country => &event.country,
            Dimension::City => &event.city,
            Dimension::Device => &event.device,
            Dimension::Browser => &event.browser,
            Dimension::Os => &event.os,
            Dimension::Referrer => return referrer_host(&event.referrer),
        };
        Cow::Borrowed(truncate(raw))
    }
}

/// `value` cut to at most `MAX_DIMENSION_VALUE` bytes (on a character boundary).
pub(super) fn truncate(value: &str) -> &str {
    if value.len() <= MAX_DIMENSION_VALUE {
        return value;
    }
    let mut end = MAX_DIMENSION_VALUE;
    while !value.is_char_boundary(end) {
        end -= 1;
    }
    &value[..end]
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::clock::utc_day;

    fn event(qr: &str, time: i64, bot: bool) -> ScanEvent {
        ScanEvent {
            event_id: format!("{qr}-{time}").into(),
            device: "mobile".into(),
            ip_address: "127.0.0.1".into(),
            bot,
            ..ScanEvent::test_scan(qr, time)
        }
    }

    #[test]
    fn local_dates_follow_the_zone() {
        // 2026-01-14T04:30:00Z is 23:30 on the 13th in New York and 05:30 on the 14th in Berlin.
        let ms = 1_768_365_000_000;
        let ny = local_date(ms, chrono_tz::America::New_York);
        assert_eq!(ny.to_string(), "2026-01-13");
        assert_eq!(
            local_date(ms, chrono_tz::Europe::Berlin).to_string(),
            "2026-01-14"
        );
        assert_eq!(local_date(ms, chrono_tz::UTC).to_string(), "2026-01-14");
        assert_eq!(day_date(day_number(ny)), ny);
        assert_eq!(day_number(local_date(ms, chrono_tz::UTC)), utc_day(ms));
    }

    #[test]
    fn buckets_are_five_minutes_on_the_epoch() {
        assert_eq!(bucket_start(0), 0);
        assert_eq!(bucket_start(BUCKET_MS - 1), 0);
        assert_eq!(bucket_start(BUCKET_MS), BUCKET_MS);
        assert_eq!(bucket_start(-1), -BUCKET_MS);
    }

    #[test]
    fn dimension_values_are_bounded_and_referrers_count_by_host() {
        let mut e = event("a", 1, false);
        e.referrer = "https://WWW.Example.com/path?q=1".into();
        assert_eq!(Dimension::Referrer.value(&e), "www.example.com");
        e.referrer = "not a url".into();
        assert_eq!(Dimension::Referrer.value(&e), "not a url");
        e.city = "é".repeat(150).into();
        let city = Dimension::City.value(&e);
        assert!(city.len() <= MAX_DIMENSION_VALUE && city.chars().all(|c| c == 'é'));
        assert_eq!(Dimension::Device.value(&e), "mobile");
        assert_eq!(visitor_key("1.2.3.4", "ua").len(), 16);
        assert_ne!(visitor_key("1.2.3.4", "ua"), visitor_key("1.2.3.40", "ua"));
        assert_ne!(visitor_key("1.2.3.4", "x"), visitor_key("1.2.3.4x", ""));
    }
}
