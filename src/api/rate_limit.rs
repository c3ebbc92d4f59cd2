//! Per-team rate limits by plan: every authenticated `/api/` request is counted in its team's
//! bucket for the current minute, and every answer says where the team stands:
//! `X-RateLimit-Limit`, `X-RateLimit-Remaining`, `X-RateLimit-Reset` (epoch seconds when the
//! minute ends). Past the limit: `429` with `Retry-After`. Requests that fail authentication are
//! not counted, so nobody can spend another team's allowance.
//!
//! The account-level endpoints, which act across the caller's teams, are counted in the bucket
//! of the caller's organization whatever team header they carry, as is a request whose header
//! names no team the credential reaches.
//!
//! This layer authenticates (once per request) and hands the `Account` to the extractors.

use axum::extract::{Request, State};
use axum::http::request::Parts;
use axum::http::{HeaderName, HeaderValue, StatusCode};
use axum::middleware::Next;
use axum::response::{IntoResponse, Response};

use super::auth::{authenticate, Account, TEAM_HEADER};
use super::{ApiError, AppState};
use crate::clock::now_ms;

const LIMIT: HeaderName = HeaderName::from_static("x-ratelimit-limit");
const REMAINING: HeaderName = HeaderName::from_static("x-ratelimit-remaining");
const RESET: HeaderName = HeaderName::from_static("x-ratelimit-reset");

/// The routes that act across the caller's teams, not in the one the header names (their
/// handlers take an `Account`, not a `Caller`; the OpenAPI document gives them no team header,
/// which a test below holds this list to).
const ACCOUNT_LEVEL: [&str; 5] = [
    "/api/teams-api",
    "/api/teams-api/members/bulk",
    "/api/qrs-api/all/updated-after",
    "/api/keys-api",
    "/api/keys-api/{id}",
];

/// Whether `path` is one of the `ACCOUNT_LEVEL` routes (a `{…}` segment matches any one).
fn is_account_level(path: &str) -> bool {
    ACCOUNT_LEVEL.iter().any(|route| {
        let (mut route, mut path) = (route.split('/'), path.split('/'));
        loop {
            match (route.next(), path.next()) {
                (None, None) => return true,
                (Some(r), Some(p)) if r == p || (r.starts_with('{') && !p.is_empty()) => {}
                _ => return false,
            }
        }
    })
}

/// The bucket a request is counted in: its team's, or its organization's for an account-level
/// route or a team header that names no team the credential reaches.
fn bucket(parts: &Parts, account: &Account) -> String {
    let account_level = is_account_level(parts.uri.path());
    let team = parts
        .headers
        .get(TEAM_HEADER)
        .and_then(|v| v.to_str().ok())
        .filter(|team| !account_level && account.member.teams.contains_key(*team));
    match team {
        Some(team) => format!("team:{team}"),
        None => format!("org:{}", account.member.org_id),
    }
}

pub async fn limit(State(state): State<AppState>, request: Request, next: Next) -> Response {
    if !request.uri().path().starts_with("/api/") {
        return next.run(request).await;
    }
    let (mut parts, body) = request.into_parts();
    let account = match authenticate(&parts, &state).await {
        Ok(account) => account,
        Err(e) => return e.into_response(),
    };
    let bucket = bucket(&parts, &account);
    let now = now_ms();
    let window = now.div_euclid(60_000);
    let count = match state.store.count_request(&bucket, window).await {
        Ok(count) => count,
        Err(e) => return ApiError::from(e).into_response(),
    };
    let limit = state.requests_per_minute.of(account.plan);
    let reset = (window + 1) * 60;
    let headers = [
        (LIMIT, limit),
        (REMAINING, limit.saturating_sub(count)),
        (RESET, reset as u64),
    ];
    let mut response = if count > limit {
        let wait = (reset - now.div_euclid(1000)).max(1);
        let mut refused = ApiError::new(
            StatusCode::TOO_MANY_REQUESTS,
            format!(
                "rate limit of {limit} requests a minute reached (the team's plan); retry in {wait} s"
            ),
        )
        .into_response();
        refused
            .headers_mut()
            .insert(axum::http::header::RETRY_AFTER, HeaderValue::from(wait));
        refused
    } else {
        parts.extensions.insert(account);
        next.run(Request::from_parts(parts, body)).await
    };
    for (name, value) in headers {
        response
            .headers_mut()
            .insert(name, HeaderValue::from(value));
    }
    response
}

#[cfg(test)]
mod tests {

    use super::{is_account_level, ACCOUNT_LEVEL};

    #[test]
    fn account_level_paths_are_matched_by_route() {
        for path in ["/api/teams-api", "/api/keys-api", "/api/keys-api/cli_1"] {
            assert!(is_account_level(path), "{path}");
        }
        for path in [
            "/api/teams-api/team_1",
            "/api/keys-api/",
            "/api/qrs-api/all",
        ] {
            assert!(!is_account_level(path), "{path}");
        }
    }

    #[test]
    fn the_account_level_routes_are_those_documented_without_a_team_header() {
        let doc = serde_json::to_value(crate::api::openapi_document()).unwrap();
        let default_needs_team = doc["security"].to_string().contains("teamId");
        assert!(
            default_needs_team,
            "operations act in a team unless they say otherwise"
        );
        let mut without_team = Vec::new();
        for (path, item) in doc["paths"].as_object().unwrap() {
            if !path.starts_with("/api/") {
                continue;
            }
            for (method, operation) in item.as_object().unwrap() {
                let security = &operation["security"];
                if !security.is_null() && !security.to_string().contains("teamId") {
                    without_team.push((path.as_str(), method.as_str()));
                }
            }
        }
        for (path, method) in &without_team {
            assert!(is_account_level(path), "{method} {path} is account-level");
        }
        for path in ACCOUNT_LEVEL {
            let methods: Vec<_> = doc["paths"][path].as_object().unwrap().keys().collect();
            for method in methods {
                assert!(
                    without_team.contains(&(path, method.as_str())),
                    "{method} {path} is documented with a team header"
                );
            }
        }
    }
}
