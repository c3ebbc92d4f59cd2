//! API keys (`/api/keys-api`): credentials a member makes for their scripts, each with a name and
//! scopes, used as `Authorization: Bearer CLIENT_ID.SECRET` (or as the reference's two headers).
//! The secret is shown once, at creation; the store keeps its SHA-256.

use axum::extract::{Path, State};
use axum::http::StatusCode;
use axum::response::IntoResponse;
use serde::{Deserialize, Serialize};

use super::auth::Account;
use super::body::ApiJson;
use super::error::ErrorBody;
use super::members::member_by_email;
use super::view::{ok, Envelope};
use super::{ApiError, AppState};
use crate::clock::now_ms;
use crate::ids::{new_id, new_secret};
use crate::model::{Credential, Scope};
use crate::store::hash_secret;

const MAX_NAME_LEN: usize = 100;

#[derive(Deserialize, utoipa::ToSchema)]
#[serde(deny_unknown_fields)]
#[serde(rename_all = "camelCase")]
pub struct NewKey {
    #[schema(min_length = 1, max_length = 100, pattern = r"\S")]
    name: String,
    #[schema(min_items = 1)]
    scopes: Vec<Scope>,
    /// A key for another member (who has no credential yet, say): an admin of all their teams
    /// may make one. None: for the caller.
    #[schema(format = Email, max_length = 254)]
    member_email: Option<String>,
}

/// A key as listed: never its secret.
#[derive(Serialize, utoipa::ToSchema)]
#[serde(rename_all = "camelCase")]
pub struct KeyView {
    client_id: String,
    name: String,
    /// null: everything the member's role allows (the first start's credential).
    scopes: Option<Vec<Scope>>,
    created_at: i64,
}

impl From<Credential> for KeyView {
    fn from(c: Credential) -> Self {
        KeyView {
            client_id: c.client_id,
            name: c.name,
            scopes: c.scopes,
            created_at: c.created_at,
        }
    }
}

/// The answer to a creation: the only time the secret is shown.
#[derive(Serialize, utoipa::ToSchema)]
#[serde(rename_all = "camelCase")]
pub struct CreatedKey {
    #[serde(flatten)]
    key: KeyView,
    client_secret: String,
    /// For `Authorization: Bearer …`.
    token: String,
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
        (status = 201, description = "The key, with its secret and token shown this once", body = Envelope<CreatedKey>),
        (status = 400, description = "Malformed JSON, an unknown field or scope, a blank or too long name, or no scopes", body = ErrorBody),
        (status = 403, description = "A scope the calling key lacks, a key for the owner, or a key without keys:write", body = ErrorBody),
        (status = 404, description = "memberEmail is no member of teams the caller manages", body = ErrorBody),
    )
)]
pub async fn create(
    State(state): State<AppState>,
    account: Account,
    ApiJson(body): ApiJson<NewKey>,
) -> Result<impl IntoResponse, ApiError> {
    let name = body.name.trim();
    if name.is_empty() || name.chars().count() > MAX_NAME_LEN {
        return Err(ApiError::bad_request(format!(
            "name must be 1 to {MAX_NAME_LEN} characters"
        )));
    }
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
    let holder = match &body.member_email {
        None => account.member.id.clone(),
        Some(email) => key_holder(&state, &account, email).await?,
    };
    let secret = new_secret();
    let credential = Credential {
        client_id: new_id("cli"),
        secret_sha256: hash_secret(&secret),
        member_id: holder,
        created_at: now_ms(),
        name: name.to_owned(),
        scopes: Some(scopes),
    };
    state.store.insert_credential(&credential).await?;
    let token = format!("{}.{secret}", credential.client_id);
    Ok((
        StatusCode::CREATED,
        ok(CreatedKey {
            key: credential.into(),
            client_secret: secret,
            token,
        }),
    ))
}

/// The member a key is made for: the caller, or a member all of whose teams the caller manages
/// (an admin there, not paused); never an owner other than oneself.
async fn key_holder(state: &AppState, account: &Account, email: &str) -> Result<String, ApiError> {
    let email = email.trim().to_lowercase();
    let not_found = || ApiError::not_found(format!("no member {email:?} in your teams"));
    let target = member_by_email(state, &account.member.org_id, &email)
        .await?
        .ok_or_else(not_found)?;
    if target.id == account.member.id {
        return Ok(target.id);
    }
    // Every team of theirs: a key acts in all of them, so an admin of one team cannot obtain a
    // credential for another team through a shared member.
    let manages =
        !target.teams.is_empty() && target.teams.keys().all(|team| account.member.manages(team));
    if !manages {
        return Err(not_found());
    }
    if target.is_owner() {
        return Err(ApiError::forbidden(
            "keys for the owner are made by the owner",
        ));
    }
    Ok(target.id)
}

/// `GET /api/keys-api`: the caller's keys, oldest first, without secrets.
#[utoipa::path(
    get,
    path = "/api/keys-api",
    operation_id = "listKeys",
    tag = "API keys",
    security(("clientId" = [], "clientSecret" = []), ("bearer" = [])),
    responses(
        (status = 200, description = "The caller's keys, oldest first, without secrets", body = Envelope<Vec<KeyView>>),
    )
)]
pub async fn list(
    State(state): State<AppState>,
    account: Account,
) -> Result<impl IntoResponse, ApiError> {
    let keys = state.store.member_credentials(&account.member.id).await?;
    Ok(ok(keys.into_iter().map(KeyView::from).collect::<Vec<_>>()))
}

/// `DELETE /api/keys-api/{clientId}`: revokes one of the caller's keys at once (the one in use
/// included). Other members' keys are as unknown as missing ones.
#[utoipa::path(
    delete,
    path = "/api/keys-api/{id}",
    operation_id = "revokeKey",
    tag = "API keys",
    params(("id" = String, Path, description = "The key's clientId (`cli_…`)")),
    security(("clientId" = [], "clientSecret" = []), ("bearer" = [])),
    responses(
        (status = 200, description = "The revoked key, refused from the next request on", body = Envelope<KeyView>),
        (status = 404, description = "No such key of the caller's", body = ErrorBody),
    )
)]
pub async fn revoke(
    State(state): State<AppState>,
    account: Account,
    Path(client_id): Path<String>,
) -> Result<impl IntoResponse, ApiError> {
    let not_found = || ApiError::not_found(format!("API key {client_id:?} not found"));
    let key = state
        .store
        .credential(&client_id)
        .await?
        .filter(|key| key.member_id == account.member.id)
        .ok_or_else(not_found)?;
    if !state.store.delete_credential(&key.client_id).await? {
        return Err(not_found());
    }
    Ok(ok(KeyView::from(key)))
}
