//! `GET /images/{qrId}/{key}.svg` and `.png`: a code's image without credentials, at the URL
//! its `qrImageUrl` names (see `image_url`). Outside authentication and the team's rate limit, so
//! each client address (an IPv6 /64) has its own limit, `api.image_requests_per_minute`, counted
//! like the teams' (in Redis on a Redis store). A wrong key, another code's key, a revoked one,
//! an unknown or deleted code are one answer, 404, so that the URL tells nothing but the image.

use std::collections::HashMap;
use std::net::{IpAddr, Ipv4Addr, SocketAddr};

use axum::extract::rejection::QueryRejection;
use axum::extract::{ConnectInfo, Path, Query, State};
use axum::http::{header, Extensions, HeaderMap, HeaderValue, StatusCode};
use axum::response::{IntoResponse, Response};

use super::error::ErrorBody;
use super::image::{drawn, Format, ImageParams, ImageQuery};
use super::image_url::PublicImages;
use super::{ApiError, AppState};
use crate::clock::now_ms;

/// Caches (a browser, a CDN) may keep an image this long: after a renewal, the old URL may still
/// be answered from a cache for as long.
const CACHE_CONTROL: &str = "public, max-age=300";
/// An SVG opened on its own is a document: it may show its embedded logo and nothing else.
const SVG_POLICY: &str = "default-src 'none'; img-src data:; style-src 'unsafe-inline'";

/// The path's `{qrId}`, and its file: the key and the format.
#[derive(utoipa::IntoParams)]
#[into_params(parameter_in = Path)]
#[allow(dead_code)] // never built: only its description is used
pub(super) struct ImagePath {
    /// The code's id (`qr_…`)
    id: String,
    /// `{key}.svg` or `{key}.png`: the key qrImageUrl carries
    file: String,
}

#[utoipa::path(
    get,
    path = "/images/{id}/{file}",
    operation_id = "publicQrImage",
    tag = "QR codes",
    security(()),
    params(ImagePath, ImageParams),
    responses(
        (status = 200, description = "The code's image (SVG or PNG by the file's extension), without credentials", content(
            (String = "image/svg+xml"),
            (Vec<u8> = "image/png"),
        )),
        (status = 400, description = "size or errorCorrection out of range", body = ErrorBody),
        (status = 404, description = "No such image: an unknown or deleted code, or a key that is not the code's current one", body = ErrorBody),
        (status = 429, description = "The client address's image requests per minute are spent (api.image_requests_per_minute)", body = ErrorBody),
        (status = 503, description = "The store (Redis) is unavailable; retry shortly", body = ErrorBody),
    )
)]
pub async fn image(
    State(state): State<AppState>,
    extensions: Extensions,
    headers: HeaderMap,
    Path((id, file)): Path<(String, String)>,
    params: Result<Query<HashMap<String, String>>, QueryRejection>,
) -> Result<Response, ApiError> {
    // Without the listener's peer address (a server that does not provide it) every client
    // shares one bucket: still limited, never unlimited.
    let peer = extensions
        .get::<ConnectInfo<SocketAddr>>()
        .map_or(IpAddr::V4(Ipv4Addr::UNSPECIFIED), |ConnectInfo(a)| a.ip());
    let client = state.public_images.client_ip.resolve(peer, &headers);
    if let Some(refused) = over_limit(&state, client).await? {
        return Ok(refused);
    }
    let not_found = || ApiError::not_found("no such image");
    let (key, format) = match file.rsplit_once('.') {
        Some((key, "svg")) => (key, Format::Svg),
        Some((key, "png")) => (key, Format::Png),
        _ => return Err(not_found()),
    };
    let qr = match state.store.qr(&id).await? {
        Some(qr) if !qr.deleted && state.public_images.accepts(&qr, key) => qr,
        _ => return Err(not_found()),
    };
    let query = ImageQuery::parse(params)?;
    let mut response = drawn(&state, &qr, &query, format).await?;
    let headers = response.headers_mut();
    headers.insert(
        header::CACHE_CONTROL,
        HeaderValue::from_static(CACHE_CONTROL),
    );
    headers.insert(
        header::X_CONTENT_TYPE_OPTIONS,
        HeaderValue::from_static("nosniff"),
    );
    if format == Format::Svg {
        headers.insert(
            header::CONTENT_SECURITY_POLICY,
            HeaderValue::from_static(SVG_POLICY),
        );
    }
    Ok(response)
}

/// Counts the request in its client's bucket for this minute: past the limit, the refusal
/// (429 with Retry-After).
async fn over_limit(state: &AppState, client: IpAddr) -> Result<Option<Response>, ApiError> {
    let now = now_ms();
    let window = now.div_euclid(60_000);
    let bucket = PublicImages::bucket(client);
    let count = state.store.count_request(&bucket, window).await?;
    let limit = state.public_images.requests_per_minute;
    if count <= limit {
        return Ok(None);
    }
    let wait = ((window + 1) * 60 - now.div_euclid(1000)).max(1);
    let mut refused = ApiError::new(
        StatusCode::TOO_MANY_REQUESTS,
        format!("this address's {limit} image requests a minute are spent; retry in {wait} s"),
    )
    .into_response();
    refused
        .headers_mut()
        .insert(header::RETRY_AFTER, HeaderValue::from(wait));
    Ok(Some(refused))
}
