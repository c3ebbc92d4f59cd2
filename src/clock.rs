//! Wall-clock helpers: epoch milliseconds on the wire, UTC day numbers for rollups, and the test
//! clock that moves this process's "now".

use std::net::SocketAddr;
use std::sync::atomic::{AtomicI64, Ordering};
use std::time::{SystemTime, UNIX_EPOCH};

pub const MS_PER_DAY: i64 = 86_400_000;

/// The environment variable that starts the test clock: the epoch milliseconds "now" is when the
/// process starts; from there it runs at the real clock's pace. Tests use it to put scans on
/// either side of a team's midnight. Not a config key, so that no config file can carry it.
pub const TEST_CLOCK_ENV: &str = "QREDGE_TEST_CLOCK_START_MS";

/// What the test clock adds to the real clock: 0 unless `start_test_clock` set it. One relaxed
/// load per reading, beside the clock read itself.
static OFFSET_MS: AtomicI64 = AtomicI64::new(0);

/// Milliseconds since the Unix epoch, as this process sees them (the test clock included).
pub fn now_ms() -> i64 {
    system_ms() + OFFSET_MS.load(Ordering::Relaxed)
}

fn system_ms() -> i64 {
    SystemTime::now()
        .duration_since(UNIX_EPOCH)
        .map(|d| d.as_millis() as i64)
        .unwrap_or(0)
}

#[derive(Debug, thiserror::Error, PartialEq, Eq)]
pub enum TestClockError {
    #[error("{TEST_CLOCK_ENV} must be epoch milliseconds, not {0:?}")]
    NotANumber(String),
    #[error(
        "{TEST_CLOCK_ENV} is set but {0} listens beyond loopback: the test clock is for tests \
         only (unset it)"
    )]
    NotLoopback(SocketAddr),
}

/// Starts the test clock when `TEST_CLOCK_ENV` is set. It is refused unless every address the
/// process listens on is a loopback one: a deployment reachable from outside cannot run on it.
pub fn start_test_clock(
    value: Option<String>,
    listens: &[SocketAddr],
) -> Result<Option<i64>, TestClockError> {
    let Some(value) = value else {
        return Ok(None);
    };
    let start: i64 = value
        .trim()
        .parse()
        .map_err(|_| TestClockError::NotANumber(value.clone()))?;
    if let Some(open) = listens.iter().find(|addr| !addr.ip().is_loopback()) {
        return Err(TestClockError::NotLoopback(*open));
    }
    OFFSET_MS.store(start - system_ms(), Ordering::Relaxed);
    Ok(Some(start))
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

    #[test]
    fn the_test_clock_is_refused_beyond_loopback_and_for_text() {
        let open: SocketAddr = "0.0.0.0:8080".parse().unwrap();
        let local: SocketAddr = "127.0.0.1:8081".parse().unwrap();
        assert_eq!(start_test_clock(None, &[open]), Ok(None));
        assert_eq!(
            start_test_clock(Some("1".into()), &[local, open]),
            Err(TestClockError::NotLoopback(open))
        );
        assert_eq!(
            start_test_clock(Some("soon".into()), &[local]),
            Err(TestClockError::NotANumber("soon".into()))
        );
        assert_eq!(
            OFFSET_MS.load(Ordering::Relaxed),
            0,
            "nothing refused moved it"
        );
    }
}
