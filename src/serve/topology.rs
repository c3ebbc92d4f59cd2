//! What this process runs, resolved once at start: its roles, the store they share and where
//! scans are counted. With no configuration everything is embedded (a local store, an in-process
//! scan pipeline); a Redis URL moves the store to Redis, and Kafka brokers send scans through
//! Kafka to the aggregators, which keep the rollups in Redis.

use std::sync::Arc;

use super::ServeError;
use crate::aggregate::redis::RedisAnalytics;
use crate::aggregate::{Analytics, AnalyticsError, AnalyticsReader, StoreZones};
use crate::config::Config;
use crate::data_dir;
use crate::store::redis::RedisStore;
use crate::store::{EmbeddedStore, Store};

/// Which roles this process runs.
#[derive(Debug, Clone, Copy)]
pub struct Roles {
    pub api: bool,
    pub edge: bool,
    pub aggregator: bool,
}

impl Roles {
    pub const ALL: Roles = Roles {
        api: true,
        edge: true,
        aggregator: true,
    };

    fn all(self) -> bool {
        self.api && self.edge && self.aggregator
    }

    fn edge_alone(self) -> bool {
        self.edge && !self.api && !self.aggregator
    }
}

/// Where the codes are kept.
pub enum Codes {
    Embedded(EmbeddedStore),
    Redis(RedisStore),
    /// An edge alone whose Redis was unreachable at start: it serves its route snapshot and
    /// connects in the background.
    RedisLater,
}

/// Where scans are counted.
pub enum Counting {
    /// By this process's pipeline, into the embedded event log (`qredge serve` without Kafka).
    InProcess(Arc<Analytics>),
    /// By the aggregators, from Kafka, into the Redis rollups; None for an edge alone, which
    /// only produces to Kafka.
    Redis(Option<RedisAnalytics>),
}

pub struct Topology {
    pub roles: Roles,
    pub codes: Codes,
    pub counting: Counting,
}

impl Topology {
    /// Checks that the configuration can run `roles` and opens what they share.
    pub async fn resolve(config: &Config, roles: Roles) -> Result<Topology, ServeError> {
        refuse_unrunnable(config, roles)?;
        prepare_data_dir(config)?;
        let codes = open_codes(config, roles).await?;
        // Rollups live in Redis when scans go through Kafka, and whenever the roles run apart:
        // an API of its own reads what the aggregators wrote.
        let in_redis = kafka(config) || !roles.all();
        let counting = if !in_redis {
            let store =
                store_of(&codes).ok_or(ServeError::Setup("in-process counting needs a store"))?;
            Counting::InProcess(open_embedded_analytics(config, store).await?)
        } else if roles.api || roles.aggregator {
            let rollups = RedisAnalytics::connect(
                &config.redis.url,
                &config.redis.key_prefix,
                config.aggregator.retention_days,
            )
            .await?;
            if let Some(store) = store_of(&codes) {
                rollups.build_team_rollups_once(&store).await?;
            }
            Counting::Redis(Some(rollups))
        } else {
            Counting::Redis(None)
        };
        Ok(Topology {
            roles,
            codes,
            counting,
        })
    }

    /// The store, unless it is a Redis an edge alone has yet to reach.
    pub fn store(&self) -> Option<Store> {
        store_of(&self.codes)
    }

    /// Where scan counts are read: the embedded analytics, or the Redis rollups.
    pub fn analytics_reader(&self) -> Option<AnalyticsReader> {
        match &self.counting {
            Counting::InProcess(local) => Some(Arc::new(Arc::clone(local))),
            Counting::Redis(Some(rollups)) => Some(Arc::new(rollups.clone())),
            Counting::Redis(None) => None,
        }
    }
}

fn store_of(codes: &Codes) -> Option<Store> {
    match codes {
        Codes::Embedded(embedded) => Some(Store::from(embedded.clone())),
        Codes::Redis(redis) => Some(Store::from(redis.clone())),
        Codes::RedisLater => None,
    }
}

/// Opens the embedded analytics on a blocking thread: replaying the event log reads the teams'
/// zones from the store, waiting for it there.
async fn open_embedded_analytics(
    config: &Config,
    store: Store,
) -> Result<Arc<Analytics>, ServeError> {
    let zones = Arc::new(StoreZones::new(store));
    let (dir, retention_days) = (config.data_dir.clone(), config.event_log.retention_days);
    let opened = tokio::task::spawn_blocking(move || Analytics::open(&dir, retention_days, zones))
        .await
        .map_err(|e| AnalyticsError::Io(std::io::Error::other(e)))??;
    Ok(Arc::new(opened))
}

fn kafka(config: &Config) -> bool {
    !config.kafka.brokers.trim().is_empty()
}

/// The combinations of roles and services that cannot work, named with the setting to change.
fn refuse_unrunnable(config: &Config, roles: Roles) -> Result<(), ServeError> {
    let redis = !config.redis.url.is_empty();
    if !roles.all() && !redis {
        return Err(ServeError::Setup(
            "roles in separate processes share their state through Redis: set redis.url \
             (QREDGE_REDIS_URL), or run them all with `qredge serve`",
        ));
    }
    if roles.edge && !roles.all() && !kafka(config) {
        return Err(ServeError::Setup(
            "an edge in its own process sends scans to the aggregators through Kafka: set \
             kafka.brokers (QREDGE_KAFKA_BROKERS)",
        ));
    }
    if kafka(config) && !redis {
        return Err(ServeError::Setup(
            "scans through Kafka need Redis for the rollups: set redis.url (QREDGE_REDIS_URL)",
        ));
    }
    Ok(())
}

async fn open_codes(config: &Config, roles: Roles) -> Result<Codes, ServeError> {
    if config.redis.url.is_empty() {
        return Ok(Codes::Embedded(open_embedded_store(config)?));
    }
    match RedisStore::connect(&config.redis.url, &config.redis.key_prefix).await {
        Ok(redis) => Ok(Codes::Redis(
            redis.with_changes_kept(config.store.changes_kept),
        )),
        // An edge alone can serve from its route snapshot and connect later.
        Err(e) if roles.edge_alone() => {
            tracing::warn!(error = %e, "Redis is unreachable; starting from the route snapshot");
            Ok(Codes::RedisLater)
        }
        Err(e) => Err(e.into()),
    }
}

/// Opens the embedded store; an empty one beside what an earlier start left is refused before
/// anything else is opened (see `data_dir::LostStore`).
fn open_embedded_store(config: &Config) -> Result<EmbeddedStore, ServeError> {
    let path = config.data_dir.join(crate::store::EMBEDDED_FILE);
    let named = |source| ServeError::EmbeddedStore {
        path: path.clone(),
        source,
    };
    let embedded = EmbeddedStore::open(&config.data_dir)
        .map_err(named)?
        .with_changes_kept(config.store.changes_kept);
    if !embedded.is_set_up().map_err(named)? {
        data_dir::refuse_if_used(&config.data_dir)
            .map_err(ServeError::DataDir)?
            .map_err(|lost| ServeError::Store(lost.into()))?;
    }
    Ok(embedded)
}

/// Creates the data directory (0700), or takes the group and other bits off what an earlier
/// version left in it readable by others.
fn prepare_data_dir(config: &Config) -> Result<(), ServeError> {
    let dir = &config.data_dir;
    data_dir::create_private_dir(dir).map_err(ServeError::DataDir)?;
    let tightened = data_dir::tighten_modes(dir).map_err(ServeError::DataDir)?;
    if tightened > 0 {
        tracing::warn!(dir = %dir.display(), files = tightened, "the data directory was readable by other users: its files are now 0600 and its directories 0700");
    }
    Ok(())
}
