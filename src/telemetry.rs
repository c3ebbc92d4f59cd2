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

use crate::listener::{serve_router, Limits};

/// Reads a level into its gauge just before a scrape.
pub type Sampler = Box<dyn Fn() + Send + Sync>;

/// Installs the process-wide recorder. Call once, before anything is recorded.
pub fn install() -> Result<PrometheusHandle, String> {
    let handle = PrometheusBuilder::new()
        // Response building takes microseconds: buckets from 1 µs to 10 ms.
        .set_buckets_for_metric(
            metrics_exporter_prometheus::Matcher::Full("qredge_edge_response_seconds".into()),
            &[1e-6, 2.5e-6, 5e-6, 1e-5, 2.5e-5, 5e-5, 1e-4, 1e-3, 1e-2],
        )
        .map_err(|e| format!("invalid metric buckets: {e}"))?
        .install_recorder()
        .map_err(|e| format!("cannot install the metrics recorder: {e}"))?;
    describe();
    Ok(handle)
}

/// Levels, sampled at each scrape or set as they change.
const GAUGES: &[(&str, &str)] = &[
    (
        "qredge_scan_queue_depth",
        "Scans waiting in memory for the pipeline worker.",
    ),
    (
        "qredge_spool_bytes",
        "Bytes of scans waiting in the disk spool.",
    ),
    (
        "qredge_kafka_in_flight",
        "Scans handed to Kafka, awaiting acknowledgement.",
    ),
    ("qredge_edge_routes", "Codes in the edge's route table."),
    (
        "qredge_edge_table_generation",
        "Changes applied to the edge's route table.",
    ),
    (
        "qredge_aggregator_partitions",
        "Partitions of the scans topic this aggregator holds.",
    ),
];

const COUNTERS: &[(&str, &str)] = &[
    (
        "qredge_edge_requests_total",
        "Edge answers by outcome: redirect, not_found, expired, refused, health.",
    ),
    (
        "qredge_edge_orphan_scans_total",
        "Scans of unknown codes on custom domains: recorded (within edge.orphans_per_second), \
         sampled (one in edge.orphans_sample_one_in beyond it), unrecorded (only counted here).",
    ),
    (
        "qredge_user_agent_cache_total",
        "User agents answered from the cache (hit) or parsed (miss).",
    ),
    (
        "qredge_scans_spooled_total",
        "Scans that found the queue full and went to the spool.",
    ),
    ("qredge_kafka_delivered_total", "Scans Kafka acknowledged."),
    (
        "qredge_kafka_delivery_errors_total",
        "Scans Kafka did not take (spooled and sent again later).",
    ),
    (
        "qredge_scans_aggregated_total",
        "Scans the embedded pipeline counted, or Kafka took.",
    ),
    (
        "qredge_scans_lost_total",
        "Scans that could be neither delivered nor spooled (a failing disk).",
    ),
    (
        "qredge_aggregator_events_total",
        "Events the aggregator counted (new event ids).",
    ),
    (
        "qredge_aggregator_malformed_total",
        "Topic messages that were not scan events.",
    ),
    (
        crate::edge::route::UNSERVABLE,
        "Codes an edge loaded or followed but cannot serve (their settings do not compile into a route; the write path refuses such codes, so these were written otherwise): each is answered as unknown.",
    ),
    (
        "qredge_aggregator_rejoins_total",
        "Times the aggregator left and rejoined its group because partitions had no live holder.",
    ),
];

fn describe() {
    for &(name, help) in GAUGES {
        metrics::describe_gauge!(name, help);
    }
    for &(name, help) in COUNTERS {
        metrics::describe_counter!(name, help);
    }
    metrics::describe_histogram!(
        "qredge_edge_response_seconds",
        metrics::Unit::Seconds,
        "Time to build an edge answer (the network not included)."
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
    let limits = Limits::METRICS;
    serve_router(listener, app, limits, limits.slots(), stop, timed_out).await;
}

fn timed_out(_: std::time::Duration) -> axum::response::Response {
    use axum::response::IntoResponse;
    let status = axum::http::StatusCode::REQUEST_TIMEOUT;
    (status, "request body not received in time\n").into_response()
}
