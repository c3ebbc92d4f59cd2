//! API keys: made with scopes, used as a Bearer token or as the reference's headers, refused
//! past their scopes, listed without secrets, revoked at once, and stored only hashed.

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
