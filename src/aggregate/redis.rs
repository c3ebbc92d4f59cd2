//! The production aggregator's storage: rollups and detailed events in Redis.
//!
//! The Kafka consumer hands over batches of `(partition, offset, event)`; each batch is applied by
//! ONE Lua script call (EVALSHA), which Redis runs atomically. The script records the highest
//! offset per partition in the same call, so the counts and the offsets they reflect always move
//! together: after a crash at any point the consumer seeks to the stored offset + 1, and events
//! replayed at or below it are skipped. An event that reached the topic twice (a producer retry, a
//! spool replay) has its id already in the code's event set and is skipped too.
//!
//! Everything that needs a time zone, a hash or a URL parse is computed here in Rust and passed to
//! the script as arguments, so the Lua only adds numbers and writes keys.
//!
//! Keys (`{p}` is the key prefix, e.g. `qredge:`; dates are `YYYY-MM-DD`; times epoch ms):
//!
//! - `{p}offsets:{topic}:{group}` hash: partition → highest offset applied.
//! - `{p}owner:{topic}:{group}:{partition}`: who holds the partition (instance or process id),
//!   expiring seconds after it stops renewing it (`ownership`, read by the watchdog).
//! - `{p}qr:{qrId}:counts` hash, every counter of a code (so one batch reads and writes them with one HMGET and one HSET):
//!   `total` headline scans, `bots` bot scans, `last` newest scan time (bots included),
//!   `day:{localDate}` headline scans per date in the team's zone (kept forever: a field a day),
//!   `{dimension}:{value}` all-time headline scans per country, city, device, browser, os and referrer host,
//!   and the script's bookkeeping: `exp:events`, `exp:5m`, `exp:uniq` (expiries already set), `trimmed` (last trim).
//! - `{p}qr:{qrId}:5m:{utcDate}` hash: 5-minute bucket start → headline scans; a key per UTC day, expiring a retention after the day ends.
//! - `{p}qr:{qrId}:uniq:{localDate}` HyperLogLog of visitor keys (a hash of IP + user agent); expires a retention after the date ends.
//! - `{p}qr:{qrId}:events` sorted set: event id scored by scan time. It is also the dedupe set: an id found in it was applied.
//! - `{p}qr:{qrId}:events:json` hash: event id → the event as JSON.
//! - `{p}team:{teamId}:counts` hash, `{p}team:{teamId}:5m:{utcDate}` hash and
//!   `{p}team:{teamId}:uniq:{localDate}` HyperLogLog: the team's own rollups, the `total`,
//!   `bots`, `last`, `day:`, dimension and bucket counts and the visitors of all its codes'
//!   scans together (orphan scans apart), moved by the same script call as its codes', expiring
//!   alike. A team-wide read is then one key whatever the team's size.
//! - `{p}team:{teamId}:events` sorted set: `{qrId} {eventId}` of every event of the team's codes
//!   (bots and HEAD requests too, orphan scans apart) scored by scan time, trimmed and expiring
//!   as a code's events: the team's scans table reads a page of it, then each event's JSON from
//!   its code's hash.
//! - `{p}team:{teamId}:codes` sorted set: the team's codes, each scored by minus its `total`
//!   (the most scanned first, ties by id), moved with the code's counts.
//! - `{p}team-totals-built`, `{p}team-counts-built`, `{p}team-events-built`: set once the team
//!   rollups, then the teams' `total`, `bots`, `last` and ranking of codes, then their lists of
//!   events, of the codes counted before they existed were built (`redis_team_build`);
//!   `{p}team-totals-building`, `{p}team-counts-building` and `{p}team-events-building`, held by
//!   the one process building them meanwhile.
//!
//! Retention: a batch removes from both event keys of a code the events older than
//! `retention_days` (hourly per code, or at once when the batch brings an event that old), at
//! most 1000 per code and batch so that a lowered retention cannot stall Redis; and both keys
//! expire about `retention_days` after the code's newest scan, so codes nobody scans any more lose
//! their events too. Event ids are remembered for dedupe exactly as long as the events: a
//! duplicate that arrives after its original left retention is counted again (spool replays are
//! hours old, not weeks). Counts in `counts` are kept forever.
//!
//! Redis Cluster: a script may only touch keys of one hash slot, and one batch touches the
//! offsets key and the keys of many codes. No hash tag is added here; instead the prefix may carry
//! one: a prefix such as `{qredge}:` puts every key in one slot, which is valid on Cluster but
//! puts all the data on one primary (Cluster then buys failover, not scale). Real sharding would
//! tag keys by Kafka partition (codes are keyed by qrId, so a code lives in one partition) and
//! apply one script per partition, at the cost of readers having to know a code's partition.
//! Tests and the default deployment use a single Redis node.
//!
//! The script must not fail half-way: Redis does not roll a script back, so an error after some
//! writes would leave them without the offsets. So the arguments are built here such that the
//! script cannot hit a Lua error (every number it parses was formatted by Rust, every day it looks
//! up is in the table it is given), it touches only keys of the types above, and its `#!lua`
//! shebang makes Redis refuse the whole call up front when out of memory, rather than fail at
//! some write in the middle. Run this Redis with `maxmemory-policy noeviction`: an evicted
//! event set or offsets hash would mean counting twice. Needs Redis 7.0 or later (the shebang).
//!
//! Cost: Redis runs every script on its one thread, so the script makes a handful of calls per
//! code in the batch and none per event (see `redis_apply.lua`); a batch of events for few, busy
//! codes is cheapest. Measured (loadtest/aggregator.sh, ~2000-event batches over 1000 codes):
//! 47–57 ms of Redis time per batch, about 35–40k events/s for one Redis core; the Lua itself and
//! its argument handling are 70–75 % of that, the Redis commands it calls the rest. At 10,000
//! codes per batch it is ~65 µs an event.

use std::collections::{BTreeMap, HashMap};
use std::future::Future;
use std::time::Duration;

use chrono::NaiveDate;
use chrono_tz::Tz;
use redis::aio::ConnectionManager;
use redis::{AsyncCommands, Script, ScriptInvocation};

use super::contract::{ranked, Codes, DayCounts, EventsOf, TOP_CODES_KEPT};
use super::local_days::LocalDays;
use super::rollup::{
    bucket_start, day_date, day_number, local_date, visitor_key, Dimension, Overview,
};
use crate::clock::{now_ms, utc_day, MS_PER_DAY};
use crate::model::ScanEvent;

/// Values passed to the script per event: partition, offset, eventId, qrId, scanTime, kind,
/// JSON, local day number, visitor key, team id (empty for an orphan scan), then one value per
/// `Dimension::ALL`. Bots and HEAD requests carry empty strings after the JSON but their team:
/// they are stored and move the headline counts, not the rollups.
const FIELDS_PER_EVENT: usize = 10 + Dimension::ALL.len();

/// The batch script: see the file for what it does per code and why.
const APPLY_LUA: &str = include_str!("redis_apply.lua");

/// How long one call may take before the client gives up on it. A batch of thousands of events
/// takes tens of milliseconds; the client's default (500 ms) would turn a slow moment into a
/// retry. A timed-out call may still have been applied: the retry is then skipped by its offsets.
const RESPONSE_TIMEOUT: Duration = Duration::from_secs(30);

/// Scan times the script works with: within what a Lua number (a double) holds exactly and chrono
/// can date (about ±250 000 years). Only a corrupt event is outside; it is kept (its JSON says
/// what it said) and counted at the nearest representable time rather than failing the batch.
const MAX_SCRIPT_TIME: i64 = 8_000_000_000_000_000;

fn script_time(scan_time: i64) -> i64 {
    scan_time.clamp(-MAX_SCRIPT_TIME, MAX_SCRIPT_TIME)
}

/// `total`, `bots`, `last` and the two days' counts, as HMGET returns them.
type OverviewFields = (
    Option<u64>,
    Option<u64>,
    Option<i64>,
    Option<u64>,
    Option<u64>,
);

#[derive(Debug, thiserror::Error)]
pub enum RedisAnalyticsError {
    #[error("redis error: {0}")]
    Redis(#[from] redis::RedisError),
    #[error("a scan event could not be encoded or read: {0}")]
    Json(#[from] serde_json::Error),
    #[error("invalid redis analytics configuration: {0}")]
    Config(&'static str),
}

/// Rollups and detailed events in Redis. Cheap to clone: clones share one multiplexed
/// connection, on which concurrent calls are pipelined.
#[derive(Clone)]
pub struct RedisAnalytics {
    conn: ConnectionManager,
    apply_script: Script,
    prefix: String,
    retention_days: u32,
}

impl std::fmt::Debug for RedisAnalytics {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("RedisAnalytics")
            .field("prefix", &self.prefix)
            .field("retention_days", &self.retention_days)
            .finish_non_exhaustive()
    }
}

impl RedisAnalytics {
    /// Connects (reconnecting on its own later) and loads the script, so that a Redis that cannot
    /// run it fails here rather than at the first batch.
    pub async fn connect(
        url: &str,
        key_prefix: &str,
        retention_days: u32,
    ) -> Result<Self, RedisAnalyticsError> {
        if retention_days == 0 {
            return Err(RedisAnalyticsError::Config(
                "retention_days must be at least 1: event ids are deduplicated for as long as events are kept",
            ));
        }
        let mut conn = crate::redis_link::connect(url, RESPONSE_TIMEOUT).await?;
        let apply_script = Script::new(APPLY_LUA);
        apply_script.prepare_invoke().load_async(&mut conn).await?;
        Ok(Self {
            conn,
            apply_script,
            prefix: key_prefix.to_owned(),
            retention_days,
        })
    }

    /// The connection and the key prefix, for the aggregator's keys kept apart (`ownership`).
    pub(super) fn link(&self) -> (ConnectionManager, &str) {
        (self.conn.clone(), &self.prefix)
    }

    pub(super) fn retention_ms(&self) -> i64 {
        i64::from(self.retention_days) * MS_PER_DAY
    }

    fn qr_key(&self, qr_id: &str, suffix: &str) -> String {
        format!("{}qr:{qr_id}:{suffix}", self.prefix)
    }

    /// The start of the rollup keys to sum for `codes`: each code's, or the team's own.
    fn rollup_keys(&self, codes: Codes<'_>) -> Vec<String> {
        match codes {
            Codes::These(ids) => ids
                .iter()
                .map(|id| format!("{}qr:{id}", self.prefix))
                .collect(),
            Codes::Team(team_id) => vec![format!("{}team:{team_id}", self.prefix)],
        }
    }

    fn offsets_key(&self, topic: &str, group: &str) -> String {
        format!("{}offsets:{topic}:{group}", self.prefix)
    }

    /// Applies one batch consumed from `topic` by `group` in one atomic script call: events at or
    /// below their partition's stored offset, and events whose id was already applied, are
    /// skipped; the rest are counted (bots apart) and stored; the highest offset per partition
    /// is recorded. `zones` gives a team's time zone for its per-day counts. Resolves to how many
    /// events were new (bots included), the same as the embedded store.
    ///
    /// The batch is encoded when this is called and the returned future only sends it: so the
    /// future is `Send` (a consumer can spawn it) whatever `zones` captures, and it borrows
    /// neither `zones` nor the batch.
    ///
    /// Apply the batches of one partition one after another, each after the previous one
    /// succeeded: if a later batch landed while an earlier one failed, the stored offset would be
    /// past the earlier batch and its retry would be skipped as already applied (lost). Batches
    /// of different partitions may be in flight together. An error (a timeout included) does not
    /// say whether the batch was applied: retrying it is always safe.
    pub fn apply(
        &self,
        topic: &str,
        group: &str,
        batch: &[(i32, i64, ScanEvent)],
        zones: &dyn Fn(&str) -> Tz,
    ) -> impl Future<Output = Result<usize, RedisAnalyticsError>> + Send + '_ {
        let call = if batch.is_empty() {
            Ok(None)
        } else {
            self.encode(topic, group, batch, zones).map(Some)
        };
        let mut conn = self.conn.clone();
        async move {
            let Some(call) = call? else {
                return Ok(0);
            };
            let new: i64 = call.invoke_async(&mut conn).await?;
            Ok(usize::try_from(new).unwrap_or(0))
        }
    }

    /// The script call for a batch: the layout at the top of `redis_apply.lua`.
    fn encode(
        &self,
        topic: &str,
        group: &str,
        batch: &[(i32, i64, ScanEvent)],
        zones: &dyn Fn(&str) -> Tz,
    ) -> Result<ScriptInvocation<'_>, RedisAnalyticsError> {
        let retention = self.retention_ms();
        let now = now_ms();
        // The local day of each counted event, and the dates of every day number the script
        // will need as text (local days and the UTC days of the 5-minute bucket keys).
        let mut zone_of_team: HashMap<&str, Tz> = HashMap::new();
        let mut dates: BTreeMap<i64, String> = BTreeMap::new();
        let mut local_days = Vec::with_capacity(batch.len());
        let mut days_in_zones = LocalDays::default();
        for (_, _, event) in batch {
            if !event.is_headline() {
                local_days.push(None);
                continue;
            }
            let zone = *zone_of_team
                .entry(&*event.team_id)
                .or_insert_with(|| zones(&event.team_id));
            let time = script_time(event.scan_time);
            let day = days_in_zones.of(time, zone);
            for d in [day, utc_day(time)] {
                dates.entry(d).or_insert_with(|| day_date(d).to_string());
            }
            local_days.push(Some(day));
        }
        let mut call = self.apply_script.prepare_invoke();
        call.key(self.offsets_key(topic, group))
            .arg(&self.prefix)
            .arg(now)
            .arg(now.saturating_sub(retention))
            .arg(retention)
            .arg(dates.len())
            .arg(batch.len());
        for (day, date) in &dates {
            call.arg(day).arg(date);
        }
        for ((partition, offset, event), local_day) in batch.iter().zip(local_days) {
            call.arg(partition)
                .arg(offset)
                .arg(&*event.event_id)
                .arg(event.rollup_id().as_ref())
                .arg(script_time(event.scan_time))
                .arg(match (event.head, event.bot) {
                    (true, _) => "h",
                    (false, true) => "1",
                    (false, false) => "0",
                })
                .arg(serde_json::to_string(event)?);
            // An orphan scan is no code's: it stays out of the team's codes' rollups.
            let team = if event.orphan { "" } else { &*event.team_id };
            let Some(day) = local_day else {
                // A bot or a HEAD request: its team's counts are moved, no rollup.
                call.arg("").arg("").arg(team);
                call.arg(&[""; FIELDS_PER_EVENT - 10][..]);
                continue;
            };
            call.arg(day)
                .arg(&visitor_key(&event.ip_address, &event.user_agent)[..])
                .arg(team);
            for dimension in Dimension::ALL {
                call.arg(dimension.value(event).as_ref());
            }
        }
        Ok(call)
    }

    /// The highest offset applied per partition of `topic` for `group`: on assignment the
    /// consumer seeks each partition to this + 1 (Redis, not Kafka, is the source of truth).
    pub async fn committed_offsets(
        &self,
        topic: &str,
        group: &str,
    ) -> Result<HashMap<i32, i64>, RedisAnalyticsError> {
        let mut conn = self.conn.clone();
        Ok(conn.hgetall(self.offsets_key(topic, group)).await?)
    }

    /// Headline counts as of `now_ms`, "today" and "yesterday" being dates in `zone` (the zone
    /// the events were applied with).
    pub async fn overview(
        &self,
        qr_id: &str,
        now_ms: i64,
        zone: Tz,
    ) -> Result<Overview, RedisAnalyticsError> {
        self.overview_in(self.qr_key(qr_id, "counts"), now_ms, zone)
            .await
    }

    /// Headline counts of all the team's codes together, as `overview` has a code's.
    pub async fn team_overview(
        &self,
        team_id: &str,
        now_ms: i64,
        zone: Tz,
    ) -> Result<Overview, RedisAnalyticsError> {
        let key = format!("{}team:{team_id}:counts", self.prefix);
        self.overview_in(key, now_ms, zone).await
    }

    /// The team's most scanned codes and their headline scans, most first, at most `limit` (up
    /// to `TOP_CODES_KEPT`, as the embedded analytics keep).
    pub async fn top_codes(
        &self,
        team_id: &str,
        limit: usize,
    ) -> Result<Vec<(String, u64)>, RedisAnalyticsError> {
        let limit = limit.min(TOP_CODES_KEPT);
        if limit == 0 {
            return Ok(Vec::new());
        }
        let key = format!("{}team:{team_id}:codes", self.prefix);
        let mut conn = self.conn.clone();
        let ranked: Vec<(String, f64)> = conn.zrange_withscores(key, 0, limit as isize - 1).await?;
        Ok(ranked
            .into_iter()
            .map(|(id, minus_scans)| (id, -minus_scans as u64))
            .collect())
    }

    /// The overview the counts hash `key` holds (a code's or a team's: the same fields).
    async fn overview_in(
        &self,
        key: String,
        now_ms: i64,
        zone: Tz,
    ) -> Result<Overview, RedisAnalyticsError> {
        let today = local_date(now_ms, zone);
        let yesterday = today.pred_opt().unwrap_or(today);
        let mut conn = self.conn.clone();
        let (total, bots, last, today_scans, yesterday_scans): OverviewFields = redis::cmd("HMGET")
            .arg(key)
            .arg("total")
            .arg("bots")
            .arg("last")
            .arg(format!("day:{today}"))
            .arg(format!("day:{yesterday}"))
            .query_async(&mut conn)
            .await?;
        Ok(Overview {
            total_scans: total.unwrap_or(0),
            today_scans: today_scans.unwrap_or(0),
            yesterday_scans: yesterday_scans.unwrap_or(0),
            bot_scans: bots.unwrap_or(0),
            last_scan_time: last,
            today: day_number(today),
        })
    }

    /// A code's events with `start <= scanTime <= end`, newest first, at most `limit`.
    pub async fn events(
        &self,
        qr_id: &str,
        start: i64,
        end: i64,
        limit: usize,
    ) -> Result<Vec<ScanEvent>, RedisAnalyticsError> {
        let events = self.events_before(EventsOf::Code(qr_id), start, end, None, limit);
        let events = events.await?;
        Ok(events.into_iter().map(|(_, event)| event).collect())
    }

    /// A page of a code's or a team's events with `start <= scanTime <= end`, newest first,
    /// older than `before` (where an earlier page ended: a scan time and a member of the events'
    /// sorted set, which orders the events of one millisecond: a code's event id, or
    /// `{qrId} {eventId}` in a team's), at most `limit`; each with its scan time and member.
    pub async fn events_before(
        &self,
        of: EventsOf<'_>,
        start: i64,
        end: i64,
        before: Option<(i64, &str)>,
        limit: usize,
    ) -> Result<Vec<((i64, String), ScanEvent)>, RedisAnalyticsError> {
        let key = match of {
            EventsOf::Code(qr_id) => self.qr_key(qr_id, "events"),
            EventsOf::Team(team_id) => format!("{}team:{team_id}:events", self.prefix),
        };
        let members = self.page_of(&key, (start, end), before, limit).await?;
        // Each member's code and event id.
        let located: Vec<Option<(&str, &str)>> = members
            .iter()
            .map(|(member, _)| match of {
                EventsOf::Code(qr_id) => Some((qr_id, member.as_str())),
                EventsOf::Team(_) => member.rsplit_once(' '),
            })
            .collect();
        let mut ids_by_code: HashMap<&str, Vec<&str>> = HashMap::new();
        for &(qr, id) in located.iter().flatten() {
            ids_by_code.entry(qr).or_default().push(id);
        }
        let mut json_by_event: HashMap<(&str, &str), String> = HashMap::new();
        for (qr, ids) in ids_by_code {
            let json = self.json_of(qr, ids.iter().copied()).await?;
            for (id, json) in ids.into_iter().zip(json) {
                json_by_event.extend(json.map(|json| ((qr, id), json)));
            }
        }
        members
            .iter()
            .zip(&located)
            .filter_map(|((member, time), event)| {
                let json = json_by_event.remove(&(*event)?)?;
                Some(((*time, member.clone()), json))
            })
            .map(|(place, json)| Ok((place, serde_json::from_str(&json)?)))
            .collect()
    }

    /// Up to `limit` members of the sorted set `key` scored by scan time within `start..=end`,
    /// newest first, past `before`; with their scores.
    async fn page_of(
        &self,
        key: &str,
        (start, end): (i64, i64),
        before: Option<(i64, &str)>,
        limit: usize,
    ) -> Result<Vec<(String, i64)>, RedisAnalyticsError> {
        if start > end || limit == 0 {
            return Ok(Vec::new());
        }
        let mut conn = self.conn.clone();
        Ok(match before {
            None => {
                let page: Vec<(String, f64)> = redis::cmd("ZRANGE")
                    .arg(key)
                    .arg(end)
                    .arg(start)
                    .arg("BYSCORE")
                    .arg("REV")
                    .arg("LIMIT")
                    .arg(0)
                    .arg(limit)
                    .arg("WITHSCORES")
                    .query_async(&mut conn)
                    .await?;
                page.into_iter()
                    .map(|(id, time)| (id, time as i64))
                    .collect()
            }
            Some(before) => {
                let page = crate::redis_page::page_after(&mut conn, key, before, limit, true);
                let page = page.await?.into_iter();
                page.take_while(|(_, time)| *time >= start).collect()
            }
        })
    }

    /// The JSON of the code's events `ids`, in their order. Read after the page, so an event
    /// trimmed in between is simply missing (None), never an error.
    async fn json_of(
        &self,
        qr_id: &str,
        ids: impl Iterator<Item = &str>,
    ) -> Result<Vec<Option<String>>, RedisAnalyticsError> {
        let mut conn = self.conn.clone();
        Ok(redis::cmd("HMGET")
            .arg(self.qr_key(qr_id, "events:json"))
            .arg(ids.collect::<Vec<_>>())
            .query_async(&mut conn)
            .await?)
    }

    /// Scans and unique visitors (HyperLogLog, about 0.8% standard error; the union across the
    /// codes) of the codes together on each date `first..=last` in their team's zone. Visitors
    /// of a date out of retention are 0.
    pub async fn days(
        &self,
        codes: Codes<'_>,
        first: i64,
        last: i64,
    ) -> Result<Vec<DayCounts>, RedisAnalyticsError> {
        let ids = self.rollup_keys(codes);
        let mut days: Vec<DayCounts> = (first..=last)
            .map(|day| DayCounts {
                day,
                ..DayCounts::default()
            })
            .collect();
        if ids.is_empty() || days.is_empty() {
            return Ok(days);
        }
        let dates: Vec<NaiveDate> = (first..=last).map(day_date).collect();
        let mut pipe = redis::pipe();
        for id in &ids {
            let fields: Vec<String> = dates.iter().map(|d| format!("day:{d}")).collect();
            pipe.cmd("HMGET").arg(format!("{id}:counts")).arg(fields);
        }
        for date in &dates {
            let keys: Vec<String> = ids.iter().map(|id| format!("{id}:uniq:{date}")).collect();
            pipe.cmd("PFCOUNT").arg(keys);
        }
        let mut conn = self.conn.clone();
        let mut answers: Vec<redis::Value> = pipe.query_async(&mut conn).await?;
        let visitors = answers.split_off(ids.len());
        for per_code in answers {
            let scans: Vec<Option<u64>> =
                redis::from_redis_value(per_code).map_err(redis::RedisError::from)?;
            for (day, n) in days.iter_mut().zip(scans) {
                day.scans += n.unwrap_or(0);
            }
        }
        for (day, count) in days.iter_mut().zip(visitors) {
            day.unique_visitors =
                redis::from_redis_value(count).map_err(redis::RedisError::from)?;
        }
        Ok(days)
    }

    /// Non-empty 5-minute buckets `(bucket start, headline scans)` of the codes together that
    /// overlap `[start, end]`, oldest first. Only buckets within retention exist.
    pub async fn buckets(
        &self,
        codes: Codes<'_>,
        start: i64,
        end: i64,
    ) -> Result<Vec<(i64, u64)>, RedisAnalyticsError> {
        let ids = self.rollup_keys(codes);
        // Clamp to where buckets can exist, so a huge range does not read thousands of keys.
        let now = now_ms();
        let start = bucket_start(start).max(now - self.retention_ms() - 2 * MS_PER_DAY);
        let end = end.min(now + 2 * MS_PER_DAY);
        if start > end || ids.is_empty() {
            return Ok(Vec::new());
        }
        let mut pipe = redis::pipe();
        for id in &ids {
            for day in utc_day(start)..=utc_day(end) {
                pipe.hgetall(format!("{id}:5m:{}", day_date(day)));
            }
        }
        let mut conn = self.conn.clone();
        let days: Vec<HashMap<i64, u64>> = pipe.query_async(&mut conn).await?;
        let mut sums: BTreeMap<i64, u64> = BTreeMap::new();
        for (bucket, n) in days.into_iter().flatten() {
            if (start..=end).contains(&bucket) {
                *sums.entry(bucket).or_default() += n;
            }
        }
        Ok(sums.into_iter().collect())
    }

    /// All-time headline scans of the codes together per value of `dimension`, most first
    /// (ties by value). Unknown values are counted under "".
    pub async fn breakdown(
        &self,
        codes: Codes<'_>,
        dimension: Dimension,
    ) -> Result<Vec<(String, u64)>, RedisAnalyticsError> {
        let ids = self.rollup_keys(codes);
        if ids.is_empty() {
            return Ok(Vec::new());
        }
        let mut pipe = redis::pipe();
        for id in &ids {
            pipe.hgetall(format!("{id}:counts"));
        }
        let mut conn = self.conn.clone();
        let codes: Vec<Vec<(String, String)>> = pipe.query_async(&mut conn).await?;
        let field_prefix = format!("{}:", dimension.name());
        Ok(ranked(codes.into_iter().flatten().filter_map(
            |(field, count)| {
                let value = field.strip_prefix(&field_prefix)?;
                Some((value.to_owned(), count.parse().ok()?))
            },
        )))
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn the_script_and_the_rust_side_agree_on_the_argument_layout() {
        assert!(APPLY_LUA.contains(&format!("local EVENT_FIELDS = {FIELDS_PER_EVENT}\n")));
        assert!(APPLY_LUA.starts_with("#!lua\n"));
    }
}
