//! Running qredge's roles. `serve` runs all of them in one process; `api`, `edge` and
//! `aggregator` run one each. The topology (which roles, on which store, counted where) is
//! resolved once; each role then starts in its own file, and all stop together on SIGTERM or
//! SIGINT.

mod aggregator;
mod api;
mod edge;
mod error;
mod listen;
mod pipeline;
mod route_table;
mod test_clock;
mod topology;

use std::future::Future;
use std::io::Write;
use std::sync::Arc;

use tokio::task::JoinHandle;
use tokio_util::sync::CancellationToken;

use crate::aggregate::Analytics;
use crate::config::Config;
use crate::telemetry::{self, Sampler};

pub use error::ServeError;
pub use topology::Roles;
use topology::{Counting, Topology};

/// What the started roles left running.
pub struct Running {
    /// Stops the listeners and the background tasks.
    stop: CancellationToken,
    tasks: Vec<JoinHandle<()>>,
    /// The scan pipeline stops after the listeners, so that it delivers their last scans.
    pipeline_stop: CancellationToken,
    pipeline: Option<JoinHandle<()>>,
    /// The gauges /metrics reads when it is scraped.
    samplers: Vec<Sampler>,
    /// What the ready line says each role serves.
    ready: Vec<String>,
}

impl Running {
    fn new() -> Running {
        Running {
            stop: CancellationToken::new(),
            tasks: Vec::new(),
            pipeline_stop: CancellationToken::new(),
            pipeline: None,
            samplers: Vec::new(),
            ready: Vec::new(),
        }
    }

    fn spawn(&mut self, task: impl Future<Output = ()> + Send + 'static) {
        self.push(tokio::spawn(task));
    }

    fn push(&mut self, task: JoinHandle<()>) {
        self.tasks.push(task);
    }

    fn ready(&mut self, serving: String) {
        self.ready.push(serving);
    }

    /// Stops the listeners and tasks, then the pipeline, and waits for each.
    async fn stop(self) {
        self.stop.cancel();
        for task in self.tasks {
            let _ = task.await;
        }
        self.pipeline_stop.cancel();
        if let Some(pipeline) = self.pipeline {
            let _ = pipeline.await;
        }
    }
}

pub async fn run(config: Config, roles: Roles) -> Result<(), ServeError> {
    // Caught before the store is opened: a stop that arrives while qredge starts (an edge loading
    // millions of routes takes seconds) then waits for the start to finish and stops as any stop
    // does, closing the store. Uncaught, it would end the process with the embedded store open,
    // and the next start would first have to repair it: read and check the whole file.
    let stopping = shutdown_signal()?;
    let limits = listen::ListenerLimits::of(&config, roles)?;
    test_clock::start(&config, roles)?;
    let topology = Topology::resolve(&config, roles).await?;
    let metrics = match config.metrics.address()? {
        Some(addr) => Some((
            telemetry::install().map_err(ServeError::Metrics)?,
            listen::bind(addr).await?,
        )),
        None => None,
    };
    let mut running = Running::new();
    if let Counting::InProcess(analytics) = &topology.counting {
        event_log_samplers(analytics, &mut running.samplers);
    }
    // The edge binds first: its address is the base URL printed codes carry.
    let roles = topology.roles;
    let edge_listeners = if roles.edge {
        Some(edge::Listeners::bind(&config).await?)
    } else {
        None
    };
    let edge_addr = edge_listeners
        .as_ref()
        .map_or(config.edge.listen, edge::Listeners::addr);
    if let Some(listeners) = edge_listeners {
        edge::start(&config, &topology, listeners, limits.edge, &mut running).await?;
    }
    if roles.api {
        let listener = listen::bind(config.api.listen).await?;
        api::start(
            &config,
            &topology,
            listener,
            limits.api,
            edge_addr,
            &mut running,
        )
        .await?;
    }
    if roles.aggregator {
        aggregator::start(&config, &topology, &mut running)?;
    }
    if let Some((handle, (listener, addr))) = metrics {
        let samplers = std::mem::take(&mut running.samplers);
        running.spawn(telemetry::serve(
            listener,
            handle,
            samplers,
            running.stop.clone(),
        ));
        running.ready(format!("metrics=http://{addr}/metrics"));
    }
    serve_until_stopped(running, stopping).await;
    if let Counting::InProcess(analytics) = topology.counting {
        checkpoint(analytics).await;
    }
    tracing::info!("stopped");
    Ok(())
}

/// Says what is served (the ready line on stdout, which scripts wait for), then serves until
/// `stopping` (SIGTERM or SIGINT, perhaps received during the start) and stops.
async fn serve_until_stopped(running: Running, stopping: impl Future<Output = ()>) {
    let serving = running.ready.join(" ");
    tracing::info!(roles = serving, "qredge is serving");
    println!("qredge ready {serving}");
    let _ = std::io::stdout().flush();
    stopping.await;
    tracing::info!("stopping: open requests finish, queued scans are delivered or spooled");
    running.stop().await;
}

/// Saves where the embedded analytics stand, so that the next start replays none of the event
/// log.
async fn checkpoint(analytics: Arc<Analytics>) {
    let saved = tokio::task::spawn_blocking(move || analytics.checkpoint()).await;
    if let Ok(Err(e)) = saved {
        tracing::warn!(error = %e, "cannot write the analytics checkpoint");
    }
}

/// Gauges of what the embedded event log could not read when it was opened.
fn event_log_samplers(analytics: &Analytics, samplers: &mut Vec<Sampler>) {
    let skipped = analytics.skipped_at_open();
    samplers.push(Box::new(move || {
        metrics::gauge!("qredge_event_log_skipped_records").set(skipped.records as f64);
        metrics::gauge!("qredge_event_log_skipped_bytes").set(skipped.bytes as f64);
    }));
}

/// SIGTERM or SIGINT. The handlers are installed when this is called, not when it is first
/// awaited: a signal received in between is kept for it.
fn shutdown_signal() -> Result<impl Future<Output = ()>, ServeError> {
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
