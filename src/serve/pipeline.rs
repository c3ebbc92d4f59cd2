//! The scan pipeline of an edge: scans queue in a sink, a worker enriches them in batches and
//! delivers them to the embedded aggregator or to Kafka; what cannot be delivered waits in the
//! spool on disk.

use std::sync::Arc;
use std::time::Duration;

use super::topology::{Counting, Topology};
use super::{Running, ServeError};
use crate::config::Config;
use crate::data_dir;
use crate::pipeline::geoip::GeoIp;
use crate::pipeline::kafka::{ensure_topic_eventually, ScanProducer};
use crate::pipeline::worker::{Delivery, Worker};
use crate::pipeline::{Enricher, ScanSink, Spool};

/// How long a start waits for the Kafka topic before serving: most starts find Kafka up.
const TOPIC_WAIT: Duration = Duration::from_secs(5);

/// Starts the worker (stopped by `running.pipeline_stop`, after the listeners) and returns the
/// sink the edge hands its scans to.
pub async fn start(
    config: &Config,
    topology: &Topology,
    geoip: Option<GeoIp>,
    running: &mut Running,
) -> Result<ScanSink, ServeError> {
    let spool = Arc::new(
        Spool::open(&config.data_dir.join(data_dir::SPOOL_DIR)).map_err(ServeError::Spool)?,
    );
    let delivery = match &topology.counting {
        Counting::InProcess(analytics) => Delivery::Embedded(Arc::clone(analytics)),
        Counting::Redis(_) => {
            let topic = ensure_topic_eventually(config.kafka.clone(), running.stop.clone());
            let _ = tokio::time::timeout(TOPIC_WAIT, tokio::spawn(topic)).await;
            Delivery::Kafka(Arc::new(ScanProducer::new(&config.kafka)?))
        }
    };
    let (sink, receiver) = ScanSink::new(config.pipeline.queue_capacity, Arc::clone(&spool));
    let depth = sink.depth_reader();
    running.samplers.push(Box::new(move || {
        metrics::gauge!("qredge_scan_queue_depth").set(depth() as f64)
    }));
    let spooled = Arc::clone(&spool);
    running.samplers.push(Box::new(move || {
        metrics::gauge!("qredge_spool_bytes").set(spooled.size_bytes() as f64)
    }));
    let worker = Worker {
        receiver,
        spool,
        enricher: Arc::new(Enricher::new(geoip)),
        delivery,
        batch_size: config.pipeline.batch_size.max(1),
        batch_wait: Duration::from_millis(config.pipeline.batch_wait_ms),
    };
    running.pipeline = Some(tokio::spawn(worker.run(running.pipeline_stop.clone())));
    Ok(sink)
}

/// The configured GeoIP databases, and the task that reloads them when their files change.
pub fn open_geoip(config: &Config, running: &mut Running) -> Result<Option<GeoIp>, ServeError> {
    let paths = config.geoip.paths()?;
    if paths.is_empty() {
        tracing::info!("no GeoIP database configured: scans carry no country or city");
        return Ok(None);
    }
    let geoip = GeoIp::open(&paths, &config.data_dir.join(data_dir::GEOIP_COPIES_DIR))?;
    match config.geoip.reload_interval_ms {
        0 => tracing::info!("GeoIP databases are not reloaded (geoip.reload_interval_ms = 0)"),
        ms => running.spawn(
            crate::pipeline::geoip::Reloader::new(geoip.clone())
                .run(Duration::from_millis(ms), running.stop.clone()),
        ),
    }
    Ok(Some(geoip))
}
