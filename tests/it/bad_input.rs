//! Bad input gets a clear error in the envelope and changes nothing.

use crate::support;
use std::io::{Read, Write};
use std::net::TcpStream;
use std::time::Duration;

use crate::support::{Credentials, Server};
use reqwest::Method;
use serde_json::{json, Value};

fn assert_error(status: u16, json: &Value, expected_status: u16, words: &str) {
    assert_eq!(status, expected_status, "{json}");
    assert_eq!(json["success"], false, "{json}");
    let message = json["message"].as_str().unwrap_or_default();
    assert!(
        message.to_lowercase().contains(&words.to_lowercase()),
        "{message:?} should mention {words:?}"
    );
}

fn total_codes(server: &Server) -> u64 {
    let (_, json) = server.call(Method::GET, "/api/qrs-api", None);
    json["data"]["totalCount"].as_u64().unwrap()
}

#[test]
fn wrong_credentials_and_foreign_teams_are_refused() {
    let (_tmp, data) = support::data_dir();
    let server = Server::start(&data);
    let good = server.credentials.clone();
    let body = json!({"qrType": "WEB", "qrRedirectUrl": "https://example.com/"});

    // No credentials at all.
    let response = server
        .client
        .post(format!("{}/api/qrs-api", server.api))
        .json(&body)
        .send()
        .unwrap();
    let (status, json) = support::json_of(response);
    assert_error(status, &json, 401, "missing");

    let wrong_secret = Credentials {
        client_secret: "qsk_wrong".into(),
        ..good.clone()
    };
    let (status, json) = server.call_as(
        &wrong_secret,
        &good.team_id,
        Method::POST,
        "/api/qrs-api",
        Some(body.clone()),
    );
    assert_error(status, &json, 401, "invalid client");
    let unknown_client = Credentials {
        client_id: "cli_nobody".into(),
        ..good.clone()
    };
    let (status, json) = server.call_as(
        &unknown_client,
        &good.team_id,
        Method::GET,
        "/api/qrs-api",
        None,
    );
    assert_error(status, &json, 401, "invalid client");

    // A team the credential does not belong to.
    for team in ["team_someoneelse", ""] {
        let (status, json) = server.call_as(
            &good,
            team,
            Method::POST,
            "/api/qrs-api",
            Some(body.clone()),
        );
        assert_error(status, &json, 403, "no access");
    }
    assert_eq!(total_codes(&server), 0, "nothing was stored");

    // Someone else's code id is as unknown as a missing one.
    let (status, json) = server.call(Method::GET, "/api/qrs-api/qr_doesnotexist", None);
    assert_error(status, &json, 404, "not found");
    let (status, json) = server.call(
        Method::POST,
        "/api/analytics-api/overviews",
        Some(json!({"qrIds": ["qr_doesnotexist"]})),
    );
    assert_error(status, &json, 404, "not found");
}

#[test]
fn invalid_codes_are_refused_with_a_message_and_nothing_is_stored() {
    let (_tmp, data) = support::data_dir();
    let server = Server::start(&data);
    server.create_qr(
        json!({"qrType": "WEB", "displayId": "taken", "qrRedirectUrl": "https://example.com/"}),
    );

    let cases = [
        (
            json!({"qrType": "HOLOGRAM", "qrRedirectUrl": "https://example.com/"}),
            400,
            "unknown qrType",
        ),
        (
            json!({"qrRedirectUrl": "https://example.com/"}),
            400,
            "qrType is required",
        ),
        (json!({"qrType": "PDF"}), 400, "settings.pdfUrl is required"),
        (json!({"qrType": "WEB"}), 400, "qrRedirectUrl is required"),
        (
            json!({"qrType": "WEB", "qrRedirectUrl": "javascript:alert(document.cookie)"}),
            400,
            "http or https",
        ),
        (
            json!({"qrType": "WEB", "qrRedirectUrl": "data:text/html,<script>alert(1)</script>"}),
            400,
            "http or https",
        ),
        (
            json!({"qrType": "WEB", "qrRedirectUrl": "/just/a/path"}),
            400,
            "absolute",
        ),
        (
            json!({"qrType": "WEB", "qrRedirectUrl": "https://example.com/", "displayId": "has spaces"}),
            400,
            "displayId",
        ),
        (
            json!({"qrType": "WEB", "qrRedirectUrl": "https://example.com/", "displayId": "healthz"}),
            400,
            "reserved",
        ),
        (
            json!({"qrType": "WEB", "qrRedirectUrl": "https://example.com/", "displayId": "taken"}),
            409,
            "already in use",
        ),
        (
            json!({"qrType": "WEB", "qrRedirectUrl": "https://example.com/", "name": 123}),
            400,
            "invalid type",
        ),
        (
            json!({"qrType": "WEB", "qrRedirectUrl": "https://example.com/", "tags": "one"}),
            400,
            "invalid type",
        ),
        (
            json!({"qrType": "WEB", "qrRedirectUrl": "https://example.com/", "baseUrl": "https://elsewhere.example/"}),
            400,
            "not configured",
        ),
        (json!(["not", "an", "object"]), 400, "invalid"),
    ];
    for (body, status_expected, words) in cases {
        let (status, json) = server.call(Method::POST, "/api/qrs-api", Some(body.clone()));
        assert_error(status, &json, status_expected, words);
    }

    let post_raw = |body: Vec<u8>| {
        let response = server
            .client
            .post(format!("{}/api/qrs-api", server.api))
            .header("x-request-team-id", &server.credentials.team_id)
            .header("x-request-client-id", &server.credentials.client_id)
            .header("x-request-client-secret", &server.credentials.client_secret)
            .header("content-type", "application/json")
            .body(body)
            .send()
            .unwrap();
        support::json_of(response)
    };
    let (status, json) = post_raw(b"{\"qrType\": \"WEB\", ".to_vec());
    assert_error(status, &json, 400, "invalid JSON");
    let (status, json) = post_raw(Vec::new());
    assert_error(status, &json, 400, "body is required");
    let mut huge =
        b"{\"qrType\":\"WEB\",\"qrRedirectUrl\":\"https://example.com/\",\"name\":\"".to_vec();
    huge.extend(std::iter::repeat_n(b'a', 1024 * 1024 + 10));
    huge.extend(b"\"}");
    let (status, json) = post_raw(huge);
    assert_error(status, &json, 413, "larger than the limit");

    assert_eq!(total_codes(&server), 1, "only the first code was stored");

    // Updates are held to the same rules and leave the code unchanged.
    let (_, list) = server.call(Method::GET, "/api/qrs-api", None);
    let id = list["data"]["qrs"][0]["id"].as_str().unwrap().to_owned();
    let (status, json) = server.call(
        Method::PUT,
        &format!("/api/qrs-api/{id}"),
        Some(json!({"qrRedirectUrl": "javascript:alert(1)"})),
    );
    assert_error(status, &json, 400, "http or https");
    let (_, fetched) = server.call(Method::GET, &format!("/api/qrs-api/{id}"), None);
    assert_eq!(fetched["data"]["qrRedirectUrl"], "https://example.com/");

    // Analytics input.
    let (status, json) = server.call(
        Method::POST,
        "/api/analytics-api/overviews",
        Some(json!({"qrIds": []})),
    );
    assert_error(status, &json, 400, "qrIds");
    let (status, json) = server.call(
        Method::POST,
        "/api/analytics-api/overviews",
        Some(json!({"qrIds": "x"})),
    );
    assert_error(status, &json, 400, "invalid type");
    let (status, json) = server.call(
        Method::POST,
        "/api/analytics-api/bulk",
        Some(json!({"qrIds": [id], "startTime": 10, "endTime": 5})),
    );
    assert_error(status, &json, 400, "startTime");
    let (status, json) = server.call(
        Method::POST,
        "/api/analytics-api/bulk",
        Some(json!({"qrIds": [id]})),
    );
    assert_error(status, &json, 400, "startTime");

    // Unknown endpoints and methods answer in the envelope too.
    let (status, json) = server.call(Method::GET, "/api/nothing-here", None);
    assert_error(status, &json, 404, "no such endpoint");
    let (status, json) = server.call(Method::PATCH, "/api/qrs-api", None);
    assert_error(status, &json, 405, "method not allowed");
}

#[test]
fn the_edge_refuses_malformed_and_oversized_requests_and_slow_clients() {
    let (_tmp, data) = support::data_dir();
    let server = support::Launch::new(&data)
        .config("[edge]\nheader_read_timeout_ms = 300\nmax_header_bytes = 8192\n")
        .start();
    server.create_qr(
        json!({"qrType": "WEB", "displayId": "ok", "qrRedirectUrl": "https://example.com/"}),
    );
    let edge_addr = server.edge.trim_start_matches("http://").to_owned();

    let unknown = server.scan("no-such-code", support::IPHONE_SAFARI);
    assert_eq!(unknown.status(), 404);
    assert!(unknown.headers()["content-type"]
        .to_str()
        .unwrap()
        .starts_with("text/html"));

    let post = server
        .client
        .post(format!("{}/ok", server.edge))
        .send()
        .unwrap();
    assert_eq!(post.status(), 405);
    assert_eq!(post.headers()["allow"], "GET, HEAD");

    let big = server
        .client
        .get(format!("{}/ok", server.edge))
        .header("x-padding", "a".repeat(16 * 1024))
        .send()
        .unwrap();
    assert_eq!(big.status(), 431, "an oversized head is refused");

    let raw = |request: &[u8]| -> String {
        let mut stream = TcpStream::connect(&edge_addr).unwrap();
        stream
            .set_read_timeout(Some(Duration::from_secs(5)))
            .unwrap();
        stream.write_all(request).unwrap();
        let mut answer = String::new();
        let _ = stream.read_to_string(&mut answer);
        answer
    };
    assert!(raw(b"GARBAGE\r\n\r\n").starts_with("HTTP/1.1 400"));
    assert!(
        raw(b"GET /ok HTTP/1.1\r\nHost: x\r\nBad Header Line\r\n\r\n").starts_with("HTTP/1.1 400")
    );

    // A client that never finishes its request head is cut off.
    let mut slow = TcpStream::connect(&edge_addr).unwrap();
    slow.write_all(b"GET /ok HTTP/1.1\r\nHost: x\r\n").unwrap();
    slow.set_read_timeout(Some(Duration::from_secs(5))).unwrap();
    let started = std::time::Instant::now();
    let mut buf = Vec::new();
    let _ = slow.read_to_end(&mut buf);
    assert!(
        started.elapsed() < Duration::from_secs(5),
        "the slow client was disconnected"
    );
    assert!(
        !String::from_utf8_lossy(&buf).contains("302"),
        "and got no redirect"
    );

    // The edge still serves everyone else.
    assert_eq!(server.scan("ok", support::IPHONE_SAFARI).status(), 302);
}

#[test]
fn what_axum_itself_refuses_is_answered_in_the_envelope_too() {
    let (_tmp, data) = support::data_dir();
    let server = Server::start(&data);
    let c = &server.credentials;
    let send = |request: reqwest::blocking::RequestBuilder| {
        let response = request
            .header("x-request-team-id", &c.team_id)
            .header("x-request-client-id", &c.client_id)
            .header("x-request-client-secret", &c.client_secret)
            .send()
            .unwrap();
        assert_eq!(
            response.headers()["content-type"],
            "application/json",
            "{response:?}"
        );
        support::json_of(response)
    };

    // A path segment that is not UTF-8 once percent-decoded.
    let (status, json) = send(server.client.get(format!("{}/api/qrs-api/%FF", server.api)));
    assert_error(status, &json, 400, "invalid utf-8");

    // A CSV import past api.max_body_bytes.
    let csv = "x".repeat(1024 * 1024 + 1);
    let (status, json) = send(
        server
            .client
            .post(format!("{}/api/qrs-api/import", server.api))
            .header("content-type", "text/csv")
            .body(csv),
    );
    assert_error(status, &json, 413, "larger than the limit");
    assert_eq!(total_codes(&server), 0);
}
