//! Who is calling, for which team: the reference's three headers, checked on every request.
//! `Caller` is a member acting in the team the request names; `Account` a member across their
//! teams.

use axum::extract::FromRequestParts;
use axum::http::request::Parts;
use subtle::ConstantTimeEq;

use super::{ApiError, AppState};
use crate::model::{Member, Role, Team};
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
}

impl Caller {
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
/// if any, is not consulted).
#[derive(Debug, Clone)]
pub struct Account {
    pub member: Member,
}

/// The member behind the request's client id and secret; paused members are refused.
async fn authenticate(parts: &Parts, state: &AppState) -> Result<Member, ApiError> {
    let client_id = header(parts, CLIENT_ID_HEADER)?;
    let secret = header(parts, CLIENT_SECRET_HEADER)?;
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
    let member = store
        .member(&credential.member_id)
        .await?
        .ok_or_else(invalid)?;
    if member.paused {
        return Err(ApiError::forbidden("this member is paused"));
    }
    Ok(member)
}

impl FromRequestParts<AppState> for Account {
    type Rejection = ApiError;

    async fn from_request_parts(parts: &mut Parts, state: &AppState) -> Result<Self, ApiError> {
        Ok(Account {
            member: authenticate(parts, state).await?,
        })
    }
}

impl FromRequestParts<AppState> for Caller {
    type Rejection = ApiError;

    async fn from_request_parts(parts: &mut Parts, state: &AppState) -> Result<Self, ApiError> {
        let member = authenticate(parts, state).await?;
        let team_id = header(parts, TEAM_HEADER)?.to_owned();
        // An unknown team and someone else's team look the same: nothing leaks.
        let no_access =
            || ApiError::forbidden(format!("this credential has no access to team {team_id:?}"));
        let role = *member.teams.get(&team_id).ok_or_else(no_access)?;
        let team = state.store.team(&team_id).await?.ok_or_else(no_access)?;
        Ok(Caller { member, team, role })
    }
}
