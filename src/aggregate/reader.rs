//! What the analytics endpoints read: the embedded store, or the Redis rollups.

use std::sync::Arc;

use chrono_tz::Tz;

use super::redis::RedisAnalytics;
use super::{Analytics, AnalyticsError, Overview};
use crate::model::ScanEvent;

#[derive(Clone)]
pub enum AnalyticsReader {
    Embedded(Arc<Analytics>),
    Redis(RedisAnalytics),
}

impl AnalyticsReader {
    /// Headline counts of a code as of `now_ms`, days counted in `zone`. The embedded store
    /// counts UTC days.
    pub async fn overview(
        &self,
        qr_id: &str,
        now_ms: i64,
        zone: Tz,
    ) -> Result<Overview, AnalyticsError> {
        match self {
            AnalyticsReader::Embedded(store) => {
                let (store, qr_id) = (Arc::clone(store), qr_id.to_owned());
                blocking(move || store.overview(&qr_id, now_ms)).await
            }
            AnalyticsReader::Redis(redis) => Ok(redis.overview(qr_id, now_ms, zone).await?),
        }
    }

    /// A code's events with `start <= scanTime <= end`, newest first, at most `limit`.
    pub async fn events(
        &self,
        qr_id: &str,
        start: i64,
        end: i64,
        limit: usize,
    ) -> Result<Vec<ScanEvent>, AnalyticsError> {
        match self {
            AnalyticsReader::Embedded(store) => {
                let (store, qr_id) = (Arc::clone(store), qr_id.to_owned());
                blocking(move || store.events(&qr_id, start, end, limit)).await
            }
            AnalyticsReader::Redis(redis) => Ok(redis.events(qr_id, start, end, limit).await?),
        }
    }
}

async fn blocking<T: Send + 'static>(
    work: impl FnOnce() -> Result<T, AnalyticsError> + Send + 'static,
) -> Result<T, AnalyticsError> {
    tokio::task::spawn_blocking(work)
        .await
        .map_err(|e| AnalyticsError::Io(std::io::Error::other(e)))?
}
