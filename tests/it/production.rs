//! The production topology in separate processes: an API and two edges on a Redis store, scans
//! through a real Kafka-protocol broker, an aggregator keeping the rollups in Redis; and
//! `qredge serve` on the same services as the API, the aggregator and one of the edges.
//! Needs the services scripts/test.sh starts (QREDGE_TEST_REDIS_URL, QREDGE_TEST_KAFKA_BROKERS).

use std::time::{Duration, Instant};

use crate::support::topology::{Layout, Topology};
use crate::support::{Server, IPHONE_SAFARI};
use serde_json::json;

/// Scans `hot` `per_edge` times through each edge, two clients per edge; every answer is a 302.
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

/// Scans through two edges and Kafka are counted exactly, and a change made through the API
/// reaches both edges.
fn counted_exactly_and_changes_reach_every_edge(layout: Layout) {
    let topology = Topology::new();
    let deployment = topology.deploy(layout, 2);
    let (api, edges) = (deployment.api(), deployment.edges());
    assert!(
        !api.credentials.client_secret.is_empty(),
        "the API bootstraps on Redis"
    );

    let qr = api.create_qr(
        json!({"qrType": "WEB", "displayId": "hot", "qrRedirectUrl": "https://example.com/hot"}),
    );
    let id = qr["id"].as_str().unwrap().to_owned();
    for edge in &edges {
        edge.assert_served("hot");
    }
    let edge_urls: Vec<&str> = edges.iter().map(|e| e.edge.as_str()).collect();

    send_scans(&edge_urls, 1000);
    let overview = api.wait_for_total(&id, 2000);
    assert_eq!(overview["totalScans"], 2000, "{overview}");
    assert_eq!(overview["todayScans"], 2000);

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
}

#[test]
fn scans_through_two_edges_and_kafka_are_counted_exactly_and_changes_reach_every_edge() {
    counted_exactly_and_changes_reach_every_edge(Layout::Split);
}

/// The same with `qredge serve` as the API, the aggregator and one of the edges.
#[test]
fn serve_on_redis_and_kafka_counts_exactly_and_its_changes_reach_every_edge() {
    counted_exactly_and_changes_reach_every_edge(Layout::Serve);
}

#[test]
fn a_killed_aggregator_is_restarted_mid_stream_and_the_counts_stay_exact() {
    const SCANS: usize = 4000;
    let topology = Topology::new();
    let api = topology.start("api", "api");
    let edge = topology.start("edge", "edge");
    let aggregator = topology.start("aggregator", "aggregator1");
    let qr = api.create_qr(
        json!({"qrType": "WEB", "displayId": "hot", "qrRedirectUrl": "https://example.com/hot"}),
    );
    let id = qr["id"].as_str().unwrap().to_owned();
    edge.assert_served("hot");

    let edge_url = edge.edge.clone();
    let stream = std::thread::spawn(move || send_scans(&[edge_url.as_str()], SCANS));
    // Kill it once it is counting, while scans keep arriving.
    let counting = Instant::now();
    while api.overview(&id)["totalScans"].as_u64().unwrap_or(0) < 200 {
        assert!(
            counting.elapsed() < Duration::from_secs(30),
            "the aggregator never counted"
        );
        std::thread::sleep(Duration::from_millis(20));
    }
    aggregator.kill9();
    let counted_at_kill = api.overview(&id)["totalScans"].as_u64().unwrap();
    let _restarted = topology.start("aggregator", "aggregator2");
    stream.join().unwrap();

    assert!(
        counted_at_kill < SCANS as u64,
        "killed mid-stream: {counted_at_kill}"
    );
    let overview = api.wait_for_total_within(&id, SCANS as u64, Duration::from_secs(90));
    assert_eq!(overview["totalScans"], SCANS as u64, "{overview}");
    // Nothing counted twice arrives late either.
    std::thread::sleep(Duration::from_secs(2));
    assert_eq!(api.overview(&id)["totalScans"], SCANS as u64);
}

#[test]
fn changes_reach_three_edges_within_a_second_and_the_p99_is_reported() {
    const UPDATES: usize = 100;
    let topology = Topology::new();
    let api = topology.start("api", "api");
    let edges: Vec<Server> = (1..=3)
        .map(|n| topology.start("edge", &format!("edge{n}")))
        .collect();
    let qr = api.create_qr(
        json!({"qrType": "WEB", "displayId": "moving", "qrRedirectUrl": "https://example.com/v0"}),
    );
    let id = qr["id"].as_str().unwrap().to_owned();
    for edge in &edges {
        edge.assert_served("moving");
    }

    let mut delays = Vec::new();
    for n in 1..=UPDATES {
        let target = format!("https://example.com/v{n}");
        let (status, body) = api.call(
            reqwest::Method::PUT,
            &format!("/api/qrs-api/{id}"),
            Some(json!({ "qrRedirectUrl": target })),
        );
        assert_eq!(status, 200, "{body}");
        let written = Instant::now();
        std::thread::scope(|scope| {
            let polls: Vec<_> = edges
                .iter()
                .map(|edge| {
                    let target = target.as_str();
                    scope.spawn(move || {
                        let response = edge.edge_within_a_second("moving", |r| {
                            r.headers().get("location").is_some_and(|l| l == target)
                        });
                        assert_eq!(
                            response.headers()["location"],
                            target,
                            "{} serves change {n} within a second",
                            edge.edge
                        );
                        written.elapsed()
                    })
                })
                .collect();
            delays.extend(polls.into_iter().map(|p| p.join().unwrap()));
        });
    }
    delays.sort();
    let at = |q: f64| delays[((delays.len() as f64 * q).ceil() as usize).min(delays.len()) - 1];
    eprintln!(
        "change propagation to 3 edges, {} samples: p50 {:?}, p99 {:?}, max {:?}",
        delays.len(),
        at(0.50),
        at(0.99),
        delays[delays.len() - 1]
    );
    assert!(at(0.99) <= Duration::from_secs(1));
}
