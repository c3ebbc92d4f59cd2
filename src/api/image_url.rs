//! A code's public image URL (`qrImageUrl`): `{api}/images/{qrId}/{key}.svg` (or `.png`), which
//! works without credentials, as an `<img src>` or in a print shop's hands, and cannot be guessed.
//! The key is an HMAC-SHA256 (128 bits of it) of the code's id and its image URL generation under
//! the platform's secret, which the store makes once: codes stored before it existed have
//! generation 0 and need nothing done. `POST /api/qrs-api/{id}/image-url` bumps the generation,
//! which revokes the URL in hand (it answers 404 from then on) and gives a new one.

use std::net::IpAddr;

use axum::extract::{Path, State};
use axum::response::IntoResponse;
use base64::engine::general_purpose::URL_SAFE_NO_PAD;
use base64::Engine;
use hmac::{Hmac, Mac};
use sha2::Sha256;

use super::auth::Caller;
use super::error::ErrorBody;
use super::openapi::CodePath;
use super::precondition::{tagged, IfMatchHeader, Precondition};
use super::qrs::change_live_qr;
use super::view::{ok, qr_view, Envelope, QrView};
use super::{ApiError, AppState};
use crate::clock::now_ms;
use crate::config::ApiConfig;
use crate::edge::client_ip::ClientIp;
use crate::model::Qr;

/// Bytes of the HMAC a key carries: 128 bits, beyond guessing.
const KEY_BYTES: usize = 16;

/// What the public image URLs need: the platform's secret, and the per-client limit on them.
pub struct PublicImages {
    secret: [u8; 32],
    /// Image requests a client address (an IPv6 /64) may make per minute.
    pub requests_per_minute: u64,
    /// Who the client is behind the API's trusted proxies.
    pub client_ip: ClientIp,
}

impl PublicImages {
    pub fn new(secret: [u8; 32], config: &ApiConfig) -> Self {
        Self {
            secret,
            requests_per_minute: config.image_requests_per_minute,
            client_ip: ClientIp::new(config.trusted_proxies.clone()),
        }
    }

    fn mac(&self, qr: &Qr) -> Hmac<Sha256> {
        let mut mac = Hmac::<Sha256>::new_from_slice(&self.secret).expect("any key length");
        mac.update(b"qredge image url\0");
        mac.update(qr.id.as_bytes());
        mac.update(&[0]);
        mac.update(&qr.image_url_generation.to_be_bytes());
        mac
    }

    /// The key of the code's public image URL.
    pub fn key(&self, qr: &Qr) -> String {
        let tag = self.mac(qr).finalize().into_bytes();
        URL_SAFE_NO_PAD.encode(&tag[..KEY_BYTES])
    }

    /// Whether `key` is the code's current one (compared in constant time).
    pub fn accepts(&self, qr: &Qr, key: &str) -> bool {
        match URL_SAFE_NO_PAD.decode(key) {
            Ok(tag) if tag.len() == KEY_BYTES => self.mac(qr).verify_truncated_left(&tag).is_ok(),
            _ => false,
        }
    }

    /// The code's public SVG URL, on the API's public base URL (`api_base` ends in '/').
    pub fn url(&self, api_base: &str, qr: &Qr) -> String {
        format!("{api_base}images/{}/{}.svg", qr.id, self.key(qr))
    }

    /// The rate-limit bucket of a client: its address, or its /64 for IPv6 (one subscriber's
    /// network, which hands out addresses within it at will).
    pub fn bucket(client: IpAddr) -> String {
        match client {
            IpAddr::V4(v4) => format!("image:{v4}"),
            IpAddr::V6(v6) => {
                let s = v6.segments();
                format!("image:{:x}:{:x}:{:x}:{:x}::/64", s[0], s[1], s[2], s[3])
            }
        }
    }
}

/// `POST /api/qrs-api/{id}/image-url`: a new public image URL for the code; the old one answers
/// 404 from then on.
#[utoipa::path(
    post,
    path = "/api/qrs-api/{id}/image-url",
    operation_id = "renewQrImageUrl",
    tag = "QR codes",
    params(CodePath, IfMatchHeader),
    responses(
        (status = 200, description = "The code with its new qrImageUrl (the previous one is revoked)", body = Envelope<QrView>),
        (status = 403, description = "No access to the team, a role that cannot write codes, or a key without codes:write", body = ErrorBody),
        (status = 404, description = "No such code in the team", body = ErrorBody),
        (status = 409, description = "The code is deleted", body = ErrorBody),
        (status = 412, description = "If-Match names none of the code's current version: nothing changed", body = ErrorBody),
    )
)]
pub async fn renew(
    State(state): State<AppState>,
    caller: Caller,
    Path(id): Path<String>,
    precondition: Precondition,
) -> Result<impl IntoResponse, ApiError> {
    caller.require_code_writer()?;
    let (member_id, now) = (caller.member.id.clone(), now_ms());
    let action = "renew the image URL of";
    let qr = change_live_qr(&state, &caller, &id, precondition, action, move |qr| {
        qr.image_url_generation = qr.image_url_generation.wrapping_add(1);
        // A change of the code (qrImageUrl is new): the updated-after feeds carry it.
        qr.updated_at = now;
        qr.updated_by = member_id.clone();
        Ok(())
    })
    .await?;
    Ok(tagged(qr.version, ok(qr_view(qr, &state))))
}

#[cfg(test)]
mod tests {
    use super::*;

    fn images(secret: u8) -> PublicImages {
        PublicImages::new([secret; 32], &ApiConfig::default())
    }

    #[test]
    fn a_key_is_the_codes_own_and_changes_with_its_generation() {
        let images = images(1);
        let mut qr = Qr::web("qr_a", "team_1", "a", "https://example.com/");
        let key = images.key(&qr);
        assert_eq!(key.len(), 22, "128 bits in base64url");
        assert!(images.accepts(&qr, &key));
        assert!(!images.accepts(&qr, &key[..21]));
        assert!(!images.accepts(&qr, "not base64 at all!"));
        let other = Qr::web("qr_b", "team_1", "b", "https://example.com/");
        assert!(!images.accepts(&other, &key), "another code's key");
        assert!(
            !self::images(2).accepts(&qr, &key),
            "another platform's secret"
        );
        qr.image_url_generation += 1;
        assert!(!images.accepts(&qr, &key), "revoked");
        assert!(images.accepts(&qr, &images.key(&qr)));
        assert_eq!(
            images.url("https://api.example/", &qr),
            format!("https://api.example/images/qr_a/{}.svg", images.key(&qr))
        );
    }

    #[test]
    fn clients_are_counted_by_address_and_ipv6_by_network() {
        let bucket = |ip: &str| PublicImages::bucket(ip.parse().unwrap());
        assert_eq!(bucket("192.0.2.7"), "image:192.0.2.7");
        assert_eq!(
            bucket("2001:db8:1:2:aaaa::1"),
            bucket("2001:db8:1:2:bbbb::2")
        );
        assert_ne!(bucket("2001:db8:1:2::1"), bucket("2001:db8:1:3::1"));
    }
}
