//! The management REST API (axum), modelled on the QRTRAC reference: `{success, data}` envelopes,
//! team-scoped credentials in `x-request-*` headers, codes and analytics.

mod analytics;
mod auth;
mod body;
mod bulk_events;
mod error;
mod image;
mod image_url;
mod keys;
mod members;
mod openapi;
mod paging;
mod precondition;
mod public_image;
mod qr_bulk;
mod qr_edits;
mod qr_list;
mod qrs;
mod rate_limit;
mod rejection;
mod team_domains;
mod teams;
mod templates;
mod updated_after;
mod view;

use std::sync::Arc;

use axum::extract::DefaultBodyLimit;
use axum::routing::{delete, get, post, put};
use axum::Router;

use crate::aggregate::AnalyticsReader;
use crate::store::Store;

pub use error::ApiError;
pub use image_url::PublicImages;
pub use openapi::ApiDoc;

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

pub fn router(state: AppState, max_body_bytes: usize) -> Router {
    Router::new()
        .route("/healthz", get(healthz))
        .route("/api/qrs-api", post(qrs::create).get(qr_list::list))
        .route(
            "/api/qrs-api/{id}",
            get(qrs::get).put(qrs::update).delete(qrs::delete),
        )
        .route("/api/qrs-api/teams/{id}", get(qrs::get))
        .route("/api/qrs-api/bulk", post(qr_bulk::bulk))
        .route("/api/qrs-api/import", post(qr_bulk::import))
        .route("/api/qrs-api/{id}/duplicate", post(qr_edits::duplicate))
        .route("/api/qrs-api/{id}/tags", put(qr_edits::tags))
        .route("/api/qrs-api/{id}/title", put(qr_edits::title))
        .route("/api/qrs-api/updated-after", get(updated_after::team))
        .route(
            "/api/qrs-api/all/updated-after",
            get(updated_after::all_teams),
        )
        .route("/api/qrs-api/{id}/image.svg", get(image::svg))
        .route("/api/qrs-api/{id}/image.png", get(image::png))
        .route("/api/qrs-api/{id}/image-url", post(image_url::renew))
        .route(
            "/api/qr-templates-api",
            get(templates::list).post(templates::create),
        )
        .route(
            "/api/qr-templates-api/{id}",
            get(templates::get).delete(templates::delete),
        )
        .route(
            "/api/qr-templates-api/{id}/preview.png",
            get(templates::preview),
        )
        .route("/api/analytics-api/detailed/{id}", get(analytics::detailed))
        .route("/api/analytics-api/bulk", post(bulk_events::bulk))
        .route("/api/analytics-api/overviews", post(analytics::overviews))
        .route("/api/teams-api", get(teams::list).post(teams::create))
        .route("/api/teams-api/{id}", get(teams::get).put(teams::update))
        .route(
            "/api/teams-api/{id}/members",
            post(members::add).delete(members::remove),
        )
        .route("/api/teams-api/members/bulk", post(members::bulk))
        .route("/api/teams-api/{id}/members/pause", put(members::pause))
        .route(
            "/api/teams-api/{id}/members/activate",
            put(members::activate),
        )
        .route("/api/teams-api/{id}/members/role", put(members::role))
        .route(
            "/api/teams-api/{id}/members/permanent",
            delete(members::delete_permanently),
        )
        .route("/api/teams-api/{id}/domains", put(teams::update_domains))
        .route("/api/analytics-api/orphans", get(analytics::orphans))
        .route("/api/keys-api", post(keys::create).get(keys::list))
        .route("/api/keys-api/{id}", delete(keys::revoke))
        .fallback(|| async { ApiError::not_found("no such endpoint") })
        .method_not_allowed_fallback(|| async {
            ApiError::new(
                axum::http::StatusCode::METHOD_NOT_ALLOWED,
                "method not allowed on this endpoint",
            )
        })
        .route_layer(axum::middleware::from_fn_with_state(
            state.clone(),
            rate_limit::limit,
        ))
        // After route_layer: the document needs no credentials and is not counted; public
        // images need none either and have their own limit, per client address.
        .route("/openapi.json", get(openapi::serve))
        .route("/images/{id}/{file}", get(public_image::image))
        .layer(DefaultBodyLimit::max(max_body_bytes))
        .layer(axum::middleware::map_response(rejection::envelope))
        .with_state(state)
}
