//! Per-team rate limits by plan: every authenticated `/api/` request is counted in its team's
//! bucket for the current minute (the bucket of the member's organization when the request
//! names no team of theirs), and every answer says where the team stands:
//! `X-RateLimit-Limit`, `X-RateLimit-Remaining`, `X-RateLimit-Reset` (epoch seconds when the
//! minute ends). Past the limit: `429` with `Retry-After`. Requests that fail authentication are
//! not counted, so nobody can spend another team's allowance.
//!
//! This layer authenticates (once per request) and hands the `Account` to the extractors.

use axum::extract::{Request, State};
use axum::http::{HeaderName, HeaderValue, StatusCode};
use axum::middleware::Next;
use axum::response::{IntoResponse, Response};

use super::auth::{authenticate, TEAM_HEADER};
use super::{ApiError, AppState};
use crate::clock::now_ms;

const LIMIT: HeaderName = HeaderName::from_static("x-ratelimit-limit");
const REMAINING: HeaderName = HeaderName::from_static("x-ratelimit-remaining");
const RESET: HeaderName = HeaderName::from_static("x-ratelimit-reset");

pub async fn limit(State(state): State<AppState>, request: Request, next: Next) -> Response {
    if !request.uri().path().starts_with("/api/") {
        return next.run(request).await;
    }
    let (mut parts, body) = request.into_parts();
    let account = match authenticate(&parts, &state).await {
        Ok(account) => account,
        Err(e) => return e.into_response(),
    };
    let team = parts
        .headers
        .get(TEAM_HEADER)
        .and_then(|v| v.to_str().ok())
        .filter(|team| account.member.teams.contains_key(*team));
    let bucket = match team {
        Some(team) => format!("team:{team}"),
        None => format!("org:{}", account.member.org_id),
    };
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
