//! `/team/domains`: the team's custom domains, each with the DNS record that points it at the
//! edge (a CNAME to the edge's public host); an admin (or the owner) adds and removes them
//! through the API's domains update, which refuses a domain another team has and the removal
//! of one that still has live codes (its message is shown).

use axum::extract::State;
use axum::response::{IntoResponse, Redirect, Response};
use maud::{html, Markup};

use super::{manages, page, scrolling};
use crate::api::precondition::Precondition;
use crate::api::teams::{set_domains, DomainsInput};
use crate::api::ApiError;
use crate::dashboard::error::PageError;
use crate::dashboard::posted::Posted;
use crate::dashboard::session::Signed;
use crate::dashboard::{csrf, DashState};
use crate::model::Team;

const PATH: &str = "/team/domains";

pub async fn list(State(state): State<DashState>, signed: Signed) -> Result<Response, PageError> {
    Ok(domains_page(&state, &signed, None))
}

fn domains_page(state: &DashState, signed: &Signed, refusal: Option<&ApiError>) -> Response {
    let team = &signed.caller.team;
    let edge_host = state.app.platform_host();
    let body = html! {
        p.muted { "Codes print the default domain " strong { (team.default_domain) } ". A custom domain \
                   reaches the edge once its DNS has this record:" }
        @if team.domain_settings.is_empty() {
            p.card #no-domains { "The team has no custom domains." }
        } @else {
            (scrolling("Domains", html! {
                table #domains {
                    thead { tr { th scope="col" { "Domain" } th scope="col" { "DNS record to create" }
                        @if manages(signed) { th scope="col" { "Remove" } } } }
                    tbody {
                        @for domain in team.domain_settings.keys() {
                            tr data-domain=(domain) {
                                td { (domain) }
                                td { code.dns-record { (domain) ". CNAME " (edge_host) "." } }
                                @if manages(signed) { td { (remove_form(signed, domain)) } }
                            }
                        }
                    }
                }
            }))
        }
        @if manages(signed) { (add_form(signed)) }
    };
    page(signed, PATH, "Domains", refusal, body)
}

fn remove_form(signed: &Signed, domain: &str) -> Markup {
    html! {
        form.inline method="post" action="/team/domains/remove" {
            (csrf::hidden(&signed.csrf))
            input type="hidden" name="domain" value=(domain);
            button.danger type="submit" { "Remove" }
        }
    }
}

fn add_form(signed: &Signed) -> Markup {
    html! {
        form.card #add-domain method="post" action="/team/domains/add" {
            (csrf::hidden(&signed.csrf))
            h2 { "Add a domain" }
            label for="domain" { "Domain (e.g. qr.example.com)" }
            input #domain type="text" name="domain" required;
            div.actions { button #add-domain-button type="submit" { "Add domain" } }
        }
    }
}

/// The team's domains as the API's update takes them, with `change` applied to the list.
fn domains_of(team: &Team, change: impl FnOnce(&mut Vec<String>)) -> DomainsInput {
    let mut domains = team.domains.clone();
    change(&mut domains);
    DomainsInput {
        default_domain: team.default_domain.clone(),
        domains,
        domain_settings: team.domain_settings.clone(),
    }
}

pub async fn add(
    State(state): State<DashState>,
    Posted { signed, form }: Posted,
) -> Result<Response, PageError> {
    let added = form.get("domain").trim().to_owned();
    let input = domains_of(&signed.caller.team, |domains| domains.push(added));
    save(&state, &signed, input).await
}

pub async fn remove(
    State(state): State<DashState>,
    Posted { signed, form }: Posted,
) -> Result<Response, PageError> {
    let removed = form.get("domain").to_owned();
    let team = &signed.caller.team;
    let mut input = domains_of(team, |domains| domains.retain(|d| *d != removed));
    input.domain_settings.remove(&removed);
    if team.default_domain == removed {
        // Codes without a domain of their own print the platform's again.
        input.default_domain = state.app.platform_domain();
    }
    save(&state, &signed, input).await
}

/// Saves the domains over the team as this request read it (a change made meanwhile is not
/// overwritten: the API refuses it and the page says so).
async fn save(
    state: &DashState,
    signed: &Signed,
    input: DomainsInput,
) -> Result<Response, PageError> {
    let team = &signed.caller.team;
    let at = Precondition::at(team.version);
    match set_domains(&state.app, signed.caller.clone(), &team.id, at, input).await {
        Ok(_) => Ok(Redirect::to(PATH).into_response()),
        Err(refusal) => Ok(domains_page(state, signed, Some(&refusal))),
    }
}
