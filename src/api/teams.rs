//! The caller's team and its settings: `GET` and `PUT /api/teams-api/{teamId}`. Only the team
//! named in `x-request-team-id` can be read or changed; an admin or the owner changes it.
//!
//! `timeZone` (an IANA name, UTC by default) is the zone in which "today" and "yesterday" are
//! counted. Aggregators pick a new zone up within a minute; days already counted keep the zone
//! they were counted in. `primaryColor` colours the team's hosted pages.
//!
//! `PUT /api/teams-api/{teamId}/domains` sets the default domain and the allowed custom domains
//! (the reference's `defaultDomain` and `domains`), and per custom domain where its root,
//! unknown and expired codes go (`domainSettings`). A custom domain belongs to one team; one
//! that still has live codes cannot be removed.

use std::collections::HashMap;

use axum::extract::rejection::QueryRejection;
use axum::extract::{Path, Query, State};
use axum::http::Uri;
use axum::response::{IntoResponse, Response};
use serde::{Deserialize, Serialize};

use super::auth::{Account, Caller};
use super::body::ApiJson;
use super::error::ErrorBody;
use super::openapi::TeamPath;
use super::paging::{paged_get, Cursor, Paged, RecordPage};
use super::precondition::{stale, tagged, IfMatchHeader, Precondition, Tag};
use super::team_domains::ListedDomains;
use super::view::{ok, Envelope};
use super::{ApiError, AppState};
use std::collections::BTreeMap;

use crate::clock::now_ms;
use crate::ids::new_id;
use crate::model::{text, DomainSettings, Member, Role, Team};
use crate::store::{self, StoreError};

const NAME_MAX_CHARS: usize = 100;
const MAX_DOMAINS: usize = 50;
/// Teams per page of the team list (each with its members), by default and at most.
const DEFAULT_TEAMS: usize = 100;
const MAX_TEAMS: usize = 500;

/// The settings a PUT may change; anything else is refused by name.
#[derive(Debug, Deserialize, utoipa::ToSchema)]
#[serde(rename_all = "camelCase", deny_unknown_fields)]
pub struct TeamSettings {
    #[schema(min_length = 1, max_length = 100, pattern = r"\S")]
    pub(crate) name: Option<String>,
    /// An IANA name (e.g. "Europe/Berlin", "UTC").
    pub(crate) time_zone: Option<String>,
    /// `#rrggbb`, or "" to go back to the default.
    #[schema(pattern = "^(#[0-9a-fA-F]{6})?$")]
    pub(crate) primary_color: Option<String>,
}

/// The body of `PUT /api/teams-api/{teamId}/domains`.
#[derive(Debug, Deserialize, utoipa::ToSchema)]
#[serde(rename_all = "camelCase", deny_unknown_fields)]
pub struct DomainsInput {
    /// The platform's host or one of `domains`.
    pub(crate) default_domain: String,
    /// DNS names, kept in one form: lower case, IDNA as punycode, no trailing dot, a port
    /// ignored. The platform's host may be listed too; its other hosts (the API's, localhost, IP
    /// literals) may not.
    #[schema(max_items = 50)]
    pub(crate) domains: Vec<String>,
    /// Per custom domain (a key of it must be one of `domains`).
    #[serde(default)]
    pub(crate) domain_settings: BTreeMap<String, DomainSettings>,
}

#[derive(Debug, Serialize, utoipa::ToSchema)]
#[serde(rename_all = "camelCase")]
pub struct TeamView {
    id: String,
    org_id: String,
    name: String,
    default_domain: String,
    domains: Vec<String>,
    #[serde(skip_serializing_if = "BTreeMap::is_empty")]
    domain_settings: BTreeMap<String, DomainSettings>,
    time_zone: String,
    #[serde(skip_serializing_if = "Option::is_none")]
    primary_color: Option<String>,
    /// Its members (the reference's `members`), oldest first.
    members: Vec<MemberView>,
    created_at: i64,
    created_by: String,
    updated_at: i64,
    updated_by: String,
}

/// A member as a team lists them.
#[derive(Debug, Serialize, utoipa::ToSchema)]
#[serde(rename_all = "camelCase")]
pub struct MemberView {
    name: String,
    email: String,
    role: Role,
    /// Paused in this team.
    paused: bool,
}

/// The team as answers show it, with its members.
pub(super) async fn team_view(state: &AppState, team: Team) -> Result<TeamView, ApiError> {
    let members = state.store.org_members(&team.org_id).await?;
    Ok(view_with_members(team, &members))
}

/// The team with those of the organization's `members` who belong to it.
fn view_with_members(team: Team, members: &[Member]) -> TeamView {
    let mut view = TeamView::from(team);
    view.members = members
        .iter()
        .filter_map(|m| {
            Some(MemberView {
                role: *m.teams.get(&view.id)?,
                paused: !m.is_active_in(&view.id),
                name: m.name.clone(),
                email: m.email.clone(),
            })
        })
        .collect();
    view
}

impl From<Team> for TeamView {
    fn from(team: Team) -> Self {
        Self {
            id: team.id,
            org_id: team.org_id,
            name: team.name,
            default_domain: team.default_domain,
            domains: team.domains,
            domain_settings: team.domain_settings,
            time_zone: team.time_zone,
            primary_color: team.primary_color,
            members: Vec::new(),
            created_at: team.created_at,
            created_by: team.created_by,
            updated_at: team.updated_at,
            updated_by: team.updated_by,
        }
    }
}

/// The path must name the team the caller acts in (the header's).
pub(super) fn own_team(caller: Caller, id: &str) -> Result<Caller, ApiError> {
    if caller.team.id == id {
        Ok(caller)
    } else {
        Err(ApiError::forbidden(format!(
            "this request acts in team {:?}, not {id:?}",
            caller.team.id
        )))
    }
}

#[utoipa::path(
    get,
    path = "/api/teams-api/{id}",
    operation_id = "getTeam",
    tag = "Teams",
    params(TeamPath),
    responses(
        (status = 200, description = "The team with its members; its ETag header is its version", body = Envelope<TeamView>),
        (status = 403, description = "Another team than the header's, or a key without teams:read", body = ErrorBody),
    )
)]
pub async fn get(
    State(state): State<AppState>,
    caller: Caller,
    Path(id): Path<String>,
) -> Result<impl IntoResponse, ApiError> {
    let caller = own_team(caller, &id)?;
    let version = caller.team.version;
    Ok(tagged(version, ok(team_view(&state, caller.team).await?)))
}

#[utoipa::path(
    put,
    path = "/api/teams-api/{id}",
    operation_id = "updateTeam",
    tag = "Teams",
    params(TeamPath, IfMatchHeader),
    request_body = TeamSettings,
    responses(
        (status = 200, description = "The changed team; its ETag header is its version", body = Envelope<TeamView>),
        (status = 400, description = "Malformed JSON, an unknown field, a blank name, an unknown time zone or a bad colour", body = ErrorBody),
        (status = 403, description = "Another team than the header's, not an admin or the owner, or a key without teams:write", body = ErrorBody),
        (status = 412, description = "If-Match names none of the team's current version: nothing changed", body = ErrorBody),
    )
)]
pub async fn update(
    State(state): State<AppState>,
    caller: Caller,
    Path(id): Path<String>,
    precondition: Precondition,
    ApiJson(settings): ApiJson<TeamSettings>,
) -> Result<impl IntoResponse, ApiError> {
    let team = update_settings(&state, caller, &id, precondition, settings).await?;
    // Edges hear of the change on the store's feed, and render the team's hosted pages anew.
    Ok(tagged(team.version, ok(team_view(&state, team).await?)))
}

/// Changes the settings of team `id` (see `update`); the team as stored after.
pub(crate) async fn update_settings(
    state: &AppState,
    caller: Caller,
    id: &str,
    precondition: Precondition,
    settings: TeamSettings,
) -> Result<Team, ApiError> {
    let caller = own_team(caller, id)?;
    caller.require_admin("change the team's settings")?;
    let colour = match settings.primary_color {
        None => None,
        Some(colour) => Some(match colour.as_str() {
            "" => None,
            c if is_colour(c) => Some(c.to_ascii_lowercase()),
            c => {
                return Err(ApiError::bad_request(format!(
                    "primaryColor {c:?} must be a colour like \"#1f6feb\""
                )))
            }
        }),
    };
    let name = settings
        .name
        .map(|name| text::required_line("name", &name, NAME_MAX_CHARS))
        .transpose()
        .map_err(ApiError::bad_request)?;
    if let Some(zone) = &settings.time_zone {
        if zone.parse::<chrono_tz::Tz>().is_err() {
            return Err(ApiError::bad_request(format!(
                "timeZone {zone:?} is not an IANA time zone (e.g. \"Europe/Berlin\", \"UTC\")"
            )));
        }
    }
    let (zone, member_id, now) = (settings.time_zone, caller.member.id.clone(), now_ms());
    change_team(state, id, precondition, move |team| {
        if let Some(colour) = &colour {
            team.primary_color = colour.clone();
        }
        if let Some(name) = &name {
            team.name = name.clone();
        }
        if let Some(zone) = &zone {
            team.time_zone = zone.clone();
        }
        team.updated_at = now;
        team.updated_by = member_id.clone();
        Ok(())
    })
    .await
}

/// Applies `change` to the team `id` as the store holds it at the write; 412 when the team is
/// not at a version `precondition` names.
async fn change_team(
    state: &AppState,
    id: &str,
    precondition: Precondition,
    change: impl Fn(&mut Team) -> Result<(), ApiError> + Send + Sync + 'static,
) -> Result<Team, ApiError> {
    let edit = store::edit(move |team: &mut Team| {
        precondition.check(team.version)?;
        Ok(change(team)?)
    });
    match state.store.update_team(id, edit).await {
        Err(StoreError::Stale { current }) => Err(stale("team", current)),
        other => Ok(other?),
    }
}

fn is_colour(text: &str) -> bool {
    text.len() == 7 && text.starts_with('#') && text[1..].bytes().all(|b| b.is_ascii_hexdigit())
}

#[utoipa::path(
    put,
    path = "/api/teams-api/{id}/domains",
    operation_id = "updateTeamDomains",
    tag = "Teams",
    params(TeamPath, IfMatchHeader),
    request_body = DomainsInput,
    responses(
        (status = 200, description = "The changed team; its ETag header is its version", body = Envelope<TeamView>),
        (status = 400, description = "Malformed JSON, a name that is no domain, more than 50, or a defaultDomain not among them", body = ErrorBody),
        (status = 403, description = "Another team than the header's, not an admin or the owner, or a key without teams:write", body = ErrorBody),
        (status = 409, description = "A domain another team has, a removed one that still has live codes, or one another request added meanwhile", body = ErrorBody),
        (status = 412, description = "If-Match names none of the team's current version: nothing changed", body = ErrorBody),
    )
)]
pub async fn update_domains(
    State(state): State<AppState>,
    caller: Caller,
    Path(id): Path<String>,
    precondition: Precondition,
    ApiJson(input): ApiJson<DomainsInput>,
) -> Result<impl IntoResponse, ApiError> {
    let team = set_domains(&state, caller, &id, precondition, input).await?;
    Ok(tagged(team.version, ok(team_view(&state, team).await?)))
}

/// Sets the domains of team `id` (see `update_domains`); the team as stored after.
pub(crate) async fn set_domains(
    state: &AppState,
    caller: Caller,
    id: &str,
    precondition: Precondition,
    input: DomainsInput,
) -> Result<Team, ApiError> {
    let caller = own_team(caller, id)?;
    caller.require_admin("change the team's settings")?;
    if input.domains.len() > MAX_DOMAINS {
        return Err(ApiError::bad_request(format!(
            "at most {MAX_DOMAINS} domains"
        )));
    }
    let mut domains = ListedDomains::parse(state, &input.domains)?;
    domains.set_settings(input.domain_settings)?;
    let default_domain = domains.default_domain(state, &input.default_domain)?;
    let ListedDomains { listed, custom } = domains;
    let team = caller.team;
    let removed: Vec<&String> = team
        .domain_settings
        .keys()
        .filter(|d| !custom.contains_key(*d))
        .collect();
    let codes = match removed.is_empty() {
        true => Vec::new(),
        false => state.store.team_qrs(&team.id).await?,
    };
    for removed in removed {
        let live = codes
            .iter()
            .filter(|qr| !qr.deleted && qr.domain.as_deref() == Some(removed.as_str()))
            .count();
        if live > 0 {
            return Err(ApiError::conflict(format!(
                "domain {removed:?} still has {live} live QR codes; move or delete them first"
            )));
        }
    }
    // Checked for live codes: the custom domains the team had when read. One another request
    // added since would be released unchecked: refused, to be tried again.
    let checked: Vec<String> = team.domain_settings.keys().cloned().collect();
    let (member_id, now) = (caller.member.id, now_ms());
    change_team(state, id, precondition, move |team| {
        let unchecked = team
            .domain_settings
            .keys()
            .find(|d| !checked.contains(d) && !custom.contains_key(*d));
        if let Some(domain) = unchecked {
            return Err(ApiError::conflict(format!(
                "domain {domain:?} was added by another request meanwhile; try again"
            )));
        }
        team.default_domain = default_domain.clone();
        team.domains = listed.clone();
        team.domain_settings = custom.clone();
        team.updated_at = now;
        team.updated_by = member_id.clone();
        Ok(())
    })
    .await
}

/// `GET /api/teams-api`: the teams of the organization the caller acts in (belongs to, is not
/// paused in, and the credential reaches), with members.
#[utoipa::path(
    get,
    path = "/api/teams-api",
    operation_id = "listTeams",
    tag = "Teams",
    security(("clientId" = [], "clientSecret" = []), ("bearer" = [])),
    params(
        ("limit" = Option<u32>, Query, minimum = 1, maximum = 500, description = "Teams per page (default 100)"),
        ("cursor" = Option<String>, Query, description = "A page's nextCursor: the page after it"),
    ),
    responses(
        (status = 200, description = "A page of the teams the caller acts in (not those they are paused in), oldest first, each with its members; nextCursor (and a Link header) when more follow", body = Paged<Vec<TeamView>>),
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
    let page = RecordPage::of(&params, DEFAULT_TEAMS, MAX_TEAMS, Cursor::in_teams)?;
    let org_id = &account.member.org_id;
    let mut teams = state.store.org_teams(org_id).await?;
    teams.retain(|team| account.member.is_active_in(&team.id));
    let (teams, next) = page.take(
        teams,
        |team| (team.created_at, team.id.as_str()),
        |t, id| Cursor::Teams { t, id },
    );
    // The organization's members are read once for all the page's teams.
    let members = state.store.org_members(org_id).await?;
    let views: Vec<TeamView> = teams
        .into_iter()
        .map(|team| view_with_members(team, &members))
        .collect();
    Ok(paged_get(&state, &uri, views, next))
}

#[derive(Debug, Deserialize, utoipa::ToSchema)]
#[serde(deny_unknown_fields)]
pub struct NewTeam {
    #[schema(min_length = 1, max_length = 100, pattern = r"\S")]
    name: String,
}

/// `POST /api/teams-api`: a new team in the caller's organization, printing codes with the
/// platform's domain. An admin (of any team) or the owner creates one, within the plan's
/// `api.teams_per_org`; the creator becomes its admin, and the organization's owner its owner.
#[utoipa::path(
    post,
    path = "/api/teams-api",
    operation_id = "createTeam",
    tag = "Teams",
    security(("clientId" = [], "clientSecret" = []), ("bearer" = [])),
    request_body = NewTeam,
    responses(
        (status = 201, description = "The new team (the creator its admin, the owner its owner)", body = Envelope<TeamView>),
        (status = 400, description = "Malformed JSON, or a blank or too long name", body = ErrorBody),
        (status = 403, description = "Not an admin of any team nor the owner, the organization's plan allows no more teams, or a key without teams:write", body = ErrorBody),
    )
)]
pub async fn create(
    State(state): State<AppState>,
    account: Account,
    ApiJson(body): ApiJson<NewTeam>,
) -> Result<impl IntoResponse, ApiError> {
    let Account {
        member: creator,
        plan,
        ..
    } = account;
    if !creator.teams.keys().any(|team| creator.manages(team)) {
        return Err(ApiError::forbidden(
            "only an admin or the owner can create a team",
        ));
    }
    let name =
        text::required_line("name", &body.name, NAME_MAX_CHARS).map_err(ApiError::bad_request)?;
    let now = now_ms();
    let domain = state.platform_domain();
    let team = Team {
        version: crate::model::FIRST_VERSION,
        id: new_id("team"),
        org_id: creator.org_id.clone(),
        name,
        default_domain: domain.clone(),
        domains: vec![domain],
        time_zone: "UTC".into(),
        primary_color: None,
        domain_settings: Default::default(),
        created_at: now,
        created_by: creator.id.clone(),
        updated_at: now,
        updated_by: creator.id.clone(),
    };
    // The owner owns it and the creator administers it, written with the team: a member
    // record saved apart could be overwritten by a concurrent create's.
    let roles: Vec<(String, Role)> = state
        .store
        .org_members(&team.org_id)
        .await?
        .iter()
        .filter_map(|member| match member.is_owner() {
            true => Some((member.id.clone(), Role::Owner)),
            false => (member.id == creator.id).then(|| (member.id.clone(), Role::Admin)),
        })
        .collect();
    let limit = state.teams_per_org.limit(plan);
    state.store.insert_team(&team, limit, &roles).await?;
    Ok((
        axum::http::StatusCode::CREATED,
        Tag(team.version),
        ok(team_view(&state, team).await?),
    ))
}
