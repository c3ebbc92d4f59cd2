//! Keeps the edge's route table in step with the store: a full build at start, then every
//! change from the store's feed applied as an overlay and swapped in atomically.

use std::sync::Arc;

use arc_swap::ArcSwap;
use tokio::sync::broadcast::{self, error::RecvError};
use tokio_util::sync::CancellationToken;

use super::route_table::RouteUpdate;
use super::RouteTable;
use crate::store::{EmbeddedStore, QrChange, StoreError};

/// Reads every code in the store into a new table (blocking: call off the async workers).
pub fn build_table(store: &EmbeddedStore) -> Result<RouteTable, StoreError> {
    let mut qrs = Vec::new();
    store.for_each_qr(|qr| qrs.push(qr))?;
    Ok(RouteTable::from_qrs(qrs))
}

/// Builds the first table and returns it with a subscription taken *before* the build, so no
/// change committed during the build is missed (applying one twice is harmless).
pub async fn initial_table(
    store: &EmbeddedStore,
) -> Result<(Arc<ArcSwap<RouteTable>>, broadcast::Receiver<QrChange>), StoreError> {
    let changes = store.subscribe();
    let store = store.clone();
    let table = tokio::task::spawn_blocking(move || build_table(&store))
        .await
        .expect("table build does not panic")?;
    tracing::info!(routes = table.len(), "route table built");
    Ok((Arc::new(ArcSwap::from_pointee(table)), changes))
}

/// Applies changes until `stop` is cancelled. Changes that arrive together are applied as one
/// new table; a subscriber that fell behind the feed rebuilds from the store.
pub async fn follow_changes(
    store: EmbeddedStore,
    table: Arc<ArcSwap<RouteTable>>,
    mut changes: broadcast::Receiver<QrChange>,
    stop: CancellationToken,
) {
    loop {
        let first = tokio::select! {
            _ = stop.cancelled() => return,
            next = changes.recv() => next,
        };
        match first {
            Ok(change) => {
                let mut batch = vec![change];
                while let Ok(more) = changes.try_recv() {
                    batch.push(more);
                }
                let current = table.load_full();
                let next = tokio::task::spawn_blocking(move || {
                    current.with_updates(batch.iter().flat_map(RouteUpdate::from_change))
                })
                .await;
                match next {
                    Ok(next) => table.store(Arc::new(next)),
                    Err(e) => tracing::error!(error = %e, "applying route changes failed"),
                }
            }
            Err(RecvError::Lagged(missed)) => {
                tracing::warn!(missed, "route feed lagged; rebuilding the table");
                let store = store.clone();
                match tokio::task::spawn_blocking(move || build_table(&store)).await {
                    Ok(Ok(fresh)) => {
                        let fresh = fresh.succeeding(&table.load());
                        table.store(Arc::new(fresh));
                    }
                    Ok(Err(e)) => tracing::error!(error = %e, "route table rebuild failed"),
                    Err(e) => tracing::error!(error = %e, "route table rebuild panicked"),
                }
            }
            Err(RecvError::Closed) => return,
        }
    }
}
