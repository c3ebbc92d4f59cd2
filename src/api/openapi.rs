//! The management API's OpenAPI 3.1 document, served at `GET /openapi.json`. It is generated from
//! the code: each handler's `#[utoipa::path]` annotation (path, parameters, body, answers), which
//! routes.rs registers together with its route, and the `ToSchema` derives of the types it reads
//! and writes, so it changes with them. What every `/api/` endpoint shares is added here once
//! ([`completed`]), as the layers that cause it apply to all of them: the credentials, and the
//! answers of authentication and the rate limit (401, 403, 429), of a body past
//! `api.max_body_bytes` (413), slower than `api.body_read_timeout_ms` (408) or declared as another
//! media type (415) and of an unreachable Redis (503).

use std::sync::Arc;

use axum::http::header::CONTENT_TYPE;
use axum::response::IntoResponse;
use axum::Extension;
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
    components(schemas(ErrorBody)),
    // Most endpoints act in the team the header names; those that span the caller's teams
    // (and the two without credentials) say so on their own.
    security(
        ("teamId" = [], "clientId" = [], "clientSecret" = []),
        ("teamId" = [], "bearer" = []),
    ),
    modifiers(&Credentials),
    tags(
        (name = "QR codes", description = "Create, list, change and delete codes; their images"),
        (name = "Templates", description = "QR designs: colours, error correction, margin, logo"),
        (name = "Analytics", description = "Scan events, headline counts and rollups (per day, 5-minute buckets, unique visitors, breakdowns)"),
        (name = "Teams", description = "The caller's teams, their settings and custom domains"),
        (name = "Members", description = "Who is in a team, with which role"),
        (name = "API keys", description = "Scoped credentials for scripts"),
        (name = "Service", description = "Health and this document"),
    )
)]
pub struct ApiDoc;

/// The operations' shared answers and the reference's alias, added once every route's operation
/// is in `document`.
pub fn completed(mut document: utoipa::openapi::OpenApi) -> utoipa::openapi::OpenApi {
    for modifier in [
        &SharedAnswers as &dyn Modify,
        &ReferenceAlias,
        &ImportRefusal,
    ] {
        modifier.modify(&mut document);
    }
    document
}

/// The document as `/openapi.json` serves it, serialized once when the router is built.
#[derive(Clone)]
pub struct Served(Arc<str>);

impl Served {
    pub fn of(document: utoipa::openapi::OpenApi) -> Served {
        let json = document
            .to_pretty_json()
            .expect("the OpenAPI document serializes");
        Served(json.into())
    }
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
pub async fn serve(Extension(Served(document)): Extension<Served>) -> impl IntoResponse {
    ([(CONTENT_TYPE, "application/json")], document.to_string())
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

    #[test]
    fn every_api_operation_documents_the_shared_answers_and_its_success() {
        let doc = crate::api::openapi_document();
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
        let doc = crate::api::openapi_document();
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
        let Served(json) = Served::of(crate::api::openapi_document());
        let value: serde_json::Value = serde_json::from_str(&json).unwrap();
        assert_eq!(value["openapi"], "3.1.0");
        assert!(value["components"]["schemas"]["ErrorBody"].is_object());
        assert!(value["components"]["securitySchemes"]["bearer"].is_object());
    }
}
