//! The embedded aggregator's storage, in `DATA_DIR`: every event appended to a log
//! (`events/`), the counts (per code and per team) and a per-code index of the events kept in
//! memory and checkpointed (`analytics.checkpoint`), so that opening replays only the log written
//! since.
//!
//! A batch is one append and one fsync; an event whose id is already stored is a replay and is
//! neither stored nor counted again. Records the log cannot read are skipped and counted
//! ([`Analytics::skipped_at_open`]); the checkpoint keeps what it covers whatever became of the
//! log, so a damaged or shortened log never lowers the counts. With `event_log.retention_days`
//! set, closed segments older than that are removed once a checkpoint covers them.

mod breakdowns;
mod checkpoint;
mod chunked_places;
mod code_stats;
mod event_log;
mod event_places;
mod event_record;
mod framing;
mod headline_counts;
mod reads;
mod rollups;
mod seen_events;
mod team_rollups;
mod top_codes;

use std::collections::{HashMap, HashSet, VecDeque};
use std::path::{Path, PathBuf};
use std::sync::{Arc, Mutex, RwLock};
use std::time::{Duration, Instant, SystemTime};

use chrono_tz::Tz;
use compact_str::CompactString;
use redb::{Database, ReadableDatabase, ReadableTable, TableDefinition};
use serde::{Deserialize, Serialize};

use self::breakdowns::Interner;
use self::checkpoint::Saved;
use self::code_stats::{CodeStats, PreviousCodeStats};
pub use self::event_log::Skipped;
use self::event_log::{EventLog, LogReader, Position};
use self::headline_counts::HeadlineCounts;
use self::rollups::{Counted, Rollups};
use self::seen_events::SeenEvents;
use self::team_rollups::{RollupsAlone, TeamRollups, WithoutEvents};
use super::contract::{Codes, DayCounts, EventsOf};
use super::local_days::LocalDays;
use super::rollup::{Dimension, Overview};
use super::team_zones::TeamZones;
use super::visitors::VisitorSketch;
use crate::data_dir::create_private_dir;
use crate::model::ScanEvent;

/// The event log's directory in the data directory.
pub const EVENTS_DIR: &str = "events";
/// The checkpoint's file in the data directory.
pub const CHECKPOINT_FILE: &str = "analytics.checkpoint";

/// A checkpoint is written once the log has grown by this much since the last one, or by twice
/// the last checkpoint's size when that is more: opening then replays a bounded tail, and a
/// checkpoint costs at most about half as much as replaying what it saves.
const CHECKPOINT_AFTER_BYTES: u64 = 128 << 20;
/// How often, while scans arrive, segments past the retention are looked for (and at start).
const RETENTION_CHECK_EVERY: Duration = Duration::from_secs(3600);

/// Where an event is among a code's: its scan time, and (segment, offset) in the log, which
/// orders the events of one millisecond.
pub type EventPlace = (i64, (u32, u32));

#[derive(Debug, thiserror::Error)]
pub enum AnalyticsError {
    #[error("analytics storage error: {0}")]
    Db(#[from] redb::Error),
    #[error("a stored scan event could not be read: {0}")]
    Corrupt(#[from] serde_json::Error),
    #[error("i/o error: {0}")]
    Io(#[from] std::io::Error),
    #[error("cannot import the analytics of an earlier version from {path}: {source}")]
    Import {
        path: PathBuf,
        source: Box<AnalyticsError>,
    },
    #[error("the analytics (Redis) are unavailable: {0}")]
    Redis(#[from] super::redis::RedisAnalyticsError),
    #[error("the teams of the codes could not be read from the store: {0}")]
    Store(#[from] crate::store::StoreError),
}

from_redb_errors!(AnalyticsError);

/// Stats by rollup id (a code's id, or a team's orphan scans'), looked up once a scan: an id fits
/// inline in the key.
type ByRollupId<V> = HashMap<CompactString, V, hashbrown::DefaultHashBuilder>;

/// What is kept in memory, and checkpointed.
#[derive(Default, Serialize, Deserialize)]
struct State {
    /// By rollup id: a code's id, or a team's orphan scans' (`ScanEvent::rollup_id`).
    codes: ByRollupId<CodeStats>,
    seen: SeenEvents,
    /// Every team's codes' scans together, counted with them.
    teams: TeamRollups,
    #[serde(skip)]
    interner: Interner,
    #[serde(skip)]
    days: LocalDays,
}

/// What version 4 of the checkpoint held: no index of each team's events.
#[derive(Deserialize)]
struct StateV4 {
    codes: ByRollupId<CodeStats>,
    seen: SeenEvents,
    teams: WithoutEvents,
}

/// What version 3 of the checkpoint held: no headline counts per team.
#[derive(Deserialize)]
struct StateV3 {
    codes: ByRollupId<CodeStats>,
    seen: SeenEvents,
    teams: RollupsAlone,
}

/// What version 2 of the checkpoint held: no team rollups.
#[derive(Deserialize)]
struct StateV2 {
    codes: ByRollupId<CodeStats>,
    seen: SeenEvents,
}

/// What version 1 of the checkpoint held.
#[derive(Deserialize)]
struct StateV1 {
    codes: ByRollupId<PreviousCodeStats>,
    seen: SeenEvents,
}

impl State {
    /// The state of version 4's checkpoint with each team's event index merged from its codes'
    /// (the store says which team each code is in).
    fn with_team_events(previous: StateV4, zones: &dyn TeamZones) -> Result<Self, AnalyticsError> {
        let codes = previous.codes.iter().map(|(id, s)| (&**id, s));
        let teams = TeamRollups::with_events(previous.teams, codes, zones)?;
        Ok(State {
            codes: previous.codes,
            seen: previous.seen,
            teams,
            ..State::default()
        })
    }

    /// The state of version 3's checkpoint with the headline counts of each team added from its
    /// rollups and its codes' (the store says which team each code is in).
    fn with_team_counts(previous: StateV3, zones: &dyn TeamZones) -> Result<Self, AnalyticsError> {
        let codes = previous.codes.iter().map(|(id, s)| (&**id, s));
        let teams = TeamRollups::with_counts(previous.teams, codes, zones)?;
        Ok(State {
            codes: previous.codes,
            seen: previous.seen,
            teams,
            ..State::default()
        })
    }

    /// The state of version 2's checkpoint with the team rollups merged from its codes' (the
    /// store says which team each code is in), so team-wide answers stay what they were.
    fn with_team_rollups(previous: StateV2, zones: &dyn TeamZones) -> Result<Self, AnalyticsError> {
        let codes = previous.codes.iter().map(|(id, s)| (&**id, s));
        let teams = TeamRollups::build(codes, zones)?;
        Ok(State {
            codes: previous.codes,
            seen: previous.seen,
            teams,
            ..State::default()
        })
    }

    /// The state of version 1's checkpoint that covers the log up to `covers`: its totals and
    /// replay protection, which hold events the log may no longer have (removed by retention),
    /// and the rollups (the teams' too) and positions rebuilt from the events before `covers`
    /// that the log still holds.
    fn upgrade(
        previous: StateV1,
        reader: &LogReader,
        covers: Position,
        zones: &dyn TeamZones,
    ) -> Result<Self, AnalyticsError> {
        let mut state = State::default();
        replay(reader, Position::START, Some(covers), &mut state, zones)?;
        for (id, totals) in &previous.codes {
            state
                .codes
                .entry(id.clone())
                .or_default()
                .take_totals(totals);
        }
        state.seen = previous.seen;
        tracing::info!("the analytics checkpoint of an earlier version was upgraded: its counts are kept, the rollups rebuilt from the event log");
        Ok(state)
    }

    fn add(&mut self, event: &ScanEvent, at: Position, zone: Tz) {
        let counted = self.counted(event, zone);
        self.count(event, at, counted.as_ref());
    }

    /// Counts new events stored at `positions`, asking for the memory of each (its code's
    /// stats, cold for a random code) a few events before its turn: what an event adds to
    /// rollups is worked out as it is asked for, and kept until its turn.
    fn add_all<'e>(
        &mut self,
        events: &[&'e ScanEvent],
        positions: impl IntoIterator<Item = Position>,
        zone_of: impl Fn(&'e ScanEvent) -> Tz,
    ) {
        let mut ahead = VecDeque::with_capacity(2 * PREFETCH_AHEAD + 1);
        for event in events.iter().take(2 * PREFETCH_AHEAD) {
            ahead.push_back(self.counted(event, zone_of(event)));
        }
        for (i, (event, at)) in events.iter().zip(positions).enumerate() {
            // `ahead` holds what events i.. add, up to i + 2 * PREFETCH_AHEAD once pushed.
            if let Some(next) = events.get(i + 2 * PREFETCH_AHEAD) {
                let counted = self.counted(next, zone_of(next));
                self.prefetch(next, counted.as_ref());
                ahead.push_back(counted);
            }
            if let Some(next) = events.get(i + PREFETCH_AHEAD) {
                self.prefetch_behind(next, ahead[PREFETCH_AHEAD].as_ref());
            }
            let counted = ahead.pop_front().flatten();
            self.count(event, at, counted.as_ref());
        }
    }

    /// What a headline scan adds to rollups (its day in `zone`); None for a bot or a HEAD
    /// request, which are not rolled up.
    fn counted(&mut self, event: &ScanEvent, zone: Tz) -> Option<Counted> {
        event.is_headline().then(|| {
            let day = self.days.of(event.scan_time, zone);
            Counted::of(event, day, &mut self.interner)
        })
    }

    /// Counts a new event stored at `at`, `counted` being what it adds to rollups.
    fn count(&mut self, event: &ScanEvent, at: Position, counted: Option<&Counted>) {
        self.seen.insert(&event.event_id);
        let id = event.rollup_id();
        let stats = match self.codes.get_mut(id.as_ref()) {
            Some(stats) => stats,
            None => self.codes.entry(id.as_ref().into()).or_default(),
        };
        stats.add(event, at, counted);
        // Orphan scans are no code's: they stay out of the team's codes' totals.
        if !event.orphan {
            let code = (id.as_ref(), stats.counts().scans);
            self.teams.add(&event.team_id, event, at, counted, code);
        }
    }

    /// Starts loading what counting `event` will touch (its code's stats, cold for a random
    /// code), so that it is in the cache when its turn comes.
    fn prefetch(&self, event: &ScanEvent, counted: Option<&Counted>) {
        if let Some(stats) = self.stats_of(event) {
            stats.prefetch(counted);
        }
    }

    /// The second step of `prefetch`, `PREFETCH_AHEAD` events later: what is behind the places
    /// it asked for (a code's visitors of the day).
    fn prefetch_behind(&self, event: &ScanEvent, counted: Option<&Counted>) {
        if let Some(stats) = self.stats_of(event) {
            stats.prefetch_behind(counted);
        }
    }

    /// The stats the event is counted in; None before its code's first scan.
    fn stats_of(&self, event: &ScanEvent) -> Option<&CodeStats> {
        self.codes.get(event.rollup_id().as_ref())
    }

    /// The rollups to sum for `codes`: those of the codes that were scanned, or the team's.
    fn rollups_of<'a>(&'a self, codes: Codes<'a>) -> Vec<&'a Rollups> {
        match codes {
            Codes::These(ids) => ids
                .iter()
                .filter_map(|id| self.codes.get(id.as_str()))
                .map(CodeStats::rollups)
                .collect(),
            Codes::Team(team_id) => self.teams.of(team_id).into_iter().collect(),
        }
    }

    /// Forgets where the events of the segments `gone` were; their counts stay.
    fn forget_segments(&mut self, gone: impl Fn(u32) -> bool) {
        for stats in self.codes.values_mut() {
            stats.events_mut().forget_in(&gone);
        }
        self.teams.forget_events_in(&gone);
    }
}

/// How many scans ahead of the one being counted the second prefetch step works (the first works
/// twice as far ahead): enough for memory to answer while the scans between are counted.
const PREFETCH_AHEAD: usize = 8;

struct Writer {
    log: EventLog,
    /// Log bytes written since the last checkpoint, and that checkpoint's size.
    unsaved_bytes: u64,
    checkpoint_bytes: u64,
    /// What the last checkpoint covers: segments before it may be removed.
    covered: Position,
    /// `event_log.retention_days`; None: events are kept for good.
    retention: Option<Duration>,
    retention_checked: Instant,
}

pub struct Analytics {
    writer: Mutex<Writer>,
    state: RwLock<State>,
    reader: LogReader,
    checkpoint_path: PathBuf,
    skipped_at_open: Skipped,
    /// The zone each team's scans are dated in.
    zones: Arc<dyn TeamZones>,
}

/// The zones of the teams of a batch, each asked once.
fn zones_of<'e>(
    zones: &dyn TeamZones,
    events: impl IntoIterator<Item = &'e ScanEvent>,
) -> HashMap<&'e str, Tz> {
    let mut found = HashMap::new();
    for event in events {
        found
            .entry(&*event.team_id)
            .or_insert_with(|| zones.zone(&event.team_id));
    }
    found
}

impl Analytics {
    /// Opens the analytics in `dir`, keeping detailed events `retention_days` (0: for good); a
    /// scan's day is its date in its team's zone (`zones`, asked on this thread: open and apply
    /// on a blocking thread).
    pub fn open(
        dir: &Path,
        retention_days: u32,
        zones: Arc<dyn TeamZones>,
    ) -> Result<Self, AnalyticsError> {
        create_private_dir(dir)?;
        let checkpoint_path = dir.join(CHECKPOINT_FILE);
        let saved =
            checkpoint::load::<State, StateV4, StateV3, StateV2, StateV1>(&checkpoint_path)?;
        let had_checkpoint = saved.is_some();
        let covers = saved
            .as_ref()
            .map_or(Position::START, |(covers, _)| *covers);
        let log = EventLog::open(&dir.join(EVENTS_DIR), covers)?;
        let reader = log.reader();
        let mut state = match saved {
            None => State::default(),
            Some((_, Saved::Current(state))) => state,
            Some((_, Saved::Version4(old))) => State::with_team_events(old, &*zones)?,
            Some((_, Saved::Version3(old))) => State::with_team_counts(old, &*zones)?,
            Some((_, Saved::Version2(old))) => State::with_team_rollups(old, &*zones)?,
            Some((_, Saved::Version1(old))) => State::upgrade(old, &reader, covers, &*zones)?,
        };
        let (replayed, skipped) = replay(&reader, covers, None, &mut state, &*zones)?;
        forget_missing_segments(&reader, &mut state, had_checkpoint)?;
        let checkpoint_bytes = std::fs::metadata(&checkpoint_path).map_or(0, |m| m.len());
        let analytics = Self {
            writer: Mutex::new(Writer {
                log,
                unsaved_bytes: replayed,
                checkpoint_bytes,
                covered: covers,
                retention: (retention_days > 0)
                    .then(|| Duration::from_secs(u64::from(retention_days) * 86_400)),
                retention_checked: Instant::now(),
            }),
            state: RwLock::new(state),
            reader,
            checkpoint_path,
            skipped_at_open: skipped,
            zones,
        };
        analytics.import_redb_file(&dir.join("analytics.redb"))?;
        let mut writer = analytics.writer.lock().unwrap_or_else(|e| e.into_inner());
        analytics.remove_expired_segments(&mut writer)?;
        drop(writer);
        Ok(analytics)
    }

    /// The records the event log could not read when it was opened (damage), and their bytes.
    pub fn skipped_at_open(&self) -> Skipped {
        self.skipped_at_open
    }

    /// Stores and counts a batch. Returns how many events were new.
    pub fn apply(&self, events: &[ScanEvent]) -> Result<usize, AnalyticsError> {
        let mut writer = self.writer.lock().unwrap_or_else(|e| e.into_inner());
        let new: Vec<&ScanEvent> = {
            let state = self.state.read().unwrap_or_else(|e| e.into_inner());
            let mut in_batch = HashSet::with_hasher(hashbrown::DefaultHashBuilder::default());
            events
                .iter()
                .filter(|e| !state.seen.contains(&e.event_id) && in_batch.insert(&e.event_id))
                .collect()
        };
        if new.is_empty() {
            return Ok(0);
        }
        let zones = zones_of(&*self.zones, new.iter().copied());
        let before = writer.log.appended();
        let positions = writer
            .log
            .append(&new, |event, out| event_record::encode(event, out))?;
        {
            let mut state = self.state.write().unwrap_or_else(|e| e.into_inner());
            state.add_all(&new, positions, |event| zones[&*event.team_id]);
        }
        writer.unsaved_bytes += writer.log.appended() - before;
        // The events are stored: a checkpoint or a removal that fails now is only retried later.
        if writer.unsaved_bytes >= CHECKPOINT_AFTER_BYTES.max(2 * writer.checkpoint_bytes) {
            if let Err(e) = self.save_checkpoint(&mut writer) {
                tracing::warn!(error = %e, "cannot write the analytics checkpoint");
            }
        }
        if writer.retention_checked.elapsed() >= RETENTION_CHECK_EVERY {
            if let Err(e) = self.remove_expired_segments(&mut writer) {
                tracing::warn!(error = %e, "cannot remove event log segments past the retention");
            }
        }
        Ok(new.len())
    }

    /// Writes a checkpoint, so that the next start replays nothing (done when stopping).
    pub fn checkpoint(&self) -> Result<(), AnalyticsError> {
        let mut writer = self.writer.lock().unwrap_or_else(|e| e.into_inner());
        if writer.unsaved_bytes > 0 {
            self.save_checkpoint(&mut writer)?;
        }
        Ok(())
    }

    fn save_checkpoint(&self, writer: &mut Writer) -> Result<(), AnalyticsError> {
        let state = self.state.read().unwrap_or_else(|e| e.into_inner());
        let covers = writer.log.end();
        checkpoint::save(&self.checkpoint_path, covers, &*state)?;
        writer.unsaved_bytes = 0;
        writer.covered = covers;
        writer.checkpoint_bytes = std::fs::metadata(&self.checkpoint_path).map_or(0, |m| m.len());
        Ok(())
    }

    /// Removes the closed segments last written more than the retention ago, after a checkpoint
    /// that covers them: the counts stay, only their detailed events go.
    fn remove_expired_segments(&self, writer: &mut Writer) -> Result<(), AnalyticsError> {
        writer.retention_checked = Instant::now();
        let Some(retention) = writer.retention else {
            return Ok(());
        };
        let cutoff = SystemTime::now()
            .checked_sub(retention)
            .unwrap_or(SystemTime::UNIX_EPOCH);
        let expired = writer.log.closed_segments_written_before(cutoff)?;
        let Some(&newest) = expired.last() else {
            return Ok(());
        };
        if writer.covered.segment <= newest {
            self.save_checkpoint(writer)?;
        }
        for &segment in &expired {
            writer.log.remove_segment(segment)?;
            let file = self.reader.segment_path(segment);
            tracing::info!(file = %file.display(), "removed an event log segment past event_log.retention_days; its counts are kept in the checkpoint");
        }
        let mut state = self.state.write().unwrap_or_else(|e| e.into_inner());
        state.forget_segments(|segment| expired.binary_search(&segment).is_ok());
        Ok(())
    }

    /// The team's most scanned codes, most first, at most `limit`.
    pub fn top_codes(&self, team_id: &str, limit: usize) -> Vec<(String, u64)> {
        let state = self.state.read().unwrap_or_else(|e| e.into_inner());
        let ranked = state.teams.top_codes(team_id).take(limit);
        ranked.map(|(id, scans)| (id.to_owned(), scans)).collect()
    }

    /// Headline counts of all a team's codes together as of `now_ms`, "today" being the date in
    /// `zone` then.
    pub fn team_overview(&self, team_id: &str, now_ms: i64, zone: Tz) -> Overview {
        let state = self.state.read().unwrap_or_else(|e| e.into_inner());
        state.teams.overview(team_id, now_ms, zone)
    }

    /// Headline counts of a code as of `now_ms`, "today" being the date in `zone` then.
    pub fn overview(&self, qr_id: &str, now_ms: i64, zone: Tz) -> Overview {
        let state = self.state.read().unwrap_or_else(|e| e.into_inner());
        match state.codes.get(qr_id) {
            Some(stats) => stats.overview(now_ms, zone),
            None => HeadlineCounts::none_yet(now_ms, zone),
        }
    }

    /// Scans and unique visitors of the codes together on each day `first..=last` (at least one
    /// day, oldest first).
    pub fn days(&self, codes: Codes<'_>, first: i64, last: i64) -> Vec<DayCounts> {
        let len = usize::try_from(last - first + 1).unwrap_or(0);
        let mut days: Vec<DayCounts> = (0..len as i64)
            .map(|i| DayCounts {
                day: first + i,
                ..DayCounts::default()
            })
            .collect();
        let mut visitors = vec![VisitorSketch::default(); len];
        let state = self.state.read().unwrap_or_else(|e| e.into_inner());
        for rollups in state.rollups_of(codes) {
            rollups.add_days(&mut days, &mut visitors);
        }
        drop(state);
        for (day, sketch) in days.iter_mut().zip(&visitors) {
            day.unique_visitors = sketch.count();
        }
        days
    }

    /// The non-empty 5-minute buckets of the codes together that overlap `[start, end]`.
    pub fn buckets(&self, codes: Codes<'_>, start: i64, end: i64) -> Vec<(i64, u64)> {
        let start = super::rollup::bucket_start(start);
        let mut sums: std::collections::BTreeMap<i64, u64> = Default::default();
        let state = self.state.read().unwrap_or_else(|e| e.into_inner());
        for rollups in state.rollups_of(codes) {
            for (bucket, n) in rollups.buckets(start, end) {
                *sums.entry(bucket).or_default() += n;
            }
        }
        sums.into_iter().collect()
    }

    /// All-time scans of the codes together per value of `dimension`, most first.
    pub fn breakdown(&self, codes: Codes<'_>, dimension: Dimension) -> Vec<(String, u64)> {
        let state = self.state.read().unwrap_or_else(|e| e.into_inner());
        super::contract::ranked(
            state
                .rollups_of(codes)
                .into_iter()
                .flat_map(|rollups| rollups.breakdown(dimension)),
        )
    }

    /// A code's events with `start <= scanTime <= end`, newest first, at most `limit`. Events
    /// the log can no longer read (damaged, or removed by retention) are left out.
    pub fn events(
        &self,
        qr_id: &str,
        start: i64,
        end: i64,
        limit: usize,
    ) -> Result<Vec<ScanEvent>, AnalyticsError> {
        let events = self.events_before(EventsOf::Code(qr_id), start, end, None, limit)?;
        Ok(events.into_iter().map(|(_, event)| event).collect())
    }

    /// A page of a code's or a team's events with `start <= scanTime <= end`, newest first,
    /// older than `before` (where an earlier page ended), at most `limit`; each with its place.
    pub fn events_before(
        &self,
        of: EventsOf<'_>,
        start: i64,
        end: i64,
        before: Option<EventPlace>,
        limit: usize,
    ) -> Result<Vec<(EventPlace, ScanEvent)>, AnalyticsError> {
        let before = before.map(|(time, (segment, offset))| (time, Position { segment, offset }));
        let places = {
            let state = self.state.read().unwrap_or_else(|e| e.into_inner());
            match of {
                EventsOf::Code(id) => state
                    .codes
                    .get(id)
                    .map(|stats| stats.events().before(start, end, before, limit)),
                EventsOf::Team(id) => state
                    .teams
                    .events_of(id)
                    .map(|events| events.before(start, end, before, limit)),
            }
        };
        self.read_events(places.unwrap_or_default())
    }

    /// The events at `places`, read from the log; one that cannot be read is left out.
    fn read_events(
        &self,
        places: Vec<(i64, Position)>,
    ) -> Result<Vec<(EventPlace, ScanEvent)>, AnalyticsError> {
        let positions: Vec<Position> = places.iter().map(|(_, at)| *at).collect();
        let records = self.reader.read_at(&positions)?;
        Ok(places
            .into_iter()
            .zip(records)
            .filter_map(|((time, at), record)| match event_record::decode(&record?) {
                Ok(event) => Some(((time, (at.segment, at.offset)), event)),
                Err(e) => {
                    tracing::warn!(error = %e, "a stored scan event is unreadable; it is left out");
                    None
                }
            })
            .collect())
    }

    /// Takes over the events of the redb file earlier versions kept the analytics in, and
    /// renames it out of the way.
    fn import_redb_file(&self, path: &Path) -> Result<(), AnalyticsError> {
        if !path.exists() {
            return Ok(());
        }
        let imported = self
            .import_redb_events(path)
            .map_err(|source| AnalyticsError::Import {
                path: path.to_owned(),
                source: Box::new(source),
            })?;
        self.checkpoint()?;
        fs_err::rename(path, path.with_extension("redb.imported"))?;
        tracing::info!(events = imported, file = %path.display(), "analytics of an earlier version imported");
        Ok(())
    }

    fn import_redb_events(&self, path: &Path) -> Result<usize, AnalyticsError> {
        /// (qrId, scanTime, eventId) -> the event as JSON.
        const EVENTS: TableDefinition<(&str, i64, &str), &[u8]> = TableDefinition::new("events");
        let db = Database::open(path)?;
        let txn = db.begin_read()?;
        let mut imported = 0usize;
        if let Ok(table) = txn.open_table(EVENTS) {
            const BATCH: usize = 4096;
            let mut batch = Vec::with_capacity(BATCH);
            for entry in table.iter()? {
                batch.push(serde_json::from_slice::<ScanEvent>(entry?.1.value())?);
                if batch.len() == BATCH {
                    imported += self.apply(&std::mem::take(&mut batch))?;
                }
            }
            imported += self.apply(&batch)?;
        }
        Ok(imported)
    }
}

/// Counts every readable event of the log from `from` on (and before `until`) into `state`;
/// returns the bytes replayed and what could not be read (logged, each stretch with its file and
/// offset).
fn replay(
    reader: &LogReader,
    from: Position,
    until: Option<Position>,
    state: &mut State,
    zones: &dyn TeamZones,
) -> Result<(u64, Skipped), AnalyticsError> {
    let mut replayed = 0u64;
    let mut unreadable = Skipped::default();
    let mut team_zones: HashMap<String, Tz> = HashMap::new();
    let mut skipped = reader.replay(from, |at, record| match event_record::decode(record) {
        _ if until.is_some_and(|until| at >= until) => {}
        Ok(event) => {
            let zone = *team_zones
                .entry(event.team_id.to_string())
                .or_insert_with(|| zones.zone(&event.team_id));
            state.add(&event, at, zone);
            replayed += record.len() as u64;
        }
        Err(e) => {
            tracing::warn!(?at, error = %e, "skipping an unreadable scan event in the event log");
            unreadable.add(1, record.len());
        }
    })?;
    skipped.add(unreadable.records as usize, unreadable.bytes as usize);
    if skipped.records > 0 {
        tracing::warn!(
            records = skipped.records,
            bytes = skipped.bytes,
            "the event log is damaged: skipped {} records ({} bytes) that could not be read; the \
             damaged bytes are left in the files for a look",
            skipped.records,
            skipped.bytes
        );
    }
    Ok((replayed, skipped))
}

/// Forgets where the events of segments that are gone were (removed by retention, or lost);
/// without a checkpoint, says what the counts then lack.
fn forget_missing_segments(
    reader: &LogReader,
    state: &mut State,
    had_checkpoint: bool,
) -> Result<(), AnalyticsError> {
    let existing = reader.segments()?;
    let contiguous = existing.windows(2).all(|w| w[1] == w[0] + 1);
    if existing.first() == Some(&Position::START.segment) && contiguous {
        return Ok(());
    }
    if !had_checkpoint {
        tracing::warn!(first_segment = ?existing.first(), "the event log's older segments are gone and there is no checkpoint: the counts hold only the events still in the log");
    }
    state.forget_segments(|segment| existing.binary_search(&segment).is_err());
    Ok(())
}

#[cfg(test)]
mod tests {
    use super::top_codes::TopCodes;
    use super::*;
    use crate::clock::MS_PER_DAY;

    fn utc() -> Arc<dyn TeamZones> {
        Arc::new(|_: &str| Tz::UTC)
    }

    fn event(id: &str, qr: &str, time: i64, bot: bool) -> ScanEvent {
        ScanEvent {
            event_id: id.into(),
            qr_id: qr.into(),
            team_id: "t".into(),
            display_id: "d".into(),
            scan_time: time,
            device: "mobile".into(),
            browser: "Safari".into(),
            os: "iOS".into(),
            country: "DE".into(),
            city: "Berlin".into(),
            ip_address: "127.0.0.1".into(),
            referrer: "".into(),
            user_agent: "ua".into(),
            bot,
            head: false,
            orphan: false,
        }
    }

    #[test]
    fn today_and_yesterday_come_from_per_day_counts() {
        let dir = tempfile::tempdir().unwrap();
        let analytics = Analytics::open(dir.path(), 0, utc()).unwrap();
        let now = 20_000 * MS_PER_DAY + 3_600_000;
        let batch = [
            event("e1", "qr_a", now, false),
            event("e2", "qr_a", now - 2 * 3_600_000, false), // yesterday, 23:00
            event("e3", "qr_a", now - 3 * MS_PER_DAY, false),
            event("e4", "qr_a", now, true),
            event("e5", "qr_b", now, false),
        ];
        assert_eq!(analytics.apply(&batch).unwrap(), 5);
        let a = analytics.overview("qr_a", now, Tz::UTC);
        assert_eq!(
            (a.total_scans, a.today_scans, a.yesterday_scans, a.bot_scans),
            (3, 1, 1, 1)
        );
        assert_eq!(a.last_scan_time, Some(now));
        // A day later, today's scan is yesterday's.
        let later = analytics.overview("qr_a", now + MS_PER_DAY, Tz::UTC);
        assert_eq!((later.today_scans, later.yesterday_scans), (0, 1));
        let none = analytics.overview("qr_none", now, Tz::UTC);
        assert_eq!((none.total_scans, none.last_scan_time), (0, None));
    }

    #[test]
    fn each_event_of_a_large_batch_is_rolled_up_into_its_own_code() {
        let dir = tempfile::tempdir().unwrap();
        let analytics = Analytics::open(dir.path(), 0, utc()).unwrap();
        let now = 20_000 * MS_PER_DAY;
        // Larger than what is asked for ahead; every fifth a bot, each code's country its own.
        let batch: Vec<ScanEvent> = (0..100)
            .map(|i| ScanEvent {
                country: format!("C{}", i % 7).into(),
                ..event(
                    &format!("e{i}"),
                    &format!("qr_{}", i % 7),
                    now + i,
                    i % 5 == 0,
                )
            })
            .collect();
        assert_eq!(analytics.apply(&batch).unwrap(), 100);
        for code in 0..7i64 {
            let id = format!("qr_{code}");
            let scans = (0..100).filter(|i| i % 7 == code && i % 5 != 0).count() as u64;
            let countries =
                analytics.breakdown(Codes::These(std::slice::from_ref(&id)), Dimension::Country);
            assert_eq!(countries, vec![(format!("C{code}"), scans)], "{id}");
        }
    }

    #[test]
    fn a_replayed_event_is_counted_once() {
        let dir = tempfile::tempdir().unwrap();
        let analytics = Analytics::open(dir.path(), 0, utc()).unwrap();
        let e = event("e1", "qr_a", 1_000, false);
        assert_eq!(analytics.apply(std::slice::from_ref(&e)).unwrap(), 1);
        assert_eq!(analytics.apply(&[e.clone(), e.clone()]).unwrap(), 0);
        assert_eq!(analytics.overview("qr_a", 1_000, Tz::UTC).total_scans, 1);
        assert_eq!(analytics.events("qr_a", 0, i64::MAX, 10).unwrap(), vec![e]);
    }

    #[test]
    fn events_come_newest_first_within_the_range() {
        let dir = tempfile::tempdir().unwrap();
        let analytics = Analytics::open(dir.path(), 0, utc()).unwrap();
        let batch: Vec<_> = (0..5)
            .map(|i| event(&format!("e{i}"), "qr_a", 1_000 + i, false))
            .chain([event("x", "qr_b", 1_002, false)])
            .collect();
        analytics.apply(&batch).unwrap();
        let times: Vec<i64> = analytics
            .events("qr_a", 1_001, 1_003, 10)
            .unwrap()
            .iter()
            .map(|e| e.scan_time)
            .collect();
        assert_eq!(times, vec![1_003, 1_002, 1_001]);
        assert_eq!(analytics.events("qr_a", 0, i64::MAX, 2).unwrap().len(), 2);
        assert!(analytics.events("qr_a", 5, 1, 10).unwrap().is_empty());
    }

    fn counts(analytics: &Analytics, qr: &str) -> (u64, u64, usize) {
        let o = analytics.overview(qr, 1_000, Tz::UTC);
        let events = analytics.events(qr, 0, i64::MAX, usize::MAX).unwrap();
        (o.total_scans, o.bot_scans, events.len())
    }

    #[test]
    fn counts_events_and_replay_protection_survive_reopening_with_or_without_a_checkpoint() {
        let dir = tempfile::tempdir().unwrap();
        let hex = |n: u128| format!("{:032x}", (1u128 << 64) | n);
        let first: Vec<_> = (0..100)
            .map(|i| event(&hex(i), "qr_a", 1_000, i % 10 == 0))
            .collect();
        let analytics = Analytics::open(dir.path(), 0, utc()).unwrap();
        assert_eq!(analytics.apply(&first).unwrap(), 100);
        analytics.checkpoint().unwrap();
        // After the checkpoint: only in the log.
        let second: Vec<_> = (100..150)
            .map(|i| event(&hex(i), "qr_a", 1_000, false))
            .collect();
        assert_eq!(analytics.apply(&second).unwrap(), 50);
        drop(analytics);

        let reopened = Analytics::open(dir.path(), 0, utc()).unwrap();
        assert_eq!(counts(&reopened, "qr_a"), (140, 10, 150));
        assert_eq!(reopened.apply(&first[..5]).unwrap(), 0);
        assert_eq!(reopened.apply(&second[45..]).unwrap(), 0);
        drop(reopened);

        std::fs::remove_file(dir.path().join("analytics.checkpoint")).unwrap();
        let from_log_alone = Analytics::open(dir.path(), 0, utc()).unwrap();
        assert_eq!(counts(&from_log_alone, "qr_a"), (140, 10, 150));
        assert_eq!(from_log_alone.apply(&first).unwrap(), 0);
    }

    #[test]
    fn a_checkpoint_of_the_first_version_keeps_its_counts_and_gets_the_rollups() {
        #[derive(Serialize)]
        struct Previous<'a> {
            codes: HashMap<&'a str, PreviousCodeStats>,
            seen: &'a SeenEvents,
        }
        let dir = tempfile::tempdir().unwrap();
        let now = 20_000 * MS_PER_DAY + 3_600_000;
        let kept: Vec<_> = (0..10)
            .map(|i| event(&format!("{:032x}", (1u128 << 64) | i), "qr_a", now, false))
            .collect();
        let analytics = Analytics::open(dir.path(), 0, utc()).unwrap();
        analytics.apply(&kept).unwrap();
        // What version 1 wrote: 15 more scans than the log holds (their segments removed).
        let covers = analytics.writer.lock().unwrap().log.end();
        let totals = PreviousCodeStats {
            scans: 25,
            bot_scans: 2,
            last_scan_time: now,
            ..PreviousCodeStats::default()
        };
        {
            let state = analytics.state.read().unwrap();
            let previous = Previous {
                codes: HashMap::from([("qr_a", totals)]),
                seen: &state.seen,
            };
            checkpoint::save_earlier(&analytics.checkpoint_path, 1, covers, &previous).unwrap();
        }
        drop(analytics);
        let after: Vec<_> = (10..12)
            .map(|i| event(&format!("{:032x}", (1u128 << 64) | i), "qr_a", now, false))
            .collect();

        let upgraded = Analytics::open(dir.path(), 0, utc()).unwrap();
        assert_eq!(upgraded.apply(&kept).unwrap(), 0, "replays are still known");
        assert_eq!(upgraded.apply(&after).unwrap(), 2);
        let o = upgraded.overview("qr_a", now, Tz::UTC);
        assert_eq!((o.total_scans, o.bot_scans, o.today_scans), (27, 2, 12));
        let ids = ["qr_a".to_owned()];
        assert_eq!(
            upgraded.days(Codes::These(&ids), 20_000, 20_000)[0].unique_visitors,
            1
        );
        let team = upgraded.days(Codes::Team("t"), 20_000, 20_000)[0];
        assert_eq!((team.scans, team.unique_visitors), (12, 1));
        assert_eq!(upgraded.events("qr_a", 0, i64::MAX, 100).unwrap().len(), 12);
    }

    /// Teams as a store knows them: each code's, in UTC.
    struct KnownCodes(HashMap<&'static str, &'static str>);

    impl TeamZones for KnownCodes {
        fn zone(&self, _team_id: &str) -> Tz {
            Tz::UTC
        }

        fn teams_of(
            &self,
            codes: &[&str],
        ) -> Result<HashMap<String, String>, crate::store::StoreError> {
            let known = codes
                .iter()
                .filter_map(|c| Some((c.to_string(), self.0.get(c)?)));
            Ok(known.map(|(code, team)| (code, team.to_string())).collect())
        }
    }

    /// Every team-wide read of `codes`, at `now`.
    fn read_all(a: &Analytics, codes: Codes<'_>, now: i64) -> impl PartialEq + std::fmt::Debug {
        let today = now / MS_PER_DAY;
        let breakdowns: Vec<_> = Dimension::ALL
            .iter()
            .map(|d| a.breakdown(codes, *d))
            .collect();
        (
            a.days(codes, today - 2, today),
            a.buckets(codes, now - MS_PER_DAY, now + MS_PER_DAY),
            breakdowns,
        )
    }

    #[test]
    fn a_checkpoint_without_team_rollups_gets_them_from_its_codes() {
        #[derive(Serialize)]
        struct Previous<'a> {
            codes: &'a ByRollupId<CodeStats>,
            seen: &'a SeenEvents,
        }
        let dir = tempfile::tempdir().unwrap();
        let now = 20_000 * MS_PER_DAY + 3_600_000;
        let scan = |n: u128, qr: &str, team: &str, time: i64| ScanEvent {
            team_id: team.into(),
            ip_address: format!("10.0.0.{}", n % 3).into(),
            country: ["DE", "FR"][n as usize % 2].into(),
            ..event(&format!("{:032x}", (1u128 << 64) | n), qr, time, false)
        };
        let mut batch: Vec<_> = (0..6)
            .map(|n| {
                scan(
                    n,
                    ["qr_a", "qr_b"][n as usize % 2],
                    "t",
                    now - n as i64 * 3_600_000,
                )
            })
            .chain([
                scan(6, "qr_c", "u", now),
                scan(7, "qr_c", "u", now - MS_PER_DAY),
            ])
            .collect();
        batch.push(ScanEvent {
            orphan: true,
            ..scan(8, "", "t", now)
        });
        let analytics = Analytics::open(dir.path(), 0, utc()).unwrap();
        analytics.apply(&batch).unwrap();
        let codes_of_t = ["qr_a".to_owned(), "qr_b".to_owned()];
        let codes_of_u = ["qr_c".to_owned()];
        let t = read_all(&analytics, Codes::These(&codes_of_t), now);
        let u = read_all(&analytics, Codes::These(&codes_of_u), now);
        // What version 2 wrote: the per-code rollups alone.
        let covers = analytics.writer.lock().unwrap().log.end();
        {
            let state = analytics.state.read().unwrap();
            let previous = Previous {
                codes: &state.codes,
                seen: &state.seen,
            };
            checkpoint::save_earlier(&analytics.checkpoint_path, 2, covers, &previous).unwrap();
        }
        drop(analytics);

        let store = KnownCodes(HashMap::from([("qr_a", "t"), ("qr_b", "t"), ("qr_c", "u")]));
        let upgraded = Analytics::open(dir.path(), 0, Arc::new(store)).unwrap();
        assert_eq!(read_all(&upgraded, Codes::Team("t"), now), t);
        assert_eq!(read_all(&upgraded, Codes::Team("u"), now), u);
        let t_days = upgraded.days(Codes::Team("t"), now / MS_PER_DAY, now / MS_PER_DAY);
        assert_eq!((t_days[0].scans, t_days[0].unique_visitors), (2, 2));
        let t_overview = upgraded.team_overview("t", now, Tz::UTC);
        assert_eq!((t_overview.total_scans, t_overview.today_scans), (6, 2));
        // Counted on from there, and written in this version's checkpoint.
        upgraded.apply(&[scan(9, "qr_b", "t", now)]).unwrap();
        upgraded.checkpoint().unwrap();
        drop(upgraded);
        let reopened = Analytics::open(dir.path(), 0, utc()).unwrap();
        let days = reopened.days(Codes::Team("t"), now / MS_PER_DAY, now / MS_PER_DAY);
        assert_eq!(days[0].scans, 3);
        assert_eq!(read_all(&reopened, Codes::Team("u"), now), u);
    }

    #[test]
    fn a_checkpoint_without_team_headline_counts_gets_them_from_its_rollups_and_codes() {
        // (And the ranking of its codes.)
        #[derive(Serialize)]
        struct Teams<'a> {
            teams: HashMap<&'a str, &'a Rollups>,
        }
        #[derive(Serialize)]
        struct Third<'a> {
            codes: &'a ByRollupId<CodeStats>,
            seen: &'a SeenEvents,
            teams: Teams<'a>,
        }
        let dir = tempfile::tempdir().unwrap();
        let now = 20_000 * MS_PER_DAY + 3_600_000;
        let scan = |n: u128, qr: &str, team: &str, bot: bool| ScanEvent {
            team_id: team.into(),
            ..event(
                &format!("{:032x}", (1u128 << 64) | n),
                qr,
                now - n as i64,
                bot,
            )
        };
        // qr_gone's code was deleted: its scans stay in its team's rollups.
        let batch = [
            scan(1, "qr_a", "t", false),
            scan(2, "qr_a", "t", true),
            scan(3, "qr_b", "t", false),
            scan(4, "qr_gone", "t", false),
            scan(5, "qr_c", "u", true),
        ];
        let analytics = Analytics::open(dir.path(), 0, utc()).unwrap();
        analytics.apply(&batch).unwrap();
        let (t, u) = (
            analytics.team_overview("t", now, Tz::UTC),
            analytics.team_overview("u", now, Tz::UTC),
        );
        assert_eq!((t.total_scans, t.bot_scans), (3, 1));
        assert_eq!((u.total_scans, u.bot_scans), (0, 1));
        let live_ranking = analytics.top_codes("t", 10);
        assert_eq!(live_ranking.len(), 3, "qr_gone too: {live_ranking:?}");
        // What version 3 wrote: the team rollups without their headline counts.
        let covers = analytics.writer.lock().unwrap().log.end();
        {
            let state = analytics.state.read().unwrap();
            // Team u had no headline scan: version 3 kept no rollups for it.
            let third = Third {
                codes: &state.codes,
                seen: &state.seen,
                teams: Teams {
                    teams: HashMap::from([("t", state.teams.of("t").unwrap())]),
                },
            };
            checkpoint::save_earlier(&analytics.checkpoint_path, 3, covers, &third).unwrap();
        }
        drop(analytics);

        let store = KnownCodes(HashMap::from([("qr_a", "t"), ("qr_b", "t"), ("qr_c", "u")]));
        let upgraded = Analytics::open(dir.path(), 0, Arc::new(store)).unwrap();
        assert_eq!(upgraded.team_overview("t", now, Tz::UTC), t);
        assert_eq!(upgraded.team_overview("u", now, Tz::UTC), u);
        // The ranking is rebuilt from the codes the store knows: qr_gone is not among them.
        let top = |a: &Analytics| a.top_codes("t", 10);
        let ranked = |ids: &[&str]| -> Vec<(String, u64)> {
            ids.iter().map(|id| (id.to_string(), 1)).collect()
        };
        assert_eq!(top(&upgraded), ranked(&["qr_a", "qr_b"]));
        upgraded.apply(&[scan(6, "qr_b", "t", true)]).unwrap();
        upgraded.checkpoint().unwrap();
        drop(upgraded);
        let reopened = Analytics::open(dir.path(), 0, utc()).unwrap();
        let o = reopened.team_overview("t", now, Tz::UTC);
        assert_eq!((o.total_scans, o.bot_scans), (3, 2));
    }

    /// The ids of the team's events, newest first.
    fn team_event_ids(a: &Analytics, team: &str) -> Vec<String> {
        let page = a
            .events_before(EventsOf::Team(team), i64::MIN, i64::MAX, None, 100)
            .unwrap();
        page.into_iter()
            .map(|(_, e)| e.event_id.to_string())
            .collect()
    }

    #[test]
    fn a_checkpoint_without_team_event_lists_gets_them_from_its_codes() {
        #[derive(Serialize)]
        struct Teams<'a> {
            teams: HashMap<&'a str, (&'a HeadlineCounts, &'a Rollups, &'a TopCodes)>,
        }
        #[derive(Serialize)]
        struct Fourth<'a> {
            codes: &'a ByRollupId<CodeStats>,
            seen: &'a SeenEvents,
            teams: Teams<'a>,
        }
        let dir = tempfile::tempdir().unwrap();
        let now = 20_000 * MS_PER_DAY;
        let scan = |n: u128, qr: &str, team: &str| ScanEvent {
            team_id: team.into(),
            ..event(&format!("{n:032x}"), qr, now - n as i64 % 3, n == 2)
        };
        // qr_gone's code was deleted; the last is an orphan scan of team t.
        let mut batch: Vec<ScanEvent> = [(1, "qr_a", "t"), (2, "qr_a", "t"), (3, "qr_b", "t")]
            .into_iter()
            .chain([(4, "qr_gone", "t"), (5, "qr_c", "u"), (6, "qr_b", "t")])
            .map(|(n, qr, team)| scan(n, qr, team))
            .collect();
        batch.push(ScanEvent {
            orphan: true,
            ..scan(7, "", "t")
        });
        let analytics = Analytics::open(dir.path(), 0, utc()).unwrap();
        analytics.apply(&batch).unwrap();
        let ids = |ns: &[u128]| -> Vec<String> { ns.iter().map(|n| format!("{n:032x}")).collect() };
        // Newest first (now, now - 1, now - 2), in log order within one millisecond.
        assert_eq!(team_event_ids(&analytics, "t"), ids(&[6, 3, 4, 1, 2]));
        // What version 4 wrote: the teams without their lists of events.
        let covers = analytics.writer.lock().unwrap().log.end();
        {
            let state = analytics.state.read().unwrap();
            let fourth = Fourth {
                codes: &state.codes,
                seen: &state.seen,
                teams: Teams {
                    teams: team_rollups::as_version_4(&state.teams),
                },
            };
            checkpoint::save_earlier(&analytics.checkpoint_path, 4, covers, &fourth).unwrap();
        }
        drop(analytics);

        let store = KnownCodes(HashMap::from([("qr_a", "t"), ("qr_b", "t"), ("qr_c", "u")]));
        let upgraded = Analytics::open(dir.path(), 0, Arc::new(store)).unwrap();
        // Built from the codes the store knows, each in its team: qr_gone is not among them.
        assert_eq!(team_event_ids(&upgraded, "t"), ids(&[6, 3, 1, 2]));
        assert_eq!(team_event_ids(&upgraded, "u"), ids(&[5]));
        let o = upgraded.team_overview("t", now, Tz::UTC);
        assert_eq!(
            (o.total_scans, o.bot_scans),
            (4, 1),
            "the counts as they were"
        );
        upgraded.apply(&[scan(8, "qr_a", "t")]).unwrap();
        upgraded.checkpoint().unwrap();
        drop(upgraded);
        let reopened = Analytics::open(dir.path(), 0, utc()).unwrap();
        assert_eq!(team_event_ids(&reopened, "t"), ids(&[6, 3, 1, 8, 2]));
        // Segments removed by retention take their events out of the team's list too.
        reopened.state.write().unwrap().forget_segments(|_| true);
        assert!(team_event_ids(&reopened, "t").is_empty());
    }

    #[test]
    fn the_events_of_an_earlier_versions_redb_file_are_taken_over() {
        const EVENTS: TableDefinition<(&str, i64, &str), &[u8]> = TableDefinition::new("events");
        let dir = tempfile::tempdir().unwrap();
        let old = dir.path().join("analytics.redb");
        {
            let db = Database::create(&old).unwrap();
            let txn = db.begin_write().unwrap();
            {
                let mut table = txn.open_table(EVENTS).unwrap();
                for (id, bot) in [("e1", false), ("e2", false), ("e3", true)] {
                    let e = event(id, "qr_a", 1_000, bot);
                    let json = serde_json::to_vec(&e).unwrap();
                    table.insert(("qr_a", 1_000, id), json.as_slice()).unwrap();
                }
            }
            txn.commit().unwrap();
        }
        let analytics = Analytics::open(dir.path(), 0, utc()).unwrap();
        assert_eq!(counts(&analytics, "qr_a"), (2, 1, 3));
        assert!(!old.exists());
        drop(analytics);
        // Taken over once: the renamed file is not read again.
        assert_eq!(
            counts(&Analytics::open(dir.path(), 0, utc()).unwrap(), "qr_a"),
            (2, 1, 3)
        );
    }
}
