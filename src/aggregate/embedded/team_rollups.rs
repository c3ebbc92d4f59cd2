//! Each team's scans together (its codes' scans, orphan scans apart): its headline counts,
//! rollups, most scanned codes and where its events are in the log, moved with every scan its
//! code's move with. A team-wide read is one lookup whatever the number of codes, and a deleted
//! code's scans stay in its team's. Analytics kept before there were team rollups get theirs
//! once, merged from the per-code ones of each code's team (`build`); those kept before the
//! teams had headline counts get those once (`with_counts`), and those kept before the teams had
//! their events' index get that once (`with_events`).

use std::collections::HashMap;

use chrono_tz::Tz;
use serde::{Deserialize, Serialize};

use super::chunked_places::ChunkedPlaces;
use super::code_stats::CodeStats;
use super::event_log::Position;
use super::headline_counts::HeadlineCounts;
use super::rollups::{Counted, Rollups};
use super::top_codes::TopCodes;
use crate::aggregate::rollup::{Dimension, Overview};
use crate::aggregate::team_zones::TeamZones;
use crate::model::ScanEvent;
use crate::store::StoreError;

type ByTeamId<V> = HashMap<Box<str>, V, hashbrown::DefaultHashBuilder>;

#[derive(Debug, Default, Serialize, Deserialize)]
pub struct TeamRollups {
    teams: ByTeamId<TeamStats>,
}

#[derive(Debug, Default, Clone, Serialize, Deserialize)]
struct TeamStats {
    counts: HeadlineCounts,
    rollups: Rollups,
    top: TopCodes,
    /// Where the events of its codes are in the log (bots and HEAD requests too), by scan time.
    events: ChunkedPlaces,
}

/// What version 4 of the checkpoint kept per team: no index of its events.
#[derive(Debug, Default, Deserialize)]
pub struct WithoutEvents {
    teams: ByTeamId<StatsWithoutEvents>,
}

#[derive(Debug, Default, Deserialize)]
struct StatsWithoutEvents {
    counts: HeadlineCounts,
    rollups: Rollups,
    top: TopCodes,
}

/// What version 3 of the checkpoint kept per team: the rollups alone.
#[derive(Debug, Default, Deserialize)]
pub struct RollupsAlone {
    teams: ByTeamId<Rollups>,
}

impl TeamRollups {
    /// Counts a new event of one of `team_id`'s codes; `counted` is what it added to its code's
    /// rollups (None for a bot or a HEAD request), `code` the code's id and headline scans now,
    /// `at` where the event is in the log.
    pub fn add(
        &mut self,
        team_id: &str,
        event: &ScanEvent,
        at: Position,
        counted: Option<&Counted>,
        code: (&str, u64),
    ) {
        let team = match self.teams.get_mut(team_id) {
            Some(team) => team,
            None => self.teams.entry(team_id.into()).or_default(),
        };
        team.events.note(event.scan_time, at);
        team.counts.count(event);
        if let Some(counted) = counted {
            team.rollups.add(counted);
            team.top.offer(code.0, code.1);
        }
    }

    /// The team's rollups; None before its first counted scan.
    pub fn of(&self, team_id: &str) -> Option<&Rollups> {
        self.teams.get(team_id).map(|team| &team.rollups)
    }

    /// Where the events of the team's codes are; None before the first.
    pub fn events_of(&self, team_id: &str) -> Option<&ChunkedPlaces> {
        self.teams.get(team_id).map(|team| &team.events)
    }

    /// Forgets where the events in the segments `gone` were; the counts stay.
    pub fn forget_events_in(&mut self, gone: &impl Fn(u32) -> bool) {
        for team in self.teams.values_mut() {
            team.events.forget_in(gone);
        }
    }

    /// The team's most scanned codes and their headline scans, most first.
    pub fn top_codes(&self, team_id: &str) -> impl Iterator<Item = (&str, u64)> {
        self.teams
            .get(team_id)
            .into_iter()
            .flat_map(|team| team.top.ranked())
    }

    /// The headline counts of the team's codes together as of `now_ms`, "today" being the date in
    /// `zone` then.
    pub fn overview(&self, team_id: &str, now_ms: i64, zone: Tz) -> Overview {
        match self.teams.get(team_id) {
            Some(team) => team.counts.overview(&team.rollups, now_ms, zone),
            None => HeadlineCounts::none_yet(now_ms, zone),
        }
    }

    /// The team rollups and counts of the codes `codes` (by rollup id), each code in the team the
    /// store says it is in; rollup ids the store does not know as codes (a team's orphan scans)
    /// are in no team, as they were in no team-wide answer before.
    pub fn build<'a>(
        codes: impl ExactSizeIterator<Item = (&'a str, &'a CodeStats)>,
        zones: &dyn TeamZones,
    ) -> Result<Self, StoreError> {
        let mut built = TeamRollups::default();
        let count = built.by_team(codes, zones, |team, id, stats| {
            team.rollups.merge(stats.rollups());
            team.counts.merge(stats.counts());
            team.top.offer(id, stats.counts().scans);
        })?;
        tracing::info!(
            teams = built.teams.len(),
            codes = count,
            "team rollups built from the per-code rollups of an earlier version's checkpoint"
        );
        Ok(built)
    }

    /// The team rollups of version 3's checkpoint, with the headline counts and top codes they
    /// did not keep: the bots, newest scan and ranking of the team's codes (as the store says),
    /// and the headline scans the rollups hold (all-time devices, where every headline scan
    /// counts once), a deleted code's among them.
    pub fn with_counts<'a>(
        alone: RollupsAlone,
        codes: impl ExactSizeIterator<Item = (&'a str, &'a CodeStats)>,
        zones: &dyn TeamZones,
    ) -> Result<Self, StoreError> {
        let mut teams = TeamRollups {
            teams: alone
                .teams
                .into_iter()
                .map(|(id, rollups)| (id, TeamStats::of_rollups(rollups)))
                .collect(),
        };
        let count = teams.by_team(codes, zones, |team, id, stats| {
            let code = stats.counts();
            team.counts.bot_scans += code.bot_scans;
            team.counts.last_scan_time = team.counts.last_scan_time.max(code.last_scan_time);
            team.top.offer(id, code.scans);
        })?;
        tracing::info!(
            teams = teams.teams.len(),
            codes = count,
            "team headline counts added from the codes of an earlier version's checkpoint"
        );
        Ok(teams)
    }

    /// The team rollups of version 4's checkpoint, with the index of each team's events it did
    /// not keep, merged from its codes' (as the store says).
    pub fn with_events<'a>(
        previous: WithoutEvents,
        codes: impl ExactSizeIterator<Item = (&'a str, &'a CodeStats)>,
        zones: &dyn TeamZones,
    ) -> Result<Self, StoreError> {
        let mut teams = TeamRollups {
            teams: previous
                .teams
                .into_iter()
                .map(|(id, team)| (id, team.into()))
                .collect(),
        };
        let count = teams.by_team(codes, zones, |_, _, _| {})?;
        tracing::info!(
            teams = teams.teams.len(),
            codes = count,
            "team event indexes built from the codes of an earlier version's checkpoint"
        );
        Ok(teams)
    }

    /// Calls `add` with each code's team's stats (made when missing), its id and its stats, the
    /// code's team being the store's, and adds the code's events to the team's. How many codes
    /// there were.
    fn by_team<'a>(
        &mut self,
        codes: impl ExactSizeIterator<Item = (&'a str, &'a CodeStats)>,
        zones: &dyn TeamZones,
        add: impl Fn(&mut TeamStats, &str, &CodeStats),
    ) -> Result<usize, StoreError> {
        let codes: Vec<(&str, &CodeStats)> = codes.collect();
        let ids: Vec<&str> = codes.iter().map(|(id, _)| *id).collect();
        let team_of = zones.teams_of(&ids)?;
        let mut events: HashMap<&str, Vec<(i64, Position)>> = HashMap::new();
        for (id, stats) in &codes {
            if let Some(team) = team_of.get(*id) {
                add(
                    self.teams.entry(team.as_str().into()).or_default(),
                    id,
                    stats,
                );
                events
                    .entry(team.as_str())
                    .or_default()
                    .extend(stats.events().iter());
            }
        }
        for (team, mut places) in events {
            places.sort_unstable();
            if let Some(stats) = self.teams.get_mut(team) {
                stats.events = ChunkedPlaces::of_sorted(places);
            }
        }
        Ok(codes.len())
    }
}

/// The teams as version 4 of the checkpoint kept them, for the upgrade's test: each team's fields
/// but its events (a struct is written as the tuple of its fields).
#[cfg(test)]
pub fn as_version_4(teams: &TeamRollups) -> HashMap<&str, (&HeadlineCounts, &Rollups, &TopCodes)> {
    teams
        .teams
        .iter()
        .map(|(id, team)| (&**id, (&team.counts, &team.rollups, &team.top)))
        .collect()
}

impl From<StatsWithoutEvents> for TeamStats {
    /// A team's stats of version 4, its list of events to be built.
    fn from(team: StatsWithoutEvents) -> Self {
        TeamStats {
            counts: team.counts,
            rollups: team.rollups,
            top: team.top,
            events: ChunkedPlaces::default(),
        }
    }
}

impl TeamStats {
    /// A team's stats from its rollups alone: its headline scans are those of its all-time
    /// breakdowns (each headline scan counts under one device, "" when unknown).
    fn of_rollups(rollups: Rollups) -> Self {
        let scans = rollups.breakdown(Dimension::Device).map(|(_, n)| n).sum();
        TeamStats {
            counts: HeadlineCounts {
                scans,
                ..HeadlineCounts::default()
            },
            rollups,
            top: TopCodes::default(),
            events: ChunkedPlaces::default(),
        }
    }
}
