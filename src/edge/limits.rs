//! Max-scan limits: how many counted scans each limited code has had. The count is the larger
//! of the analytics total (re-read every second) and the scans this edge answered itself: exact
//! for one edge (`qredge serve`), while with several edges a limit can be passed by the other
//! edges' scans of about the last second (documented in docs/redirects.md).

use std::sync::Arc;
use std::time::Duration;

use arc_swap::ArcSwap;
use bytestring::ByteString;
use dashmap::DashMap;
use tokio_util::sync::CancellationToken;

use super::RouteTable;
use crate::aggregate::{AnalyticsReader, RedisAnalytics};
use crate::backoff::Backoff;
use crate::clock::now_ms;
use crate::config::RedisConfig;

const REFRESH_EVERY: Duration = Duration::from_secs(1);

#[derive(Debug, Default, Clone, Copy)]
struct Count {
    /// The analytics total when last read.
    total: u64,
    /// Scans this edge answered since it started.
    local: u64,
}

#[derive(Default)]
pub struct ScanLimits {
    counts: DashMap<ByteString, Count>,
}

impl ScanLimits {
    /// Whether a code limited to `max` scans has had them.
    pub fn reached(&self, qr_id: &str, max: u64) -> bool {
        self.counts
            .get(qr_id)
            .is_some_and(|c| c.total.max(c.local) >= max)
    }

    /// One more scan of a limited code answered here.
    pub fn count(&self, qr_id: &ByteString) {
        self.counts.entry(qr_id.clone()).or_default().local += 1;
    }

    /// Connects to the Redis rollups (retrying while Redis is away), then refreshes from them.
    pub async fn refresh_from_redis(
        self: Arc<Self>,
        redis: RedisConfig,
        retention_days: u32,
        table: Arc<ArcSwap<RouteTable>>,
        stop: CancellationToken,
    ) {
        if redis.url.is_empty() {
            return;
        }
        let mut retry = Backoff::new(Duration::from_millis(500), Duration::from_secs(5));
        let analytics = loop {
            match RedisAnalytics::connect(&redis.url, &redis.key_prefix, retention_days).await {
                Ok(analytics) => break analytics,
                Err(e) => tracing::debug!(error = %e, "scan limits: Redis is still unreachable"),
            }
            if !retry.wait(&stop).await {
                return;
            }
        };
        self.refresh(Arc::new(analytics), table, stop).await
    }

    /// Re-reads the totals of the table's limited codes every second until `stop`.
    pub async fn refresh(
        self: Arc<Self>,
        reader: AnalyticsReader,
        table: Arc<ArcSwap<RouteTable>>,
        stop: CancellationToken,
    ) {
        // The limited codes, found again only when the table changed (a walk of every route).
        let mut limited: (u64, Vec<ByteString>) = (0, Vec::new());
        loop {
            let current = table.load();
            if current.generation() != limited.0 {
                let codes = current
                    .whole_routes()
                    .filter(|(_, r)| r.extras.as_ref().is_some_and(|e| e.max_scans.is_some()))
                    .map(|(_, r)| r.qr_id.clone())
                    .collect();
                limited = (current.generation(), codes);
            }
            drop(current);
            for qr_id in limited.1.iter().cloned() {
                match reader.overview(&qr_id, now_ms(), chrono_tz::UTC).await {
                    Ok(overview) => {
                        self.counts.entry(qr_id).or_default().total = overview.total_scans;
                    }
                    Err(e) => {
                        tracing::debug!(error = %e, "cannot read scan totals; counting locally")
                    }
                }
            }
            tokio::select! {
                _ = stop.cancelled() => return,
                _ = tokio::time::sleep(REFRESH_EVERY) => {}
            }
        }
    }
}
