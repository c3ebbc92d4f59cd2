//! What an analytics page shows, read from the rollups through the same reader and helpers as
//! the API's analytics endpoints (never by counting events): the headline counts, unique
//! visitors, the scans per day of the chosen range, today's 5-minute buckets and the breakdowns.
//! One code's figures and the whole team's differ only in the codes they cover.

use chrono::TimeDelta;
use chrono_tz::Tz;

use super::range::DayRange;
use crate::aggregate::contract::{Codes, DayCounts};
use crate::aggregate::rollup::{day_number, local_date};
use crate::aggregate::{Dimension, Overview};
use crate::api::rollups::day_start;
use crate::api::{ApiError, AppState};
use crate::clock::now_ms;

/// Values each breakdown table lists (the most scanned).
const BREAKDOWN_ROWS: usize = 10;

/// The headline counts (bots apart), of one code or of the team.
#[derive(Default, Clone, Copy)]
pub struct Totals {
    pub total: u64,
    pub today: u64,
    pub yesterday: u64,
    pub bots: u64,
}

impl Totals {
    pub fn of(overview: &Overview) -> Self {
        Self {
            total: overview.total_scans,
            today: overview.today_scans,
            yesterday: overview.yesterday_scans,
            bots: overview.bot_scans,
        }
    }
}

/// Today's 5-minute buckets: the day's bounds (epoch ms) and the buckets that had scans.
pub struct Today {
    pub start: i64,
    pub end: i64,
    pub buckets: Vec<(i64, u64)>,
}

pub struct Figures {
    pub totals: Totals,
    pub visitors_today: u64,
    pub days: Vec<DayCounts>,
    pub today: Today,
    pub breakdowns: Vec<(Dimension, Vec<(String, u64)>)>,
    pub zone: Tz,
}

impl Figures {
    /// The figures of `codes` together, whose headline counts are `totals`.
    pub async fn read(
        app: &AppState,
        ids: Codes<'_>,
        totals: Totals,
        zone: Tz,
        range: &DayRange,
    ) -> Result<Self, ApiError> {
        let analytics = &app.analytics;
        let date = local_date(now_ms(), zone);
        let today_number = day_number(date);
        let visitors = analytics.days(ids, today_number, today_number).await?;
        let days = analytics.days(ids, range.first, range.last).await?;
        let (start, end) = (
            day_start(date, zone),
            day_start(date + TimeDelta::days(1), zone) - 1,
        );
        let buckets = analytics.buckets(ids, start, end).await?;
        let mut breakdowns = Vec::with_capacity(Dimension::ALL.len());
        for dimension in Dimension::ALL {
            let mut values = analytics.breakdown(ids, dimension).await?;
            values.truncate(BREAKDOWN_ROWS);
            breakdowns.push((dimension, values));
        }
        Ok(Self {
            totals,
            visitors_today: visitors.first().map_or(0, |d| d.unique_visitors),
            days,
            today: Today {
                start,
                end,
                buckets,
            },
            breakdowns,
            zone,
        })
    }
}

/// The headline counts of one code (or its bots), as the API's overview has them.
pub async fn totals_of(app: &AppState, id: &str, zone: Tz) -> Result<Totals, ApiError> {
    let overview = app.analytics.overview(id, now_ms(), zone).await?;
    Ok(Totals::of(&overview))
}

/// The team's headline counts from its own rollups (one read whatever its size; a deleted
/// code's scans stay in them).
pub async fn team_totals(app: &AppState, team_id: &str, zone: Tz) -> Result<Totals, ApiError> {
    let overview = app.analytics.team_overview(team_id, now_ms(), zone).await?;
    Ok(Totals::of(&overview))
}
