//! The codes page: the team's live codes, searched and sorted, a page at a time, read from the
//! store's list indexes through the API's own list query (so that its limits and checks hold
//! here too, and the page stays fast however many codes the team has). The type and tag filters
//! are the list query's too: a filtered page reads the store's filter index.

use std::collections::HashMap;

use axum::extract::{Query, State};
use axum::response::IntoResponse;
use maud::{html, Markup};

use super::error::PageError;
use super::layout;
use super::session::Signed;
use super::DashState;
use crate::api::qr_list::list_query;
use crate::model::QrType;
use crate::store::{PageStart, QrListPage};

/// Codes per page.
const PAGE_SIZE: usize = 20;

/// The list's query parameters the page keeps between its links.
const KEPT: [&str; 5] = ["search", "sortBy", "sortOrder", "qrType", "tag"];
/// The filters among them, which "Clear filters" drops.
const FILTERS: [&str; 2] = ["qrType", "tag"];

pub async fn list(
    State(state): State<DashState>,
    signed: Signed,
    Query(mut params): Query<HashMap<String, String>>,
) -> Result<impl IntoResponse, PageError> {
    params.retain(|name, value| {
        (KEPT.contains(&name.as_str()) || name == "page") && !value.is_empty()
    });
    params.insert("limit".into(), PAGE_SIZE.to_string());
    let query = list_query(&params, &signed.caller.team.id)?;
    let offset = match query.start {
        PageStart::Offset(offset) => offset,
        PageStart::After(_) => 0,
    };
    let page = state.app.store.list_qrs(&query).await?;
    let body = html! {
        div.actions {
            h1 { "Codes" }
            @if signed.can_write_codes() {
                a.button #new-code href="/codes/new" { "New code" }
            }
        }
        (filters(&params))
        (active_filters(&params))
        (table(&page, &state))
        (pager(&params, offset, page.total))
    };
    Ok(layout::page("Codes", Some(&signed), body))
}

fn filters(params: &HashMap<String, String>) -> Markup {
    let value = |name: &str| params.get(name).map_or("", String::as_str);
    let sort = value("sortBy");
    let order = value("sortOrder");
    html! {
        form.card.filters #codes-filters method="get" action="/codes" role="search" {
            div {
                label for="search" { "Search name or short link" }
                input #search type="search" name="search" value=(value("search"));
            }
            div {
                label for="qrType" { "Type" }
                select #qrType name="qrType" {
                    option value="" selected[value("qrType").is_empty()] { "All types" }
                    @for qr_type in QrType::ALL {
                        option value=(qr_type.as_str()) selected[value("qrType") == qr_type.as_str()] { (qr_type.as_str()) }
                    }
                }
            }
            div {
                label for="tag" { "Tag" }
                input #tag type="text" name="tag" value=(value("tag"));
            }
            div {
                label for="sortBy" { "Sort by" }
                select #sortBy name="sortBy" {
                    option value="updatedAt" selected[sort == "updatedAt" || sort.is_empty()] { "Last change" }
                    option value="createdAt" selected[sort == "createdAt"] { "Creation" }
                    option value="name" selected[sort == "name"] { "Name" }
                }
            }
            div {
                label for="sortOrder" { "Order" }
                select #sortOrder name="sortOrder" {
                    option value="desc" selected[order != "asc"] { "Descending" }
                    option value="asc" selected[order == "asc"] { "Ascending" }
                }
            }
            div { button type="submit" { "Apply" } }
        }
    }
}

/// The filters in force, if any, and a link to the same list without them.
fn active_filters(params: &HashMap<String, String>) -> Markup {
    let active: Vec<(&str, &String)> = FILTERS
        .iter()
        .filter_map(|name| params.get(*name).map(|value| (*name, value)))
        .collect();
    if active.is_empty() {
        return html! {};
    }
    let unfiltered: HashMap<String, String> = params
        .iter()
        .filter(|(name, _)| !FILTERS.contains(&name.as_str()))
        .map(|(name, value)| (name.clone(), value.clone()))
        .collect();
    html! {
        p #active-filters {
            "Showing only codes with "
            @for (i, (name, value)) in active.iter().enumerate() {
                @if i > 0 { " and " }
                (if *name == "qrType" { "type " } else { "tag " })
                strong { (value) }
            }
            ". "
            a #clear-filters href=(page_link(&unfiltered, 1)) { "Clear filters" }
        }
    }
}

fn table(page: &QrListPage, state: &DashState) -> Markup {
    html! {
        @if page.qrs.is_empty() {
            p.card { "No codes match." }
        } @else {
            table #codes {
                caption.muted { (page.total) " codes" }
                thead { tr { th scope="col" { "Name" } th scope="col" { "Short link" } th scope="col" { "Type" } } }
                tbody {
                    @for qr in &page.qrs {
                        tr {
                            td { a href={ "/codes/" (qr.id) } { (qr.name) } }
                            td { (qr.short_url(&state.app.edge_base_url)) }
                            td { (qr.qr_type.as_str()) }
                        }
                    }
                }
            }
        }
    }
}

/// The link to page `number` (from 1) with the same filters.
fn page_link(params: &HashMap<String, String>, number: usize) -> String {
    let mut query = url::form_urlencoded::Serializer::new(String::new());
    for name in KEPT {
        if let Some(value) = params.get(name) {
            query.append_pair(name, value);
        }
    }
    query.append_pair("page", &number.to_string());
    format!("/codes?{}", query.finish())
}

fn pager(params: &HashMap<String, String>, offset: usize, total: u64) -> Markup {
    let number = offset / PAGE_SIZE + 1;
    let pages = (total as usize).div_ceil(PAGE_SIZE).max(1);
    html! {
        nav.pager aria-label="Pages" {
            @if number > 1 { a href=(page_link(params, number - 1)) rel="prev" { "Previous" } }
            span { "Page " (number) " of " (pages) }
            @if number < pages { a #next-page href=(page_link(params, number + 1)) rel="next" { "Next" } }
        }
    }
}
