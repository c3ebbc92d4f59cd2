//! The dashboard's stylesheet and script, built into the binary: nothing is fetched from
//! anywhere else at run time.

use axum::http::header::{CACHE_CONTROL, CONTENT_TYPE};
use axum::response::IntoResponse;

const CSS: &str = include_str!("assets/dashboard.css");
const LIVE_JS: &str = include_str!("assets/live.js");
const FAVICON: &str = include_str!("assets/favicon.svg");

/// Assets change only with the binary; a short cache keeps an upgrade visible soon.
const ASSET_CACHE: &str = "public, max-age=300";

pub async fn css() -> impl IntoResponse {
    (
        [
            (CONTENT_TYPE, "text/css; charset=utf-8"),
            (CACHE_CONTROL, ASSET_CACHE),
        ],
        CSS,
    )
}

pub async fn live_js() -> impl IntoResponse {
    (
        [
            (CONTENT_TYPE, "text/javascript; charset=utf-8"),
            (CACHE_CONTROL, ASSET_CACHE),
        ],
        LIVE_JS,
    )
}

/// The browser asks for an icon on every page: one of ours rather than a 404 in its console.
pub async fn favicon() -> impl IntoResponse {
    (
        [
            (CONTENT_TYPE, "image/svg+xml"),
            (CACHE_CONTROL, ASSET_CACHE),
        ],
        FAVICON,
    )
}
