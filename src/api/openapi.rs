//! The management API's OpenAPI 3.1 document, served at `GET /openapi.json`. It is generated from
//! the code: each handler's `#[utoipa::path]` annotation (path, parameters, body, answers) and the
//! `ToSchema` derives of the types it reads and writes, so it changes with them. What every
//! `/api/` endpoint shares is added here once, as the layers that cause it apply to all of them:
//! the credentials, and the answers of authentication and the rate limit (401, 403, 429), of a
//! body past `api.max_body_bytes` (413), slower than `api.body_read_timeout_ms` (408) or
//! declared as another media type (415) and of an unreachable Redis (503).
//!
//! A route is documented by annotating its handler and naming it in `paths(...)` below; the test
//! at the bottom fails while a route of the router has no operation here, or the reverse.

use axum::http::header::CONTENT_TYPE;
use axum::response::IntoResponse;
use utoipa::openapi::path::{HttpMethod, Operation, ParameterIn, PathItem};
use utoipa::openapi::response::{Response, ResponseBuilder};
use utoipa::openapi::schema::{AnyOfBuilder, Ref, Schema};
use utoipa::openapi::security::{ApiKey, ApiKeyValue, HttpAuthScheme, HttpBuilder, SecurityScheme};
use utoipa::openapi::{ContentBuilder, Header, RefOr};
use utoipa::{Modify, OpenApi, PartialSchema, ToSchema};

use super::error::ErrorBody;

#[derive(OpenApi)]
#[openapi(
    info(
        title = "qredge management API",
        description = "Dynamic QR codes, teams, members, API keys and scan analytics; modelled on \
            the QRTRAC REST API (same paths, field names, headers and envelope). Answers are \
            `{\"success\": true, \"data\": …}`, errors `{\"success\": false, \"message\": …}`; \
            times are epoch milliseconds. Every `/api/` answer carries X-RateLimit-Limit, \
            X-RateLimit-Remaining and X-RateLimit-Reset. See docs/api.md."
    ),
    paths(
        super::healthz,
        serve,
        super::qrs::create,
        super::qr_list::list,
        super::qrs::get,
        super::qrs::update,
        super::qrs::delete,
        super::qr_bulk::bulk,
        super::qr_bulk::import,
        super::qr_edits::duplicate,
        super::qr_edits::tags,
        super::qr_edits::title,
        super::updated_after::team,
        super::updated_after::all_teams,
        super::image::svg,
        super::image::png,
        super::image_url::renew,
        super::public_image::image,
        super::templates::list,
        super::templates::get,
        super::templates::create,
        super::templates::delete,
        super::templates::preview,
        super::analytics::detailed,
        super::bulk_events::bulk,
        super::analytics::overviews,
        super::analytics::orphans,
        super::teams::list,
        super::teams::create,
        super::teams::get,
        super::teams::update,
        super::teams::update_domains,
        super::members::add,
        super::members::remove,
        super::members::bulk,
        super::members::pause,
        super::members::activate,
        super::members::role,
        super::members::delete_permanently,
        super::keys::create,
        super::keys::list,
        super::keys::revoke,
    ),
    components(schemas(ErrorBody)),
    // Most endpoints act in the team the header names; those that span the caller's teams
    // (and the two without credentials) say so on their own.
    security(
        ("teamId" = [], "clientId" = [], "clientSecret" = []),
        ("teamId" = [], "bearer" = []),
    ),
    modifiers(&Credentials, &SharedAnswers, &ReferenceAlias, &ImportRefusal),
    tags(
        (name = "QR codes", description = "Create, list, change and delete codes; their images"),
        (name = "Templates", description = "QR designs: colours, error correction, margin, logo"),
        (name = "Analytics", description = "Scan events and headline counts"),
        (name = "Teams", description = "The caller's teams, their settings and custom domains"),
        (name = "Members", description = "Who is in a team, with which role"),
        (name = "API keys", description = "Scoped credentials for scripts"),
        (name = "Service", description = "Health and this document"),
    )
)]
pub struct ApiDoc;

/// The document as served: built once, on the first request.
fn document() -> &'static str {
    static DOCUMENT: std::sync::OnceLock<String> = std::sync::OnceLock::new();
    DOCUMENT.get_or_init(|| {
        ApiDoc::openapi()
            .to_pretty_json()
            .expect("the OpenAPI document serializes")
    })
}

/// The `{id}` of the team endpoints, documented once.
#[derive(utoipa::IntoParams)]
#[into_params(parameter_in = Path)]
#[allow(dead_code)] // never built: only its description is used
pub(super) struct TeamPath {
    /// The team named in x-request-team-id (another one is 403)
    id: String,
}

/// The `{id}` of the code endpoints, documented once.
#[derive(utoipa::IntoParams)]
#[into_params(parameter_in = Path)]
#[allow(dead_code)] // never built: only its description is used
pub(super) struct CodePath {
    /// The code's id (`qr_…`)
    id: String,
}

/// The refusals of a change to one member of a team, documented once.
#[derive(utoipa::IntoResponses)]
#[allow(dead_code)] // never built: only its description is used
pub(super) enum MemberChangeRefused {
    #[response(
        status = 403,
        description = "Another team than the header's, not an admin or the owner, the owner as the target, or a key without teams:write"
    )]
    Forbidden(ErrorBody<'static>),
    #[response(status = 404, description = "No member with that email in the team")]
    NotFound(ErrorBody<'static>),
    #[response(
        status = 412,
        description = "If-Match names none of the member's current version (the ETag of the last change's answer): nothing changed"
    )]
    Stale(ErrorBody<'static>),
}

/// `GET /openapi.json`: no credentials, outside the rate limit.
#[utoipa::path(
    get,
    path = "/openapi.json",
    operation_id = "openapiDocument",
    tag = "Service",
    security(()),
    responses((status = 200, description = "This document (OpenAPI 3.1)", body = Object))
)]
pub async fn serve() -> impl IntoResponse {
    ([(CONTENT_TYPE, "application/json")], document())
}

/// The credential headers of the reference, and the Bearer token that may stand in for the
/// client id and secret.
struct Credentials;

impl Modify for Credentials {
    fn modify(&self, openapi: &mut utoipa::openapi::OpenApi) {
        let components = openapi.components.get_or_insert_with(Default::default);
        let header = |name: &str, description: &str| {
            SecurityScheme::ApiKey(ApiKey::Header(ApiKeyValue::with_description(
                name,
                description,
            )))
        };
        components.add_security_scheme(
            "teamId",
            header(
                super::auth::TEAM_HEADER,
                "The team the request acts in (bootstrap.json's teamId for the first team)",
            ),
        );
        components.add_security_scheme(
            "clientId",
            header(
                super::auth::CLIENT_ID_HEADER,
                "The credential's id (`cli_…`)",
            ),
        );
        components.add_security_scheme(
            "clientSecret",
            header(
                super::auth::CLIENT_SECRET_HEADER,
                "The credential's secret (`qsk_…`), shown once at creation",
            ),
        );
        components.add_security_scheme(
            "bearer",
            SecurityScheme::Http(
                HttpBuilder::new()
                    .scheme(HttpAuthScheme::Bearer)
                    .bearer_format("CLIENT_ID.SECRET")
                    .description(Some(
                        "An API key's token, in place of the client id and secret headers",
                    ))
                    .build(),
            ),
        );
    }
}

/// The operations of a path item, with their methods.
fn operations(item: &mut PathItem) -> impl Iterator<Item = &mut Operation> {
    [
        &mut item.get,
        &mut item.put,
        &mut item.post,
        &mut item.delete,
        &mut item.patch,
    ]
    .into_iter()
    .filter_map(Option::as_mut)
}

fn error_response(description: &str) -> Response {
    ResponseBuilder::new()
        .description(description)
        .content(
            "application/json",
            ContentBuilder::new()
                .schema(Some(Ref::from_schema_name(ErrorBody::name())))
                .build(),
        )
        .build()
}

/// The answers every `/api/` operation can give whatever its handler does: the rate-limit layer
/// authenticates (401, 403 for a key's scope or a paused member) and counts (429), the body limits
/// refuse large bodies (413) and slow ones (408, src/listener/router.rs), the body extractors a
/// body of another media type (415), a path segment can be undecodable (400) and a Redis store
/// can be away (503). An operation's own description of a status (a 403 of its own, say) is kept.
struct SharedAnswers;

impl Modify for SharedAnswers {
    fn modify(&self, openapi: &mut utoipa::openapi::OpenApi) {
        let retry_after = Header::new(u64::schema());
        let rate_limited = {
            let mut response = error_response(
                "The team's requests per minute are spent (its plan's `api.requests_per_minute`)",
            );
            response
                .headers
                .insert("Retry-After".into(), retry_after.clone());
            response
        };
        for (path, item) in openapi.paths.paths.iter_mut() {
            if !path.starts_with("/api/") {
                continue;
            }
            for operation in operations(item) {
                let mut shared = vec![
                    ("401", error_response("A missing credential header, an unknown client id or a wrong secret")),
                    ("403", error_response("No access to the team named, a paused member, or an API key without this endpoint's scope")),
                    ("429", rate_limited.clone()),
                    ("503", error_response("The store (Redis) is unavailable; retry shortly")),
                ];
                let path_parameter = operation
                    .parameters
                    .iter()
                    .flatten()
                    .any(|p| matches!(p.parameter_in, ParameterIn::Path));
                if path_parameter {
                    // axum's Path rejection, in the envelope (rejection.rs).
                    shared.push((
                        "400",
                        error_response("A path parameter that is not UTF-8 once percent-decoded"),
                    ));
                }
                if operation.request_body.is_some() {
                    shared.push((
                        "413",
                        error_response("The body is larger than `api.max_body_bytes` (1 MiB)"),
                    ));
                    shared.push((
                        "415",
                        error_response("The body is declared (Content-Type) as another media type than the operation reads, or in a charset other than UTF-8"),
                    ));
                    shared.push((
                        "408",
                        error_response(
                            "The body did not arrive whole within `api.body_read_timeout_ms` \
                             (30 s); the connection is closed",
                        ),
                    ));
                }
                for (status, response) in shared {
                    operation
                        .responses
                        .responses
                        .entry(status.to_owned())
                        .or_insert(RefOr::T(response));
                }
            }
        }
    }
}

/// `GET /api/qrs-api/teams/{id}` is the reference's alias of `GET /api/qrs-api/{id}`: one
/// handler, so one annotation, copied here under the alias's path.
struct ReferenceAlias;

impl Modify for ReferenceAlias {
    fn modify(&self, openapi: &mut utoipa::openapi::OpenApi) {
        let paths = &mut openapi.paths.paths;
        let Some(mut operation) = paths.get("/api/qrs-api/{id}").and_then(|p| p.get.clone()) else {
            return;
        };
        operation.operation_id = Some("getQrTeamsAlias".into());
        operation.description = Some("The reference's alias of `GET /api/qrs-api/{id}`.".into());
        paths.insert(
            "/api/qrs-api/teams/{id}".into(),
            PathItem::new(HttpMethod::Get, operation),
        );
    }
}

/// A CSV import that imports nothing answers 400 with its report (in the refusal envelope) when
/// rows were read, and with the plain error envelope when the file cannot be read at all: one
/// status, two bodies, which an annotation cannot say.
struct ImportRefusal;

impl Modify for ImportRefusal {
    fn modify(&self, openapi: &mut utoipa::openapi::OpenApi) {
        let Some(operation) = openapi
            .paths
            .paths
            .get_mut("/api/qrs-api/import")
            .and_then(|p| p.post.as_mut())
        else {
            return;
        };
        let Some(RefOr::T(response)) = operation.responses.responses.get_mut("400") else {
            return;
        };
        for content in response.content.values_mut() {
            let Some(report) = content.schema.take() else {
                continue;
            };
            // anyOf, not oneOf: a refusal with its report is an error envelope too.
            let either = AnyOfBuilder::new()
                .item(report)
                .item(Ref::from_schema_name(ErrorBody::name()))
                .build();
            content.schema = Some(RefOr::T(Schema::AnyOf(either)));
        }
    }
}

#[cfg(test)]
mod tests {
    use std::collections::BTreeSet;

    use super::*;

    const METHODS: [&str; 5] = ["get", "post", "put", "delete", "patch"];

    /// Where `name(` is called in `text` (not `x_name(` or `module::name(`).
    fn calls(text: &str, name: &str) -> usize {
        let call = format!("{name}(");
        text.match_indices(&call)
            .filter(|(at, _)| {
                let prefix = text[..*at].chars().next_back();
                !prefix.is_some_and(|c| c.is_alphanumeric() || c == '_' || c == ':')
            })
            .count()
    }

    /// The (method, path) pairs `router()` in mod.rs registers, read from its source: axum
    /// cannot list a router's routes, and a list kept by hand beside the router could drift from
    /// it like a hand-written document.
    fn registered_routes() -> BTreeSet<(String, String)> {
        let source = include_str!("mod.rs");
        let start = source.find("pub fn router(").expect("mod.rs has router()");
        let end = start + source[start..].find("\n}\n").expect("router() ends");
        let body = &source[start..end];
        for unsupported in [
            "nest",
            "nest_service",
            "route_service",
            "merge",
            "any",
            "on",
        ] {
            assert_eq!(
                calls(body, unsupported),
                0,
                "router() calls {unsupported}(): teach this test to read it"
            );
        }
        let mut routes = BTreeSet::new();
        for call in body.split(".route(").skip(1) {
            let rest = call
                .trim_start()
                .strip_prefix('"')
                .expect("route paths in router() are string literals");
            let (path, rest) = rest.split_once('"').expect("a closed string literal");
            // The method router: up to the parenthesis that closes `.route(`.
            let mut depth = 1;
            let end = rest
                .char_indices()
                .find(|&(_, c)| {
                    match c {
                        '(' => depth += 1,
                        ')' => depth -= 1,
                        _ => {}
                    }
                    depth == 0
                })
                .map(|(i, _)| i)
                .expect("a closed .route( call");
            let method_router = &rest[..end];
            let methods: Vec<&str> = METHODS
                .into_iter()
                .filter(|method| calls(method_router, method) > 0)
                .collect();
            assert!(!methods.is_empty(), "route {path} names no method");
            for method in methods {
                routes.insert((method.to_owned(), path.to_owned()));
            }
        }
        routes
    }

    fn documented_routes() -> BTreeSet<(String, String)> {
        let mut doc = ApiDoc::openapi();
        let mut routes = BTreeSet::new();
        for (path, item) in doc.paths.paths.iter_mut() {
            let methods = [
                ("get", item.get.is_some()),
                ("post", item.post.is_some()),
                ("put", item.put.is_some()),
                ("delete", item.delete.is_some()),
                ("patch", item.patch.is_some()),
            ];
            for (method, present) in methods {
                if present {
                    routes.insert((method.to_owned(), path.clone()));
                }
            }
        }
        routes
    }

    #[test]
    fn every_route_of_the_router_is_documented_and_nothing_else() {
        let registered = registered_routes();
        let documented = documented_routes();
        assert!(registered.len() > 30, "read too few routes: {registered:?}");
        let undocumented: Vec<_> = registered.difference(&documented).collect();
        assert!(
            undocumented.is_empty(),
            "routes without an operation in /openapi.json (annotate the handler with \
             #[utoipa::path] and name it in ApiDoc's paths): {undocumented:?}"
        );
        let unrouted: Vec<_> = documented.difference(&registered).collect();
        assert!(
            unrouted.is_empty(),
            "operations in /openapi.json that router() does not register: {unrouted:?}"
        );
    }

    #[test]
    fn every_api_operation_documents_the_shared_answers_and_its_success() {
        let doc = ApiDoc::openapi();
        for (path, item) in &doc.paths.paths {
            let operations = [&item.get, &item.post, &item.put, &item.delete, &item.patch];
            for operation in operations.into_iter().flatten() {
                let statuses: Vec<&str> = operation
                    .responses
                    .responses
                    .keys()
                    .map(String::as_str)
                    .collect();
                assert!(
                    statuses.iter().any(|s| s.starts_with('2')),
                    "{path}: no success answer in {statuses:?}"
                );
                if path.starts_with("/api/") {
                    for shared in ["401", "403", "429", "503"] {
                        assert!(statuses.contains(&shared), "{path}: no {shared}");
                    }
                    if operation.request_body.is_some() {
                        assert!(statuses.contains(&"413"), "{path}: no 413");
                        assert!(statuses.contains(&"415"), "{path}: no 415");
                        assert!(statuses.contains(&"408"), "{path}: no 408");
                    }
                }
            }
        }
    }

    #[test]
    fn operation_ids_are_unique() {
        let doc = ApiDoc::openapi();
        let mut seen = BTreeSet::new();
        for (path, item) in &doc.paths.paths {
            let operations = [&item.get, &item.post, &item.put, &item.delete, &item.patch];
            for operation in operations.into_iter().flatten() {
                let id = operation.operation_id.clone().unwrap_or_default();
                assert!(seen.insert(id.clone()), "{path}: operationId {id:?} again");
            }
        }
    }

    #[test]
    fn the_document_is_openapi_3_1_json() {
        let value: serde_json::Value = serde_json::from_str(document()).unwrap();
        assert_eq!(value["openapi"], "3.1.0");
        assert!(value["components"]["schemas"]["ErrorBody"].is_object());
        assert!(value["components"]["securitySchemes"]["bearer"].is_object());
    }
}
