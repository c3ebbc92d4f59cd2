//! What the edge counts per request: answers by outcome and how long each took to build, and
//! what became of orphan scans. The handles are looked up once, so a request pays an atomic add
//! (nothing without `/metrics`).

use std::time::Duration;

use hyper::StatusCode;
use metrics::{Counter, Histogram};

use super::orphans::Orphan;

pub struct EdgeMetrics {
    redirect: Counter,
    not_found: Counter,
    gone: Counter,
    refused: Counter,
    health: Counter,
    response_time: Histogram,
    orphans_recorded: Counter,
    orphans_sampled: Counter,
    orphans_unrecorded: Counter,
}

impl Default for EdgeMetrics {
    fn default() -> Self {
        let outcome =
            |name: &'static str| metrics::counter!("qredge_edge_requests_total", "outcome" => name);
        let orphans = |name: &'static str| metrics::counter!("qredge_edge_orphan_scans_total", "outcome" => name);
        Self {
            redirect: outcome("redirect"),
            not_found: outcome("not_found"),
            gone: outcome("expired"),
            refused: outcome("refused"),
            health: outcome("health"),
            response_time: metrics::histogram!("qredge_edge_response_seconds"),
            orphans_recorded: orphans("recorded"),
            orphans_sampled: orphans("sampled"),
            orphans_unrecorded: orphans("unrecorded"),
        }
    }
}

impl EdgeMetrics {
    /// Counts one answer by its status, and the time it took to build.
    pub fn observe(&self, status: StatusCode, took: Duration) {
        let outcome = match status {
            StatusCode::FOUND => &self.redirect,
            StatusCode::NOT_FOUND => &self.not_found,
            StatusCode::GONE => &self.gone,
            StatusCode::OK => &self.health,
            _ => &self.refused,
        };
        outcome.increment(1);
        self.response_time.record(took.as_secs_f64());
    }

    /// Counts one scan of an unknown code on a custom domain by what became of it.
    pub fn orphan(&self, orphan: Orphan) {
        match orphan {
            Orphan::Recorded => &self.orphans_recorded,
            Orphan::Sampled => &self.orphans_sampled,
            Orphan::Unrecorded => &self.orphans_unrecorded,
        }
        .increment(1);
    }
}
