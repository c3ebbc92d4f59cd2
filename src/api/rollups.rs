//! The rollup endpoints: scans and unique visitors per day, today's 5-minute buckets and the
//! breakdowns, for some of the team's codes or the whole team, read from the rollups (never by
//! reading events): the named codes' summed, or the team's own (one read however many codes it
//! has; a deleted code's scans stay in it). Days are dates in the team's time zone; every count is of headline scans
//! (bots and HEAD requests apart: a code's bot scans are in its overview).

use axum::extract::State;
use axum::Json;
use chrono::{NaiveDate, NaiveTime, TimeDelta, TimeZone};
use chrono_tz::Tz;
use serde::{Deserialize, Serialize};

use super::analytics::check_qr_ids;
use super::auth::Caller;
use super::body::ApiJson;
use super::error::ErrorBody;
use super::qrs::team_qr;
use super::view::{ok, Envelope};
use super::{ApiError, AppState};
use crate::aggregate::contract::Codes;
use crate::aggregate::rollup::{day_date, day_number, local_date, BUCKET_MS};
use crate::aggregate::Dimension;
use crate::clock::now_ms;

/// Days one daily request may span, and the span when none is asked for.
const MAX_DAYS: i64 = 366;
const DEFAULT_DAYS: i64 = 30;
/// Values each breakdown lists at most (the most scanned).
const MAX_VALUES: usize = 100;

/// Which codes: some of the team's, or (left out) all of them.
#[derive(Deserialize, utoipa::ToSchema)]
#[serde(rename_all = "camelCase", deny_unknown_fields)]
pub struct ScopeRequest {
    /// 1 to 100 of the team's codes; left out: every code of the team.
    #[schema(min_items = 1, max_items = 100)]
    qr_ids: Option<Vec<String>>,
}

/// The codes a request names, each checked to be the team's; left out, the caller's team.
struct Scope {
    qr_ids: Option<Vec<String>>,
    team_id: String,
}

impl Scope {
    async fn checked(
        state: &AppState,
        caller: &Caller,
        qr_ids: Option<Vec<String>>,
    ) -> Result<Self, ApiError> {
        let team_id = caller.team.id.clone();
        if let Some(ids) = &qr_ids {
            check_qr_ids(ids)?;
            for id in ids {
                team_qr(&state.store, &team_id, id).await?;
            }
        }
        Ok(Scope { qr_ids, team_id })
    }

    fn codes(&self) -> Codes<'_> {
        match &self.qr_ids {
            Some(ids) => Codes::These(ids),
            None => Codes::Team(&self.team_id),
        }
    }
}

fn parse_date(name: &str, text: &str) -> Result<NaiveDate, ApiError> {
    NaiveDate::parse_from_str(text, "%Y-%m-%d")
        .map_err(|_| ApiError::bad_request(format!("{name} must be a date as YYYY-MM-DD")))
}

#[derive(Deserialize, utoipa::ToSchema)]
#[serde(rename_all = "camelCase", deny_unknown_fields)]
pub struct DailyRequest {
    /// 1 to 100 of the team's codes; left out: every code of the team.
    #[schema(min_items = 1, max_items = 100)]
    pub(crate) qr_ids: Option<Vec<String>>,
    /// The first day (YYYY-MM-DD, in the team's zone); default: 29 days before `to`.
    #[schema(format = Date)]
    pub(crate) from: Option<String>,
    /// The last day (YYYY-MM-DD, in the team's zone); default: today. At most 366 days in all.
    #[schema(format = Date)]
    pub(crate) to: Option<String>,
}

#[derive(Serialize, utoipa::ToSchema)]
#[serde(rename_all = "camelCase")]
pub struct DayView {
    /// YYYY-MM-DD, in the team's zone.
    date: String,
    scans: u64,
    /// Distinct visitors (address and user agent) across the codes, HyperLogLog-estimated.
    unique_visitors: u64,
}

#[derive(Serialize, utoipa::ToSchema)]
#[serde(rename_all = "camelCase")]
pub struct DailyView {
    /// The team's IANA time zone, which the dates are in.
    time_zone: String,
    /// Every day of the range, oldest first (days without scans as zeros).
    days: Vec<DayView>,
}

#[utoipa::path(
    post,
    path = "/api/analytics-api/daily",
    operation_id = "dailyScans",
    tag = "Analytics",
    request_body = DailyRequest,
    responses(
        (status = 200, description = "Scans and unique visitors per day of the codes together", body = Envelope<DailyView>),
        (status = 400, description = "Malformed JSON, not 1 to 100 qrIds, a date that is not YYYY-MM-DD, from after to, or more than 366 days", body = ErrorBody),
        (status = 404, description = "One of qrIds is no code of the team (the message names it)", body = ErrorBody),
    )
)]
pub async fn daily(
    State(state): State<AppState>,
    caller: Caller,
    ApiJson(request): ApiJson<DailyRequest>,
) -> Result<Json<Envelope<DailyView>>, ApiError> {
    let zone = caller.team.zone();
    let (first, last) = day_range(&request, zone)?;
    let scope = Scope::checked(&state, &caller, request.qr_ids).await?;
    let days = state.analytics.days(scope.codes(), first, last).await?;
    Ok(ok(DailyView {
        time_zone: zone.name().to_owned(),
        days: days
            .into_iter()
            .map(|d| DayView {
                date: day_date(d.day).to_string(),
                scans: d.scans,
                unique_visitors: d.unique_visitors,
            })
            .collect(),
    }))
}

/// The first and last day a daily request asks for, checked.
pub(crate) fn day_range(request: &DailyRequest, zone: Tz) -> Result<(i64, i64), ApiError> {
    let last = match &request.to {
        Some(text) => day_number(parse_date("to", text)?),
        None => day_number(local_date(now_ms(), zone)),
    };
    let first = match &request.from {
        Some(text) => day_number(parse_date("from", text)?),
        None => last - (DEFAULT_DAYS - 1),
    };
    if first > last {
        return Err(ApiError::bad_request("from must not be after to"));
    }
    if last - first >= MAX_DAYS {
        return Err(ApiError::bad_request(format!(
            "from and to may span at most {MAX_DAYS} days"
        )));
    }
    Ok((first, last))
}

#[derive(Deserialize, utoipa::ToSchema)]
#[serde(rename_all = "camelCase", deny_unknown_fields)]
pub struct BucketsRequest {
    /// 1 to 100 of the team's codes; left out: every code of the team.
    #[schema(min_items = 1, max_items = 100)]
    qr_ids: Option<Vec<String>>,
    /// Today or yesterday (YYYY-MM-DD, in the team's zone); default: today.
    #[schema(format = Date)]
    date: Option<String>,
}

#[derive(Serialize, utoipa::ToSchema)]
#[serde(rename_all = "camelCase")]
pub struct BucketView {
    /// Epoch ms the 5 minutes start at.
    start: i64,
    scans: u64,
}

#[derive(Serialize, utoipa::ToSchema)]
#[serde(rename_all = "camelCase")]
pub struct BucketsView {
    time_zone: String,
    /// YYYY-MM-DD, in the team's zone.
    date: String,
    /// The width of a bucket: 5 minutes.
    bucket_ms: i64,
    /// The buckets of the day that had scans, oldest first.
    buckets: Vec<BucketView>,
}

#[utoipa::path(
    post,
    path = "/api/analytics-api/buckets",
    operation_id = "fiveMinuteBuckets",
    tag = "Analytics",
    request_body = BucketsRequest,
    responses(
        (status = 200, description = "Scans per 5 minutes of today (or yesterday) of the codes together", body = Envelope<BucketsView>),
        (status = 400, description = "Malformed JSON, not 1 to 100 qrIds, or a date that is not today or yesterday (YYYY-MM-DD)", body = ErrorBody),
        (status = 404, description = "One of qrIds is no code of the team (the message names it)", body = ErrorBody),
    )
)]
pub async fn buckets(
    State(state): State<AppState>,
    caller: Caller,
    ApiJson(request): ApiJson<BucketsRequest>,
) -> Result<Json<Envelope<BucketsView>>, ApiError> {
    let zone = caller.team.zone();
    let today = local_date(now_ms(), zone);
    let date = match &request.date {
        Some(text) => parse_date("date", text)?,
        None => today,
    };
    if date != today && Some(date) != today.pred_opt() {
        return Err(ApiError::bad_request(
            "date must be today or yesterday in the team's time zone",
        ));
    }
    let scope = Scope::checked(&state, &caller, request.qr_ids).await?;
    let (start, end) = (
        day_start(date, zone),
        day_start(date + TimeDelta::days(1), zone) - 1,
    );
    let buckets = state.analytics.buckets(scope.codes(), start, end).await?;
    Ok(ok(BucketsView {
        time_zone: zone.name().to_owned(),
        date: date.to_string(),
        bucket_ms: BUCKET_MS,
        buckets: buckets
            .into_iter()
            .map(|(start, scans)| BucketView { start, scans })
            .collect(),
    }))
}

/// The epoch ms a date begins at in `zone`: its midnight, or the first hour that exists where a
/// clock change skips midnight.
pub(crate) fn day_start(date: NaiveDate, zone: Tz) -> i64 {
    (0..3)
        .find_map(|hour| {
            let time = NaiveTime::from_hms_opt(hour, 0, 0)?;
            zone.from_local_datetime(&date.and_time(time)).earliest()
        })
        .map_or_else(
            || date.and_time(NaiveTime::MIN).and_utc().timestamp_millis(),
            |start| start.timestamp_millis(),
        )
}

#[derive(Serialize, utoipa::ToSchema)]
#[serde(rename_all = "camelCase")]
pub struct ValueView {
    /// The value ("" when unknown; referrers by host).
    value: String,
    scans: u64,
}

/// All-time scans per value, most first (ties by value), the 100 most scanned values each.
#[derive(Serialize, utoipa::ToSchema)]
#[serde(rename_all = "camelCase")]
pub struct BreakdownsView {
    country: Vec<ValueView>,
    city: Vec<ValueView>,
    device: Vec<ValueView>,
    browser: Vec<ValueView>,
    os: Vec<ValueView>,
    referrer: Vec<ValueView>,
}

#[utoipa::path(
    post,
    path = "/api/analytics-api/breakdowns",
    operation_id = "breakdowns",
    tag = "Analytics",
    request_body = ScopeRequest,
    responses(
        (status = 200, description = "All-time scans of the codes together by country, city, device, browser, OS and referrer host", body = Envelope<BreakdownsView>),
        (status = 400, description = "Malformed JSON, or not 1 to 100 qrIds", body = ErrorBody),
        (status = 404, description = "One of qrIds is no code of the team (the message names it)", body = ErrorBody),
    )
)]
pub async fn breakdowns(
    State(state): State<AppState>,
    caller: Caller,
    ApiJson(request): ApiJson<ScopeRequest>,
) -> Result<Json<Envelope<BreakdownsView>>, ApiError> {
    let scope = Scope::checked(&state, &caller, request.qr_ids).await?;
    let codes = scope.codes();
    Ok(ok(BreakdownsView {
        country: values(&state, codes, Dimension::Country).await?,
        city: values(&state, codes, Dimension::City).await?,
        device: values(&state, codes, Dimension::Device).await?,
        browser: values(&state, codes, Dimension::Browser).await?,
        os: values(&state, codes, Dimension::Os).await?,
        referrer: values(&state, codes, Dimension::Referrer).await?,
    }))
}

/// One breakdown's most scanned values.
async fn values(
    state: &AppState,
    codes: Codes<'_>,
    dimension: Dimension,
) -> Result<Vec<ValueView>, ApiError> {
    let counts = state.analytics.breakdown(codes, dimension).await?;
    Ok(counts
        .into_iter()
        .take(MAX_VALUES)
        .map(|(value, scans)| ValueView { value, scans })
        .collect())
}
