//! The production topology while a service it depends on is away: Kafka for 30 s, Redis for a
//! while. Redirects never fail, nothing is lost or counted twice, and everything recovers without
//! a restart. Each test runs the service it stops as its own process (tests/it/support/services.rs).

use crate::support;
use std::time::{Duration, Instant};

use crate::support::services::{PrivateKafka, PrivateRedis};
use crate::support::topology::{shared_kafka, shared_redis, Layout, ScanStream, Topology};
use reqwest::Method;
use serde_json::json;

const PAUSE: Duration = Duration::from_millis(5);

#[test]
fn thirty_seconds_without_kafka_fail_no_redirect_and_lose_no_scan() {
    let services = tempfile::tempdir().unwrap();
    let mut kafka = PrivateKafka::start(&services.path().join("kafka"));
    // tansu 0.6 cannot follow the idempotent producer's epoch bump after an in-flight timeout (its
    // SQLite engine panics and the broker stops answering): without it, a retried message may be
    // written twice, and the aggregator's eventId check keeps the counts exact.
    let topology =
        Topology::on(&shared_redis(), &kafka.brokers()).with_kafka("idempotence = false");
    let api = topology.start("api", "api");
    let edge = topology.start("edge", "edge");
    let _aggregator = topology.start("aggregator", "aggregator");
    let qr = api.create_qr(
        json!({"qrType": "WEB", "displayId": "hot", "qrRedirectUrl": "https://example.com/hot"}),
    );
    let id = qr["id"].as_str().unwrap().to_owned();
    edge.assert_served("hot");

    let stream = ScanStream::start(&edge.edge, "hot", PAUSE);
    std::thread::sleep(Duration::from_secs(2));
    kafka.stop();
    std::thread::sleep(Duration::from_secs(30));
    let spooled = edge.metric("qredge_spool_bytes");
    let errors = edge.metric("qredge_kafka_delivery_errors_total");
    kafka.resume();
    std::thread::sleep(Duration::from_secs(2));
    let sent = stream.finish();

    assert!(spooled > 0.0, "scans waited on disk while Kafka was away");
    assert!(errors > 0.0, "the failed deliveries were counted");
    let overview = api.wait_for_total_within(&id, sent, Duration::from_secs(120));
    assert_eq!(overview["totalScans"], sent, "{overview}");
    std::thread::sleep(Duration::from_secs(2));
    assert_eq!(
        api.overview(&id)["totalScans"],
        sent,
        "nothing counted twice"
    );
}

/// Redis stops for seconds while two edges are scanned: no redirect fails, the API answers 503
/// and recovers without a restart, the edges follow changes again and every scan is counted.
fn without_redis(layout: Layout) {
    let services = tempfile::tempdir().unwrap();
    let mut redis = PrivateRedis::start(&services.path().join("redis"));
    let topology = Topology::on(&redis.url(), &shared_kafka());
    let deployment = topology.deploy(layout, 2);
    let (api, edges) = (deployment.api(), deployment.edges());
    let qr = api.create_qr(
        json!({"qrType": "WEB", "displayId": "hot", "qrRedirectUrl": "https://example.com/hot"}),
    );
    let id = qr["id"].as_str().unwrap().to_owned();
    for edge in &edges {
        edge.assert_served("hot");
    }
    let streams: Vec<_> = edges
        .iter()
        .map(|edge| ScanStream::start(&edge.edge, "hot", PAUSE))
        .collect();

    std::thread::sleep(Duration::from_secs(1));
    redis.stop();
    std::thread::sleep(Duration::from_secs(1));
    let (status, body) = api.call(Method::GET, &format!("/api/qrs-api/{id}"), None);
    assert_eq!(status, 503, "{body}");
    let message = body["message"].as_str().unwrap_or_default();
    assert!(message.contains("unavailable"), "a clear message: {body}");
    let (status, _) = api.call(
        Method::POST,
        "/api/qrs-api",
        Some(json!({"qrType": "WEB", "displayId": "new", "qrRedirectUrl": "https://example.com/new"})),
    );
    assert_eq!(status, 503, "nothing is created while the store is away");
    std::thread::sleep(Duration::from_secs(5));
    redis.resume();

    // The API answers again without a restart...
    let back = Instant::now();
    let created = loop {
        let (status, body) = api.call(
            Method::POST,
            "/api/qrs-api",
            Some(json!({"qrType": "WEB", "displayId": "new", "qrRedirectUrl": "https://example.com/new"})),
        );
        if status == 201 {
            break body;
        }
        assert!(
            back.elapsed() < Duration::from_secs(30),
            "the API did not recover: {status} {body}"
        );
        std::thread::sleep(Duration::from_millis(200));
    };
    assert_eq!(created["data"]["displayId"], "new");
    // ...and the edges follow changes again (their retry backoff is at most 2 s).
    for edge in edges {
        let served = (0..5).any(|_| {
            edge.edge_within_a_second("new", |r| r.status() == 302)
                .status()
                == 302
        });
        assert!(served, "{} serves a code made after the outage", edge.edge);
    }
    let sent: u64 = streams.into_iter().map(ScanStream::finish).sum();
    let overview = api.wait_for_total_within(&id, sent, Duration::from_secs(60));
    assert_eq!(overview["totalScans"], sent, "{overview}");
}

#[test]
fn without_redis_edges_keep_redirecting_the_api_says_503_and_both_recover() {
    without_redis(Layout::Split);
}

/// The same with `qredge serve` as the API, the aggregator and one of the edges.
#[test]
fn without_redis_serve_keeps_redirecting_says_503_and_recovers() {
    without_redis(Layout::Serve);
}

#[test]
fn an_edge_starts_from_its_route_snapshot_while_redis_is_unreachable() {
    let services = tempfile::tempdir().unwrap();
    let mut redis = PrivateRedis::start(&services.path().join("redis"));
    let topology = Topology::on(&redis.url(), &shared_kafka());
    let api = topology.start("api", "api");
    let web = |display_id: &str| json!({"qrType": "WEB", "displayId": display_id, "qrRedirectUrl": format!("https://example.com/{display_id}")});
    api.create_qr(web("before"));
    let edge = topology.start("edge", "edge");
    api.create_qr(web("after"));
    edge.assert_served("after");
    assert!(edge.stop().success());

    redis.stop();
    let edge = topology.start("edge", "edge");
    for display_id in ["before", "after"] {
        let response = edge.scan(display_id, support::IPHONE_SAFARI);
        assert_eq!(
            response.status(),
            302,
            "{display_id} served from the snapshot"
        );
        assert_eq!(
            response.headers()["location"],
            format!("https://example.com/{display_id}").as_str()
        );
    }

    redis.resume();
    let back = Instant::now();
    loop {
        let (status, body) = api.call(Method::POST, "/api/qrs-api", Some(web("later")));
        if status == 201 {
            break;
        }
        assert!(
            back.elapsed() < Duration::from_secs(30),
            "the API did not recover: {body}"
        );
        std::thread::sleep(Duration::from_millis(200));
    }
    let served = (0..5).any(|_| {
        edge.edge_within_a_second("later", |r| r.status() == 302)
            .status()
            == 302
    });
    assert!(
        served,
        "the edge connects and follows changes once Redis answers"
    );
}
