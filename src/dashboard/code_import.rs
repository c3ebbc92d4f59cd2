//! Many codes at once: a CSV file uploaded in a form (`multipart/form-data`) and imported by the
//! API's own import (`POST /api/qrs-api/import`, the columns of docs/import.md). The page then
//! says how many codes were made and lists each refused line with its number and the API's
//! message; a file of which nothing could be imported says so and creates nothing.

use axum::extract::{DefaultBodyLimit, Multipart, State};
use axum::http::StatusCode;
use axum::response::{IntoResponse, Response};
use axum::routing::get;
use axum::Router;
use maud::{html, Markup};

use super::error::PageError;
use super::form::FormData;
use super::session::Signed;
use super::{csrf, layout, DashState};
use crate::api::qr_bulk::{import_csv, nothing_imported, ImportResult};
use crate::api::ApiError;

/// A CSV file of many codes is larger than the other forms allow (1 MiB: thousands of rows).
const MAX_UPLOAD_BYTES: usize = 1024 * 1024;
/// The file input's field.
const FILE: &str = "file";

pub fn routes() -> Router<DashState> {
    Router::new().route(
        "/codes/import",
        get(form)
            .post(import)
            .layer(DefaultBodyLimit::max(MAX_UPLOAD_BYTES)),
    )
}

fn page(signed: &Signed, status: StatusCode, outcome: Markup) -> Response {
    let body = html! {
        h1 { "Import codes from a CSV file" }
        (outcome)
        form.card #import-form method="post" action="/codes/import" enctype="multipart/form-data" {
            (csrf::hidden(&signed.csrf))
            p.muted { "One code per row: displayId, url, type and an optional name, or a header naming those columns." }
            label for=(FILE) { "CSV file" }
            input id=(FILE) type="file" name=(FILE) accept=".csv,text/csv" required;
            div.actions {
                button #import-codes type="submit" { "Import" }
                a.button.secondary href="/codes" { "Cancel" }
            }
        }
    };
    (status, layout::page("Import codes", Some(signed), body)).into_response()
}

pub async fn form(signed: Signed) -> Result<Response, PageError> {
    signed.caller.require_code_writer()?;
    Ok(page(&signed, StatusCode::OK, html! {}))
}

/// The refused lines, by number.
fn refused_lines(result: &ImportResult) -> Markup {
    html! {
        @if !result.refused.is_empty() {
            table #refused-lines {
                thead { tr { th scope="col" { "Line" } th scope="col" { "Why it was refused" } } }
                tbody {
                    @for row in &result.refused {
                        tr { td { (row.line) } td { (row.message) } }
                    }
                }
            }
        }
    }
}

fn outcome(result: &ImportResult) -> (StatusCode, Markup) {
    if result.imported == 0 {
        let markup = html! {
            p.form-error #import-error role="alert" { (nothing_imported(result)) }
            (refused_lines(result))
        };
        return (StatusCode::BAD_REQUEST, markup);
    }
    let markup = html! {
        p.notice #import-result role="status" {
            (result.imported) " imported, " (result.refused.len()) " refused. "
            a href="/codes" { "See the codes" }
        }
        (refused_lines(result))
    };
    (StatusCode::OK, markup)
}

/// The uploaded file and the form's CSRF token, checked.
async fn uploaded(mut multipart: Multipart, signed: &Signed) -> Result<Vec<u8>, PageError> {
    let unreadable = |e: axum::extract::multipart::MultipartError| {
        PageError::new(
            e.status(),
            format!("the upload could not be read: {}", e.body_text()),
        )
    };
    let (mut token, mut file) = (String::new(), None);
    while let Some(field) = multipart.next_field().await.map_err(unreadable)? {
        let name = field.name().unwrap_or_default().to_owned();
        match name.as_str() {
            csrf::FIELD => token = field.text().await.map_err(unreadable)?,
            FILE => file = Some(field.bytes().await.map_err(unreadable)?.to_vec()),
            _ => {}
        }
    }
    let sent: String = url::form_urlencoded::Serializer::new(String::new())
        .append_pair(csrf::FIELD, &token)
        .finish();
    csrf::check(&FormData::parse(sent.as_bytes()), &signed.csrf)?;
    file.filter(|f| !f.is_empty())
        .ok_or_else(|| PageError::new(StatusCode::BAD_REQUEST, "choose a CSV file to import"))
}

pub async fn import(
    State(state): State<DashState>,
    signed: Signed,
    multipart: Multipart,
) -> Result<Response, PageError> {
    signed.caller.require_code_writer()?;
    let file = match uploaded(multipart, &signed).await {
        Ok(file) => file,
        Err(error) if error.status == StatusCode::BAD_REQUEST => {
            return Ok(refusal(&signed, error.message));
        }
        Err(error) => return Err(error),
    };
    match import_csv(&state.app, &signed.caller, &file).await {
        Ok(result) => {
            let (status, markup) = outcome(&result);
            Ok(page(&signed, status, markup))
        }
        Err(ApiError {
            status, message, ..
        }) if status == StatusCode::BAD_REQUEST => Ok(refusal(&signed, message)),
        Err(error) => Err(error.into()),
    }
}

/// The form again with a refusal that concerns the whole file.
fn refusal(signed: &Signed, message: String) -> Response {
    let markup = html! { p.form-error #import-error role="alert" { (message) } };
    page(signed, StatusCode::BAD_REQUEST, markup)
}
