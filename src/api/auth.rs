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
    /// The member as this credential may act: `teams` holds only the teams it reaches now (all of
    /// the member's for their own key), so every check of a team sees what the key may do. A
    /// view, never to be saved back.
    pub member: Member,
    pub credential: Credential,
    /// Their organization's plan: what its rate and code limits are.
    pub plan: Plan,
}

impl Account {
    /// The member with their own, unscoped rights in all their teams, as their own first
    /// credential has: what a signed-in dashboard session acts as (it presents no key). The
    /// credential is a stand-in, never stored.
    pub fn signed_in(member: Member, plan: Plan) -> Self {
        let credential = Credential {
            version: 0,
            client_id: String::new(),
            secret_sha256: String::new(),
            member_id: member.id.clone(),
            created_at: 0,
            name: String::new(),
            scopes: None,
            made_by: None,
            binding: None,
        };
        Self {
            member,
            credential,
            plan,
        }
    }
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

/// What an unknown client id's presented secret is compared with, so that refusing it costs
/// what refusing a wrong secret costs: one hash, one comparison. Not hex: no secret hashes to it.
const NO_SECRET_SHA256: &str = "unknown-client-id-unknown-client-id-unknown-client-id-unknown-cl";

/// The credential if `secret` is its secret. The secret is hashed and compared even when there
/// is no credential (an unknown client id), so that timing tells no one which ids exist.
fn verified(
    credential: Option<Credential>,
    secret: &str,
    hash: impl Fn(&str) -> String,
) -> Option<Credential> {
    let stored = credential
        .as_ref()
        .map_or(NO_SECRET_SHA256, |c| c.secret_sha256.as_str());
    let matches = bool::from(hash(secret).as_bytes().ct_eq(stored.as_bytes()));
    credential.filter(|_| matches)
}

/// The member behind the request's credential, if the credential's scopes allow the endpoint.
/// Paused members, and members who can act in none of their teams, are refused.
pub(super) async fn authenticate(parts: &Parts, state: &AppState) -> Result<Account, ApiError> {
    let (client_id, secret) = presented(parts)?;
    let store = &state.store;
    let invalid = || ApiError::unauthorized("invalid client id or secret");
    let credential = store.credential(client_id).await?;
    let credential = verified(credential, secret, hash_secret).ok_or_else(invalid)?;
    let needed = required_scope(&parts.method, parts.uri.path());
    if !credential.allows(needed) {
        return Err(ApiError::forbidden(match needed {
            Some(scope) => format!("this API key lacks the {} scope", scope.as_str()),
            None => "this API key's scopes do not cover this endpoint".into(),
        }));
    }
    let member = acting_member(state, &credential)
        .await?
        .ok_or_else(invalid)?;
    let org = store.org(&member.org_id).await?;
    let plan = org.map(|org| org.plan).unwrap_or_default();
    Ok(Account {
        member,
        credential,
        plan,
    })
}

/// The credential's member as it may act now: their teams narrowed to the credential's reach
/// (`Credential::reach`, read afresh on every request). None when the member is gone; refused
/// when they are paused or can act in no team.
async fn acting_member(
    state: &AppState,
    credential: &Credential,
) -> Result<Option<Member>, ApiError> {
    let Some(mut member) = state.store.member(&credential.member_id).await? else {
        return Ok(None);
    };
    if member.paused {
        return Err(ApiError::forbidden("this member is paused"));
    }
    let granter = match &credential.binding {
        Some(binding) => state.store.member(&binding.granted_by).await?,
        None => None,
    };
    member.teams = credential.reach(&member, granter.as_ref());
    if member.is_active_anywhere() {
        return Ok(Some(member));
    }
    Err(ApiError::forbidden(if !member.teams.is_empty() {
        "this member is paused in all their teams"
    } else if credential.binding.is_some() {
        "this API key acts in no team now: its member left the teams it was made for, or its \
         maker no longer manages them"
    } else {
        "this member belongs to no team"
    }))
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

#[cfg(test)]
mod tests {
    use std::cell::Cell;

    use super::*;

    #[test]
    fn an_unknown_client_id_costs_the_hash_and_comparison_a_wrong_secret_costs() {
        let secret = "qsk_right";
        let credential = Credential {
            version: crate::model::FIRST_VERSION,
            client_id: "cli_1".into(),
            secret_sha256: hash_secret(secret),
            member_id: "mem_1".into(),
            created_at: 0,
            name: String::new(),
            scopes: None,
            made_by: None,
            binding: None,
        };
        let hashed = Cell::new(0);
        let counting = |s: &str| {
            hashed.set(hashed.get() + 1);
            hash_secret(s)
        };
        assert!(verified(None, "qsk_wrong", counting).is_none());
        assert_eq!(
            hashed.get(),
            1,
            "an unknown id: the presented secret is hashed"
        );
        assert!(verified(Some(credential.clone()), "qsk_wrong", counting).is_none());
        assert_eq!(hashed.get(), 2, "a wrong secret: hashed once, the same");
        assert!(verified(Some(credential), secret, counting).is_some());
        assert_eq!(
            NO_SECRET_SHA256.len(),
            hash_secret("").len(),
            "compared in full"
        );
        assert!(verified(None, NO_SECRET_SHA256, hash_secret).is_none());
    }
}
