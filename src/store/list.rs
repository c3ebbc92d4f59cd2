//! The list of a team's live codes, read from indexes kept with every write rather than by
//! loading the team: per team, its live codes by createdAt, by updatedAt and by name, and how
//! many there are (which is also what a plan's code limit counts). Deleted codes are in none of
//! them, as the list never shows them.
//!
//! A page without a search is a range of one index. A search (a substring of the name or the
//! displayId) reads the team's name index, which holds both texts and both times, and never the
//! codes' records: only the page's codes are read whole.

use redb::{ReadableDatabase, ReadableTable, TableDefinition};

use super::{decode, EmbeddedStore, StoreError, META, QRS};
use crate::model::Qr;

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

/// One page of a team's live codes.
#[derive(Debug, Clone)]
pub struct QrListQuery {
    pub team_id: String,
    pub order: ListOrder,
    pub descending: bool,
    pub offset: usize,
    pub limit: usize,
    /// Lowercased; a code matches when its name or displayId contains it.
    pub search: Option<String>,
}

#[derive(Debug, Clone)]
pub struct QrListPage {
    pub qrs: Vec<Qr>,
    /// How many codes the query matches on all pages.
    pub total: u64,
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
    /// The ids of the page among all of a search's hits, in the query's order.
    pub(super) fn page_of(&self, mut hits: Vec<Hit>) -> Vec<String> {
        let key = |hit: &Hit| -> (u64, String) {
            match self.order {
                ListOrder::CreatedAt => (hit.created, String::new()),
                ListOrder::UpdatedAt => (hit.updated, String::new()),
                ListOrder::Name => (0, hit.name_key.clone()),
            }
        };
        hits.sort_by(|a, b| {
            let order = key(a).cmp(&key(b)).then_with(|| a.id.cmp(&b.id));
            if self.descending {
                order.reverse()
            } else {
                order
            }
        });
        hits.into_iter()
            .skip(self.offset)
            .take(self.limit)
            .map(|hit| hit.id)
            .collect()
    }

    /// The page of an index of `total` entries read in its own order (ascending), or backwards
    /// when descending. An index is walked to the page's offset, so a page in the second half is
    /// walked to from the other end: no page is further than half the index from where it starts.
    fn window<T, E>(
        &self,
        entries: impl DoubleEndedIterator<Item = Result<T, E>>,
        total: u64,
    ) -> Result<Vec<T>, E> {
        let total = usize::try_from(total).unwrap_or(usize::MAX);
        let end = self.offset.saturating_add(self.limit).min(total);
        if self.offset >= total {
            return Ok(Vec::new());
        }
        let from_far_end = self.offset > total / 2;
        let entries: Box<dyn Iterator<Item = Result<T, E>>> = if self.descending != from_far_end {
            Box::new(entries.rev())
        } else {
            Box::new(entries)
        };
        if !from_far_end {
            return entries.skip(self.offset).take(self.limit).collect();
        }
        let mut page: Vec<T> = entries
            .skip(total - end)
            .take(end - self.offset)
            .collect::<Result<_, E>>()?;
        page.reverse();
        Ok(page)
    }
}

/// The list indexes, open in a write transaction: every write of a code goes through here.
pub(super) struct ListIndex<'txn> {
    by_created: redb::Table<'txn, (&'static str, u64, &'static str), ()>,
    by_updated: redb::Table<'txn, (&'static str, u64, &'static str), ()>,
    by_name:
        redb::Table<'txn, (&'static str, &'static str, &'static str), (&'static str, u64, u64)>,
    live_counts: redb::Table<'txn, &'static str, u64>,
    by_change: redb::Table<'txn, (&'static str, u64, &'static str), ()>,
}

impl<'txn> ListIndex<'txn> {
    pub(super) fn open(txn: &'txn redb::WriteTransaction) -> Result<Self, StoreError> {
        Ok(Self {
            by_created: txn.open_table(BY_CREATED)?,
            by_updated: txn.open_table(BY_UPDATED)?,
            by_name: txn.open_table(BY_NAME)?,
            live_counts: txn.open_table(LIVE_COUNTS)?,
            by_change: txn.open_table(BY_CHANGE)?,
        })
    }

    pub(super) fn live_count(&self, team_id: &str) -> Result<u64, StoreError> {
        Ok(self
            .live_counts
            .get(team_id)?
            .map(|n| n.value())
            .unwrap_or(0))
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
        let count = self.live_count(team)?;
        self.live_counts.insert(team, count + 1)?;
        Ok(())
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
        let count = self.live_count(team)?;
        self.live_counts.insert(team, count.saturating_sub(1))?;
        Ok(())
    }
}

/// Fills the list indexes from the codes of a store written before they existed (once).
pub(super) fn fill_list_index(db: &redb::Database) -> Result<(), StoreError> {
    let txn = db.begin_write()?;
    {
        let mut meta = txn.open_table(META)?;
        let mut index = ListIndex::open(&txn)?;
        if meta.get(LIST_INDEX_FILLED)?.is_some() {
            return Ok(());
        }
        let qrs = txn.open_table(QRS)?;
        for entry in qrs.iter()? {
            index.add(&decode(entry?.1.value())?)?;
        }
        meta.insert(LIST_INDEX_FILLED, b"1".as_slice())?;
    }
    txn.commit()?;
    Ok(())
}

impl EmbeddedStore {
    /// How many live codes the team has.
    pub fn live_qr_count(&self, team_id: &str) -> Result<u64, StoreError> {
        let txn = self.db.begin_read()?;
        let counts = txn.open_table(LIVE_COUNTS)?;
        Ok(counts.get(team_id)?.map(|n| n.value()).unwrap_or(0))
    }

    /// Every code of the team (deleted ones too) updated at or after `from`, oldest change
    /// first.
    pub fn changed_qrs(&self, team_id: &str, from: i64) -> Result<Vec<Qr>, StoreError> {
        let txn = self.db.begin_read()?;
        let changes = txn.open_table(BY_CHANGE)?;
        let records = txn.open_table(QRS)?;
        let next_team = format!("{team_id}\0");
        let mut qrs = Vec::new();
        for entry in changes.range((team_id, millis(from), "")..(next_team.as_str(), 0, ""))? {
            let (key, _) = entry?;
            if let Some(bytes) = records.get(key.value().2)? {
                qrs.push(decode(bytes.value())?);
            }
        }
        Ok(qrs)
    }

    /// One page of the team's live codes.
    pub fn list_qrs(&self, query: &QrListQuery) -> Result<QrListPage, StoreError> {
        let txn = self.db.begin_read()?;
        let team = query.team_id.as_str();
        // The least team id after this one: the end of the team's keys.
        let next_team = format!("{team}\0");
        let next = next_team.as_str();
        let (ids, total) = match (&query.search, query.order) {
            (None, ListOrder::CreatedAt | ListOrder::UpdatedAt) => {
                let table = txn.open_table(if query.order == ListOrder::CreatedAt {
                    BY_CREATED
                } else {
                    BY_UPDATED
                })?;
                let range = table.range((team, 0, "")..(next, 0, ""))?;
                let total = self.live_qr_count(team)?;
                let ids =
                    query.window(range.map(|e| e.map(|(k, _)| k.value().2.to_owned())), total)?;
                (ids, total)
            }
            (None, ListOrder::Name) => {
                let table = txn.open_table(BY_NAME)?;
                let range = table.range((team, "", "")..(next, "", ""))?;
                let total = self.live_qr_count(team)?;
                let ids =
                    query.window(range.map(|e| e.map(|(k, _)| k.value().2.to_owned())), total)?;
                (ids, total)
            }
            (Some(search), _) => {
                let table = txn.open_table(BY_NAME)?;
                let mut hits = Vec::new();
                for entry in table.range((team, "", "")..(next, "", ""))? {
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
                let total = hits.len() as u64;
                (query.page_of(hits), total)
            }
        };
        let records = txn.open_table(QRS)?;
        let mut qrs = Vec::with_capacity(ids.len());
        for id in ids {
            if let Some(bytes) = records.get(id.as_str())? {
                qrs.push(decode(bytes.value())?);
            }
        }
        Ok(QrListPage { qrs, total })
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
                offset: 0,
                limit: 100,
                search: search.map(str::to_owned),
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
        let mut deleted = store.qr("qr_c").unwrap().unwrap();
        deleted.deleted = true;
        store.update_qr(&deleted).unwrap();
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
            .changed_qrs("team_1", 0)
            .unwrap()
            .into_iter()
            .map(|qr| qr.id)
            .collect();
        assert_eq!(
            changed,
            ["qr_a", "qr_b", "qr_c"],
            "deleted codes are changes too"
        );
    }
}
