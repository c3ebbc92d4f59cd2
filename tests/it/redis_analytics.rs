//! The production aggregator's Redis storage against a real redis-server (scripts/test.sh starts
//! one and exports QREDGE_TEST_REDIS_URL). Each test uses its own key prefix, so they run in
//! parallel on one server.

use std::collections::HashMap;
use std::time::{Duration, Instant};

use chrono::{TimeDelta, TimeZone};
use chrono_tz::Tz;
use qredge::aggregate::contract::{Codes, EventsOf};
use qredge::aggregate::rollup::{bucket_start, day_number, local_date, BUCKET_MS};
use qredge::aggregate::{Dimension, RedisAnalytics};
use qredge::clock::{format_day, now_ms, utc_day, MS_PER_DAY};
use qredge::model::{Qr, ScanEvent};

use crate::support::topology::delete_redis_keys;

const TOPIC: &str = "scans";
const GROUP: &str = "aggregator";
const HOUR: i64 = 3_600_000;

fn redis_url() -> String {
    std::env::var("QREDGE_TEST_REDIS_URL").unwrap_or_else(|_| {
        panic!(
            "QREDGE_TEST_REDIS_URL is not set: run the tests through scripts/test.sh, \
             which starts a redis-server and exports it"
        )
    })
}

fn fresh_prefix() -> String {
    format!(
        "qredge-test:{}:",
        qredge::ids::random_alphanumeric(12).to_lowercase()
    )
}

async fn connect(prefix: &str, retention_days: u32) -> RedisAnalytics {
    RedisAnalytics::connect(&redis_url(), prefix, retention_days)
        .await
        .expect("connect to the test redis")
}

async fn analytics() -> RedisAnalytics {
    connect(&fresh_prefix(), 30).await
}

fn ids(id: &str) -> Vec<String> {
    vec![id.to_owned()]
}

/// The unique visitors of one code on one date.
async fn unique_visitors(a: &RedisAnalytics, id: &str, date: chrono::NaiveDate) -> u64 {
    let day = day_number(date);
    a.days(Codes::These(&ids(id)), day, day).await.unwrap()[0].unique_visitors
}

fn utc(_team: &str) -> Tz {
    chrono_tz::UTC
}

fn event(id: &str, qr: &str, time: i64) -> ScanEvent {
    ScanEvent {
        event_id: id.into(),
        qr_id: qr.into(),
        team_id: "team_utc".into(),
        display_id: "d".into(),
        scan_time: time,
        device: "mobile".into(),
        browser: "Safari".into(),
        os: "iOS".into(),
        country: "DE".into(),
        city: "Berlin".into(),
        ip_address: "192.0.2.1".into(),
        referrer: "".into(),
        user_agent: "Mozilla/5.0 (iPhone)".into(),
        bot: false,
        head: false,
        orphan: false,
    }
}

/// `(partition, offset, event)` with consecutive offsets from `first`.
fn on_partition(partition: i32, first: i64, events: Vec<ScanEvent>) -> Vec<(i32, i64, ScanEvent)> {
    events
        .into_iter()
        .zip(first..)
        .map(|(e, offset)| (partition, offset, e))
        .collect()
}

/// Yesterday noon UTC: inside retention, and far from a day boundary.
fn yesterday_noon() -> i64 {
    (utc_day(now_ms()) - 1) * MS_PER_DAY + 12 * HOUR
}

#[tokio::test]
async fn today_and_yesterday_follow_the_team_time_zone() {
    let a = analytics().await;
    let ny = chrono_tz::America::New_York;
    let today = local_date(now_ms(), ny);
    let at = |date: chrono::NaiveDate, h: u32, m: u32| {
        ny.from_local_datetime(&date.and_hms_opt(h, m, 0).unwrap())
            .unwrap()
            .timestamp_millis()
    };
    let late_yesterday = at(today - TimeDelta::days(1), 23, 30);
    let early_today = at(today, 0, 30);
    let noon = at(today, 12, 0);
    // The same two instants for a team in New York and a team on UTC.
    let mut batch = vec![
        event("ny-1", "qr_ny", late_yesterday),
        event("ny-2", "qr_ny", early_today),
        event("utc-1", "qr_utc", late_yesterday),
        event("utc-2", "qr_utc", early_today),
    ];
    for e in &mut batch[..2] {
        e.team_id = "team_ny".into();
    }
    let zones = |team: &str| {
        if team == "team_ny" {
            ny
        } else {
            chrono_tz::UTC
        }
    };
    let applied = a
        .apply(TOPIC, GROUP, &on_partition(0, 0, batch), &zones)
        .await
        .unwrap();
    assert_eq!(applied, 4);

    let o = a.overview("qr_ny", noon, ny).await.unwrap();
    assert_eq!(
        (o.total_scans, o.today_scans, o.yesterday_scans, o.bot_scans),
        (2, 1, 1, 0),
        "23:30 yesterday in New York is yesterday there, though it is today in UTC"
    );
    assert_eq!(o.last_scan_time, Some(early_today));
    assert_eq!(
        format_day(o.today),
        format!("{}", today.format("%-m/%-d/%Y"))
    );
    // New York is 4 or 5 hours behind: both instants fall on one UTC day.
    let o = a.overview("qr_utc", noon, chrono_tz::UTC).await.unwrap();
    assert_eq!((o.total_scans, o.today_scans, o.yesterday_scans), (2, 2, 0));
    // A day later, today's scan is yesterday's.
    let o = a.overview("qr_ny", noon + 24 * HOUR, ny).await.unwrap();
    assert_eq!((o.today_scans, o.yesterday_scans), (0, 1));
    let none = a.overview("qr_none", noon, ny).await.unwrap();
    assert_eq!((none.total_scans, none.last_scan_time), (0, None));
}

#[tokio::test]
async fn replaying_a_batch_counts_nothing() {
    let a = analytics().await;
    let t = yesterday_noon();
    let batch = on_partition(
        3,
        100,
        (0..10)
            .map(|i| event(&format!("e{i}"), "qr_a", t + i))
            .collect(),
    );
    assert_eq!(a.apply(TOPIC, GROUP, &batch, &utc).await.unwrap(), 10);
    assert_eq!(a.apply(TOPIC, GROUP, &batch, &utc).await.unwrap(), 0);
    assert_eq!(
        a.overview("qr_a", t, chrono_tz::UTC)
            .await
            .unwrap()
            .total_scans,
        10
    );
    assert_eq!(a.events("qr_a", 0, i64::MAX, 100).await.unwrap().len(), 10);
    assert_eq!(
        a.committed_offsets(TOPIC, GROUP).await.unwrap(),
        HashMap::from([(3, 109)])
    );
    assert!(a
        .committed_offsets(TOPIC, "other-group")
        .await
        .unwrap()
        .is_empty());
}

#[tokio::test]
async fn a_duplicate_on_the_topic_at_a_higher_offset_counts_nothing() {
    let a = analytics().await;
    let t = yesterday_noon();
    let first = event("e1", "qr_a", t);
    assert_eq!(
        a.apply(TOPIC, GROUP, &[(0, 0, first.clone())], &utc)
            .await
            .unwrap(),
        1
    );
    // A producer retry put e1 on the topic again; also two copies within one batch.
    let batch = on_partition(
        0,
        1,
        vec![
            first.clone(),
            event("e2", "qr_a", t + 1),
            event("e2", "qr_a", t + 1),
        ],
    );
    assert_eq!(a.apply(TOPIC, GROUP, &batch, &utc).await.unwrap(), 1);
    let o = a.overview("qr_a", t, chrono_tz::UTC).await.unwrap();
    assert_eq!(o.total_scans, 2);
    assert_eq!(a.events("qr_a", 0, i64::MAX, 10).await.unwrap().len(), 2);
    assert_eq!(a.committed_offsets(TOPIC, GROUP).await.unwrap()[&0], 3);
}

#[tokio::test]
async fn a_batch_partly_at_or_below_the_stored_offset_applies_only_the_new_part() {
    let a = analytics().await;
    let t = yesterday_noon();
    let mut first = on_partition(
        0,
        0,
        (0..5)
            .map(|i| event(&format!("p0-{i}"), "qr_a", t))
            .collect(),
    );
    first.extend(on_partition(
        1,
        0,
        (0..3)
            .map(|i| event(&format!("p1-{i}"), "qr_a", t))
            .collect(),
    ));
    assert_eq!(a.apply(TOPIC, GROUP, &first, &utc).await.unwrap(), 8);

    // Offsets 3..=7 of partition 0 and 0, 3 of partition 1; the ids are new, so only the offsets
    // can tell that 3, 4 (partition 0) and 0 (partition 1) were applied already.
    let mut second = on_partition(
        0,
        3,
        (3..8)
            .map(|i| event(&format!("again-p0-{i}"), "qr_a", t))
            .collect(),
    );
    second.push((1, 0, event("again-p1-0", "qr_a", t)));
    second.push((1, 3, event("p1-3", "qr_a", t)));
    assert_eq!(a.apply(TOPIC, GROUP, &second, &utc).await.unwrap(), 4);
    assert_eq!(
        a.overview("qr_a", t, chrono_tz::UTC)
            .await
            .unwrap()
            .total_scans,
        12
    );
    let ids: Vec<String> = a
        .events("qr_a", t, t, 100)
        .await
        .unwrap()
        .into_iter()
        .map(|e| e.event_id.to_string())
        .collect();
    assert!(!ids.contains(&"again-p0-3".to_string()) && !ids.contains(&"again-p1-0".to_string()));
    assert!(ids.contains(&"again-p0-7".to_string()) && ids.contains(&"p1-3".to_string()));
    assert_eq!(
        a.committed_offsets(TOPIC, GROUP).await.unwrap(),
        HashMap::from([(0, 7), (1, 3)])
    );
    // Offsets are per (topic, group): another group starts from nothing, and its offsets move
    // even when every event in its batch was applied already (by id).
    assert_eq!(a.apply(TOPIC, "g2", &first, &utc).await.unwrap(), 0);
    assert_eq!(
        a.committed_offsets(TOPIC, "g2").await.unwrap(),
        HashMap::from([(0, 4), (1, 2)])
    );
}

#[tokio::test]
async fn bots_are_kept_in_the_events_but_out_of_the_counts() {
    let a = analytics().await;
    let t = yesterday_noon();
    let mut bot = event("bot", "qr_a", t + 10);
    bot.bot = true;
    bot.device = "bot".into();
    bot.browser = "Googlebot".into();
    bot.ip_address = "198.51.100.9".into();
    let batch = on_partition(
        0,
        0,
        vec![event("h1", "qr_a", t), event("h2", "qr_a", t + 5), bot],
    );
    assert_eq!(a.apply(TOPIC, GROUP, &batch, &utc).await.unwrap(), 3);

    let o = a.overview("qr_a", t, chrono_tz::UTC).await.unwrap();
    assert_eq!(
        (o.total_scans, o.today_scans, o.bot_scans, o.last_scan_time),
        (2, 2, 1, Some(t + 10))
    );
    let events = a.events("qr_a", 0, i64::MAX, 10).await.unwrap();
    assert_eq!(events.len(), 3);
    assert!(events[0].bot && events[0].event_id == "bot");
    assert_eq!(
        a.breakdown(Codes::These(&ids("qr_a")), Dimension::Device)
            .await
            .unwrap(),
        vec![("mobile".to_string(), 2)]
    );
    assert_eq!(
        a.buckets(Codes::These(&ids("qr_a")), t - HOUR, t + HOUR)
            .await
            .unwrap(),
        vec![(bucket_start(t), 2)]
    );
    assert_eq!(
        unique_visitors(&a, "qr_a", local_date(t, chrono_tz::UTC)).await,
        1
    );
}

#[tokio::test]
async fn five_minute_buckets_and_unique_visitors() {
    let a = analytics().await;
    let b = bucket_start(yesterday_noon());
    let mut v2 = event("s3", "qr_a", b + BUCKET_MS + 1);
    v2.ip_address = "203.0.113.7".into();
    // Two visitors, three scans: the first visitor scans twice in one bucket.
    let batch = on_partition(
        0,
        0,
        vec![
            event("s1", "qr_a", b),
            event("s2", "qr_a", b + BUCKET_MS - 1),
            v2,
        ],
    );
    a.apply(TOPIC, GROUP, &batch, &utc).await.unwrap();
    assert_eq!(
        a.buckets(Codes::These(&ids("qr_a")), b - HOUR, b + HOUR)
            .await
            .unwrap(),
        vec![(b, 2), (b + BUCKET_MS, 1)]
    );
    // A range starting inside a bucket includes it; the end is inclusive.
    assert_eq!(
        a.buckets(Codes::These(&ids("qr_a")), b + 1, b + BUCKET_MS)
            .await
            .unwrap(),
        vec![(b, 2), (b + BUCKET_MS, 1)]
    );
    assert_eq!(
        a.buckets(Codes::These(&ids("qr_a")), b + BUCKET_MS, b + HOUR)
            .await
            .unwrap(),
        vec![(b + BUCKET_MS, 1)]
    );
    let day = local_date(b, chrono_tz::UTC);
    assert_eq!(unique_visitors(&a, "qr_a", day).await, 2);
    assert_eq!(
        unique_visitors(&a, "qr_a", day.pred_opt().unwrap()).await,
        0
    );
    // Scans on a later batch by a known visitor do not add a unique.
    a.apply(TOPIC, GROUP, &[(0, 3, event("s4", "qr_a", b + 2))], &utc)
        .await
        .unwrap();
    assert_eq!(unique_visitors(&a, "qr_a", day).await, 2);
    assert_eq!(
        a.buckets(Codes::These(&ids("qr_a")), b, b).await.unwrap(),
        vec![(b, 3)]
    );
}

#[tokio::test]
async fn breakdowns_come_most_first() {
    let a = analytics().await;
    let t = yesterday_noon();
    let mut events = Vec::new();
    for (i, (country, referrer)) in [
        ("DE", "https://www.google.com/search?q=qr"),
        ("DE", "https://www.google.com/search?q=other"),
        ("DE", ""),
        ("US", "android-app://com.slack"),
        ("", "https://news.example.org/a"),
    ]
    .into_iter()
    .enumerate()
    {
        let mut e = event(&format!("e{i}"), "qr_a", t);
        e.country = country.into();
        e.referrer = referrer.into();
        events.push(e);
    }
    let mut bot = event("bot", "qr_a", t);
    bot.bot = true;
    bot.country = "US".into();
    events.push(bot);
    a.apply(TOPIC, GROUP, &on_partition(0, 0, events), &utc)
        .await
        .unwrap();
    let owned = |v: &[(&str, u64)]| -> Vec<(String, u64)> {
        v.iter().map(|(k, n)| (k.to_string(), *n)).collect()
    };
    assert_eq!(
        a.breakdown(Codes::These(&ids("qr_a")), Dimension::Country)
            .await
            .unwrap(),
        owned(&[("DE", 3), ("", 1), ("US", 1)])
    );
    assert_eq!(
        a.breakdown(Codes::These(&ids("qr_a")), Dimension::Referrer)
            .await
            .unwrap(),
        owned(&[
            ("www.google.com", 2),
            ("", 1),
            ("com.slack", 1),
            ("news.example.org", 1)
        ])
    );
    for (dimension, value) in [
        (Dimension::City, "Berlin"),
        (Dimension::Device, "mobile"),
        (Dimension::Browser, "Safari"),
        (Dimension::Os, "iOS"),
    ] {
        assert_eq!(
            a.breakdown(Codes::These(&ids("qr_a")), dimension)
                .await
                .unwrap(),
            owned(&[(value, 5)])
        );
    }
    assert!(a
        .breakdown(Codes::These(&ids("qr_none")), Dimension::Os)
        .await
        .unwrap()
        .is_empty());
}

#[tokio::test]
async fn events_come_newest_first_within_an_inclusive_range() {
    let a = analytics().await;
    let t = yesterday_noon();
    let mut batch: Vec<ScanEvent> = (0..5)
        .map(|i| event(&format!("a{i}"), "qr_a", t + i))
        .collect();
    batch.push(event("b", "qr_b", t + 2));
    a.apply(TOPIC, GROUP, &on_partition(0, 0, batch.clone()), &utc)
        .await
        .unwrap();
    let got = a.events("qr_a", t + 1, t + 3, 10).await.unwrap();
    assert_eq!(
        got.iter().map(|e| e.scan_time).collect::<Vec<_>>(),
        vec![t + 3, t + 2, t + 1]
    );
    assert_eq!(got[0], batch[3], "the event comes back exactly as applied");
    assert_eq!(a.events("qr_a", 0, i64::MAX, 2).await.unwrap().len(), 2);
    assert!(a.events("qr_a", t + 3, t + 1, 10).await.unwrap().is_empty());
    assert!(a.events("qr_a", t, t + 10, 0).await.unwrap().is_empty());

    // A corrupt time does not fail the batch (it would hold up the partition forever).
    let odd = vec![
        event("max", "qr_c", i64::MAX),
        event("min", "qr_c", i64::MIN),
    ];
    assert_eq!(
        a.apply(TOPIC, GROUP, &on_partition(0, 6, odd), &utc)
            .await
            .unwrap(),
        2
    );
    assert_eq!(
        a.overview("qr_c", t, chrono_tz::UTC)
            .await
            .unwrap()
            .total_scans,
        2
    );
}

#[tokio::test]
async fn retention_drops_old_events_but_keeps_the_counts() {
    let prefix = fresh_prefix();
    let now = now_ms();
    let long = connect(&prefix, 30).await;
    let old = event("old", "qr_a", now - 3 * MS_PER_DAY);
    long.apply(TOPIC, GROUP, &[(0, 0, old)], &utc)
        .await
        .unwrap();
    assert_eq!(long.events("qr_a", 0, i64::MAX, 10).await.unwrap().len(), 1);

    // With a one-day retention the next batch drops the three-day-old event, and an old event
    // arriving late is counted but not kept.
    let short = connect(&prefix, 1).await;
    let batch = on_partition(
        0,
        1,
        vec![
            event("late", "qr_a", now - 5 * MS_PER_DAY),
            event("recent", "qr_a", now - HOUR),
        ],
    );
    assert_eq!(short.apply(TOPIC, GROUP, &batch, &utc).await.unwrap(), 2);
    let kept: Vec<String> = short
        .events("qr_a", 0, i64::MAX, 10)
        .await
        .unwrap()
        .into_iter()
        .map(|e| e.event_id.to_string())
        .collect();
    assert_eq!(kept, vec!["recent"]);
    let team_kept = short.events_before(EventsOf::Team("team_utc"), 0, i64::MAX, None, 10);
    let team_kept: Vec<String> = team_kept
        .await
        .unwrap()
        .into_iter()
        .map(|(_, e)| e.event_id.to_string())
        .collect();
    assert_eq!(team_kept, vec!["recent"]);
    // Trimmed alike, not only read without the events their codes lost.
    let mut redis = redis::Client::open(redis_url())
        .unwrap()
        .get_connection()
        .unwrap();
    let listed: usize = redis::cmd("ZCARD")
        .arg(format!("{prefix}team:team_utc:events"))
        .query(&mut redis)
        .unwrap();
    assert_eq!(listed, 1, "the team's list is trimmed alike");
    assert_eq!(
        short
            .overview("qr_a", now, chrono_tz::UTC)
            .await
            .unwrap()
            .total_scans,
        3
    );
    let late_day = local_date(now - 5 * MS_PER_DAY, chrono_tz::UTC);
    assert_eq!(
        unique_visitors(&short, "qr_a", late_day).await,
        0,
        "the late event's day is out of retention: no uniques"
    );
    assert!(short
        .buckets(Codes::These(&ids("qr_a")), now - 6 * MS_PER_DAY, now)
        .await
        .unwrap()
        .iter()
        .all(|(bucket, _)| *bucket > now - 2 * MS_PER_DAY));
    assert!(RedisAnalytics::connect(&redis_url(), &prefix, 0)
        .await
        .is_err());
}

/// Two consumers that both think they own a partition during a rebalance: the old owner applies
/// its in-flight batch while the new owner, started from the stored offset, applies an
/// overlapping one. Whichever runs first, every event counts once.
#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn overlapping_batches_applied_concurrently_count_each_event_once() {
    let prefix = fresh_prefix();
    let old_owner = connect(&prefix, 30).await;
    let new_owner = connect(&prefix, 30).await;
    let t = yesterday_noon();
    let mut expected = 0;
    for partition in 0..8 {
        let qr = format!("qr_{partition}");
        let events: Vec<ScanEvent> = (0..1000)
            .map(|i| event(&format!("{partition}-{i}"), &qr, t + i))
            .collect();
        let all = on_partition(partition, 0, events);
        assert_eq!(
            old_owner
                .apply(TOPIC, GROUP, &all[..300], &utc)
                .await
                .unwrap(),
            300
        );
        let (a, b) = tokio::join!(
            old_owner.apply(TOPIC, GROUP, &all[300..600], &utc),
            new_owner.apply(TOPIC, GROUP, &all[300..], &utc),
        );
        assert_eq!(a.unwrap() + b.unwrap(), 700);
        let o = new_owner.overview(&qr, t, chrono_tz::UTC).await.unwrap();
        assert_eq!(o.total_scans, 1000);
        expected += 1000;
    }
    let offsets = new_owner.committed_offsets(TOPIC, GROUP).await.unwrap();
    assert_eq!(
        offsets,
        (0..8).map(|p| (p, 999)).collect::<HashMap<i32, i64>>()
    );
    assert_eq!(expected, 8000);
}

/// A consumer dies while a batch is on the wire: whether or not Redis ran it, a restarted
/// consumer that seeks to the stored offset + 1 and re-applies ends with each event once.
#[tokio::test]
async fn a_crash_mid_apply_neither_loses_nor_double_counts() {
    let prefix = fresh_prefix();
    let t = yesterday_noon();
    let batch = on_partition(
        0,
        0,
        (0..2000)
            .map(|i| event(&format!("c{i}"), "qr_a", t + i))
            .collect(),
    );
    for (round, cut_after) in [0u64, 1, 5, 20].into_iter().enumerate() {
        let prefix = format!("{prefix}{round}:");
        let crashing = connect(&prefix, 30).await;
        let task = {
            let batch = batch.clone();
            tokio::spawn(async move { crashing.apply(TOPIC, GROUP, &batch, &utc).await })
        };
        tokio::time::sleep(Duration::from_millis(cut_after)).await;
        task.abort();
        let _ = task.await;

        let restarted = connect(&prefix, 30).await;
        let from = restarted
            .committed_offsets(TOPIC, GROUP)
            .await
            .unwrap()
            .get(&0)
            .map_or(0, |o| o + 1);
        let rest: Vec<_> = batch
            .iter()
            .filter(|(_, o, _)| *o >= from)
            .cloned()
            .collect();
        restarted.apply(TOPIC, GROUP, &rest, &utc).await.unwrap();
        // And a replay of everything changes nothing.
        assert_eq!(
            restarted.apply(TOPIC, GROUP, &batch, &utc).await.unwrap(),
            0
        );
        let o = restarted.overview("qr_a", t, chrono_tz::UTC).await.unwrap();
        assert_eq!(
            o.total_scans, 2000,
            "round {round} (resumed at offset {from})"
        );
    }
}

/// Not an assertion on speed (that is for benches and load tests): prints what one aggregator
/// connection applies per second, 100k events in batches of 2000 in two time zones, 10% bots,
/// once over 200 busy codes and once over a long tail of 20 000 codes (about one event per code
/// and batch, the script's worst case: its cost is per code touched).
#[tokio::test]
async fn throughput_of_batches_of_2000() {
    for codes in [200, 20_000] {
        let a = analytics().await;
        let (per_second, elapsed) = apply_100k(&a, codes).await;
        println!(
            "redis aggregator: 100000 events over {codes} codes in batches of 2000: \
             {elapsed:.2?}, {per_second:.0} events/s"
        );
    }
}

async fn apply_100k(a: &RedisAnalytics, codes: i64) -> (f64, Duration) {
    let total: i64 = 100_000;
    let now = now_ms();
    let zones = |team: &str| {
        if team == "team_berlin" {
            chrono_tz::Europe::Berlin
        } else {
            chrono_tz::UTC
        }
    };
    let events: Vec<(i32, i64, ScanEvent)> = (0..total)
        .map(|i| {
            let mut e = event(&format!("{i:032x}"), &format!("qr_{}", i % codes), now - i);
            e.team_id = if i % 2 == 0 {
                "team_berlin"
            } else {
                "team_utc"
            }
            .into();
            e.ip_address = format!("10.0.{}.{}", (i / 256) % 256, i % 256).into();
            e.country = ["DE", "US", "FR", "GB", "JP"][(i % 5) as usize].into();
            e.city = format!("city {}", i % 37).into();
            e.bot = i % 10 == 9;
            ((i % 16) as i32, i / 16, e)
        })
        .collect();
    let started = Instant::now();
    let mut applied = 0;
    for batch in events.chunks(2000) {
        applied += a.apply(TOPIC, GROUP, batch, &zones).await.unwrap();
    }
    let elapsed = started.elapsed();
    assert_eq!(applied, total as usize);
    // Spot-check a hundred codes against the events generated for them.
    for qr in (0..codes).step_by((codes / 100) as usize) {
        let id = format!("qr_{qr}");
        let expected = events
            .iter()
            .filter(|(_, _, e)| e.qr_id == id && !e.bot)
            .count() as u64;
        let o = a.overview(&id, now, chrono_tz::UTC).await.unwrap();
        assert_eq!(o.total_scans, expected, "{id}");
    }
    (total as f64 / elapsed.as_secs_f64(), elapsed)
}

/// Removes every team rollup key under `prefix`: what a Redis counted into before team rollups
/// existed holds (the codes' keys are the same then and now).
fn remove_team_rollups(prefix: &str) {
    let keys = delete_redis_keys(&format!("{prefix}team:*"));
    assert!(!keys.is_empty(), "the batch wrote team rollups");
}

/// A store in `dir` that knows qr_a and qr_b as team t1's codes and qr_c as t2's.
fn store_of_two_teams(dir: &std::path::Path) -> qredge::store::Store {
    let store = qredge::store::EmbeddedStore::open(dir).unwrap();
    for (id, team) in [("qr_a", "t1"), ("qr_b", "t1"), ("qr_c", "t2")] {
        let url = format!("https://{id}.example.com/");
        store.create_qr(&Qr::web(id, team, id, &url)).unwrap();
    }
    qredge::store::Store::from(store)
}

/// The days, today's buckets and the breakdowns of `codes`.
async fn team_wide_reads(
    a: &RedisAnalytics,
    codes: Codes<'_>,
    now: i64,
) -> (
    Vec<(i64, u64, u64)>,
    Vec<(i64, u64)>,
    Vec<Vec<(String, u64)>>,
) {
    let today = utc_day(now);
    let days = a.days(codes, today - 2, today).await.unwrap();
    let buckets = a.buckets(codes, now - 2 * MS_PER_DAY, now).await.unwrap();
    let mut breakdowns = Vec::new();
    for dimension in Dimension::ALL {
        breakdowns.push(a.breakdown(codes, dimension).await.unwrap());
    }
    let days = days.iter().map(|d| (d.day, d.scans, d.unique_visitors));
    (days.collect(), buckets, breakdowns)
}

#[tokio::test]
async fn team_rollups_of_codes_counted_before_them_are_built_once_at_start() {
    let prefix = fresh_prefix();
    let a = connect(&prefix, 30).await;
    let now = now_ms();
    let scan = |n: usize, qr: &str, team: &str| ScanEvent {
        team_id: team.into(),
        ip_address: format!("192.0.2.{}", n % 3).into(),
        country: ["DE", "FR", ""][n % 3].into(),
        ..event(&format!("e{n}"), qr, now - (n as i64 % 4) * 10 * HOUR)
    };
    let mut events: Vec<ScanEvent> = (0..12)
        .map(|n| {
            scan(
                n,
                ["qr_a", "qr_b", "qr_c"][n % 3],
                ["t1", "t1", "t2"][n % 3],
            )
        })
        .collect();
    events.push(ScanEvent {
        orphan: true,
        ..scan(12, "", "t1")
    });
    a.apply(TOPIC, GROUP, &on_partition(0, 0, events), &utc)
        .await
        .unwrap();
    let (t1_codes, t2_codes) = (["qr_a".to_owned(), "qr_b".to_owned()], ids("qr_c"));
    let t1 = team_wide_reads(&a, Codes::These(&t1_codes), now).await;
    let t2 = team_wide_reads(&a, Codes::These(&t2_codes), now).await;
    assert_eq!(team_wide_reads(&a, Codes::Team("t1"), now).await, t1);
    assert_eq!(t1.0.iter().map(|d| d.1).sum::<u64>(), 8);
    remove_team_rollups(&prefix);
    let empty = team_wide_reads(&a, Codes::These(&ids("qr_none")), now).await;
    assert_eq!(team_wide_reads(&a, Codes::Team("t1"), now).await, empty);

    let dir = tempfile::tempdir().unwrap();
    let store = store_of_two_teams(dir.path());
    a.build_team_rollups_once(&store).await.unwrap();
    assert_eq!(team_wide_reads(&a, Codes::Team("t1"), now).await, t1);
    assert_eq!(team_wide_reads(&a, Codes::Team("t2"), now).await, t2);
    // Counted on from there.
    let more = on_partition(0, 13, vec![scan(13, "qr_c", "t2")]);
    a.apply(TOPIC, GROUP, &more, &utc).await.unwrap();
    let after = team_wide_reads(&a, Codes::Team("t2"), now).await;
    assert_eq!(after.0.iter().map(|d| d.1).sum::<u64>(), 5);

    // Built once: a later start finds the marker and builds nothing.
    remove_team_rollups(&prefix);
    a.build_team_rollups_once(&store).await.unwrap();
    assert_eq!(team_wide_reads(&a, Codes::Team("t1"), now).await, empty);

    // A start while another process builds waits for it, and builds nothing after it: its build
    // from the codes it found would write over what the other's aggregator counted meanwhile.
    let mut redis = redis::Client::open(redis_url())
        .unwrap()
        .get_connection()
        .unwrap();
    let (lock, marker) = (
        format!("{prefix}team-totals-building"),
        format!("{prefix}team-totals-built"),
    );
    let _: () = redis::cmd("DEL").arg(&marker).query(&mut redis).unwrap();
    let _: () = redis::cmd("SET")
        .arg(&lock)
        .arg(1)
        .query(&mut redis)
        .unwrap();
    let waiting = {
        let (a, store) = (a.clone(), store.clone());
        tokio::spawn(async move { a.build_team_rollups_once(&store).await })
    };
    tokio::time::sleep(std::time::Duration::from_millis(500)).await;
    assert!(!waiting.is_finished(), "waits while another builds");
    let _: () = redis::cmd("SET")
        .arg(&marker)
        .arg(1)
        .query(&mut redis)
        .unwrap();
    let _: () = redis::cmd("DEL").arg(&lock).query(&mut redis).unwrap();
    waiting.await.unwrap().unwrap();
    assert_eq!(team_wide_reads(&a, Codes::Team("t1"), now).await, empty);
}

#[tokio::test]
async fn team_headline_counts_and_rankings_of_scans_counted_before_them_are_built_once_at_start() {
    let prefix = fresh_prefix();
    let a = connect(&prefix, 30).await;
    let now = now_ms();
    let scan = |n: usize, qr: &str, team: &str| ScanEvent {
        team_id: team.into(),
        bot: n % 4 == 3,
        ..event(&format!("e{n}"), qr, now - n as i64 * HOUR)
    };
    let events: Vec<ScanEvent> = (0..12)
        .map(|n| {
            scan(
                n,
                ["qr_a", "qr_b", "qr_c"][n % 3],
                ["t1", "t1", "t2"][n % 3],
            )
        })
        .collect();
    a.apply(TOPIC, GROUP, &on_partition(0, 0, events), &utc)
        .await
        .unwrap();
    let team_overview = |team: &'static str| {
        let a = a.clone();
        async move { a.team_overview(team, now, Tz::UTC).await.unwrap() }
    };
    let code_overview = |qr: &'static str| {
        let a = a.clone();
        async move { a.overview(qr, now, Tz::UTC).await.unwrap() }
    };
    let (qr_a, qr_b) = (code_overview("qr_a").await, code_overview("qr_b").await);
    let t1 = team_overview("t1").await;
    assert_eq!(
        (
            t1.total_scans,
            t1.bot_scans,
            t1.today_scans,
            t1.last_scan_time
        ),
        (
            qr_a.total_scans + qr_b.total_scans,
            qr_a.bot_scans + qr_b.bot_scans,
            qr_a.today_scans + qr_b.today_scans,
            qr_a.last_scan_time.max(qr_b.last_scan_time),
        )
    );
    assert_eq!(
        (t1.total_scans, t1.bot_scans),
        (6, 2),
        "counted as scans come"
    );
    let t2 = team_overview("t2").await;

    // What the previous version's Redis holds: team rollups without these three fields.
    let mut redis = redis::Client::open(redis_url())
        .unwrap()
        .get_connection()
        .unwrap();
    let top_before = a.top_codes("t1", 10).await.unwrap();
    assert_eq!(top_before, [("qr_a".to_owned(), 3), ("qr_b".to_owned(), 3)]);
    for team in ["t1", "t2"] {
        let key = format!("{prefix}team:{team}:counts");
        let _: () = redis::cmd("HDEL")
            .arg(key)
            .arg(&["total", "bots", "last"][..])
            .query(&mut redis)
            .unwrap();
        let ranking = format!("{prefix}team:{team}:codes");
        let _: () = redis::cmd("DEL").arg(ranking).query(&mut redis).unwrap();
    }
    let _: () = redis::cmd("SET")
        .arg(format!("{prefix}team-totals-built"))
        .arg(1)
        .query(&mut redis)
        .unwrap();
    assert!(a.top_codes("t1", 10).await.unwrap().is_empty());
    let bare = team_overview("t1").await;
    assert_eq!(
        (bare.total_scans, bare.bot_scans, bare.last_scan_time),
        (0, 0, None)
    );

    let dir = tempfile::tempdir().unwrap();
    let store = store_of_two_teams(dir.path());
    a.build_team_rollups_once(&store).await.unwrap();
    assert_eq!(team_overview("t1").await, t1);
    assert_eq!(team_overview("t2").await, t2);
    assert_eq!(a.top_codes("t1", 10).await.unwrap(), top_before);
    // Counted on from there; and built once: a later start writes nothing over it.
    let more = on_partition(0, 12, vec![scan(15, "qr_c", "t2"), scan(16, "qr_c", "t2")]);
    a.apply(TOPIC, GROUP, &more, &utc).await.unwrap();
    let after = team_overview("t2").await;
    assert_eq!(
        (after.total_scans, after.bot_scans),
        (t2.total_scans + 1, t2.bot_scans + 1)
    );
    let key = format!("{prefix}team:t2:counts");
    let _: () = redis::cmd("HSET")
        .arg(key)
        .arg("bots")
        .arg(99)
        .query(&mut redis)
        .unwrap();
    a.build_team_rollups_once(&store).await.unwrap();
    assert_eq!(team_overview("t2").await.bot_scans, 99);
}

/// The ids of a team's list of events, newest first.
async fn team_event_ids(a: &RedisAnalytics, team: &str) -> Vec<String> {
    let page = a.events_before(EventsOf::Team(team), i64::MIN, i64::MAX, None, 100);
    let page = page.await.unwrap();
    page.into_iter()
        .map(|(_, e)| e.event_id.to_string())
        .collect()
}

#[tokio::test]
async fn team_event_lists_of_scans_counted_before_them_are_built_once_at_start() {
    let prefix = fresh_prefix();
    let a = connect(&prefix, 30).await;
    let now = now_ms();
    let scan = |n: usize, qr: &str, team: &str| ScanEvent {
        team_id: team.into(),
        bot: n == 4,
        head: n == 5,
        ..event(&format!("e{n}"), qr, now - n as i64 * HOUR)
    };
    // qr_gone is a code the store no longer knows (deleted).
    let codes = [
        ("qr_a", "t1"),
        ("qr_b", "t1"),
        ("qr_c", "t2"),
        ("qr_gone", "t1"),
    ];
    let events: Vec<ScanEvent> = (1..=8)
        .map(|n| scan(n, codes[n % 4].0, codes[n % 4].1))
        .collect();
    a.apply(TOPIC, GROUP, &on_partition(0, 0, events), &utc)
        .await
        .unwrap();
    let ids = |ns: &[usize]| -> Vec<String> { ns.iter().map(|n| format!("e{n}")).collect() };
    // Newest first, bots and HEAD requests in, as scans come.
    assert_eq!(team_event_ids(&a, "t1").await, ids(&[1, 3, 4, 5, 7, 8]));

    // What the previous version's Redis holds: team rollups and counts, no lists of events.
    let mut redis = redis::Client::open(redis_url())
        .unwrap()
        .get_connection()
        .unwrap();
    for key in ["team:t1:events", "team:t2:events"] {
        let _: () = redis::cmd("DEL")
            .arg(format!("{prefix}{key}"))
            .query(&mut redis)
            .unwrap();
    }
    for marker in ["team-totals-built", "team-counts-built"] {
        let _: () = redis::cmd("SET")
            .arg(format!("{prefix}{marker}"))
            .arg(1)
            .query(&mut redis)
            .unwrap();
    }
    assert!(team_event_ids(&a, "t1").await.is_empty());

    let dir = tempfile::tempdir().unwrap();
    let store = store_of_two_teams(dir.path());
    a.build_team_rollups_once(&store).await.unwrap();
    // From the codes the store knows, each in its team; and expiring as a batch's list does.
    assert_eq!(team_event_ids(&a, "t1").await, ids(&[1, 4, 5, 8]));
    assert_eq!(team_event_ids(&a, "t2").await, ids(&[2, 6]));
    let ttl: i64 = redis::cmd("PTTL")
        .arg(format!("{prefix}team:t1:events"))
        .query(&mut redis)
        .unwrap();
    assert!(ttl > 30 * MS_PER_DAY, "{ttl}");

    // Counted on from there; and built once: a later start writes nothing over it.
    let more = on_partition(0, 8, vec![scan(0, "qr_b", "t1")]);
    a.apply(TOPIC, GROUP, &more, &utc).await.unwrap();
    assert_eq!(team_event_ids(&a, "t1").await, ids(&[0, 1, 4, 5, 8]));
    let _: () = redis::cmd("ZREM")
        .arg(format!("{prefix}team:t1:events"))
        .arg("qr_a e4")
        .query(&mut redis)
        .unwrap();
    a.build_team_rollups_once(&store).await.unwrap();
    assert_eq!(team_event_ids(&a, "t1").await, ids(&[0, 1, 5, 8]));
}
