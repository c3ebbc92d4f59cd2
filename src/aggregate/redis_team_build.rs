//! The Redis team rollups of the codes counted before there were team rollups, built once: each
//! team's from its codes' (`redis_team_build.lua`), so that team-wide answers stay what they were
//! (the sum over the team's codes) for the data already kept. A marker key says it was done.
//!
//! Safe alongside batches and in several processes at once: each team is built by one atomic
//! call that writes its keys over from its codes' counts, which already hold every batch applied
//! before it. The codes are the ones with counts (found by SCAN, once), their teams the store's.
//! One process builds at a time (a lock key): a second one starting meanwhile waits, then finds
//! the marker. Otherwise its build, from codes found before the first builder's aggregator
//! counted a new code, would write that code's team over without the new code's scans.

use std::collections::HashMap;
use std::time::Duration;

use futures::TryStreamExt;
use redis::{AsyncCommands, ExistenceCheck, Script, SetExpiry, SetOptions};

use super::rollup::day_date;
use super::{AnalyticsError, RedisAnalytics};
use crate::clock::{now_ms, utc_day};
use crate::store::redis::glob_escape;
use crate::store::Store;

/// Set (to the time it was done) once every team's rollups were built.
const BUILT_MARKER: &str = "team-totals-built";
/// Held by the process building; it expires if that process dies, and another builds.
const BUILD_LOCK: &str = "team-totals-building";
const LOCK_MS: u64 = 60_000;
/// How often a process waiting for another's build looks again.
const WAIT_STEP: Duration = Duration::from_millis(100);
const BUILD_LUA: &str = include_str!("redis_team_build.lua");
/// Codes whose teams are asked of the store together.
const CODES_PER_READ: usize = 1000;

impl RedisAnalytics {
    /// Builds every team's rollups from its codes' unless that was done before on this Redis.
    /// Run at start by the processes that read or write the rollups, before they do.
    pub async fn build_team_rollups_once(&self, store: &Store) -> Result<(), AnalyticsError> {
        let (mut conn, prefix) = self.link();
        let marker = format!("{prefix}{BUILT_MARKER}");
        let lock = format!("{prefix}{BUILD_LOCK}");
        loop {
            let built: bool = conn.exists(&marker).await.map_err(redis_error)?;
            if built {
                return Ok(());
            }
            let options = SetOptions::default()
                .conditional_set(ExistenceCheck::NX)
                .with_expiration(SetExpiry::PX(LOCK_MS));
            let locked: Option<String> = conn
                .set_options(&lock, 1, options)
                .await
                .map_err(redis_error)?;
            if locked.is_some() {
                break;
            }
            tokio::time::sleep(WAIT_STEP).await;
        }
        // Looked at again under the lock: a build may have ended in between.
        if !conn.exists(&marker).await.map_err(redis_error)? {
            self.build_team_rollups(store).await?;
            let _: () = conn.set(&marker, now_ms()).await.map_err(redis_error)?;
        }
        let _: () = conn.del(&lock).await.map_err(redis_error)?;
        Ok(())
    }

    /// Writes every team's rollups over from its codes', under the build lock (kept alive).
    async fn build_team_rollups(&self, store: &Store) -> Result<(), AnalyticsError> {
        let (mut conn, prefix) = self.link();
        let lock = format!("{prefix}{BUILD_LOCK}");
        let mut teams: HashMap<String, Vec<String>> = HashMap::new();
        let codes = self.counted_codes().await?;
        for chunk in codes.chunks(CODES_PER_READ) {
            let ids: Vec<&str> = chunk.iter().map(String::as_str).collect();
            for qr in store.qrs_by_id(&ids).await? {
                teams.entry(qr.team_id).or_default().push(qr.id);
            }
        }
        let days = self.days_with_keys();
        let script = Script::new(BUILD_LUA);
        for (team, codes) in &teams {
            let mut call = script.prepare_invoke();
            call.arg(prefix)
                .arg(team)
                .arg(self.retention_ms())
                .arg(days.len());
            for (day, date) in &days {
                call.arg(day).arg(date);
            }
            call.arg(codes);
            let _: i64 = call.invoke_async(&mut conn).await.map_err(redis_error)?;
            let _: () = conn
                .pexpire(&lock, LOCK_MS as i64)
                .await
                .map_err(redis_error)?;
        }
        tracing::info!(
            teams = teams.len(),
            codes = codes.len(),
            "team rollups built from the rollups of the codes counted before they existed"
        );
        Ok(())
    }

    /// The ids of every code (and team's orphan scans) with counts.
    async fn counted_codes(&self) -> Result<Vec<String>, AnalyticsError> {
        let (mut conn, prefix) = self.link();
        let head = format!("{prefix}qr:");
        let pattern = format!("{}*:counts", glob_escape(&head));
        let keys: Vec<String> = conn
            .scan_match(pattern)
            .await
            .map_err(redis_error)?
            .try_collect()
            .await
            .map_err(redis_error)?;
        Ok(keys
            .iter()
            .filter_map(|key| key.strip_prefix(&head)?.strip_suffix(":counts"))
            .map(str::to_owned)
            .collect())
    }

    /// The days (number, date) whose visitor or bucket keys may still exist: within the
    /// retention, and the dates around today in every zone.
    fn days_with_keys(&self) -> Vec<(i64, String)> {
        let now = now_ms();
        let first = utc_day(now - self.retention_ms()) - 2;
        (first..=utc_day(now) + 1)
            .map(|day| (day, day_date(day).to_string()))
            .collect()
    }
}

fn redis_error(e: redis::RedisError) -> AnalyticsError {
    AnalyticsError::Redis(e.into())
}
