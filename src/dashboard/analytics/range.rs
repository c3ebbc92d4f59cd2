//! The days a daily chart spans, as its form asks: the last 7, 30 or 90 days, or from one date
//! to another (checked as the API's daily endpoint checks them: at most 366 days, from not after
//! to). The query travels on to the live fragment unchanged.

use axum::http::StatusCode;
use chrono::TimeDelta;
use chrono_tz::Tz;
use serde::Deserialize;

use crate::aggregate::rollup::local_date;
use crate::api::rollups::{day_range, DailyRequest};
use crate::clock::now_ms;
use crate::dashboard::error::PageError;

/// The spans the form offers, and the one shown unless another is asked for.
pub const SPANS: [i64; 3] = [7, 30, 90];
const DEFAULT_SPAN: i64 = 30;

#[derive(Deserialize, Default, Clone)]
pub struct RangeQuery {
    pub days: Option<String>,
    pub from: Option<String>,
    pub to: Option<String>,
}

/// The days asked for: days since 1970-01-01, first and last, in the team's zone.
pub struct DayRange {
    pub first: i64,
    pub last: i64,
}

impl RangeQuery {
    /// Whether the form asked for its own dates (rather than one of the spans).
    pub fn custom(&self) -> bool {
        self.from.as_deref().is_some_and(|t| !t.is_empty())
            || self.to.as_deref().is_some_and(|t| !t.is_empty())
    }

    /// The span chosen among `SPANS` (the default when none or dates were asked for).
    pub fn span(&self) -> Result<i64, PageError> {
        match self.days.as_deref() {
            None | Some("") => Ok(DEFAULT_SPAN),
            Some(text) => text
                .parse()
                .ok()
                .filter(|days| SPANS.contains(days))
                .ok_or_else(|| bad("days must be 7, 30 or 90")),
        }
    }

    pub fn days(&self, zone: Tz) -> Result<DayRange, PageError> {
        let request = if self.custom() {
            DailyRequest {
                qr_ids: None,
                from: self.from.clone().filter(|t| !t.is_empty()),
                to: self.to.clone().filter(|t| !t.is_empty()),
            }
        } else {
            let today = local_date(now_ms(), zone);
            let first = today - TimeDelta::days(self.span()? - 1);
            DailyRequest {
                qr_ids: None,
                from: Some(first.to_string()),
                to: Some(today.to_string()),
            }
        };
        let (first, last) = day_range(&request, zone)?;
        Ok(DayRange { first, last })
    }

    /// The query again, for the live fragment's URL.
    pub fn as_query(&self) -> String {
        let mut query = url::form_urlencoded::Serializer::new(String::new());
        for (name, value) in [("days", &self.days), ("from", &self.from), ("to", &self.to)] {
            if let Some(value) = value.as_deref().filter(|v| !v.is_empty()) {
                query.append_pair(name, value);
            }
        }
        query.finish()
    }
}

fn bad(message: &str) -> PageError {
    PageError::new(StatusCode::BAD_REQUEST, message)
}
