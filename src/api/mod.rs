//! The management REST API (axum), modelled on the QRTRAC reference: `{success, data}` envelopes,
//! team-scoped credentials in `x-request-*` headers, codes and analytics.

pub(crate) mod analytics;
pub(crate) mod auth;
mod body;
pub(crate) mod bulk_events;
pub(crate) mod error;
pub(crate) mod image;
mod image_url;
pub(crate) mod keys;
pub(crate) mod members;
mod openapi;
pub(crate) mod paging;
pub(crate) mod precondition;
mod public_image;
pub(crate) mod qr_bulk;
pub(crate) mod qr_edits;
pub(crate) mod qr_list;
pub(crate) mod qrs;
mod rate_limit;
mod rejection;
pub(crate) mod rollups;
mod routes;
mod team_domains;
pub(crate) mod teams;
pub(crate) mod templates;
mod updated_after;
mod view;

use std::sync::Arc;

use axum::extract::DefaultBodyLimit;
use axum::{Extension, Router};

use crate::aggregate::AnalyticsReader;
use crate::store::Store;

pub use error::ApiError;
pub use image_url::PublicImages;
pub use routes::document as openapi_document;

/// What every handler can reach.
#[derive(Clone)]
pub struct AppState {
    pub store: Store,
    pub analytics: AnalyticsReader,
    /// The base URL printed codes carry (ends in '/').
    pub edge_base_url: Arc<str>,
    /// The API's own base URL (ends in '/'), for `qrImageUrl`.
    pub api_base_url: Arc<str>,
    /// Requests a team may make per minute, by plan.
    pub requests_per_minute: Arc<crate::config::PlanRates>,
    /// Live codes a team may have, by plan (the reference's `checkQrLimit`).
    pub codes_per_team: Arc<crate::config::PlanCodeLimits>,
    /// Teams an organization may have, by plan.
    pub teams_per_org: Arc<crate::config::PlanTeamLimits>,
    /// The keys of the codes' public image URLs, and the per-client limit on them.
    pub public_images: Arc<PublicImages>,
}

impl AppState {
    /// The host of the edge's public URL: the platform's own domain, not a custom one.
    pub fn platform_host(&self) -> String {
        crate::model::validate::host_of(&self.edge_base_url)
    }

    /// The hosts no team may claim as a custom domain (the edge's and the API's public hosts,
    /// localhost, IP literals).
    pub fn platform_hosts(&self) -> crate::model::PlatformHosts {
        crate::model::PlatformHosts::of(&self.edge_base_url, &self.api_base_url)
    }

    /// The platform's domain as teams list it (the host, with its port if it has one): the
    /// default domain of a new team, as of the first one.
    pub fn platform_domain(&self) -> String {
        url::Url::parse(&self.edge_base_url)
            .map(|u| crate::model::validate::domain_of(&u))
            .unwrap_or_else(|_| self.platform_host())
    }
}

/// `GET /healthz`: the API answers.
#[utoipa::path(
    get,
    path = "/healthz",
    operation_id = "healthz",
    tag = "Service",
    security(()),
    responses((status = 200, description = "The API is up", body = String, content_type = "text/plain"))
)]
async fn healthz() -> &'static str {
    "ok\n"
}

/// The API: the routes of routes.rs behind the layers they share. The fallbacks answer in the
/// envelope: an unknown path 404, a known one with another method 405.
pub fn router(state: AppState, max_body_bytes: usize) -> Router {
    let (app, document) = routes::limited()
        .route_layer(axum::middleware::from_fn_with_state(
            state.clone(),
            rate_limit::limit,
        ))
        .merge(routes::public())
        .split_for_parts();
    app.fallback(|| async { ApiError::not_found("no such endpoint") })
        .method_not_allowed_fallback(|| async {
            ApiError::new(
                axum::http::StatusCode::METHOD_NOT_ALLOWED,
                "method not allowed on this endpoint",
            )
        })
        .layer(Extension(openapi::Served::of(openapi::completed(document))))
        .layer(DefaultBodyLimit::max(max_body_bytes))
        .layer(axum::middleware::map_response(rejection::envelope))
        .with_state(state)
}
