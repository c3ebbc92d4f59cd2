//! The team section (`/team…`): the team's settings and the team switcher, its members, the
//! signed-in member's API keys, the custom domains, the design templates and the orphan scans.
//! Every page calls the API's own functions with the session's `Caller`, so roles, team
//! isolation and validation are the API's: a page leaves out the controls the member's role
//! cannot use, and the API refuses a forged POST anyway. A refused change shows the page again
//! with the API's message, at the API's status.

mod domains;
mod keys;
mod members;
mod orphans;
mod settings;
mod stale;
mod templates;

use axum::http::StatusCode;
use axum::response::{IntoResponse, Response};
use axum::routing::{get, post};
use axum::Router;
use maud::{html, Markup};

use super::layout;
use super::session::Signed;
use super::DashState;
use crate::api::ApiError;

/// The section's pages: their paths and the sub-navigation's labels.
const PAGES: [(&str, &str); 6] = [
    ("/team", "Settings"),
    ("/team/members", "Members"),
    ("/team/keys", "API keys"),
    ("/team/domains", "Domains"),
    ("/team/templates", "Templates"),
    ("/team/orphans", "Orphan scans"),
];

pub fn routes() -> Router<DashState> {
    Router::new()
        .route("/team", get(settings::show).post(settings::save))
        .route("/team/switch", post(settings::switch))
        .route("/team/members", get(members::list))
        .route("/team/members/add", post(members::add))
        .route("/team/members/change", post(members::change))
        .route("/team/keys", get(keys::list).post(keys::create))
        .route("/team/keys/{id}/revoke", post(keys::revoke))
        .route("/team/domains", get(domains::list))
        .route("/team/domains/add", post(domains::add))
        .route("/team/domains/remove", post(domains::remove))
        .route(
            "/team/templates",
            get(templates::list).post(templates::create),
        )
        .route("/team/templates/{id}/delete", post(templates::delete))
        .route("/team/templates/{id}/preview.png", get(templates::preview))
        .route("/team/orphans", get(orphans::list))
}

/// A page of the section: the sub-navigation, the refusal being shown (if any), then `body`,
/// answered at the refusal's status (200 without one).
fn page(
    signed: &Signed,
    path: &str,
    title: &str,
    refusal: Option<&ApiError>,
    body: Markup,
) -> Response {
    let body = html! {
        h1 { (title) }
        nav.subnav aria-label="Team" {
            @for (href, label) in PAGES {
                a href=(href) aria-current=[(href == path).then_some("page")] { (label) }
            }
        }
        @if let Some(refusal) = refusal {
            p.form-error #refusal role="alert" { (refusal.message) }
        }
        (body)
    };
    let status = refusal.map_or(StatusCode::OK, |r| r.status);
    (status, layout::page(title, Some(signed), body)).into_response()
}

/// A table that scrolls sideways on a narrow screen rather than break its words; focusable and
/// named, so that a keyboard can scroll it and a screen reader names it.
fn scrolling(label: &str, table: Markup) -> Markup {
    html! { div.team-table tabindex="0" role="region" aria-label=(label) { (table) } }
}

/// Whether the member manages the team (an admin or the owner): who sees its edit controls.
fn manages(signed: &Signed) -> bool {
    signed.caller.require_admin("").is_ok()
}
