//! Members' API keys: the owner gives a member a key, and calls are made with it
//! (`Authorization: Bearer TOKEN`) in a team.

use reqwest::blocking::RequestBuilder;
use reqwest::Method;
use serde_json::{json, Value};

use super::{json_of, Server};

/// A request with `Authorization: Bearer TOKEN` in team `team`, ready for a body.
pub fn request_as_key(
    server: &Server,
    token: &str,
    team: &str,
    method: Method,
    path: &str,
) -> RequestBuilder {
    server
        .client
        .request(method, format!("{}{path}", server.api))
        .header("authorization", format!("Bearer {token}"))
        .header("x-request-team-id", team)
}

/// Calls the API with `Authorization: Bearer TOKEN` in team `team`.
pub fn as_key(
    server: &Server,
    token: &str,
    team: &str,
    method: Method,
    path: &str,
    body: Option<Value>,
) -> (u16, Value) {
    let mut request = request_as_key(server, token, team, method, path);
    if let Some(body) = body {
        request = request.json(&body);
    }
    json_of(request.send().expect("the API answers"))
}

/// Every scope: what the member's role allows is then all that limits the key.
pub fn all_scopes() -> Value {
    json!(["codes:write", "analytics:read", "teams:write", "keys:write"])
}

/// The owner makes a key with every scope for the member with `email`; returns its token.
pub fn key_for(server: &Server, email: &str) -> String {
    let (status, body) = server.call(
        Method::POST,
        "/api/keys-api",
        Some(json!({"name": "first key", "scopes": all_scopes(), "memberEmail": email})),
    );
    assert_eq!(status, 201, "{body}");
    body["data"]["token"].as_str().unwrap().to_owned()
}
