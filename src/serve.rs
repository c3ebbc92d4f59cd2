//! Running qredge's roles. `serve` runs all of them in one process; `api`, `edge` and
//! `aggregator` run one each. With no configuration everything is embedded (a local store, an
//! in-process scan pipeline); a Redis URL moves the store to Redis, and Kafka brokers send scans
//! through Kafka to the aggregators, which keep the rollups in Redis.

use std::io::Write;
use std::net::SocketAddr;
use std::sync::Arc;

use tokio::net::TcpListener;
use tokio::task::JoinHandle;
use tokio_util::sync::CancellationToken;

use crate::aggregate::consumer::{Aggregator, ConsumerError};
use crate::aggregate::redis::{RedisAnalytics, RedisAnalyticsError};
use crate::aggregate::{Analytics, AnalyticsError, AnalyticsReader, StoreZones};
use crate::api::{self, AppState};
use crate::config::{public_base_url, Config, ConfigError};
use crate::data_dir;
use crate::edge::client_ip::ClientIp;
use crate::edge::handler::EdgeState;
use crate::edge::limits::ScanLimits;
use crate::edge::snapshot::{self, Snapshots};
use crate::edge::sync_redis::Position;
use crate::edge::tls::{self, Certificates, TlsError};
use crate::edge::visitor::VisitorLookups;
use crate::edge::{server, sync, sync_redis, RouteTable};
use crate::ids::EventIds;
use crate::listener::{self, Limits};
use crate::model::validate::domain_of;
use crate::pipeline::geoip::{GeoIp, GeoIpError, Reloader};
use crate::pipeline::kafka::{ensure_topic_eventually, KafkaError, ScanProducer};
use crate::pipeline::worker::{Delivery, Worker};
use crate::pipeline::{Enricher, ScanSink, Spool};
use crate::store::redis::RedisStore;
use crate::store::{Bootstrap, EmbeddedStore, Store, StoreError};
use crate::telemetry::{self, Sampler};

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
}

#[derive(Debug, thiserror::Error)]
pub enum ServeError {
    #[error(transparent)]
    Store(#[from] StoreError),
    #[error(transparent)]
    Analytics(#[from] AnalyticsError),
    #[error("cannot reach Redis for the analytics: {0}")]
    RedisAnalytics(#[from] RedisAnalyticsError),
    #[error(transparent)]
    GeoIp(#[from] GeoIpError),
    #[error("Kafka: {0}")]
    Kafka(#[from] KafkaError),
    #[error(transparent)]
    Consumer(#[from] ConsumerError),
    #[error("cannot listen on {addr}: {source}")]
    Bind {
        addr: SocketAddr,
        source: std::io::Error,
    },
    #[error("Redis is unreachable and the route snapshot {path} cannot be read: {source}")]
    Snapshot {
        path: std::path::PathBuf,
        source: std::io::Error,
    },
    #[error("cannot listen for stop signals: {0}")]
    Signal(std::io::Error),
    #[error("cannot open the scan spool: {0}")]
    Spool(std::io::Error),
    #[error("the data directory: {0}")]
    DataDir(std::io::Error),
    #[error("the embedded store {}: {source}", .path.display())]
    EmbeddedStore {
        path: std::path::PathBuf,
        source: StoreError,
    },
    #[error(transparent)]
    Config(#[from] ConfigError),
    #[error(transparent)]
    Tls(#[from] TlsError),
    #[error("{0}")]
    Metrics(String),
    #[error("{0}")]
    Setup(&'static str),
    #[error(transparent)]
    TestClock(#[from] crate::clock::TestClockError),
}

/// Moves this process's clock when the test clock is asked for (tests only: refused unless every
/// listener of `roles` is on loopback), with a warning.
fn start_test_clock(config: &Config, roles: Roles) -> Result<(), ServeError> {
    let mut listens = Vec::new();
    if roles.edge {
        listens.push(config.edge.listen);
        listens.extend(config.edge.tls.address()?);
    }
    if roles.api {
        listens.push(config.api.listen);
    }
    listens.extend(config.metrics.address()?);
    let asked = std::env::var(crate::clock::TEST_CLOCK_ENV).ok();
    if let Some(start) = crate::clock::start_test_clock(asked, &listens)? {
        tracing::warn!(
            start_ms = start,
            "the test clock is on: this process's now started at {start} (tests only)"
        );
    }
    Ok(())
}

async fn bind(addr: SocketAddr) -> Result<(TcpListener, SocketAddr), ServeError> {
    let listener = TcpListener::bind(addr)
        .await
        .map_err(|source| ServeError::Bind { addr, source })?;
    let bound = listener
        .local_addr()
        .map_err(|source| ServeError::Bind { addr, source })?;
    Ok((listener, bound))
}

/// The backends chosen by the configuration, opened once and shared by the roles.
struct Backends {
    /// None only for an edge alone whose Redis was unreachable at start.
    store: Option<Store>,
    embedded: Option<EmbeddedStore>,
    redis: Option<RedisStore>,
    /// The embedded aggregator (no Kafka), or None when scans go through Kafka.
    local_analytics: Option<Arc<Analytics>>,
    /// The rollups in Redis, for an API or an aggregator of the production topology.
    redis_analytics: Option<RedisAnalytics>,
}

impl Backends {
    /// Where scan counts are read: the embedded analytics, or the Redis rollups.
    fn analytics_reader(&self) -> Option<AnalyticsReader> {
        match (&self.local_analytics, &self.redis_analytics) {
            (Some(local), _) => Some(Arc::new(Arc::clone(local))),
            (None, Some(redis)) => Some(Arc::new(redis.clone())),
            (None, None) => None,
        }
    }
}

async fn open_backends(config: &Config, roles: Roles) -> Result<Backends, ServeError> {
    let kafka = !config.kafka.brokers.trim().is_empty();
    let separate = !(roles.api && roles.edge && roles.aggregator);
    let edge_alone = roles.edge && !roles.api && !roles.aggregator;
    if kafka && config.redis.url.is_empty() {
        return Err(ServeError::Setup(
            "scans through Kafka need Redis for the rollups: set redis.url (QREDGE_REDIS_URL)",
        ));
    }
    let redis = if config.redis.url.is_empty() {
        None
    } else {
        match RedisStore::connect(&config.redis.url, &config.redis.key_prefix).await {
            Ok(redis) => Some(redis),
            // An edge alone can serve from its route snapshot and connect later.
            Err(e) if edge_alone => {
                tracing::warn!(error = %e, "Redis is unreachable; starting from the route snapshot");
                None
            }
            Err(e) => return Err(e.into()),
        }
    };
    let (store, embedded) = match &redis {
        Some(redis) => (Some(Store::Redis(redis.clone())), None),
        None if edge_alone => (None, None),
        None => {
            let embedded = open_embedded_store(config)?;
            (Some(Store::Embedded(embedded.clone())), Some(embedded))
        }
    };
    // Rollups live in Redis when scans go through Kafka, and whenever the roles run apart: an API
    // of its own reads what the aggregators wrote. An edge alone only produces to Kafka.
    let in_redis = kafka || separate;
    let redis_analytics = if in_redis && (roles.api || roles.aggregator) {
        let analytics = RedisAnalytics::connect(
            &config.redis.url,
            &config.redis.key_prefix,
            config.aggregator.retention_days,
        )
        .await?;
        Some(analytics)
    } else {
        None
    };
    let local_analytics = match &store {
        Some(store) if !in_redis => Some(open_embedded_analytics(config, store).await?),
        _ => None,
    };
    Ok(Backends {
        store,
        embedded,
        redis,
        local_analytics,
        redis_analytics,
    })
}

/// Opens the embedded analytics on a blocking thread: replaying the event log reads the teams'
/// zones from the store, waiting for it there.
async fn open_embedded_analytics(
    config: &Config,
    store: &Store,
) -> Result<Arc<Analytics>, ServeError> {
    let zones = Arc::new(StoreZones::new(store.clone()));
    let (dir, retention_days) = (config.data_dir.clone(), config.event_log.retention_days);
    let opened = tokio::task::spawn_blocking(move || Analytics::open(&dir, retention_days, zones))
        .await
        .map_err(|e| AnalyticsError::Io(std::io::Error::other(e)))??;
    Ok(Arc::new(opened))
}

/// Opens the embedded store; an empty one beside what an earlier start left is refused before
/// anything else is opened (see `data_dir::LostStore`).
fn open_embedded_store(config: &Config) -> Result<EmbeddedStore, ServeError> {
    let path = config.data_dir.join(crate::store::EMBEDDED_FILE);
    let named = |source| ServeError::EmbeddedStore {
        path: path.clone(),
        source,
    };
    let embedded = EmbeddedStore::open(&config.data_dir).map_err(named)?;
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

/// Gauges of what the embedded event log could not read when it was opened.
fn event_log_samplers(analytics: &Analytics, samplers: &mut Vec<Sampler>) {
    let skipped = analytics.skipped_at_open();
    samplers.push(Box::new(move || {
        metrics::gauge!("qredge_event_log_skipped_records").set(skipped.records as f64);
        metrics::gauge!("qredge_event_log_skipped_bytes").set(skipped.bytes as f64);
    }));
}

pub async fn run(config: Config, roles: Roles) -> Result<(), ServeError> {
    let all = roles.api && roles.edge && roles.aggregator;
    if !all && config.redis.url.is_empty() {
        return Err(ServeError::Setup(
            "roles in separate processes share their state through Redis: set redis.url \
             (QREDGE_REDIS_URL), or run them all with `qredge serve`",
        ));
    }
    if roles.edge && !all && config.kafka.brokers.trim().is_empty() {
        return Err(ServeError::Setup(
            "an edge in its own process sends scans to the aggregators through Kafka: set \
             kafka.brokers (QREDGE_KAFKA_BROKERS)",
        ));
    }
    start_test_clock(&config, roles)?;
    prepare_data_dir(&config)?;
    let (edge_limits, api_limits) = listener_limits(&config, roles)?;
    let backends = open_backends(&config, roles).await?;
    let metrics = match config.metrics.address()? {
        Some(addr) => Some((
            telemetry::install().map_err(ServeError::Metrics)?,
            bind(addr).await?,
        )),
        None => None,
    };
    let mut samplers: Vec<Sampler> = Vec::new();
    if let Some(analytics) = &backends.local_analytics {
        event_log_samplers(analytics, &mut samplers);
    }
    let stop = CancellationToken::new();
    let pipeline_stop = CancellationToken::new();
    let mut servers: Vec<JoinHandle<()>> = Vec::new();
    let mut pipeline = None;
    let mut ready = String::from("qredge ready");

    // The edge first: its bound address is the public base URL printed codes carry. Its
    // certificates before anything listens: a bad one stops the start with the file named.
    let edge_tls = match config.edge.tls.address()? {
        Some(addr) if roles.edge => Some((open_certificates(&config).await?, addr)),
        _ => None,
    };
    let edge = if roles.edge {
        Some(bind(config.edge.listen).await?)
    } else {
        None
    };
    let edge_tls = match edge_tls {
        Some((certificates, addr)) => Some((certificates, bind(addr).await?)),
        None => None,
    };
    let edge_addr = edge.as_ref().map_or(config.edge.listen, |(_, a)| *a);
    let edge_base_url = public_base_url(&config.edge.public_url, edge_addr);

    if let Some((listener, addr)) = edge {
        let (table, follow) = edge_table(&backends, &config, stop.clone()).await?;
        servers.push(follow);
        let spool = Arc::new(
            Spool::open(&config.data_dir.join(data_dir::SPOOL_DIR)).map_err(ServeError::Spool)?,
        );
        let geoip = open_geoip(&config, stop.clone(), &mut servers)?;
        let delivery = match &backends.local_analytics {
            Some(analytics) => Delivery::Embedded(Arc::clone(analytics)),
            None => {
                // Most starts find Kafka up: give the topic a moment before serving.
                let topic =
                    tokio::spawn(ensure_topic_eventually(config.kafka.clone(), stop.clone()));
                let _ = tokio::time::timeout(std::time::Duration::from_secs(5), topic).await;
                Delivery::Kafka(Arc::new(ScanProducer::new(&config.kafka)?))
            }
        };
        let (sink, receiver) = ScanSink::new(config.pipeline.queue_capacity, Arc::clone(&spool));
        let depth = sink.depth_reader();
        samplers.push(Box::new(move || {
            metrics::gauge!("qredge_scan_queue_depth").set(depth() as f64)
        }));
        let served = Arc::clone(&table);
        samplers.push(Box::new(move || {
            let table = served.load();
            metrics::gauge!("qredge_edge_routes").set(table.len() as f64);
            metrics::gauge!("qredge_edge_table_generation").set(table.generation() as f64);
        }));
        let spooled = Arc::clone(&spool);
        samplers.push(Box::new(move || {
            metrics::gauge!("qredge_spool_bytes").set(spooled.size_bytes() as f64)
        }));
        let limits = Arc::new(ScanLimits::default());
        let limits_task = match backends.analytics_reader() {
            Some(reader) => {
                tokio::spawn(Arc::clone(&limits).refresh(reader, Arc::clone(&table), stop.clone()))
            }
            // An edge on its own reads the other edges' scans from the Redis rollups, connecting
            // in the background (it may have started while Redis was away).
            None => tokio::spawn(Arc::clone(&limits).refresh_from_redis(
                config.redis.clone(),
                config.aggregator.retention_days,
                Arc::clone(&table),
                stop.clone(),
            )),
        };
        servers.push(limits_task);
        let worker = Worker {
            receiver,
            spool,
            enricher: Arc::new(Enricher::new(geoip.clone())),
            delivery,
            batch_size: config.pipeline.batch_size.max(1),
            batch_wait: std::time::Duration::from_millis(config.pipeline.batch_wait_ms),
        };
        pipeline = Some(tokio::spawn(worker.run(pipeline_stop.clone())));
        let state = Arc::new(EdgeState {
            table,
            sink,
            event_ids: EventIds::new(),
            client_ip: ClientIp::new(config.edge.trusted_proxies.clone())
                .anonymized(config.edge.anonymize_ip),
            metrics: Default::default(),
            visitors: VisitorLookups::new(geoip),
            limits,
            password_attempts: Default::default(),
            body_read_timeout: edge_limits.body_read_timeout,
            orphan_limits: config.edge.orphan_limits(),
        });
        // One pool of slots for the plain and the TLS listener.
        let edge_slots = edge_limits.slots();
        servers.push(tokio::spawn(server::serve(
            listener,
            Arc::clone(&state),
            edge_limits,
            Arc::clone(&edge_slots),
            stop.clone(),
        )));
        ready.push_str(&format!(" edge=http://{addr}/"));
        if let Some((certificates, (tls_listener, tls_addr))) = edge_tls {
            let acceptor = tokio_rustls::TlsAcceptor::from(tls::server_config(
                tls::provider(),
                certificates.resolver(),
            )?);
            match config.edge.tls.reload_interval_ms {
                0 => tracing::info!(
                    "TLS certificates are not reloaded (edge.tls.reload_interval_ms = 0)"
                ),
                ms => servers.push(tokio::spawn(
                    certificates.run(std::time::Duration::from_millis(ms), stop.clone()),
                )),
            }
            servers.push(tokio::spawn(server::serve_tls(
                tls_listener,
                state,
                edge_limits,
                config.edge.tls.clone(),
                edge_slots,
                acceptor,
                stop.clone(),
            )));
            ready.push_str(&format!(" edge_tls=https://{tls_addr}/"));
        }
    }

    if roles.api {
        let (listener, addr) = bind(config.api.listen).await?;
        let default_domain = url::Url::parse(&edge_base_url)
            .map(|u| domain_of(&u))
            .unwrap_or_else(|_| format!("localhost:{}", edge_addr.port()));
        let store = backends.store.clone().expect("the API's store is open");
        if let Some(bootstrap) = store
            .bootstrap_if_empty(&config.data_dir, &default_domain)
            .await?
        {
            print_bootstrap(&bootstrap, &config.data_dir);
        }
        let api_base_url = public_base_url(&config.api.public_url, addr);
        let platform = crate::model::PlatformHosts::of(&edge_base_url, &api_base_url);
        store
            .release_platform_claims(&platform, &default_domain)
            .await?;
        let analytics = backends
            .analytics_reader()
            .expect("the API's analytics are open");
        let public_images = Arc::new(api::PublicImages::new(
            store.image_url_secret().await?,
            &config.api,
        ));
        let state = AppState {
            store,
            analytics,
            edge_base_url: edge_base_url.as_str().into(),
            api_base_url: api_base_url.as_str().into(),
            requests_per_minute: Arc::new(config.api.requests_per_minute.clone()),
            codes_per_team: Arc::new(config.api.codes_per_team.clone()),
            teams_per_org: Arc::new(config.api.teams_per_org.clone()),
            public_images,
        };
        let app = api::router(state, config.api.max_body_bytes);
        servers.push(tokio::spawn(listener::serve_router(
            listener,
            app,
            api_limits,
            api_limits.slots(),
            stop.clone(),
            api_body_timed_out,
        )));
        ready.push_str(&format!(" api=http://{addr}/"));
    }

    if roles.aggregator {
        if let (Some(analytics), Some(store)) = (&backends.redis_analytics, &backends.redis) {
            let aggregator = Aggregator::new(
                &config.kafka,
                &config.aggregator,
                analytics.clone(),
                store.clone(),
            )?;
            servers.push(tokio::spawn(aggregator.run(stop.clone())));
            ready.push_str(" aggregator=kafka");
        } else if !(roles.edge && roles.api) {
            return Err(ServeError::Setup(
                "the aggregator role consumes Kafka: set kafka.brokers and redis.url",
            ));
        }
        // Embedded: the edge's pipeline worker is the aggregator.
    }

    if let Some((handle, (listener, addr))) = metrics {
        servers.push(tokio::spawn(telemetry::serve(
            listener,
            handle,
            samplers,
            stop.clone(),
        )));
        ready.push_str(&format!(" metrics=http://{addr}/metrics"));
    }

    tracing::info!(
        roles = ready.trim_start_matches("qredge ready "),
        "qredge is serving"
    );
    let stopping = shutdown_signal()?;
    println!("{ready}");
    let _ = std::io::stdout().flush();

    stopping.await;
    tracing::info!("stopping: open requests finish, queued scans are delivered or spooled");
    stop.cancel();
    for server in servers {
        let _ = server.await;
    }
    pipeline_stop.cancel();
    if let Some(pipeline) = pipeline {
        let _ = pipeline.await;
    }
    if let Some(analytics) = backends.local_analytics {
        // The next start then replays none of the event log.
        let saved = tokio::task::spawn_blocking(move || analytics.checkpoint()).await;
        if let Ok(Err(e)) = saved {
            tracing::warn!(error = %e, "cannot write the analytics checkpoint");
        }
    }
    tracing::info!("stopped");
    Ok(())
}

/// The limits of this process's listeners (`[edge]`, `[api]`), their connection caps fitted
/// under the open files limit, which is raised to its hard limit first.
fn listener_limits(config: &Config, roles: Roles) -> Result<(Limits, Limits), ServeError> {
    let (mut edge, mut api) = (config.edge.limits()?, config.api.limits()?);
    let open_files = listener::raise_open_files_limit();
    let mut caps: Vec<(&str, &mut usize)> = Vec::new();
    if roles.edge {
        caps.push(("edge.max_connections", &mut edge.max_connections));
    }
    if roles.api {
        caps.push(("api.max_connections", &mut api.max_connections));
    }
    listener::fit_connection_caps(open_files, &mut caps);
    Ok((edge, api))
}

/// The API's answer to a request whose body did not arrive within `api.body_read_timeout_ms`.
fn api_body_timed_out(timeout: std::time::Duration) -> axum::response::Response {
    use axum::response::IntoResponse;
    let message = format!(
        "the request body did not arrive within {} ms",
        timeout.as_millis()
    );
    api::ApiError::new(axum::http::StatusCode::REQUEST_TIMEOUT, message).into_response()
}

/// The edge's TLS certificates, loaded off the runtime (they are files).
async fn open_certificates(config: &Config) -> Result<Certificates, ServeError> {
    let tls_config = config.edge.tls.clone();
    tokio::task::spawn_blocking(move || Certificates::open(&tls_config, tls::provider()))
        .await
        .map_err(|_| ServeError::Setup("loading the TLS certificates failed"))?
        .map_err(ServeError::from)
}

/// The configured GeoIP databases, and the task that reloads them when their files change.
fn open_geoip(
    config: &Config,
    stop: CancellationToken,
    tasks: &mut Vec<JoinHandle<()>>,
) -> Result<Option<GeoIp>, ServeError> {
    let paths = config.geoip.paths()?;
    if paths.is_empty() {
        tracing::info!("no GeoIP database configured: scans carry no country or city");
        return Ok(None);
    }
    let geoip = GeoIp::open(&paths, &config.data_dir.join(data_dir::GEOIP_COPIES_DIR))?;
    match config.geoip.reload_interval_ms {
        0 => tracing::info!("GeoIP databases are not reloaded (geoip.reload_interval_ms = 0)"),
        ms => tasks.push(tokio::spawn(
            Reloader::new(geoip.clone()).run(std::time::Duration::from_millis(ms), stop),
        )),
    }
    Ok(Some(geoip))
}

/// The edge's route table, kept current by a follower task of the store in use.
async fn edge_table(
    backends: &Backends,
    config: &Config,
    stop: CancellationToken,
) -> Result<(Arc<arc_swap::ArcSwap<RouteTable>>, JoinHandle<()>), ServeError> {
    if let Some(embedded) = &backends.embedded {
        let (table, changes, teams) =
            sync::initial_table(embedded)
                .await
                .map_err(|source| ServeError::EmbeddedStore {
                    path: config.data_dir.join(crate::store::EMBEDDED_FILE),
                    source,
                })?;
        let follow = tokio::spawn(sync::follow_changes(
            embedded.clone(),
            Arc::clone(&table),
            changes,
            teams,
            stop,
        ));
        return Ok((table, follow));
    }
    let snapshots = Snapshots::new(&config.data_dir);
    let Some(redis) = backends.redis.clone() else {
        // Redis unreachable at start: serve the local snapshot, connect in the background.
        let (table, after) =
            snapshot::load(snapshots.path()).map_err(|e| ServeError::Snapshot {
                path: snapshots.path().to_owned(),
                source: e,
            })?;
        tracing::warn!(routes = table.len(), %after, "serving the route snapshot until Redis answers");
        let table = Arc::new(arc_swap::ArcSwap::from_pointee(table));
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
        return Ok((table, follow));
    };
    let (table, after) = sync_redis::load_table(&redis).await?;
    tracing::info!(routes = table.len(), "route table loaded from Redis");
    let table = Arc::new(arc_swap::ArcSwap::from_pointee(table));
    let position = Position {
        after,
        from_snapshot: false,
    };
    let follow = tokio::spawn(sync_redis::follow_changes(
        redis,
        Arc::clone(&table),
        position,
        snapshots,
        stop,
    ));
    Ok((table, follow))
}

fn print_bootstrap(bootstrap: &Bootstrap, data_dir: &std::path::Path) {
    println!(
        "qredge: first start: created an organization, a team and an owner credential.\n\
         The secret is shown only now; it is also in {} (mode 0600).\n  \
         orgId:        {}\n  teamId:       {}\n  clientId:     {}\n  clientSecret: {}",
        data_dir.join("bootstrap.json").display(),
        bootstrap.org_id,
        bootstrap.team_id,
        bootstrap.client_id,
        bootstrap.client_secret,
    );
}

/// SIGTERM or SIGINT. The handlers are installed when this is called, not when it is first
/// awaited: called before the ready line, so a stop sent right after it is not fatal.
fn shutdown_signal() -> Result<impl std::future::Future<Output = ()>, ServeError> {
    use tokio::signal::unix::{signal, SignalKind};
    let mut term = signal(SignalKind::terminate()).map_err(ServeError::Signal)?;
    let mut interrupt = signal(SignalKind::interrupt()).map_err(ServeError::Signal)?;
    Ok(async move {
        tokio::select! {
            _ = term.recv() => {}
            _ = interrupt.recv() => {}
        }
    })
}
