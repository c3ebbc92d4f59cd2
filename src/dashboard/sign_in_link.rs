//! One-time sign-in links: `…/sign-in/link?token=T`, good for one sign-in within
//! `api.dashboard.sign_in_link_minutes`, stored as the token's SHA-256. The first start prints
//! one for the owner (and writes it into `bootstrap.json`); `qredge sign-in-link --email EMAIL`
//! prints one for any member. Opening the link shows a button: the token is used by the POST it
//! sends, so that a link preview fetching the URL does not spend it.

use std::collections::HashMap;

use axum::body::Bytes;
use axum::extract::{Query, State};
use axum::http::header::SET_COOKIE;
use axum::http::{HeaderMap, StatusCode};
use axum::response::{IntoResponse, Response};
use maud::html;

use super::error::PageError;
use super::form::FormData;
use super::{csrf, layout, session, DashState};
use crate::clock::now_ms;
use crate::config::{public_base_url, Config};
use crate::import::{open_store, ImportError};
use crate::store::{hash_secret, SignInToken, Store, StoreError};

pub const SIGN_IN_LINK_PATH: &str = "/sign-in/link";

/// Makes a sign-in link for `member_id`, usable once within `minutes`; `base_url` is the
/// dashboard's (the API's public URL, ending in '/').
pub async fn issue(
    store: &Store,
    base_url: &str,
    member_id: &str,
    minutes: u64,
) -> Result<String, StoreError> {
    let token = crate::ids::random_alphanumeric(43);
    let record = SignInToken {
        member_id: member_id.to_owned(),
        expires_at: now_ms().saturating_add(session::millis(minutes.saturating_mul(60_000))),
    };
    store
        .create_sign_in_token(&hash_secret(&token), &record)
        .await?;
    let base = base_url.trim_end_matches('/');
    Ok(format!("{base}{SIGN_IN_LINK_PATH}?token={token}"))
}

/// `qredge sign-in-link --email EMAIL`: a fresh link for the member with that email, in the
/// store the configuration names, for the dashboard at `api.public_url` (or `api.listen`).
pub async fn for_email(config: &Config, email: &str) -> Result<String, String> {
    let store = open_store(config).await.map_err(|e| match e {
        ImportError::StoreInUse(dir) => format!(
            "the embedded store in {} is open in a running qredge (stop it, make the link, start \
             it again: the link stays valid for {} minutes)",
            dir.display(),
            config.api.dashboard.sign_in_link_minutes
        ),
        other => other.to_string(),
    })?;
    let email = email.trim().to_lowercase();
    let members = store
        .members_with_email(&email)
        .await
        .map_err(|e| e.to_string())?;
    let member = match members.as_slice() {
        [member] => member,
        [] => return Err(format!("no member has the email {email:?}")),
        _ => {
            return Err(format!(
                "several organizations have a member with the email {email:?}"
            ))
        }
    };
    let base = public_base_url(&config.api.public_url, config.api.listen);
    let minutes = config.api.dashboard.sign_in_link_minutes;
    issue(&store, &base, &member.id, minutes)
        .await
        .map_err(|e| e.to_string())
}

pub async fn form(
    State(state): State<DashState>,
    headers: HeaderMap,
    Query(query): Query<HashMap<String, String>>,
) -> Response {
    let link_token = query.get("token").map_or("", String::as_str);
    let (token, cookie) = csrf::pre_session_token(&headers, session::is_https(&state, &headers));
    let body = html! {
        h1 { "Sign in" }
        form.card method="post" action=(SIGN_IN_LINK_PATH) {
            (csrf::hidden(&token))
            input type="hidden" name="token" value=(link_token);
            p { "This one-time link signs you in to qredge." }
            div.actions { button #continue type="submit" { "Sign in" } }
        }
    };
    let page = layout::page("Sign in", None, body);
    match cookie {
        Some(cookie) => ([(SET_COOKIE, cookie)], page).into_response(),
        None => page.into_response(),
    }
}

pub async fn redeem(
    State(state): State<DashState>,
    headers: HeaderMap,
    body: Bytes,
) -> Result<Response, PageError> {
    let form = FormData::parse(&body);
    csrf::check_pre_session(&headers, &form)?;
    let spent = || {
        PageError::new(
            StatusCode::BAD_REQUEST,
            "this sign-in link was used already or has expired; ask for a new one",
        )
    };
    let token = form.get("token");
    if token.is_empty() {
        return Err(spent());
    }
    let store = &state.app.store;
    let record = store.take_sign_in_token(&hash_secret(token)).await?;
    let member = match record {
        Some(record) => store.member(&record.member_id).await?,
        None => None,
    };
    let member = member.ok_or_else(spent)?;
    // A member without a password is asked to set one first.
    let next = match member.password_hash {
        None => "/account/password",
        Some(_) => "/codes",
    };
    session::start(&state, &headers, &member, next).await
}
