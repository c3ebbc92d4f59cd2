//! The team's analytics page (`/analytics`) and its live fragment: the figures of all the
//! team's codes together, read from the team's own rollups (`Codes::Team`), the most scanned
//! codes and the team's scans table (its own list of its codes' events, a page at a time).

use std::collections::HashMap;

use axum::extract::{Query, State};
use axum::http::HeaderMap;
use axum::response::{IntoResponse, Response};
use chrono_tz::Tz;
use maud::{html, Markup};

use super::figures::{team_totals, totals_of, Figures, Totals};
use super::frame::{page as frame_page, Frame};
use super::live::fragment;
use super::range::RangeQuery;
use super::scans::{with_cursor, ScansPage, ScansQuery};
use super::sections::live_figures;
use crate::aggregate::contract::Codes;
use crate::api::{ApiError, AppState};
use crate::dashboard::error::PageError;
use crate::dashboard::session::Signed;
use crate::dashboard::DashState;

/// Codes the top list shows.
const TOP_CODES: usize = 10;

/// One of the team's most scanned codes with its headline counts; no name when it was deleted
/// (its scans stay in the team's).
struct Ranked {
    id: String,
    name: Option<String>,
    totals: Totals,
}

/// The team's moving parts: the figures of all its codes (from the team's own counts and
/// rollups), its most scanned codes, then its scans after `cursor`.
async fn live_part(
    state: &DashState,
    signed: &Signed,
    range: &RangeQuery,
    cursor: Option<&str>,
) -> Result<Markup, PageError> {
    let app = &state.app;
    let team_id = &signed.caller.team.id;
    let zone = signed.caller.team.zone();
    let days = range.days(zone)?;
    let totals = team_totals(app, team_id, zone).await?;
    let figures = Figures::read(app, Codes::Team(team_id), totals, zone, &days).await?;
    let ranked = most_scanned(app, team_id, zone).await?;
    let scans = ScansPage::read_team(app, team_id, cursor).await?;
    let base = page_url("", range);
    let extra = html! { (top_codes(&ranked)) (scans.render(zone, &base)) };
    Ok(live_figures(&figures, extra))
}

/// The team's `TOP_CODES` most scanned codes (the team's own ranking: a read whatever the number
/// of its codes), with their names and headline counts.
async fn most_scanned(app: &AppState, team_id: &str, zone: Tz) -> Result<Vec<Ranked>, PageError> {
    let top = app.analytics.top_codes(team_id, TOP_CODES).await;
    let top = top.map_err(ApiError::from)?;
    let ids: Vec<&str> = top.iter().map(|(id, _)| id.as_str()).collect();
    let mut names: HashMap<String, String> = HashMap::new();
    for qr in app.store.qrs_by_id(&ids).await? {
        names.insert(qr.id, qr.name);
    }
    let mut ranked = Vec::with_capacity(top.len());
    for (id, _) in top {
        let totals = totals_of(app, &id, zone).await?;
        let name = names.remove(&id);
        ranked.push(Ranked { id, name, totals });
    }
    Ok(ranked)
}

fn top_codes(ranked: &[Ranked]) -> Markup {
    html! {
        h2 #top-codes-heading { "Top codes" }
        @if ranked.is_empty() {
            p.card { "No code of the team was scanned yet." }
        } @else {
            table #top-codes aria-labelledby="top-codes-heading" {
                thead { tr { th scope="col" { "Code" } th scope="col" { "Total" } th scope="col" { "Today" } } }
                tbody {
                    @for code in ranked {
                        tr {
                            td {
                                @match &code.name {
                                    Some(name) => a href={ "/codes/" (code.id) "/analytics" } { (name) },
                                    None => span.muted { (code.id) " (deleted)" },
                                }
                            }
                            td { (code.totals.total) }
                            td { (code.totals.today) }
                        }
                    }
                }
            }
        }
    }
}

/// `/analytics{tail}` with the range's query.
fn page_url(tail: &str, range: &RangeQuery) -> String {
    let query = range.as_query();
    let mark = if query.is_empty() { "" } else { "?" };
    format!("/analytics{tail}{mark}{query}")
}

pub async fn page(
    State(state): State<DashState>,
    signed: Signed,
    Query(range): Query<RangeQuery>,
    Query(scans): Query<ScansQuery>,
) -> Result<Response, PageError> {
    let cursor = scans.cursor.as_deref();
    let live = live_part(&state, &signed, &range, cursor).await?;
    let title = format!("Analytics of {}", signed.caller.team.name);
    let frame = Frame {
        title: &title,
        intro: html! { p.muted { "Every code of the team together." } },
        path: "/analytics",
        range: &range,
        live_url: &with_cursor(page_url("/live", &range), cursor),
        live,
    };
    Ok(frame_page(&signed, frame).into_response())
}

pub async fn live(
    State(state): State<DashState>,
    signed: Signed,
    Query(range): Query<RangeQuery>,
    Query(scans): Query<ScansQuery>,
    headers: HeaderMap,
) -> Result<Response, PageError> {
    let live = live_part(&state, &signed, &range, scans.cursor.as_deref()).await?;
    Ok(fragment(&headers, live))
}
