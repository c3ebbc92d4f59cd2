//! Per-team rate limits: the X-RateLimit headers on every answer, 429 with Retry-After past the
//! plan's limit, failed authentication not counted, and one limit shared by all API processes.

use crate::support::topology::Topology;
use crate::support::{Launch, Server};
use reqwest::blocking::Response;

const LIMIT: u64 = 5;

fn header(response: &Response, name: &str) -> Option<u64> {
    response.headers().get(name)?.to_str().ok()?.parse().ok()
}

fn list(server: &Server, secret: &str) -> Response {
    server
        .client
        .get(format!("{}/api/qrs-api", server.api))
        .header("x-request-team-id", &server.credentials.team_id)
        .header("x-request-client-id", &server.credentials.client_id)
        .header("x-request-client-secret", secret)
        .send()
        .unwrap()
}

/// Runs `LIMIT + 1` requests spread over `servers` within one minute window (starting again if
/// a minute ends in the middle), after three with a wrong secret, and checks what they answer.
fn limited(servers: &[&Server]) {
    for _attempt in 0..3 {
        let first = servers[0];
        for _ in 0..3 {
            let refused = list(first, "qsk_wrong");
            assert_eq!(refused.status(), 401);
            assert_eq!(header(&refused, "x-ratelimit-limit"), None, "not counted");
        }
        let mut resets = Vec::new();
        let mut answers = Vec::new();
        for i in 0..=LIMIT {
            let server = servers[i as usize % servers.len()];
            let response = list(server, &server.credentials.client_secret);
            resets.push(header(&response, "x-ratelimit-reset").expect("a reset header"));
            answers.push(response);
        }
        if resets.iter().any(|r| *r != resets[0]) {
            // A minute ended during the run: its counts began again. Once more, in one minute.
            std::thread::sleep(std::time::Duration::from_secs(61));
            continue;
        }
        let now = std::time::SystemTime::now()
            .duration_since(std::time::UNIX_EPOCH)
            .unwrap()
            .as_secs();
        assert!(
            resets[0] > now && resets[0] <= now + 61,
            "reset {} vs now {now}",
            resets[0]
        );
        for (i, response) in answers.iter().take(LIMIT as usize).enumerate() {
            assert_eq!(response.status(), 200, "request {i}");
            assert_eq!(header(response, "x-ratelimit-limit"), Some(LIMIT));
            assert_eq!(
                header(response, "x-ratelimit-remaining"),
                Some(LIMIT - 1 - i as u64)
            );
        }
        let over = answers.pop().unwrap();
        assert_eq!(over.status(), 429);
        assert_eq!(header(&over, "x-ratelimit-remaining"), Some(0));
        let wait = header(&over, "retry-after").expect("Retry-After");
        assert!((1..=60).contains(&wait), "{wait}");
        let body: serde_json::Value = over.json().unwrap();
        assert_eq!(body["success"], false);
        assert!(
            body["message"]
                .as_str()
                .unwrap()
                .contains("rate limit of 5"),
            "{body}"
        );
        return;
    }
    panic!("no run fitted in one minute");
}

#[test]
fn a_team_is_limited_per_minute_by_its_plan_embedded() {
    let dir = tempfile::tempdir().unwrap();
    let server = Launch::new(dir.path())
        .config("[api.requests_per_minute]\nbusiness_plus = 5\n")
        .start();
    limited(&[&server]);
    let health = server
        .client
        .get(format!("{}/healthz", server.api))
        .send()
        .unwrap();
    assert_eq!(health.status(), 200, "/healthz is not limited");
}

#[test]
fn the_limit_is_shared_by_every_api_process_on_redis() {
    let mut topology = Topology::new();
    topology
        .config
        .push_str("[api.requests_per_minute]\nbusiness_plus = 5\n");
    let first = topology.start("api", "api-1");
    let mut second = topology.start("api", "api-2");
    // The first process bootstrapped the shared store: its credential is the one.
    second.credentials = first.credentials.clone();
    limited(&[&first, &second]);
}

/// A GET as the bootstrap owner, with the team header or without.
fn get(server: &Server, path: &str, team: Option<&str>) -> Response {
    let mut request = server
        .client
        .get(format!("{}{path}", server.api))
        .header("x-request-client-id", &server.credentials.client_id)
        .header("x-request-client-secret", &server.credentials.client_secret);
    if let Some(team) = team {
        request = request.header("x-request-team-id", team);
    }
    request.send().unwrap()
}

/// Issue 13, point 11: the endpoints that act across the caller's teams are counted in the
/// organization's bucket, whatever team header they carry; the team's own requests are not
/// charged for them.
fn account_level_requests_are_charged_to_the_organization(server: &Server) {
    let team = server.credentials.team_id.as_str();
    for _attempt in 0..3 {
        let answers = [
            get(server, "/api/qrs-api", Some(team)),
            get(server, "/api/keys-api", Some(team)),
            get(server, "/api/teams-api", None),
            get(
                server,
                "/api/qrs-api/all/updated-after?fromTime=0",
                Some(team),
            ),
            get(server, "/api/qrs-api", Some(team)),
        ];
        let resets: Vec<u64> = answers
            .iter()
            .map(|r| header(r, "x-ratelimit-reset").expect("a reset header"))
            .collect();
        if resets.iter().any(|r| *r != resets[0]) {
            std::thread::sleep(std::time::Duration::from_secs(61));
            continue;
        }
        let remaining: Vec<Option<u64>> = answers
            .iter()
            .map(|r| {
                assert_eq!(r.status(), 200);
                header(r, "x-ratelimit-remaining")
            })
            .collect();
        // The team's bucket: 4 then 3. The organization's: 4, 3, 2.
        let expected = [LIMIT - 1, LIMIT - 1, LIMIT - 2, LIMIT - 3, LIMIT - 2];
        assert_eq!(remaining, expected.map(Some));
        return;
    }
    panic!("no run fitted in one minute");
}

#[test]
fn account_level_requests_are_charged_to_the_organization_embedded() {
    let dir = tempfile::tempdir().unwrap();
    let server = Launch::new(dir.path())
        .config("[api.requests_per_minute]\nbusiness_plus = 5\n")
        .start();
    account_level_requests_are_charged_to_the_organization(&server);
}

#[test]
fn account_level_requests_are_charged_to_the_organization_on_redis() {
    let mut topology = Topology::new();
    topology
        .config
        .push_str("[api.requests_per_minute]\nbusiness_plus = 5\n");
    account_level_requests_are_charged_to_the_organization(&topology.start("api", "api"));
}
