//! `/team/keys`: the signed-in member's API keys (the API's keys are a member's, acting in
//! their teams with their role). A new key's creation redirects to the list (post-redirect-get:
//! a reload asks for the list, it does not make another key), and the list shows the new key's
//! secret once: it is held for the session as a one-time notice for a minute at most, taken
//! when shown, and never shown again: the store keeps only the key's hash. The notice is the
//! key's own (the redirect names the key): two keys made at once in two tabs each show theirs.
//! Revoke forms carry the key's version (`stale.rs`). A revoked key is refused from the next
//! request on. The session acts as the member's own unscoped credential
//! (`Account::signed_in`), so a key may have any scope.

use axum::extract::{Path, Query, State};
use axum::response::{IntoResponse, Redirect, Response};
use maud::{html, Markup};
use serde::Deserialize;

use super::{page, scrolling, stale};
use crate::api::auth::Account;
use crate::api::keys::{account_keys, create_key, revoke_key, NewKey};
use crate::api::ApiError;
use crate::clock::now_ms;
use crate::dashboard::error::PageError;
use crate::dashboard::posted::Posted;
use crate::dashboard::session::Signed;
use crate::dashboard::{csrf, DashState};
use crate::model::{Credential, Scope};
use crate::store::Notice;

const PATH: &str = "/team/keys";
/// How long a new key's token waits for the page that shows it.
const NEW_TOKEN_MS: i64 = 60_000;

fn account(signed: &Signed) -> Account {
    Account::signed_in(signed.caller.member.clone(), signed.caller.plan)
}

/// Where a new key's token waits: under the session's own key and the key's client id.
fn new_token_key(signed: &Signed, client_id: &str) -> String {
    format!("{}:new-key-token:{client_id}", signed.key)
}

/// The list's query: the key just made, whose token to show.
#[derive(Deserialize)]
pub struct Shown {
    created: Option<String>,
}

/// The list, with the token of the key just made (the first time it is asked for after).
pub async fn list(
    State(state): State<DashState>,
    signed: Signed,
    Query(shown): Query<Shown>,
) -> Result<Response, PageError> {
    let new_token = match shown.created.filter(|id| client_id_shaped(id)) {
        Some(id) => {
            state
                .app
                .store
                .take_notice(&new_token_key(&signed, &id))
                .await?
        }
        None => None,
    };
    keys_page(&state, &signed, new_token.map(|n| n.text).as_deref(), None).await
}

/// What a client id looks like (anything else names no notice).
fn client_id_shaped(id: &str) -> bool {
    id.len() <= 64 && id.bytes().all(|b| b.is_ascii_alphanumeric() || b == b'_')
}

async fn keys_page(
    state: &DashState,
    signed: &Signed,
    new_token: Option<&str>,
    refusal: Option<&ApiError>,
) -> Result<Response, PageError> {
    let keys = account_keys(&state.app, &account(signed)).await?;
    let new_key = new_token.and_then(|token| {
        let client_id = token.split('.').next()?;
        let key = keys.iter().find(|key| key.client_id == client_id)?;
        Some((key, token))
    });
    let body = html! {
        @if let Some((key, token)) = new_key { (secret_once(key, token)) }
        p.muted { "Your own keys, for scripts: a key acts in your teams with your role, within its scopes." }
        @if keys.is_empty() {
            p.card #no-keys { "You have no API keys." }
        } @else {
            (scrolling("API keys", html! {
                table #keys {
                    thead { tr { th scope="col" { "Name" } th scope="col" { "Client id" }
                        th scope="col" { "Scopes" } th scope="col" { "Revoke" } } }
                    tbody { @for key in &keys { (row(signed, key)) } }
                }
            }))
        }
        (create_form(signed))
    };
    Ok(page(signed, PATH, "API keys", refusal, body))
}

/// The new key's token, this once, with the warning that it will not be shown again.
fn secret_once(key: &Credential, token: &str) -> Markup {
    html! {
        div.notice #new-key role="status" {
            p { strong { "Copy the token of " (key.name) " now: it is shown only this once." }
                " qredge keeps only its hash, so it cannot show it again; if it is lost, revoke the key and make another." }
            p { "Use it as " code { "Authorization: Bearer TOKEN" } ":" }
            input #new-key-token type="text" readonly value=(token) aria-label="The new key's token";
        }
    }
}

fn row(signed: &Signed, key: &Credential) -> Markup {
    let scopes = key.scopes.as_ref().map_or_else(
        || "everything your role allows".to_owned(),
        |scopes| {
            scopes
                .iter()
                .map(|s| s.as_str())
                .collect::<Vec<_>>()
                .join(", ")
        },
    );
    html! {
        tr data-client-id=(key.client_id) {
            td { (key.name) }
            td { code { (key.client_id) } }
            td { (scopes) }
            td {
                form.inline method="post" action={ (PATH) "/" (key.client_id) "/revoke" } {
                    (csrf::hidden(&signed.csrf))
                    (stale::hidden(key.version))
                    button.danger type="submit" { "Revoke" }
                }
            }
        }
    }
}

fn create_form(signed: &Signed) -> Markup {
    html! {
        form.card #create-key method="post" action=(PATH) {
            (csrf::hidden(&signed.csrf))
            h2 { "New key" }
            label for="key-name" { "Name" }
            input #key-name type="text" name="name" required;
            fieldset {
                legend { "Scopes" }
                @for scope in Scope::ALL {
                    label.check {
                        input type="checkbox" name={ "scope:" (scope.as_str()) } value="on";
                        " " (scope.as_str())
                    }
                }
            }
            div.actions { button #create-key-button type="submit" { "Create key" } }
        }
    }
}

pub async fn create(
    State(state): State<DashState>,
    Posted { signed, form }: Posted,
) -> Result<Response, PageError> {
    let scopes: Vec<Scope> = Scope::ALL
        .into_iter()
        .filter(|scope| form.get(&format!("scope:{}", scope.as_str())) == "on")
        .collect();
    let asked = NewKey::new(form.get("name").to_owned(), scopes, None);
    match create_key(&state.app, &account(&signed), asked).await {
        Ok(created) => {
            let notice = Notice {
                text: created.token,
                expires_at: now_ms() + NEW_TOKEN_MS,
            };
            let client_id = &created.key.client_id;
            let key = new_token_key(&signed, client_id);
            state.app.store.create_notice(&key, &notice).await?;
            Ok(Redirect::to(&format!("{PATH}?created={client_id}")).into_response())
        }
        Err(refusal) => keys_page(&state, &signed, None, Some(&refusal)).await,
    }
}

pub async fn revoke(
    State(state): State<DashState>,
    Path(id): Path<String>,
    Posted { signed, form }: Posted,
) -> Result<Response, PageError> {
    let drawn_at = stale::precondition(&form)?;
    match revoke_key(&state.app, &account(&signed), &id, drawn_at).await {
        Ok(_) => Ok(Redirect::to(PATH).into_response()),
        Err(refusal) => {
            let refusal = stale::worded(refusal, "The key");
            keys_page(&state, &signed, None, Some(&refusal)).await
        }
    }
}
