//! Keeps an edge's route table at the store's last commit, on either store: load every route
//! (the feed's cursor read first), then wait for the feed's entries after the cursor, read the
//! committed routes of the keys they name, and swap in the table with them applied (one overlay
//! update per read, so a request never waits). A follower whose cursor the store no longer
//! keeps reads everything afresh. When the store is away (Redis) the edge serves the table it
//! has and catches up when it returns; a Redis edge also keeps its table on disk (`snapshot`).

use std::collections::hash_map::Entry;
use std::collections::{BTreeSet, HashMap};
use std::sync::Arc;
use std::time::Duration;

use arc_swap::ArcSwap;
use tokio_util::sync::CancellationToken;

use super::domains::DomainTable;
use super::route_shards::RouteShardsBuilder;
use super::snapshot::Snapshots;
use super::{Route, RouteTable, RouteUpdate};
use crate::backoff::Backoff;
use crate::model::RouteRecord;
use crate::store::redis::{RedisStore, StreamCursor};
use crate::store::{Change, ChangeFeed, FeedRead, StoreError};

/// How long one read waits for entries: bounds how late a stop is noticed.
const WAIT: Duration = Duration::from_secs(1);
/// Entries per read, applied as one new table.
const READ_MAX: usize = 1_000;

/// Retries while the store is away: soon at first, then every 2 s.
fn retry_backoff() -> Backoff {
    Backoff::new(Duration::from_millis(100), Duration::from_secs(2))
}

/// The team colour of hosted pages. Applied here, at the edge, on both stores, rather than
/// written into each route record: a colour change is then one small write of the team (no
/// rewrite of every hosted code of the team in the same transaction or script), and the feed
/// already tells edges of every team change. Known colours are the teams' as read since the
/// cursor, so every later change reaches us as a `Team` entry.
#[derive(Default)]
struct Colours(HashMap<String, Option<String>>);

impl Colours {
    /// Reads the colours of `teams` not known yet.
    async fn learn<F: ChangeFeed>(
        &mut self,
        feed: &F,
        teams: impl IntoIterator<Item = String>,
    ) -> Result<(), StoreError> {
        for team_id in teams {
            if let Entry::Vacant(unknown) = self.0.entry(team_id) {
                let team = feed.team_of(unknown.key()).await?;
                unknown.insert(team.and_then(|t| t.primary_color));
            }
        }
        Ok(())
    }

    /// `record` with its team's colour if it is a hosted page.
    fn paint(&self, mut record: RouteRecord) -> RouteRecord {
        if !record.qr_type.is_redirect() {
            record.brand_colour = self.0.get(&record.team_id).cloned().flatten();
        }
        record
    }
}

/// Loads every route and custom domain. Returns the table, the colours and the cursor to follow
/// from, read *before* the routes so that no change committed during the load is missed
/// (applying one twice is harmless).
async fn load<F: ChangeFeed>(feed: &F) -> Result<(RouteTable, Colours, F::Cursor), StoreError> {
    let cursor = feed.cursor().await?;
    let routes = RouteShardsBuilder::with_capacity(feed.route_count().await? as usize);
    // Each route is packed as it is read (the table never exists twice in memory); hosted pages
    // wait for their team's colour.
    let (routes, hosted) = feed
        .each_route((routes, Vec::new()), |(routes, hosted), key, record| {
            if !record.qr_type.is_redirect() {
                hosted.push((key.to_owned(), record));
            } else if !routes.push_plain_record(key, &record) {
                if let Some(route) = Route::from_record(key, &record) {
                    routes.push(key, route);
                }
            }
        })
        .await?;
    let mut colours = Colours::default();
    let teams: BTreeSet<String> = hosted.iter().map(|(_, r)| r.team_id.clone()).collect();
    colours.learn(feed, teams).await?;
    let domains = DomainTable::new(feed.domains().await?);
    let (table, colours) = tokio::task::spawn_blocking(move || {
        let mut routes = routes;
        for (key, record) in hosted {
            if let Some(route) = Route::from_record(&key, &colours.paint(record)) {
                routes.push(&key, route);
            }
        }
        let table = RouteTable::from_shards(routes.finish()).with_domains(domains);
        (table, colours)
    })
    .await
    .expect("building a table does not panic");
    Ok((table, colours, cursor))
}

/// Loads the first table of an edge.
pub async fn first_table<F: ChangeFeed>(feed: &F) -> Result<Following<F>, StoreError> {
    let (table, colours, cursor) = load(feed).await?;
    tracing::info!(
        routes = table.len(),
        custom_domains = table.domains().len(),
        "route table loaded"
    );
    Ok(Following {
        table: Arc::new(ArcSwap::from_pointee(table)),
        cursor,
        colours,
        from_snapshot: false,
    })
}

/// An edge's table and where it follows the feed from.
pub struct Following<F: ChangeFeed> {
    pub table: Arc<ArcSwap<RouteTable>>,
    pub cursor: F::Cursor,
    colours: Colours,
    /// The table came from the local snapshot (the store was unreachable at start).
    from_snapshot: bool,
}

impl Following<RedisStore> {
    /// A table read from the local snapshot, as of stream id `cursor` (Redis unreachable). Its
    /// hosted pages carry their colours as of `cursor`; a team's is read when the feed names it.
    pub fn from_snapshot(table: RouteTable, cursor: String) -> Self {
        Self {
            table: Arc::new(ArcSwap::from_pointee(table)),
            cursor: StreamCursor::at(cursor),
            colours: Colours::default(),
            from_snapshot: true,
        }
    }
}

/// Connects to Redis, retrying until it answers, then follows (an edge that started from its
/// snapshot because Redis was unreachable).
pub async fn connect_and_follow(
    url: String,
    key_prefix: String,
    following: Following<RedisStore>,
    snapshots: Snapshots,
    stop: CancellationToken,
) {
    let mut retry = retry_backoff();
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
    follow(store, following, Some(snapshots), stop).await;
}

/// Follows the feed until `stop` is cancelled (saving snapshots, when given, as it goes).
pub async fn follow<F: ChangeFeed>(
    feed: F,
    following: Following<F>,
    mut snapshots: Option<Snapshots>,
    stop: CancellationToken,
) {
    let Following {
        table,
        mut cursor,
        mut colours,
        from_snapshot,
    } = following;
    let mut outage = from_snapshot;
    let mut retry = retry_backoff();
    loop {
        let read = tokio::select! {
            _ = stop.cancelled() => {
                if let Some(snapshots) = &mut snapshots {
                    snapshots.finish(table.load_full(), &cursor.to_string()).await;
                }
                return;
            }
            read = feed.changes_after(&cursor, WAIT, READ_MAX) => read,
        };
        let result = match read {
            Ok(FeedRead::Changes { changes, cursor }) => {
                apply(&feed, &table, &mut colours, changes)
                    .await
                    .map(|()| cursor)
            }
            Ok(FeedRead::Lagged) => resync(&feed, &table, &mut colours).await,
            Err(e) => Err(e),
        };
        match result {
            Ok(next) => {
                if outage {
                    tracing::info!("the store answers again; the route table is current");
                }
                outage = false;
                retry.reset();
                cursor = next;
                if let Some(snapshots) = &mut snapshots {
                    snapshots.offer(table.load_full(), &cursor.to_string());
                }
            }
            Err(e) => {
                if !outage {
                    tracing::warn!(error = %e, "cannot follow the store's changes; serving the table we have");
                }
                outage = true;
                if !retry.wait(&stop).await {
                    return;
                }
            }
        }
    }
}

/// Reads every route afresh: the store no longer keeps all the entries after our cursor.
async fn resync<F: ChangeFeed>(
    feed: &F,
    table: &ArcSwap<RouteTable>,
    colours: &mut Colours,
) -> Result<F::Cursor, StoreError> {
    tracing::warn!(
        "this edge fell behind what the store keeps of its changes; reading every route afresh"
    );
    let (fresh, fresh_colours, cursor) = load(feed).await?;
    table.store(Arc::new(fresh.succeeding(&table.load())));
    *colours = fresh_colours;
    Ok(cursor)
}

/// Applies one read of the feed as one new table: the committed route of every key named (the
/// key changed and the key released), the colour of every team named on its hosted pages, and
/// the custom domains afresh when a team changed. Nothing moves when a read fails: the caller
/// reads the same entries again.
async fn apply<F: ChangeFeed>(
    feed: &F,
    table: &ArcSwap<RouteTable>,
    colours: &mut Colours,
    changes: Vec<Change>,
) -> Result<(), StoreError> {
    if changes.is_empty() {
        return Ok(());
    }
    let mut keys = BTreeSet::new();
    let mut teams = BTreeSet::new();
    for change in changes {
        match change {
            Change::Route { key, released } => keys.extend(std::iter::once(key).chain(released)),
            Change::Team { team_id } => {
                teams.insert(team_id);
            }
        }
    }
    let keys: Vec<String> = keys.into_iter().collect();
    let records = feed.routes(keys.clone()).await?;
    let domains = match teams.is_empty() {
        true => None,
        false => Some(DomainTable::new(feed.domains().await?)),
    };
    for team_id in &teams {
        colours.0.remove(team_id);
    }
    let named: BTreeSet<String> = records
        .iter()
        .flatten()
        .map(|r| r.team_id.clone())
        .collect();
    colours
        .learn(feed, named.into_iter().chain(teams.iter().cloned()))
        .await?;
    let painted = std::mem::take(colours);
    let current = table.load_full();
    let (next, painted) = tokio::task::spawn_blocking(move || {
        let mut updates = repainted(&current, &painted, &teams, &keys);
        updates.extend(keys.into_iter().zip(records).map(|(key, record)| {
            let route = record.and_then(|r| Route::from_record(&key, &painted.paint(r)));
            RouteUpdate {
                key: key.into_boxed_str(),
                route,
            }
        }));
        let next = current.with_updates(updates);
        let next = match domains {
            Some(domains) => next.with_domains(domains),
            None => next,
        };
        (next, painted)
    })
    .await
    .expect("applying updates does not panic");
    *colours = painted;
    table.store(Arc::new(next));
    Ok(())
}

/// The hosted pages of `teams` in `table` whose colour is not their team's now, rendered again
/// (but those at `keys`, sorted, which are read afresh anyway).
fn repainted(
    table: &RouteTable,
    colours: &Colours,
    teams: &BTreeSet<String>,
    keys: &[String],
) -> Vec<RouteUpdate> {
    if teams.is_empty() {
        return Vec::new();
    }
    table
        .whole_routes()
        .filter(|(key, route)| {
            teams.contains(&*route.team_id)
                && keys.binary_search_by(|k| k.as_str().cmp(key)).is_err()
        })
        .filter_map(|(key, route)| {
            let record = route.record();
            let painted = colours.paint(record.clone());
            (painted != record).then(|| RouteUpdate {
                key: key.into(),
                route: Route::from_record(key, &painted),
            })
        })
        .collect()
}
