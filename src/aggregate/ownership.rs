//! Which aggregator holds which partition of the scans topic, as leases in Redis that lapse a few
//! seconds after their holder stops renewing them (a crash, a lost host).
//!
//! Kafka's group coordinator decides who holds what; these keys only report it, so that one
//! aggregator can see that partitions were left without a live holder (`watchdog`). They never
//! decide what is counted: exactness rests on the applied offsets (`redis`), so a stale or
//! missing lease costs at most a needless rejoin.
//!
//! Key: `{p}owner:{topic}:{group}:{partition}` → who holds it (its instance id, else its process
//! id), with a TTL.

use std::time::Duration;

use redis::aio::ConnectionManager;
use redis::AsyncCommands;

use super::redis::RedisAnalytics;

pub struct Leases {
    conn: ConnectionManager,
    /// The key without its partition number.
    key_base: String,
}

impl Leases {
    pub fn new(analytics: &RedisAnalytics, topic: &str, group: &str) -> Self {
        let (conn, prefix) = analytics.link();
        Self {
            conn,
            key_base: format!("{prefix}owner:{topic}:{group}:"),
        }
    }

    /// Records `partitions` as held by `holder` for the next `ttl`.
    pub async fn renew(
        &self,
        holder: &str,
        partitions: &[i32],
        ttl: Duration,
    ) -> Result<(), redis::RedisError> {
        if partitions.is_empty() {
            return Ok(());
        }
        let ttl_ms = u64::try_from(ttl.as_millis()).unwrap_or(u64::MAX);
        let mut pipe = redis::pipe();
        for partition in partitions {
            pipe.cmd("SET")
                .arg(format!("{}{partition}", self.key_base))
                .arg(holder)
                .arg("PX")
                .arg(ttl_ms)
                .ignore();
        }
        pipe.query_async(&mut self.conn.clone()).await
    }

    /// Of the partitions `0..count`, those no live lease holds.
    pub async fn unheld(&self, count: i32) -> Result<Vec<i32>, redis::RedisError> {
        if count <= 0 {
            return Ok(Vec::new());
        }
        let keys: Vec<String> = (0..count)
            .map(|partition| format!("{}{partition}", self.key_base))
            .collect();
        let holders: Vec<Option<String>> = self.conn.clone().mget(keys).await?;
        Ok((0..count)
            .zip(holders)
            .filter_map(|(partition, holder)| holder.is_none().then_some(partition))
            .collect())
    }
}
