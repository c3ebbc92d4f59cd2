//! API keys (`/api/keys-api`): credentials a member makes for their scripts, each with a name and
//! scopes, used as `Authorization: Bearer CLIENT_ID.SECRET` (or as the reference's two headers).
//! The secret is shown once, at creation; the store keeps its SHA-256.
//!
//! A key records who made it. A member's own key acts in all their teams; a key an admin makes
//! for someone else is bound to the teams where the admin manages and the holder is a member
//! (`Binding`), and a key made with a bound key is bound the same way: a key never reaches
//! further than the credential that made it, as with scopes.

use std::collections::{BTreeSet, HashMap};

use axum::extract::rejection::QueryRejection;
use axum::extract::{Path, Query, State};
use axum::http::{StatusCode, Uri};
use axum::response::{IntoResponse, Response};
use serde::{Deserialize, Serialize};

use super::auth::Account;
use super::body::ApiJson;
use super::error::ErrorBody;
use super::members::member_by_email;
use super::paging::{paged_get, Cursor, Paged, RecordPage};
use super::precondition::{stale, IfMatchHeader, Precondition, Tag};
use super::view::{ok, Envelope};
use super::{ApiError, AppState};
use crate::clock::now_ms;
use crate::ids::{new_id, new_secret};
use crate::model::{text, Binding, Credential, Scope, FIRST_VERSION};
use crate::store::{self, hash_secret, StoreError};

const MAX_NAME_LEN: usize = 100;
/// Keys per page of the key list, by default and at most.
const DEFAULT_KEYS: usize = 100;
const MAX_KEYS: usize = 1000;

#[derive(Deserialize, utoipa::ToSchema)]
#[serde(deny_unknown_fields)]
#[serde(rename_all = "camelCase")]
pub struct NewKey {
    #[schema(min_length = 1, max_length = 100, pattern = r"\S")]
    name: String,
    #[schema(min_items = 1)]
    scopes: Vec<Scope>,
    /// A key for another member (who has no credential yet, say), bound to the teams of theirs
    /// that the caller manages. None: for the caller.
    #[schema(format = Email, max_length = 254)]
    member_email: Option<String>,
}

/// A key as listed: never its secret.
#[derive(Serialize, utoipa::ToSchema)]
#[serde(rename_all = "camelCase")]
pub struct KeyView {
    pub(crate) client_id: String,
    pub(crate) name: String,
    /// null: everything the member's role allows (the first start's credential).
    scopes: Option<Vec<Scope>>,
    created_at: i64,
    /// The teams a key made by someone else is bound to; null: the member's own key, acting in
    /// all their teams.
    teams: Option<Vec<String>>,
}

impl From<Credential> for KeyView {
    fn from(c: Credential) -> Self {
        KeyView {
            client_id: c.client_id,
            name: c.name,
            scopes: c.scopes,
            created_at: c.created_at,
            teams: c.binding.map(|b| b.teams.into_iter().collect()),
        }
    }
}

/// The answer to a creation: the only time the secret is shown.
#[derive(Serialize, utoipa::ToSchema)]
#[serde(rename_all = "camelCase")]
pub struct CreatedKey {
    #[serde(flatten)]
    pub(crate) key: KeyView,
    client_secret: String,
    /// For `Authorization: Bearer …`.
    pub(crate) token: String,
}

/// `POST /api/keys-api`: a new key for the caller (or, with `memberEmail`, for a member of a team
/// the caller manages), with at most the calling credential's scopes.
#[utoipa::path(
    post,
    path = "/api/keys-api",
    operation_id = "createKey",
    tag = "API keys",
    security(("clientId" = [], "clientSecret" = []), ("bearer" = [])),
    request_body = NewKey,
    responses(
        (status = 201, description = "The key, with its secret and token shown this once; its ETag header is its version", body = Envelope<CreatedKey>),
        (status = 400, description = "Malformed JSON, an unknown field or scope, a blank or too long name, or no scopes", body = ErrorBody),
        (status = 403, description = "A scope the calling key lacks, a key for the owner, or a key without keys:write", body = ErrorBody),
        (status = 404, description = "memberEmail is in no team the caller manages", body = ErrorBody),
    )
)]
pub async fn create(
    State(state): State<AppState>,
    account: Account,
    ApiJson(body): ApiJson<NewKey>,
) -> Result<impl IntoResponse, ApiError> {
    let created = create_key(&state, &account, body).await?;
    Ok((StatusCode::CREATED, Tag(FIRST_VERSION), ok(created)))
}

impl NewKey {
    /// A key named `name` with `scopes`, for the caller (`member_email` None) or that member.
    pub(crate) fn new(name: String, scopes: Vec<Scope>, member_email: Option<String>) -> Self {
        Self {
            name,
            scopes,
            member_email,
        }
    }
}

/// Makes the key `body` asks for (see `create`): the only time its secret is known.
pub(crate) async fn create_key(
    state: &AppState,
    account: &Account,
    body: NewKey,
) -> Result<CreatedKey, ApiError> {
    let name =
        text::required_line("name", &body.name, MAX_NAME_LEN).map_err(ApiError::bad_request)?;
    let mut scopes: Vec<Scope> = Vec::new();
    for scope in body.scopes {
        if !scopes.contains(&scope) {
            scopes.push(scope);
        }
    }
    if scopes.is_empty() {
        return Err(ApiError::bad_request(format!(
            "scopes must name at least one of {}",
            Scope::ALL.map(Scope::as_str).join(", ")
        )));
    }
    // A key cannot hand out more than the credential that makes it may do.
    if let Some(beyond) = scopes
        .iter()
        .find(|s| !account.credential.allows(Some(**s)))
    {
        return Err(ApiError::forbidden(format!(
            "this API key cannot grant the {} scope it does not have",
            beyond.as_str()
        )));
    }
    let (holder, binding) = match &body.member_email {
        None => (account.member.id.clone(), own_binding(account)),
        Some(email) => key_holder(state, account, email).await?,
    };
    let secret = new_secret();
    let credential = Credential {
        version: crate::model::FIRST_VERSION,
        client_id: new_id("cli"),
        secret_sha256: hash_secret(&secret),
        member_id: holder,
        created_at: now_ms(),
        name,
        scopes: Some(scopes),
        made_by: Some(account.member.id.clone()),
        binding,
    };
    let gone = || {
        ApiError::not_found(
            "the member was deleted or left the teams the key was for; nothing made",
        )
    };
    match state.store.insert_credential(&credential).await {
        Err(StoreError::NotFound) => return Err(gone()),
        other => other?,
    }
    let token = format!("{}.{secret}", credential.client_id);
    Ok(CreatedKey {
        key: credential.into(),
        client_secret: secret,
        token,
    })
}

/// The binding of a key the caller makes for themselves: none with their own key; with a bound
/// key, the same granter and the teams it reaches now.
fn own_binding(account: &Account) -> Option<Binding> {
    let binding = account.credential.binding.as_ref()?;
    Some(Binding {
        granted_by: binding.granted_by.clone(),
        teams: account.member.teams.keys().cloned().collect(),
    })
}

/// The member a key is made for, and its binding: the caller (see `own_binding`), or a member
/// of teams the caller manages (an admin there, not paused), bound to those teams; never an
/// owner other than oneself.
async fn key_holder(
    state: &AppState,
    account: &Account,
    email: &str,
) -> Result<(String, Option<Binding>), ApiError> {
    let email = email.trim().to_lowercase();
    let not_found = || ApiError::not_found(format!("no member {email:?} in your teams"));
    let target = member_by_email(state, &account.member.org_id, &email)
        .await?
        .ok_or_else(not_found)?;
    if target.id == account.member.id {
        return Ok((target.id, own_binding(account)));
    }
    // Only teams the caller manages: an admin of one team obtains no credential for another
    // through a shared member, then or after the member joins it.
    let teams: BTreeSet<String> = target
        .teams
        .keys()
        .filter(|team| account.member.manages(team))
        .cloned()
        .collect();
    if teams.is_empty() {
        return Err(not_found());
    }
    if target.is_owner() {
        return Err(ApiError::forbidden(
            "keys for the owner are made by the owner",
        ));
    }
    let binding = Binding {
        granted_by: account.member.id.clone(),
        teams,
    };
    Ok((target.id, Some(binding)))
}

/// `GET /api/keys-api`: the caller's keys, oldest first, without secrets (with a bound key,
/// only the keys bound within its teams), a page at a time.
#[utoipa::path(
    get,
    path = "/api/keys-api",
    operation_id = "listKeys",
    tag = "API keys",
    security(("clientId" = [], "clientSecret" = []), ("bearer" = [])),
    params(
        ("limit" = Option<u32>, Query, minimum = 1, maximum = 1000, description = "Keys per page (default 100)"),
        ("cursor" = Option<String>, Query, description = "A page's nextCursor: the page after it"),
    ),
    responses(
        (status = 200, description = "A page of the caller's keys, oldest first, without secrets; nextCursor (and a Link header) when more follow", body = Paged<Vec<KeyView>>),
        (status = 400, description = "limit out of range, or a cursor this list did not give", body = ErrorBody),
    )
)]
pub async fn list(
    State(state): State<AppState>,
    account: Account,
    uri: Uri,
    params: Result<Query<HashMap<String, String>>, QueryRejection>,
) -> Result<Response, ApiError> {
    let Query(params) = params.map_err(|e| ApiError::bad_request(e.body_text()))?;
    let page = RecordPage::of(&params, DEFAULT_KEYS, MAX_KEYS, Cursor::in_keys)?;
    let keys = account_keys(&state, &account).await?;
    let (keys, next) = page.take(
        keys,
        |key| (key.created_at, key.client_id.as_str()),
        |t, id| Cursor::Keys { t, id },
    );
    let views: Vec<KeyView> = keys.into_iter().map(KeyView::from).collect();
    Ok(paged_get(&state, &uri, views, next))
}

/// The caller's keys that the calling credential sees, in the store's order.
pub(crate) async fn account_keys(
    state: &AppState,
    account: &Account,
) -> Result<Vec<Credential>, ApiError> {
    let mut keys = state.store.member_credentials(&account.member.id).await?;
    keys.retain(|key| account.credential.sees(key));
    Ok(keys)
}

/// `DELETE /api/keys-api/{clientId}`: revokes one of the caller's keys at once (the one in use
/// included). Other members' keys, and with a bound key the keys it does not list, are as unknown
/// as missing ones.
#[utoipa::path(
    delete,
    path = "/api/keys-api/{id}",
    operation_id = "revokeKey",
    tag = "API keys",
    params(("id" = String, Path, description = "The key's clientId (`cli_…`)"), IfMatchHeader),
    security(("clientId" = [], "clientSecret" = []), ("bearer" = [])),
    responses(
        (status = 200, description = "The revoked key, refused from the next request on", body = Envelope<KeyView>),
        (status = 400, description = "A malformed If-Match", body = ErrorBody),
        (status = 404, description = "No such key of the caller's", body = ErrorBody),
        (status = 412, description = "If-Match names none of the key's current version: nothing revoked", body = ErrorBody),
    )
)]
pub async fn revoke(
    State(state): State<AppState>,
    account: Account,
    Path(client_id): Path<String>,
    precondition: Precondition,
) -> Result<impl IntoResponse, ApiError> {
    let key = revoke_key(&state, &account, &client_id, precondition).await?;
    Ok(ok(KeyView::from(key)))
}

/// Revokes the caller's key `client_id` (see `revoke`); the key as it was.
pub(crate) async fn revoke_key(
    state: &AppState,
    account: &Account,
    client_id: &str,
    precondition: Precondition,
) -> Result<Credential, ApiError> {
    let not_found = || ApiError::not_found(format!("API key {client_id:?} not found"));
    let key = state
        .store
        .credential(client_id)
        .await?
        .filter(|key| key.member_id == account.member.id && account.credential.sees(key))
        .ok_or_else(not_found)?;
    let check = store::check(move |stored: &Credential| precondition.check(stored.version));
    match state.store.delete_credential(&key.client_id, check).await {
        Ok(true) => {}
        Ok(false) => return Err(not_found()),
        Err(StoreError::Stale { current }) => return Err(stale("key", current)),
        Err(e) => return Err(e.into()),
    }
    Ok(key)
}
