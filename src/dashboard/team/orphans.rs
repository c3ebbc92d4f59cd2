//! `/team/orphans`: scans of unknown codes on the team's custom domains (a mistyped or never
//! printed short link), as the API's orphan scans list them: the counts, then the scans newest
//! first, a page at a time.

use std::collections::HashMap;

use axum::extract::{Query, State};
use axum::response::Response;
use maud::{html, Markup};

use super::{page, scrolling};
use crate::api::analytics::orphan_scans;
use crate::api::paging::Cursor;
use crate::dashboard::error::PageError;
use crate::dashboard::session::Signed;
use crate::dashboard::DashState;
use crate::model::ScanEvent;

const PATH: &str = "/team/orphans";
/// Scans per page.
const PAGE_SIZE: usize = 25;

pub async fn list(
    State(state): State<DashState>,
    signed: Signed,
    Query(params): Query<HashMap<String, String>>,
) -> Result<Response, PageError> {
    let mut asked = HashMap::from([("limit".to_owned(), PAGE_SIZE.to_string())]);
    if let Some(cursor) = params.get("cursor").filter(|c| !c.is_empty()) {
        asked.insert("cursor".into(), cursor.clone());
    }
    let first_page = !asked.contains_key("cursor");
    let (orphans, next) = orphan_scans(&state.app, &signed.caller, Ok(Query(asked))).await?;
    let body = html! {
        dl.counts #orphan-counts {
            div { dt { "Total" } dd #orphan-total { (orphans.total_scans) } }
            div { dt { "Today" } dd { (orphans.today_scans) } }
            div { dt { "Yesterday" } dd { (orphans.yesterday_scans) } }
        }
        p.muted { (orphans.bot_scans) " more by bots, not counted above." }
        (table(&orphans.events))
        (pager(first_page, next.as_ref()))
    };
    Ok(page(&signed, PATH, "Orphan scans", None, body))
}

fn table(events: &[ScanEvent]) -> Markup {
    html! {
        @if events.is_empty() {
            p.card #no-orphans { "No scans of unknown codes." }
        } @else {
            (scrolling("Orphan scans", html! {
                table #orphans {
                    thead { tr { th scope="col" { "When (UTC)" } th scope="col" { "Short link path" }
                        th scope="col" { "Device" } th scope="col" { "Country" } th scope="col" { "Referrer" } } }
                    tbody {
                        @for event in events {
                            tr {
                                td { (when(event.scan_time)) }
                                td { (&*event.display_id) }
                                td { (&*event.device) }
                                td { (&*event.country) }
                                td { (&*event.referrer) }
                            }
                        }
                    }
                }
            }))
        }
    }
}

/// An epoch millisecond as `2026-12-04 11:19:32`.
fn when(ms: i64) -> String {
    chrono::DateTime::from_timestamp_millis(ms).map_or_else(
        || ms.to_string(),
        |t| t.format("%Y-%m-%d %H:%M:%S").to_string(),
    )
}

fn pager(first_page: bool, next: Option<&Cursor>) -> Markup {
    html! {
        nav.pager aria-label="Pages" {
            @if !first_page { a href=(PATH) { "Newest" } }
            @if let Some(next) = next {
                a href={ (PATH) "?cursor=" (next.encode()) } rel="next" { "Older" }
            }
        }
    }
}
