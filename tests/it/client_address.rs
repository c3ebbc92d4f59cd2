//! The address a scan records: the TCP peer, or what trusted proxies forwarded, optionally cut to
//! its network before it leaves the edge.

use crate::support::{Launch, Server, IPHONE_SAFARI};
use reqwest::Method;
use serde_json::json;

/// Starts `serve` with `edge_settings`, scans once with `forwarded_for`, returns the recorded IP.
fn recorded_address(edge_settings: &str, forwarded_for: &str) -> String {
    let dir = tempfile::tempdir().unwrap();
    let server = Launch::new(dir.path())
        .config(&format!("[edge]\n{edge_settings}\n"))
        .start();
    let qr = server.create_qr(
        json!({"qrType": "WEB", "displayId": "ip", "qrRedirectUrl": "https://example.com/"}),
    );
    let id = qr["id"].as_str().unwrap();
    // Served once the edge has followed the change (HEAD polls are not counted).
    server.assert_served("ip");
    let response = server
        .client
        .get(format!("{}/ip", server.edge))
        .header("user-agent", IPHONE_SAFARI)
        .header("x-forwarded-for", forwarded_for)
        .send()
        .unwrap();
    assert_eq!(response.status(), 302);
    server.wait_for_total(id, 1);
    detailed_ip(&server, id)
}

fn detailed_ip(server: &Server, id: &str) -> String {
    let (status, body) = server.call(
        Method::GET,
        &format!("/api/analytics-api/detailed/{id}"),
        None,
    );
    assert_eq!(status, 200, "{body}");
    body["data"][0]["ipAddress"].as_str().unwrap().to_owned()
}

#[test]
fn forwarded_addresses_count_only_from_trusted_proxies() {
    // Nobody trusted: the header is the client's own claim, and ignored.
    assert_eq!(recorded_address("", "203.0.113.9"), "127.0.0.1");
    // Loopback is our proxy: the nearest address it did not add itself is the client's; the one
    // the client prepended to fool us is not.
    assert_eq!(
        recorded_address(
            "trusted_proxies = [\"127.0.0.0/8\"]",
            "198.51.100.1, 203.0.113.9"
        ),
        "203.0.113.9"
    );
}

#[test]
fn anonymized_addresses_keep_only_their_network() {
    assert_eq!(
        recorded_address(
            "trusted_proxies = [\"127.0.0.0/8\"]\nanonymize_ip = true",
            "203.0.113.9"
        ),
        "203.0.113.0"
    );
}

#[test]
fn a_malformed_proxy_network_is_refused_at_start() {
    let dir = tempfile::tempdir().unwrap();
    let path = dir.path().join("qredge.toml");
    std::fs::write(&path, "[edge]\ntrusted_proxies = [\"10.0.0.0/33\"]\n").unwrap();
    let output = std::process::Command::new(env!("CARGO_BIN_EXE_qredge"))
        .args(["serve", "--config"])
        .arg(&path)
        .env("QREDGE_DATA_DIR", dir.path().join("data"))
        .output()
        .unwrap();
    assert!(!output.status.success());
    let stderr = String::from_utf8_lossy(&output.stderr);
    assert!(stderr.contains("trusted_proxies"), "{stderr}");
}
