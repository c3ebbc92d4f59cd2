//! Scans as a table, newest first, a page at a time: a code's (the API's detailed events) or the
//! whole team's (the team's own list of its codes' events, each row naming its code), with the
//! API's cursor in the "Older scans" link. Bots and HEAD requests are listed too, marked.

use std::collections::HashMap;

use axum::extract::Query;
use chrono::DateTime;
use chrono_tz::Tz;
use maud::{html, Markup};
use serde::Deserialize;

use crate::aggregate::contract::EventsOf;
use crate::api::analytics::EventsPage;
use crate::api::paging::{self, Cursor};
use crate::api::{ApiError, AppState};
use crate::model::ScanEvent;

/// Scans a page of the table lists.
const PAGE_SIZE: usize = 25;

/// Which page of the scans table: after this cursor (None: the newest).
#[derive(Deserialize, Default)]
pub struct ScansQuery {
    pub cursor: Option<String>,
}

/// `url` (which may have a query already) asking for the scans after `cursor`, if any.
pub fn with_cursor(url: String, cursor: Option<&str>) -> String {
    let Some(cursor) = cursor else {
        return url;
    };
    let joiner = if url.contains('?') { '&' } else { '?' };
    let cursor: String = url::form_urlencoded::byte_serialize(cursor.as_bytes()).collect();
    format!("{url}{joiner}cursor={cursor}")
}

/// One page of scans and the cursor of the next (older) one.
pub struct ScansPage {
    pub events: Vec<ScanEvent>,
    pub next: Option<String>,
    /// Whether this is a later page (a cursor was given).
    pub older: bool,
    /// Whether the rows name their code (the team's table).
    pub by_code: bool,
}

impl ScansPage {
    /// The page after `cursor` (None: the newest scans). A cursor the API did not give is 400.
    pub async fn read(app: &AppState, qr_id: &str, cursor: Option<&str>) -> Result<Self, ApiError> {
        let mut params = HashMap::from([("limit".to_owned(), PAGE_SIZE.to_string())]);
        if let Some(cursor) = cursor {
            params.insert("cursor".to_owned(), cursor.to_owned());
        }
        let (events, next) = EventsPage::of(Ok(Query(params)))?.read(app, qr_id).await?;
        Ok(Self {
            events,
            next: next.map(|c| c.encode()),
            older: cursor.is_some(),
            by_code: false,
        })
    }

    /// The page of the scans of all the team's codes after `cursor`: one read of the team's
    /// list of events, whatever the number of its codes.
    pub async fn read_team(
        app: &AppState,
        team_id: &str,
        cursor: Option<&str>,
    ) -> Result<Self, ApiError> {
        let after = cursor
            .map(|text| Cursor::parse(text)?.in_events())
            .transpose()?;
        let page = app
            .analytics
            .events_after(
                EventsOf::Team(team_id),
                i64::MIN,
                i64::MAX,
                after.as_ref(),
                PAGE_SIZE + 1,
            )
            .await?;
        let (page, next) =
            paging::split(page, PAGE_SIZE, |(at, _)| Cursor::Events { at: at.clone() });
        Ok(Self {
            events: page.into_iter().map(|(_, event)| event).collect(),
            next: next.map(|c| c.encode()),
            older: cursor.is_some(),
            by_code: true,
        })
    }

    /// The table, and the links to the newest and the older scans (`base`: the page's URL with
    /// its range query, to which the cursor is added).
    pub fn render(&self, zone: Tz, base: &str) -> Markup {
        let joiner = if base.contains('?') { '&' } else { '?' };
        html! {
            h2 #scans-heading { "Scans" }
            @if self.events.is_empty() {
                p.card #no-scans { "No scans yet." }
            } @else {
                // Focusable, so that keyboards can scroll it on a phone.
                div.table-scroll tabindex="0" role="region" aria-labelledby="scans-heading" {
                    table #scans aria-labelledby="scans-heading" {
                        thead { tr {
                            th scope="col" { "Time" }
                            @if self.by_code { th scope="col" { "Short link" } }
                            th scope="col" { "Country" } th scope="col" { "City" }
                            th scope="col" { "Device" } th scope="col" { "Browser" } th scope="col" { "OS" }
                            th scope="col" { "Referrer" } th scope="col" { "Kind" }
                        } }
                        tbody { @for event in &self.events { (row(event, zone, self.by_code)) } }
                    }
                }
            }
            nav.pager aria-label="Scan pages" {
                @if self.older { a #newest-scans href=(base) { "Newest scans" } }
                @if let Some(next) = &self.next {
                    a #older-scans rel="next" href={ (base) (joiner) "cursor=" (next) } { "Older scans" }
                }
            }
        }
    }
}

fn row(event: &ScanEvent, zone: Tz, by_code: bool) -> Markup {
    let time = DateTime::from_timestamp_millis(event.scan_time)
        .unwrap_or_default()
        .with_timezone(&zone)
        .format("%Y-%m-%d %H:%M:%S");
    let kind = if event.bot {
        "Bot"
    } else if event.head {
        "Check (HEAD)"
    } else {
        "Scan"
    };
    html! {
        tr.scan-row {
            td { (time.to_string()) }
            @if by_code { td.code { (&*event.display_id) } }
            td { (&*event.country) }
            td { (&*event.city) }
            td { (&*event.device) }
            td { (&*event.browser) }
            td { (&*event.os) }
            td { (&*event.referrer) }
            td.kind { (kind) }
        }
    }
}
