//! The edge's route table at start, and the task that keeps it current: it follows the changes
//! of the store in use, or serves the local snapshot until an unreachable Redis answers.

use std::sync::Arc;

use arc_swap::ArcSwap;
use tokio::task::JoinHandle;
use tokio_util::sync::CancellationToken;

use super::topology::{Codes, Topology};
use super::ServeError;
use crate::config::Config;
use crate::edge::snapshot::{self, Snapshots};
use crate::edge::sync_redis::Position;
use crate::edge::{sync, sync_redis, RouteTable};

pub type Table = Arc<ArcSwap<RouteTable>>;

pub async fn open(
    topology: &Topology,
    config: &Config,
    stop: CancellationToken,
) -> Result<(Table, JoinHandle<()>), ServeError> {
    let snapshots = Snapshots::new(&config.data_dir);
    match &topology.codes {
        Codes::Embedded(embedded) => {
            let (table, changes, teams) =
                sync::initial_table(embedded).await.map_err(|source| {
                    ServeError::EmbeddedStore {
                        path: config.data_dir.join(crate::store::EMBEDDED_FILE),
                        source,
                    }
                })?;
            let follow = tokio::spawn(sync::follow_changes(
                embedded.clone(),
                Arc::clone(&table),
                changes,
                teams,
                stop,
            ));
            Ok((table, follow))
        }
        Codes::Redis(redis) => {
            let (table, after) = sync_redis::load_table(redis).await?;
            tracing::info!(routes = table.len(), "route table loaded from Redis");
            let table = Arc::new(ArcSwap::from_pointee(table));
            let position = Position {
                after,
                from_snapshot: false,
            };
            let follow = tokio::spawn(sync_redis::follow_changes(
                redis.clone(),
                Arc::clone(&table),
                position,
                snapshots,
                stop,
            ));
            Ok((table, follow))
        }
        Codes::RedisLater => {
            let (table, after) =
                snapshot::load(snapshots.path()).map_err(|e| ServeError::Snapshot {
                    path: snapshots.path().to_owned(),
                    source: e,
                })?;
            tracing::warn!(routes = table.len(), %after, "serving the route snapshot until Redis answers");
            let table = Arc::new(ArcSwap::from_pointee(table));
            let position = Position {
                after,
                from_snapshot: true,
            };
            let follow = tokio::spawn(sync_redis::connect_and_follow(
                config.redis.url.clone(),
                config.redis.key_prefix.clone(),
                Arc::clone(&table),
                position,
                snapshots,
                stop,
            ));
            Ok((table, follow))
        }
    }
}
