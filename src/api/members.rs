//! A team's members (`/api/teams-api/{id}/members…` and `/api/teams-api/members/bulk`): added or
//! given a role by email, paused and reactivated, removed from a team, deleted from the
//! organization. Admins and the owner manage members; only the owner deletes one from the
//! organization; the owner role is never assigned, changed, paused or removed. The endpoints
//! that name a person take their `email` in the JSON body or as the `?email=` query parameter.
//!
//! qredge sends no email: a person added for the first time becomes a member with `invitedAt`
//! set, and reaches the API once someone gives them a credential.

use axum::extract::rejection::QueryRejection;
use axum::extract::{Path, Query, State};
use axum::response::IntoResponse;
use axum::Json;
use serde::{Deserialize, Serialize};

use super::auth::{Account, Caller};
use super::body::ApiJson;
use super::error::ErrorBody;
use super::openapi::{MemberChangeRefused, TeamPath};
use super::precondition::{stale, tagged, IfMatchHeader, Precondition};
use super::teams::own_team;
use super::{ApiError, AppState};
use crate::clock::now_ms;
use crate::ids::new_id;
use crate::model::{text, Member, Role};
use crate::store::{self, Edit, StoreError};

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
pub(crate) fn valid_email(email: &str) -> Result<String, ApiError> {
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
    text::required_line("name", name, MAX_NAME_CHARS).map_err(ApiError::bad_request)
}

/// The caller acting in team `id` (the header's) as an admin or the owner.
fn team_admin(caller: Caller, id: &str) -> Result<Caller, ApiError> {
    let caller = own_team(caller, id)?;
    caller.require_admin("manage the team's members")?;
    Ok(caller)
}

/// Gives the person with `email` these roles, making them a member first if the organization
/// has no one with that email. The owner's role is never changed. The member as stored after.
async fn give_roles(
    state: &AppState,
    org_id: &str,
    name: &str,
    email: &str,
    roles: &[(String, Role)],
) -> Result<Member, ApiError> {
    // Two admins adding the same new person at once: the second finds the first's record (and
    // one deleting them meanwhile makes the next round add them afresh).
    for _ in 0..3 {
        let attempt = match member_by_email(state, org_id, email).await? {
            Some(member) => {
                state
                    .store
                    .update_member(&member.id, with_roles(roles))
                    .await
            }
            None => {
                let member = Member {
                    version: crate::model::FIRST_VERSION,
                    id: new_id("mem"),
                    org_id: org_id.to_owned(),
                    name: name.to_owned(),
                    email: email.to_owned(),
                    teams: roles.iter().cloned().collect(),
                    paused: false,
                    created_at: now_ms(),
                    paused_teams: Default::default(),
                    invited_at: Some(now_ms()),
                    password_hash: None,
                };
                state.store.insert_member(&member).await.map(|()| member)
            }
        };
        match attempt {
            Err(StoreError::EmailTaken(_) | StoreError::NotFound) => continue,
            other => return Ok(other?),
        }
    }
    Err(ApiError::conflict(format!(
        "the member {email:?} is being changed by another request; try again"
    )))
}

/// The edit giving a member these roles; refused where they are the owner.
fn with_roles(roles: &[(String, Role)]) -> Edit<Member> {
    let roles = roles.to_vec();
    store::edit(move |member: &mut Member| {
        for (team_id, role) in &roles {
            if member.teams.get(team_id) == Some(&Role::Owner) {
                return Err(ApiError::forbidden("the owner's role cannot be changed").into());
            }
            member.teams.insert(team_id.clone(), *role);
        }
        Ok(())
    })
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
    member_by_email(state, &caller.team.org_id, email)
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

/// The answer of a member change: `{"success": true}` (with a message for a deletion).
#[derive(Serialize, utoipa::ToSchema)]
pub struct Done {
    /// Always true.
    success: bool,
    #[serde(skip_serializing_if = "Option::is_none")]
    #[schema(value_type = Option<String>)]
    message: Option<&'static str>,
}

fn done() -> Json<Done> {
    Json(Done {
        success: true,
        message: None,
    })
}

#[derive(Deserialize, utoipa::ToSchema)]
#[serde(deny_unknown_fields)]
pub struct AddMember {
    #[schema(min_length = 1, max_length = 100, pattern = r"\S")]
    name: String,
    #[schema(format = Email, max_length = 254)]
    email: String,
    /// admin, editor or viewer (the owner role is never assigned).
    role: Role,
}

/// `POST /api/teams-api/{id}/members`: adds a person to the team, or changes their role there.
#[utoipa::path(
    post,
    path = "/api/teams-api/{id}/members",
    operation_id = "addMember",
    tag = "Members",
    params(TeamPath),
    request_body = AddMember,
    responses(
        (status = 200, description = "The person is a member of the team with that role", body = Done),
        (status = 400, description = "Malformed JSON, an unknown field, a blank name, an invalid email, or the owner role", body = ErrorBody),
        (status = 403, description = "Another team than the header's, not an admin or the owner, the owner as the target, or a key without teams:write", body = ErrorBody),
        (status = 409, description = "Another request is changing that member; try again", body = ErrorBody),
    )
)]
pub async fn add(
    State(state): State<AppState>,
    caller: Caller,
    Path(id): Path<String>,
    ApiJson(body): ApiJson<AddMember>,
) -> Result<impl IntoResponse, ApiError> {
    let member = add_member(&state, caller, &id, &body.name, &body.email, body.role).await?;
    Ok(tagged(member.version, done()))
}

/// Adds the person with `email` to team `id` with `role` (or gives them that role there): the
/// caller an admin or the owner of the team. The member as stored after.
pub(crate) async fn add_member(
    state: &AppState,
    caller: Caller,
    id: &str,
    name: &str,
    email: &str,
    role: Role,
) -> Result<Member, ApiError> {
    let caller = team_admin(caller, id)?;
    let role = assignable(role)?;
    let (name, email) = (valid_name(name)?, valid_email(email)?);
    let roles = [(id.to_owned(), role)];
    give_roles(state, &caller.team.org_id, &name, &email, &roles).await
}

#[derive(Deserialize, utoipa::ToSchema)]
#[serde(rename_all = "camelCase", deny_unknown_fields)]
pub struct TeamRole {
    team_id: String,
    /// admin, editor or viewer (the owner role is never assigned).
    role: Role,
}

#[derive(Deserialize, utoipa::ToSchema)]
#[serde(deny_unknown_fields)]
pub struct BulkMember {
    #[schema(min_length = 1, max_length = 100, pattern = r"\S")]
    name: String,
    #[schema(format = Email, max_length = 254)]
    email: String,
    #[schema(min_items = 1, max_items = 50)]
    teams: Vec<TeamRole>,
}

/// `POST /api/teams-api/members/bulk`: one person into several teams at once; the caller must
/// manage every one of them, or nothing changes.
#[utoipa::path(
    post,
    path = "/api/teams-api/members/bulk",
    operation_id = "addMemberToTeams",
    tag = "Members",
    security(("clientId" = [], "clientSecret" = []), ("bearer" = [])),
    request_body = BulkMember,
    responses(
        (status = 200, description = "The person is a member of every team listed, with those roles", body = Done),
        (status = 400, description = "Malformed JSON, an unknown field, a blank name, an invalid email, not 1 to 50 teams, or the owner role", body = ErrorBody),
        (status = 403, description = "A team the caller does not manage, the owner as the target, or a key without teams:write", body = ErrorBody),
        (status = 409, description = "Another request is changing that member; try again", body = ErrorBody),
    )
)]
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
    let member = give_roles(&state, &account.member.org_id, &name, &email, &roles).await?;
    Ok(tagged(member.version, done()))
}

#[derive(Deserialize, utoipa::ToSchema)]
#[serde(deny_unknown_fields)]
pub struct ByEmail {
    /// The member (or `?email=`; both given must agree).
    #[schema(format = Email, max_length = 254)]
    email: Option<String>,
}

/// `?email=`: the member, when the body does not name them.
#[derive(Deserialize, utoipa::IntoParams)]
#[into_params(parameter_in = Query)]
pub struct EmailQuery {
    /// The member (or `email` in the body; both given must agree)
    #[param(format = Email, max_length = 254)]
    email: Option<String>,
}

/// The email a member endpoint names: in the query or the body, and the same if in both.
fn named_email(
    query: Result<Query<EmailQuery>, QueryRejection>,
    body: Option<&String>,
) -> Result<String, ApiError> {
    let Query(query) = query.map_err(|e| ApiError::bad_request(e.body_text()))?;
    let query = query.email.as_deref().map(valid_email).transpose()?;
    let body = body.map(|email| valid_email(email)).transpose()?;
    match (query, body) {
        (Some(q), Some(b)) if q != b => Err(ApiError::bad_request(format!(
            "email is {q:?} in the query but {b:?} in the body; name one member"
        ))),
        (Some(email), _) | (None, Some(email)) => Ok(email),
        (None, None) => Err(ApiError::bad_request(
            "email is required, in the JSON body or as ?email=",
        )),
    }
}

/// What the member endpoints of one team share: the caller is an admin (or the owner) of team
/// `id`, the member with `email` is in it, and `change` alters them as the store holds them at
/// the write (412 when they are not at a version `precondition` names). The answer carries the
/// member's new version as its ETag.
async fn change_member(
    state: &AppState,
    caller: Caller,
    id: &str,
    email: Result<String, ApiError>,
    precondition: Precondition,
    change: impl Fn(&mut Member) -> Result<(), ApiError> + Send + Sync + 'static,
) -> Result<Member, ApiError> {
    let caller = team_admin(caller, id)?;
    let email = email?;
    let member = team_member(state, &caller, &email).await?;
    let (team_id, gone) = (id.to_owned(), format!("no member {email:?} in this team"));
    let edit = store::edit(move |member: &mut Member| {
        if !member.teams.contains_key(&team_id) {
            return Err(ApiError::not_found(gone.clone()).into());
        }
        precondition.check(member.version)?;
        Ok(change(member)?)
    });
    let member = match state.store.update_member(&member.id, edit).await {
        Err(StoreError::NotFound) => {
            return Err(ApiError::not_found(format!(
                "no member {email:?} in this team"
            )))
        }
        Err(StoreError::Stale { current }) => return Err(stale("member", current)),
        other => other?,
    };
    Ok(member)
}

/// What an admin changes about a member of their team.
#[derive(Debug, Clone, Copy)]
pub(crate) enum Change {
    /// The member can no longer act in the team (never the owner, never oneself).
    Pause,
    /// A paused member acts in the team again.
    Activate,
    /// Another role (never to or from owner).
    Role(Role),
    /// Out of the team; their other teams stay (never the owner).
    Remove,
}

/// Applies `change` to the member of team `id` with `email` (see `change_member`); the member
/// as stored after.
pub(crate) async fn change_in_team(
    state: &AppState,
    caller: Caller,
    id: &str,
    email: Result<String, ApiError>,
    precondition: Precondition,
    change: Change,
) -> Result<Member, ApiError> {
    let (me, team) = (caller.member.id.clone(), id.to_owned());
    change_member(state, caller, id, email, precondition, move |member| {
        let id = team.clone();
        match change {
            Change::Pause => {
                refuse_owner(member, &id, "paused")?;
                if member.id == me {
                    return Err(ApiError::bad_request("you cannot pause yourself"));
                }
                member.paused_teams.insert(id);
            }
            Change::Activate => {
                member.paused_teams.remove(&id);
            }
            Change::Role(role) => {
                refuse_owner(member, &id, "given another role")?;
                member.teams.insert(id, assignable(role)?);
            }
            Change::Remove => {
                refuse_owner(member, &id, "removed from a team")?;
                member.teams.remove(&id);
                member.paused_teams.remove(&id);
            }
        }
        Ok(())
    })
    .await
}

/// `PUT /api/teams-api/{id}/members/pause`: the member can no longer act in this team.
#[utoipa::path(
    put,
    path = "/api/teams-api/{id}/members/pause",
    operation_id = "pauseMember",
    tag = "Members",
    params(TeamPath, EmailQuery, IfMatchHeader),
    request_body = Option<ByEmail>,
    responses(
        (status = 200, description = "The member is paused in this team", body = Done),
        (status = 400, description = "Malformed JSON, an unknown field, no email or an invalid one, query and body naming different members, or the caller themself", body = ErrorBody),
        MemberChangeRefused,
    )
)]
pub async fn pause(
    State(state): State<AppState>,
    caller: Caller,
    Path(id): Path<String>,
    precondition: Precondition,
    query: Result<Query<EmailQuery>, QueryRejection>,
    body: Option<ApiJson<ByEmail>>,
) -> Result<impl IntoResponse, ApiError> {
    let email = named_email(query, body.as_ref().and_then(|b| b.0.email.as_ref()));
    let member = change_in_team(&state, caller, &id, email, precondition, Change::Pause).await?;
    Ok(tagged(member.version, done()))
}

/// `PUT /api/teams-api/{id}/members/activate`: a paused member acts in this team again.
#[utoipa::path(
    put,
    path = "/api/teams-api/{id}/members/activate",
    operation_id = "activateMember",
    tag = "Members",
    params(TeamPath, EmailQuery, IfMatchHeader),
    request_body = Option<ByEmail>,
    responses(
        (status = 200, description = "The member may act in this team again", body = Done),
        (status = 400, description = "Malformed JSON, an unknown field, no email or an invalid one, or query and body naming different members", body = ErrorBody),
        MemberChangeRefused,
    )
)]
pub async fn activate(
    State(state): State<AppState>,
    caller: Caller,
    Path(id): Path<String>,
    precondition: Precondition,
    query: Result<Query<EmailQuery>, QueryRejection>,
    body: Option<ApiJson<ByEmail>>,
) -> Result<impl IntoResponse, ApiError> {
    let email = named_email(query, body.as_ref().and_then(|b| b.0.email.as_ref()));
    let member = change_in_team(&state, caller, &id, email, precondition, Change::Activate).await?;
    Ok(tagged(member.version, done()))
}

#[derive(Deserialize, utoipa::ToSchema)]
#[serde(deny_unknown_fields)]
pub struct NewRole {
    /// The member (or `?email=`; both given must agree).
    #[schema(format = Email, max_length = 254)]
    email: Option<String>,
    /// admin, editor or viewer (the owner role is never assigned).
    role: Role,
}

/// `PUT /api/teams-api/{id}/members/role`.
#[utoipa::path(
    put,
    path = "/api/teams-api/{id}/members/role",
    operation_id = "setMemberRole",
    tag = "Members",
    params(TeamPath, EmailQuery, IfMatchHeader),
    request_body = NewRole,
    responses(
        (status = 200, description = "The member has the new role", body = Done),
        (status = 400, description = "Malformed JSON, an unknown field, no email or an invalid one, query and body naming different members, or the owner role", body = ErrorBody),
        MemberChangeRefused,
    )
)]
pub async fn role(
    State(state): State<AppState>,
    caller: Caller,
    Path(id): Path<String>,
    precondition: Precondition,
    query: Result<Query<EmailQuery>, QueryRejection>,
    ApiJson(body): ApiJson<NewRole>,
) -> Result<impl IntoResponse, ApiError> {
    let role = assignable(body.role)?;
    let email = named_email(query, body.email.as_ref());
    let member =
        change_in_team(&state, caller, &id, email, precondition, Change::Role(role)).await?;
    Ok(tagged(member.version, done()))
}

/// `DELETE /api/teams-api/{id}/members`: out of this team; their other teams stay.
#[utoipa::path(
    delete,
    path = "/api/teams-api/{id}/members",
    operation_id = "removeMember",
    tag = "Members",
    params(TeamPath, EmailQuery, IfMatchHeader),
    request_body = Option<ByEmail>,
    responses(
        (status = 200, description = "The member is out of this team", body = Done),
        (status = 400, description = "Malformed JSON, an unknown field, no email or an invalid one, or query and body naming different members", body = ErrorBody),
        MemberChangeRefused,
    )
)]
pub async fn remove(
    State(state): State<AppState>,
    caller: Caller,
    Path(id): Path<String>,
    precondition: Precondition,
    query: Result<Query<EmailQuery>, QueryRejection>,
    body: Option<ApiJson<ByEmail>>,
) -> Result<impl IntoResponse, ApiError> {
    let email = named_email(query, body.as_ref().and_then(|b| b.0.email.as_ref()));
    let member = change_in_team(&state, caller, &id, email, precondition, Change::Remove).await?;
    Ok(tagged(member.version, done()))
}

/// `DELETE /api/teams-api/{id}/members/permanent`: out of the organization, with every
/// credential of theirs. The owner only; an owner is never deleted. The owner rule and `If-Match`
/// are checked on the member as the store's delete finds them.
#[utoipa::path(
    delete,
    path = "/api/teams-api/{id}/members/permanent",
    operation_id = "deleteMemberPermanently",
    tag = "Members",
    params(TeamPath, EmailQuery, IfMatchHeader),
    request_body = Option<ByEmail>,
    responses(
        (status = 200, description = "The member and their credentials are gone", body = Done),
        (status = 400, description = "Malformed JSON, an unknown field, no email or an invalid one, or query and body naming different members", body = ErrorBody),
        (status = 403, description = "Another team than the header's, not the owner, an owner as the target, or a key without teams:write", body = ErrorBody),
        (status = 404, description = "No member with that email in the organization", body = ErrorBody),
        (status = 412, description = "If-Match names none of the member's current version: nothing changed", body = ErrorBody),
    )
)]
pub async fn delete_permanently(
    State(state): State<AppState>,
    caller: Caller,
    Path(id): Path<String>,
    precondition: Precondition,
    query: Result<Query<EmailQuery>, QueryRejection>,
    body: Option<ApiJson<ByEmail>>,
) -> Result<impl IntoResponse, ApiError> {
    let email = named_email(query, body.as_ref().and_then(|b| b.0.email.as_ref()));
    let caller = own_team(caller, &id)?;
    if caller.role != Role::Owner {
        return Err(ApiError::forbidden(
            "only the owner can delete a member from the organization",
        ));
    }
    let email = email?;
    let gone = || ApiError::not_found(format!("no member {email:?} in this organization"));
    let member = member_by_email(&state, &caller.team.org_id, &email)
        .await?
        .ok_or_else(gone)?;
    let check = store::check(move |member: &Member| {
        if member.is_owner() {
            return Err(ApiError::forbidden("an owner cannot be deleted").into());
        }
        precondition.check(member.version)
    });
    match state.store.delete_member(&member.id, check).await {
        Err(StoreError::NotFound) => return Err(gone()),
        Err(StoreError::Stale { current }) => return Err(stale("member", current)),
        other => other?,
    };
    Ok(Json(Done {
        success: true,
        message: Some("Member deleted successfully"),
    }))
}
