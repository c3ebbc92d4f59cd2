//! The day a scan counts on, in its team's zone, for every scan an aggregator counts. Working the
//! date out through the zone's rules was about 1% of a loaded edge's core, and a batch's scans
//! mostly fall in the same UTC hour of a few zones: the day is remembered per zone for the hour.

use chrono::{DateTime, Offset};
use chrono_tz::Tz;

use super::rollup::{day_number, local_date};

const MS_PER_HOUR: i64 = 3_600_000;
/// How many zones are remembered at once (by the zone's index: zones that share a slot take
/// turns, and are still answered right).
const SLOTS: usize = 16;

/// The local day (`rollup::day_number`) of scan times, remembered per zone for a UTC hour.
#[derive(Debug, Default, Clone)]
pub struct LocalDays {
    /// (zone, UTC hour, the day every instant of that hour falls on in the zone).
    known: [Option<(Tz, i64, i64)>; SLOTS],
}

impl LocalDays {
    /// The day number of the date a team in `zone` sees `ms` on: `day_number(local_date(..))`.
    pub fn of(&mut self, ms: i64, zone: Tz) -> i64 {
        let hour = ms.div_euclid(MS_PER_HOUR);
        let slot = &mut self.known[zone as usize % SLOTS];
        match *slot {
            Some((z, h, day)) if z == zone && h == hour => day,
            _ => {
                if let Some(day) = whole_hour_day(hour, zone) {
                    *slot = Some((zone, hour, day));
                    return day;
                }
                day_number(local_date(ms, zone))
            }
        }
    }
}

/// The day every instant of UTC hour `hour` falls on in `zone`, when that is one day: the
/// hour's first and last millisecond have the same offset and the same date. No zone changes its
/// offset twice within an hour, so one offset at both ends is one offset throughout, and the
/// local time only moves forward in it. None where the zone's midnight or a change of its
/// offset falls inside the hour (offsets of 30 and 45 minutes put midnight mid-hour).
fn whole_hour_day(hour: i64, zone: Tz) -> Option<i64> {
    let first = DateTime::from_timestamp_millis(hour.checked_mul(MS_PER_HOUR)?)?;
    let last = DateTime::from_timestamp_millis(hour.checked_mul(MS_PER_HOUR)? + MS_PER_HOUR - 1)?;
    let (first, last) = (first.with_timezone(&zone), last.with_timezone(&zone));
    let same_offset = first.offset().fix() == last.offset().fix();
    (same_offset && first.date_naive() == last.date_naive()).then(|| day_number(first.date_naive()))
}

#[cfg(test)]
mod tests {
    use super::*;

    /// Every minute's day, and the last millisecond of each, from `start` for `hours`, against the
    /// zone's rules read afresh.
    fn agrees_with_the_rules(zone: Tz, start: i64, hours: i64) {
        let mut days = LocalDays::default();
        for minute in 0..hours * 60 {
            for ms in [start + minute * 60_000, start + minute * 60_000 + 59_999] {
                let expected = day_number(local_date(ms, zone));
                assert_eq!(days.of(ms, zone), expected, "{zone} at {ms}");
            }
        }
    }

    #[test]
    fn days_around_midnight_are_the_zones() {
        // 2026-12-03T00:00Z, three days on, in zones of whole, half and three-quarter hours.
        let start = 1_796_256_000_000;
        for zone in [
            Tz::Pacific__Kiritimati,
            Tz::America__New_York,
            Tz::Asia__Kolkata,
            Tz::Asia__Kathmandu,
            Tz::Australia__Eucla,
            Tz::UTC,
        ] {
            agrees_with_the_rules(zone, start, 72);
        }
    }

    #[test]
    fn days_across_a_change_of_offset_are_the_zones() {
        // Changes of offset next to midnight, six hours either side: Santiago goes back from
        // 24:00 to 23:00 (2026-04-05T03:00Z) and forward from 24:00 to 01:00
        // (2026-09-06T04:00Z); Beirut goes back from 24:00 to 23:00 (2026-10-24T21:00Z); Havana
        // from 01:00 to 00:00 (2026-11-01T05:00Z); New York from 02:00 to 01:00.
        for (zone, change) in [
            (Tz::America__Santiago, 1_775_358_000_000),
            (Tz::America__Santiago, 1_788_667_200_000),
            (Tz::Asia__Beirut, 1_792_875_600_000),
            (Tz::America__Havana, 1_793_509_200_000),
            (Tz::America__New_York, 1_793_512_800_000),
        ] {
            agrees_with_the_rules(zone, change - 6 * MS_PER_HOUR, 12);
        }
    }

    #[test]
    fn an_hour_with_a_change_of_offset_is_not_remembered() {
        // Lord Howe goes from 02:00 (+10:30) to 02:30 (+11) at 2026-10-03T15:30Z: one date, two
        // offsets in the hour.
        let hour = 1_791_041_400_000 / MS_PER_HOUR;
        assert_eq!(whole_hour_day(hour, Tz::Australia__Lord_Howe), None);
        assert!(whole_hour_day(hour + 1, Tz::Australia__Lord_Howe).is_some());
    }

    #[test]
    fn zones_that_share_a_slot_are_each_answered_right() {
        let first = Tz::Pacific__Kiritimati;
        let second = *chrono_tz::TZ_VARIANTS
            .iter()
            .find(|z| **z != first && **z as usize % SLOTS == first as usize % SLOTS)
            .expect("more zones than slots");
        let start = 1_796_256_000_000;
        let mut days = LocalDays::default();
        for i in 0..4 * 24 * 60 {
            let zone = [first, second][i as usize % 2];
            let ms = start + i * 30_000;
            assert_eq!(
                days.of(ms, zone),
                day_number(local_date(ms, zone)),
                "{zone}"
            );
        }
    }
}
