//! A code's analytics page (`/codes/{id}/analytics`) and its live fragment: the code's figures
//! and its scans table. Another team's code is 404, as in the API.

use axum::extract::{Path, Query, State};
use axum::http::HeaderMap;
use axum::response::{IntoResponse, Response};
use maud::{html, Markup};

use super::figures::{totals_of, Figures};
use super::frame::{page as frame_page, Frame};
use super::live::fragment;
use super::range::RangeQuery;
use super::scans::{with_cursor, ScansPage, ScansQuery};
use super::sections::live_figures;
use crate::aggregate::contract::Codes;
use crate::api::qrs::team_qr;
use crate::dashboard::error::PageError;
use crate::dashboard::session::Signed;
use crate::dashboard::DashState;
use crate::model::Qr;

/// The code's moving parts: its figures, then its scans table.
async fn live_part(
    state: &DashState,
    signed: &Signed,
    qr: &Qr,
    range: &RangeQuery,
    cursor: Option<&str>,
) -> Result<Markup, PageError> {
    let app = &state.app;
    let zone = signed.caller.team.zone();
    let days = range.days(zone)?;
    let totals = totals_of(app, &qr.id, zone).await?;
    let figures = Figures::read(
        app,
        Codes::These(std::slice::from_ref(&qr.id)),
        totals,
        zone,
        &days,
    )
    .await?;
    let scans = ScansPage::read(app, &qr.id, cursor).await?;
    let base = page_url(&qr.id, "", range);
    Ok(live_figures(&figures, scans.render(zone, &base)))
}

/// `/codes/{id}/analytics{tail}` with the range's query.
fn page_url(id: &str, tail: &str, range: &RangeQuery) -> String {
    let query = range.as_query();
    let mark = if query.is_empty() { "" } else { "?" };
    format!("/codes/{id}/analytics{tail}{mark}{query}")
}

pub async fn page(
    State(state): State<DashState>,
    signed: Signed,
    Path(id): Path<String>,
    Query(range): Query<RangeQuery>,
    Query(scans): Query<ScansQuery>,
) -> Result<Response, PageError> {
    let qr = team_qr(&state.app.store, &signed.caller.team.id, &id).await?;
    let cursor = scans.cursor.as_deref();
    let live = live_part(&state, &signed, &qr, &range, cursor).await?;
    let live_url = with_cursor(page_url(&qr.id, "/live", &range), cursor);
    let title = format!("Analytics of {}", qr.name);
    let path = format!("/codes/{}/analytics", qr.id);
    let intro = html! {
        p { a #back-to-code href={ "/codes/" (qr.id) } { "Back to the code" } }
    };
    let frame = Frame {
        title: &title,
        intro,
        path: &path,
        range: &range,
        live_url: &live_url,
        live,
    };
    Ok(frame_page(&signed, frame).into_response())
}

pub async fn live(
    State(state): State<DashState>,
    signed: Signed,
    Path(id): Path<String>,
    Query(range): Query<RangeQuery>,
    Query(scans): Query<ScansQuery>,
    headers: HeaderMap,
) -> Result<Response, PageError> {
    let qr = team_qr(&state.app.store, &signed.caller.team.id, &id).await?;
    let live = live_part(&state, &signed, &qr, &range, scans.cursor.as_deref()).await?;
    Ok(fragment(&headers, live))
}
