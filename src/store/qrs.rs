//! QR codes: create, update (including soft delete), read, list.

use redb::{ReadableDatabase, ReadableTable, ReadableTableMetadata};

use super::changes::{Feed, FeedWriter};
use super::edit::{apply, as_new, Edit};
use super::feed::Change;
use super::list::ListIndex;
use super::{
    decode_record, encode, put_route, EmbeddedStore, StoreError, DISPLAY_IDS, DOMAINS, QRS, ROUTES,
    TEAM_QRS,
};
use crate::model::{Qr, RouteRecord};

/// What became of one new code.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Created {
    Stored,
    /// Its displayId (on its domain) was already taken.
    DisplayIdTaken,
    /// Its team already had as many live codes as the limit allows.
    OverLimit,
    /// It is on a custom domain its team does not have (at the write).
    DomainNotTeams,
}

/// The tables a new code is written to, open in one write transaction (with the list indexes,
/// which `ListIndex::write` opens).
struct NewQrTables<'txn> {
    display_ids: redb::Table<'txn, &'static str, &'static str>,
    domains: redb::Table<'txn, &'static str, &'static str>,
    qrs: redb::Table<'txn, &'static str, &'static [u8]>,
    team_qrs: redb::Table<'txn, (&'static str, &'static str), ()>,
    routes: redb::Table<'txn, &'static str, &'static [u8]>,
    feed: FeedWriter<'txn>,
    /// The feed's changes of the codes stored so far, appended as one entry by `finish`.
    changes: Vec<Change>,
}

impl<'txn> NewQrTables<'txn> {
    fn open(txn: &'txn redb::WriteTransaction, feed: &Feed) -> Result<Self, StoreError> {
        Ok(Self {
            display_ids: txn.open_table(DISPLAY_IDS)?,
            domains: txn.open_table(DOMAINS)?,
            qrs: txn.open_table(QRS)?,
            team_qrs: txn.open_table(TEAM_QRS)?,
            routes: txn.open_table(ROUTES)?,
            feed: feed.writer(txn)?,
            changes: Vec::new(),
        })
    }

    /// Appends the stored codes' changes to the feed, as one entry.
    fn finish(mut self) -> Result<(), StoreError> {
        self.feed.append(&self.changes)
    }

    /// The one place a new code is written, for `create_qr` and `create_qrs` alike: its displayId
    /// taken, the record, and its team's indexes; unless the displayId is already taken, the
    /// team has `limit` live codes, or the code is on a custom domain the team does not have.
    fn insert(
        &mut self,
        list: &mut ListIndex,
        qr: &Qr,
        limit: Option<u64>,
    ) -> Result<Created, StoreError> {
        if !team_has_domain(&self.domains, qr)? {
            return Ok(Created::DomainNotTeams);
        }
        let key = qr.route_key();
        if let Some(limit) = limit.filter(|_| !qr.deleted) {
            if list.live_count(&qr.team_id)? >= limit {
                return Ok(Created::OverLimit);
            }
        }
        if self.display_ids.get(key.as_str())?.is_some() {
            return Ok(Created::DisplayIdTaken);
        }
        self.display_ids.insert(key.as_str(), qr.id.as_str())?;
        self.qrs
            .insert(qr.id.as_str(), encode(&*as_new(qr)).as_slice())?;
        self.team_qrs
            .insert((qr.team_id.as_str(), qr.id.as_str()), ())?;
        put_route(&mut self.routes, &key, qr)?;
        list.add(qr)?;
        self.changes.push(Change::route(key, None));
        Ok(Created::Stored)
    }
}

/// Whether the code's custom domain (if it is on one) is its team's, as the write finds it: a
/// team's change that released it may have got in since the team was read.
fn team_has_domain(
    domains: &impl ReadableTable<&'static str, &'static str>,
    qr: &Qr,
) -> Result<bool, StoreError> {
    let Some(domain) = qr.domain.as_deref() else {
        return Ok(true);
    };
    Ok(domains
        .get(domain)?
        .is_some_and(|owner| owner.value() == qr.team_id))
}

impl EmbeddedStore {
    /// Stores a new code; its displayId must be free.
    pub fn create_qr(&self, qr: &Qr) -> Result<(), StoreError> {
        self.create_qr_within(qr, None)
    }

    /// Stores a new code; its displayId must be free, and its team must have fewer than `limit`
    /// live codes.
    pub fn create_qr_within(&self, qr: &Qr, limit: Option<u64>) -> Result<(), StoreError> {
        let txn = self.db.begin_write()?;
        match self.insert_new(&txn, std::slice::from_ref(qr), limit)?[0] {
            Created::Stored => {}
            Created::DisplayIdTaken => {
                return Err(StoreError::DisplayIdTaken(qr.display_id.clone()))
            }
            Created::OverLimit => return Err(StoreError::CodeLimit(limit.unwrap_or_default())),
            Created::DomainNotTeams => {
                return Err(StoreError::DomainNotTeams(
                    qr.domain.clone().unwrap_or_default(),
                ))
            }
        }
        txn.commit()?;
        self.feed.wake();
        Ok(())
    }

    /// Stores many new codes in one write transaction: one commit (one fsync) for all of them
    /// instead of one per code, which is what makes a bulk import fast. Each code is stored exactly
    /// as `create_qr_within` stores it, and the changes of all of them are one entry of the feed;
    /// one whose displayId is taken (by a stored code, or by an earlier one of `qrs`), or whose
    /// team already has `limit` live codes, is skipped. Returns what became of each code.
    pub fn create_qrs_within(
        &self,
        qrs: &[Qr],
        limit: Option<u64>,
    ) -> Result<Vec<Created>, StoreError> {
        let txn = self.db.begin_write()?;
        let created = self.insert_new(&txn, qrs, limit)?;
        txn.commit()?;
        self.feed.wake();
        Ok(created)
    }

    /// Writes the new codes `qrs` within `txn` (each as `NewQrTables::insert` decides), their
    /// changes one entry of the feed; what became of each.
    fn insert_new(
        &self,
        txn: &redb::WriteTransaction,
        qrs: &[Qr],
        limit: Option<u64>,
    ) -> Result<Vec<Created>, StoreError> {
        ListIndex::write(txn, |list| {
            let mut tables = NewQrTables::open(txn, &self.feed)?;
            let created = qrs
                .iter()
                .map(|qr| tables.insert(list, qr, limit))
                .collect::<Result<Vec<_>, _>>()?;
            tables.finish()?;
            Ok(created)
        })
    }

    /// Applies `edit` to the stored code `id` inside one write transaction; the code as stored
    /// (unchanged, and not written, when the edit changed nothing). A changed displayId (or
    /// domain) must be free; the old one is released.
    pub fn update_qr(&self, id: &str, edit: &Edit<Qr>) -> Result<Qr, StoreError> {
        let txn = self.db.begin_write()?;
        let qr = {
            let mut qrs = txn.open_table(QRS)?;
            let old: Qr = match qrs.get(id)? {
                Some(bytes) => decode_record(QRS, id, bytes.value())?,
                None => return Err(StoreError::NotFound),
            };
            let Some(qr) = apply(&old, edit)? else {
                return Ok(old);
            };
            if qr.domain != old.domain && !team_has_domain(&txn.open_table(DOMAINS)?, &qr)? {
                return Err(StoreError::DomainNotTeams(qr.domain.unwrap_or_default()));
            }
            let (old_key, key) = (old.route_key(), qr.route_key());
            if old_key != key {
                let mut display_ids = txn.open_table(DISPLAY_IDS)?;
                if display_ids.get(key.as_str())?.is_some() {
                    return Err(StoreError::DisplayIdTaken(qr.display_id.clone()));
                }
                display_ids.remove(old_key.as_str())?;
                display_ids.insert(key.as_str(), qr.id.as_str())?;
            }
            qrs.insert(qr.id.as_str(), encode(&qr).as_slice())?;
            ListIndex::write(&txn, |list| {
                list.remove(&old)?;
                list.add(&qr)
            })?;
            let mut routes = txn.open_table(ROUTES)?;
            routes.remove(old_key.as_str())?;
            put_route(&mut routes, &key, &qr)?;
            self.feed.append(&txn, Change::route(key, Some(old_key)))?;
            qr
        };
        txn.commit()?;
        self.feed.wake();
        Ok(qr)
    }

    pub fn qr(&self, id: &str) -> Result<Option<Qr>, StoreError> {
        self.get_json(QRS, id)
    }

    /// Every code of a team, deleted ones included.
    pub fn team_qrs(&self, team_id: &str) -> Result<Vec<Qr>, StoreError> {
        let txn = self.db.begin_read()?;
        let index = txn.open_table(TEAM_QRS)?;
        let qrs = txn.open_table(QRS)?;
        let mut out = Vec::new();
        for entry in index.range((team_id, "")..)? {
            let (key, _) = entry?;
            let (team, qr_id) = key.value();
            if team != team_id {
                break;
            }
            if let Some(bytes) = qrs.get(qr_id)? {
                out.push(decode_record(QRS, qr_id, bytes.value())?);
            }
        }
        Ok(out)
    }

    /// Calls `visit` with every stored code (for building the edge's route table).
    /// How many servable codes the store holds: for sizing a table up front.
    pub fn route_count(&self) -> Result<u64, StoreError> {
        let txn = self.db.begin_read()?;
        Ok(txn.open_table(ROUTES)?.len()?)
    }

    /// Every servable code's route key and route record (without its team's colour).
    pub fn for_each_route(
        &self,
        mut visit: impl FnMut(&str, RouteRecord),
    ) -> Result<(), StoreError> {
        let txn = self.db.begin_read()?;
        let routes = txn.open_table(ROUTES)?;
        for entry in routes.iter()? {
            let (key, record) = entry?;
            visit(
                key.value(),
                decode_record(ROUTES, key.value(), record.value())?,
            );
        }
        Ok(())
    }
}

#[cfg(test)]
mod tests {
    use super::super::edit::edit;
    use super::*;

    /// An edit that makes the stored code `qr` (a test's shorthand; the API changes fields).
    fn replace(qr: &Qr) -> Edit<Qr> {
        let qr = qr.clone();
        edit(move |stored| {
            *stored = qr.clone();
            Ok(())
        })
    }

    fn routes(store: &EmbeddedStore) -> Vec<(String, String, String)> {
        let mut out = Vec::new();
        store
            .for_each_route(|key, record| out.push((key.to_owned(), record.qr_id, record.location)))
            .unwrap();
        out
    }

    #[test]
    fn the_routes_table_follows_creates_renames_and_deletes_and_is_filled_for_older_stores() {
        let dir = tempfile::tempdir().unwrap();
        let store = EmbeddedStore::open(dir.path()).unwrap();
        let mut a = Qr::web("qr_a", "team_1", "a", "https://a.example/");
        store.create_qr(&a).unwrap();
        store
            .create_qrs_within(
                &[Qr::web("qr_b", "team_1", "b", "https://b.example/")],
                None,
            )
            .unwrap();
        let route =
            |key: &str, id: &str, url: &str| (key.to_owned(), id.to_owned(), url.to_owned());
        assert_eq!(
            routes(&store),
            [
                route("a", "qr_a", "https://a.example/"),
                route("b", "qr_b", "https://b.example/")
            ]
        );
        a.display_id = "a2".into();
        a.qr_redirect_url = Some("https://a2.example/".into());
        store.update_qr("qr_a", &replace(&a)).unwrap();
        a.deleted = true;
        // A code moves only onto a custom domain of its team's.
        let txn = store.db.begin_write().unwrap();
        txn.open_table(DOMAINS)
            .unwrap()
            .insert("qr.acme.test", "team_1")
            .unwrap();
        txn.commit().unwrap();
        let mut b = store.qr("qr_b").unwrap().unwrap();
        b.domain = Some("qr.acme.test".into());
        store.update_qr("qr_b", &replace(&b)).unwrap();
        assert_eq!(
            routes(&store),
            [
                route("a2", "qr_a", "https://a2.example/"),
                route("qr.acme.test/b", "qr_b", "https://b.example/")
            ]
        );
        store.update_qr("qr_a", &replace(&a)).unwrap();
        assert_eq!(
            store.route_count().unwrap(),
            1,
            "a deleted code is not served"
        );

        // A store of a version before the routes table: filled when opened.
        let txn = store.db.begin_write().unwrap();
        txn.delete_table(ROUTES).unwrap();
        txn.open_table(super::super::META)
            .unwrap()
            .remove(super::super::ROUTES_FILLED)
            .unwrap();
        txn.commit().unwrap();
        drop(store);
        let reopened = EmbeddedStore::open(dir.path()).unwrap();
        assert_eq!(
            routes(&reopened),
            [route("qr.acme.test/b", "qr_b", "https://b.example/")]
        );
    }

    #[test]
    fn a_bulk_create_stores_codes_as_create_qr_does_and_skips_taken_display_ids() {
        let dir = tempfile::tempdir().unwrap();
        let store = EmbeddedStore::open(dir.path()).unwrap();
        store
            .create_qr(&Qr::web("qr_0", "team_1", "taken", "https://a.example/"))
            .unwrap();
        let codes = [
            Qr::web("qr_1", "team_1", "one", "https://a.example/1"),
            Qr::web("qr_2", "team_1", "taken", "https://a.example/2"),
            Qr::web("qr_3", "team_2", "three", "https://a.example/3"),
            Qr::web("qr_4", "team_1", "one", "https://a.example/4"),
        ];
        assert_eq!(
            store.create_qrs_within(&codes, None).unwrap(),
            [
                Created::Stored,
                Created::DisplayIdTaken,
                Created::Stored,
                Created::DisplayIdTaken
            ]
        );

        let ids = |team| -> Vec<String> {
            store
                .team_qrs(team)
                .unwrap()
                .into_iter()
                .map(|qr| qr.id)
                .collect()
        };
        assert_eq!(ids("team_1"), ["qr_0", "qr_1"]);
        assert_eq!(ids("team_2"), ["qr_3"]);
        assert_eq!(store.qr("qr_1").unwrap().unwrap(), codes[0]);
        assert!(store.qr("qr_2").unwrap().is_none());
        // The displayId stays unique against single creates too.
        assert!(matches!(
            store.create_qr(&Qr::web("qr_5", "team_1", "three", "https://a.example/5")),
            Err(StoreError::DisplayIdTaken(_))
        ));
        // Every stored code reached the change feed, in order; the skipped ones did not.
        let fed = match store.read_changes(1, 100).unwrap() {
            crate::store::FeedRead::Changes { changes, .. } => changes,
            lagged => panic!("{lagged:?}"),
        };
        assert_eq!(
            fed,
            [
                Change::route("one".into(), None),
                Change::route("three".into(), None)
            ]
        );
    }
}
