//! Teams and their members with roles: each role allowed and refused, pause and activate,
//! removal, deletion from the organization, bulk membership, team creation; on either backend.

use crate::support::keys::{as_key, key_for};
use crate::support::topology::Topology;
use crate::support::Server;
use reqwest::Method;
use serde_json::{json, Value};

fn members_of(server: &Server, team: &str) -> Vec<Value> {
    let (status, body) = server.call_as(
        &server.credentials,
        team,
        Method::GET,
        &format!("/api/teams-api/{team}"),
        None,
    );
    assert_eq!(status, 200, "{body}");
    body["data"]["members"].as_array().unwrap().clone()
}

fn role_of(server: &Server, team: &str, email: &str) -> Option<String> {
    members_of(server, team)
        .iter()
        .find(|m| m["email"] == email)
        .map(|m| m["role"].as_str().unwrap().to_owned())
}

fn members_and_roles(server: &Server) {
    let team = server.credentials.team_id.clone();
    let members = format!("/api/teams-api/{team}/members");
    assert_eq!(
        role_of(server, &team, "owner@localhost").as_deref(),
        Some("owner")
    );

    // The reference's example, and two more.
    for (name, email, role) in [
        ("Sarah Johnson", "sarah.johnson@acmecorp.com", "editor"),
        ("Mike Viewer", "Mike@AcmeCorp.com", "viewer"),
        ("Ada Admin", "ada@acmecorp.com", "admin"),
    ] {
        let (status, body) = server.call(
            Method::POST,
            &members,
            Some(json!({"name": name, "email": email, "role": role})),
        );
        assert_eq!((status, &body["success"]), (200, &json!(true)), "{body}");
    }
    assert_eq!(
        role_of(server, &team, "mike@acmecorp.com").as_deref(),
        Some("viewer"),
        "emails are lower-cased"
    );
    let (sarah, mike, ada) = (
        key_for(server, "sarah.johnson@acmecorp.com"),
        key_for(server, "mike@acmecorp.com"),
        key_for(server, "ada@acmecorp.com"),
    );
    let code = json!({"qrType": "WEB", "qrRedirectUrl": "https://example.com/m"});

    // Viewers read; editors write codes; neither manages members.
    let (status, _) = as_key(server, &mike, &team, Method::GET, "/api/qrs-api", None);
    assert_eq!(status, 200);
    let (status, body) = as_key(
        server,
        &mike,
        &team,
        Method::POST,
        "/api/qrs-api",
        Some(code.clone()),
    );
    assert_eq!(status, 403, "a viewer cannot write: {body}");
    let (status, _) = as_key(
        server,
        &sarah,
        &team,
        Method::POST,
        "/api/qrs-api",
        Some(code.clone()),
    );
    assert_eq!(status, 201, "an editor writes codes");
    let newcomer = json!({"name": "X", "email": "x@acmecorp.com", "role": "viewer"});
    for token in [&mike, &sarah] {
        let (status, body) = as_key(
            server,
            token,
            &team,
            Method::POST,
            &members,
            Some(newcomer.clone()),
        );
        assert_eq!(status, 403, "{body}");
        assert!(
            body["message"].as_str().unwrap().contains("admin"),
            "{body}"
        );
    }
    assert_eq!(
        role_of(server, &team, "x@acmecorp.com"),
        None,
        "refused: nothing added"
    );

    // Team settings and domains are for admins; analytics and the team are for everyone in it.
    let team_path = format!("/api/teams-api/{team}");
    let probe = server.create_qr(code.clone())["id"].clone();
    for token in [&mike, &sarah] {
        for (method, path, body) in [
            (Method::PUT, team_path.clone(), json!({"name": "Renamed"})),
            (
                Method::PUT,
                format!("{team_path}/domains"),
                json!({"defaultDomain": "qr.acme.test", "domains": ["qr.acme.test"]}),
            ),
        ] {
            let (status, answer) = as_key(server, token, &team, method, &path, Some(body));
            assert_eq!(status, 403, "{path}: {answer}");
        }
        let (status, _) = as_key(server, token, &team, Method::GET, &team_path, None);
        assert_eq!(status, 200);
        let (status, _) = as_key(
            server,
            token,
            &team,
            Method::POST,
            "/api/analytics-api/overviews",
            Some(json!({"qrIds": [probe]})),
        );
        assert_eq!(status, 200);
    }
    let (status, body) = as_key(
        server,
        &ada,
        &team,
        Method::PUT,
        &team_path,
        Some(json!({"timeZone": "UTC"})),
    );
    assert_eq!(status, 200, "an admin changes the team: {body}");

    // Admins manage members.
    let (status, body) = as_key(
        server,
        &ada,
        &team,
        Method::PUT,
        &format!("{members}/role"),
        Some(json!({"email": "mike@acmecorp.com", "role": "editor"})),
    );
    assert_eq!(status, 200, "{body}");
    let (status, _) = as_key(
        server,
        &mike,
        &team,
        Method::POST,
        "/api/qrs-api",
        Some(code.clone()),
    );
    assert_eq!(status, 201, "promoted to editor");
    let (status, _) = as_key(
        server,
        &ada,
        &team,
        Method::PUT,
        &format!("{members}/pause"),
        Some(json!({"email": "sarah.johnson@acmecorp.com"})),
    );
    assert_eq!(status, 200);
    let (status, body) = as_key(server, &sarah, &team, Method::GET, "/api/qrs-api", None);
    assert_eq!(status, 403, "paused: {body}");
    assert!(body["message"].as_str().unwrap().contains("paused"));
    assert!(members_of(server, &team)
        .iter()
        .any(|m| m["email"] == "sarah.johnson@acmecorp.com" && m["paused"] == true));
    let (status, _) = as_key(
        server,
        &ada,
        &team,
        Method::PUT,
        &format!("{members}/activate"),
        Some(json!({"email": "sarah.johnson@acmecorp.com"})),
    );
    assert_eq!(status, 200);
    let (status, _) = as_key(server, &sarah, &team, Method::GET, "/api/qrs-api", None);
    assert_eq!(status, 200, "active again");

    // The owner role is never assigned, changed, paused or removed; only the owner deletes.
    let refusals = [
        (
            Method::POST,
            members.clone(),
            json!({"name": "E", "email": "e@acmecorp.com", "role": "owner"}),
            400,
        ),
        (
            Method::PUT,
            format!("{members}/role"),
            json!({"email": "mike@acmecorp.com", "role": "owner"}),
            400,
        ),
        (
            Method::PUT,
            format!("{members}/role"),
            json!({"email": "owner@localhost", "role": "viewer"}),
            403,
        ),
        (
            Method::PUT,
            format!("{members}/pause"),
            json!({"email": "owner@localhost"}),
            403,
        ),
        (
            Method::DELETE,
            members.clone(),
            json!({"email": "owner@localhost"}),
            403,
        ),
        (
            Method::DELETE,
            format!("{members}/permanent"),
            json!({"email": "mike@acmecorp.com"}),
            403,
        ),
        (
            Method::PUT,
            format!("{members}/pause"),
            json!({"email": "ada@acmecorp.com"}),
            400,
        ),
        (
            Method::PUT,
            format!("{members}/role"),
            json!({"email": "nobody@acmecorp.com", "role": "viewer"}),
            404,
        ),
        (
            Method::POST,
            members.clone(),
            json!({"name": "E", "email": "not-an-email", "role": "viewer"}),
            400,
        ),
        (
            Method::POST,
            members.clone(),
            json!({"name": "E", "email": "e@acmecorp.com", "role": "superuser"}),
            400,
        ),
        (
            Method::POST,
            members.clone(),
            json!({"email": "e@acmecorp.com", "role": "viewer"}),
            400,
        ),
    ];
    for (method, path, body, expected) in refusals {
        let (status, answer) = as_key(server, &ada, &team, method, &path, Some(body.clone()));
        assert_eq!(status, expected, "{path} {body}: {answer}");
        assert_eq!(answer["success"], false);
    }
    assert_eq!(
        role_of(server, &team, "owner@localhost").as_deref(),
        Some("owner")
    );
    assert_eq!(
        role_of(server, &team, "mike@acmecorp.com").as_deref(),
        Some("editor")
    );
    assert_eq!(role_of(server, &team, "e@acmecorp.com"), None);
    let (status, _) = server.call(Method::GET, "/api/teams-api/team_someoneelse", None);
    assert_eq!(status, 403, "another team is out of reach");

    // The owner deletes a member from the organization: their keys stop working.
    let (status, body) = server.call(
        Method::DELETE,
        &format!("{members}/permanent"),
        Some(json!({"email": "mike@acmecorp.com"})),
    );
    assert_eq!(status, 200, "{body}");
    assert_eq!(body["message"], "Member deleted successfully");
    let (status, _) = as_key(server, &mike, &team, Method::GET, "/api/qrs-api", None);
    assert_eq!(status, 401, "a deleted member's key is gone");
    assert_eq!(role_of(server, &team, "mike@acmecorp.com"), None);

    // A second team; one person into both at once.
    let (status, body) = as_key(
        server,
        &ada,
        &team,
        Method::POST,
        "/api/teams-api",
        Some(json!({"name": "Sales & Marketing"})),
    );
    assert_eq!(status, 201, "{body}");
    let sales = body["data"]["id"].as_str().unwrap().to_owned();
    let sales_members = body["data"]["members"].as_array().unwrap();
    let role_in = |email: &str| {
        sales_members
            .iter()
            .find(|m| m["email"] == email)
            .map(|m| m["role"].clone())
    };
    assert_eq!(
        role_in("ada@acmecorp.com"),
        Some(json!("admin")),
        "the creator administers it"
    );
    assert_eq!(
        role_in("owner@localhost"),
        Some(json!("owner")),
        "the owner owns it"
    );
    let (status, _) = as_key(
        server,
        &sarah,
        &team,
        Method::POST,
        "/api/teams-api",
        Some(json!({"name": "Mine"})),
    );
    assert_eq!(status, 403, "an editor creates no team");
    // Ada's key was made for the teams she had then: it does not reach Sales, a new one does.
    let (status, body) = as_key(server, &ada, &sales, Method::GET, "/api/qrs-api", None);
    assert_eq!(status, 403, "{body}");
    let ada = key_for(server, "ada@acmecorp.com");
    let bulk = |teams: Value, email: &str| {
        as_key(
            server,
            &ada,
            &team,
            Method::POST,
            "/api/teams-api/members/bulk",
            Some(json!({"name": "Michael Chen", "email": email, "teams": teams})),
        )
    };
    let (status, body) = bulk(
        json!([{"teamId": team, "role": "admin"}, {"teamId": sales, "role": "editor"}]),
        "michael.chen@acmecorp.com",
    );
    assert_eq!(status, 200, "{body}");
    assert_eq!(
        role_of(server, &team, "michael.chen@acmecorp.com").as_deref(),
        Some("admin")
    );
    assert_eq!(
        role_of(server, &sales, "michael.chen@acmecorp.com").as_deref(),
        Some("editor")
    );
    let (status, _) = bulk(
        json!([{"teamId": team, "role": "viewer"}, {"teamId": "team_nope", "role": "viewer"}]),
        "li@acmecorp.com",
    );
    assert_eq!(status, 403, "a team the caller does not manage");
    assert_eq!(
        role_of(server, &team, "li@acmecorp.com"),
        None,
        "refused: nothing changed"
    );
    let (status, _) = bulk(json!([]), "li@acmecorp.com");
    assert_eq!(status, 400);

    // Removed from one team, still in the other; adding again changes the role, no duplicate.
    let (status, _) = server.call(
        Method::DELETE,
        &members,
        Some(json!({"email": "michael.chen@acmecorp.com"})),
    );
    assert_eq!(status, 200);
    assert_eq!(role_of(server, &team, "michael.chen@acmecorp.com"), None);
    assert_eq!(
        role_of(server, &sales, "michael.chen@acmecorp.com").as_deref(),
        Some("editor")
    );
    let (status, _) = server.call(
        Method::POST,
        &members,
        Some(json!({"name": "M. Chen", "email": "michael.chen@acmecorp.com", "role": "viewer"})),
    );
    assert_eq!(status, 200);
    let listed = members_of(server, &team);
    assert_eq!(
        listed
            .iter()
            .filter(|m| m["email"] == "michael.chen@acmecorp.com")
            .count(),
        1
    );

    // A key for a member is bound to the teams of theirs its maker manages.
    let (status, body) = server.call(
        Method::POST,
        "/api/teams-api",
        Some(json!({"name": "Finance"})),
    );
    assert_eq!(status, 201, "{body}");
    let finance = body["data"]["id"].as_str().unwrap().to_owned();
    let (status, _) = server.call(
        Method::POST,
        "/api/teams-api/members/bulk",
        Some(json!({
        "name": "Zed", "email": "zed@acmecorp.com",
        "teams": [{"teamId": team, "role": "viewer"}, {"teamId": finance, "role": "editor"}]})),
    );
    assert_eq!(status, 200);
    let (status, body) = as_key(
        server,
        &ada,
        &team,
        Method::POST,
        "/api/keys-api",
        Some(
            json!({"name": "for zed", "scopes": ["codes:read"], "memberEmail": "zed@acmecorp.com"}),
        ),
    );
    assert_eq!(status, 201, "{body}");
    assert_eq!(
        body["data"]["teams"],
        json!([team]),
        "Ada does not manage Finance"
    );
    let zed_by_ada = body["data"]["token"].as_str().unwrap().to_owned();
    let (status, _) = as_key(
        server,
        &zed_by_ada,
        &team,
        Method::GET,
        "/api/qrs-api",
        None,
    );
    assert_eq!(status, 200);
    let (status, body) = as_key(
        server,
        &zed_by_ada,
        &finance,
        Method::GET,
        "/api/qrs-api",
        None,
    );
    assert_eq!(status, 403, "not in Finance: {body}");
    let (status, body) = as_key(
        server,
        &ada,
        &team,
        Method::POST,
        "/api/keys-api",
        Some(json!({"name": "x", "scopes": ["codes:read"], "memberEmail": "nobody@acmecorp.com"})),
    );
    assert_eq!(status, 404, "{body}");
    key_for(server, "zed@acmecorp.com");

    // The caller's teams.
    let (status, body) = server.call(Method::GET, "/api/teams-api", None);
    assert_eq!(status, 200, "{body}");
    let ids: Vec<&str> = body["data"]
        .as_array()
        .unwrap()
        .iter()
        .map(|t| t["id"].as_str().unwrap())
        .collect();
    assert_eq!(ids, [team.as_str(), sales.as_str(), finance.as_str()]);
}

#[test]
fn teams_members_and_roles_embedded() {
    let dir = tempfile::tempdir().unwrap();
    members_and_roles(&Server::start(dir.path()));
}

#[test]
fn teams_members_and_roles_on_redis() {
    let topology = Topology::new();
    members_and_roles(&topology.start("api", "api"));
}

fn add_member(server: &Server, team: &str, email: &str, role: &str) {
    let (status, body) = server.call_as(
        &server.credentials,
        team,
        Method::POST,
        &format!("/api/teams-api/{team}/members"),
        Some(json!({"name": "Pat", "email": email, "role": role})),
    );
    assert_eq!(status, 200, "{body}");
}

/// Issue 13, point 12: a member paused in every team of theirs is told so by every endpoint,
/// the account-level ones included (no team list with its members' emails, no new key); paused
/// in one, they see only the others.
fn paused_everywhere(server: &Server) {
    let a = server.credentials.team_id.clone();
    let (status, body) = server.call(Method::POST, "/api/teams-api", Some(json!({"name": "C"})));
    assert_eq!(status, 201, "{body}");
    let c = body["data"]["id"].as_str().unwrap().to_owned();
    add_member(server, &a, "pat@acme.test", "admin");
    add_member(server, &c, "pat@acme.test", "admin");
    let pat = key_for(server, "pat@acme.test");
    let pause = |team: &str, action: &str| {
        let path = format!("/api/teams-api/{team}/members/{action}");
        let body = Some(json!({"email": "pat@acme.test"}));
        let (status, answer) = server.call_as(&server.credentials, team, Method::PUT, &path, body);
        assert_eq!(status, 200, "{answer}");
    };

    pause(&a, "pause");
    let (status, body) = as_key(server, &pat, &c, Method::GET, "/api/teams-api", None);
    assert_eq!(status, 200, "{body}");
    let ids: Vec<&str> = body["data"]
        .as_array()
        .unwrap()
        .iter()
        .map(|t| t["id"].as_str().unwrap())
        .collect();
    assert_eq!(ids, [c.as_str()], "not the team they are paused in");

    pause(&c, "pause");
    let key = json!({"name": "k", "scopes": ["codes:read"]});
    let calls = [
        (Method::GET, "/api/teams-api".to_owned(), None),
        (
            Method::POST,
            "/api/teams-api".to_owned(),
            Some(json!({"name": "D"})),
        ),
        (Method::GET, "/api/keys-api".to_owned(), None),
        (Method::POST, "/api/keys-api".to_owned(), Some(key)),
        (
            Method::GET,
            "/api/qrs-api/all/updated-after?fromTime=0".to_owned(),
            None,
        ),
        (Method::GET, format!("/api/teams-api/{c}"), None),
    ];
    for (method, path, body) in calls {
        for team in [&a, &c] {
            let (status, answer) = as_key(server, &pat, team, method.clone(), &path, body.clone());
            assert_eq!(status, 403, "{method} {path}: {answer}");
            let message = answer["message"].as_str().unwrap();
            assert!(
                message.contains("paused in all their teams"),
                "{path}: {message}"
            );
        }
    }
    let (_, body) = server.call(Method::GET, "/api/teams-api", None);
    assert_eq!(body["data"].as_array().unwrap().len(), 2, "no team made");
    let (_, body) = server.call(Method::GET, "/api/keys-api", None);
    assert_eq!(
        body["data"].as_array().unwrap().len(),
        1,
        "no key made (the owner's own only)"
    );

    pause(&c, "activate");
    let (status, body) = as_key(server, &pat, &c, Method::GET, "/api/teams-api", None);
    assert_eq!(
        (status, body["data"][0]["id"].as_str()),
        (200, Some(c.as_str()))
    );
}

#[test]
fn a_member_paused_in_all_their_teams_is_refused_everywhere_embedded() {
    let dir = tempfile::tempdir().unwrap();
    paused_everywhere(&Server::start(dir.path()));
}

#[test]
fn a_member_paused_in_all_their_teams_is_refused_everywhere_on_redis() {
    let topology = Topology::new();
    paused_everywhere(&topology.start("api", "api"));
}

/// Issue 13, point 19: the endpoints that name a member take `email` in the body or as a query
/// parameter; both given must agree (400 and nothing changed otherwise).
fn email_in_the_query(server: &Server) {
    let team = server.credentials.team_id.clone();
    let members = format!("/api/teams-api/{team}/members");
    add_member(server, &team, "quinn@acme.test", "viewer");
    let paused = || {
        members_of(server, &team)
            .iter()
            .find(|m| m["email"] == "quinn@acme.test")
            .map(|m| m["paused"] == true)
    };

    let (status, body) = server.call(
        Method::PUT,
        &format!("{members}/pause?email=quinn@acme.test"),
        None,
    );
    assert_eq!(status, 200, "a PUT without a body: {body}");
    assert_eq!(paused(), Some(true));
    let (status, body) = server.call(
        Method::PUT,
        &format!("{members}/activate?email=Quinn@Acme.test"),
        Some(json!({"email": "quinn@acme.test"})),
    );
    assert_eq!(status, 200, "the same member in both: {body}");
    assert_eq!(paused(), Some(false));
    let (status, body) = server.call(
        Method::PUT,
        &format!("{members}/role?email=quinn@acme.test"),
        Some(json!({"role": "editor"})),
    );
    assert_eq!(status, 200, "{body}");
    assert_eq!(
        role_of(server, &team, "quinn@acme.test").as_deref(),
        Some("editor")
    );

    add_member(server, &team, "other@acme.test", "viewer");
    for (method, path, body, words) in [
        (
            Method::PUT,
            format!("{members}/role?email=quinn@acme.test"),
            Some(json!({"email": "other@acme.test", "role": "admin"})),
            "in the query but",
        ),
        (
            Method::DELETE,
            format!("{members}?email=quinn@acme.test"),
            Some(json!({"email": "other@acme.test"})),
            "in the query but",
        ),
        (
            Method::PUT,
            format!("{members}/pause"),
            None,
            "email is required",
        ),
        (
            Method::DELETE,
            members.clone(),
            Some(json!({})),
            "email is required",
        ),
        (
            Method::PUT,
            format!("{members}/pause?email=nope"),
            None,
            "not a valid email",
        ),
    ] {
        let (status, answer) = server.call(method, &path, body);
        assert_eq!(status, 400, "{path}: {answer}");
        assert!(
            answer["message"].as_str().unwrap().contains(words),
            "{path}: {answer}"
        );
    }
    assert_eq!(
        role_of(server, &team, "quinn@acme.test").as_deref(),
        Some("editor")
    );
    assert_eq!(
        role_of(server, &team, "other@acme.test").as_deref(),
        Some("viewer")
    );
    assert_eq!(paused(), Some(false), "refusals change nothing");

    let (status, body) = server.call(
        Method::DELETE,
        &format!("{members}?email=quinn@acme.test"),
        None,
    );
    assert_eq!(status, 200, "a DELETE without a body: {body}");
    assert_eq!(role_of(server, &team, "quinn@acme.test"), None);
    let permanent = format!("{members}/permanent?email=other@acme.test");
    let (status, body) = server.call(Method::DELETE, &permanent, None);
    assert_eq!(status, 200, "{body}");
    assert_eq!(body["message"], "Member deleted successfully");
    assert_eq!(role_of(server, &team, "other@acme.test"), None);
}

#[test]
fn member_endpoints_take_the_email_as_a_query_parameter_embedded() {
    let dir = tempfile::tempdir().unwrap();
    email_in_the_query(&Server::start(dir.path()));
}

#[test]
fn member_endpoints_take_the_email_as_a_query_parameter_on_redis() {
    let topology = Topology::new();
    email_in_the_query(&topology.start("api", "api"));
}
