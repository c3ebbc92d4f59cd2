//! A filtered page by name or createdAt read in the order's own index (`list-name` or
//! `list-created`): its entries are read from where the page starts, a batch at a time, and a
//! code is kept when every filter's set holds it, until the page is full.
//!
//! Why: the other way, reading every code of the filter with its name and createdAt and then
//! sorting, reads all of a common filter for any page (83 000 codes of one type in 1M took
//! seconds). A walk reads the page's share of the index instead: for a filter that holds one
//! code in `r`, about `r` entries per code of the page and of the offset before it. The caller
//! walks when that is less than reading the filter (`walk_is_cheaper`).

use super::list::split_member;
use super::RedisStore;
use crate::redis_page::page_after;
use crate::store::list::{millis, ListPosition, PageStart};
use crate::store::{ListOrder, QrListQuery, StoreError};

/// The fewest and the most index entries read per batch.
const BATCH: (usize, usize) = (64, 10_000);

/// Where the next batch of the index starts.
enum From {
    /// So many entries into the index, in the page's direction.
    Rank(usize),
    /// Just past this time and id (a time index).
    Time(i64, String),
    /// At this ZRANGE BYLEX bound (the name index): exclusive, "(" and a member or a prefix.
    Lex(String),
}

/// Whether walking the order's index of `indexed` entries, of which `matching` are in every
/// filter, reads fewer entries for `query` than reading all `smallest` codes of its smallest
/// filter would (each of which costs about two: its name and createdAt are read besides).
/// Matching entries are assumed spread evenly through the index.
pub(super) fn walk_is_cheaper(
    query: &QrListQuery,
    (smallest, matching, indexed): (u64, u64, u64),
) -> bool {
    let wanted = match &query.start {
        PageStart::Offset(offset) => offset + query.limit + 1,
        PageStart::After(_) => query.limit + 1,
    } as u64;
    query.search.is_none()
        && query.order != ListOrder::UpdatedAt
        && wanted.saturating_mul(indexed) <= smallest.saturating_mul(2 * matching)
}

impl RedisStore {
    /// The page of `query` (by name or createdAt, no search) among the codes in every set of
    /// `filter_keys`, read in the order's index, where about `density` of the entries are such
    /// codes; and whether more follow.
    pub(super) async fn walked_page(
        &self,
        query: &QrListQuery,
        filter_keys: &[&str],
        density: f64,
    ) -> Result<(Vec<ListPosition>, bool), StoreError> {
        let [by_created, _, by_name, ..] = self.list_keys(&query.team_id);
        let index = if query.order == ListOrder::Name {
            by_name
        } else {
            by_created
        };
        let (mut skip, mut from) = match &query.start {
            PageStart::Offset(offset) => (*offset, From::Rank(0)),
            PageStart::After(after) => match from_position(query, after) {
                Some(from) => (0, from),
                None => return Ok((Vec::new(), false)),
            },
        };
        let mut page = Vec::with_capacity(query.limit + 1);
        loop {
            let needed = skip + query.limit + 1 - page.len();
            let size = ((needed as f64 / density.max(1e-9)) * 1.2) as usize;
            let size = size.clamp(BATCH.0, BATCH.1);
            let batch = self.index_batch(query, &index, &mut from, size).await?;
            let ended = batch.len() < size;
            for (position, kept) in self.in_every_filter(batch, filter_keys).await? {
                if !kept {
                    continue;
                }
                if skip > 0 {
                    skip -= 1;
                } else {
                    page.push(position);
                }
            }
            if page.len() > query.limit || ended {
                return Ok(query.cut(page.into_iter()));
            }
        }
    }

    /// Up to `size` positions of `index` from `from`, in the page's direction; `from` moves past
    /// them.
    async fn index_batch(
        &self,
        query: &QrListQuery,
        index: &str,
        from: &mut From,
        size: usize,
    ) -> Result<Vec<ListPosition>, StoreError> {
        let mut conn = self.conn.clone();
        let mut range = redis::cmd("ZRANGE");
        range.arg(index);
        let positions = match from {
            From::Rank(rank) => {
                range.arg(*rank).arg(*rank + size - 1);
                if query.descending {
                    range.arg("REV");
                }
                *rank += size;
                if query.order == ListOrder::Name {
                    let members: Vec<String> = range.query_async(&mut conn).await?;
                    name_positions(&members)
                } else {
                    let entries: Vec<(String, f64)> =
                        range.arg("WITHSCORES").query_async(&mut conn).await?;
                    time_positions(entries.into_iter().map(|(id, t)| (id, t as i64)))
                }
            }
            From::Time(time, id) => {
                let position = (*time, id.as_str());
                let entries = page_after(&mut conn, index, position, size, query.descending);
                time_positions(entries.await?.into_iter())
            }
            From::Lex(bound) => {
                let end = if query.descending { "-" } else { "+" };
                range.arg(&*bound).arg(end).arg("BYLEX");
                if query.descending {
                    range.arg("REV");
                }
                let members: Vec<String> = range
                    .arg("LIMIT")
                    .arg(0)
                    .arg(size)
                    .query_async(&mut conn)
                    .await?;
                if let Some(last) = members.last() {
                    *bound = format!("({last}");
                }
                name_positions(&members)
            }
        };
        if let (From::Time(time, id), Some(ListPosition::Time(last, last_id))) =
            (&mut *from, positions.last())
        {
            (*time, *id) = (*last as i64, last_id.clone());
        }
        Ok(positions)
    }

    /// Each position with whether every set of `filter_keys` holds its code.
    async fn in_every_filter(
        &self,
        positions: Vec<ListPosition>,
        filter_keys: &[&str],
    ) -> Result<Vec<(ListPosition, bool)>, StoreError> {
        let ids: Vec<&str> = positions.iter().map(ListPosition::id).collect();
        let kept = self.held_by_every(filter_keys, &ids).await?;
        Ok(positions.into_iter().zip(kept).collect())
    }

    /// How many codes are in every one of `filter_keys` (two or more).
    pub(super) async fn in_all_count(&self, filter_keys: &[&str]) -> Result<u64, StoreError> {
        let mut conn = self.conn.clone();
        Ok(redis::cmd("ZINTERCARD")
            .arg(filter_keys.len())
            .arg(filter_keys)
            .query_async(&mut conn)
            .await?)
    }
}

/// The name index's members as positions.
fn name_positions(members: &[String]) -> Vec<ListPosition> {
    members
        .iter()
        .filter_map(|member| {
            let (name, id, _) = split_member(member)?;
            Some(ListPosition::Name(name.to_owned(), id.to_owned()))
        })
        .collect()
}

/// A time index's entries as positions.
fn time_positions(entries: impl Iterator<Item = (String, i64)>) -> Vec<ListPosition> {
    entries
        .map(|(id, time)| ListPosition::Time(millis(time), id))
        .collect()
}

/// Where a walk starts just past a cursor; None for a position of another index (an empty page).
fn from_position(query: &QrListQuery, after: &ListPosition) -> Option<From> {
    Some(match (query.order, after) {
        (ListOrder::Name, ListPosition::Name(name, id)) => From::Lex(match query.descending {
            // As in `name_page`: both bounds leave out the position's own code only.
            true => format!("({name}\0{id}\0"),
            false => format!("({name}\0{id}\x01"),
        }),
        (ListOrder::CreatedAt, ListPosition::Time(time, id)) => {
            From::Time(*time as i64, id.clone())
        }
        _ => return None,
    })
}
