//! The list of a team's live codes, read from indexes kept with every write rather than by
//! loading the team: per team, its live codes by createdAt, by updatedAt and by name, and how
//! many there are (which is also what a plan's code limit counts). Deleted codes are in none of
//! them, as the list never shows them.
//!
//! A page without a search is a range of one index. A search (a substring of the name or the
//! displayId) reads the team's name index, which holds both texts and both times, and never the
//! codes' records: only the page's codes are read whole (Redis reads its search text instead,
//! `redis/search.rs`). A type or tag filter reads the filter
//! index instead (`list_filter.rs`).

use std::collections::HashMap;
use std::ops::Bound;

use redb::{ReadableDatabase, ReadableTable, TableDefinition};

use super::list_filter::{filtered_page, FilterIndex};
use super::{decode_record, EmbeddedStore, StoreError, META, QRS};
use crate::model::{Qr, QrType};

/// (team id, createdAt, qr id): the team's live codes by creation.
const BY_CREATED: TableDefinition<(&str, u64, &str), ()> = TableDefinition::new("list_by_created");
/// (team id, updatedAt, qr id): the team's live codes by last change.
const BY_UPDATED: TableDefinition<(&str, u64, &str), ()> = TableDefinition::new("list_by_updated");
/// (team id, name key, qr id) -> (displayId lowercased, createdAt, updatedAt): the team's live
/// codes by name, with what a search matches and sorts by.
const BY_NAME: TableDefinition<(&str, &str, &str), (&str, u64, u64)> =
    TableDefinition::new("list_by_name");
/// (team id, updatedAt, qr id): every code of the team, deleted ones too, by last change (the
/// updated-after feeds).
const BY_CHANGE: TableDefinition<(&str, u64, &str), ()> = TableDefinition::new("list_by_change");
/// Team id -> how many live codes it has.
const LIVE_COUNTS: TableDefinition<&str, u64> = TableDefinition::new("live_counts");
/// Set in META once the indexes hold every code (stores of earlier versions are filled on
/// opening).
const LIST_INDEX_FILLED: &str = "list_index_filled";

#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum ListOrder {
    CreatedAt,
    UpdatedAt,
    Name,
}

/// A place in a list index, where a page ended: the next page starts just past it, so that
/// codes written meanwhile neither shift nor repeat the pages (an offset would). Positions of
/// one index compare in its (ascending) order.
#[derive(Debug, Clone, PartialEq, Eq, PartialOrd, Ord)]
pub enum ListPosition {
    /// A createdAt or updatedAt as the index keeps it (epoch ms), and the code's id.
    Time(u64, String),
    /// The name key (the name lower-cased) and the code's id.
    Name(String, String),
}

impl ListPosition {
    /// Just before every change at or after `from` (epoch ms): every id sorts after "".
    pub fn changes_from(from: i64) -> Self {
        ListPosition::Time(millis(from), String::new())
    }

    pub fn id(&self) -> &str {
        match self {
            ListPosition::Time(_, id) | ListPosition::Name(_, id) => id,
        }
    }

    /// The time and id of a position in a time index (None for a name position).
    pub(super) fn in_time(&self) -> Option<(u64, &str)> {
        match self {
            ListPosition::Time(time, id) => Some((*time, id)),
            ListPosition::Name(..) => None,
        }
    }

    /// The name key and id of a position in the name index (None for a time position).
    pub(super) fn in_names(&self) -> Option<(&str, &str)> {
        match self {
            ListPosition::Name(name, id) => Some((name, id)),
            ListPosition::Time(..) => None,
        }
    }
}

/// Where a page starts.
#[derive(Debug, Clone)]
pub enum PageStart {
    /// So many codes into the order (the reference's `page`).
    Offset(usize),
    /// Just past where an earlier page ended (a cursor), in the query's direction. A position of
    /// another index than the order's gives an empty page (the API refuses such cursors).
    After(ListPosition),
}

/// One page of a team's live codes.
#[derive(Debug, Clone)]
pub struct QrListQuery {
    pub team_id: String,
    pub order: ListOrder,
    pub descending: bool,
    pub start: PageStart,
    pub limit: usize,
    /// Lowercased; a code matches when its name or displayId contains it.
    pub search: Option<String>,
    /// Only codes of this type.
    pub qr_type: Option<QrType>,
    /// Only codes with this tag (exactly as stored).
    pub tag: Option<String>,
}

#[derive(Debug, Clone)]
pub struct QrListPage {
    pub qrs: Vec<Qr>,
    /// How many codes the query matches on all pages.
    pub total: u64,
    /// Where the page ended when more codes follow it; None on the last page.
    pub next: Option<ListPosition>,
}

/// Where a code sorts by name: its name lowercased. NUL, which separates the parts of a Redis
/// index member, becomes a space.
pub(super) fn name_key(qr: &Qr) -> String {
    qr.name.to_lowercase().replace('\0', " ")
}

/// A time as an index stores it (times before 1970 sort as 1970).
pub(super) fn millis(time: i64) -> u64 {
    time.max(0) as u64
}

/// A code a search matched, with everything the page's order needs.
pub(super) struct Hit {
    pub id: String,
    pub name_key: String,
    pub created: u64,
    pub updated: u64,
}

pub(super) fn matches(search: &str, name_key: &str, display_id_lowercased: &str) -> bool {
    name_key.contains(search) || display_id_lowercased.contains(search)
}

impl QrListQuery {
    /// Where `hit` is in the query's order.
    fn position_of(&self, hit: Hit) -> ListPosition {
        match self.order {
            ListOrder::CreatedAt => ListPosition::Time(hit.created, hit.id),
            ListOrder::UpdatedAt => ListPosition::Time(hit.updated, hit.id),
            ListOrder::Name => ListPosition::Name(hit.name_key, hit.id),
        }
    }

    /// The page among all of a search's hits, in the query's order, and whether more follow.
    pub(super) fn page_of(&self, hits: Vec<Hit>) -> (Vec<ListPosition>, bool) {
        let mut positions: Vec<ListPosition> =
            hits.into_iter().map(|hit| self.position_of(hit)).collect();
        positions.sort_unstable();
        if self.descending {
            positions.reverse();
        }
        let from = match &self.start {
            PageStart::Offset(offset) => (*offset).min(positions.len()),
            // The positions up to `after` in the page's direction are behind it.
            PageStart::After(after) => positions.partition_point(|p| match self.descending {
                false => p <= after,
                true => p >= after,
            }),
        };
        self.cut(positions.drain(from..))
    }

    /// The first `limit` positions of a walk in the page's direction, and whether more follow.
    pub(super) fn cut(
        &self,
        walk: impl Iterator<Item = ListPosition>,
    ) -> (Vec<ListPosition>, bool) {
        let mut page: Vec<ListPosition> = walk.take(self.limit + 1).collect();
        let more = page.len() > self.limit;
        page.truncate(self.limit);
        (page, more)
    }

    /// `cut` over a walk of index entries that may fail.
    pub(super) fn cut_walk<E>(
        &self,
        walk: impl Iterator<Item = Result<ListPosition, E>>,
    ) -> Result<(Vec<ListPosition>, bool), E> {
        let page: Vec<ListPosition> = walk.take(self.limit + 1).collect::<Result<_, E>>()?;
        Ok(self.cut(page.into_iter()))
    }

    /// The page of an index of `total` entries read in its own order (ascending), or backwards
    /// when descending, `offset` entries in; and whether more follow. An index is walked to the
    /// page's offset, so a page in the second half is walked to from the other end: no page is
    /// further than half the index from where it starts.
    pub(super) fn window<T, E>(
        &self,
        offset: usize,
        entries: impl DoubleEndedIterator<Item = Result<T, E>>,
        total: u64,
    ) -> Result<(Vec<T>, bool), E> {
        let total = usize::try_from(total).unwrap_or(usize::MAX);
        let end = offset.saturating_add(self.limit).min(total);
        if offset >= total {
            return Ok((Vec::new(), false));
        }
        let more = end < total;
        let from_far_end = offset > total / 2;
        let entries: Box<dyn Iterator<Item = Result<T, E>>> = if self.descending != from_far_end {
            Box::new(entries.rev())
        } else {
            Box::new(entries)
        };
        if !from_far_end {
            let page = entries
                .skip(offset)
                .take(self.limit)
                .collect::<Result<_, E>>()?;
            return Ok((page, more));
        }
        let mut page: Vec<T> = entries
            .skip(total - end)
            .take(end - offset)
            .collect::<Result<_, E>>()?;
        page.reverse();
        Ok((page, more))
    }
}

/// The list indexes, open in a write transaction: every write of a code goes through here
/// (`ListIndex::write`).
pub(super) struct ListIndex<'txn> {
    by_created: redb::Table<'txn, (&'static str, u64, &'static str), ()>,
    by_updated: redb::Table<'txn, (&'static str, u64, &'static str), ()>,
    by_name:
        redb::Table<'txn, (&'static str, &'static str, &'static str), (&'static str, u64, u64)>,
    live_counts: redb::Table<'txn, &'static str, u64>,
    by_change: redb::Table<'txn, (&'static str, u64, &'static str), ()>,
    filters: FilterIndex<'txn>,
    /// Changes of the teams' live counts not written yet: written once a write (`flush`), as the
    /// filters' counts are.
    pending_live: HashMap<String, i64>,
}

impl<'txn> ListIndex<'txn> {
    /// Runs `change` on the list indexes of `txn`, then writes the counts it moved: the only way
    /// to open them for writing, so that no write leaves the counts behind its entries.
    pub(super) fn write<T>(
        txn: &'txn redb::WriteTransaction,
        change: impl FnOnce(&mut ListIndex<'txn>) -> Result<T, StoreError>,
    ) -> Result<T, StoreError> {
        let mut index = Self::open(txn)?;
        let done = change(&mut index)?;
        index.flush()?;
        Ok(done)
    }

    fn open(txn: &'txn redb::WriteTransaction) -> Result<Self, StoreError> {
        Ok(Self {
            by_created: txn.open_table(BY_CREATED)?,
            by_updated: txn.open_table(BY_UPDATED)?,
            by_name: txn.open_table(BY_NAME)?,
            live_counts: txn.open_table(LIVE_COUNTS)?,
            by_change: txn.open_table(BY_CHANGE)?,
            filters: FilterIndex::open(txn)?,
            pending_live: HashMap::new(),
        })
    }

    /// The team's live codes, this transaction's changes included.
    pub(super) fn live_count(&self, team_id: &str) -> Result<u64, StoreError> {
        let pending = self.pending_live.get(team_id).copied().unwrap_or(0);
        Ok(self
            .stored_live_count(team_id)?
            .saturating_add_signed(pending))
    }

    fn stored_live_count(&self, team_id: &str) -> Result<u64, StoreError> {
        Ok(self
            .live_counts
            .get(team_id)?
            .map(|n| n.value())
            .unwrap_or(0))
    }

    fn count_live(&mut self, team_id: &str, by: i64) {
        match self.pending_live.get_mut(team_id) {
            Some(pending) => *pending += by,
            None => {
                self.pending_live.insert(team_id.to_owned(), by);
            }
        }
    }

    /// Writes the counts' changes: until then the stored counts are those of before the write.
    fn flush(&mut self) -> Result<(), StoreError> {
        let pending = std::mem::take(&mut self.pending_live);
        for (team, by) in pending {
            let count = self.stored_live_count(&team)?.saturating_add_signed(by);
            self.live_counts.insert(team.as_str(), count)?;
        }
        self.filters.flush()
    }

    /// Lists `qr` (only among the changes when it is deleted).
    pub(super) fn add(&mut self, qr: &Qr) -> Result<(), StoreError> {
        let change = (qr.team_id.as_str(), millis(qr.updated_at), qr.id.as_str());
        self.by_change.insert(change, ())?;
        if qr.deleted {
            return Ok(());
        }
        let (team, id) = (qr.team_id.as_str(), qr.id.as_str());
        let (created, updated) = (millis(qr.created_at), millis(qr.updated_at));
        self.by_created.insert((team, created, id), ())?;
        self.by_updated.insert((team, updated, id), ())?;
        let display_id = qr.display_id.to_lowercase();
        self.by_name.insert(
            (team, name_key(qr).as_str(), id),
            (display_id.as_str(), created, updated),
        )?;
        self.count_live(team, 1);
        self.filters.add(qr)
    }

    /// Takes `qr`, as it was stored, off the lists.
    pub(super) fn remove(&mut self, qr: &Qr) -> Result<(), StoreError> {
        let change = (qr.team_id.as_str(), millis(qr.updated_at), qr.id.as_str());
        self.by_change.remove(change)?;
        if qr.deleted {
            return Ok(());
        }
        let (team, id) = (qr.team_id.as_str(), qr.id.as_str());
        self.by_created.remove((team, millis(qr.created_at), id))?;
        self.by_updated.remove((team, millis(qr.updated_at), id))?;
        self.by_name.remove((team, name_key(qr).as_str(), id))?;
        self.count_live(team, -1);
        self.filters.remove(qr)
    }
}

/// Fills the list indexes from the codes of a store written before they existed (once).
pub(super) fn fill_list_index(db: &redb::Database) -> Result<(), StoreError> {
    fill_once(db, LIST_INDEX_FILLED, |txn| {
        ListIndex::write(txn, |index| for_each_code(txn, |qr| index.add(&qr)))
    })
}

/// Runs `fill` in one write transaction unless META holds `flag`, which is set in the same
/// transaction: an index added to the store is filled from the codes written before it, once.
pub(super) fn fill_once(
    db: &redb::Database,
    flag: &str,
    fill: impl FnOnce(&redb::WriteTransaction) -> Result<(), StoreError>,
) -> Result<(), StoreError> {
    let txn = db.begin_write()?;
    {
        let mut meta = txn.open_table(META)?;
        if meta.get(flag)?.is_some() {
            return Ok(());
        }
        fill(&txn)?;
        meta.insert(flag, b"1".as_slice())?;
    }
    txn.commit()?;
    Ok(())
}

/// Calls `each` with every stored code, deleted ones too.
pub(super) fn for_each_code(
    txn: &redb::WriteTransaction,
    mut each: impl FnMut(Qr) -> Result<(), StoreError>,
) -> Result<(), StoreError> {
    for entry in txn.open_table(QRS)?.iter()? {
        let (id, bytes) = entry?;
        each(decode_record(QRS, id.value(), bytes.value())?)?;
    }
    Ok(())
}

impl EmbeddedStore {
    /// How many live codes the team has.
    pub fn live_qr_count(&self, team_id: &str) -> Result<u64, StoreError> {
        let txn = self.db.begin_read()?;
        let counts = txn.open_table(LIVE_COUNTS)?;
        Ok(counts.get(team_id)?.map(|n| n.value()).unwrap_or(0))
    }

    /// Where the team's changes (every code, deleted ones too, by updatedAt) are just past
    /// `after`, oldest first, at most `limit`.
    pub fn changes(
        &self,
        team_id: &str,
        after: &ListPosition,
        limit: usize,
    ) -> Result<Vec<ListPosition>, StoreError> {
        let Some((time, id)) = after.in_time() else {
            return Ok(Vec::new());
        };
        let txn = self.db.begin_read()?;
        let changes = txn.open_table(BY_CHANGE)?;
        let next_team = format!("{team_id}\0");
        let range = (
            Bound::Excluded((team_id, time, id)),
            Bound::Excluded((next_team.as_str(), 0, "")),
        );
        changes
            .range(range)?
            .take(limit)
            .map(|entry| {
                let (key, _) = entry?;
                let (_, time, id) = key.value();
                Ok(ListPosition::Time(time, id.to_owned()))
            })
            .collect()
    }

    /// The codes of `ids` that exist, in that order.
    pub fn qrs_by_id(&self, ids: &[impl AsRef<str>]) -> Result<Vec<Qr>, StoreError> {
        let txn = self.db.begin_read()?;
        let records = txn.open_table(QRS)?;
        let mut qrs = Vec::with_capacity(ids.len());
        for id in ids {
            if let Some(bytes) = records.get(id.as_ref())? {
                qrs.push(decode_record(QRS, id.as_ref(), bytes.value())?);
            }
        }
        Ok(qrs)
    }

    /// One page of the team's live codes.
    pub fn list_qrs(&self, query: &QrListQuery) -> Result<QrListPage, StoreError> {
        let txn = self.db.begin_read()?;
        let filters = query.filters();
        let ((page, more), total) = match (&query.search, query.order) {
            _ if !filters.is_empty() => filtered_page(&txn, query, &filters)?,
            (Some(search), _) => {
                let hits = search_names(&txn, &query.team_id, search)?;
                let total = hits.len() as u64;
                (query.page_of(hits), total)
            }
            (None, ListOrder::Name) => {
                let total = self.live_qr_count(&query.team_id)?;
                (name_page(&txn, query, total)?, total)
            }
            (None, ListOrder::CreatedAt | ListOrder::UpdatedAt) => {
                let total = self.live_qr_count(&query.team_id)?;
                (time_page(&txn, query, total)?, total)
            }
        };
        let ids: Vec<&str> = page.iter().map(ListPosition::id).collect();
        let qrs = self.qrs_by_id(&ids)?;
        let next = if more { page.last().cloned() } else { None };
        Ok(QrListPage { qrs, total, next })
    }
}

/// The team's codes whose name or displayId contains `search`, from the name index (which holds
/// both texts and both times: no code's record is read).
fn search_names(
    txn: &redb::ReadTransaction,
    team: &str,
    search: &str,
) -> Result<Vec<Hit>, StoreError> {
    let table = txn.open_table(BY_NAME)?;
    let next_team = format!("{team}\0");
    let mut hits = Vec::new();
    for entry in table.range((team, "", "")..(next_team.as_str(), "", ""))? {
        let (key, value) = entry?;
        let (_, name_key, id) = key.value();
        let (display_id, created, updated) = value.value();
        if matches(search, name_key, display_id) {
            hits.push(Hit {
                id: id.to_owned(),
                name_key: name_key.to_owned(),
                created,
                updated,
            });
        }
    }
    Ok(hits)
}

/// An entry of a list index, as a walk over a range of it gives it.
pub(super) type IndexEntry<'a, K, V> =
    Result<(redb::AccessGuard<'a, K>, redb::AccessGuard<'a, V>), redb::StorageError>;

/// A page of the team's codes by createdAt or updatedAt, and whether more follow.
fn time_page(
    txn: &redb::ReadTransaction,
    query: &QrListQuery,
    total: u64,
) -> Result<(Vec<ListPosition>, bool), StoreError> {
    let table = txn.open_table(match query.order {
        ListOrder::CreatedAt => BY_CREATED,
        _ => BY_UPDATED,
    })?;
    let team = query.team_id.as_str();
    let next_team = format!("{team}\0");
    let (first, end) = ((team, 0, ""), (next_team.as_str(), 0, ""));
    let position = |entry: IndexEntry<(&str, u64, &str), ()>| {
        entry.map(|(key, _)| {
            let (_, time, id) = key.value();
            ListPosition::Time(time, id.to_owned())
        })
    };
    match &query.start {
        PageStart::Offset(offset) => {
            Ok(query.window(*offset, table.range(first..end)?.map(position), total)?)
        }
        PageStart::After(after) => {
            let Some((time, id)) = after.in_time() else {
                return Ok((Vec::new(), false));
            };
            let past = if query.descending {
                let range =
                    table.range((Bound::Included(first), Bound::Excluded((team, time, id))))?;
                query.cut_walk(range.rev().map(position))?
            } else {
                let range =
                    table.range((Bound::Excluded((team, time, id)), Bound::Excluded(end)))?;
                query.cut_walk(range.map(position))?
            };
            Ok(past)
        }
    }
}

/// A page of the team's codes by name, and whether more follow.
fn name_page(
    txn: &redb::ReadTransaction,
    query: &QrListQuery,
    total: u64,
) -> Result<(Vec<ListPosition>, bool), StoreError> {
    let table = txn.open_table(BY_NAME)?;
    let team = query.team_id.as_str();
    let next_team = format!("{team}\0");
    let (first, end) = ((team, "", ""), (next_team.as_str(), "", ""));
    let position = |entry: IndexEntry<(&str, &str, &str), (&str, u64, u64)>| {
        entry.map(|(key, _)| {
            let (_, name, id) = key.value();
            ListPosition::Name(name.to_owned(), id.to_owned())
        })
    };
    match &query.start {
        PageStart::Offset(offset) => {
            Ok(query.window(*offset, table.range(first..end)?.map(position), total)?)
        }
        PageStart::After(after) => {
            let Some((name, id)) = after.in_names() else {
                return Ok((Vec::new(), false));
            };
            let past = if query.descending {
                let range =
                    table.range((Bound::Included(first), Bound::Excluded((team, name, id))))?;
                query.cut_walk(range.rev().map(position))?
            } else {
                let range =
                    table.range((Bound::Excluded((team, name, id)), Bound::Excluded(end)))?;
                query.cut_walk(range.map(position))?
            };
            Ok(past)
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn page(store: &EmbeddedStore, order: ListOrder, search: Option<&str>) -> (Vec<String>, u64) {
        let page = store
            .list_qrs(&QrListQuery {
                team_id: "team_1".into(),
                order,
                descending: false,
                start: PageStart::Offset(0),
                limit: 100,
                search: search.map(str::to_owned),
                qr_type: None,
                tag: None,
            })
            .unwrap();
        (page.qrs.into_iter().map(|qr| qr.id).collect(), page.total)
    }

    #[test]
    fn the_indexes_are_filled_for_a_store_written_before_them() {
        let dir = tempfile::tempdir().unwrap();
        let store = EmbeddedStore::open(dir.path()).unwrap();
        for (id, name, created) in [
            ("qr_a", "Beta", 3),
            ("qr_b", "alpha", 2),
            ("qr_c", "Gamma", 1),
        ] {
            let mut qr = Qr::web(id, "team_1", id, "https://example.com/");
            (qr.name, qr.created_at) = (name.into(), created);
            store.create_qr(&qr).unwrap();
        }
        store
            .create_qr(&Qr::web("qr_z", "team_10", "z", "https://example.com/"))
            .unwrap();
        let delete = crate::store::edit(|qr: &mut Qr| {
            qr.deleted = true;
            Ok(())
        });
        store.update_qr("qr_c", &delete).unwrap();
        let want_by_name = (vec!["qr_b".to_owned(), "qr_a".to_owned()], 2);
        assert_eq!(page(&store, ListOrder::Name, None), want_by_name);

        // Take the indexes away, as a store of the earlier version would be.
        let txn = store.db.begin_write().unwrap();
        for table in [BY_CREATED, BY_UPDATED, BY_CHANGE] {
            txn.delete_table(table).unwrap();
        }
        txn.delete_table(BY_NAME).unwrap();
        txn.delete_table(LIVE_COUNTS).unwrap();
        txn.open_table(META)
            .unwrap()
            .remove(LIST_INDEX_FILLED)
            .unwrap();
        txn.commit().unwrap();
        drop(store);

        let store = EmbeddedStore::open(dir.path()).unwrap();
        assert_eq!(page(&store, ListOrder::Name, None), want_by_name);
        assert_eq!(
            page(&store, ListOrder::CreatedAt, None),
            (vec!["qr_b".to_owned(), "qr_a".to_owned()], 2)
        );
        assert_eq!(
            page(&store, ListOrder::UpdatedAt, Some("qr_a")),
            (vec!["qr_a".to_owned()], 1)
        );
        assert_eq!(store.live_qr_count("team_10").unwrap(), 1);
        let changed: Vec<String> = store
            .changes("team_1", &ListPosition::changes_from(0), 10)
            .unwrap()
            .into_iter()
            .map(|at| at.id().to_owned())
            .collect();
        assert_eq!(
            changed,
            ["qr_a", "qr_b", "qr_c"],
            "deleted codes are changes too"
        );
    }
}
