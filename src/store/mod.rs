//! The store of codes, teams and credentials. Its one contract is [`RecordStore`]
//! (`contract.rs`), fulfilled by the embedded store (a redb file in the data directory; the
//! default; `embedded_contract.rs`) and by Redis (production; `redis/contract.rs`); `Store` is
//! the handle the rest of qredge holds, over either. Every committed change an edge must hear of
//! is also in the store's change feed (`feed.rs`, the [`ChangeFeed`] contract), written with the
//! change.

mod access;
mod bootstrap;
mod changes;
mod contract;
mod edit;
mod embedded_contract;
mod error;
pub mod feed;
mod image_secret;
mod list;
mod list_filter;
mod platform_claims;
mod qrs;
pub mod redis;
mod sessions;
mod templates;

use std::path::Path;
use std::sync::Arc;

use redb::{Database, ReadableDatabase, ReadableTable, TableDefinition, TableHandle};
use serde::de::DeserializeOwned;
use serde::Serialize;

use crate::model::{Qr, RouteRecord};

pub use bootstrap::{add_sign_in_url, hash_secret, Bootstrap};
pub use contract::RecordStore;
pub use edit::{check, edit, unchecked, Check, Edit};
pub use error::StoreError;
pub use feed::{Change, ChangeFeed, FeedRead};
pub use list::{ListOrder, ListPosition, PageStart, QrListPage, QrListQuery};
pub use qrs::Created;
pub use sessions::{Notice, Session, SignInToken};

// Records are JSON: readable in a dump, and tolerant of added fields.
const META: TableDefinition<&str, &[u8]> = TableDefinition::new("meta");
const ORGS: TableDefinition<&str, &[u8]> = TableDefinition::new("orgs");
const TEAMS: TableDefinition<&str, &[u8]> = TableDefinition::new("teams");
const MEMBERS: TableDefinition<&str, &[u8]> = TableDefinition::new("members");
const CREDENTIALS: TableDefinition<&str, &[u8]> = TableDefinition::new("credentials");
const QRS: TableDefinition<&str, &[u8]> = TableDefinition::new("qrs");
/// Route key -> what the edge needs of a servable code (a `RouteRecord` as JSON, ~80 bytes for a
/// plain redirect, without the team's colour): written with the code, so that an edge starts by
/// reading this and not every code's whole record (~640 bytes of JSON each).
const ROUTES: TableDefinition<&str, &[u8]> = TableDefinition::new("routes");
/// Set in META once ROUTES holds every code (stores of earlier versions are filled on opening).
const ROUTES_FILLED: &str = "routes_filled";
/// Route key (see `model::route_key`) -> qr id. Deleted codes keep theirs: a printed code's URL is
/// never silently reused.
const DISPLAY_IDS: TableDefinition<&str, &str> = TableDefinition::new("display_ids");
/// Custom domain -> the team that has it: a domain belongs to one team.
const DOMAINS: TableDefinition<&str, &str> = TableDefinition::new("domains");
/// (team id, qr id): the codes of a team.
const TEAM_QRS: TableDefinition<(&str, &str), ()> = TableDefinition::new("team_qrs");

/// The embedded store's file in the data directory.
pub const EMBEDDED_FILE: &str = "store.redb";
/// What the first start writes into the data directory: the owner's credential, shown once.
pub const BOOTSTRAP_FILE: &str = "bootstrap.json";

/// redb's own page cache for the store (its default is 1 GiB). The store is read whole once, when
/// the edge builds its table, and then by the API a code at a time: a large cache would only keep
/// the start-up read in memory next to the route table built from it (the OS page cache keeps
/// the file's hot pages anyway).
const STORE_CACHE_BYTES: usize = 64 << 20;

/// Entries the change feed keeps by default (`store.changes_kept`): an edge further behind
/// reads every route afresh.
pub const DEFAULT_CHANGES_KEPT: u64 = 100_000;

/// The embedded store. Cheap to clone; all clones share the database and the change feed.
#[derive(Clone)]
pub struct EmbeddedStore {
    db: Arc<Database>,
    feed: changes::Feed,
    /// API requests per rate-limit bucket in the minute counted: one process serves the
    /// embedded store, so memory is where all its requests are seen.
    requests: Arc<std::sync::Mutex<(i64, std::collections::HashMap<String, u64>)>>,
}

impl EmbeddedStore {
    fn count_request(&self, bucket: &str, window: i64) -> u64 {
        let mut requests = self.requests.lock().unwrap_or_else(|e| e.into_inner());
        let (minute, counts) = &mut *requests;
        // Every bucket counts the same minute, so when it ends they all go at once: the map holds
        // only this minute's buckets (teams, client addresses), and no request walks it. A request
        // that read the clock just before the minute turned counts in the new one.
        if window > *minute {
            *minute = window;
            *counts = Default::default();
        }
        let count = counts.entry(bucket.to_owned()).or_insert(0);
        *count += 1;
        *count
    }

    /// Opens (or creates) `DIR/store.redb` ([`EMBEDDED_FILE`]).
    pub fn open(dir: &Path) -> Result<Self, StoreError> {
        crate::data_dir::create_private_dir(dir).map_err(StoreError::Io)?;
        let db = Database::builder()
            .set_cache_size(STORE_CACHE_BYTES)
            .create(dir.join(EMBEDDED_FILE))?;
        let txn = db.begin_write()?;
        for table in [META, ORGS, TEAMS, MEMBERS, CREDENTIALS, QRS, ROUTES] {
            txn.open_table(table)?;
        }
        txn.open_table(changes::CHANGES)?;
        txn.open_table(DISPLAY_IDS)?;
        txn.open_table(DOMAINS)?;
        txn.open_table(TEAM_QRS)?;
        txn.open_table(templates::TEMPLATES)?;
        txn.open_table(sessions::SESSIONS)?;
        txn.open_table(sessions::SIGN_IN_TOKENS)?;
        txn.open_table(sessions::NOTICES)?;
        txn.commit()?;
        fill_routes(&db)?;
        list::fill_list_index(&db)?;
        list_filter::fill_filter_index(&db)?;
        Ok(Self {
            db: Arc::new(db),
            feed: changes::Feed::new(),
            requests: Default::default(),
        })
    }

    /// This store with its change feed trimmed to the newest `kept` entries (from the next write).
    pub fn with_changes_kept(mut self, kept: u64) -> Self {
        self.feed = self.feed.keeping(kept);
        self
    }

    /// Whether the store was set up: it holds an organization (the first start creates one).
    pub fn is_set_up(&self) -> Result<bool, StoreError> {
        self.has_any_org()
    }

    fn get_json<T: DeserializeOwned>(
        &self,
        table: TableDefinition<&str, &[u8]>,
        key: &str,
    ) -> Result<Option<T>, StoreError> {
        let txn = self.db.begin_read()?;
        let opened = txn.open_table(table)?;
        match opened.get(key)? {
            Some(bytes) => Ok(Some(decode_record(table, key, bytes.value())?)),
            None => Ok(None),
        }
    }
}

/// When a team's change may release a custom domain it no longer lists.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
enum Release {
    /// Only while no live code of the team is on it (`StoreError::DomainInUse`).
    IfUnused,
    /// Whatever codes are on it (they are no longer reachable there).
    Always,
}

/// The store, on either backend: a handle over its [`RecordStore`], whose operations it offers
/// (`store.qr(id)`). Cheap to clone.
#[derive(Clone)]
pub struct Store(Arc<dyn RecordStore>);

impl std::ops::Deref for Store {
    type Target = dyn RecordStore;

    fn deref(&self) -> &Self::Target {
        &*self.0
    }
}

impl From<EmbeddedStore> for Store {
    fn from(store: EmbeddedStore) -> Self {
        Store(Arc::new(store))
    }
}

impl From<redis::RedisStore> for Store {
    fn from(store: redis::RedisStore) -> Self {
        Store(Arc::new(store))
    }
}

/// Fills ROUTES from the codes of a store written before it existed (once).
fn fill_routes(db: &Database) -> Result<(), StoreError> {
    let txn = db.begin_write()?;
    {
        let mut meta = txn.open_table(META)?;
        if meta.get(ROUTES_FILLED)?.is_some() {
            return Ok(());
        }
        let qrs = txn.open_table(QRS)?;
        let mut routes = txn.open_table(ROUTES)?;
        for entry in qrs.iter()? {
            let (key, value) = entry?;
            let qr: Qr = decode_record(QRS, key.value(), value.value())?;
            put_route(&mut routes, &qr.route_key(), &qr)?;
        }
        meta.insert(ROUTES_FILLED, b"1".as_slice())?;
    }
    txn.commit()?;
    Ok(())
}

/// Writes a code's route record under `key` in ROUTES; a code the edge does not serve (deleted)
/// gets none.
fn put_route(routes: &mut redb::Table<&str, &[u8]>, key: &str, qr: &Qr) -> Result<(), StoreError> {
    if let Some(record) = RouteRecord::for_qr(qr, None) {
        routes.insert(key, encode(&record).as_slice())?;
    }
    Ok(())
}

fn encode<T: Serialize>(value: &T) -> Vec<u8> {
    serde_json::to_vec(value).expect("records serialise to JSON")
}

/// A stored record read back; an error names its table and key, so that an operator can find it.
fn decode_record<T: DeserializeOwned, K: redb::Key + 'static>(
    table: TableDefinition<K, &[u8]>,
    key: impl std::fmt::Debug,
    bytes: &[u8],
) -> Result<T, StoreError> {
    serde_json::from_slice(bytes).map_err(|source| StoreError::CorruptRecord {
        table: table.name().to_owned(),
        key: format!("{key:?}"),
        source,
    })
}
