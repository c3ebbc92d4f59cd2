//! Design templates: `GET /api/qr-templates-api` (the built-ins and the team's own), one by id,
//! create and delete (editors and above), and a preview image of each.
//!
//! A team's templates are stored under the team: another team's id is as unknown as a missing one.

use std::collections::HashMap;

use axum::extract::rejection::QueryRejection;
use axum::extract::{Path, Query, State};
use axum::http::StatusCode;
use axum::response::IntoResponse;
use serde::Serialize;

use super::auth::Caller;
use super::body::ApiJson;
use super::error::ErrorBody;
use super::image::{png_response, ImageParams, ImageQuery};
use super::precondition::{stale, IfMatchHeader, Precondition, Tag};
use super::view::{ok, Envelope};
use super::{ApiError, AppState};
use crate::clock::now_ms;
use crate::ids::new_id;
use crate::model::template::{
    builtin_template, builtins, new_template, ErrorCorrection, Template, TemplateInput,
    TemplateOwner, DEFAULT_TEMPLATE_ID, MAX_TEAM_TEMPLATES,
};
use crate::model::Qr;
use crate::qr_image::Design;
use crate::store::{self, StoreError};

/// The reference's template object (`id, name, description, previewUrl, createdAt`) with the
/// design it stands for.
#[derive(Serialize, utoipa::ToSchema)]
#[serde(rename_all = "camelCase")]
pub struct TemplateView {
    id: String,
    name: String,
    description: String,
    /// The template drawn on a sample URL (authenticated like every endpoint).
    preview_url: String,
    created_at: i64,
    created_by: Option<String>,
    /// Every team's, and cannot be deleted.
    built_in: bool,
    foreground_color: String,
    background_color: String,
    error_correction: ErrorCorrection,
    margin: u8,
    logo: Option<String>,
}

fn view(template: Template, state: &AppState) -> TemplateView {
    TemplateView {
        preview_url: format!(
            "{}api/qr-templates-api/{}/preview.png",
            state.api_base_url, template.id
        ),
        built_in: template.is_builtin(),
        id: template.id,
        name: template.name,
        description: template.description,
        created_at: template.created_at,
        created_by: template.created_by,
        foreground_color: template.foreground_color,
        background_color: template.background_color,
        error_correction: template.error_correction,
        margin: template.margin,
        logo: template.logo,
    }
}

/// A template the team may use: a built-in or its own; None for anything else.
pub(crate) async fn usable(
    state: &AppState,
    team_id: &str,
    id: &str,
) -> Result<Option<Template>, ApiError> {
    match builtin_template(id) {
        Some(template) => Ok(Some(template)),
        None => Ok(state.store.team_template(team_id, id).await?),
    }
}

/// Templates are part of making codes: editors and above create and delete them.
fn require_template_writer(caller: &Caller) -> Result<(), ApiError> {
    if caller.role.can_write_codes() {
        Ok(())
    } else {
        Err(ApiError::forbidden(
            "your role in this team cannot create or delete templates",
        ))
    }
}

fn not_found(id: &str) -> ApiError {
    ApiError::not_found(format!("template {id:?} not found"))
}

/// The ids of the team's own templates, which its codes may name (besides the built-ins).
pub(crate) async fn team_template_ids(
    state: &AppState,
    team_id: &str,
) -> Result<Vec<String>, ApiError> {
    let templates = state.store.team_templates(team_id).await?;
    Ok(templates.into_iter().map(|t| t.id).collect())
}

/// The design of a code's image: its template, or the default when it names none or its
/// template was deleted since (the code keeps printing the same URL, in the default design).
pub(super) async fn code_template(state: &AppState, qr: &Qr) -> Result<Template, ApiError> {
    let id = qr.template_id.as_deref().unwrap_or(DEFAULT_TEMPLATE_ID);
    match usable(state, &qr.team_id, id).await? {
        Some(template) => Ok(template),
        None => builtin_template(DEFAULT_TEMPLATE_ID)
            .ok_or_else(|| ApiError::internal("the default template is missing")),
    }
}

/// `GET /api/qr-templates-api`: the built-ins (the default first), then the team's, oldest first.
#[utoipa::path(
    get,
    path = "/api/qr-templates-api",
    operation_id = "listTemplates",
    tag = "Templates",
    responses(
        (status = 200, description = "The built-in templates, then the team's", body = Envelope<Vec<TemplateView>>),
    )
)]
pub async fn list(
    State(state): State<AppState>,
    caller: Caller,
) -> Result<impl IntoResponse, ApiError> {
    let all = usable_templates(&state, &caller).await?;
    Ok(ok(all
        .into_iter()
        .map(|t| view(t, &state))
        .collect::<Vec<_>>()))
}

/// The templates the team may use: the built-ins (the default first), then its own, oldest first.
pub(crate) async fn usable_templates(
    state: &AppState,
    caller: &Caller,
) -> Result<Vec<Template>, ApiError> {
    let mut all = builtins();
    all.extend(state.store.team_templates(&caller.team.id).await?);
    Ok(all)
}

/// `GET /api/qr-templates-api/{id}`.
#[utoipa::path(
    get,
    path = "/api/qr-templates-api/{id}",
    operation_id = "getTemplate",
    tag = "Templates",
    params(("id" = String, Path, description = "The template's id (`tpl_…`, or a built-in's: classic, navy, forest)")),
    responses(
        (status = 200, description = "The template; its ETag header is its version", body = Envelope<TemplateView>),
        (status = 404, description = "No such template for the team", body = ErrorBody),
    )
)]
pub async fn get(
    State(state): State<AppState>,
    caller: Caller,
    Path(id): Path<String>,
) -> Result<impl IntoResponse, ApiError> {
    let template = usable(&state, &caller.team.id, &id)
        .await?
        .ok_or_else(|| not_found(&id))?;
    Ok((Tag(template.version), ok(view(template, &state))))
}

/// `POST /api/qr-templates-api` → 201 with the new template.
#[utoipa::path(
    post,
    path = "/api/qr-templates-api",
    operation_id = "createTemplate",
    tag = "Templates",
    request_body = TemplateInput,
    responses(
        (status = 201, description = "The new template", body = Envelope<TemplateView>),
        (status = 400, description = "A field is invalid (colour, contrast, logo, margin)", body = ErrorBody),
        (status = 409, description = "The team has its maximum of templates", body = ErrorBody),
    )
)]
pub async fn create(
    State(state): State<AppState>,
    caller: Caller,
    ApiJson(input): ApiJson<TemplateInput>,
) -> Result<impl IntoResponse, ApiError> {
    let template = create_template(&state, &caller, input).await?;
    let version = crate::model::FIRST_VERSION;
    Ok((
        StatusCode::CREATED,
        Tag(version),
        ok(view(template, &state)),
    ))
}

/// Makes the team's template `input` describes (see `create`).
pub(crate) async fn create_template(
    state: &AppState,
    caller: &Caller,
    input: TemplateInput,
) -> Result<Template, ApiError> {
    require_template_writer(caller)?;
    let owner = TemplateOwner {
        team_id: &caller.team.id,
        member_id: &caller.member.id,
        now: now_ms(),
    };
    let template = new_template(input, new_id("tpl"), &owner).map_err(ApiError::bad_request)?;
    // Checked before the write, not with it: two racing creates may pass the limit by one,
    // which only bounds a team's list.
    if state.store.team_templates(&caller.team.id).await?.len() >= MAX_TEAM_TEMPLATES {
        return Err(ApiError::conflict(format!(
            "a team has at most {MAX_TEAM_TEMPLATES} templates; delete one first"
        )));
    }
    state.store.insert_template(&template).await?;
    Ok(template)
}

/// `DELETE /api/qr-templates-api/{id}` → the deleted template. The team's codes that name it
/// keep their `templateId` and are drawn with the default template from then on. `If-Match` is
/// checked on the template as the store's delete finds it.
#[utoipa::path(
    delete,
    path = "/api/qr-templates-api/{id}",
    operation_id = "deleteTemplate",
    tag = "Templates",
    params(
        ("id" = String, Path, description = "The template's id (`tpl_…`, or a built-in's: classic, navy, forest)"),
        IfMatchHeader,
    ),
    responses(
        (status = 200, description = "The deleted template", body = Envelope<TemplateView>),
        (status = 400, description = "A malformed If-Match", body = ErrorBody),
        (status = 404, description = "No such template of the team", body = ErrorBody),
        (status = 412, description = "If-Match names none of the template's current version: nothing deleted", body = ErrorBody),
    )
)]
pub async fn delete(
    State(state): State<AppState>,
    caller: Caller,
    Path(id): Path<String>,
    precondition: Precondition,
) -> Result<impl IntoResponse, ApiError> {
    let template = delete_template(&state, &caller, &id, precondition).await?;
    Ok(ok(view(template, &state)))
}

/// Deletes the team's template `id` (see `delete`); the template as it was.
pub(crate) async fn delete_template(
    state: &AppState,
    caller: &Caller,
    id: &str,
    precondition: Precondition,
) -> Result<Template, ApiError> {
    require_template_writer(caller)?;
    if builtin_template(id).is_some() {
        return Err(ApiError::forbidden(format!(
            "template {id:?} is built in and cannot be deleted"
        )));
    }
    let template = state
        .store
        .team_template(&caller.team.id, id)
        .await?
        .ok_or_else(|| not_found(id))?;
    let check = store::check(move |stored: &Template| precondition.check(stored.version));
    match state
        .store
        .delete_template(&caller.team.id, id, check)
        .await
    {
        Ok(true) => {}
        Ok(false) => return Err(not_found(id)),
        Err(StoreError::Stale { current }) => return Err(stale("template", current)),
        Err(e) => return Err(e.into()),
    }
    Ok(template)
}

/// `GET /api/qr-templates-api/{id}/preview.png?size=&errorCorrection=`: the template drawn on
/// the edge's public URL.
#[utoipa::path(
    get,
    path = "/api/qr-templates-api/{id}/preview.png",
    operation_id = "templatePreviewPng",
    tag = "Templates",
    params(
        ("id" = String, Path, description = "The template's id (`tpl_…`, or a built-in's: classic, navy, forest)"),
        ImageParams
    ),
    responses(
        (status = 200, description = "The template drawn on the edge's URL", body = Vec<u8>, content_type = "image/png"),
        (status = 400, description = "size or errorCorrection out of range", body = ErrorBody),
        (status = 404, description = "No such template for the team", body = ErrorBody),
    )
)]
pub async fn preview(
    State(state): State<AppState>,
    caller: Caller,
    Path(id): Path<String>,
    params: Result<Query<HashMap<String, String>>, QueryRejection>,
) -> Result<impl IntoResponse, ApiError> {
    let query = ImageQuery::parse(params)?;
    let template = usable(&state, &caller.team.id, &id)
        .await?
        .ok_or_else(|| not_found(&id))?;
    let design = Design::of(&template, query.error_correction).map_err(ApiError::bad_request)?;
    png_response(&state.edge_base_url, design, query.size).await
}
