//! Signed-in sessions: a random token in an `HttpOnly`, `SameSite=Lax` cookie (`Secure` when the
//! dashboard is reached over HTTPS), kept in the store under its SHA-256 with an expiry. Every
//! request reads the session and its member afresh: a member removed from the session's team,
//! paused, or deleted is signed out there and then.

use axum::extract::FromRequestParts;
use axum::http::header::{COOKIE, SET_COOKIE};
use axum::http::request::Parts;
use axum::http::{HeaderMap, StatusCode};
use axum::response::{IntoResponse, Redirect, Response};

use super::error::PageError;
use super::DashState;
use crate::api::auth::Caller;
use crate::clock::now_ms;
use crate::model::{Member, Team};
use crate::store::{hash_secret, Session};

const COOKIE_NAME: &str = "qredge_session";

/// A member signed in to the dashboard, acting in the session's team as the API's `Caller`.
pub struct Signed {
    pub caller: Caller,
    /// The token every form of the session carries.
    pub csrf: String,
    /// The session's key in the store (the hash of its token).
    pub key: String,
}

impl Signed {
    pub fn can_write_codes(&self) -> bool {
        self.caller.role.can_write_codes()
    }
}

/// The value of cookie `name` in the request, if it sent one.
pub fn cookie_value<'a>(headers: &'a HeaderMap, name: &str) -> Option<&'a str> {
    headers
        .get_all(COOKIE)
        .iter()
        .filter_map(|value| value.to_str().ok())
        .flat_map(|line| line.split(';'))
        .filter_map(|pair| pair.trim().split_once('='))
        .find_map(|(key, value)| (key == name).then_some(value))
}

/// A `Set-Cookie` value for a cookie scripts cannot read, sent on top-level navigations only.
pub fn set_cookie(name: &str, value: &str, max_age_seconds: u64, secure: bool) -> String {
    let secure = if secure { "; Secure" } else { "" };
    format!("{name}={value}; Path=/; Max-Age={max_age_seconds}; HttpOnly; SameSite=Lax{secure}")
}

/// Whether the browser reached the dashboard over HTTPS: the API's public URL says so, or the
/// proxy in front of it does.
pub fn is_https(state: &DashState, headers: &HeaderMap) -> bool {
    state.app.api_base_url.starts_with("https://")
        || headers
            .get("x-forwarded-proto")
            .is_some_and(|proto| proto.as_bytes().eq_ignore_ascii_case(b"https"))
}

/// The teams the member may act in, oldest first: those a session may show.
pub async fn active_teams(state: &DashState, member: &Member) -> Result<Vec<Team>, PageError> {
    let mut teams = Vec::new();
    for id in member.teams.keys().filter(|id| member.is_active_in(id)) {
        teams.extend(state.app.store.team(id).await?);
    }
    teams.sort_by(|a, b| (a.created_at, &a.id).cmp(&(b.created_at, &b.id)));
    Ok(teams)
}

/// The team a new session shows: the member's oldest team they may act in.
async fn first_team(state: &DashState, member: &Member) -> Result<Option<Team>, PageError> {
    Ok(active_teams(state, member).await?.into_iter().next())
}

/// Starts a session for `member` and answers with a redirect to `to` that sets its cookie.
pub async fn start(
    state: &DashState,
    headers: &HeaderMap,
    member: &Member,
    to: &str,
) -> Result<Response, PageError> {
    let team = first_team(state, member).await?.ok_or_else(|| {
        PageError::new(StatusCode::FORBIDDEN, "you may act in none of your teams")
    })?;
    start_in(state, headers, member, team, to).await
}

/// Ends the session `key` and starts one of `member` in team `team_id`, answering with a
/// redirect to `to` that sets its cookie: the team switcher. Only a team the member may act in
/// now; any other id is as unknown (404) as a missing team.
pub async fn switch_team(
    state: &DashState,
    headers: &HeaderMap,
    signed: &Signed,
    team_id: &str,
    to: &str,
) -> Result<Response, PageError> {
    let member = &signed.caller.member;
    let unknown = || PageError::new(StatusCode::NOT_FOUND, "no such team of yours");
    if !member.is_active_in(team_id) {
        return Err(unknown());
    }
    let team = state.app.store.team(team_id).await?.ok_or_else(unknown)?;
    let answer = start_in(state, headers, member, team, to).await?;
    state.app.store.delete_session(&signed.key).await?;
    Ok(answer)
}

/// Starts a session of `member` in `team` (one they may act in) and answers with a redirect to
/// `to` that sets its cookie.
async fn start_in(
    state: &DashState,
    headers: &HeaderMap,
    member: &Member,
    team: Team,
    to: &str,
) -> Result<Response, PageError> {
    let token = crate::ids::random_alphanumeric(43);
    let lifetime_seconds = state.config.session_hours.saturating_mul(3600);
    let session = Session {
        member_id: member.id.clone(),
        team_id: team.id,
        csrf_token: crate::ids::random_alphanumeric(43),
        expires_at: now_ms().saturating_add(millis(lifetime_seconds.saturating_mul(1000))),
    };
    state
        .app
        .store
        .create_session(&hash_secret(&token), &session)
        .await?;
    let cookie = set_cookie(
        COOKIE_NAME,
        &token,
        lifetime_seconds,
        is_https(state, headers),
    );
    Ok(([(SET_COOKIE, cookie)], Redirect::to(to)).into_response())
}

/// `ms` as an epoch offset (a configured lifetime past i64 is as good as forever).
pub fn millis(ms: u64) -> i64 {
    i64::try_from(ms).unwrap_or(i64::MAX)
}

/// Ends the session `key` and answers with a redirect to the sign-in page that clears its cookie.
pub async fn end(state: &DashState, headers: &HeaderMap, key: &str) -> Result<Response, PageError> {
    state.app.store.delete_session(key).await?;
    let cookie = set_cookie(COOKIE_NAME, "", 0, is_https(state, headers));
    Ok(([(SET_COOKIE, cookie)], Redirect::to("/sign-in")).into_response())
}

/// The request's live session as a `Signed`; None (and the session removed) when there is none,
/// it ended, or its member may no longer act in its team.
async fn signed(parts: &Parts, state: &DashState) -> Result<Option<Signed>, PageError> {
    let Some(token) = cookie_value(&parts.headers, COOKIE_NAME) else {
        return Ok(None);
    };
    let store = &state.app.store;
    let key = hash_secret(token);
    let Some(session) = store.session(&key).await? else {
        return Ok(None);
    };
    let member = store.member(&session.member_id).await?;
    let team = store.team(&session.team_id).await?;
    let (Some(member), Some(team)) = (member, team) else {
        store.delete_session(&key).await?;
        return Ok(None);
    };
    let Some(role) = member
        .teams
        .get(&team.id)
        .copied()
        .filter(|_| member.is_active_in(&team.id))
    else {
        store.delete_session(&key).await?;
        return Ok(None);
    };
    let plan = store
        .org(&member.org_id)
        .await?
        .map(|o| o.plan)
        .unwrap_or_default();
    Ok(Some(Signed {
        caller: Caller {
            member,
            team,
            role,
            plan,
        },
        csrf: session.csrf_token,
        key,
    }))
}

impl FromRequestParts<DashState> for Signed {
    type Rejection = Response;

    /// Without a live session: to the sign-in page.
    async fn from_request_parts(parts: &mut Parts, state: &DashState) -> Result<Self, Response> {
        match signed(parts, state).await {
            Ok(Some(signed)) => Ok(signed),
            Ok(None) => Err(Redirect::to("/sign-in").into_response()),
            Err(e) => Err(e.into_response()),
        }
    }
}
