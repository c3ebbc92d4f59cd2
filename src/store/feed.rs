//! The change feed edges follow, one shape on both stores: every committed change an edge must
//! hear of, in commit order, as the route keys it touched (or the team it changed), each at a
//! position a follower resumes from. Entries carry keys, not routes: a follower reads the
//! committed routes of the keys it was told of, so whatever order it reads in, it ends at the
//! last commit. The embedded store keeps the feed in a table written in the same transaction as
//! the change (`changes.rs`), Redis in a stream written by the same script (`redis/feed.rs`).

use std::future::Future;
use std::time::Duration;

use serde::{Deserialize, Serialize};

use super::StoreError;
use crate::model::{RouteRecord, Team};

/// One entry of the feed.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub enum Change {
    /// The route at `key` changed (a code created, updated or deleted); `released` is a key the
    /// code had before and no longer has.
    Route {
        key: String,
        released: Option<String>,
    },
    /// A team's settings changed (its custom domains, its colour).
    Team { team_id: String },
}

impl Change {
    /// The change of a code whose route key was `previous` and is `key` now.
    pub fn route(key: String, previous: Option<String>) -> Change {
        let released = previous.filter(|old| *old != key);
        Change::Route { key, released }
    }
}

/// What a read of the feed after a cursor found.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum FeedRead<C> {
    /// The entries after the cursor (none when the wait ran out), and the cursor after them.
    Changes { changes: Vec<Change>, cursor: C },
    /// The store no longer keeps every entry after the cursor (it was trimmed past it): the
    /// follower must read everything afresh.
    Lagged,
}

/// What an edge reads of a store: the feed, the committed routes, the custom domains and the
/// teams. Implemented by both stores; the edge's follower (`edge::follow`) is written once
/// against it.
pub trait ChangeFeed: Clone + Send + Sync + 'static {
    /// A position in the feed: the embedded store's sequence number, a Redis stream id.
    type Cursor: Clone + Send + Sync + std::fmt::Display + 'static;

    /// The position of the newest entry: read it *before* loading the routes, and follow from
    /// it, and no change made during the load is missed.
    fn cursor(&self) -> impl Future<Output = Result<Self::Cursor, StoreError>> + Send;

    /// The changes after `cursor`, waiting up to `wait` for the first: `max` or fewer, or more
    /// where an entry holds many (an embedded bulk create's are one entry, never split).
    fn changes_after(
        &self,
        cursor: &Self::Cursor,
        wait: Duration,
        max: usize,
    ) -> impl Future<Output = Result<FeedRead<Self::Cursor>, StoreError>> + Send;

    /// The committed route at each key (None: nothing is served there).
    fn routes(
        &self,
        keys: Vec<String>,
    ) -> impl Future<Output = Result<Vec<Option<RouteRecord>>, StoreError>> + Send;

    /// How many servable routes the store holds: for sizing a table up front.
    fn route_count(&self) -> impl Future<Output = Result<u64, StoreError>> + Send;

    /// Calls `visit` with `state` and every servable route key and record; the state after.
    fn each_route<S, V>(
        &self,
        state: S,
        visit: V,
    ) -> impl Future<Output = Result<S, StoreError>> + Send
    where
        S: Send + 'static,
        V: FnMut(&mut S, &str, RouteRecord) + Send + 'static;

    /// Every custom domain with the team that has it.
    fn domains(&self) -> impl Future<Output = Result<Vec<(String, Team)>, StoreError>> + Send;

    fn team_of(&self, id: &str) -> impl Future<Output = Result<Option<Team>, StoreError>> + Send;
}
