//! The dashboard: the web app where a team's members make their codes and watch their scans,
//! served at `/` of the API listener (the edge never sees it). Pages are rendered on the server
//! (maud, which escapes every value it is given) and work without JavaScript; small script files
//! add conveniences (`assets/live.js` and `analytics.js` move the counts and charts without a
//! reload, `code_preview.js` redraws a form's QR preview). Every asset is built into the
//! binary, and every answer carries a strict Content-Security-Policy (`security_headers.rs`).
//!
//! Members sign in with a one-time link (`sign_in_link.rs`) or their email and password
//! (`sign_in.rs`); a session is a random token in a cookie, kept hashed in the store
//! (`session.rs`), and every form carries the session's CSRF token (`csrf.rs`), checked before
//! a handler reads it (`posted.rs`). What a member
//! may do is what the API lets them do: the pages call the API's own functions with the same
//! `Caller`, so roles, team isolation and validation are the API's.

mod account;
mod analytics;
mod assets;
mod charts;
mod code_fields;
mod code_form;
mod code_import;
mod code_page;
mod code_preview;
mod codes;
mod csrf;
mod error;
mod form;
mod form_fields;
mod form_json;
mod layout;
mod password;
mod posted;
mod security_headers;
mod session;
mod sign_in;
mod sign_in_link;
mod team;

use std::sync::Arc;

use axum::extract::DefaultBodyLimit;
use axum::response::Redirect;
use axum::routing::{get, post};
use axum::Router;

use crate::api::AppState;
use crate::config::DashboardConfig;

pub use sign_in_link::{
    for_email as sign_in_link_for_email, issue as issue_sign_in_link, SIGN_IN_LINK_PATH,
};

/// The dashboard's forms are small: a larger body is refused before it is read.
const MAX_FORM_BYTES: usize = 64 * 1024;

/// What the dashboard's handlers reach: the API's state and the dashboard's settings.
#[derive(Clone)]
pub struct DashState {
    pub app: AppState,
    pub config: Arc<DashboardConfig>,
}

/// The dashboard's routes, to be merged beside the API's (none of its paths is under `/api/`,
/// and none is in the API's OpenAPI document).
pub fn router(state: DashState) -> Router {
    Router::new()
        .route("/", get(|| async { Redirect::to("/codes") }))
        .route("/sign-in", get(sign_in::form).post(sign_in::with_password))
        .route(
            SIGN_IN_LINK_PATH,
            get(sign_in_link::form).post(sign_in_link::redeem),
        )
        .route("/sign-out", post(sign_in::sign_out))
        .route("/account/password", get(account::form).post(account::save))
        .route("/codes", get(codes::list))
        .merge(code_form::routes())
        .route("/codes/{id}", get(code_page::show))
        .route("/codes/{id}/image.svg", get(code_page::image))
        .route("/codes/{id}/counts", get(code_page::counts))
        .merge(analytics::routes())
        .merge(team::routes())
        .route("/assets/dashboard.css", get(assets::css))
        .route("/assets/live.js", get(assets::live_js))
        .route("/assets/favicon.svg", get(assets::favicon))
        .layer(DefaultBodyLimit::max(MAX_FORM_BYTES))
        .layer(axum::middleware::map_response(security_headers::add))
        .with_state(state)
}
