//! `/team/members`: the team's members with their roles and status; an admin (or the owner)
//! adds a person by email with a role, changes a member's role, pauses and reactivates them,
//! and removes them from the team (whose sessions in it end at their next request). The
//! changes are the API's member endpoints' own; each form carries the version of the member it
//! was drawn from, so a change over someone else's newer one is refused (`stale.rs`).

use axum::extract::State;
use axum::response::{IntoResponse, Redirect, Response};
use maud::{html, Markup};

use super::{manages, page, scrolling, stale};
use crate::api::members::{add_member, change_in_team, valid_email, Change};
use crate::api::ApiError;
use crate::dashboard::error::PageError;
use crate::dashboard::posted::Posted;
use crate::dashboard::session::Signed;
use crate::dashboard::{csrf, DashState};
use crate::model::{Member, Role};

const PATH: &str = "/team/members";
/// The roles an admin may give, as the API names them.
const ASSIGNABLE: [(Role, &str); 3] = [
    (Role::Viewer, "viewer"),
    (Role::Editor, "editor"),
    (Role::Admin, "admin"),
];

fn role_name(role: Role) -> &'static str {
    match role {
        Role::Viewer => "viewer",
        Role::Editor => "editor",
        Role::Admin => "admin",
        Role::Owner => "owner",
    }
}

/// The role a form names, or 400 as the API words it.
fn role_of(text: &str) -> Result<Role, ApiError> {
    ASSIGNABLE
        .iter()
        .find(|(_, name)| *name == text)
        .map(|(role, _)| *role)
        .ok_or_else(|| {
            ApiError::bad_request(format!(
                "role {text:?} is not one of admin, editor or viewer"
            ))
        })
}

pub async fn list(State(state): State<DashState>, signed: Signed) -> Result<Response, PageError> {
    members_page(&state, &signed, None).await
}

async fn members_page(
    state: &DashState,
    signed: &Signed,
    refusal: Option<&ApiError>,
) -> Result<Response, PageError> {
    let team_id = &signed.caller.team.id;
    let mut members = state
        .app
        .store
        .org_members(&signed.caller.team.org_id)
        .await?;
    members.retain(|m| m.teams.contains_key(team_id));
    members.sort_by(|a, b| (a.created_at, &a.id).cmp(&(b.created_at, &b.id)));
    let body = html! {
        (scrolling("Members", html! {
            table #members {
                thead { tr {
                    th scope="col" { "Name" } th scope="col" { "Email" } th scope="col" { "Role" }
                    th scope="col" { "Status" }
                    @if manages(signed) { th scope="col" { "Change" } }
                } }
                tbody { @for member in &members { (row(signed, member)) } }
            }
        }))
        @if manages(signed) { (add_form(signed)) }
    };
    Ok(page(signed, PATH, "Members", refusal, body))
}

fn status(member: &Member, team_id: &str) -> &'static str {
    if !member.is_active_in(team_id) {
        "paused"
    } else if member.password_hash.is_none() && member.invited_at.is_some() {
        "invited"
    } else {
        "active"
    }
}

fn row(signed: &Signed, member: &Member) -> Markup {
    let team_id = &signed.caller.team.id;
    let role = member.teams.get(team_id).copied().unwrap_or(Role::Viewer);
    let changeable = manages(signed) && role != Role::Owner && member.id != signed.caller.member.id;
    html! {
        tr data-email=(member.email) {
            td { (member.name) }
            td { (member.email) }
            td.role { (role_name(role)) }
            td.status { (status(member, team_id)) }
            @if manages(signed) {
                td { @if changeable { (controls(signed, member, role)) } }
            }
        }
    }
}

/// One member's change forms: a role, pause or activate, remove.
fn controls(signed: &Signed, member: &Member, role: Role) -> Markup {
    let paused = !member.is_active_in(&signed.caller.team.id);
    let action = |name: &str, label: &str, class: &str| {
        html! {
            form.inline method="post" action="/team/members/change" {
                (csrf::hidden(&signed.csrf))
                (stale::hidden(member.version))
                input type="hidden" name="email" value=(member.email);
                button class=(class) type="submit" name="change" value=(name) { (label) }
            }
        }
    };
    html! {
        form.inline method="post" action="/team/members/change" {
            (csrf::hidden(&signed.csrf))
            (stale::hidden(member.version))
            input type="hidden" name="email" value=(member.email);
            label.visually-hidden for={ "role-" (member.id) } { "Role of " (member.email) }
            select id={ "role-" (member.id) } name="role" {
                @for (option, name) in ASSIGNABLE {
                    option value=(name) selected[option == role] { (name) }
                }
            }
            button.secondary type="submit" name="change" value="role" { "Set role" }
        }
        @if paused { (action("activate", "Activate", "secondary")) }
        @else { (action("pause", "Pause", "secondary")) }
        (action("remove", "Remove", "danger"))
    }
}

fn add_form(signed: &Signed) -> Markup {
    html! {
        form.card #add-member method="post" action="/team/members/add" novalidate {
            (csrf::hidden(&signed.csrf))
            h2 { "Add a member" }
            p.muted { "qredge sends no email: a new person gets in with a sign-in link from the \
                       operator (qredge sign-in-link) or an API key." }
            label for="member-name" { "Name" }
            input #member-name type="text" name="name" required;
            label for="member-email" { "Email" }
            input #member-email type="email" name="email" required;
            label for="member-role" { "Role" }
            select #member-role name="role" {
                @for (_, name) in ASSIGNABLE { option value=(name) { (name) } }
            }
            div.actions { button #add-member-button type="submit" { "Add member" } }
        }
    }
}

pub async fn add(
    State(state): State<DashState>,
    Posted { signed, form }: Posted,
) -> Result<Response, PageError> {
    let caller = signed.caller.clone();
    let team_id = caller.team.id.clone();
    let added = match role_of(form.get("role")) {
        Ok(role) => {
            add_member(
                &state.app,
                caller,
                &team_id,
                form.get("name"),
                form.get("email"),
                role,
            )
            .await
        }
        Err(refusal) => Err(refusal),
    };
    answer(&state, &signed, added.map(|_| ())).await
}

pub async fn change(
    State(state): State<DashState>,
    Posted { signed, form }: Posted,
) -> Result<Response, PageError> {
    let change = match form.get("change") {
        "pause" => Ok(Change::Pause),
        "activate" => Ok(Change::Activate),
        "remove" => Ok(Change::Remove),
        "role" => role_of(form.get("role")).map(Change::Role),
        other => Err(ApiError::bad_request(format!("no such change {other:?}"))),
    };
    let drawn_at = stale::precondition(&form)?;
    let done = match change {
        Ok(change) => {
            let team_id = signed.caller.team.id.clone();
            let email = valid_email(form.get("email"));
            let caller = signed.caller.clone();
            change_in_team(&state.app, caller, &team_id, email, drawn_at, change)
                .await
                .map(|_| ())
        }
        Err(refusal) => Err(refusal),
    };
    let member = format!("The member {}", form.get("email"));
    let done = done.map_err(|refusal| stale::worded(refusal, &member));
    answer(&state, &signed, done).await
}

/// After a change: back to the list, or the list with the API's refusal at its status.
async fn answer(
    state: &DashState,
    signed: &Signed,
    done: Result<(), ApiError>,
) -> Result<Response, PageError> {
    match done {
        Ok(()) => Ok(Redirect::to(PATH).into_response()),
        Err(refusal) => members_page(state, signed, Some(&refusal)).await,
    }
}
