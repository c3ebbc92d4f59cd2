//! Keeps the edge's route table in step with the embedded store: a full build at start, then
//! every change from the store's feed applied as an overlay and swapped in atomically; a change
//! to a team reloads the custom domains.

use std::collections::HashMap;
use std::sync::Arc;

use arc_swap::ArcSwap;
use tokio::sync::broadcast::{self, error::RecvError};
use tokio::sync::watch;
use tokio_util::sync::CancellationToken;

use super::domains::DomainTable;
use super::packed_routes::PackedRoutesBuilder;
use super::route_table::RouteUpdate;
use super::{Route, RouteTable};
use crate::store::{EmbeddedStore, QrChange, StoreError};

/// The colour of each team's hosted pages, looked up once per team.
struct Colours<'a> {
    store: &'a EmbeddedStore,
    known: HashMap<String, Option<String>>,
}

impl<'a> Colours<'a> {
    fn new(store: &'a EmbeddedStore) -> Self {
        Self {
            store,
            known: HashMap::new(),
        }
    }

    fn of(&mut self, team_id: &str) -> Option<&str> {
        if !self.known.contains_key(team_id) {
            let colour = self
                .store
                .team(team_id)
                .ok()
                .flatten()
                .and_then(|t| t.primary_color);
            self.known.insert(team_id.to_owned(), colour);
        }
        self.known[team_id].as_deref()
    }
}

/// Reads every code and custom domain in the store into a new table (blocking: call off the
/// async workers).
pub fn build_table(store: &EmbeddedStore) -> Result<RouteTable, StoreError> {
    let mut colours = Colours::new(store);
    // Each route is packed as it is read: the table never exists twice in memory.
    let mut routes = PackedRoutesBuilder::with_capacity(store.route_count()? as usize);
    store.for_each_route(|key, mut record| {
        if !record.qr_type.is_redirect() {
            record.brand_colour = colours.of(&record.team_id).map(str::to_owned);
        }
        if !routes.push_plain_record(key, &record) {
            if let Some(route) = Route::from_record(key, &record) {
                routes.push(key, route);
            }
        }
    })?;
    let domains = DomainTable::new(store.custom_domains()?);
    Ok(RouteTable::from_packed(routes.finish()).with_domains(domains))
}

/// Builds the first table and returns it with subscriptions taken *before* the build, so no
/// change committed during the build is missed (applying one twice is harmless).
pub async fn initial_table(
    store: &EmbeddedStore,
) -> Result<
    (
        Arc<ArcSwap<RouteTable>>,
        broadcast::Receiver<QrChange>,
        watch::Receiver<u64>,
    ),
    StoreError,
> {
    let changes = store.subscribe();
    let teams = store.watch_teams();
    let store = store.clone();
    let table = tokio::task::spawn_blocking(move || build_table(&store))
        .await
        .expect("table build does not panic")?;
    tracing::info!(
        routes = table.len(),
        custom_domains = table.domains().len(),
        "route table built"
    );
    Ok((Arc::new(ArcSwap::from_pointee(table)), changes, teams))
}

/// Applies changes until `stop` is cancelled. Changes that arrive together are applied as one
/// new table; a subscriber that fell behind the feed rebuilds from the store.
pub async fn follow_changes(
    store: EmbeddedStore,
    table: Arc<ArcSwap<RouteTable>>,
    mut changes: broadcast::Receiver<QrChange>,
    mut teams: watch::Receiver<u64>,
    stop: CancellationToken,
) {
    loop {
        let first = tokio::select! {
            _ = stop.cancelled() => return,
            changed = teams.changed() => {
                if changed.is_err() {
                    return;
                }
                reload_domains(&store, &table).await;
                continue;
            }
            next = changes.recv() => next,
        };
        match first {
            Ok(change) => {
                let mut batch = vec![change];
                while let Ok(more) = changes.try_recv() {
                    batch.push(more);
                }
                let current = table.load_full();
                let reader = store.clone();
                let next = tokio::task::spawn_blocking(move || {
                    let mut colours = Colours::new(&reader);
                    let updates = batch.iter().flat_map(|change| {
                        let colour = if change.qr.qr_type.is_redirect() {
                            None
                        } else {
                            colours.of(&change.qr.team_id).map(str::to_owned)
                        };
                        RouteUpdate::from_change(change, colour.as_deref())
                    });
                    current.with_updates(updates.collect::<Vec<_>>())
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

async fn reload_domains(store: &EmbeddedStore, table: &ArcSwap<RouteTable>) {
    let reader = store.clone();
    match tokio::task::spawn_blocking(move || reader.custom_domains()).await {
        Ok(Ok(domains)) => {
            // This task is the table's only writer: no update can slip in between.
            let next = table.load().with_domains(DomainTable::new(domains));
            table.store(Arc::new(next));
        }
        Ok(Err(e)) => tracing::error!(error = %e, "reading the custom domains failed"),
        Err(e) => tracing::error!(error = %e, "reading the custom domains panicked"),
    }
}
