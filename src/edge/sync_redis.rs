//! Keeps an edge's route table in step with the Redis store: load every route at start, then
//! follow the change stream. When Redis is away the edge keeps serving the table it has, and
//! catches up (or reloads, if the stream was trimmed past it) when Redis returns. The table is
//! also kept on disk (`snapshot`), for a start while Redis is unreachable.

use std::sync::Arc;
use std::time::Duration;

use arc_swap::ArcSwap;
use tokio_util::sync::CancellationToken;

use super::domains::DomainTable;
use super::packed_routes::PackedRoutesBuilder;
use super::snapshot::Snapshots;
use super::{Route, RouteTable, RouteUpdate};
use crate::backoff::Backoff;
use crate::store::redis::{RedisStore, RouteChangeEntry};
use crate::store::StoreError;

/// How long one XREAD waits for a change: bounds how late a stop is noticed.
const BLOCK_MS: usize = 1_000;
const READ_COUNT: usize = 1_000;

/// Retries while Redis is away: soon at first, then every 2 s.
fn redis_backoff() -> Backoff {
    Backoff::new(Duration::from_millis(100), Duration::from_secs(2))
}

/// Loads every servable route. Returns the table and the change id to follow from, read
/// *before* the routes so that no change made during the load is missed.
pub async fn load_table(store: &RedisStore) -> Result<(RouteTable, String), StoreError> {
    let after = store.last_change_id().await?;
    // Each route is packed as it is read: the table never exists twice in memory.
    let mut routes = PackedRoutesBuilder::default();
    store
        .for_each_route(|key, record| {
            if let Some(route) = Route::from_record(&key, &record) {
                routes.push(&key, route);
            }
        })
        .await?;
    let domains = DomainTable::new(store.custom_domains().await?);
    let table = tokio::task::spawn_blocking(move || {
        RouteTable::from_packed(routes.finish()).with_domains(domains)
    })
    .await
    .expect("building a table does not panic");
    Ok((table, after))
}

fn updates(entries: &[RouteChangeEntry]) -> Vec<RouteUpdate> {
    let mut out = Vec::with_capacity(entries.len() * 2);
    for entry in entries.iter().filter(|e| !e.key.is_empty()) {
        if let Some(released) = &entry.released {
            out.push(RouteUpdate {
                key: released.as_str().into(),
                route: None,
            });
        }
        out.push(RouteUpdate {
            key: entry.key.as_str().into(),
            route: entry
                .route
                .as_ref()
                .and_then(|r| Route::from_record(&entry.key, r)),
        });
    }
    out
}

/// Where an edge starts following from.
pub struct Position {
    /// The change stream id the table reflects.
    pub after: String,
    /// The table came from the local snapshot: check that the stream still reaches back to
    /// `after` before reading on (the recovery path of an outage).
    pub from_snapshot: bool,
}

/// Connects to Redis, retrying until it answers, then follows changes (an edge that started
/// from its snapshot because Redis was unreachable).
pub async fn connect_and_follow(
    url: String,
    key_prefix: String,
    table: Arc<ArcSwap<RouteTable>>,
    position: Position,
    snapshots: Snapshots,
    stop: CancellationToken,
) {
    let mut retry = redis_backoff();
    let store = loop {
        match RedisStore::connect(&url, &key_prefix).await {
            Ok(store) => break store,
            Err(e) => tracing::debug!(error = %e, "Redis is still unreachable"),
        }
        if !retry.wait(&stop).await {
            return;
        }
    };
    tracing::info!("connected to Redis; catching up with the route changes");
    follow_changes(store, table, position, snapshots, stop).await;
}

/// Follows the change stream from `position` until `stop` is cancelled, saving snapshots.
pub async fn follow_changes(
    store: RedisStore,
    table: Arc<ArcSwap<RouteTable>>,
    position: Position,
    mut snapshots: Snapshots,
    stop: CancellationToken,
) {
    let mut after = position.after;
    let mut retry = redis_backoff();
    let mut outage = position.from_snapshot;
    loop {
        let read = tokio::select! {
            _ = stop.cancelled() => {
                snapshots.finish(table.load_full(), &after).await;
                return;
            }
            read = store.changes_after(&after, BLOCK_MS, READ_COUNT) => read,
        };
        let result = match read {
            Ok(entries) if outage => recover(&store, &table, &mut after, entries).await,
            Ok(entries) => apply(&store, &table, &mut after, entries).await,
            Err(e) => Err(e),
        };
        match result {
            Ok(()) => {
                if outage {
                    tracing::info!("Redis is back; the route table is current again");
                }
                outage = false;
                retry.reset();
                snapshots.offer(table.load_full(), &after);
            }
            Err(e) => {
                if !outage {
                    tracing::warn!(error = %e, "cannot follow route changes; serving the table we have");
                }
                outage = true;
                if !retry.wait(&stop).await {
                    return;
                }
            }
        }
    }
}

async fn apply(
    store: &RedisStore,
    table: &ArcSwap<RouteTable>,
    after: &mut String,
    entries: Vec<RouteChangeEntry>,
) -> Result<(), StoreError> {
    let Some(last) = entries.last() else {
        return Ok(());
    };
    // A team changed: its domains are read before anything moves, so that a failed read leaves
    // `after` where it was and the entries are read again.
    let domains = match entries.iter().any(|e| e.team_changed) {
        true => Some(DomainTable::new(store.custom_domains().await?)),
        false => None,
    };
    *after = last.id.clone();
    let updates = updates(&entries);
    let current = table.load_full();
    let next = tokio::task::spawn_blocking(move || {
        let next = current.with_updates(updates);
        match domains {
            Some(domains) => next.with_domains(domains),
            None => next,
        }
    })
    .await
    .expect("applying updates does not panic");
    table.store(Arc::new(next));
    Ok(())
}

/// After an outage: if the stream still holds everything since `after`, apply as usual;
/// otherwise reload every route.
async fn recover(
    store: &RedisStore,
    table: &ArcSwap<RouteTable>,
    after: &mut String,
    entries: Vec<RouteChangeEntry>,
) -> Result<(), StoreError> {
    if store.changes_kept_since(after).await? {
        // Domains may have changed while Redis was away from us: read them afresh.
        let domains = DomainTable::new(store.custom_domains().await?);
        apply(store, table, after, entries).await?;
        let next = table.load().with_domains(domains);
        table.store(Arc::new(next));
        return Ok(());
    }
    tracing::warn!(%after, "the change stream was trimmed past this edge; reloading all routes");
    let (fresh, newest) = load_table(store).await?;
    let fresh = fresh.succeeding(&table.load());
    table.store(Arc::new(fresh));
    *after = newest;
    Ok(())
}
