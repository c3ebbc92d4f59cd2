//! The edge's route table at start, and the task that keeps it current: it follows the changes
//! of the store in use, or serves the local snapshot until an unreachable Redis answers.

use std::sync::Arc;

use arc_swap::ArcSwap;
use tokio::task::JoinHandle;
use tokio_util::sync::CancellationToken;

use super::topology::{Codes, Topology};
use super::ServeError;
use crate::config::Config;
use crate::edge::follow::{self, Following};
use crate::edge::snapshot::{self, Snapshots};
use crate::edge::RouteTable;

pub type Table = Arc<ArcSwap<RouteTable>>;

pub async fn open(
    topology: &Topology,
    config: &Config,
    stop: CancellationToken,
) -> Result<(Table, JoinHandle<()>), ServeError> {
    let snapshots = Snapshots::new(&config.data_dir);
    match &topology.codes {
        Codes::Embedded(embedded) => {
            let following = follow::first_table(embedded).await.map_err(|source| {
                ServeError::EmbeddedStore {
                    path: config.data_dir.join(crate::store::EMBEDDED_FILE),
                    source,
                }
            })?;
            let table = Arc::clone(&following.table);
            let follow = tokio::spawn(follow::follow(embedded.clone(), following, None, stop));
            Ok((table, follow))
        }
        Codes::Redis(redis) => {
            let following = follow::first_table(redis).await?;
            let table = Arc::clone(&following.table);
            let follow = tokio::spawn(follow::follow(
                redis.clone(),
                following,
                Some(snapshots),
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
            let following = Following::from_snapshot(table, after);
            let table = Arc::clone(&following.table);
            let follow = tokio::spawn(follow::connect_and_follow(
                config.redis.url.clone(),
                config.redis.key_prefix.clone(),
                following,
                snapshots,
                stop,
            ));
            Ok((table, follow))
        }
    }
}
