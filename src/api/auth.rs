//! Who is calling, for which team: the reference's three headers (or a Bearer token in place of
//! the client id and secret), checked on every request, with the credential's scopes.
//! `Caller` is a member acting in the team the request names; `Account` a member across their
//! teams.

use axum::extract::FromRequestParts;
use axum::http::header::AUTHORIZATION;
use axum::http::request::Parts;
use axum::http::Method;
use subtle::ConstantTimeEq;

use super::{ApiError, AppState};
use crate::model::{Credential, Member, Plan, Role, Scope, Team};
use crate::store::hash_secret;

pub const TEAM_HEADER: &str = "x-request-team-id";
pub const CLIENT_ID_HEADER: &str = "x-request-client-id";
pub const CLIENT_SECRET_HEADER: &str = "x-request-client-secret";

/// An authenticated member acting in one of their teams.
#[derive(Debug, Clone)]
pub struct Caller {
    pub member: Member,
    pub team: Team,
    pub role: Role,
    pub plan: Plan,
}

impl Caller {
    /// Refuses callers who are not an admin or the owner of the team: "only an admin or the
    /// owner can {action}".
    pub fn require_admin(&self, action: &str) -> Result<(), ApiError> {
        if self.role >= Role::Admin {
            Ok(())
        } else {
            Err(ApiError::forbidden(format!(
                "only an admin or the owner can {action}"
            )))
        }
    }

    /// Refuses callers whose role cannot change codes.
    pub fn require_code_writer(&self) -> Result<(), ApiError> {
        if self.role.can_write_codes() {
            Ok(())
        } else {
            Err(ApiError::forbidden(
                "your role in this team cannot create or change QR codes",
            ))
        }
    }
}

fn header<'a>(parts: &'a Parts, name: &str) -> Result<&'a str, ApiError> {
    let value = parts
        .headers
        .get(name)
        .ok_or_else(|| ApiError::unauthorized(format!("missing {name} header")))?;
    value
        .to_str()
        .map_err(|_| ApiError::unauthorized(format!("{name} header is not valid text")))
}

/// An authenticated member, for the endpoints that span their teams (the request's team header,
/// if any, is not consulted), with the credential they called with.
#[derive(Debug, Clone)]
pub struct Account {
    pub member: Member,
    pub credential: Credential,
    /// Their organization's plan: what its rate and code limits are.
    pub plan: Plan,
}

/// The client id and secret a request presents: `Authorization: Bearer CLIENT_ID.SECRET`, or
/// the reference's two headers.
fn presented(parts: &Parts) -> Result<(&str, &str), ApiError> {
    let Some(value) = parts.headers.get(AUTHORIZATION) else {
        return Ok((
            header(parts, CLIENT_ID_HEADER)?,
            header(parts, CLIENT_SECRET_HEADER)?,
        ));
    };
    let malformed = || ApiError::unauthorized("Authorization must be `Bearer CLIENT_ID.SECRET`");
    let token = value
        .to_str()
        .ok()
        .and_then(|text| text.strip_prefix("Bearer "))
        .ok_or_else(malformed)?;
    token.trim().split_once('.').ok_or_else(malformed)
}

/// The scope an endpoint needs, from its area (the path's first segment after `/api/`) and
/// method. None: no scope covers it, and only an unscoped credential may call it.
fn required_scope(method: &Method, path: &str) -> Option<Scope> {
    let reads = *method == Method::GET || *method == Method::HEAD;
    let area = path.strip_prefix("/api/")?.split('/').next()?;
    match area {
        "qrs-api" | "qr-templates-api" if reads => Some(Scope::CodesRead),
        "qrs-api" | "qr-templates-api" => Some(Scope::CodesWrite),
        // Its POSTs (bulk, overviews) are reads with a body.
        "analytics-api" => Some(Scope::AnalyticsRead),
        "teams-api" if reads => Some(Scope::TeamsRead),
        "teams-api" => Some(Scope::TeamsWrite),
        "keys-api" => Some(Scope::KeysWrite),
        _ => None,
    }
}

/// The member behind the request's credential, if the credential's scopes allow the endpoint;
/// paused members are refused.
pub(super) async fn authenticate(parts: &Parts, state: &AppState) -> Result<Account, ApiError> {
    let (client_id, secret) = presented(parts)?;
    let store = &state.store;
    let invalid = || ApiError::unauthorized("invalid client id or secret");
    let credential = store.credential(client_id).await?.ok_or_else(invalid)?;
    let presented = hash_secret(secret);
    if !bool::from(
        presented
            .as_bytes()
            .ct_eq(credential.secret_sha256.as_bytes()),
    ) {
        return Err(invalid());
    }
    let needed = required_scope(&parts.method, parts.uri.path());
    if !credential.allows(needed) {
        return Err(ApiError::forbidden(match needed {
            Some(scope) => format!("this API key lacks the {} scope", scope.as_str()),
            None => "this API key's scopes do not cover this endpoint".into(),
        }));
    }
    let member = store
        .member(&credential.member_id)
        .await?
        .ok_or_else(invalid)?;
    if member.paused {
        return Err(ApiError::forbidden("this member is paused"));
    }
    let org = store.org(&member.org_id).await?;
    let plan = org.map(|org| org.plan).unwrap_or_default();
    Ok(Account {
        member,
        credential,
        plan,
    })
}

/// The account the rate-limit layer authenticated, or (outside it) authenticated here.
async fn account(parts: &Parts, state: &AppState) -> Result<Account, ApiError> {
    match parts.extensions.get::<Account>() {
        Some(account) => Ok(account.clone()),
        None => authenticate(parts, state).await,
    }
}

impl FromRequestParts<AppState> for Account {
    type Rejection = ApiError;

    async fn from_request_parts(parts: &mut Parts, state: &AppState) -> Result<Self, ApiError> {
        account(parts, state).await
    }
}

impl FromRequestParts<AppState> for Caller {
    type Rejection = ApiError;

    async fn from_request_parts(parts: &mut Parts, state: &AppState) -> Result<Self, ApiError> {
        let Account { member, plan, .. } = account(parts, state).await?;
        let team_id = header(parts, TEAM_HEADER)?.to_owned();
        // An unknown team and someone else's team look the same: nothing leaks.
        let no_access =
            || ApiError::forbidden(format!("this credential has no access to team {team_id:?}"));
        let role = *member.teams.get(&team_id).ok_or_else(no_access)?;
        if !member.is_active_in(&team_id) {
            return Err(ApiError::forbidden(format!(
                "this member is paused in team {team_id:?}"
            )));
        }
        let team = state.store.team(&team_id).await?.ok_or_else(no_access)?;
        Ok(Caller {
            member,
            team,
            role,
            plan,
        })
    }
}
