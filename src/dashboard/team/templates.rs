//! `/team/templates`: the designs the team's codes may use (the built-ins, then the team's
//! own), each with a preview drawn by the API's image code; editors and above create and delete
//! the team's own. The API has no update of a template: a design is changed by making a new one.

use std::collections::HashMap;

use axum::extract::{Path, Query, State};
use axum::response::{IntoResponse, Redirect, Response};
use maud::{html, Markup};

use super::page;
use crate::api::precondition::Precondition;
use crate::api::templates::{
    create_template, delete_template, preview as api_preview, usable_templates,
};
use crate::api::ApiError;
use crate::dashboard::error::PageError;
use crate::dashboard::posted::Posted;
use crate::dashboard::session::Signed;
use crate::dashboard::{csrf, DashState};
use crate::model::template::{Template, TemplateInput};

const PATH: &str = "/team/templates";

pub async fn list(State(state): State<DashState>, signed: Signed) -> Result<Response, PageError> {
    templates_page(&state, &signed, None).await
}

async fn templates_page(
    state: &DashState,
    signed: &Signed,
    refusal: Option<&ApiError>,
) -> Result<Response, PageError> {
    let templates = usable_templates(&state.app, &signed.caller).await?;
    let body = html! {
        ul.templates #templates {
            @for template in &templates { (card(signed, template)) }
        }
        @if signed.can_write_codes() { (create_form(signed)) }
    };
    Ok(page(signed, PATH, "Templates", refusal, body))
}

fn card(signed: &Signed, template: &Template) -> Markup {
    html! {
        li.card data-template=(template.id) {
            img.template-preview src={ (PATH) "/" (template.id) "/preview.png" }
                alt={ "A sample code in " (template.name) } width="160" height="160";
            h2 { (template.name) }
            @if !template.description.is_empty() { p.muted { (template.description) } }
            p.muted { (template.foreground_color) " on " (template.background_color)
                @if template.is_builtin() { " · built in" } }
            @if signed.can_write_codes() && !template.is_builtin() {
                form method="post" action={ (PATH) "/" (template.id) "/delete" } {
                    (csrf::hidden(&signed.csrf))
                    button.danger type="submit" { "Delete" }
                }
            }
        }
    }
}

fn create_form(signed: &Signed) -> Markup {
    html! {
        form.card #create-template method="post" action=(PATH) {
            (csrf::hidden(&signed.csrf))
            h2 { "New template" }
            label for="template-name" { "Name" }
            input #template-name type="text" name="name" required;
            label for="template-description" { "Description" }
            input #template-description type="text" name="description";
            label for="foreground" { "Foreground (#rrggbb)" }
            input #foreground type="text" name="foregroundColor" value="#000000";
            label for="background" { "Background (#rrggbb)" }
            input #background type="text" name="backgroundColor" value="#ffffff";
            label for="error-correction" { "Error correction" }
            select #error-correction name="errorCorrection" {
                option value="L" { "L (7 %)" }
                option value="M" selected { "M (15 %)" }
                option value="Q" { "Q (25 %)" }
                option value="H" { "H (30 %)" }
            }
            div.actions { button #create-template-button type="submit" { "Create template" } }
        }
    }
}

pub async fn create(
    State(state): State<DashState>,
    Posted { signed, form }: Posted,
) -> Result<Response, PageError> {
    let input = TemplateInput {
        name: Some(form.get("name").to_owned()),
        description: form.optional("description"),
        foreground_color: form.optional("foregroundColor"),
        background_color: form.optional("backgroundColor"),
        error_correction: form.optional("errorCorrection"),
        margin: None,
        logo: None,
    };
    match create_template(&state.app, &signed.caller, input).await {
        Ok(_) => Ok(Redirect::to(PATH).into_response()),
        Err(refusal) => templates_page(&state, &signed, Some(&refusal)).await,
    }
}

pub async fn delete(
    State(state): State<DashState>,
    Path(id): Path<String>,
    Posted { signed, .. }: Posted,
) -> Result<Response, PageError> {
    match delete_template(&state.app, &signed.caller, &id, Precondition::default()).await {
        Ok(_) => Ok(Redirect::to(PATH).into_response()),
        Err(refusal) => templates_page(&state, &signed, Some(&refusal)).await,
    }
}

/// The template drawn on the edge's URL by the API's own preview (another team's template is
/// as unknown there as a missing one).
pub async fn preview(
    State(state): State<DashState>,
    signed: Signed,
    Path(id): Path<String>,
) -> Response {
    let query = Ok(Query(HashMap::new()));
    api_preview(State(state.app), signed.caller, Path(id), query)
        .await
        .into_response()
}
