//! Signing in with email and password, and signing out.

use axum::body::Bytes;
use axum::extract::State;
use axum::http::header::SET_COOKIE;
use axum::http::{HeaderMap, StatusCode};
use axum::response::{IntoResponse, Response};
use maud::html;

use super::error::PageError;
use super::form::FormData;
use super::posted::Posted;
use super::session::{self};
use super::{csrf, layout, password, DashState};
use crate::clock::now_ms;
use crate::model::Member;

const REFUSED: &str = "wrong email or password";

/// The sign-in page, with `error` shown above the form when a try was refused.
fn sign_in_page(
    state: &DashState,
    headers: &HeaderMap,
    email: &str,
    error: Option<&str>,
) -> Response {
    let (token, cookie) = csrf::pre_session_token(headers, session::is_https(state, headers));
    let body = html! {
        h1 { "Sign in" }
        form.card #sign-in-form method="post" action="/sign-in" {
            (csrf::hidden(&token))
            @if let Some(error) = error {
                p.form-error id="sign-in-error" role="alert" { (error) }
            }
            label for="email" { "Email" }
            input #email type="email" name="email" value=(email) autocomplete="username" required;
            label for="password" { "Password" }
            input #password type="password" name="password" autocomplete="current-password" required;
            div.actions { button type="submit" { "Sign in" } }
        }
        p.muted { "No password yet? Ask an operator for a one-time sign-in link." }
    };
    let status = if error.is_some() {
        StatusCode::UNAUTHORIZED
    } else {
        StatusCode::OK
    };
    let page = layout::page("Sign in", None, body);
    match cookie {
        Some(cookie) => (status, [(SET_COOKIE, cookie)], page).into_response(),
        None => (status, page).into_response(),
    }
}

pub async fn form(State(state): State<DashState>, headers: HeaderMap) -> Response {
    sign_in_page(&state, &headers, "", None)
}

/// The member of `email` whose password `given` is, if any (every candidate's hash is checked,
/// and an unknown email costs one hash too).
async fn verified(
    state: &DashState,
    email: &str,
    given: String,
) -> Result<Option<Member>, PageError> {
    let candidates = state.app.store.members_with_email(email).await?;
    let found = tokio::task::spawn_blocking(move || {
        if candidates.is_empty() {
            password::verify(&given, None);
        }
        candidates
            .into_iter()
            .find(|m| password::verify(&given, m.password_hash.as_deref()))
    })
    .await
    .map_err(crate::api::ApiError::internal)?;
    Ok(found)
}

pub async fn with_password(
    State(state): State<DashState>,
    headers: HeaderMap,
    body: Bytes,
) -> Result<Response, PageError> {
    let form = FormData::parse(&body);
    csrf::check_pre_session(&headers, &form)?;
    let email = form.get("email").trim().to_lowercase();
    let given = form.get("password");
    if given.is_empty() || given.chars().count() > password::MAX_LEN {
        return Ok(sign_in_page(&state, &headers, &email, Some(REFUSED)));
    }
    if let Some(refusal) = too_many_tries(&state, &email).await? {
        return Ok(refusal);
    }
    match verified(&state, &email, given.to_owned()).await? {
        Some(member) if member.is_active_anywhere() => {
            session::start(&state, &headers, &member, "/codes").await
        }
        _ => Ok(sign_in_page(&state, &headers, &email, Some(REFUSED))),
    }
}

/// Counts a password try for `email` this minute: past `sign_in_tries_per_minute`, the refusal
/// (429), before any hash is computed, so that guessing gains nothing and costs the server
/// nothing.
async fn too_many_tries(state: &DashState, email: &str) -> Result<Option<Response>, PageError> {
    let window = now_ms().div_euclid(60_000);
    let tries = state
        .app
        .store
        .count_request(&format!("sign-in:{email}"), window)
        .await?;
    if tries <= state.config.sign_in_tries_per_minute {
        return Ok(None);
    }
    let refused = PageError::new(
        StatusCode::TOO_MANY_REQUESTS,
        "too many sign-in tries for this email: wait a minute and try again",
    );
    Ok(Some(refused.into_response()))
}

pub async fn sign_out(
    State(state): State<DashState>,
    headers: HeaderMap,
    Posted { signed, .. }: Posted,
) -> Result<Response, PageError> {
    session::end(&state, &headers, &signed.key).await
}
