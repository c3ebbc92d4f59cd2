//! The production topology in separate processes: an API and two edges on a Redis store, scans
//! through a real Kafka-protocol broker, an aggregator keeping the rollups in Redis.
//! Needs the services scripts/test.sh starts (QREDGE_TEST_REDIS_URL, QREDGE_TEST_KAFKA_BROKERS).

mod support;

use std::time::{Duration, Instant};

use serde_json::json;
use support::{Launch, Server, IPHONE_SAFARI};

struct Topology {
    _tmp: tempfile::TempDir,
    config: String,
    root: std::path::PathBuf,
}

impl Topology {
    /// A key prefix, topic and consumer group of its own, so tests share the services.
    fn new() -> Self {
        let redis = std::env::var("QREDGE_TEST_REDIS_URL")
            .expect("QREDGE_TEST_REDIS_URL is not set: run the tests through scripts/test.sh");
        let kafka = std::env::var("QREDGE_TEST_KAFKA_BROKERS")
            .expect("QREDGE_TEST_KAFKA_BROKERS is not set: run the tests through scripts/test.sh");
        let unique = qredge::ids::random_alphanumeric(8);
        let config = format!(
            "[redis]\nurl = \"{redis}\"\nkey_prefix = \"t{unique}:\"\n\
             [kafka]\nbrokers = \"{kafka}\"\ntopic = \"scans-{unique}\"\npartitions = 3\nmessage_timeout_ms = 10000\n\
             [aggregator]\ngroup = \"agg-{unique}\"\n"
        );
        let tmp = tempfile::tempdir().unwrap();
        let root = tmp.path().to_owned();
        Self {
            _tmp: tmp,
            config,
            root,
        }
    }

    fn start(&self, role: &str, name: &str) -> Server {
        Launch::new(&self.root.join(name))
            .role(role)
            .config(&self.config)
            .start()
    }
}

fn send_scans(edges: &[&str], per_edge: usize) {
    let threads: Vec<_> = edges
        .iter()
        .flat_map(|edge| {
            (0..2).map(move |_| {
                let url = format!("{edge}/hot");
                std::thread::spawn(move || {
                    let client = reqwest::blocking::Client::builder()
                        .redirect(reqwest::redirect::Policy::none())
                        .build()
                        .unwrap();
                    for _ in 0..per_edge / 2 {
                        let response = client
                            .get(&url)
                            .header("user-agent", IPHONE_SAFARI)
                            .send()
                            .unwrap();
                        assert_eq!(response.status(), 302);
                    }
                })
            })
        })
        .collect();
    threads.into_iter().for_each(|t| t.join().unwrap());
}

fn wait_served(edge: &Server, display_id: &str) -> Duration {
    let started = Instant::now();
    let response = edge.edge_within_a_second(display_id, |r| r.status() == 302);
    assert_eq!(
        response.status(),
        302,
        "served by {} within a second",
        edge.edge
    );
    started.elapsed()
}

#[test]
fn scans_through_two_edges_and_kafka_are_counted_exactly_and_changes_reach_every_edge() {
    let topology = Topology::new();
    let api = topology.start("api", "api");
    assert!(
        !api.credentials.client_secret.is_empty(),
        "the API bootstraps on Redis"
    );
    let edges = [
        topology.start("edge", "edge1"),
        topology.start("edge", "edge2"),
    ];
    let aggregator = topology.start("aggregator", "aggregator");

    let qr = api.create_qr(
        json!({"qrType": "WEB", "displayId": "hot", "qrRedirectUrl": "https://example.com/hot"}),
    );
    let id = qr["id"].as_str().unwrap().to_owned();
    for edge in &edges {
        wait_served(edge, "hot");
    }
    let edge_urls: Vec<&str> = edges.iter().map(|e| e.edge.as_str()).collect();

    send_scans(&edge_urls, 1000);
    let overview = api.wait_for_total(&id, 2000);
    assert_eq!(overview["totalScans"], 2000, "{overview}");
    assert_eq!(overview["todayScans"], 2000);

    // A change made through the API reaches both edges.
    let (status, _) = api.call(
        reqwest::Method::PUT,
        &format!("/api/qrs-api/{id}"),
        Some(json!({"qrRedirectUrl": "https://example.com/hot-v2"})),
    );
    assert_eq!(status, 200);
    for edge in &edges {
        let response = edge.edge_within_a_second("hot", |r| {
            r.headers()
                .get("location")
                .is_some_and(|l| l == "https://example.com/hot-v2")
        });
        assert_eq!(response.headers()["location"], "https://example.com/hot-v2");
    }
    drop(aggregator);
}
