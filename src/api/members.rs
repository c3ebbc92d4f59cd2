//! A team's members (`/api/teams-api/{id}/members…` and `/api/teams-api/members/bulk`): added or
//! given a role by email, paused and reactivated, removed from a team, deleted from the
//! organization. Admins and the owner manage members; only the owner deletes one from the
//! organization; the owner role is never assigned, changed, paused or removed.
//!
//! qredge sends no email: a person added for the first time becomes a member with `invitedAt`
//! set, and reaches the API once someone gives them a credential.

use axum::extract::{Path, State};
use axum::response::IntoResponse;
use axum::Json;
use serde::Deserialize;
use serde_json::json;

use super::auth::{Account, Caller};
use super::body::ApiJson;
use super::teams::own_team;
use super::{ApiError, AppState};
use crate::clock::now_ms;
use crate::ids::new_id;
use crate::model::{Member, Role};
use crate::store::StoreError;

const MAX_NAME_CHARS: usize = 100;
const MAX_EMAIL_LEN: usize = 254;
const MAX_BULK_TEAMS: usize = 50;

/// A role an admin may give: admin, editor or viewer.
fn assignable(role: Role) -> Result<Role, ApiError> {
    if role == Role::Owner {
        return Err(ApiError::bad_request(
            "role \"owner\" cannot be assigned; expected admin, editor or viewer",
        ));
    }
    Ok(role)
}

/// An address of the form `local@domain`, lower-cased (the organization's key for a person).
fn valid_email(email: &str) -> Result<String, ApiError> {
    let email = email.trim().to_lowercase();
    let well_formed = email.len() <= MAX_EMAIL_LEN
        && !email.chars().any(|c| c.is_whitespace() || c.is_control())
        && email.split_once('@').is_some_and(|(local, domain)| {
            !local.is_empty()
                && !domain.is_empty()
                && !domain.contains('@')
                && !domain.starts_with('.')
                && !domain.ends_with('.')
        });
    if well_formed {
        Ok(email)
    } else {
        Err(ApiError::bad_request(format!(
            "email {email:?} is not a valid email address"
        )))
    }
}

fn valid_name(name: &str) -> Result<String, ApiError> {
    let name = name.trim();
    if name.is_empty() || name.chars().count() > MAX_NAME_CHARS {
        return Err(ApiError::bad_request(format!(
            "name must be 1 to {MAX_NAME_CHARS} characters"
        )));
    }
    Ok(name.to_owned())
}

/// The caller acting in team `id` (the header's) as an admin or the owner.
fn team_admin(caller: Caller, id: &str) -> Result<Caller, ApiError> {
    let caller = own_team(caller, id)?;
    caller.require_admin("manage the team's members")?;
    Ok(caller)
}

/// Gives the person with `email` these roles, making them a member first if the organization
/// has no one with that email. The owner's role is never changed.
async fn give_roles(
    state: &AppState,
    org_id: &str,
    name: &str,
    email: &str,
    roles: &[(String, Role)],
) -> Result<Member, ApiError> {
    // Two admins adding the same new person at once: the second finds the first's record.
    for _ in 0..3 {
        let existing = member_by_email(state, org_id, email).await?;
        let mut member = match existing {
            Some(member) => member,
            None => Member {
                id: new_id("mem"),
                org_id: org_id.to_owned(),
                name: name.to_owned(),
                email: email.to_owned(),
                teams: Default::default(),
                paused: false,
                created_at: now_ms(),
                paused_teams: Default::default(),
                invited_at: Some(now_ms()),
            },
        };
        for (team_id, role) in roles {
            if member.teams.get(team_id) == Some(&Role::Owner) {
                return Err(ApiError::forbidden("the owner's role cannot be changed"));
            }
            member.teams.insert(team_id.clone(), *role);
        }
        match state.store.save_member(&member).await {
            Err(StoreError::EmailTaken(_)) => continue,
            Err(e) => return Err(e.into()),
            Ok(()) => return Ok(member),
        }
    }
    Err(ApiError::conflict(format!(
        "the member {email:?} is being changed by another request; try again"
    )))
}

/// The organization's member with `email` (lower case).
pub(super) async fn member_by_email(
    state: &AppState,
    org_id: &str,
    email: &str,
) -> Result<Option<Member>, ApiError> {
    let members = state.store.org_members(org_id).await?;
    Ok(members.into_iter().find(|m| m.email == email))
}

/// The member of team `team_id` with `email`; others are as unknown as missing ones.
async fn team_member(state: &AppState, caller: &Caller, email: &str) -> Result<Member, ApiError> {
    let email = valid_email(email)?;
    member_by_email(state, &caller.team.org_id, &email)
        .await?
        .filter(|m| m.teams.contains_key(&caller.team.id))
        .ok_or_else(|| ApiError::not_found(format!("no member {email:?} in this team")))
}

fn refuse_owner(member: &Member, team_id: &str, action: &str) -> Result<(), ApiError> {
    if member.teams.get(team_id) == Some(&Role::Owner) {
        return Err(ApiError::forbidden(format!("the owner cannot be {action}")));
    }
    Ok(())
}

fn done() -> Json<serde_json::Value> {
    Json(json!({ "success": true }))
}

#[derive(Deserialize)]
#[serde(deny_unknown_fields)]
pub struct AddMember {
    name: String,
    email: String,
    role: Role,
}

/// `POST /api/teams-api/{id}/members`: adds a person to the team, or changes their role there.
pub async fn add(
    State(state): State<AppState>,
    caller: Caller,
    Path(id): Path<String>,
    ApiJson(body): ApiJson<AddMember>,
) -> Result<impl IntoResponse, ApiError> {
    let caller = team_admin(caller, &id)?;
    let role = assignable(body.role)?;
    let (name, email) = (valid_name(&body.name)?, valid_email(&body.email)?);
    give_roles(&state, &caller.team.org_id, &name, &email, &[(id, role)]).await?;
    Ok(done())
}

#[derive(Deserialize)]
#[serde(rename_all = "camelCase", deny_unknown_fields)]
pub struct TeamRole {
    team_id: String,
    role: Role,
}

#[derive(Deserialize)]
#[serde(deny_unknown_fields)]
pub struct BulkMember {
    name: String,
    email: String,
    teams: Vec<TeamRole>,
}

/// `POST /api/teams-api/members/bulk`: one person into several teams at once; the caller must
/// manage every one of them, or nothing changes.
pub async fn bulk(
    State(state): State<AppState>,
    account: Account,
    ApiJson(body): ApiJson<BulkMember>,
) -> Result<impl IntoResponse, ApiError> {
    let (name, email) = (valid_name(&body.name)?, valid_email(&body.email)?);
    if body.teams.is_empty() || body.teams.len() > MAX_BULK_TEAMS {
        return Err(ApiError::bad_request(format!(
            "teams must list 1 to {MAX_BULK_TEAMS} teams"
        )));
    }
    let mut roles = Vec::new();
    for TeamRole { team_id, role } in body.teams {
        let role = assignable(role)?;
        if !account.member.manages(&team_id) {
            return Err(ApiError::forbidden(format!(
                "you cannot manage the members of team {team_id:?}"
            )));
        }
        roles.push((team_id, role));
    }
    give_roles(&state, &account.member.org_id, &name, &email, &roles).await?;
    Ok(done())
}

#[derive(Deserialize)]
#[serde(deny_unknown_fields)]
pub struct ByEmail {
    email: String,
}

/// What the member endpoints of one team share: the caller is an admin (or the owner) of team
/// `id`, the member with `email` is in it, `change` alters them, and the result is stored.
async fn change_member(
    state: &AppState,
    caller: Caller,
    id: &str,
    email: &str,
    change: impl FnOnce(&Caller, &mut Member) -> Result<(), ApiError>,
) -> Result<Json<serde_json::Value>, ApiError> {
    let caller = team_admin(caller, id)?;
    let mut member = team_member(state, &caller, email).await?;
    change(&caller, &mut member)?;
    state.store.save_member(&member).await?;
    Ok(done())
}

/// `PUT /api/teams-api/{id}/members/pause`: the member can no longer act in this team.
pub async fn pause(
    State(state): State<AppState>,
    caller: Caller,
    Path(id): Path<String>,
    ApiJson(body): ApiJson<ByEmail>,
) -> Result<impl IntoResponse, ApiError> {
    change_member(&state, caller, &id, &body.email, |caller, member| {
        refuse_owner(member, &id, "paused")?;
        if member.id == caller.member.id {
            return Err(ApiError::bad_request("you cannot pause yourself"));
        }
        member.paused_teams.insert(id.clone());
        Ok(())
    })
    .await
}

/// `PUT /api/teams-api/{id}/members/activate`: a paused member acts in this team again.
pub async fn activate(
    State(state): State<AppState>,
    caller: Caller,
    Path(id): Path<String>,
    ApiJson(body): ApiJson<ByEmail>,
) -> Result<impl IntoResponse, ApiError> {
    change_member(&state, caller, &id, &body.email, |_, member| {
        member.paused_teams.remove(&id);
        Ok(())
    })
    .await
}

#[derive(Deserialize)]
#[serde(deny_unknown_fields)]
pub struct NewRole {
    email: String,
    role: Role,
}

/// `PUT /api/teams-api/{id}/members/role`.
pub async fn role(
    State(state): State<AppState>,
    caller: Caller,
    Path(id): Path<String>,
    ApiJson(body): ApiJson<NewRole>,
) -> Result<impl IntoResponse, ApiError> {
    let role = assignable(body.role)?;
    change_member(&state, caller, &id, &body.email, |_, member| {
        refuse_owner(member, &id, "given another role")?;
        member.teams.insert(id.clone(), role);
        Ok(())
    })
    .await
}

/// `DELETE /api/teams-api/{id}/members`: out of this team; their other teams stay.
pub async fn remove(
    State(state): State<AppState>,
    caller: Caller,
    Path(id): Path<String>,
    ApiJson(body): ApiJson<ByEmail>,
) -> Result<impl IntoResponse, ApiError> {
    change_member(&state, caller, &id, &body.email, |_, member| {
        refuse_owner(member, &id, "removed from a team")?;
        member.teams.remove(&id);
        member.paused_teams.remove(&id);
        Ok(())
    })
    .await
}

/// `DELETE /api/teams-api/{id}/members/permanent`: out of the organization, with every
/// credential of theirs. The owner only; an owner is never deleted.
pub async fn delete_permanently(
    State(state): State<AppState>,
    caller: Caller,
    Path(id): Path<String>,
    ApiJson(body): ApiJson<ByEmail>,
) -> Result<impl IntoResponse, ApiError> {
    let caller = own_team(caller, &id)?;
    if caller.role != Role::Owner {
        return Err(ApiError::forbidden(
            "only the owner can delete a member from the organization",
        ));
    }
    let email = valid_email(&body.email)?;
    let member = member_by_email(&state, &caller.team.org_id, &email)
        .await?
        .ok_or_else(|| ApiError::not_found(format!("no member {email:?} in this organization")))?;
    if member.is_owner() {
        return Err(ApiError::forbidden("an owner cannot be deleted"));
    }
    state.store.delete_member(&member).await?;
    Ok(Json(
        json!({ "success": true, "message": "Member deleted successfully" }),
    ))
}
