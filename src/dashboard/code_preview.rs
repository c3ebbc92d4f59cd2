//! The code form's live preview: `GET /codes/preview.svg` draws, with the API's own image code,
//! the short link the form's code has (or will have) in the template the form names, and
//! `assets/code_preview.js` asks for it again when the template or the short link path changes.
//! Every code encodes its short link whatever its type and target, so those two are all the
//! image depends on. The form shows the preview without the script too (as it was drawn when
//! the page was made). Reads only: a template or code of another team is not found (404), and
//! every input is bounded.

use axum::extract::rejection::QueryRejection;
use axum::extract::{Query, State};
use axum::http::header::{CACHE_CONTROL, CONTENT_TYPE};
use axum::http::StatusCode;
use axum::response::{IntoResponse, Response};
use axum::routing::get;
use axum::Router;
use maud::{html, Markup};
use serde::Deserialize;

use super::error::PageError;
use super::session::Signed;
use super::DashState;
use crate::api::qrs::team_qr;
use crate::api::templates::usable;
use crate::api::ApiError;
use crate::model::template::DEFAULT_TEMPLATE_ID;
use crate::model::validate;
use crate::model::Qr;
use crate::qr_image::{svg, Design, DEFAULT_SIZE};

const SCRIPT: &str = include_str!("assets/code_preview.js");
const STYLESHEET: &str = include_str!("assets/code_preview.css");

/// The route of the preview image.
const PREVIEW_PATH: &str = "/codes/preview.svg";
/// Stands for the path a new code without one gets when it is saved (as long as a made-up one).
const PLACEHOLDER_PATH: &str = "xxxxxxx";
/// Ids of codes and templates are short; a longer one is refused before any lookup.
const MAX_ID_LEN: usize = 64;

pub fn routes() -> Router<DashState> {
    Router::new()
        .route(PREVIEW_PATH, get(preview))
        .route("/assets/code_preview.js", get(script))
        .route("/assets/code_preview.css", get(stylesheet))
}

/// What the preview is asked to draw; each one optional.
#[derive(Deserialize)]
#[serde(rename_all = "camelCase", deny_unknown_fields)]
pub struct Asked {
    /// The code edited: its own short link (on its own domain) is drawn.
    code: Option<String>,
    /// A new code's short link path as typed.
    display_id: Option<String>,
    /// The template chosen; none (or empty) is the default.
    template_id: Option<String>,
}

fn bad_request(message: impl Into<String>) -> PageError {
    PageError::new(StatusCode::BAD_REQUEST, message)
}

fn bounded(name: &str, value: &Option<String>) -> Result<Option<String>, PageError> {
    match value.as_deref().map(str::trim) {
        None | Some("") => Ok(None),
        Some(id) if id.len() > MAX_ID_LEN => Err(bad_request(format!(
            "{name} must be at most {MAX_ID_LEN} characters"
        ))),
        Some(id) => Ok(Some(id.to_owned())),
    }
}

/// Where a new code of the team goes: its default domain when that is one of its custom
/// domains (as the API's create does), else the edge's own URL.
fn new_code_base(state: &DashState, signed: &Signed) -> String {
    let team = &signed.caller.team;
    if team.domain_settings.contains_key(&team.default_domain) {
        format!("https://{}/", team.default_domain)
    } else {
        state.app.edge_base_url.to_string()
    }
}

/// The URL the image encodes: the edited code's short link, or a new code's.
async fn encoded_url(
    state: &DashState,
    signed: &Signed,
    asked: &Asked,
) -> Result<String, PageError> {
    if let Some(id) = bounded("code", &asked.code)? {
        let qr = team_qr(&state.app.store, &signed.caller.team.id, &id).await?;
        return Ok(qr.short_url(&state.app.edge_base_url));
    }
    let path = match asked.display_id.as_deref().map(str::trim) {
        None | Some("") => PLACEHOLDER_PATH,
        Some(path) => {
            validate::display_id(path).map_err(bad_request)?;
            path
        }
    };
    Ok(format!("{}{path}", new_code_base(state, signed)))
}

pub async fn preview(
    State(state): State<DashState>,
    signed: Signed,
    asked: Result<Query<Asked>, QueryRejection>,
) -> Result<Response, PageError> {
    let Query(asked) = asked.map_err(|e| bad_request(e.body_text()))?;
    let url = encoded_url(&state, &signed, &asked).await?;
    let template_id = bounded("templateId", &asked.template_id)?;
    let template_id = template_id.as_deref().unwrap_or(DEFAULT_TEMPLATE_ID);
    let template = usable(&state.app, &signed.caller.team.id, template_id)
        .await?
        .ok_or_else(|| ApiError::not_found(format!("template {template_id:?} not found")))?;
    let design = Design::of(&template, None).map_err(bad_request)?;
    let image = svg(&url, &design, DEFAULT_SIZE).map_err(bad_request)?;
    let headers = [(CONTENT_TYPE, "image/svg+xml"), (CACHE_CONTROL, "no-store")];
    Ok((headers, image).into_response())
}

/// The preview's query for the form as the page shows it.
fn preview_src(code: Option<&Qr>, display_id: &str, template_id: &str) -> String {
    let mut query = url::form_urlencoded::Serializer::new(String::new());
    match code {
        Some(qr) => query.append_pair("code", &qr.id),
        None => query.append_pair("displayId", display_id),
    };
    query.append_pair("templateId", template_id);
    format!("{PREVIEW_PATH}?{}", query.finish())
}

/// The preview beside the template select: the image as the form stands, and the URL it
/// encodes in words. `data-` attributes tell the script what to ask for, and which short link
/// paths are reserved (the script asks for no path the route would refuse: a refused image is
/// an error in the browser's console).
pub fn figure(
    state: &DashState,
    signed: &Signed,
    code: Option<&Qr>,
    display_id: &str,
    template_id: &str,
) -> Markup {
    // A path the API would refuse (the form shown again with it) is drawn as none.
    let display_id = Some(display_id)
        .filter(|path| validate::display_id(path).is_ok())
        .unwrap_or_default();
    let (encodes, base) = match code {
        Some(qr) => (qr.short_url(&state.app.edge_base_url), String::new()),
        None => {
            let base = new_code_base(state, signed);
            let path = if display_id.is_empty() {
                PLACEHOLDER_PATH
            } else {
                display_id
            };
            (format!("{base}{path}"), base)
        }
    };
    html! {
        link rel="stylesheet" href="/assets/code_preview.css";
        script src="/assets/code_preview.js" defer {}
        figure.qr-preview #qr-preview data-preview-url=(PREVIEW_PATH)
            data-code=[code.map(|qr| &qr.id)] data-base=[(!base.is_empty()).then_some(&base)]
            data-placeholder=(PLACEHOLDER_PATH)
            data-reserved=(validate::RESERVED_DISPLAY_IDS.join(" ")) {
            img #qr-preview-image src=(preview_src(code, display_id, template_id))
                alt="Preview of the QR code in the chosen template" width="160" height="160";
            figcaption #qr-preview-caption aria-live="polite" {
                "Encodes " span #qr-preview-url { (encodes) }
                @if code.is_none() {
                    span #qr-preview-note hidden[!display_id.is_empty()] {
                        " (an example path: one is made up when the code is saved)"
                    }
                }
            }
        }
    }
}

async fn script() -> impl IntoResponse {
    asset("text/javascript; charset=utf-8", SCRIPT)
}

async fn stylesheet() -> impl IntoResponse {
    asset("text/css; charset=utf-8", STYLESHEET)
}

/// As the dashboard's other assets: they change only with the binary.
fn asset(content_type: &'static str, body: &'static str) -> impl IntoResponse {
    (
        [
            (CONTENT_TYPE, content_type),
            (CACHE_CONTROL, "public, max-age=300"),
        ],
        body,
    )
}
