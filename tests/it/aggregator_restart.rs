//! Takeover after an aggregator crashes, whatever the timing: the only aggregator killed and
//! restarted at once (several times in a row, as a supervisor does) or a few seconds later takes
//! its partitions back, and of two aggregators the one left takes the partitions of the one
//! killed. Scans keep flowing throughout, and the counts end exact: nothing lost, nothing
//! counted twice. The production topology in separate processes on the services scripts/test.sh
//! starts (a real Redis, the tansu Kafka-protocol broker).

use std::time::{Duration, Instant};

use redis::Commands;
use reqwest::Method;
use serde_json::json;

use crate::support::topology::{ScanStream, Topology};
use crate::support::Server;

/// Between two scans of a stream.
const PAUSE: Duration = Duration::from_millis(5);
/// How long the counts may take to become exact after the last crash. Well under the 80 s a
/// restarted aggregator used to sit idle; the slowest path (partitions left behind by the
/// coordinator, found by the watchdog after a session timeout of 10 s) takes about 20 s.
const TAKEOVER: Duration = Duration::from_secs(45);

/// Creates WEB codes with these displayIds; returns their ids.
fn create_codes(api: &Server, display_ids: &[&str]) -> Vec<String> {
    display_ids
        .iter()
        .map(|d| {
            let qr = api.create_qr(json!({"qrType": "WEB", "displayId": d,
                "qrRedirectUrl": format!("https://example.com/{d}")}));
            qr["id"].as_str().unwrap().to_owned()
        })
        .collect()
}

/// The scans counted for these codes together.
fn counted(api: &Server, ids: &[String]) -> u64 {
    let (status, body) = api.call(
        Method::POST,
        "/api/analytics-api/overviews",
        Some(json!({ "qrIds": ids })),
    );
    assert_eq!(status, 200, "{body}");
    let overviews = body["data"].as_array().expect("one overview per code");
    overviews
        .iter()
        .map(|o| o["totalScans"].as_u64().unwrap())
        .sum()
}

/// Waits until `check` holds, polling every 250 ms (the API's rate limit allows 20 calls a
/// second); panics with `what` after `within`.
fn wait_until(within: Duration, what: &str, mut check: impl FnMut() -> bool) {
    let deadline = Instant::now() + within;
    while !check() {
        assert!(Instant::now() < deadline, "{what} within {within:?}");
        std::thread::sleep(Duration::from_millis(250));
    }
}

/// The counts reach `sent` within the takeover bound and stay there (a scan counted twice would
/// arrive late).
fn assert_exact(api: &Server, ids: &[String], sent: u64) {
    wait_until(TAKEOVER, &format!("all {sent} scans counted"), || {
        let now = counted(api, ids);
        assert!(
            now <= sent,
            "{now} counted of {sent} sent: some counted twice"
        );
        now == sent
    });
    std::thread::sleep(Duration::from_secs(2));
    assert_eq!(counted(api, ids), sent, "nothing counted twice");
}

#[test]
fn the_only_aggregator_killed_and_restarted_at_once_three_times_takes_its_partitions_back() {
    let topology = Topology::new();
    let api = topology.start("api", "api");
    let edge = topology.start("edge", "edge");
    let mut aggregator = topology.start("aggregator", "aggregator");
    let ids = create_codes(&api, &["hot"]);
    edge.assert_served("hot");

    let stream = ScanStream::start(&edge.edge, "hot", PAUSE);
    wait_until(TAKEOVER, "the aggregator counts", || {
        counted(&api, &ids) > 100
    });
    // What a supervisor does: the same aggregator started again as soon as it is gone; and
    // killed again before it has settled in.
    for _ in 0..3 {
        aggregator.kill9();
        aggregator = topology.start("aggregator", "aggregator");
    }
    std::thread::sleep(Duration::from_secs(1));
    let sent = stream.finish();
    assert_exact(&api, &ids, sent);
    assert_eq!(aggregator.metric("qredge_aggregator_partitions"), 3.0);
}

#[test]
fn the_only_aggregator_restarted_seconds_after_its_kill_takes_its_partitions_back() {
    let topology = Topology::new();
    let api = topology.start("api", "api");
    let edge = topology.start("edge", "edge");
    let aggregator = topology.start("aggregator", "aggregator");
    let ids = create_codes(&api, &["hot"]);
    edge.assert_served("hot");

    let stream = ScanStream::start(&edge.edge, "hot", PAUSE);
    wait_until(TAKEOVER, "the aggregator counts", || {
        counted(&api, &ids) > 100
    });
    aggregator.kill9();
    // Within its session: the broker still counts the killed one as a member.
    std::thread::sleep(Duration::from_secs(4));
    let aggregator = topology.start("aggregator", "aggregator");
    let sent = stream.finish();
    assert_exact(&api, &ids, sent);
    assert_eq!(aggregator.metric("qredge_aggregator_partitions"), 3.0);
}

#[test]
fn of_two_aggregators_the_one_left_takes_the_partitions_of_the_one_killed() {
    let topology = Topology::new();
    let api = topology.start("api", "api");
    let edge = topology.start("edge", "edge");
    let first = topology.start("aggregator", "aggregator1");
    let second = topology.start("aggregator", "aggregator2");
    let aggregators = [&first, &second];
    wait_until(TAKEOVER, "both aggregators hold partitions", || {
        aggregators
            .iter()
            .all(|a| a.metric("qredge_aggregator_partitions") > 0.0)
    });
    // Enough codes that every one of the topic's 3 partitions carries scans (keys by qrId).
    let display_ids: Vec<String> = (0..30).map(|n| format!("code{n}")).collect();
    let display_ids: Vec<&str> = display_ids.iter().map(String::as_str).collect();
    let ids = create_codes(&api, &display_ids);
    display_ids.iter().for_each(|d| edge.assert_served(d));

    let stream = ScanStream::start_many(&edge.edge, &display_ids, PAUSE);
    let offsets = format!(
        "{}offsets:{}:{}",
        topology.key_prefix(),
        topology.setting("topic"),
        topology.setting("group")
    );
    let mut redis = topology.redis();
    wait_until(TAKEOVER, "every partition counted", || {
        redis.hlen::<_, usize>(&offsets).unwrap() == 3
    });
    first.kill9();
    wait_until(
        TAKEOVER,
        "the aggregator left holds all 3 partitions",
        || second.metric("qredge_aggregator_partitions") == 3.0,
    );
    let sent = stream.finish();
    assert_exact(&api, &ids, sent);
}
