//! One request, start to finish: resolve, answer, hand the scan off. No locks, no I/O, and
//! only the allocations the response itself needs.

use std::convert::Infallible;
use std::net::SocketAddr;
use std::sync::Arc;

use arc_swap::ArcSwap;
use bytes::Bytes;
use http_body_util::Full;
use hyper::header::{self, HeaderValue};
use hyper::{Method, Request, Response, StatusCode};

use super::client_ip::ClientIp;
use super::metrics::EdgeMetrics;
use super::pages;
use super::RouteTable;
use crate::clock::now_ms;
use crate::ids::EventIds;
use crate::model::RawScan;
use crate::pipeline::ScanSink;

/// Phones must ask us again on every scan, or scans go uncounted.
const NO_STORE: HeaderValue =
    HeaderValue::from_static("no-store, no-cache, must-revalidate, max-age=0");
const HTML: HeaderValue = HeaderValue::from_static("text/html; charset=utf-8");
const TEXT: HeaderValue = HeaderValue::from_static("text/plain; charset=utf-8");
const ALLOW: HeaderValue = HeaderValue::from_static("GET, HEAD");

/// Everything the handler reads, shared by all connections.
pub struct EdgeState {
    pub table: Arc<ArcSwap<RouteTable>>,
    pub sink: ScanSink,
    pub event_ids: EventIds,
    pub client_ip: ClientIp,
    pub metrics: EdgeMetrics,
}

pub async fn handle(
    state: Arc<EdgeState>,
    peer: SocketAddr,
    request: Request<hyper::body::Incoming>,
) -> Result<Response<Full<Bytes>>, Infallible> {
    let started = std::time::Instant::now();
    let response = respond(&state, peer, &request);
    state.metrics.observe(response.status(), started.elapsed());
    Ok(response)
}

/// Builds the answer for a request; the body is never read (GET and HEAD carry none).
pub fn respond<B>(
    state: &EdgeState,
    peer: SocketAddr,
    request: &Request<B>,
) -> Response<Full<Bytes>> {
    let method = request.method();
    if method != Method::GET && method != Method::HEAD {
        let mut response = plain(StatusCode::METHOD_NOT_ALLOWED, "method not allowed\n");
        response.headers_mut().insert(header::ALLOW, ALLOW);
        return response;
    }
    let path = request.uri().path();
    let display_id = path.strip_prefix('/').unwrap_or(path);
    let display_id = display_id.strip_suffix('/').unwrap_or(display_id);
    if display_id == "healthz" {
        return plain(StatusCode::OK, "ok\n");
    }

    let table = state.table.load();
    let Some(route) = table.lookup(display_id) else {
        return page(StatusCode::NOT_FOUND, pages::NOT_FOUND);
    };
    let now = now_ms();
    if route.is_expired(now) {
        return page(StatusCode::GONE, pages::EXPIRED);
    }
    // HEAD requests are link checkers and prefetchers, not people: answered, never counted.
    if method == Method::GET {
        let headers = request.headers();
        state.sink.send(RawScan {
            event_id: state.event_ids.next(),
            qr_id: Arc::clone(&route.qr_id),
            team_id: Arc::clone(&route.team_id),
            display_id: Arc::clone(&route.display_id),
            scan_time: now,
            ip: state.client_ip.recorded(peer.ip(), headers),
            user_agent: headers.get(header::USER_AGENT).cloned(),
            referrer: headers.get(header::REFERER).cloned(),
        });
    }
    let mut response = Response::new(Full::new(Bytes::new()));
    *response.status_mut() = StatusCode::FOUND;
    let headers = response.headers_mut();
    headers.insert(header::LOCATION, route.location.clone());
    headers.insert(header::CACHE_CONTROL, NO_STORE);
    response
}

fn page(status: StatusCode, html: &'static str) -> Response<Full<Bytes>> {
    with_body(status, HTML, html)
}

fn plain(status: StatusCode, text: &'static str) -> Response<Full<Bytes>> {
    with_body(status, TEXT, text)
}

fn with_body(
    status: StatusCode,
    content_type: HeaderValue,
    body: &'static str,
) -> Response<Full<Bytes>> {
    let mut response = Response::new(Full::new(Bytes::from_static(body.as_bytes())));
    *response.status_mut() = status;
    let headers = response.headers_mut();
    headers.insert(header::CONTENT_TYPE, content_type);
    headers.insert(header::CACHE_CONTROL, NO_STORE);
    response
}
