//! The rollup endpoints (daily, buckets, breakdowns) on both stores: a team sees its own codes
//! only, whether it names them or asks for the whole team; bad input is refused with the
//! envelope and a message that says what is wrong.

use std::time::{Duration, Instant};

use reqwest::Method;
use serde_json::{json, Value};

use crate::support::topology::Topology;
use crate::support::{Server, IPHONE_SAFARI};

const ROLLUPS: [&str; 3] = [
    "/api/analytics-api/daily",
    "/api/analytics-api/buckets",
    "/api/analytics-api/breakdowns",
];

fn post_as(server: &Server, team: &str, path: &str, body: Value) -> (u16, Value) {
    server.call_as(&server.credentials, team, Method::POST, path, Some(body))
}

/// The scans the whole of `team` has, by the breakdown of devices.
fn team_scans(server: &Server, team: &str) -> u64 {
    let (status, body) = post_as(server, team, ROLLUPS[2], json!({}));
    assert_eq!(status, 200, "{body}");
    let devices = body["data"]["device"].as_array().unwrap();
    devices.iter().map(|d| d["scans"].as_u64().unwrap()).sum()
}

fn teams_see_only_their_own_codes(server: &Server) {
    let first = server.credentials.team_id.clone();
    let (status, body) = server.call(Method::POST, "/api/teams-api", Some(json!({"name": "B"})));
    assert_eq!(status, 201, "{body}");
    let second = body["data"]["id"].as_str().unwrap().to_owned();
    let a = server.create_served(json!({"qrType": "WEB", "displayId": "mine",
        "qrRedirectUrl": "https://example.com/a"}))["id"]
        .as_str()
        .unwrap()
        .to_owned();
    let (status, body) = post_as(
        server,
        &second,
        "/api/qrs-api",
        json!({"qrType": "WEB", "displayId": "theirs", "qrRedirectUrl": "https://example.com/b"}),
    );
    assert_eq!(status, 201, "{body}");
    server.assert_served("theirs");
    for display_id in ["mine", "mine", "theirs"] {
        assert_eq!(server.scan(display_id, IPHONE_SAFARI).status(), 302);
    }
    let deadline = Instant::now() + Duration::from_secs(30);
    while (team_scans(server, &first), team_scans(server, &second)) != (2, 1) {
        assert!(Instant::now() < deadline, "each team's scans counted apart");
        std::thread::sleep(Duration::from_millis(100));
    }
    // Naming another team's code is refused on every endpoint, and names the code.
    for path in ROLLUPS {
        let (status, body) = post_as(server, &second, path, json!({"qrIds": [a]}));
        assert_eq!(status, 404, "{path}: {body}");
        assert_eq!(body["success"], false);
        assert!(body["message"].as_str().unwrap().contains(&a), "{body}");
    }
    let (_, body) = post_as(server, &first, ROLLUPS[0], json!({"qrIds": [a]}));
    let days = body["data"]["days"].as_array().unwrap();
    assert_eq!(days.len(), 30, "the last 30 days by default");
    let today = &days[29];
    assert_eq!(
        (&today["scans"], &today["uniqueVisitors"]),
        (&json!(2), &json!(1))
    );
}

fn bad_input_is_refused(server: &Server) {
    let team = server.credentials.team_id.clone();
    let ids: Vec<String> = (0..101).map(|i| format!("qr_{i}")).collect();
    let everywhere = [
        (json!({"qrIds": []}), "qrIds must name 1 to 100"),
        (json!({"qrIds": ids}), "qrIds must name 1 to 100"),
        (json!({"qrIds": "qr_a"}), "invalid JSON body"),
        (json!({"other": 1}), "unknown field"),
    ];
    for path in ROLLUPS {
        for (bad, words) in &everywhere {
            refused(server, &team, path, bad, words);
        }
    }
    let three_days_ago = (chrono::Utc::now() - chrono::TimeDelta::days(3)).date_naive();
    for (path, bad, words) in [
        (
            ROLLUPS[0],
            json!({"from": "2026-13-01"}),
            "from must be a date as YYYY-MM-DD",
        ),
        (ROLLUPS[0], json!({"to": "tomorrow"}), "to must be a date"),
        (
            ROLLUPS[0],
            json!({"from": "2026-12-05", "to": "2026-12-01"}),
            "from must not be after to",
        ),
        (
            ROLLUPS[0],
            json!({"from": "2025-01-01", "to": "2026-01-02"}),
            "at most 366 days",
        ),
        (
            ROLLUPS[1],
            json!({"date": "12/03/2026"}),
            "date must be a date",
        ),
        (
            ROLLUPS[1],
            json!({"date": three_days_ago.to_string()}),
            "today or yesterday",
        ),
    ] {
        refused(server, &team, path, &bad, words);
    }
    // The widest range asked for is answered.
    let (status, body) = post_as(
        server,
        &team,
        ROLLUPS[0],
        json!({"from": "2025-01-01", "to": "2026-01-01"}),
    );
    assert_eq!(status, 200, "{body}");
    assert_eq!(body["data"]["days"].as_array().unwrap().len(), 366);
}

fn refused(server: &Server, team: &str, path: &str, bad: &Value, words: &str) {
    let (status, body) = post_as(server, team, path, bad.clone());
    assert_eq!(status, 400, "{path} {bad}: {body}");
    assert_eq!(body["success"], false, "{body}");
    let message = body["message"].as_str().unwrap_or_default();
    assert!(
        message.contains(words),
        "{path} {bad}: {message:?} should say {words:?}"
    );
}

#[test]
fn rollups_keep_teams_apart_and_refuse_bad_input_embedded() {
    let dir = tempfile::tempdir().unwrap();
    let server = Server::start(&dir.path().join("data"));
    bad_input_is_refused(&server);
    teams_see_only_their_own_codes(&server);
}

#[test]
fn rollups_keep_teams_apart_and_refuse_bad_input_on_redis() {
    let topology = Topology::new();
    let server = topology.start("serve", "serve");
    bad_input_is_refused(&server);
    teams_see_only_their_own_codes(&server);
}
