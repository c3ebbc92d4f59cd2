//! The time zone of each team, which decides the day a scan counts on. Read when a batch is
//! counted (the zone then is the one its days keep, as in the Redis rollups), cached a minute.
//! Also the team of each code, asked once when team rollups are built from per-code ones.

use std::collections::HashMap;
use std::sync::Mutex;
use std::time::{Duration, Instant};

use chrono_tz::Tz;
use tokio::runtime::Handle;

use crate::store::{Store, StoreError};

/// Codes asked for together when their teams are looked up.
const CODES_PER_READ: usize = 1000;

/// How long a team's zone is used before it is read again: a zone change takes effect for
/// scans counted at most this much later.
const ZONE_TTL: Duration = Duration::from_secs(60);

pub trait TeamZones: Send + Sync {
    /// The zone of `team_id`; UTC for a team that is unknown or cannot be read.
    fn zone(&self, team_id: &str) -> Tz;

    /// The team of each of `codes` the store has (code id -> team id; deleted codes included,
    /// unknown ids left out). Codes never move between teams, so the answer does not age. Asked
    /// once, when analytics kept before team rollups existed get theirs.
    fn teams_of(&self, codes: &[&str]) -> Result<HashMap<String, String>, StoreError>;
}

/// A fixed zone rule (tests, tools): it knows no codes.
impl<F: Fn(&str) -> Tz + Send + Sync> TeamZones for F {
    fn zone(&self, team_id: &str) -> Tz {
        self(team_id)
    }

    fn teams_of(&self, _codes: &[&str]) -> Result<HashMap<String, String>, StoreError> {
        Ok(HashMap::new())
    }
}

/// Zones read from the store. To be asked on a blocking thread (the embedded aggregator's): a
/// read the cache cannot answer waits for the store there.
pub struct StoreZones {
    store: Store,
    runtime: Handle,
    cache: Mutex<HashMap<String, (Tz, Instant)>>,
}

impl StoreZones {
    /// Reads through `store` on the current runtime.
    pub fn new(store: Store) -> Self {
        Self {
            store,
            runtime: Handle::current(),
            cache: Mutex::new(HashMap::new()),
        }
    }
}

impl TeamZones for StoreZones {
    fn zone(&self, team_id: &str) -> Tz {
        let cached = self
            .cache
            .lock()
            .unwrap_or_else(|e| e.into_inner())
            .get(team_id)
            .copied();
        if let Some((zone, _)) = cached.filter(|(_, at)| at.elapsed() < ZONE_TTL) {
            return zone;
        }
        let zone = match self.runtime.block_on(self.store.team(team_id)) {
            Ok(team) => team.map_or(Tz::UTC, |team| team.zone()),
            Err(e) => {
                // Not cached: read again for the next batch.
                tracing::warn!(error = %e, team_id, "cannot read a team's time zone; counting its scans in UTC");
                return Tz::UTC;
            }
        };
        let mut cache = self.cache.lock().unwrap_or_else(|e| e.into_inner());
        cache.insert(team_id.to_owned(), (zone, Instant::now()));
        zone
    }

    fn teams_of(&self, codes: &[&str]) -> Result<HashMap<String, String>, StoreError> {
        let mut teams = HashMap::with_capacity(codes.len());
        for chunk in codes.chunks(CODES_PER_READ) {
            let found = self.runtime.block_on(self.store.qrs_by_id(chunk))?;
            teams.extend(found.into_iter().map(|qr| (qr.id, qr.team_id)));
        }
        Ok(teams)
    }
}
