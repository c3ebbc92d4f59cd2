//! The embedded store's change feed (see `feed.rs`): a table of numbered entries, each written
//! in the write transaction of the change itself. redb runs one write transaction at a time, so
//! the numbers are the commit order with no lock of ours, and no follower sees an entry before
//! its change is committed. An entry holds one write's changes: one change, or a bulk create's
//! (one B-tree entry for a batch of codes, not one a code). Trimmed to the newest `kept` entries
//! (and up to a sixteenth more) as it is written; followers waiting for entries are woken after
//! each commit.

use std::sync::Arc;
use std::time::Duration;

use redb::{ReadableDatabase, ReadableTable, TableDefinition, WriteTransaction};
use tokio::sync::watch;

use super::feed::{Change, ChangeFeed, FeedRead};
use super::{decode_record, encode, EmbeddedStore, StoreError, ROUTES};
use crate::model::{RouteRecord, Team};

/// Sequence number (from 1, without gaps) -> a `Change` as JSON, or a JSON array of them.
pub(super) const CHANGES: TableDefinition<u64, &[u8]> = TableDefinition::new("changes");

/// The feed's length and its wake-ups, shared by the clones of a store.
#[derive(Clone)]
pub(super) struct Feed {
    kept: u64,
    /// Bumped after every commit that appended entries.
    woken: Arc<watch::Sender<u64>>,
}

impl Feed {
    pub(super) fn new() -> Self {
        Self {
            kept: super::DEFAULT_CHANGES_KEPT,
            woken: Arc::new(watch::channel(0).0),
        }
    }

    /// The same feed, trimmed to the newest `kept` entries from the next write on.
    pub(super) fn keeping(self, kept: u64) -> Self {
        Self {
            kept: kept.max(1),
            ..self
        }
    }

    /// Opens the feed for appends within `txn` (many appends: a bulk create).
    pub(super) fn writer<'txn>(
        &self,
        txn: &'txn WriteTransaction,
    ) -> Result<FeedWriter<'txn>, StoreError> {
        let table = txn.open_table(CHANGES)?;
        let next = table.last()?.map_or(1, |(seq, _)| seq.value() + 1);
        let oldest = table.first()?.map_or(next, |(seq, _)| seq.value());
        Ok(FeedWriter {
            table,
            next,
            oldest,
            kept: self.kept,
        })
    }

    /// Appends one entry within `txn`.
    pub(super) fn append(&self, txn: &WriteTransaction, change: Change) -> Result<(), StoreError> {
        self.writer(txn)?.append(&[change])
    }

    /// Called after a commit that appended entries: wakes the followers waiting for them.
    pub(super) fn wake(&self) {
        self.woken.send_modify(|n| *n = n.wrapping_add(1));
    }
}

pub(super) struct FeedWriter<'txn> {
    table: redb::Table<'txn, u64, &'static [u8]>,
    next: u64,
    /// The oldest entry's number (`next` when there is none).
    oldest: u64,
    kept: u64,
}

impl FeedWriter<'_> {
    /// Appends one entry holding `changes` (none: nothing is appended).
    pub(super) fn append(&mut self, changes: &[Change]) -> Result<(), StoreError> {
        let entry = match changes {
            [] => return Ok(()),
            [change] => encode(change),
            changes => encode(&changes),
        };
        self.table.insert(self.next, entry.as_slice())?;
        self.next += 1;
        // The entries beyond `kept` go from the oldest on, so that those kept never have a gap;
        // a sixteenth more are let in first, so that writes trim a run of entries now and then
        // instead of one entry each.
        let excess = (self.next - self.oldest).saturating_sub(self.kept);
        if excess > self.kept / 16 {
            let oldest_kept = self.oldest + excess;
            self.table.retain_in(..oldest_kept, |_, _| false)?;
            self.oldest = oldest_kept;
        }
        Ok(())
    }
}

/// The changes of one entry: one change, or a JSON array of them.
fn entry_changes(seq: u64, bytes: &[u8]) -> Result<Vec<Change>, StoreError> {
    match bytes.first() {
        Some(b'[') => decode_record(CHANGES, seq, bytes),
        _ => Ok(vec![decode_record(CHANGES, seq, bytes)?]),
    }
}

impl EmbeddedStore {
    /// The newest entry's number (0: none yet).
    fn newest_change(&self) -> Result<u64, StoreError> {
        let txn = self.db.begin_read()?;
        let table = txn.open_table(CHANGES)?;
        let newest = table.last()?.map_or(0, |(seq, _)| seq.value());
        Ok(newest)
    }

    /// The changes of the entries after `cursor`, entry after entry until `max` changes are read
    /// (an entry is never split); Lagged when some of them were trimmed away.
    pub(super) fn read_changes(
        &self,
        cursor: u64,
        max: usize,
    ) -> Result<FeedRead<u64>, StoreError> {
        let txn = self.db.begin_read()?;
        let table = txn.open_table(CHANGES)?;
        if let Some((oldest, _)) = table.first()? {
            if oldest.value() > cursor + 1 {
                return Ok(FeedRead::Lagged);
            }
        }
        let mut changes = Vec::new();
        let mut last = cursor;
        for entry in table.range(cursor + 1..)? {
            if changes.len() >= max {
                break;
            }
            let (seq, bytes) = entry?;
            changes.extend(entry_changes(seq.value(), bytes.value())?);
            last = seq.value();
        }
        Ok(FeedRead::Changes {
            changes,
            cursor: last,
        })
    }

    fn routes_at(&self, keys: &[String]) -> Result<Vec<Option<RouteRecord>>, StoreError> {
        let txn = self.db.begin_read()?;
        let routes = txn.open_table(ROUTES)?;
        keys.iter()
            .map(|key| match routes.get(key.as_str())? {
                Some(bytes) => decode_record(ROUTES, key, bytes.value()).map(Some),
                None => Ok(None),
            })
            .collect()
    }

    /// Runs a blocking call of the store off the async workers.
    async fn off_workers<T: Send + 'static>(
        &self,
        call: impl FnOnce(EmbeddedStore) -> Result<T, StoreError> + Send + 'static,
    ) -> Result<T, StoreError> {
        let store = self.clone();
        tokio::task::spawn_blocking(move || call(store))
            .await
            .map_err(|e| StoreError::Io(std::io::Error::other(e)))?
    }
}

impl ChangeFeed for EmbeddedStore {
    type Cursor = u64;

    async fn cursor(&self) -> Result<u64, StoreError> {
        self.off_workers(|store| store.newest_change()).await
    }

    async fn changes_after(
        &self,
        cursor: &u64,
        wait: Duration,
        max: usize,
    ) -> Result<FeedRead<u64>, StoreError> {
        let cursor = *cursor;
        // Subscribed before reading: a commit after the read wakes us.
        let mut woken = self.feed.woken.subscribe();
        let read = self
            .off_workers(move |store| store.read_changes(cursor, max))
            .await?;
        let nothing_yet = matches!(&read, FeedRead::Changes { changes, .. } if changes.is_empty());
        if !nothing_yet || tokio::time::timeout(wait, woken.changed()).await.is_err() {
            return Ok(read);
        }
        self.off_workers(move |store| store.read_changes(cursor, max))
            .await
    }

    async fn routes(&self, keys: Vec<String>) -> Result<Vec<Option<RouteRecord>>, StoreError> {
        self.off_workers(move |store| store.routes_at(&keys)).await
    }

    async fn route_count(&self) -> Result<u64, StoreError> {
        self.off_workers(|store| store.route_count()).await
    }

    async fn each_route<S, V>(&self, mut state: S, mut visit: V) -> Result<S, StoreError>
    where
        S: Send + 'static,
        V: FnMut(&mut S, &str, RouteRecord) + Send + 'static,
    {
        self.off_workers(move |store| {
            store.for_each_route(|key, record| visit(&mut state, key, record))?;
            Ok(state)
        })
        .await
    }

    async fn domains(&self) -> Result<Vec<(String, Team)>, StoreError> {
        self.off_workers(|store| store.custom_domains()).await
    }

    async fn team_of(&self, id: &str) -> Result<Option<Team>, StoreError> {
        let id = id.to_owned();
        self.off_workers(move |store| store.team(&id)).await
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::model::Qr;

    fn store(kept: u64) -> (tempfile::TempDir, EmbeddedStore) {
        let dir = tempfile::tempdir().unwrap();
        let store = EmbeddedStore::open(dir.path())
            .unwrap()
            .with_changes_kept(kept);
        (dir, store)
    }

    fn read(store: &EmbeddedStore, cursor: u64) -> FeedRead<u64> {
        store.read_changes(cursor, 1_000).unwrap()
    }

    fn route(key: &str, released: Option<&str>) -> Change {
        Change::Route {
            key: key.into(),
            released: released.map(Into::into),
        }
    }

    /// Writes `qr` over the stored code of its id.
    fn replace(store: &EmbeddedStore, qr: &Qr) {
        let next = qr.clone();
        let change = crate::store::edit(move |stored: &mut Qr| {
            *stored = next.clone();
            Ok(())
        });
        store.update_qr(&qr.id, &change).unwrap();
    }

    #[test]
    fn the_feed_holds_every_write_in_commit_order() {
        let (_dir, store) = store(100);
        let mut a = Qr::web("qr_a", "team_1", "a", "https://a.example/");
        store.create_qr(&a).unwrap();
        a.display_id = "a2".into();
        replace(&store, &a);
        a.qr_redirect_url = Some("https://a.example/2".into());
        replace(&store, &a);
        let bulk = [
            Qr::web("qr_b", "team_1", "b", "https://b.example/"),
            Qr::web("qr_c", "team_1", "a2", "https://c.example/"),
            Qr::web("qr_d", "team_1", "d", "https://d.example/"),
        ];
        store.create_qrs_within(&bulk, None).unwrap();
        assert_eq!(
            read(&store, 0),
            FeedRead::Changes {
                // The bulk's code on a taken displayId was not written, nor fed; the others'
                // changes are one entry.
                changes: vec![
                    route("a", None),
                    route("a2", Some("a")),
                    route("a2", None),
                    route("b", None),
                    route("d", None)
                ],
                cursor: 4
            }
        );
        assert_eq!(
            read(&store, 2),
            FeedRead::Changes {
                changes: vec![route("a2", None), route("b", None), route("d", None)],
                cursor: 4
            }
        );
        // An entry is read whole, past `max`.
        assert_eq!(
            store.read_changes(2, 2).unwrap(),
            FeedRead::Changes {
                changes: vec![route("a2", None), route("b", None), route("d", None)],
                cursor: 4
            }
        );
        assert_eq!(
            store.read_changes(2, 1).unwrap(),
            FeedRead::Changes {
                changes: vec![route("a2", None)],
                cursor: 3
            }
        );
        assert_eq!(
            read(&store, 4),
            FeedRead::Changes {
                changes: vec![],
                cursor: 4
            }
        );
    }

    #[test]
    fn racing_writers_get_consecutive_numbers_in_commit_order() {
        let (_dir, store) = store(100_000);
        const WRITERS: usize = 4;
        const WRITES: usize = 200;
        std::thread::scope(|scope| {
            for writer in 0..WRITERS {
                let store = &store;
                scope.spawn(move || {
                    let id = format!("qr_{writer}");
                    let mut qr = Qr::web(&id, "team_1", &format!("w{writer}-0"), "https://a/");
                    store.create_qr(&qr).unwrap();
                    for n in 1..WRITES {
                        qr.display_id = format!("w{writer}-{n}");
                        replace(store, &qr);
                    }
                });
            }
        });
        let FeedRead::Changes { changes, cursor } = store.read_changes(0, usize::MAX).unwrap()
        else {
            panic!("nothing was trimmed");
        };
        assert_eq!(
            cursor as usize,
            WRITERS * WRITES,
            "one entry per write, no gaps"
        );
        // Each writer's renames appear in the order it made them: entry n+1 releases the key
        // entry n gave its code.
        for writer in 0..WRITERS {
            let keys: Vec<(String, Option<String>)> = changes
                .iter()
                .filter_map(|c| match c {
                    Change::Route { key, released } if key.starts_with(&format!("w{writer}-")) => {
                        Some((key.clone(), released.clone()))
                    }
                    _ => None,
                })
                .collect();
            for (n, (key, released)) in keys.iter().enumerate() {
                assert_eq!(key, &format!("w{writer}-{n}"));
                let before = n.checked_sub(1).map(|b| format!("w{writer}-{b}"));
                assert_eq!(released, &before);
            }
        }
    }

    #[test]
    fn the_feed_is_trimmed_to_its_length_and_a_cursor_behind_it_lags() {
        let (_dir, store) = store(5);
        let qrs: Vec<Qr> = (0..12)
            .map(|n| Qr::web(&format!("qr_{n}"), "team_1", &format!("c{n}"), "https://a/"))
            .collect();
        for qr in &qrs {
            store.create_qr(qr).unwrap();
        }
        // 12 entries written, the newest 5 (8..=12) kept.
        let txn = store.db.begin_read().unwrap();
        let table = txn.open_table(CHANGES).unwrap();
        let kept: Vec<u64> = table
            .iter()
            .unwrap()
            .map(|e| e.unwrap().0.value())
            .collect();
        assert_eq!(kept, [8, 9, 10, 11, 12]);
        assert_eq!(read(&store, 6), FeedRead::Lagged);
        assert_eq!(read(&store, 0), FeedRead::Lagged);
        assert_eq!(
            read(&store, 7),
            FeedRead::Changes {
                changes: (7..12).map(|n| route(&format!("c{n}"), None)).collect(),
                cursor: 12
            }
        );
        assert_eq!(store.newest_change().unwrap(), 12);

        // A shorter length later trims everything beyond it at the next write, without a gap.
        drop((table, txn));
        let store = store.with_changes_kept(2);
        store
            .create_qr(&Qr::web("qr_x", "team_1", "x", "https://a/"))
            .unwrap();
        assert_eq!(read(&store, 10), FeedRead::Lagged);
        assert!(matches!(
            read(&store, 11),
            FeedRead::Changes { cursor: 13, .. }
        ));
    }

    #[test]
    fn a_long_feed_is_trimmed_a_run_at_a_time_and_keeps_at_least_its_length() {
        let (_dir, store) = store(32);
        let mut lengths = Vec::new();
        for n in 0..80 {
            let qr = Qr::web(&format!("qr_{n}"), "team_1", &format!("c{n}"), "https://a/");
            store.create_qr(&qr).unwrap();
            let txn = store.db.begin_read().unwrap();
            let seqs: Vec<u64> = (txn.open_table(CHANGES).unwrap().iter().unwrap())
                .map(|e| e.unwrap().0.value())
                .collect();
            assert_eq!(seqs, (seqs[0]..=n + 1).collect::<Vec<_>>(), "no gap");
            lengths.push(seqs.len());
        }
        // Up to 32 + 32/16 entries; trimmed back to 32 when a write goes past that.
        assert_eq!(lengths.iter().max(), Some(&34));
        assert_eq!(lengths[32..].iter().min(), Some(&32));
        // The newest 32 are always there to read; what was trimmed lags.
        assert!(matches!(
            read(&store, 80 - 32),
            FeedRead::Changes { cursor: 80, .. }
        ));
        assert_eq!(read(&store, 0), FeedRead::Lagged);
    }

    #[tokio::test]
    async fn a_waiting_follower_is_woken_by_a_commit() {
        let (_dir, store) = store(100);
        let cursor = ChangeFeed::cursor(&store).await.unwrap();
        let writer = store.clone();
        let write = tokio::spawn(async move {
            tokio::time::sleep(Duration::from_millis(50)).await;
            let qr = Qr::web("qr_a", "team_1", "a", "https://a/");
            tokio::task::spawn_blocking(move || writer.create_qr(&qr).unwrap())
                .await
                .unwrap();
        });
        // Far longer than the write takes: the read returns when it is committed.
        let read = store
            .changes_after(&cursor, Duration::from_secs(30), 10)
            .await
            .unwrap();
        assert_eq!(
            read,
            FeedRead::Changes {
                changes: vec![route("a", None)],
                cursor: 1
            }
        );
        write.await.unwrap();
    }
}
