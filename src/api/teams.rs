//! The caller's team and its settings: `GET` and `PUT /api/teams-api/{teamId}`. Only the team
//! named in `x-request-team-id` can be read or changed; an admin or the owner changes it.
//!
//! `timeZone` (an IANA name, UTC by default) is the zone in which "today" and "yesterday" are
//! counted. Aggregators pick a new zone up within a minute; days already counted keep the zone
//! they were counted in.

use axum::extract::{Path, State};
use axum::response::IntoResponse;
use serde::{Deserialize, Serialize};

use super::auth::Caller;
use super::body::ApiJson;
use super::view::ok;
use super::{ApiError, AppState};
use crate::clock::now_ms;
use crate::model::{Role, Team};

const NAME_MAX_CHARS: usize = 100;

/// The settings a PUT may change; anything else is refused by name.
#[derive(Debug, Deserialize)]
#[serde(rename_all = "camelCase", deny_unknown_fields)]
pub struct TeamSettings {
    name: Option<String>,
    time_zone: Option<String>,
}

#[derive(Debug, Serialize)]
#[serde(rename_all = "camelCase")]
pub struct TeamView {
    id: String,
    org_id: String,
    name: String,
    default_domain: String,
    domains: Vec<String>,
    time_zone: String,
    created_at: i64,
    updated_at: i64,
}

impl From<Team> for TeamView {
    fn from(team: Team) -> Self {
        Self {
            id: team.id,
            org_id: team.org_id,
            name: team.name,
            default_domain: team.default_domain,
            domains: team.domains,
            time_zone: team.time_zone,
            created_at: team.created_at,
            updated_at: team.updated_at,
        }
    }
}

/// The path must name the team the caller acts in (the header's).
fn own_team(caller: Caller, id: &str) -> Result<Caller, ApiError> {
    if caller.team.id == id {
        Ok(caller)
    } else {
        Err(ApiError::forbidden(format!(
            "this request acts in team {:?}, not {id:?}",
            caller.team.id
        )))
    }
}

pub async fn get(caller: Caller, Path(id): Path<String>) -> Result<impl IntoResponse, ApiError> {
    let caller = own_team(caller, &id)?;
    Ok(ok(TeamView::from(caller.team)))
}

pub async fn update(
    State(state): State<AppState>,
    caller: Caller,
    Path(id): Path<String>,
    ApiJson(settings): ApiJson<TeamSettings>,
) -> Result<impl IntoResponse, ApiError> {
    let caller = own_team(caller, &id)?;
    if caller.role < Role::Admin {
        return Err(ApiError::forbidden(
            "only an admin or the owner can change the team's settings",
        ));
    }
    let mut team = caller.team;
    if let Some(name) = settings.name {
        let name = name.trim();
        if name.is_empty() || name.chars().count() > NAME_MAX_CHARS {
            return Err(ApiError::bad_request(format!(
                "name must be 1 to {NAME_MAX_CHARS} characters"
            )));
        }
        team.name = name.to_owned();
    }
    if let Some(zone) = settings.time_zone {
        if zone.parse::<chrono_tz::Tz>().is_err() {
            return Err(ApiError::bad_request(format!(
                "timeZone {zone:?} is not an IANA time zone (e.g. \"Europe/Berlin\", \"UTC\")"
            )));
        }
        team.time_zone = zone;
    }
    team.updated_at = now_ms();
    team.updated_by = caller.member.id;
    state.store.update_team(&team).await?;
    Ok(ok(TeamView::from(team)))
}
