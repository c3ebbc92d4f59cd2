//! Every route of the API, each declared once: `routes!` takes the path and method from the
//! handler's `#[utoipa::path]` annotation and adds both the route and its operation, so the
//! router and `/openapi.json` cannot disagree. Handlers of one path share one `routes!`.

use axum::routing::get;
use utoipa::OpenApi;
use utoipa_axum::router::OpenApiRouter;
use utoipa_axum::routes;

use super::openapi::{self, ApiDoc};
use super::{
    analytics, bulk_events, image, image_url, keys, members, public_image, qr_bulk, qr_edits,
    qr_list, qrs, rollups, teams, templates, updated_after, AppState,
};

/// The routes behind credentials and the team's rate limit (`router` layers them).
pub(super) fn limited() -> OpenApiRouter<AppState> {
    OpenApiRouter::with_openapi(ApiDoc::openapi())
        .routes(routes!(super::healthz))
        .merge(codes())
        .merge(templates())
        .merge(analytics())
        .merge(teams())
        .routes(routes!(keys::create, keys::list))
        .routes(routes!(keys::revoke))
}

/// The routes that need no credentials and are not counted: this document, and the codes'
/// public images, which have a limit of their own per client address.
pub(super) fn public() -> OpenApiRouter<AppState> {
    OpenApiRouter::new()
        .routes(routes!(openapi::serve))
        .routes(routes!(public_image::image))
}

/// The API's OpenAPI document, as `/openapi.json` serves it.
pub fn document() -> utoipa::openapi::OpenApi {
    openapi::completed(limited().merge(public()).into_openapi())
}

fn codes() -> OpenApiRouter<AppState> {
    OpenApiRouter::new()
        .routes(routes!(qrs::create, qr_list::list))
        .routes(routes!(qrs::get, qrs::update, qrs::delete))
        // The reference's alias of GET /api/qrs-api/{id}: one handler, so its operation is
        // copied under this path (openapi::ReferenceAlias).
        .route("/api/qrs-api/teams/{id}", get(qrs::get))
        .routes(routes!(qr_bulk::bulk))
        .routes(routes!(qr_bulk::import))
        .routes(routes!(qr_edits::duplicate))
        .routes(routes!(qr_edits::tags))
        .routes(routes!(qr_edits::title))
        .routes(routes!(updated_after::team))
        .routes(routes!(updated_after::all_teams))
        .routes(routes!(image::svg))
        .routes(routes!(image::png))
        .routes(routes!(image_url::renew))
}

fn templates() -> OpenApiRouter<AppState> {
    OpenApiRouter::new()
        .routes(routes!(templates::list, templates::create))
        .routes(routes!(templates::get, templates::delete))
        .routes(routes!(templates::preview))
}

fn analytics() -> OpenApiRouter<AppState> {
    OpenApiRouter::new()
        .routes(routes!(analytics::detailed))
        .routes(routes!(bulk_events::bulk))
        .routes(routes!(analytics::overviews))
        .routes(routes!(analytics::orphans))
        .routes(routes!(rollups::daily))
        .routes(routes!(rollups::buckets))
        .routes(routes!(rollups::breakdowns))
}

fn teams() -> OpenApiRouter<AppState> {
    OpenApiRouter::new()
        .routes(routes!(teams::list, teams::create))
        .routes(routes!(teams::get, teams::update))
        .routes(routes!(teams::update_domains))
        .routes(routes!(members::add, members::remove))
        .routes(routes!(members::bulk))
        .routes(routes!(members::pause))
        .routes(routes!(members::activate))
        .routes(routes!(members::role))
        .routes(routes!(members::delete_permanently))
}
