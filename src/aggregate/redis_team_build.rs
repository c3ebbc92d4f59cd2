//! The Redis team rollups of the codes counted before there were team rollups, built once: each
//! team's from its codes' (`redis_team_build.lua`), so that team-wide answers stay what they were
//! (the sum over the team's codes) for the data already kept. A marker key says it was done. The
//! teams' headline counts, which came later, are built the same way after them
//! (`redis_team_counts.lua`), and then their lists of events (`redis_team_events.lua`), each with
//! a marker of its own.
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
const ROLLUPS_BUILT: &str = "team-totals-built";
/// Held by the process building them; it expires if that process dies, and another builds.
const ROLLUPS_LOCK: &str = "team-totals-building";
/// The same for the teams' headline counts, built after their rollups.
const COUNTS_BUILT: &str = "team-counts-built";
const COUNTS_LOCK: &str = "team-counts-building";
/// The same for the teams' lists of events, built after their counts.
const EVENTS_BUILT: &str = "team-events-built";
const EVENTS_LOCK: &str = "team-events-building";
const LOCK_MS: u64 = 60_000;
/// How often a process waiting for another's build looks again.
const WAIT_STEP: Duration = Duration::from_millis(100);
const ROLLUPS_LUA: &str = include_str!("redis_team_build.lua");
const COUNTS_LUA: &str = include_str!("redis_team_counts.lua");
const EVENTS_LUA: &str = include_str!("redis_team_events.lua");
/// Codes whose teams are asked of the store together.
const CODES_PER_READ: usize = 1000;

impl RedisAnalytics {
    /// Builds every team's rollups from its codes', then its headline counts (`total`, `bots`,
    /// `last`), then its list of events, each unless that was done before on this Redis. Run at start by the processes
    /// that read or write the rollups, before they do.
    pub async fn build_team_rollups_once(&self, store: &Store) -> Result<(), AnalyticsError> {
        let rollups = Build {
            script: ROLLUPS_LUA,
            lock: ROLLUPS_LOCK,
            with_days: true,
        };
        self.once(ROLLUPS_BUILT, &rollups, store).await?;
        let counts = Build {
            script: COUNTS_LUA,
            lock: COUNTS_LOCK,
            with_days: false,
        };
        self.once(COUNTS_BUILT, &counts, store).await?;
        let events = Build {
            script: EVENTS_LUA,
            lock: EVENTS_LOCK,
            with_days: true,
        };
        self.once(EVENTS_BUILT, &events, store).await
    }

    /// Runs `build` unless `marker` says it was done, one process at a time (its lock).
    async fn once(&self, marker: &str, build: &Build, store: &Store) -> Result<(), AnalyticsError> {
        let (mut conn, prefix) = self.link();
        let marker = format!("{prefix}{marker}");
        let lock = format!("{prefix}{}", build.lock);
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
            self.build(build, store).await?;
            let _: () = conn.set(&marker, now_ms()).await.map_err(redis_error)?;
        }
        let _: () = conn.del(&lock).await.map_err(redis_error)?;
        Ok(())
    }

    /// Runs the build's script once per team with the team's codes, under its lock (kept
    /// alive).
    async fn build(&self, build: &Build, store: &Store) -> Result<(), AnalyticsError> {
        let (mut conn, prefix) = self.link();
        let lock = format!("{prefix}{}", build.lock);
        let mut teams: HashMap<String, Vec<String>> = HashMap::new();
        let codes = self.counted_codes().await?;
        for chunk in codes.chunks(CODES_PER_READ) {
            let ids: Vec<&str> = chunk.iter().map(String::as_str).collect();
            for qr in store.qrs_by_id(&ids).await? {
                teams.entry(qr.team_id).or_default().push(qr.id);
            }
        }
        let days = self.days_with_keys();
        let script = Script::new(build.script);
        for (team, codes) in &teams {
            let mut call = script.prepare_invoke();
            call.arg(prefix).arg(team);
            if build.with_days {
                call.arg(self.retention_ms()).arg(days.len());
                for (day, date) in &days {
                    call.arg(day).arg(date);
                }
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
            build = build.lock,
            "team rollups built from those of the codes counted before they had them"
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

/// One of the builds: its script (called per team with the prefix, the team id, the retention
/// and days when `with_days`, then the team's codes) and the lock its builder holds.
struct Build {
    script: &'static str,
    lock: &'static str,
    with_days: bool,
}

fn redis_error(e: redis::RedisError) -> AnalyticsError {
    AnalyticsError::Redis(e.into())
}
