//! The rollups of each team's scans together (its codes' scans, orphan scans apart), moved with
//! every scan its code's rollups move with: a team-wide read is one lookup whatever the number of
//! codes, and a deleted code's scans stay in its team's. Analytics kept before there were team
//! rollups get theirs once, merged from the per-code rollups of each code's team (`build`).

use std::collections::HashMap;

use serde::{Deserialize, Serialize};

use super::rollups::{Counted, Rollups};
use crate::aggregate::team_zones::TeamZones;
use crate::store::StoreError;

#[derive(Debug, Default, Serialize, Deserialize)]
pub struct TeamRollups {
    /// By team id.
    teams: HashMap<Box<str>, Rollups, hashbrown::DefaultHashBuilder>,
}

impl TeamRollups {
    /// Counts a headline scan of one of `team_id`'s codes.
    pub fn add(&mut self, team_id: &str, scan: &Counted) {
        match self.teams.get_mut(team_id) {
            Some(rollups) => rollups.add(scan),
            None => self.teams.entry(team_id.into()).or_default().add(scan),
        }
    }

    /// The team's rollups; None before its first counted scan.
    pub fn of(&self, team_id: &str) -> Option<&Rollups> {
        self.teams.get(team_id)
    }

    /// The team rollups of the per-code rollups `codes` (by rollup id), each code in the team the
    /// store says it is in; rollup ids the store does not know as codes (a team's orphan scans)
    /// are in no team, as they were in no team-wide answer before.
    pub fn build<'a>(
        codes: impl ExactSizeIterator<Item = (&'a str, &'a Rollups)>,
        zones: &dyn TeamZones,
    ) -> Result<Self, StoreError> {
        let codes: Vec<(&str, &Rollups)> = codes.collect();
        let ids: Vec<&str> = codes.iter().map(|(id, _)| *id).collect();
        let team_of = zones.teams_of(&ids)?;
        let mut built = TeamRollups::default();
        for (id, rollups) in codes {
            if let Some(team) = team_of.get(id) {
                let team = built.teams.entry(team.as_str().into()).or_default();
                team.merge(rollups);
            }
        }
        tracing::info!(
            teams = built.teams.len(),
            codes = ids.len(),
            "team rollups built from the per-code rollups of an earlier version's checkpoint"
        );
        Ok(built)
    }
}
