//! The analytics pages: a code's (`/codes/{id}/analytics`) and the team's (`/analytics`). Each
//! shows the headline counts, unique visitors, scans per day over a chosen range and today's
//! 5-minute curve as server-drawn SVG charts (`../charts/`), the breakdowns as tables, the bots
//! apart and the scans a page at a time (the team's table names each scan's code). The figures
//! are read from the rollups (the team's from its own, `Codes::Team`) through the API's own
//! analytics reads. `assets/analytics.js` polls the page's live fragment (an ETag keeps idle
//! polls at 304) and swaps the moving parts in without a reload.

mod code;
mod figures;
mod frame;
mod live;
mod range;
mod scans;
mod sections;
mod team;

use axum::http::header::{CACHE_CONTROL, CONTENT_TYPE};
use axum::response::IntoResponse;
use axum::routing::get;
use axum::Router;

use super::DashState;

const SCRIPT: &str = include_str!("../assets/analytics.js");
const STYLESHEET: &str = include_str!("../assets/analytics.css");

/// As the dashboard's other assets: they change only with the binary.
const ASSET_CACHE: &str = "public, max-age=300";

pub fn routes() -> Router<DashState> {
    Router::new()
        .route("/codes/{id}/analytics", get(code::page))
        .route("/codes/{id}/analytics/live", get(code::live))
        .route("/analytics", get(team::page))
        .route("/analytics/live", get(team::live))
        .route("/assets/analytics.js", get(script))
        .route("/assets/analytics.css", get(stylesheet))
}

async fn script() -> impl IntoResponse {
    (
        [
            (CONTENT_TYPE, "text/javascript; charset=utf-8"),
            (CACHE_CONTROL, ASSET_CACHE),
        ],
        SCRIPT,
    )
}

async fn stylesheet() -> impl IntoResponse {
    (
        [
            (CONTENT_TYPE, "text/css; charset=utf-8"),
            (CACHE_CONTROL, ASSET_CACHE),
        ],
        STYLESHEET,
    )
}
