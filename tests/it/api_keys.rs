//! API keys: made with scopes, used as a Bearer token or as the reference's headers, refused
//! past their scopes, listed without secrets, revoked at once, and stored only hashed.

use crate::support::keys::{all_scopes, as_key, key_for};
use crate::support::topology::Topology;
use crate::support::{json_of, Credentials, Server};
use reqwest::blocking::RequestBuilder;
use reqwest::Method;
use serde_json::{json, Value};

/// A request with `Authorization: Bearer TOKEN` and the server's team header.
fn bearer(server: &Server, token: &str, method: Method, path: &str) -> RequestBuilder {
    server
        .client
        .request(method, format!("{}{path}", server.api))
        .header("authorization", format!("Bearer {token}"))
        .header("x-request-team-id", &server.credentials.team_id)
}

fn send(request: RequestBuilder) -> (u16, Value) {
    json_of(request.send().expect("the API answers"))
}

fn new_key(server: &Server, name: &str, scopes: Value) -> Value {
    let (status, body) = server.call(
        Method::POST,
        "/api/keys-api",
        Some(json!({"name": name, "scopes": scopes})),
    );
    assert_eq!(status, 201, "{body}");
    body["data"].clone()
}

fn code_count(server: &Server) -> u64 {
    let (_, body) = server.call(Method::GET, "/api/qrs-api?limit=1", None);
    body["data"]["totalCount"].as_u64().unwrap()
}

/// Returns the secrets shown, for the at-rest check.
fn keys_lifecycle(server: &Server) -> Vec<String> {
    let reader = new_key(server, "dashboard", json!(["codes:read", "analytics:read"]));
    assert_eq!(reader["name"], "dashboard");
    assert_eq!(reader["scopes"], json!(["codes:read", "analytics:read"]));
    let token = reader["token"].as_str().unwrap().to_owned();
    let secret = reader["clientSecret"].as_str().unwrap().to_owned();
    let client_id = reader["clientId"].as_str().unwrap().to_owned();
    assert_eq!(token, format!("{client_id}.{secret}"));

    // Reads pass, writes are refused and change nothing.
    let (status, body) = send(bearer(server, &token, Method::GET, "/api/qrs-api"));
    assert_eq!(status, 200, "{body}");
    let before = code_count(server);
    let (status, body) = send(
        bearer(server, &token, Method::POST, "/api/qrs-api")
            .json(&json!({"qrType": "WEB", "qrRedirectUrl": "https://example.com/"})),
    );
    assert_eq!(status, 403, "{body}");
    assert!(
        body["message"].as_str().unwrap().contains("codes:write"),
        "{body}"
    );
    assert_eq!(code_count(server), before, "a refused write stores nothing");
    // The same key as the reference's two headers: the same scopes.
    let as_headers = Credentials {
        client_id: client_id.clone(),
        client_secret: secret.clone(),
        ..server.credentials.clone()
    };
    let (status, _) = server.call_as(
        &as_headers,
        &server.credentials.team_id,
        Method::POST,
        "/api/qrs-api",
        Some(json!({"qrType": "WEB", "qrRedirectUrl": "https://example.com/"})),
    );
    assert_eq!(status, 403);
    let (status, _) = server.call_as(
        &as_headers,
        &server.credentials.team_id,
        Method::GET,
        "/api/qrs-api",
        None,
    );
    assert_eq!(status, 200);
    // Another area, and key management, are out of its scopes.
    let (status, body) = send(bearer(server, &token, Method::GET, "/api/keys-api"));
    assert_eq!(status, 403, "{body}");
    let team_path = format!("/api/teams-api/{}", server.credentials.team_id);
    let (status, _) = send(bearer(server, &token, Method::GET, &team_path));
    assert_eq!(status, 403, "teams:read is not among its scopes");

    // A writer key writes.
    let writer = new_key(server, "deploys", json!(["codes:write"]));
    let (status, body) = send(
        bearer(
            server,
            writer["token"].as_str().unwrap(),
            Method::POST,
            "/api/qrs-api",
        )
        .json(&json!({"qrType": "WEB", "qrRedirectUrl": "https://example.com/w"})),
    );
    assert_eq!(status, 201, "{body}");

    // A key may not grant more than it has.
    let manager = new_key(server, "key manager", json!(["keys:write", "codes:read"]));
    let (status, body) = send(
        bearer(
            server,
            manager["token"].as_str().unwrap(),
            Method::POST,
            "/api/keys-api",
        )
        .json(&json!({"name": "escalate", "scopes": ["codes:write"]})),
    );
    assert_eq!(status, 403, "{body}");
    assert!(body["message"].as_str().unwrap().contains("codes:write"));
    let (status, body) = send(
        bearer(
            server,
            manager["token"].as_str().unwrap(),
            Method::POST,
            "/api/keys-api",
        )
        .json(&json!({"name": "narrower", "scopes": ["codes:read"]})),
    );
    assert_eq!(status, 201, "{body}");

    // Bad input: a clear message, nothing made.
    let listed = |server: &Server| {
        let (status, body) = server.call(Method::GET, "/api/keys-api", None);
        assert_eq!(status, 200, "{body}");
        body["data"].as_array().unwrap().clone()
    };
    let count = listed(server).len();
    for (bad, words) in [
        (
            json!({"name": "x", "scopes": ["codes:admin"]}),
            "unknown variant",
        ),
        (
            json!({"name": "x", "scopes": []}),
            "scopes must name at least one",
        ),
        (
            json!({"name": " ", "scopes": ["codes:read"]}),
            "name must be 1 to 100",
        ),
        (json!({"scopes": ["codes:read"]}), "missing field `name`"),
        (
            json!({"name": "x", "scopes": "codes:read"}),
            "invalid JSON body",
        ),
    ] {
        let (status, body) = server.call(Method::POST, "/api/keys-api", Some(bad.clone()));
        assert_eq!(status, 400, "{bad}: {body}");
        assert!(
            body["message"].as_str().unwrap().contains(words),
            "{bad}: {body}"
        );
    }
    let keys = listed(server);
    assert_eq!(keys.len(), count, "refusals make no key");

    // The list: every credential of the member, the first start's one unscoped, no secrets.
    let text = serde_json::to_string(&keys).unwrap();
    assert!(!text.contains(&secret) && !text.contains("clientSecret") && !text.contains("token"));
    assert!(keys
        .iter()
        .any(|k| k["clientId"] == server.credentials.client_id.as_str() && k["scopes"].is_null()));
    assert!(keys.iter().any(|k| k["clientId"] == client_id.as_str()));

    // Bad tokens.
    for token in [
        "not-a-token",
        &format!("{client_id}.qsk_wrong"),
        "cli_nosuch.qsk_x",
    ] {
        let (status, _) = send(bearer(server, token, Method::GET, "/api/qrs-api"));
        assert_eq!(status, 401, "{token}");
    }

    // Revoked: refused at once; a second revocation finds nothing.
    let (status, body) = server.call(Method::DELETE, &format!("/api/keys-api/{client_id}"), None);
    assert_eq!(status, 200, "{body}");
    let (status, _) = send(bearer(server, &token, Method::GET, "/api/qrs-api"));
    assert_eq!(status, 401, "a revoked key is refused");
    let (status, _) = server.call(Method::DELETE, &format!("/api/keys-api/{client_id}"), None);
    assert_eq!(status, 404);
    assert!(!listed(server)
        .iter()
        .any(|k| k["clientId"] == client_id.as_str()));

    vec![
        secret,
        writer["clientSecret"].as_str().unwrap().to_owned(),
        manager["clientSecret"].as_str().unwrap().to_owned(),
    ]
}

#[test]
fn api_keys_are_scoped_revocable_and_stored_hashed_embedded() {
    let dir = tempfile::tempdir().unwrap();
    let server = Server::start(dir.path());
    let secrets = keys_lifecycle(&server);
    drop(server);
    let store = std::fs::read(dir.path().join("store.redb")).unwrap();
    for secret in secrets {
        assert!(
            !store.windows(secret.len()).any(|w| w == secret.as_bytes()),
            "the secret is not in the store file"
        );
    }
}

#[test]
fn api_keys_are_scoped_revocable_and_stored_hashed_on_redis() {
    let topology = Topology::new();
    let server = topology.start("api", "api");
    let secrets = keys_lifecycle(&server);
    let prefix = topology.key_prefix();
    let mut redis = topology.redis();
    let keys: Vec<String> = redis::cmd("KEYS")
        .arg(format!("{prefix}*"))
        .query(&mut redis)
        .unwrap();
    assert!(keys.iter().any(|k| k.contains("cred:")), "{keys:?}");
    for key in keys {
        let dump: Vec<u8> = redis::cmd("DUMP").arg(&key).query(&mut redis).unwrap();
        for secret in &secrets {
            assert!(
                !dump.windows(secret.len()).any(|w| w == secret.as_bytes()),
                "{key} holds no secret"
            );
        }
    }
}

/// Adds `email` to `team` with `role`, as the owner.
fn add_member(server: &Server, team: &str, email: &str, role: &str) {
    let (status, body) = server.call_as(
        &server.credentials,
        team,
        Method::POST,
        &format!("/api/teams-api/{team}/members"),
        Some(json!({"name": email, "email": email, "role": role})),
    );
    assert_eq!(status, 200, "{body}");
}

/// Changes something about `email` in `team` as the owner: `action` is `role`, `pause`...
fn owner_changes(server: &Server, team: &str, method: Method, action: &str, body: Value) {
    let path = format!("/api/teams-api/{team}/members{action}");
    let (status, answer) = server.call_as(&server.credentials, team, method, &path, Some(body));
    assert_eq!(status, 200, "{path}: {answer}");
}

fn new_team(server: &Server, name: &str) -> String {
    let (status, body) = server.call(Method::POST, "/api/teams-api", Some(json!({"name": name})));
    assert_eq!(status, 201, "{body}");
    body["data"]["id"].as_str().unwrap().to_owned()
}

/// Makes a key with `token` (in `team`) for `email`; the key's JSON.
fn key_by(server: &Server, token: &str, team: &str, email: Option<&str>, scopes: Value) -> Value {
    let mut key = json!({"name": "made", "scopes": scopes});
    if let Some(email) = email {
        key["memberEmail"] = json!(email);
    }
    let (status, body) = as_key(
        server,
        token,
        team,
        Method::POST,
        "/api/keys-api",
        Some(key),
    );
    assert_eq!(status, 201, "{body}");
    body["data"].clone()
}

fn token(key: &Value) -> String {
    key["token"].as_str().unwrap().to_owned()
}

/// Issue 13, point 2: an admin of team B makes a key for a member who is only in B and removes
/// them from B; the owner later adds that person to team A. The key was revoked with the
/// removal, and does not come back.
fn a_key_made_for_a_member_dies_with_the_membership_it_was_made_in(server: &Server) {
    let a = server.credentials.team_id.clone();
    let b = new_team(server, "B");
    add_member(server, &b, "bob@acme.test", "admin");
    add_member(server, &b, "mia@acme.test", "editor");
    let bob = key_for(server, "bob@acme.test");
    let mia = token(&key_by(
        server,
        &bob,
        &b,
        Some("mia@acme.test"),
        all_scopes(),
    ));
    let (status, body) = as_key(server, &mia, &b, Method::GET, "/api/qrs-api", None);
    assert_eq!(status, 200, "{body}");

    let (status, body) = as_key(
        server,
        &bob,
        &b,
        Method::DELETE,
        &format!("/api/teams-api/{b}/members"),
        Some(json!({"email": "mia@acme.test"})),
    );
    assert_eq!(status, 200, "{body}");
    let (status, body) = as_key(server, &mia, &b, Method::GET, "/api/qrs-api", None);
    assert_eq!(status, 401, "revoked with the removal: {body}");

    add_member(server, &a, "mia@acme.test", "editor");
    for team in [&a, &b] {
        let (status, body) = as_key(server, &mia, team, Method::GET, "/api/qrs-api", None);
        assert_eq!(status, 401, "never comes back: {body}");
    }
    add_member(server, &b, "mia@acme.test", "editor");
    let (status, _) = as_key(server, &mia, &b, Method::GET, "/api/qrs-api", None);
    assert_eq!(status, 401, "not even in B again");
}

/// A key made by an admin acts only in the teams it was made for, with the member's role of the
/// moment and while its maker manages them; keys made with it are bound the same way.
fn a_key_made_for_a_member_acts_with_the_rights_of_the_moment(server: &Server) {
    let a = server.credentials.team_id.clone();
    let b = new_team(server, "B");
    add_member(server, &b, "bob@acme.test", "admin");
    add_member(server, &b, "mia@acme.test", "viewer");
    add_member(server, &a, "mia@acme.test", "viewer");
    let bob = key_for(server, "bob@acme.test");
    let made = key_by(server, &bob, &b, Some("mia@acme.test"), all_scopes());
    assert_eq!(made["teams"], json!([b]), "only where Bob is an admin");
    let mia = token(&made);
    let code = json!({"qrType": "WEB", "qrRedirectUrl": "https://example.com/k"});

    // Her role of the moment, in B only.
    let (status, body) = as_key(
        server,
        &mia,
        &b,
        Method::POST,
        "/api/qrs-api",
        Some(code.clone()),
    );
    assert_eq!(status, 403, "a viewer: {body}");
    owner_changes(
        server,
        &b,
        Method::PUT,
        "/role",
        json!({"email": "mia@acme.test", "role": "editor"}),
    );
    let (status, body) = as_key(
        server,
        &mia,
        &b,
        Method::POST,
        "/api/qrs-api",
        Some(code.clone()),
    );
    assert_eq!(status, 201, "an editor now: {body}");
    let (status, body) = as_key(server, &mia, &a, Method::GET, "/api/qrs-api", None);
    assert_eq!(status, 403, "A is not among the key's teams: {body}");
    server.create_qr(code.clone());
    let (status, body) = as_key(server, &mia, &b, Method::GET, "/api/teams-api", None);
    assert_eq!(status, 200, "{body}");
    let teams: Vec<&Value> = body["data"]
        .as_array()
        .unwrap()
        .iter()
        .map(|t| &t["id"])
        .collect();
    assert_eq!(teams, [&json!(b)], "the account endpoints see B only");
    let feed = "/api/qrs-api/all/updated-after?fromTime=0";
    let (status, body) = as_key(server, &mia, &b, Method::GET, feed, None);
    assert_eq!(status, 200, "{body}");
    let codes = body["data"].as_array().unwrap();
    assert!(
        !codes.is_empty() && codes.iter().all(|qr| qr["teamId"] == b.as_str()),
        "{body}"
    );

    // A key made with hers reaches no further, and sees only what hers sees.
    let derived = key_by(server, &mia, &b, None, json!(["codes:read"]));
    assert_eq!(derived["teams"], json!([b]));
    let derived = token(&derived);
    let (status, _) = as_key(server, &derived, &a, Method::GET, "/api/qrs-api", None);
    assert_eq!(status, 403);
    let (status, body) = as_key(server, &mia, &b, Method::GET, "/api/keys-api", None);
    assert_eq!(status, 200, "{body}");
    assert!(body["data"]
        .as_array()
        .unwrap()
        .iter()
        .all(|k| k["teams"] == json!([b])));
    let own = key_by(
        server,
        &server_owner_token(server),
        &a,
        Some("mia@acme.test"),
        json!(["codes:read"]),
    );
    let (status, _) = as_key(
        server,
        &mia,
        &b,
        Method::DELETE,
        &format!("/api/keys-api/{}", own["clientId"].as_str().unwrap()),
        None,
    );
    assert_eq!(
        status, 404,
        "a key wider than hers is out of her key's reach"
    );

    // Only while Bob manages B.
    owner_changes(
        server,
        &b,
        Method::PUT,
        "/role",
        json!({"email": "bob@acme.test", "role": "editor"}),
    );
    let (status, body) = as_key(server, &mia, &b, Method::GET, "/api/qrs-api", None);
    assert_eq!(status, 403, "{body}");
    assert!(
        body["message"]
            .as_str()
            .unwrap()
            .contains("acts in no team"),
        "{body}"
    );
    owner_changes(
        server,
        &b,
        Method::PUT,
        "/role",
        json!({"email": "bob@acme.test", "role": "admin"}),
    );
    let (status, _) = as_key(server, &mia, &b, Method::GET, "/api/qrs-api", None);
    assert_eq!(status, 200, "Bob is an admin again");

    // Leaving another team changes nothing; leaving B revokes both.
    owner_changes(
        server,
        &a,
        Method::DELETE,
        "",
        json!({"email": "mia@acme.test"}),
    );
    let (status, _) = as_key(server, &mia, &b, Method::GET, "/api/qrs-api", None);
    assert_eq!(status, 200);
    owner_changes(
        server,
        &b,
        Method::DELETE,
        "",
        json!({"email": "mia@acme.test"}),
    );
    for key in [&mia, &derived] {
        let (status, _) = as_key(server, key, &b, Method::GET, "/api/qrs-api", None);
        assert_eq!(status, 401);
    }
}

/// The bootstrap owner's credential as a Bearer token.
fn server_owner_token(server: &Server) -> String {
    format!(
        "{}.{}",
        server.credentials.client_id, server.credentials.client_secret
    )
}

#[test]
fn a_key_made_for_a_member_dies_with_the_membership_it_was_made_in_embedded() {
    let dir = tempfile::tempdir().unwrap();
    a_key_made_for_a_member_dies_with_the_membership_it_was_made_in(&Server::start(dir.path()));
}

#[test]
fn a_key_made_for_a_member_dies_with_the_membership_it_was_made_in_on_redis() {
    let topology = Topology::new();
    a_key_made_for_a_member_dies_with_the_membership_it_was_made_in(&topology.start("api", "api"));
}

#[test]
fn a_key_made_for_a_member_acts_with_the_rights_of_the_moment_embedded() {
    let dir = tempfile::tempdir().unwrap();
    a_key_made_for_a_member_acts_with_the_rights_of_the_moment(&Server::start(dir.path()));
}

#[test]
fn a_key_made_for_a_member_acts_with_the_rights_of_the_moment_on_redis() {
    let topology = Topology::new();
    a_key_made_for_a_member_acts_with_the_rights_of_the_moment(&topology.start("api", "api"));
}
