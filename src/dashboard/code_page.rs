//! A code's page: its QR image (drawn by the API's own image code, served from the dashboard's
//! origin), where it leads, and its scan counts, which `live.js` refreshes from `counts`.

use axum::extract::{Path, State};
use axum::response::{IntoResponse, Response};
use axum::Json;
use maud::html;
use serde::Serialize;

use super::error::PageError;
use super::session::Signed;
use super::{csrf, layout, DashState};
use crate::api::image::{drawn, Format, ImageQuery};
use crate::api::qrs::team_qr;
use crate::clock::now_ms;
use crate::qr_image::DEFAULT_SIZE;

/// The headline counts of a code, as the overview of the API has them.
#[derive(Serialize)]
#[serde(rename_all = "camelCase")]
pub struct Counts {
    total_scans: u64,
    today_scans: u64,
    yesterday_scans: u64,
}

async fn counts_of(state: &DashState, signed: &Signed, qr_id: &str) -> Result<Counts, PageError> {
    let zone = signed.caller.team.zone();
    let overview = state
        .app
        .analytics
        .overview(qr_id, now_ms(), zone)
        .await
        .map_err(crate::api::ApiError::from)?;
    Ok(Counts {
        total_scans: overview.total_scans,
        today_scans: overview.today_scans,
        yesterday_scans: overview.yesterday_scans,
    })
}

pub async fn show(
    State(state): State<DashState>,
    signed: Signed,
    Path(id): Path<String>,
) -> Result<Response, PageError> {
    let qr = team_qr(&state.app.store, &signed.caller.team.id, &id).await?;
    let counts = counts_of(&state, &signed, &qr.id).await?;
    let short_url = qr.short_url(&state.app.edge_base_url);
    let editable = signed.can_write_codes() && !qr.deleted;
    let body = html! {
        h1 { (qr.name) }
        @if qr.deleted { p.notice role="status" { "This code is deleted: the edge no longer serves it." } }
        div.code-layout {
            div.card {
                img.qr-image #qr-image src={ "/codes/" (qr.id) "/image.svg" } alt={ "QR code for " (short_url) }
                    width="256" height="256";
            }
            div {
                dl.card {
                    dt { "Short link" } dd #short-url { (short_url) }
                    dt { "Type" } dd { (qr.qr_type.as_str()) }
                    @if let Some(target) = &qr.qr_redirect_url {
                        dt { "Leads to" } dd #target { (target) }
                    }
                }
                h2 { "Scans" }
                p { a #code-analytics href={ "/codes/" (qr.id) "/analytics" } { "Analytics: charts, breakdowns and every scan" } }
                dl.counts #counts data-live-url={ "/codes/" (qr.id) "/counts" } aria-live="polite" {
                    div { dt { "Total" } dd #total-scans data-count="totalScans" { (counts.total_scans) } }
                    div { dt { "Today" } dd #today-scans data-count="todayScans" { (counts.today_scans) } }
                    div { dt { "Yesterday" } dd #yesterday-scans data-count="yesterdayScans" { (counts.yesterday_scans) } }
                }
                @if editable {
                    div.actions {
                        a.button #edit-code href={ "/codes/" (qr.id) "/edit" } { "Edit" }
                        form method="post" action={ "/codes/" (qr.id) "/delete" } {
                            (csrf::hidden(&signed.csrf))
                            button.danger #delete-code type="submit" { "Delete" }
                        }
                    }
                }
            }
        }
    };
    Ok(layout::page(&qr.name, Some(&signed), body).into_response())
}

pub async fn image(
    State(state): State<DashState>,
    signed: Signed,
    Path(id): Path<String>,
) -> Result<Response, PageError> {
    let qr = team_qr(&state.app.store, &signed.caller.team.id, &id).await?;
    let query = ImageQuery {
        size: DEFAULT_SIZE,
        error_correction: None,
    };
    Ok(drawn(&state.app, &qr, &query, Format::Svg).await?)
}

pub async fn counts(
    State(state): State<DashState>,
    signed: Signed,
    Path(id): Path<String>,
) -> Result<Json<Counts>, PageError> {
    let qr = team_qr(&state.app.store, &signed.caller.team.id, &id).await?;
    Ok(Json(counts_of(&state, &signed, &qr.id).await?))
}
