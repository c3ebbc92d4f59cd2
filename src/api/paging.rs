//! Paging of the API's lists: a `limit` (each list has a default and a maximum) and an opaque
//! `cursor`. A page's answer says where the next one starts: `nextCursor` beside `data` (null on
//! the last page) and, for a GET, a `Link: <…>; rel="next"` header with the same query and that
//! cursor. A client that ignores the cursor gets the first page.
//!
//! A cursor is a position in the list's order (a time or name and an id, a scan time and a tie),
//! not an offset: what is written meanwhile before it neither shifts nor repeats the next page.
//! It travels as base64url JSON, opaque to clients and checked when it comes back.

use std::collections::HashMap;

use axum::http::{header, HeaderValue, Uri};
use axum::response::{IntoResponse, Response};
use axum::Json;
use base64::engine::general_purpose::URL_SAFE_NO_PAD;
use base64::Engine;
use serde::{Deserialize, Serialize};

use super::{ApiError, AppState};
use crate::aggregate::contract::EventPosition;
use crate::store::{ListOrder, ListPosition};

/// Where a page ended, in one list's order.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
#[serde(tag = "k", rename_all = "camelCase", deny_unknown_fields)]
pub enum Cursor {
    /// The code list by createdAt or updatedAt (`t`, epoch ms), or by name (`n`, lower-cased).
    CreatedAt {
        t: u64,
        id: String,
    },
    UpdatedAt {
        t: u64,
        id: String,
    },
    Name {
        n: String,
        id: String,
    },
    /// The updated-after feeds: a code's updatedAt and id.
    Changes {
        t: u64,
        id: String,
    },
    /// One code's events (detailed, orphans), or one team's (the dashboard's scans table).
    Events {
        at: EventPosition,
    },
    /// The events of several codes (bulk): among one millisecond's, codes by id.
    BulkEvents {
        at: EventPosition,
        qr: String,
    },
    /// The team list: a team's createdAt and id.
    Teams {
        t: i64,
        id: String,
    },
    /// The key list: a key's createdAt and clientId.
    Keys {
        t: i64,
        id: String,
    },
}

impl Cursor {
    pub fn encode(&self) -> String {
        let json = serde_json::to_vec(self).expect("a cursor serializes");
        URL_SAFE_NO_PAD.encode(json)
    }

    /// The cursor a client sent back. Err (400): one this API did not give.
    pub fn parse(text: &str) -> Result<Self, ApiError> {
        URL_SAFE_NO_PAD
            .decode(text)
            .ok()
            .and_then(|json| serde_json::from_slice(&json).ok())
            .ok_or_else(|| {
                ApiError::bad_request(
                    "cursor is not one this API gave: pass a page's nextCursor as it came",
                )
            })
    }

    /// Where a page of the code list in `order` ended.
    pub fn of_list(order: ListOrder, position: ListPosition) -> Self {
        match (order, position) {
            (ListOrder::CreatedAt, ListPosition::Time(t, id)) => Cursor::CreatedAt { t, id },
            (ListOrder::UpdatedAt, ListPosition::Time(t, id)) => Cursor::UpdatedAt { t, id },
            (_, ListPosition::Name(n, id)) => Cursor::Name { n, id },
            // A time position under the name order: no store gives one.
            (ListOrder::Name, ListPosition::Time(t, id)) => Cursor::UpdatedAt { t, id },
        }
    }

    /// The position in the code list by `order`. Err (400): a cursor of another order or list.
    pub fn in_list(self, order: ListOrder) -> Result<ListPosition, ApiError> {
        match (order, self) {
            (ListOrder::CreatedAt, Cursor::CreatedAt { t, id })
            | (ListOrder::UpdatedAt, Cursor::UpdatedAt { t, id }) => Ok(ListPosition::Time(t, id)),
            (ListOrder::Name, Cursor::Name { n, id }) => Ok(ListPosition::Name(n, id)),
            _ => Err(other_list()),
        }
    }

    /// Where a page of an updated-after feed ended.
    pub fn of_changes(position: ListPosition) -> Self {
        match position {
            ListPosition::Time(t, id) => Cursor::Changes { t, id },
            // The changes index is by time: no store gives one (from the start, if it did).
            ListPosition::Name(_, id) => Cursor::Changes { t: 0, id },
        }
    }

    /// The position in an updated-after feed. Err (400): a cursor of another list.
    pub fn in_changes(self) -> Result<ListPosition, ApiError> {
        match self {
            Cursor::Changes { t, id } => Ok(ListPosition::Time(t, id)),
            _ => Err(other_list()),
        }
    }

    /// The position among one code's events. Err (400): a cursor of another list.
    pub fn in_events(self) -> Result<EventPosition, ApiError> {
        match self {
            Cursor::Events { at } => Ok(at),
            _ => Err(other_list()),
        }
    }

    /// The position among several codes' events. Err (400): a cursor of another list.
    pub fn in_bulk_events(self) -> Result<(EventPosition, String), ApiError> {
        match self {
            Cursor::BulkEvents { at, qr } => Ok((at, qr)),
            _ => Err(other_list()),
        }
    }
}

/// A list the store reads whole (an organization's teams, a member's keys), served a page at a
/// time in the order (createdAt, id).
pub struct RecordPage {
    pub limit: usize,
    after: Option<(i64, String)>,
}

impl RecordPage {
    /// From the query: `limit` (`default`, at most `max`) and the `cursor` of a page of the list
    /// `kind` gives (Err 400: another list's).
    pub fn of(
        params: &HashMap<String, String>,
        default: usize,
        max: usize,
        kind: fn(Cursor) -> Option<(i64, String)>,
    ) -> Result<Self, ApiError> {
        let after = match cursor(params)? {
            Some(c) => Some(kind(c).ok_or_else(other_list)?),
            None => None,
        };
        Ok(Self {
            limit: limit(params, default, max)?,
            after,
        })
    }

    /// This page of `records`, and where the next starts (`to_cursor` of the last one kept).
    pub fn take<T>(
        &self,
        mut records: Vec<T>,
        key: impl Fn(&T) -> (i64, &str),
        to_cursor: fn(i64, String) -> Cursor,
    ) -> (Vec<T>, Option<Cursor>) {
        records.sort_by(|a, b| key(a).cmp(&key(b)));
        if let Some((t, id)) = &self.after {
            records.retain(|r| key(r) > (*t, id.as_str()));
        }
        split(records, self.limit, |last| {
            let (t, id) = key(last);
            to_cursor(t, id.to_owned())
        })
    }
}

impl Cursor {
    /// The position in the team list, if it is one of its cursors.
    pub fn in_teams(self) -> Option<(i64, String)> {
        match self {
            Cursor::Teams { t, id } => Some((t, id)),
            _ => None,
        }
    }

    /// The position in the key list, if it is one of its cursors.
    pub fn in_keys(self) -> Option<(i64, String)> {
        match self {
            Cursor::Keys { t, id } => Some((t, id)),
            _ => None,
        }
    }
}

fn other_list() -> ApiError {
    ApiError::bad_request(
        "cursor belongs to another list or order: pass it with the query that gave it",
    )
}

/// A list's `limit`: `default` when absent, else 1 to `max`.
pub fn limit(
    params: &HashMap<String, String>,
    default: usize,
    max: usize,
) -> Result<usize, ApiError> {
    match params.get("limit") {
        None => Ok(default),
        Some(text) => text
            .parse::<usize>()
            .ok()
            .filter(|n| (1..=max).contains(n))
            .ok_or_else(|| {
                ApiError::bad_request(format!("limit must be an integer from 1 to {max}"))
            }),
    }
}

/// The query's `cursor`, if it has one.
pub fn cursor(params: &HashMap<String, String>) -> Result<Option<Cursor>, ApiError> {
    params
        .get("cursor")
        .map(|text| Cursor::parse(text))
        .transpose()
}

/// The items of a page and where the next one starts: given `limit + 1` items in the list's
/// order, the first `limit` and, when there were more, the cursor of the last one kept.
pub fn split<T>(
    mut items: Vec<T>,
    limit: usize,
    cursor_of: impl FnOnce(&T) -> Cursor,
) -> (Vec<T>, Option<Cursor>) {
    if items.len() <= limit {
        return (items, None);
    }
    items.truncate(limit);
    let next = items.last().map(cursor_of);
    (items, next)
}

/// A page: the envelope with `nextCursor` beside `data`.
#[derive(Serialize, utoipa::ToSchema)]
#[serde(rename_all = "camelCase")]
pub struct Paged<T> {
    /// Always true.
    success: bool,
    data: T,
    /// Pass it as `cursor`, with the same query, for the next page; null on the last page.
    next_cursor: Option<String>,
}

/// A page's answer to a POST (its query is the body: the client sends it again with `cursor`).
pub fn paged<T: Serialize>(data: T, next: Option<Cursor>) -> Response {
    Json(Paged {
        success: true,
        data,
        next_cursor: next.map(|c| c.encode()),
    })
    .into_response()
}

/// A page's answer to a GET of `uri`: also the next page's URL in a `Link` header (RFC 8288).
pub fn paged_get<T: Serialize>(
    state: &AppState,
    uri: &Uri,
    data: T,
    next: Option<Cursor>,
) -> Response {
    let link = next
        .as_ref()
        .and_then(|cursor| next_link(state, uri, cursor));
    let mut response = paged(data, next);
    if let Some(link) = link {
        response.headers_mut().insert(header::LINK, link);
    }
    response
}

/// `<the same URL with cursor=…>; rel="next"`, on the API's public URL (`page` is dropped: a
/// cursor replaces it).
fn next_link(state: &AppState, uri: &Uri, cursor: &Cursor) -> Option<HeaderValue> {
    let mut url = url::Url::parse(&state.api_base_url)
        .ok()?
        .join(uri.path().trim_start_matches('/'))
        .ok()?;
    let query = uri.query().unwrap_or_default();
    let kept: Vec<(String, String)> = url::form_urlencoded::parse(query.as_bytes())
        .filter(|(name, _)| name != "cursor" && name != "page")
        .map(|(name, value)| (name.into_owned(), value.into_owned()))
        .collect();
    url.query_pairs_mut()
        .clear()
        .extend_pairs(kept)
        .append_pair("cursor", &cursor.encode());
    HeaderValue::from_str(&format!("<{url}>; rel=\"next\"")).ok()
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::aggregate::contract::EventTie;

    #[test]
    fn a_cursor_reads_back_as_it_was_written_and_nothing_else_reads() {
        let cursors = [
            Cursor::Name {
                n: "ünï \"quoted\"".into(),
                id: "qr_1".into(),
            },
            Cursor::Changes {
                t: 1_700_000_000_000,
                id: "qr_2".into(),
            },
            Cursor::BulkEvents {
                at: EventPosition {
                    time: -5,
                    tie: EventTie::Id("ab".into()),
                },
                qr: "qr_3".into(),
            },
        ];
        for cursor in cursors {
            let text = cursor.encode();
            assert!(text
                .bytes()
                .all(|b| b.is_ascii_alphanumeric() || b == b'-' || b == b'_'));
            assert_eq!(Cursor::parse(&text).unwrap(), cursor);
        }
        for bad in [
            "",
            "!!",
            "e30",
            &URL_SAFE_NO_PAD.encode(r#"{"k":"changes","t":1}"#),
        ] {
            assert_eq!(Cursor::parse(bad).unwrap_err().status, 400, "{bad}");
        }
    }

    #[test]
    fn a_cursor_is_only_taken_by_its_own_list() {
        let changes = Cursor::Changes {
            t: 1,
            id: "qr".into(),
        };
        assert!(changes.clone().in_list(ListOrder::UpdatedAt).is_err());
        assert!(changes.clone().in_events().is_err());
        assert_eq!(
            changes.in_changes().unwrap(),
            ListPosition::Time(1, "qr".into())
        );
        let by_name = Cursor::of_list(ListOrder::Name, ListPosition::Name("a".into(), "qr".into()));
        assert!(by_name.clone().in_list(ListOrder::CreatedAt).is_err());
        assert!(by_name.in_list(ListOrder::Name).is_ok());
    }

    #[test]
    fn a_page_of_limit_plus_one_items_keeps_limit_and_points_past_the_last() {
        let cursor = |n: &u32| Cursor::Changes {
            t: u64::from(*n),
            id: String::new(),
        };
        let (page, next) = split(vec![1, 2, 3], 2, cursor);
        assert_eq!((page, next), (vec![1, 2], Some(cursor(&2))));
        let (page, next) = split(vec![1, 2], 2, cursor);
        assert_eq!((page, next), (vec![1, 2], None));
    }
}
