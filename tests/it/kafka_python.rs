//! The scans topic read by a real Kafka client in another language: Python's confluent-kafka
//! (`tests/python/read_scans.py`) consumes what `qredge serve` produced and checks every message
//! against docs/events.md; this test then checks that the events it saw are the scans it made.
//! Needs the services and the venv scripts/test.sh provides (QREDGE_TEST_REDIS_URL,
//! QREDGE_TEST_KAFKA_BROKERS, QREDGE_TEST_PYTHON).

use crate::support;
use std::collections::HashSet;
use std::process::Command;
use std::time::{Duration, Instant, SystemTime, UNIX_EPOCH};

use crate::support::{Launch, Server, IPHONE_SAFARI, MAC_SAFARI};
use serde_json::{json, Value};

const REFERER: &str = "https://news.example/article?id=7";
const SLACKBOT: &str = "Slackbot-LinkExpanding 1.0 (+https://api.slack.com/robots)";

/// A variable the harness exports. Missing means the test runs outside scripts/test.sh: fail,
/// so that a missing service or dependency is never mistaken for a pass.
fn harness_var(name: &str, what: &str) -> String {
    match std::env::var(name) {
        Ok(value) if !value.is_empty() => value,
        _ => panic!("{name} is not set: run the tests through scripts/test.sh ({what})"),
    }
}

fn now_ms() -> i64 {
    SystemTime::now()
        .duration_since(UNIX_EPOCH)
        .unwrap()
        .as_millis() as i64
}

/// One scan through the edge: a GET with these headers (none of them when `None`), a 302.
fn scan(server: &Server, display_id: &str, user_agent: Option<&str>, referer: Option<&str>) {
    let mut request = server.client.get(format!("{}/{display_id}", server.edge));
    if let Some(user_agent) = user_agent {
        request = request.header("user-agent", user_agent);
    }
    if let Some(referer) = referer {
        request = request.header("referer", referer);
    }
    let response = request.send().expect("the edge answers");
    assert_eq!(response.status(), 302, "scan of {display_id}");
}

/// Polls the overview until it counts `humans` headline scans and `bots` bot scans.
fn wait_counted(server: &Server, qr_id: &str, humans: u64, bots: u64) {
    let deadline = Instant::now() + Duration::from_secs(30);
    loop {
        let overview = server.overview(qr_id);
        let counted = (
            overview["totalScans"].as_u64(),
            overview["botScans"].as_u64(),
        );
        if counted == (Some(humans), Some(bots)) {
            return;
        }
        assert!(
            Instant::now() < deadline,
            "{qr_id} not counted as {humans} + {bots} bots within 30 s: {overview}\nlog:\n{}",
            server.log()
        );
        std::thread::sleep(Duration::from_millis(50));
    }
}

#[test]
fn a_python_confluent_kafka_consumer_reads_well_formed_scan_events() {
    let redis = harness_var("QREDGE_TEST_REDIS_URL", "it starts Redis");
    let brokers = harness_var(
        "QREDGE_TEST_KAFKA_BROKERS",
        "it starts a Kafka-protocol broker",
    );
    let python = harness_var("QREDGE_TEST_PYTHON", "it makes a venv with confluent-kafka");

    // A key prefix, topic and consumer group of its own: tests share the services.
    let unique = qredge::ids::random_alphanumeric(8);
    let topic = format!("qredge.test.python.{unique}");
    let config = format!(
        "[redis]\nurl = \"{redis}\"\nkey_prefix = \"py{unique}:\"\n\
         [kafka]\nbrokers = \"{brokers}\"\ntopic = \"{topic}\"\npartitions = 3\n\
         [aggregator]\ngroup = \"agg-py-{unique}\"\n"
    );
    let (_tmp, data) = support::data_dir();
    let server = Launch::new(&data).config(&config).start();
    assert!(
        server.stdout.contains("aggregator=kafka"),
        "serve consumes the topic: {}",
        server.stdout
    );

    let menu = server.create_qr(
        json!({"qrType": "WEB", "displayId": "menu", "qrRedirectUrl": "https://example.com/menu"}),
    );
    let poster = server.create_qr(
        json!({"qrType": "WEB", "displayId": "poster", "qrRedirectUrl": "https://example.com/poster"}),
    );
    let menu_id = menu["id"].as_str().unwrap().to_owned();
    let poster_id = poster["id"].as_str().unwrap().to_owned();
    for display_id in ["menu", "poster"] {
        // HEAD: served, kept flagged in the topic, never counted.
        let response = server.edge_within_a_second(display_id, |r| r.status() == 302);
        assert_eq!(response.status(), 302, "{display_id} is served");
    }

    // Sent one after another: each code's events are in the topic in this order.
    let before = now_ms();
    scan(&server, "menu", Some(IPHONE_SAFARI), Some(REFERER));
    scan(&server, "menu", Some(MAC_SAFARI), None);
    scan(&server, "menu", Some(SLACKBOT), None);
    scan(&server, "menu", None, None);
    scan(&server, "poster", Some(IPHONE_SAFARI), None);
    let after = now_ms();
    const SCANS: usize = 5;

    // Counted by the aggregator, so surely in the topic.
    let counting = Instant::now();
    wait_counted(&server, &menu_id, 3, 1);
    wait_counted(&server, &poster_id, 1, 0);
    eprintln!(
        "the aggregator counted the scans in {:?}",
        counting.elapsed()
    );

    let script = concat!(env!("CARGO_MANIFEST_DIR"), "/tests/python/read_scans.py");
    let started = Instant::now();
    let output = Command::new(&python)
        .arg(script)
        .args(["--brokers", &brokers, "--topic", &topic])
        // The scans, and at least one HEAD probe per code (read on for the extras).
        .args(["--count", &(SCANS + 2).to_string(), "--timeout", "60"])
        .output()
        .unwrap_or_else(|e| panic!("cannot run {python} (QREDGE_TEST_PYTHON): {e}"));
    let stdout = String::from_utf8_lossy(&output.stdout);
    let stderr = String::from_utf8_lossy(&output.stderr);
    assert!(
        output.status.success(),
        "read_scans.py failed ({}):\n{stderr}\nstdout:\n{stdout}",
        output.status
    );
    let summary: Value = serde_json::from_str(&stdout)
        .unwrap_or_else(|e| panic!("read_scans.py printed no JSON ({e}):\n{stdout}\n{stderr}"));
    eprintln!(
        "read_scans.py: {} events in {:?} ({}), {} partitions",
        summary["count"],
        started.elapsed(),
        summary["client"],
        summary["partitions"]
    );

    // Exactly the scans made, each once, besides the HEAD probes (flagged).
    assert_eq!(summary["partitions"], 3);
    let (heads, mut events): (Vec<&Value>, Vec<&Value>) = summary["events"]
        .as_array()
        .unwrap()
        .iter()
        .partition(|e| e["value"]["head"] == true);
    assert_eq!(events.len(), SCANS, "{summary}");
    assert!(heads.len() >= 2, "a HEAD probe per code: {summary}");
    for head in &heads {
        assert_eq!(head["value"]["bot"], false, "{head}");
        assert_eq!(head["value"]["orphan"], false, "{head}");
    }
    let ids: HashSet<&str> = events
        .iter()
        .map(|e| e["value"]["eventId"].as_str().unwrap())
        .collect();
    assert_eq!(ids.len(), SCANS, "distinct eventIds: {summary}");

    for event in &events {
        let value = &event["value"];
        let display_id = if value["qrId"] == menu_id.as_str() {
            "menu"
        } else {
            assert_eq!(value["qrId"], poster_id.as_str(), "{event}");
            "poster"
        };
        assert_eq!(value["displayId"], display_id, "{event}");
        assert_eq!(value["teamId"], server.credentials.team_id.as_str());
        assert_eq!(event["key"], value["qrId"], "key = qrId: {event}");
        assert_eq!(event["timestamp"], value["scanTime"], "timestamp: {event}");
        let scan_time = value["scanTime"].as_i64().unwrap();
        assert!(
            (before..=after).contains(&scan_time),
            "scanTime {scan_time} is when the scan was made ({before}..={after})"
        );
        assert_eq!(value["ipAddress"], "127.0.0.1");
        // No GeoIP database configured.
        assert_eq!(
            (&value["country"], &value["city"]),
            (&json!(""), &json!(""))
        );
    }

    // One code's events: one partition, in the order they were scanned.
    events.sort_by_key(|e| (e["partition"].as_i64(), e["offset"].as_i64()));
    let menu_events: Vec<&Value> = events
        .iter()
        .filter(|e| e["value"]["qrId"] == menu_id.as_str())
        .map(|e| &e["value"])
        .collect();
    let partitions: HashSet<i64> = events
        .iter()
        .filter(|e| e["value"]["qrId"] == menu_id.as_str())
        .map(|e| e["partition"].as_i64().unwrap())
        .collect();
    assert_eq!(partitions.len(), 1, "one partition per code: {summary}");
    let seen: Vec<(&str, &str, &str, &str, &str, bool)> = menu_events
        .iter()
        .map(|v| {
            (
                v["userAgent"].as_str().unwrap(),
                v["device"].as_str().unwrap(),
                v["browser"].as_str().unwrap(),
                v["os"].as_str().unwrap(),
                v["referrer"].as_str().unwrap(),
                v["bot"].as_bool().unwrap(),
            )
        })
        .collect();
    assert_eq!(
        seen,
        vec![
            (IPHONE_SAFARI, "mobile", "Safari", "iOS", REFERER, false),
            (MAC_SAFARI, "desktop", "Safari", "macOS", "", false),
            // woothee names the crawler where a browser would be
            (SLACKBOT, "bot", "misc crawler", "", "", true),
            ("", "other", "", "", "", false),
        ],
        "menu's events in scan order: {summary}"
    );
    let times: Vec<i64> = menu_events
        .iter()
        .map(|v| v["scanTime"].as_i64().unwrap())
        .collect();
    assert!(
        times.windows(2).all(|w| w[0] <= w[1]),
        "scanTime: {times:?}"
    );

    let poster_event = events
        .iter()
        .map(|e| &e["value"])
        .find(|v| v["qrId"] == poster_id.as_str())
        .unwrap();
    assert_eq!(
        (
            &poster_event["userAgent"],
            &poster_event["device"],
            &poster_event["browser"],
            &poster_event["os"],
            &poster_event["referrer"],
            &poster_event["bot"],
        ),
        (
            &json!(IPHONE_SAFARI),
            &json!("mobile"),
            &json!("Safari"),
            &json!("iOS"),
            &json!(""),
            &json!(false),
        )
    );
    drop(server);
}
