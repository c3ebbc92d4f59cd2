//! `/team`: the team's name, time zone and colour, saved through the API's team update with
//! the version the form showed (a save over someone else's newer change is refused, not lost),
//! and the switcher between the member's teams.

use axum::extract::State;
use axum::http::{HeaderMap, StatusCode};
use axum::response::{IntoResponse, Redirect, Response};
use maud::{html, Markup};

use super::{manages, page, stale};
use crate::api::precondition::Precondition;
use crate::api::teams::{update_settings, TeamSettings};
use crate::api::ApiError;
use crate::dashboard::error::PageError;
use crate::dashboard::form::FormData;
use crate::dashboard::posted::Posted;
use crate::dashboard::session::{active_teams, switch_team, Signed};
use crate::dashboard::{csrf, DashState};
use crate::model::Team;

const PATH: &str = "/team";

/// What the form shows: the team as read, or the values a refused save sent.
struct Shown {
    name: String,
    time_zone: String,
    colour: String,
    version: u64,
}

impl Shown {
    fn of(team: &Team) -> Self {
        Self {
            name: team.name.clone(),
            time_zone: team.time_zone.clone(),
            colour: team.primary_color.clone().unwrap_or_default(),
            version: team.version,
        }
    }
}

pub async fn show(State(state): State<DashState>, signed: Signed) -> Result<Response, PageError> {
    let shown = Shown::of(&signed.caller.team);
    settings_page(&state, &signed, &shown, None).await
}

async fn settings_page(
    state: &DashState,
    signed: &Signed,
    shown: &Shown,
    refusal: Option<&ApiError>,
) -> Result<Response, PageError> {
    let teams = active_teams(state, &signed.caller.member).await?;
    let body = html! {
        @if manages(signed) { (form(signed, shown)) } @else { (read_only(&signed.caller.team)) }
        @if teams.len() > 1 { (switcher(signed, &teams)) }
    };
    Ok(page(signed, PATH, "Team settings", refusal, body))
}

fn form(signed: &Signed, shown: &Shown) -> Markup {
    html! {
        form.card #team-settings method="post" action=(PATH) {
            (csrf::hidden(&signed.csrf))
            (stale::hidden(shown.version))
            label for="team-name" { "Name" }
            input #team-name type="text" name="name" value=(shown.name) required;
            label for="time-zone" { "Time zone (IANA, e.g. Europe/Berlin)" }
            input #time-zone type="text" name="timeZone" value=(shown.time_zone) required;
            p.muted { "Today's and yesterday's scans are counted in this zone." }
            label for="primary-color" { "Colour of the hosted pages (#rrggbb, empty for the default)" }
            input #primary-color type="text" name="primaryColor" value=(shown.colour);
            div.actions { button #save-team type="submit" { "Save" } }
        }
    }
}

fn read_only(team: &Team) -> Markup {
    html! {
        dl.card #team-details {
            dt { "Name" } dd { (team.name) }
            dt { "Time zone" } dd { (team.time_zone) }
            dt { "Colour" } dd { (team.primary_color.as_deref().unwrap_or("default")) }
        }
        p.muted { "Only an admin or the owner changes the team's settings." }
    }
}

fn switcher(signed: &Signed, teams: &[Team]) -> Markup {
    html! {
        form.card #team-switcher method="post" action="/team/switch" {
            (csrf::hidden(&signed.csrf))
            label for="switch-team" { "Work in another of your teams" }
            select #switch-team name="team" {
                @for team in teams {
                    option value=(team.id) selected[team.id == signed.caller.team.id] { (team.name) }
                }
            }
            div.actions { button.secondary #switch type="submit" { "Switch team" } }
        }
    }
}

pub async fn save(
    State(state): State<DashState>,
    Posted { signed, form }: Posted,
) -> Result<Response, PageError> {
    let version = stale::version(&form)?;
    let settings = TeamSettings {
        name: Some(form.get("name").to_owned()),
        time_zone: Some(form.get("timeZone").trim().to_owned()),
        primary_color: Some(form.get("primaryColor").trim().to_owned()),
    };
    let team_id = signed.caller.team.id.clone();
    let saved = update_settings(
        &state.app,
        signed.caller.clone(),
        &team_id,
        Precondition::at(version),
        settings,
    )
    .await;
    match saved {
        Ok(_) => Ok(Redirect::to(PATH).into_response()),
        Err(refusal) => {
            if refusal.status == StatusCode::PRECONDITION_FAILED {
                let refusal = stale::worded(refusal, "The team");
                let current = state.app.store.team(&team_id).await?;
                let shown = current
                    .as_ref()
                    .map_or_else(|| entered(&form, version), Shown::of);
                return settings_page(&state, &signed, &shown, Some(&refusal)).await;
            }
            settings_page(&state, &signed, &entered(&form, version), Some(&refusal)).await
        }
    }
}

fn entered(form: &FormData, version: u64) -> Shown {
    Shown {
        name: form.get("name").to_owned(),
        time_zone: form.get("timeZone").to_owned(),
        colour: form.get("primaryColor").to_owned(),
        version,
    }
}

pub async fn switch(
    State(state): State<DashState>,
    headers: HeaderMap,
    Posted { signed, form }: Posted,
) -> Result<Response, PageError> {
    switch_team(&state, &headers, &signed, form.get("team"), PATH).await
}
