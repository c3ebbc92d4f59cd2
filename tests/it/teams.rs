//! The team settings endpoint: the caller's own team only, validated, stored on either backend.

use crate::support::topology::Topology;
use crate::support::Server;
use reqwest::Method;
use serde_json::json;

fn settings_round_trip(server: &Server) {
    let team_id = server.credentials.team_id.clone();
    let path = format!("/api/teams-api/{team_id}");

    let (status, body) = server.call(Method::GET, &path, None);
    assert_eq!(status, 200, "{body}");
    assert_eq!(body["data"]["id"], team_id.as_str());
    assert_eq!(body["data"]["timeZone"], "UTC", "UTC unless set");

    let (status, body) = server.call(
        Method::PUT,
        &path,
        Some(json!({"timeZone": "America/New_York", "name": "Marketing"})),
    );
    assert_eq!(status, 200, "{body}");
    assert_eq!(body["data"]["timeZone"], "America/New_York");
    let (_, body) = server.call(Method::GET, &path, None);
    assert_eq!(body["data"]["timeZone"], "America/New_York", "stored");
    assert_eq!(body["data"]["name"], "Marketing");

    for (bad, words) in [
        (json!({"timeZone": "Mars/Olympus_Mons"}), "IANA"),
        (json!({"timeZone": 5}), "invalid JSON body"),
        (json!({"name": ""}), "name"),
        (json!({"defaultDomain": "evil.example"}), "unknown field"),
    ] {
        let (status, body) = server.call(Method::PUT, &path, Some(bad.clone()));
        assert_eq!(status, 400, "{bad} is refused: {body}");
        let message = body["message"].as_str().unwrap_or_default();
        assert!(message.contains(words), "{bad}: {message}");
    }
    let (_, body) = server.call(Method::GET, &path, None);
    assert_eq!(
        body["data"]["timeZone"], "America/New_York",
        "refusals change nothing"
    );

    let (status, _) = server.call(Method::GET, "/api/teams-api/team_someoneelse", None);
    assert_eq!(status, 403, "another team is out of reach");
    let (status, _) = server.call(
        Method::PUT,
        "/api/teams-api/team_someoneelse",
        Some(json!({"timeZone": "UTC"})),
    );
    assert_eq!(status, 403);
}

#[test]
fn the_team_time_zone_is_set_through_the_api_embedded() {
    let dir = tempfile::tempdir().unwrap();
    settings_round_trip(&Server::start(dir.path()));
}

#[test]
fn the_team_time_zone_is_set_through_the_api_on_redis() {
    let topology = Topology::new();
    settings_round_trip(&topology.start("api", "api"));
}
