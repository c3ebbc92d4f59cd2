//! Wall-clock helpers: epoch milliseconds on the wire, UTC day numbers for rollups.

use std::time::{SystemTime, UNIX_EPOCH};

pub const MS_PER_DAY: i64 = 86_400_000;

/// Milliseconds since the Unix epoch.
pub fn now_ms() -> i64 {
    SystemTime::now()
        .duration_since(UNIX_EPOCH)
        .map(|d| d.as_millis() as i64)
        .unwrap_or(0)
}

/// The UTC day (days since 1970-01-01) that contains `ms`.
pub fn utc_day(ms: i64) -> i64 {
    ms.div_euclid(MS_PER_DAY)
}

/// A day number as the reference API writes dates: `M/D/YYYY` ("1/14/2026").
pub fn format_day(day: i64) -> String {
    use chrono::{Datelike, NaiveDate};
    let date =
        NaiveDate::from_num_days_from_ce_opt((day + 719_163) as i32).unwrap_or(NaiveDate::MIN);
    format!("{}/{}/{}", date.month(), date.day(), date.year())
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn days_start_at_utc_midnight() {
        // 2026-01-14T00:00:00Z and one millisecond before it.
        let midnight = 1_768_348_800_000;
        assert_eq!(utc_day(midnight), utc_day(midnight - 1) + 1);
        assert_eq!(format_day(utc_day(midnight)), "1/14/2026");
        assert_eq!(format_day(utc_day(midnight - 1)), "1/13/2026");
        assert_eq!(format_day(0), "1/1/1970");
    }
}
