//! What successful answers look like: `{"success": true, "data": ...}`, and the QR object with
//! the fields derived at answer time.

use axum::Json;
use serde::Serialize;
use sha2::{Digest, Sha256};

use super::AppState;
use crate::model::Qr;

#[derive(Serialize, utoipa::ToSchema)]
pub struct Envelope<T> {
    /// Always true.
    success: bool,
    data: T,
}

pub fn ok<T: Serialize>(data: T) -> Json<Envelope<T>> {
    Json(Envelope {
        success: true,
        data,
    })
}

/// A refusal that still has a report to give (a bulk create or an import that created nothing):
/// the error envelope, `success: false` with the message, and the report as `data`.
#[derive(Serialize, utoipa::ToSchema)]
pub struct Refusal<T> {
    /// Always false.
    success: bool,
    /// Why nothing was done, in words.
    message: String,
    data: T,
}

pub fn refused<T: Serialize>(message: String, data: T) -> Json<Refusal<T>> {
    Json(Refusal {
        success: false,
        message,
        data,
    })
}

/// The reference's QR object: the stored code plus where its image is and what it encodes.
#[derive(Serialize, utoipa::ToSchema)]
#[serde(rename_all = "camelCase")]
pub struct QrView {
    #[serde(flatten)]
    qr: Qr,
    /// The code's image (SVG) without credentials, at a URL that cannot be guessed: for an
    /// `<img src>` or a print shop. `…/image-url` replaces it, and the old one is then 404.
    qr_image_url: String,
    /// Changes exactly when the printed image would (it hashes the encoded URL).
    qr_image_hash: String,
    /// The URL the code encodes: where phones land when they scan it.
    short_url: String,
    /// Scans must give a password first (its hash is never shown).
    password_protected: bool,
}

pub fn qr_view(mut qr: Qr, state: &AppState) -> QrView {
    let short_url = qr.short_url(&state.edge_base_url);
    let password_protected = qr.settings.remove("passwordHash").is_some();
    let qr_image_url = state.public_images.url(&state.api_base_url, &qr);
    // Part of the image URL's key, not of what the code is: not shown.
    qr.image_url_generation = 0;
    QrView {
        qr_image_url,
        qr_image_hash: hex::encode(&Sha256::digest(short_url.as_bytes())[..16]),
        short_url,
        password_protected,
        qr,
    }
}
