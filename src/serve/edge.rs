//! The edge role: its listeners (plain HTTP, and HTTPS when configured), its route table, the
//! scan pipeline it feeds and the scan limits it enforces.

use std::net::SocketAddr;
use std::sync::Arc;
use std::time::Duration;

use tokio::net::TcpListener;

use super::listen::bind;
use super::route_table::{self, Table};
use super::topology::Topology;
use super::{pipeline, Running, ServeError};
use crate::config::Config;
use crate::edge::client_ip::ClientIp;
use crate::edge::handler::EdgeState;
use crate::edge::limits::ScanLimits;
use crate::edge::server;
use crate::edge::tls::{self, Certificates};
use crate::edge::visitor::VisitorLookups;
use crate::ids::EventIds;
use crate::listener::Limits;

/// The edge's listeners, bound before any role starts: the plain one's address is the base URL
/// printed codes carry.
pub struct Listeners {
    plain: (TcpListener, SocketAddr),
    tls: Option<(Certificates, TcpListener, SocketAddr)>,
}

impl Listeners {
    /// The certificates are read before anything listens: a bad one stops the start with the
    /// file named.
    pub async fn bind(config: &Config) -> Result<Listeners, ServeError> {
        let certificates = match config.edge.tls.address()? {
            Some(addr) => Some((open_certificates(config).await?, addr)),
            None => None,
        };
        let plain = bind(config.edge.listen).await?;
        let tls = match certificates {
            Some((certificates, addr)) => {
                let (listener, bound) = bind(addr).await?;
                Some((certificates, listener, bound))
            }
            None => None,
        };
        Ok(Listeners { plain, tls })
    }

    pub fn addr(&self) -> SocketAddr {
        self.plain.1
    }
}

/// Starts the edge on its bound listeners, with its route table and scan pipeline.
pub async fn start(
    config: &Config,
    topology: &Topology,
    listeners: Listeners,
    limits: Limits,
    running: &mut Running,
) -> Result<(), ServeError> {
    let (table, follow) = route_table::open(topology, config, running.stop.clone()).await?;
    running.push(follow);
    let geoip = pipeline::open_geoip(config, running)?;
    let sink = pipeline::start(config, topology, geoip.clone(), running).await?;
    let table_gauges = Arc::clone(&table);
    running.samplers.push(Box::new(move || {
        let table = table_gauges.load();
        metrics::gauge!("qredge_edge_routes").set(table.len() as f64);
        metrics::gauge!("qredge_edge_table_generation").set(table.generation() as f64);
    }));
    let state = Arc::new(EdgeState {
        limits: scan_limits(config, topology, &table, running),
        table,
        sink,
        event_ids: EventIds::new(),
        client_ip: ClientIp::new(config.edge.trusted_proxies.clone())
            .anonymized(config.edge.anonymize_ip),
        metrics: Default::default(),
        visitors: VisitorLookups::new(geoip),
        password_attempts: Default::default(),
        body_read_timeout: limits.body_read_timeout,
        orphan_limits: config.edge.orphan_limits(),
    });
    serve(config, listeners, state, limits, running)
}

/// The scan counts of the codes with `maxScans`, kept current by a task: read from where this
/// process's scans are counted, or by an edge alone from the Redis rollups, connecting in the
/// background (it may have started while Redis was away).
fn scan_limits(
    config: &Config,
    topology: &Topology,
    table: &Table,
    running: &mut Running,
) -> Arc<ScanLimits> {
    let limits = Arc::new(ScanLimits::default());
    let refresh = Arc::clone(&limits);
    let (table, stop) = (Arc::clone(table), running.stop.clone());
    match topology.analytics_reader() {
        Some(reader) => running.spawn(refresh.refresh(reader, table, stop)),
        None => running.spawn(refresh.refresh_from_redis(
            config.redis.clone(),
            config.aggregator.retention_days,
            table,
            stop,
        )),
    }
    limits
}

/// Serves the plain listener and the TLS one, which share one pool of connection slots.
fn serve(
    config: &Config,
    listeners: Listeners,
    state: Arc<EdgeState>,
    limits: Limits,
    running: &mut Running,
) -> Result<(), ServeError> {
    let slots = limits.slots();
    let (listener, addr) = listeners.plain;
    let stop = running.stop.clone();
    let plain = server::serve(
        listener,
        Arc::clone(&state),
        limits,
        Arc::clone(&slots),
        stop,
    );
    running.spawn(plain);
    running.ready(format!("edge=http://{addr}/"));
    let Some((certificates, listener, addr)) = listeners.tls else {
        return Ok(());
    };
    let acceptor = tokio_rustls::TlsAcceptor::from(tls::server_config(
        tls::provider(),
        certificates.resolver(),
    )?);
    match config.edge.tls.reload_interval_ms {
        0 => tracing::info!("TLS certificates are not reloaded (edge.tls.reload_interval_ms = 0)"),
        ms => running.spawn(certificates.run(Duration::from_millis(ms), running.stop.clone())),
    }
    let tls_config = config.edge.tls.clone();
    let stop = running.stop.clone();
    let secure = server::serve_tls(listener, state, limits, tls_config, slots, acceptor, stop);
    running.spawn(secure);
    running.ready(format!("edge_tls=https://{addr}/"));
    Ok(())
}

/// The edge's TLS certificates, loaded off the runtime (they are files).
async fn open_certificates(config: &Config) -> Result<Certificates, ServeError> {
    let tls_config = config.edge.tls.clone();
    tokio::task::spawn_blocking(move || Certificates::open(&tls_config, tls::provider()))
        .await
        .map_err(|_| ServeError::Setup("loading the TLS certificates failed"))?
        .map_err(ServeError::from)
}
