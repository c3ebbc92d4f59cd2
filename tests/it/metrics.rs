//! `GET /metrics` on its own listener: what the edge answered, how fast, and its pipeline's levels.

use crate::support::{Server, IPHONE_SAFARI};
use serde_json::json;

#[test]
fn the_metrics_endpoint_counts_answers_and_shows_the_table_and_the_pipeline() {
    let dir = tempfile::tempdir().unwrap();
    let server = Server::start(dir.path());
    assert!(
        !server.metrics.is_empty(),
        "the ready line names the metrics endpoint"
    );
    let qr = server.create_qr(
        json!({"qrType": "WEB", "displayId": "m", "qrRedirectUrl": "https://example.com/"}),
    );
    // Served once the edge has followed the change (HEAD polls are counted as answers, so the
    // counts below are read as differences).
    server.assert_served("m");
    let redirects_before = server.metric("qredge_edge_requests_total{outcome=\"redirect\"}");
    let not_found_before = server.metric("qredge_edge_requests_total{outcome=\"not_found\"}");
    for _ in 0..3 {
        assert_eq!(server.scan("m", IPHONE_SAFARI).status(), 302);
    }
    assert_eq!(server.scan("nope", IPHONE_SAFARI).status(), 404);
    server.wait_for_total(qr["id"].as_str().unwrap(), 3);

    let outcome =
        |name: &str| server.metric(&format!("qredge_edge_requests_total{{outcome=\"{name}\"}}"));
    assert_eq!(outcome("redirect") - redirects_before, 3.0);
    assert_eq!(outcome("not_found") - not_found_before, 1.0);
    assert!(server.metric("qredge_edge_response_seconds_count") >= 4.0);
    assert_eq!(server.metric("qredge_edge_routes"), 1.0);
    assert!(server.metric("qredge_edge_table_generation") >= 1.0);
    assert_eq!(server.metric("qredge_scan_queue_depth"), 0.0);
    assert_eq!(server.metric("qredge_spool_bytes"), 0.0);
    let hits = server.metric("qredge_user_agent_cache_total{result=\"hit\"}");
    let misses = server.metric("qredge_user_agent_cache_total{result=\"miss\"}");
    assert_eq!((hits, misses), (2.0, 1.0), "one parse, then the cache");
}
