//! The store of codes, teams and credentials: `Store` is what the rest of qredge calls, backed by
//! the embedded store (a redb file in the data directory; the default) or by Redis (production).
//! Every committed change an edge must hear of is also in the store's change feed (`feed.rs`),
//! written with the change.

mod access;
mod bootstrap;
mod changes;
mod edit;
mod error;
pub mod feed;
mod image_secret;
mod list;
mod platform_claims;
mod qrs;
pub mod redis;

use std::path::Path;
use std::sync::Arc;

use redb::{Database, ReadableDatabase, ReadableTable, TableDefinition, TableHandle};
use serde::de::DeserializeOwned;
use serde::Serialize;

use crate::model::{Qr, RouteRecord, Team};

pub use bootstrap::{add_sign_in_url, hash_secret, Bootstrap};
pub use edit::{edit, Edit};
pub use error::StoreError;
pub use feed::{Change, ChangeFeed, FeedRead};
pub use list::{ListOrder, ListPosition, PageStart, QrListPage, QrListQuery};
pub use qrs::Created;
pub use sessions::{Session, SignInToken};

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
        txn.commit()?;
        fill_routes(&db)?;
        list::fill_list_index(&db)?;
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

/// The store, on either backend. Cheap to clone.
#[derive(Clone)]
pub enum Store {
    Embedded(EmbeddedStore),
    Redis(redis::RedisStore),
}

/// Runs the embedded store's blocking call off the async workers, or awaits the Redis one.
macro_rules! on_backend {
    ($self:ident, $store:ident => $call:expr) => {
        match $self {
            Store::Embedded(embedded) => {
                let $store = embedded.clone();
                tokio::task::spawn_blocking(move || $call)
                    .await
                    .map_err(|e| StoreError::Io(std::io::Error::other(e)))?
            }
            Store::Redis($store) => $call.await,
        }
    };
}

// After the macro, which they use.
mod sessions;
mod templates;

impl Store {
    pub async fn qr(&self, id: &str) -> Result<Option<Qr>, StoreError> {
        let id = id.to_owned();
        on_backend!(self, store => store.qr(&id))
    }

    pub async fn create_qr(&self, qr: &Qr) -> Result<(), StoreError> {
        self.create_qr_within(qr, None).await
    }

    /// Stores a new code unless its team already has `limit` live codes (`CodeLimit`).
    pub async fn create_qr_within(&self, qr: &Qr, limit: Option<u64>) -> Result<(), StoreError> {
        let qr = qr.clone();
        on_backend!(self, store => store.create_qr_within(&qr, limit))
    }

    /// Stores many new codes at once; per code, whether it was stored (false: displayId taken).
    /// Embedded: one write transaction. Redis: pipelined calls of the same script as `create_qr`.
    pub async fn create_qrs(&self, qrs: Vec<Qr>) -> Result<Vec<bool>, StoreError> {
        let created = self.create_qrs_within(qrs, None).await?;
        Ok(created.into_iter().map(|c| c == Created::Stored).collect())
    }

    /// `create_qrs`, each code stored only while its team has fewer than `limit` live codes.
    pub async fn create_qrs_within(
        &self,
        qrs: Vec<Qr>,
        limit: Option<u64>,
    ) -> Result<Vec<Created>, StoreError> {
        on_backend!(self, store => store.create_qrs_within(&qrs, limit))
    }

    /// One page of a team's live codes, from the list indexes.
    pub async fn list_qrs(&self, query: &QrListQuery) -> Result<QrListPage, StoreError> {
        let query = query.clone();
        on_backend!(self, store => store.list_qrs(&query))
    }

    /// The platform's secret for public image URLs, made on the first call (both stores).
    pub async fn image_url_secret(&self) -> Result<[u8; 32], StoreError> {
        on_backend!(self, store => store.image_url_secret())
    }

    /// Where the team's changes (every code, deleted ones too, by updatedAt) are just past
    /// `after`, oldest first, at most `limit`: the updated-after feed, from an index.
    pub async fn changes(
        &self,
        team_id: &str,
        after: &ListPosition,
        limit: usize,
    ) -> Result<Vec<ListPosition>, StoreError> {
        let (team_id, after) = (team_id.to_owned(), after.clone());
        on_backend!(self, store => store.changes(&team_id, &after, limit))
    }

    /// The codes of `ids` that exist, in that order.
    pub async fn qrs_by_id(&self, ids: &[&str]) -> Result<Vec<Qr>, StoreError> {
        let ids: Vec<String> = ids.iter().map(|id| id.to_string()).collect();
        on_backend!(self, store => store.qrs_by_id(&ids))
    }

    /// How many live codes the team has (what a plan's code limit counts).
    pub async fn live_qr_count(&self, team_id: &str) -> Result<u64, StoreError> {
        let team_id = team_id.to_owned();
        on_backend!(self, store => store.live_qr_count(&team_id))
    }

    /// Applies `edit` to the code `id` as stored at the write (NotFound: no such code); the
    /// code as stored after it.
    pub async fn update_qr(&self, id: &str, edit: Edit<Qr>) -> Result<Qr, StoreError> {
        let id = id.to_owned();
        on_backend!(self, store => store.update_qr(&id, &edit))
    }

    pub async fn team_qrs(&self, team_id: &str) -> Result<Vec<Qr>, StoreError> {
        let team_id = team_id.to_owned();
        on_backend!(self, store => store.team_qrs(&team_id))
    }

    pub async fn team(&self, id: &str) -> Result<Option<Team>, StoreError> {
        let id = id.to_owned();
        on_backend!(self, store => store.team(&id))
    }

    /// Applies `edit` to the team `id` as stored at the write (NotFound: no such team), with its
    /// custom domains claimed and released; the team as stored after it.
    pub async fn update_team(&self, id: &str, edit: Edit<Team>) -> Result<Team, StoreError> {
        let id = id.to_owned();
        on_backend!(self, store => store.update_team(&id, &edit))
    }

    /// Every custom domain with the team that has it.
    pub async fn custom_domains(&self) -> Result<Vec<(String, Team)>, StoreError> {
        on_backend!(self, store => store.custom_domains())
    }

    pub async fn member(&self, id: &str) -> Result<Option<crate::model::Member>, StoreError> {
        let id = id.to_owned();
        on_backend!(self, store => store.member(&id))
    }

    pub async fn credential(
        &self,
        client_id: &str,
    ) -> Result<Option<crate::model::Credential>, StoreError> {
        let client_id = client_id.to_owned();
        on_backend!(self, store => store.credential(&client_id))
    }

    pub async fn org_teams(&self, org_id: &str) -> Result<Vec<Team>, StoreError> {
        let org_id = org_id.to_owned();
        on_backend!(self, store => store.org_teams(&org_id))
    }

    pub async fn org_members(&self, org_id: &str) -> Result<Vec<crate::model::Member>, StoreError> {
        let org_id = org_id.to_owned();
        on_backend!(self, store => store.org_members(&org_id))
    }

    /// Stores a new team with `roles` (member id, role) given in it, in one write, unless its
    /// organization already has `limit` teams (`TeamLimit`).
    pub async fn insert_team(
        &self,
        team: &Team,
        limit: Option<u64>,
        roles: &[(String, crate::model::Role)],
    ) -> Result<(), StoreError> {
        let (team, roles) = (team.clone(), roles.to_vec());
        on_backend!(self, store => store.insert_team(&team, limit, &roles))
    }

    /// Stores a new member; EmailTaken when a member of the organization has the email.
    pub async fn insert_member(&self, member: &crate::model::Member) -> Result<(), StoreError> {
        let member = member.clone();
        on_backend!(self, store => store.insert_member(&member))
    }

    /// Applies `edit` to the member `id` as stored at the write (NotFound: none); EmailTaken when
    /// another member of the organization has the email it gives. Their bound keys follow in the
    /// same write: narrowed to the teams they are still in, deleted with the last one.
    pub async fn update_member(
        &self,
        id: &str,
        edit: Edit<crate::model::Member>,
    ) -> Result<crate::model::Member, StoreError> {
        let id = id.to_owned();
        on_backend!(self, store => store.update_member(&id, &edit))
    }

    /// Deletes a member and their credentials.
    pub async fn delete_member(&self, member: &crate::model::Member) -> Result<(), StoreError> {
        let member = member.clone();
        on_backend!(self, store => store.delete_member(&member))
    }

    pub async fn org(&self, id: &str) -> Result<Option<crate::model::Org>, StoreError> {
        let id = id.to_owned();
        on_backend!(self, store => store.org(&id))
    }

    /// Counts one API request in `bucket` for minute `window` (epoch minutes); the count so far.
    pub async fn count_request(&self, bucket: &str, window: i64) -> Result<u64, StoreError> {
        match self {
            Store::Embedded(store) => Ok(store.count_request(bucket, window)),
            Store::Redis(store) => store.count_request(bucket, window).await,
        }
    }

    /// Stores a new credential; a bound key only with the teams its member is in at that
    /// moment (NotFound: none).
    pub async fn insert_credential(
        &self,
        credential: &crate::model::Credential,
    ) -> Result<(), StoreError> {
        let credential = credential.clone();
        on_backend!(self, store => store.insert_credential(&credential))
    }

    pub async fn member_credentials(
        &self,
        member_id: &str,
    ) -> Result<Vec<crate::model::Credential>, StoreError> {
        let member_id = member_id.to_owned();
        on_backend!(self, store => store.member_credentials(&member_id))
    }

    pub async fn delete_credential(&self, client_id: &str) -> Result<bool, StoreError> {
        let client_id = client_id.to_owned();
        on_backend!(self, store => store.delete_credential(&client_id))
    }

    pub async fn bootstrap_if_empty(
        &self,
        data_dir: &Path,
        default_domain: &str,
    ) -> Result<Option<Bootstrap>, StoreError> {
        let (data_dir, domain) = (data_dir.to_owned(), default_domain.to_owned());
        on_backend!(self, store => store.bootstrap_if_empty(&data_dir, &domain))
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
