//! The Prometheus scrape endpoint (`GET /metrics` on `metrics.listen`), off unless configured.
//!
//! Counters are recorded where things happen (`metrics::counter!`); levels that are cheaper to
//! read than to track — the scan queue's depth, the spool's size on disk — are sampled when the
//! endpoint is scraped. Without the endpoint no recorder is installed and recording costs nothing.

use std::sync::Arc;

use axum::routing::get;
use axum::Router;
use metrics_exporter_prometheus::{PrometheusBuilder, PrometheusHandle};
use tokio::net::TcpListener;
use tokio_util::sync::CancellationToken;

/// Reads a level into its gauge just before a scrape.
pub type Sampler = Box<dyn Fn() + Send + Sync>;

/// Installs the process-wide recorder. Call once, before anything is recorded.
pub fn install() -> Result<PrometheusHandle, String> {
    let handle = PrometheusBuilder::new()
        .install_recorder()
        .map_err(|e| format!("cannot install the metrics recorder: {e}"))?;
    describe();
    Ok(handle)
}

fn describe() {
    use metrics::{describe_counter, describe_gauge};
    describe_gauge!(
        "qredge_scan_queue_depth",
        "Scans waiting in memory for the pipeline worker."
    );
    describe_gauge!(
        "qredge_spool_bytes",
        "Bytes of scans waiting in the disk spool."
    );
    describe_gauge!(
        "qredge_kafka_in_flight",
        "Scans handed to Kafka, awaiting acknowledgement."
    );
    describe_counter!(
        "qredge_scans_spooled_total",
        "Scans that found the queue full and went to the spool."
    );
    describe_counter!("qredge_kafka_delivered_total", "Scans Kafka acknowledged.");
    describe_counter!(
        "qredge_kafka_delivery_errors_total",
        "Scans Kafka did not take (spooled and sent again later)."
    );
    describe_counter!(
        "qredge_scans_aggregated_total",
        "Scans the embedded pipeline counted, or Kafka took."
    );
    describe_counter!(
        "qredge_scans_lost_total",
        "Scans that could be neither delivered nor spooled (a failing disk)."
    );
    describe_counter!(
        "qredge_aggregator_events_total",
        "Events the aggregator counted (new event ids)."
    );
    describe_counter!(
        "qredge_aggregator_malformed_total",
        "Topic messages that were not scan events."
    );
}

/// Serves `GET /metrics` until `stop` is cancelled.
pub async fn serve(
    listener: TcpListener,
    handle: PrometheusHandle,
    samplers: Vec<Sampler>,
    stop: CancellationToken,
) {
    let samplers = Arc::new(samplers);
    let app = Router::new().route(
        "/metrics",
        get(move || {
            let samplers = Arc::clone(&samplers);
            let handle = handle.clone();
            async move {
                samplers.iter().for_each(|sample| sample());
                handle.render()
            }
        }),
    );
    let served = axum::serve(listener, app)
        .with_graceful_shutdown(stop.cancelled_owned())
        .await;
    if let Err(e) = served {
        tracing::error!(error = %e, "the metrics endpoint failed");
    }
}
