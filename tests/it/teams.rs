//! The team settings endpoint: the caller's own team only, validated, stored on either backend.

use crate::support::topology::Topology;
use crate::support::{Launch, Server};
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

/// Issue 13, point 11: an organization has at most its plan's `api.teams_per_org` teams, checked
/// in the store's write: of concurrent creates, only as many as fit get through.
fn teams_are_capped_by_plan(server: &Server) {
    let teams = || {
        let (status, body) = server.call(Method::GET, "/api/teams-api", None);
        assert_eq!(status, 200, "{body}");
        body["data"].as_array().unwrap().len()
    };
    assert_eq!(teams(), 1, "the first start's");
    let answers: Vec<(u16, serde_json::Value)> = std::thread::scope(|scope| {
        let creates: Vec<_> = (0..8)
            .map(|i| {
                scope.spawn(move || {
                    let body = json!({"name": format!("Team {i}")});
                    server.call(Method::POST, "/api/teams-api", Some(body))
                })
            })
            .collect();
        creates.into_iter().map(|c| c.join().unwrap()).collect()
    });
    let made = answers.iter().filter(|(status, _)| *status == 201).count();
    assert_eq!(made, 2, "{answers:?}");
    for (status, body) in answers.iter().filter(|(status, _)| *status != 201) {
        assert_eq!(*status, 403, "{body}");
        assert_eq!(body["success"], false);
        let message = body["message"].as_str().unwrap();
        assert!(message.contains("limit of 3 teams"), "{message}");
    }
    assert_eq!(teams(), 3);
}

const THREE_TEAMS: &str = "[api.teams_per_org]\nbusiness_plus = 3\n";

#[test]
fn an_organization_has_at_most_its_plans_teams_embedded() {
    let dir = tempfile::tempdir().unwrap();
    let server = Launch::new(dir.path()).config(THREE_TEAMS).start();
    teams_are_capped_by_plan(&server);
}

#[test]
fn an_organization_has_at_most_its_plans_teams_on_redis() {
    let mut topology = Topology::new();
    topology.config.push_str(THREE_TEAMS);
    teams_are_capped_by_plan(&topology.start("api", "api"));
}
