//! `qredge serve`: every role in one process on the embedded defaults — the store, the edge,
//! the in-process scan pipeline and the aggregator — with an orderly stop that loses no scan.

use std::io::Write;
use std::net::SocketAddr;
use std::sync::Arc;

use tokio::net::TcpListener;
use tokio_util::sync::CancellationToken;

use crate::aggregate::{Analytics, AnalyticsError};
use crate::api::{self, AppState};
use crate::config::{public_base_url, Config};
use crate::edge::handler::EdgeState;
use crate::edge::{server, sync};
use crate::ids::EventIds;
use crate::model::validate::domain_of;
use crate::pipeline::geoip::{GeoIp, GeoIpError};
use crate::pipeline::worker::{Delivery, Worker};
use crate::pipeline::{Enricher, ScanSink, Spool};
use crate::store::{Bootstrap, EmbeddedStore, Store, StoreError};

#[derive(Debug, thiserror::Error)]
pub enum ServeError {
    #[error(transparent)]
    Store(#[from] StoreError),
    #[error(transparent)]
    Analytics(#[from] AnalyticsError),
    #[error(transparent)]
    GeoIp(#[from] GeoIpError),
    #[error("cannot listen on {addr}: {source}")]
    Bind {
        addr: SocketAddr,
        source: std::io::Error,
    },
    #[error("cannot open the scan spool: {0}")]
    Spool(std::io::Error),
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

pub async fn run(config: Config) -> Result<(), ServeError> {
    let data_dir = config.data_dir.clone();
    let embedded = EmbeddedStore::open(&data_dir)?;
    let store = Store::Embedded(embedded.clone());
    let analytics = Arc::new(Analytics::open(&data_dir)?);
    let spool = Arc::new(Spool::open(&data_dir.join("spool")).map_err(ServeError::Spool)?);
    let geoip = config
        .geoip
        .database
        .as_deref()
        .map(GeoIp::open)
        .transpose()?;
    if geoip.is_none() {
        tracing::info!("no GeoIP database configured: scans carry no country or city");
    }

    let (edge_listener, edge_addr) = bind(config.edge.listen).await?;
    let (api_listener, api_addr) = bind(config.api.listen).await?;
    let edge_base_url = public_base_url(&config.edge.public_url, edge_addr);
    let api_base_url = public_base_url(&config.api.public_url, api_addr);
    let default_domain = url::Url::parse(&edge_base_url)
        .map(|u| domain_of(&u))
        .unwrap_or_else(|_| format!("localhost:{}", edge_addr.port()));
    if let Some(bootstrap) = store.bootstrap_if_empty(&data_dir, &default_domain).await? {
        print_bootstrap(&bootstrap, &data_dir);
    }

    // Pipeline: the edge's sink feeds the worker, which enriches and aggregates.
    let (sink, receiver) = ScanSink::new(config.pipeline.queue_capacity, Arc::clone(&spool));
    let worker = Worker {
        receiver,
        spool,
        enricher: Arc::new(Enricher::new(geoip)),
        delivery: Delivery::Embedded(Arc::clone(&analytics)),
        batch_size: config.pipeline.batch_size.max(1),
    };
    let pipeline_stop = CancellationToken::new();
    let pipeline = tokio::spawn(worker.run(pipeline_stop.clone()));

    // Edge: the route table, kept in step with the store, and the server.
    let stop = CancellationToken::new();
    let (table, changes) = sync::initial_table(&embedded).await?;
    tokio::spawn(sync::follow_changes(
        embedded,
        Arc::clone(&table),
        changes,
        stop.clone(),
    ));
    let edge_state = Arc::new(EdgeState {
        table,
        sink,
        event_ids: EventIds::new(),
    });
    let edge = tokio::spawn(server::serve(
        edge_listener,
        edge_state,
        config.edge.clone(),
        stop.clone(),
    ));

    // API.
    let state = AppState {
        store,
        analytics,
        edge_base_url: edge_base_url.as_str().into(),
        api_base_url: api_base_url.as_str().into(),
    };
    let app = api::router(state, config.api.max_body_bytes);
    let api_stop = stop.clone();
    let api = tokio::spawn(async move {
        let served = axum::serve(api_listener, app)
            .with_graceful_shutdown(api_stop.cancelled_owned())
            .await;
        if let Err(e) = served {
            tracing::error!(error = %e, "the API server failed");
        }
    });

    tracing::info!(%edge_addr, %api_addr, %edge_base_url, "qredge is serving");
    println!("qredge ready edge=http://{edge_addr}/ api=http://{api_addr}/");
    let _ = std::io::stdout().flush();

    shutdown_signal().await;
    tracing::info!("stopping: finishing requests, then delivering queued scans");
    stop.cancel();
    let _ = edge.await;
    let _ = api.await;
    pipeline_stop.cancel();
    let _ = pipeline.await;
    tracing::info!("stopped");
    Ok(())
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

async fn shutdown_signal() {
    let ctrl_c = tokio::signal::ctrl_c();
    #[cfg(unix)]
    {
        use tokio::signal::unix::{signal, SignalKind};
        match signal(SignalKind::terminate()) {
            Ok(mut term) => {
                tokio::select! {
                    _ = ctrl_c => {}
                    _ = term.recv() => {}
                }
            }
            Err(_) => {
                let _ = ctrl_c.await;
            }
        }
    }
    #[cfg(not(unix))]
    let _ = ctrl_c.await;
}
