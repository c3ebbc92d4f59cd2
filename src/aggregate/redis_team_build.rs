//! The Redis team rollups of the codes counted before there were team rollups, built once: each
//! team's from its codes' (`redis_team_build.lua`), so that team-wide answers stay what they were
//! (the sum over the team's codes) for the data already kept. A marker key says it was done. The
//! teams' headline counts, which came later, are built the same way after them
//! (`redis_team_counts.lua`), and then their lists of events (`redis_team_events.lua`), each with
//! a marker of its own.
//!
//! Safe alongside batches and in several processes at once: each team's rollups and counts are
//! built by one atomic call that writes its keys over from its codes' counts, which already hold
//! every batch applied before it; its list of events, which a call only adds to, by one call per
//! code (pipelined), so that no call holds Redis longer than one code's events take. The codes
//! are the ones with counts (found by SCAN, once), their teams the store's.
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
    /// `last`), then its list of events, each unless that was done before on this Redis. Run at
    /// start by the processes that read or write the rollups, before they do.
    pub async fn build_team_rollups_once(&self, store: &Store) -> Result<(), AnalyticsError> {
        for build in [&ROLLUPS, &COUNTS, &EVENTS] {
            self.once(build, store).await?;
        }
        Ok(())
    }

    /// Runs `build` unless its marker says it was done, one process at a time (its lock).
    async fn once(&self, build: &Build, store: &Store) -> Result<(), AnalyticsError> {
        let (mut conn, prefix) = self.link();
        let marker = format!("{prefix}{}", build.marker);
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

    /// Runs the build's script for each team's codes (once per team or once per code), under
    /// its lock (kept alive).
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
            let calls: Vec<&[String]> = match build.calls {
                Calls::OnePerTeam => vec![codes],
                Calls::OnePerCode => codes.chunks(1).collect(),
            };
            for round in calls.chunks(CODES_PER_READ) {
                // Loaded in each round, so that EVALSHA finds it even if Redis restarted.
                let mut pipe = redis::pipe();
                pipe.load_script(&script).ignore();
                for codes in round {
                    let mut call = script.prepare_invoke();
                    call.arg(prefix).arg(team);
                    if matches!(build.args, Args::Retention | Args::RetentionAndDays) {
                        call.arg(self.retention_ms());
                    }
                    if matches!(build.args, Args::RetentionAndDays) {
                        call.arg(days.len());
                        for (day, date) in &days {
                            call.arg(day).arg(date);
                        }
                    }
                    pipe.invoke_script(call.arg(*codes)).ignore();
                }
                pipe.query_async::<()>(&mut conn)
                    .await
                    .map_err(redis_error)?;
                let _: () = conn
                    .pexpire(&lock, LOCK_MS as i64)
                    .await
                    .map_err(redis_error)?;
            }
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

/// One of the builds: its script, what it is called with, how often, the lock its builder holds
/// and the marker set once it is done.
struct Build {
    script: &'static str,
    lock: &'static str,
    marker: &'static str,
    args: Args,
    calls: Calls,
}

const ROLLUPS: Build = Build {
    script: ROLLUPS_LUA,
    lock: ROLLUPS_LOCK,
    marker: ROLLUPS_BUILT,
    args: Args::RetentionAndDays,
    calls: Calls::OnePerTeam,
};
const COUNTS: Build = Build {
    script: COUNTS_LUA,
    lock: COUNTS_LOCK,
    marker: COUNTS_BUILT,
    args: Args::CodesOnly,
    calls: Calls::OnePerTeam,
};
const EVENTS: Build = Build {
    script: EVENTS_LUA,
    lock: EVENTS_LOCK,
    marker: EVENTS_BUILT,
    args: Args::Retention,
    calls: Calls::OnePerCode,
};

/// What a build's script is called with: the prefix and the team id, then these, then codes.
enum Args {
    CodesOnly,
    /// The retention (ms).
    Retention,
    /// The retention, then the number of days and each day's number and date.
    RetentionAndDays,
}

/// How a team's codes are split between calls of a build's script.
enum Calls {
    /// All at once: the script writes the team's keys over from its codes.
    OnePerTeam,
    /// One code a call: the script only adds the code's part.
    OnePerCode,
}

fn redis_error(e: redis::RedisError) -> AnalyticsError {
    AnalyticsError::Redis(e.into())
}
