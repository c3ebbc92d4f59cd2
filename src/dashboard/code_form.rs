//! Creating, editing and deleting a code in a form. The form posts what an API request would
//! send, and the API's own functions validate and store it: a refusal shows the API's message
//! next to the field it names.

use axum::body::Bytes;
use axum::extract::{Path, State};
use axum::http::StatusCode;
use axum::response::{IntoResponse, Redirect, Response};
use maud::{html, Markup};

use super::error::PageError;
use super::form::FormData;
use super::session::Signed;
use super::{csrf, layout, DashState};
use crate::api::precondition::Precondition;
use crate::api::qrs::{apply_update, create_qr, delete_qr, team_qr};
use crate::api::ApiError;
use crate::model::qr_input::QrInput;
use crate::model::Qr;

/// The fields of the form, named as the API's request fields are.
const FIELDS: [&str; 3] = ["name", "qrRedirectUrl", "displayId"];

/// What the form shows: the values entered and the refusal to show, if any.
#[derive(Default)]
struct Entered {
    name: String,
    url: String,
    display_id: String,
    error: Option<ApiError>,
}

impl Entered {
    fn of(form: &FormData) -> Self {
        Self {
            name: form.get("name").to_owned(),
            url: form.get("qrRedirectUrl").to_owned(),
            display_id: form.get("displayId").to_owned(),
            error: None,
        }
    }

    /// The message for `field`: the API names the field it refuses first in its message.
    fn error_for(&self, field: &str) -> Option<&str> {
        let message = self.error.as_ref()?.message.as_str();
        let named = FIELDS.iter().find(|f| message.starts_with(**f));
        (named == Some(&field)).then_some(message)
    }

    /// A refusal that names none of the form's fields, shown above it.
    fn general_error(&self) -> Option<&str> {
        let message = self.error.as_ref()?.message.as_str();
        (!FIELDS.iter().any(|f| message.starts_with(f))).then_some(message)
    }
}

/// One labelled input with its error beneath it, tied to it for screen readers.
fn field(
    entered: &Entered,
    name: &str,
    label: &str,
    kind: &str,
    value: &str,
    hint: &str,
) -> Markup {
    let error = entered.error_for(name);
    let error_id = format!("{name}-error");
    html! {
        label for=(name) { (label) }
        input id=(name) type=(kind) name=(name) value=(value)
            aria-invalid=[error.map(|_| "true")] aria-describedby=[error.map(|_| error_id.as_str())];
        @if !hint.is_empty() { p.muted { (hint) } }
        @if let Some(error) = error { p.field-error id=(error_id) { (error) } }
    }
}

/// The form of a WEB code: new (`code` None) or an edit of `code`.
fn form_page(signed: &Signed, code: Option<&Qr>, entered: &Entered) -> Response {
    let (title, action) = match code {
        None => ("New code".to_owned(), "/codes/new".to_owned()),
        Some(qr) => (
            format!("Edit {}", qr.name),
            format!("/codes/{}/edit", qr.id),
        ),
    };
    let body = html! {
        h1 { (title) }
        form.card #code-form method="post" action=(action) novalidate {
            (csrf::hidden(&signed.csrf))
            @if let Some(error) = entered.general_error() { p.form-error role="alert" { (error) } }
            (field(entered, "name", "Name", "text", &entered.name, ""))
            (field(entered, "qrRedirectUrl", "Where it leads (http or https URL)", "url", &entered.url, ""))
            @if code.is_none() {
                (field(entered, "displayId", "Short link path (optional)", "text", &entered.display_id,
                    "Letters, digits and - _ . ~; left empty, one is made up."))
            }
            div.actions {
                button #save-code type="submit" { "Save" }
                a.button.secondary href=(code.map_or("/codes".to_owned(), |qr| format!("/codes/{}", qr.id))) { "Cancel" }
            }
        }
    };
    let status = entered.error.as_ref().map_or(StatusCode::OK, |e| e.status);
    (status, layout::page(&title, Some(signed), body)).into_response()
}

/// What a refusal becomes: the form again with the message for a validation or a conflict; a
/// page of its own for anything else (no access, no such code).
fn refused(
    signed: &Signed,
    code: Option<&Qr>,
    form: &FormData,
    error: ApiError,
) -> Result<Response, PageError> {
    match error.status {
        StatusCode::BAD_REQUEST | StatusCode::CONFLICT => {
            let entered = Entered {
                error: Some(error),
                ..Entered::of(form)
            };
            Ok(form_page(signed, code, &entered))
        }
        _ => Err(error.into()),
    }
}

pub async fn new(signed: Signed) -> Result<Response, PageError> {
    signed.caller.require_code_writer()?;
    Ok(form_page(&signed, None, &Entered::default()))
}

pub async fn create(
    State(state): State<DashState>,
    signed: Signed,
    body: Bytes,
) -> Result<Response, PageError> {
    let form = FormData::parse(&body);
    csrf::check(&form, &signed.csrf)?;
    let input = QrInput {
        name: form.optional("name"),
        qr_type: Some("WEB".into()),
        qr_redirect_url: form.optional("qrRedirectUrl"),
        display_id: form.optional("displayId"),
        ..QrInput::default()
    };
    match create_qr(&state.app, &signed.caller, input).await {
        Ok(qr) => Ok(Redirect::to(&format!("/codes/{}", qr.id)).into_response()),
        Err(error) => refused(&signed, None, &form, error),
    }
}

/// The caller's live code `id` for an edit.
async fn editable(state: &DashState, signed: &Signed, id: &str) -> Result<Qr, PageError> {
    signed.caller.require_code_writer()?;
    let qr = team_qr(&state.app.store, &signed.caller.team.id, id).await?;
    if qr.deleted {
        return Err(ApiError::conflict("cannot update a deleted QR code").into());
    }
    if !qr.qr_type.is_redirect() {
        return Err(PageError::new(
            StatusCode::NOT_IMPLEMENTED,
            format!(
                "{} codes are edited through the API for now (PUT /api/qrs-api/{{id}})",
                qr.qr_type.as_str()
            ),
        ));
    }
    Ok(qr)
}

pub async fn edit(
    State(state): State<DashState>,
    signed: Signed,
    Path(id): Path<String>,
) -> Result<Response, PageError> {
    let qr = editable(&state, &signed, &id).await?;
    let entered = Entered {
        name: qr.name.clone(),
        url: qr.qr_redirect_url.clone().unwrap_or_default(),
        ..Entered::default()
    };
    Ok(form_page(&signed, Some(&qr), &entered))
}

pub async fn update(
    State(state): State<DashState>,
    signed: Signed,
    Path(id): Path<String>,
    body: Bytes,
) -> Result<Response, PageError> {
    let form = FormData::parse(&body);
    csrf::check(&form, &signed.csrf)?;
    let qr = editable(&state, &signed, &id).await?;
    let input = QrInput {
        name: Some(form.get("name").trim().to_owned()),
        qr_redirect_url: Some(form.get("qrRedirectUrl").trim().to_owned()),
        ..QrInput::default()
    };
    match apply_update(
        &state.app,
        &signed.caller,
        &id,
        Precondition::default(),
        input,
    )
    .await
    {
        Ok(qr) => Ok(Redirect::to(&format!("/codes/{}", qr.id)).into_response()),
        Err(error) => refused(&signed, Some(&qr), &form, error),
    }
}

pub async fn delete(
    State(state): State<DashState>,
    signed: Signed,
    Path(id): Path<String>,
    body: Bytes,
) -> Result<Response, PageError> {
    csrf::check(&FormData::parse(&body), &signed.csrf)?;
    delete_qr(&state.app, &signed.caller, &id, Precondition::default()).await?;
    Ok(Redirect::to("/codes").into_response())
}
