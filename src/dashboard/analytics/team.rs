//! The team's analytics page (`/analytics`) and its live fragment: the figures of all the
//! team's codes together (the rollup reads without qrIds name every code of the team, as the
//! API's do) and the most scanned codes.

use axum::extract::{Query, State};
use axum::http::HeaderMap;
use axum::response::{IntoResponse, Response};
use maud::{html, Markup};

use super::figures::{totals_of, Figures, Totals};
use super::frame::{page as frame_page, Frame};
use super::live::fragment;
use super::range::RangeQuery;
use super::sections::live_figures;
use crate::aggregate::contract::Codes;
use crate::dashboard::error::PageError;
use crate::dashboard::session::Signed;
use crate::dashboard::DashState;

/// Codes the top list shows.
const TOP_CODES: usize = 10;

/// A code of the team with its headline counts.
struct Ranked {
    id: String,
    name: String,
    totals: Totals,
}

/// The team's moving parts: the figures of all its codes, then its most scanned codes. The
/// team's headline counts are the sum of its codes' overviews.
async fn live_part(
    state: &DashState,
    signed: &Signed,
    range: &RangeQuery,
) -> Result<Markup, PageError> {
    let app = &state.app;
    let zone = signed.caller.team.zone();
    let days = range.days(zone)?;
    let qrs = app.store.team_qrs(&signed.caller.team.id).await?;
    let mut ranked = Vec::with_capacity(qrs.len());
    let mut sum = Totals::default();
    for qr in qrs {
        let totals = totals_of(app, &qr.id, zone).await?;
        sum.add(totals);
        ranked.push(Ranked {
            id: qr.id,
            name: qr.name,
            totals,
        });
    }
    let team = Codes::Team(&signed.caller.team.id);
    let figures = Figures::read(app, team, sum, zone, &days).await?;
    ranked.sort_by(|a, b| {
        b.totals
            .total
            .cmp(&a.totals.total)
            .then(a.name.cmp(&b.name))
    });
    ranked.truncate(TOP_CODES);
    Ok(live_figures(&figures, top_codes(&ranked)))
}

fn top_codes(ranked: &[Ranked]) -> Markup {
    html! {
        h2 #top-codes-heading { "Top codes" }
        @if ranked.is_empty() {
            p.card { "The team has no codes yet." }
        } @else {
            table #top-codes aria-labelledby="top-codes-heading" {
                thead { tr { th scope="col" { "Code" } th scope="col" { "Total" } th scope="col" { "Today" } } }
                tbody {
                    @for code in ranked {
                        tr {
                            td { a href={ "/codes/" (code.id) "/analytics" } { (code.name) } }
                            td { (code.totals.total) }
                            td { (code.totals.today) }
                        }
                    }
                }
            }
        }
    }
}

fn live_url(range: &RangeQuery) -> String {
    let query = range.as_query();
    let mark = if query.is_empty() { "" } else { "?" };
    format!("/analytics/live{mark}{query}")
}

pub async fn page(
    State(state): State<DashState>,
    signed: Signed,
    Query(range): Query<RangeQuery>,
) -> Result<Response, PageError> {
    let live = live_part(&state, &signed, &range).await?;
    let title = format!("Analytics of {}", signed.caller.team.name);
    let frame = Frame {
        title: &title,
        intro: html! { p.muted { "Every code of the team together." } },
        path: "/analytics",
        range: &range,
        live_url: &live_url(&range),
        live,
    };
    Ok(frame_page(&signed, frame).into_response())
}

pub async fn live(
    State(state): State<DashState>,
    signed: Signed,
    Query(range): Query<RangeQuery>,
    headers: HeaderMap,
) -> Result<Response, PageError> {
    let live = live_part(&state, &signed, &range).await?;
    Ok(fragment(&headers, live))
}
