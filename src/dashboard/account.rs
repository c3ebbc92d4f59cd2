//! A signed-in member's password for the dashboard.

use axum::extract::State;
use axum::http::StatusCode;
use axum::response::{IntoResponse, Redirect, Response};
use maud::html;

use super::error::PageError;
use super::posted::Posted;
use super::session::Signed;
use super::{csrf, layout, password, DashState};
use crate::api::ApiError;
use crate::model::Member;
use crate::store;

fn password_page(signed: &Signed, error: Option<&str>) -> Response {
    let has_password = signed.caller.member.password_hash.is_some();
    let body = html! {
        h1 { @if has_password { "Change your password" } @else { "Set your password" } }
        form.card method="post" action="/account/password" {
            (csrf::hidden(&signed.csrf))
            p.muted { "Signed in as " (signed.caller.member.email) ". At least " (password::MIN_LEN) " characters." }
            label for="password" { "New password" }
            input #password type="password" name="password" autocomplete="new-password"
                aria-invalid=[error.map(|_| "true")] aria-describedby=[error.map(|_| "password-error")] required;
            @if let Some(error) = error {
                p.field-error #password-error { (error) }
            }
            label for="confirmation" { "New password again" }
            input #confirmation type="password" name="confirmation" autocomplete="new-password" required;
            div.actions { button #save-password type="submit" { "Save password" } }
        }
    };
    let status = if error.is_some() {
        StatusCode::BAD_REQUEST
    } else {
        StatusCode::OK
    };
    (status, layout::page("Password", Some(signed), body)).into_response()
}

pub async fn form(signed: Signed) -> Response {
    password_page(&signed, None)
}

pub async fn save(
    State(state): State<DashState>,
    Posted { signed, form }: Posted,
) -> Result<Response, PageError> {
    let (given, confirmation) = (form.get("password"), form.get("confirmation"));
    if let Some(refusal) = password::refusal(given, confirmation) {
        return Ok(password_page(&signed, Some(&refusal)));
    }
    let given = given.to_owned();
    let hash = tokio::task::spawn_blocking(move || password::hash(&given))
        .await
        .map_err(ApiError::internal)?;
    let edit = store::edit(move |member: &mut Member| {
        member.password_hash = Some(hash.clone());
        Ok(())
    });
    state
        .app
        .store
        .update_member(&signed.caller.member.id, edit)
        .await?;
    Ok(Redirect::to("/codes").into_response())
}
