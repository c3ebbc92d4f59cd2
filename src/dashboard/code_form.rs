//! Creating, editing, duplicating and deleting a code in a form, for every type. `/codes/new`
//! offers the twelve types and shows the chosen one's form (`?type=`, WEB by default): its own
//! fields (`code_fields.rs`), the redirect settings every type takes, tags, template and expiry.
//! The form posts what an API request would send (`form_json.rs` turns the texts into the
//! request body) and the API's own functions validate and store it: a refusal shows the API's
//! message next to the field it names, the texts as entered kept.

use axum::extract::{Path, Query, State};
use axum::http::StatusCode;
use axum::response::{IntoResponse, Redirect, Response};
use axum::routing::{get, post};
use axum::Router;
use maud::{html, Markup};
use serde::Deserialize;
use serde_json::{json, Map, Value};

use super::code_fields::{top_level, type_settings, BEHAVIOUR};
use super::error::PageError;
use super::form::FormData;
use super::form_fields::{self, Shown, ADD_ROW};
use super::form_json::{from_json, to_json, Values};
use super::posted::Posted;
use super::session::Signed;
use super::{code_import, code_preview, csrf, layout, DashState};
use crate::api::precondition::Precondition;
use crate::api::qr_edits::duplicate_qr;
use crate::api::qrs::{apply_update, create_qr, delete_qr, team_qr};
use crate::api::ApiError;
use crate::model::qr_input::QrInput;
use crate::model::template::builtins;
use crate::model::{Qr, QrType};

/// The checkbox that removes a code's password (an empty password field keeps it).
const CLEAR_PASSWORD: &str = "clearPassword";
/// The template select's field, named as the request's.
const TEMPLATE: &str = "templateId";

/// The code pages' routes: the forms and the CSV import.
pub fn routes() -> Router<DashState> {
    Router::new()
        .route("/codes/new", get(new).post(create))
        .route("/codes/{id}/edit", get(edit).post(update))
        .route("/codes/{id}/duplicate", post(duplicate))
        .route("/codes/{id}/delete", post(delete))
        .merge(code_import::routes())
        .merge(code_preview::routes())
}

/// What a form shows: its type, the code edited (None: a new one), the texts, the refusal.
struct Form<'a> {
    qr_type: QrType,
    code: Option<&'a Qr>,
    values: Values,
    error: Option<ApiError>,
    /// The list whose "Add" button was pressed, if any.
    grown: String,
    /// The templates the team may choose: (id, name).
    templates: Vec<(String, String)>,
}

impl Form<'_> {
    fn redirect(&self) -> bool {
        self.qr_type.is_redirect()
    }

    fn new_code(&self) -> bool {
        self.code.is_none()
    }
}

/// The twelve types as links to their forms, the chosen one marked.
fn type_chooser(chosen: QrType) -> Markup {
    html! {
        nav.types aria-label="Type of code" {
            @for t in QrType::ALL {
                a id={ "type-" (t.as_str()) } href={ "/codes/new?type=" (t.as_str()) }
                    aria-current=[(t == chosen).then_some("page")] { (t.as_str()) }
            }
        }
        p.muted { "Many codes at once: " a #import-link href="/codes/import" { "import a CSV file" } "." }
    }
}

/// The template select and the preview of the code's image in the template chosen.
fn template_select(state: &DashState, signed: &Signed, form: &Form) -> Markup {
    let chosen = form.values.get(TEMPLATE).map_or("", String::as_str);
    let display_id = form.values.get("displayId").map_or("", String::as_str);
    html! {
        label for=(TEMPLATE) { "Design template" }
        select id=(TEMPLATE) name=(TEMPLATE) {
            option value="" { "Default" }
            @for (id, name) in &form.templates {
                option value=(id) selected[chosen == id] { (name) }
            }
        }
        (code_preview::figure(state, signed, form.code, display_id, chosen))
    }
}

fn password_note(form: &Form) -> Markup {
    let protected = form
        .code
        .is_some_and(|qr| qr.settings.contains_key("passwordHash"));
    html! {
        @if protected {
            p.muted { "This code has a password." }
            label.check { input id=(CLEAR_PASSWORD) type="checkbox" name=(CLEAR_PASSWORD) value="on"; " Remove the password" }
        }
    }
}

fn form_page(state: &DashState, signed: &Signed, form: &Form) -> Response {
    let (title, action) = match form.code {
        None => (
            format!("New {} code", form.qr_type.as_str()),
            format!("/codes/new?type={}", form.qr_type.as_str()),
        ),
        Some(qr) => (
            format!("Edit {}", qr.name),
            format!("/codes/{}/edit", qr.id),
        ),
    };
    let message = form.error.as_ref().map(|e| e.message.as_str());
    let shown = Shown::new(&form.values, message, &form.grown);
    let fields = html! {
        (form_fields::section(&top_level(form.redirect(), form.new_code()), "", &shown))
        (template_select(state, signed, form))
        fieldset.group { legend { "Content" } (form_fields::section(&type_settings(form.qr_type), "settings.", &shown)) }
        fieldset.group {
            legend { "Redirect settings" }
            (password_note(form))
            (form_fields::section(&BEHAVIOUR, "settings.", &shown))
        }
    };
    let body = html! {
        h1 { (title) }
        @if form.new_code() { (type_chooser(form.qr_type)) }
        form.card #code-form method="post" action=(action) novalidate {
            (csrf::hidden(&signed.csrf))
            @if let (Some(message), false) = (message, shown.placed()) { p.form-error #form-error role="alert" { (message) } }
            (fields)
            div.actions {
                button #save-code type="submit" { "Save" }
                a.button.secondary href=(form.code.map_or("/codes".to_owned(), |qr| format!("/codes/{}", qr.id))) { "Cancel" }
            }
        }
        @if let Some(qr) = form.code {
            form method="post" action={ "/codes/" (qr.id) "/duplicate" } {
                (csrf::hidden(&signed.csrf))
                button.secondary #duplicate-code type="submit" { "Duplicate this code" }
            }
        }
    };
    let status = form.error.as_ref().map_or(StatusCode::OK, |e| e.status);
    (status, layout::page(&title, Some(signed), body)).into_response()
}

/// The texts of a submitted form, as it shows them again: blank rows dropped, lists
/// renumbered, passwords not shown.
fn shown_again(qr_type: QrType, new: bool, raw: &Values) -> Values {
    let request = request_body(qr_type, new, raw);
    texts_of(qr_type, new, &request)
}

/// The texts the form shows for a request body (or a stored code as one).
fn texts_of(qr_type: QrType, new: bool, body: &Map<String, Value>) -> Values {
    let mut values = Values::new();
    from_json(
        &top_level(qr_type.is_redirect(), new),
        "",
        body,
        &mut values,
    );
    let settings = body.get("settings").and_then(Value::as_object);
    if let Some(settings) = settings {
        from_json(&type_settings(qr_type), "settings.", settings, &mut values);
        from_json(&BEHAVIOUR, "settings.", settings, &mut values);
    }
    if let Some(Value::String(template)) = body.get(TEMPLATE) {
        values.insert(TEMPLATE.into(), template.clone());
    }
    values
}

/// The form's texts (trimmed, blank ones left out).
fn raw_values(form: &FormData) -> Values {
    form.entries()
        .map(|(k, v)| (k.to_owned(), v.trim().to_owned()))
        .filter(|(_, v)| !v.is_empty())
        .collect()
}

/// The API request the form's texts make: a create names the type; an update names every field
/// the form shows, so that one emptied is cleared rather than kept.
fn request_body(qr_type: QrType, new: bool, values: &Values) -> Map<String, Value> {
    let mut body = to_json(&top_level(qr_type.is_redirect(), new), "", values);
    let mut settings = to_json(&type_settings(qr_type), "settings.", values);
    settings.extend(to_json(&BEHAVIOUR, "settings.", values));
    if values.contains_key(CLEAR_PASSWORD) {
        settings.insert("password".into(), json!(""));
    }
    if let Some(template) = values.get(TEMPLATE) {
        body.insert(TEMPLATE.into(), json!(template));
    }
    if new {
        body.insert("qrType".into(), json!(qr_type.as_str()));
    } else {
        body.entry("name").or_insert(json!(""));
        body.entry("tags").or_insert(json!([]));
        // Emptied (or "Default"), these two are removed: the API's update takes null for that.
        body.entry("expiryDate").or_insert(Value::Null);
        body.entry(TEMPLATE).or_insert(Value::Null);
        if qr_type.is_redirect() {
            body.entry("qrRedirectUrl").or_insert(json!(""));
        }
    }
    body.insert("settings".into(), Value::Object(settings));
    body
}

fn input_of(body: Map<String, Value>) -> Result<QrInput, ApiError> {
    serde_json::from_value(Value::Object(body)).map_err(|e| ApiError::bad_request(e.to_string()))
}

/// The built-in templates and the team's own, by name.
async fn templates(state: &DashState, signed: &Signed) -> Result<Vec<(String, String)>, PageError> {
    let own = state
        .app
        .store
        .team_templates(&signed.caller.team.id)
        .await?;
    let all = builtins().into_iter().chain(own);
    Ok(all.map(|t| (t.id, t.name)).collect())
}

#[derive(Deserialize)]
pub struct Chosen {
    #[serde(rename = "type")]
    qr_type: Option<String>,
}

fn chosen_type(chosen: &Chosen) -> Result<QrType, PageError> {
    let name = chosen.qr_type.as_deref().unwrap_or("WEB");
    QrType::parse(name).ok_or_else(|| {
        PageError::new(
            StatusCode::BAD_REQUEST,
            format!("there is no code type {name:?}"),
        )
    })
}

pub async fn new(
    State(state): State<DashState>,
    signed: Signed,
    Query(chosen): Query<Chosen>,
) -> Result<Response, PageError> {
    signed.caller.require_code_writer()?;
    let form = Form {
        qr_type: chosen_type(&chosen)?,
        code: None,
        values: Values::new(),
        error: None,
        grown: String::new(),
        templates: templates(&state, &signed).await?,
    };
    Ok(form_page(&state, &signed, &form))
}

/// A form posted back: shown again with a row added (its "Add" button) or with the refusal.
async fn again(
    state: &DashState,
    signed: &Signed,
    qr_type: QrType,
    code: Option<&Qr>,
    raw: &Values,
    error: Option<ApiError>,
) -> Result<Response, PageError> {
    if let Some(error) = &error {
        if !matches!(error.status, StatusCode::BAD_REQUEST | StatusCode::CONFLICT) {
            return Err(PageError::new(error.status, error.message.clone()));
        }
    }
    let form = Form {
        qr_type,
        code,
        values: shown_again(qr_type, code.is_none(), raw),
        error,
        grown: raw.get(ADD_ROW).cloned().unwrap_or_default(),
        templates: templates(state, signed).await?,
    };
    Ok(form_page(state, signed, &form))
}

pub async fn create(
    State(state): State<DashState>,
    Query(chosen): Query<Chosen>,
    Posted { signed, form }: Posted,
) -> Result<Response, PageError> {
    signed.caller.require_code_writer()?;
    let qr_type = chosen_type(&chosen)?;
    let raw = raw_values(&form);
    if raw.contains_key(ADD_ROW) {
        return again(&state, &signed, qr_type, None, &raw, None).await;
    }
    let created = match input_of(request_body(qr_type, true, &raw)) {
        Ok(input) => create_qr(&state.app, &signed.caller, input).await,
        Err(error) => Err(error),
    };
    match created {
        Ok(qr) => Ok(Redirect::to(&format!("/codes/{}", qr.id)).into_response()),
        Err(error) => again(&state, &signed, qr_type, None, &raw, Some(error)).await,
    }
}

/// The caller's live code `id` for an edit.
async fn editable(state: &DashState, signed: &Signed, id: &str) -> Result<Qr, PageError> {
    signed.caller.require_code_writer()?;
    let qr = team_qr(&state.app.store, &signed.caller.team.id, id).await?;
    if qr.deleted {
        return Err(ApiError::conflict("cannot update a deleted QR code").into());
    }
    Ok(qr)
}

/// A stored code as the request body that would make it (what its form shows).
fn stored_body(qr: &Qr) -> Map<String, Value> {
    let mut body = Map::new();
    body.insert("name".into(), json!(qr.name));
    body.insert("qrRedirectUrl".into(), json!(qr.qr_redirect_url));
    body.insert("tags".into(), json!(qr.tags));
    body.insert("expiryDate".into(), json!(qr.expiry_date));
    body.insert(TEMPLATE.into(), json!(qr.template_id));
    body.insert("settings".into(), Value::Object(qr.settings.clone()));
    body
}

pub async fn edit(
    State(state): State<DashState>,
    signed: Signed,
    Path(id): Path<String>,
) -> Result<Response, PageError> {
    let qr = editable(&state, &signed, &id).await?;
    let form = Form {
        qr_type: qr.qr_type,
        code: Some(&qr),
        values: texts_of(qr.qr_type, false, &stored_body(&qr)),
        error: None,
        grown: String::new(),
        templates: templates(&state, &signed).await?,
    };
    Ok(form_page(&state, &signed, &form))
}

pub async fn update(
    State(state): State<DashState>,
    Path(id): Path<String>,
    Posted { signed, form }: Posted,
) -> Result<Response, PageError> {
    let qr = editable(&state, &signed, &id).await?;
    let raw = raw_values(&form);
    if raw.contains_key(ADD_ROW) {
        return again(&state, &signed, qr.qr_type, Some(&qr), &raw, None).await;
    }
    let updated = match input_of(request_body(qr.qr_type, false, &raw)) {
        Ok(input) => {
            let precondition = Precondition::default();
            apply_update(&state.app, &signed.caller, &id, precondition, input).await
        }
        Err(error) => Err(error),
    };
    match updated {
        Ok(qr) => Ok(Redirect::to(&format!("/codes/{}", qr.id)).into_response()),
        Err(error) => again(&state, &signed, qr.qr_type, Some(&qr), &raw, Some(error)).await,
    }
}

/// A copy of the code (the API's duplicate): its page.
pub async fn duplicate(
    State(state): State<DashState>,
    Path(id): Path<String>,
    Posted { signed, .. }: Posted,
) -> Result<Response, PageError> {
    let copy = duplicate_qr(&state.app, &signed.caller, &id).await?;
    Ok(Redirect::to(&format!("/codes/{}", copy.id)).into_response())
}

pub async fn delete(
    State(state): State<DashState>,
    Path(id): Path<String>,
    Posted { signed, .. }: Posted,
) -> Result<Response, PageError> {
    delete_qr(&state.app, &signed.caller, &id, Precondition::default()).await?;
    Ok(Redirect::to("/codes").into_response())
}
