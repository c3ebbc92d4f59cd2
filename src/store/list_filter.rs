//! The list's filters: a team's live codes of one type, or with one tag, kept in one index with
//! every write the way the other list indexes are (see `list.rs`), so that a filtered page never
//! reads every code of the team.
//!
//! The index holds one entry per live code per filter (its type, and each of its tags), keyed by
//! team, filter and updatedAt (the list's default order), with what a search matches and the
//! other orders sort by; and how many codes each filter has. A filtered page by updatedAt is a
//! range of the index; by createdAt or name, with a search, or with both filters, the page reads
//! the index entries of the filter with fewer codes (never the codes' records) and sorts them:
//! bounded by how many codes have that type or tag, not by the team.

use std::collections::HashMap;
use std::ops::Bound;

use redb::{ReadableTable, TableDefinition};

use super::list::{
    fill_once, for_each_code, matches, millis, name_key, Hit, IndexEntry, ListOrder, ListPosition,
    PageStart, QrListQuery,
};
use super::StoreError;
use crate::model::Qr;

/// (team id, filter, updatedAt, qr id): a live code under a filter (its type, or one of its tags).
type FilterKey = (&'static str, &'static str, u64, &'static str);
/// (createdAt, name key, displayId lowercased): what a search matches and the other orders sort by.
type FilterEntry = (u64, &'static str, &'static str);
/// The team's live codes under each filter, by last change.
const BY_FILTER: TableDefinition<FilterKey, FilterEntry> = TableDefinition::new("list_by_filter");
/// (team id, filter) -> how many live codes it has.
const FILTER_COUNTS: TableDefinition<(&str, &str), u64> =
    TableDefinition::new("list_filter_counts");
/// Set in META once the filter index holds every code (stores of earlier versions are filled on
/// opening).
const FILTER_INDEX_FILLED: &str = "list_filter_index_filled";

/// The filters a code is listed under: "type:WEB", then "tag:TAG" for each of its tags (once).
pub(crate) fn filters_of(qr: &Qr) -> Vec<String> {
    let mut filters = vec![type_filter(qr.qr_type.as_str())];
    for tag in &qr.tags {
        let filter = tag_filter(tag);
        if !filters.contains(&filter) {
            filters.push(filter);
        }
    }
    filters
}

fn type_filter(qr_type: &str) -> String {
    format!("type:{qr_type}")
}

fn tag_filter(tag: &str) -> String {
    format!("tag:{tag}")
}

impl QrListQuery {
    /// The filters a code must have to be on the query's pages (none: every code).
    pub(crate) fn filters(&self) -> Vec<String> {
        let qr_type = self.qr_type.map(|t| type_filter(t.as_str()));
        let tag = self.tag.as_deref().map(tag_filter);
        qr_type.into_iter().chain(tag).collect()
    }

    /// Whether a page is a range of one filter's index, in its order (no sorting needed).
    pub(crate) fn is_filter_range(&self, filters: &[String]) -> bool {
        filters.len() == 1 && self.search.is_none() && self.order == ListOrder::UpdatedAt
    }
}

/// The filter index, open in a write transaction (with the other list indexes).
pub(super) struct FilterIndex<'txn> {
    by_filter: redb::Table<'txn, FilterKey, FilterEntry>,
    counts: redb::Table<'txn, (&'static str, &'static str), u64>,
    /// Changes of the counts not written yet, by (team, filter): each count is written once a
    /// transaction (`flush`), not once a code (a bulk import read and wrote one filter's count
    /// for each of its 10 000 codes a batch).
    pending: HashMap<(String, String), i64>,
}

impl<'txn> FilterIndex<'txn> {
    pub(super) fn open(txn: &'txn redb::WriteTransaction) -> Result<Self, StoreError> {
        Ok(Self {
            by_filter: txn.open_table(BY_FILTER)?,
            counts: txn.open_table(FILTER_COUNTS)?,
            pending: HashMap::new(),
        })
    }

    /// Lists the live code `qr` under each of its filters (once, however often it is added).
    pub(super) fn add(&mut self, qr: &Qr) -> Result<(), StoreError> {
        let (team, id) = (qr.team_id.as_str(), qr.id.as_str());
        let (created, updated) = (millis(qr.created_at), millis(qr.updated_at));
        let (name, display_id) = (name_key(qr), qr.display_id.to_lowercase());
        for filter in filters_of(qr) {
            let entry = (name.as_str(), display_id.as_str());
            let key = (team, filter.as_str(), updated, id);
            if self
                .by_filter
                .insert(key, (created, entry.0, entry.1))?
                .is_none()
            {
                self.count(team, &filter, 1);
            }
        }
        Ok(())
    }

    /// Takes the live code `qr`, as it was stored, off its filters.
    pub(super) fn remove(&mut self, qr: &Qr) -> Result<(), StoreError> {
        let (team, id, updated) = (qr.team_id.as_str(), qr.id.as_str(), millis(qr.updated_at));
        for filter in filters_of(qr) {
            if self
                .by_filter
                .remove((team, filter.as_str(), updated, id))?
                .is_some()
            {
                self.count(team, &filter, -1);
            }
        }
        Ok(())
    }

    fn count(&mut self, team: &str, filter: &str, by: i64) {
        *self
            .pending
            .entry((team.to_owned(), filter.to_owned()))
            .or_default() += by;
    }

    /// Writes the counts' changes (`ListIndex::write` does, after each write; the fill below).
    pub(super) fn flush(&mut self) -> Result<(), StoreError> {
        for ((team, filter), by) in self.pending.drain() {
            let key = (team.as_str(), filter.as_str());
            let count = self.counts.get(key)?.map_or(0, |n| n.value());
            match count.saturating_add_signed(by) {
                0 => self.counts.remove(key)?,
                n => self.counts.insert(key, n)?,
            };
        }
        Ok(())
    }
}

/// Fills the filter index from the codes of a store written before it existed (once).
pub(super) fn fill_filter_index(db: &redb::Database) -> Result<(), StoreError> {
    fill_once(db, FILTER_INDEX_FILLED, |txn| {
        // Every code's whole record is read: with 10M codes ~2 minutes before the store opens.
        tracing::info!(
            "filling the codes list's filter index (once, for a store of an earlier version)"
        );
        let mut index = FilterIndex::open(txn)?;
        for_each_code(txn, |qr| match qr.deleted {
            true => Ok(()),
            false => index.add(&qr),
        })?;
        index.flush()?;
        tracing::info!("the codes list's filter index is filled");
        Ok(())
    })
}

/// The page of a filtered query (`filters` not empty), whether more follow, and how many codes
/// match on all pages.
pub(super) fn filtered_page(
    txn: &redb::ReadTransaction,
    query: &QrListQuery,
    filters: &[String],
) -> Result<((Vec<ListPosition>, bool), u64), StoreError> {
    let by_filter = txn.open_table(BY_FILTER)?;
    let counts = txn.open_table(FILTER_COUNTS)?;
    let team = query.team_id.as_str();
    let mut sized = Vec::with_capacity(filters.len());
    for filter in filters {
        let count = counts
            .get((team, filter.as_str()))?
            .map_or(0, |n| n.value());
        sized.push((count, filter.as_str()));
    }
    sized.sort_unstable();
    let (count, driving) = sized[0];
    if query.is_filter_range(filters) {
        return Ok((range_page(&by_filter, query, driving, count)?, count));
    }
    let others: Vec<&str> = sized[1..].iter().map(|(_, filter)| *filter).collect();
    let hits = filter_hits(&by_filter, query, driving, &others)?;
    let total = hits.len() as u64;
    Ok((query.page_of(hits), total))
}

type FilterTable = redb::ReadOnlyTable<FilterKey, FilterEntry>;

/// The codes of the team under `driving` that are under each of `others` too and match the
/// query's search, from the index alone.
fn filter_hits(
    table: &FilterTable,
    query: &QrListQuery,
    driving: &str,
    others: &[&str],
) -> Result<Vec<Hit>, StoreError> {
    let team = query.team_id.as_str();
    let mut hits = Vec::new();
    let after_driving = format!("{driving}\0");
    let range = (team, driving, 0, "")..(team, after_driving.as_str(), 0, "");
    'entries: for entry in table.range(range)? {
        let (key, value) = entry?;
        let (_, _, updated, id) = key.value();
        let (created, name, display_id) = value.value();
        if let Some(search) = &query.search {
            if !matches(search, name, display_id) {
                continue;
            }
        }
        for other in others {
            if table.get((team, *other, updated, id))?.is_none() {
                continue 'entries;
            }
        }
        hits.push(Hit {
            id: id.to_owned(),
            name_key: name.to_owned(),
            created,
            updated,
        });
    }
    Ok(hits)
}

/// A page of one filter's index by updatedAt, which holds `total` codes, and whether more follow.
fn range_page(
    table: &FilterTable,
    query: &QrListQuery,
    filter: &str,
    total: u64,
) -> Result<(Vec<ListPosition>, bool), StoreError> {
    let team = query.team_id.as_str();
    // Every entry of the filter sorts before the first of "filter NUL" (filters have no NUL).
    let after_filter = format!("{filter}\0");
    let (first, end) = ((team, filter, 0, ""), (team, after_filter.as_str(), 0, ""));
    let position = |entry: IndexEntry<FilterKey, FilterEntry>| {
        entry.map(|(key, _)| {
            let (_, _, time, id) = key.value();
            ListPosition::Time(time, id.to_owned())
        })
    };
    let page = match &query.start {
        PageStart::Offset(offset) => {
            let range = table.range((Bound::Included(first), Bound::Excluded(end)))?;
            query.window(*offset, range.map(position), total)?
        }
        PageStart::After(after) => {
            let Some((time, id)) = after.in_time() else {
                return Ok((Vec::new(), false));
            };
            let at = (team, filter, time, id);
            if query.descending {
                let range = table.range((Bound::Included(first), Bound::Excluded(at)))?;
                query.cut_walk(range.rev().map(position))?
            } else {
                let range = table.range((Bound::Excluded(at), Bound::Excluded(end)))?;
                query.cut_walk(range.map(position))?
            }
        }
    };
    Ok(page)
}
