//! One request, start to finish: resolve the host and the code, answer, hand the scan off. No
//! locks and no I/O; a plain redirect allocates only what its response needs.

use std::convert::Infallible;
use std::net::SocketAddr;
use std::sync::Arc;
use std::time::Duration;

use arc_swap::ArcSwap;
use bytes::Bytes;
use bytestring::ByteString;
use http_body_util::{BodyExt, Full, LengthLimitError, Limited};
use hyper::body::{Body, Incoming};
use hyper::header::{self, HeaderValue};
use hyper::{Method, Request, Response, StatusCode};

use super::client_ip::ClientIp;
use super::domains::Domain;
use super::limits::ScanLimits;
use super::metrics::EdgeMetrics;
use super::orphans::{Orphan, OrphanLimits};
use super::pages::{self, Page};
use super::password_attempts::{self, PasswordAttempts};
use super::request_target::RequestTarget;
use super::route::{Answer, Route};
use super::visitor::{Visitor, VisitorLookups};
use super::RouteTable;
use crate::clock::now_ms;
use crate::hosted::{self, AppTarget};
use crate::ids::EventIds;
use crate::listener::{BodyDeadline, BodyTimedOut};
use crate::model::password;
use crate::model::scan::header_text;
use crate::model::validate::MAX_URL_LEN;
use crate::model::RawScan;
use crate::pipeline::ScanSink;

/// Phones must ask us again on every scan, or scans go uncounted.
const NO_STORE: HeaderValue =
    HeaderValue::from_static("no-store, no-cache, must-revalidate, max-age=0");
const HTML: HeaderValue = HeaderValue::from_static("text/html; charset=utf-8");
const TEXT: HeaderValue = HeaderValue::from_static("text/plain; charset=utf-8");
/// POST is only for the password form of a protected code.
const ALLOW: HeaderValue = HeaderValue::from_static("GET, HEAD");
const NO_SNIFF: HeaderValue = HeaderValue::from_static("nosniff");
const NO_REFERRER: HeaderValue = HeaderValue::from_static("no-referrer");
/// A password form's body: `password=…`, urlencoded.
const MAX_FORM_BYTES: usize = 2048;

/// Everything the handler reads, shared by all connections.
pub struct EdgeState {
    pub table: Arc<ArcSwap<RouteTable>>,
    pub sink: ScanSink,
    pub event_ids: EventIds,
    pub client_ip: ClientIp,
    pub metrics: EdgeMetrics,
    pub visitors: VisitorLookups,
    pub limits: Arc<ScanLimits>,
    pub password_attempts: PasswordAttempts,
    /// `edge.body_read_timeout_ms`: how long a password form's body may take to arrive.
    pub body_read_timeout: Duration,
    /// How many orphan scans per custom domain are recorded.
    pub orphan_limits: OrphanLimits,
}

pub async fn handle(
    state: Arc<EdgeState>,
    peer: SocketAddr,
    request: Request<Incoming>,
) -> Result<Response<Full<Bytes>>, Infallible> {
    let started = std::time::Instant::now();
    let response = if request.method() == Method::POST {
        unlock(&state, peer, request).await
    } else {
        respond(&state, peer, &request, Unlock::No)
    };
    state.metrics.observe(response.status(), started.elapsed());
    Ok(response)
}

/// Whether a request carries a password for the code, and if it is the right one.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Unlock {
    No,
    Wrong,
    Right,
}

/// A POST: the password form of a protected code (or of one of its files). Any other POST is
/// answered before its body is read: 405 when the code takes no password, the code's expiry or
/// scan-limit answer when it is closed. The form is read under a size cap and a deadline.
async fn unlock(
    state: &EdgeState,
    peer: SocketAddr,
    request: Request<Incoming>,
) -> Response<Full<Bytes>> {
    let (parts, body) = request.into_parts();
    let request = Request::from_parts(parts, ());
    let (qr_id, hash) = match password_to_check(state, &request) {
        Post::Unlock { qr_id, hash } => (qr_id, hash),
        Post::Answered(answer) => return answer,
    };
    let body = match read_form(body, state.body_read_timeout).await {
        Ok(body) => body,
        Err(answer) => return answer,
    };
    let client = state.client_ip.resolve(peer.ip(), request.headers());
    if !state.password_attempts.allow(client, &qr_id) {
        let mut response = plain(
            StatusCode::TOO_MANY_REQUESTS,
            "too many password attempts; try again in a few minutes\n",
        );
        response.headers_mut().insert(
            header::RETRY_AFTER,
            HeaderValue::from(password_attempts::WINDOW.as_secs()),
        );
        return response;
    }
    let given = url::form_urlencoded::parse(&body)
        .find(|(name, _)| name == "password")
        .map(|(_, value)| value.into_owned())
        .unwrap_or_default();
    // The hash is deliberately slow: off the async workers.
    let right = tokio::task::spawn_blocking(move || password::verify(&given, &hash))
        .await
        .unwrap_or(false);
    let unlock = if right { Unlock::Right } else { Unlock::Wrong };
    respond(state, peer, &request, unlock)
}

/// What a POST gets before its body is read.
enum Post {
    /// The form of this protected code, with its password hash: read the body.
    Unlock { qr_id: ByteString, hash: Box<str> },
    /// An answer without the body.
    Answered(Response<Full<Bytes>>),
}

/// The protected code a POST names, or the answer the POST gets without its body being read.
fn password_to_check(state: &EdgeState, request: &Request<()>) -> Post {
    let table = state.table.load();
    let (domain, route) = table.resolve(&RequestTarget::of(request));
    let Some(route) = route else {
        return Post::Answered(method_not_allowed());
    };
    match gate(state, &route, domain.map(Arc::as_ref), now_ms()) {
        Gate::Password(hash) => Post::Unlock {
            qr_id: route.qr_id.clone(),
            hash: hash.into(),
        },
        Gate::Closed(answer) if route.password_hash().is_some() => Post::Answered(answer),
        Gate::Open | Gate::Closed(_) => Post::Answered(method_not_allowed()),
    }
}

/// A password form's body: refused by its `Content-Length` before it is read when too large,
/// and cut off when it has not arrived whole within `timeout`.
async fn read_form(body: Incoming, timeout: Duration) -> Result<Bytes, Response<Full<Bytes>>> {
    let too_large = || plain(StatusCode::PAYLOAD_TOO_LARGE, "form too large\n");
    if body.size_hint().lower() > MAX_FORM_BYTES as u64 {
        return Err(too_large());
    }
    let read = Limited::new(BodyDeadline::new(body, timeout), MAX_FORM_BYTES);
    match read.collect().await {
        Ok(collected) => Ok(collected.to_bytes()),
        Err(e) if e.is::<LengthLimitError>() => Err(too_large()),
        Err(e) if BodyTimedOut::is(&*e) => {
            let mut response = plain(StatusCode::REQUEST_TIMEOUT, "form not received in time\n");
            response
                .headers_mut()
                .insert(header::CONNECTION, HeaderValue::from_static("close"));
            Err(response)
        }
        Err(_) => Err(plain(StatusCode::BAD_REQUEST, "cannot read the form\n")),
    }
}

/// What a code lets through, the same for its answer and for its files: once it has expired or
/// reached its scan limit only its fallback, while it is protected only the password form. A
/// deleted code has no route and never gets here.
enum Gate<'r> {
    Open,
    /// The code's expired or limit-reached answer.
    Closed(Response<Full<Bytes>>),
    /// The password (its hash) opens it.
    Password(&'r str),
}

/// A few branches for a plain redirect: no expiry, no extras.
#[inline]
fn gate<'r>(state: &EdgeState, route: &'r Route, domain: Option<&Domain>, now: i64) -> Gate<'r> {
    let extras = route.extras.as_deref();
    if route.is_expired(now) {
        let fallback = extras
            .and_then(|e| e.expired_url.clone())
            .or_else(|| domain.and_then(|d| d.expired_url.clone()));
        return Gate::Closed(match fallback {
            Some(url) => redirect(StatusCode::FOUND, url),
            None => gone(domain),
        });
    }
    let Some(extras) = extras else {
        return Gate::Open;
    };
    if let Some(max) = extras.max_scans {
        if state.limits.reached(&route.qr_id, max) {
            return Gate::Closed(match extras.max_scans_url.clone() {
                Some(url) => redirect(StatusCode::FOUND, url),
                None => gone(domain),
            });
        }
    }
    match extras.password_hash.as_deref() {
        Some(hash) => Gate::Password(hash),
        None => Gate::Open,
    }
}

/// Builds the answer for a GET or HEAD (or an unlocking POST, whose body was read already).
pub fn respond<B>(
    state: &EdgeState,
    peer: SocketAddr,
    request: &Request<B>,
    unlock: Unlock,
) -> Response<Full<Bytes>> {
    let method = request.method();
    if method != Method::GET && method != Method::HEAD && unlock == Unlock::No {
        return method_not_allowed();
    }
    let target = RequestTarget::of(request);
    if target.path == "healthz" {
        return plain(StatusCode::OK, "ok\n");
    }
    let table = state.table.load();
    let (domain, route) = table.resolve(&target);
    let domain = domain.map(Arc::as_ref);
    if target.path.is_empty() {
        return match domain.and_then(|d| d.root_url.clone()) {
            Some(url) => redirect(StatusCode::FOUND, url),
            None => not_found(domain),
        };
    }
    let Some(route) = route else {
        if let Some(domain) = domain {
            record_orphan(state, peer, request, domain, target.display_id);
        }
        return match domain.and_then(|d| d.not_found_url.clone()) {
            Some(url) => redirect(StatusCode::FOUND, url),
            None => not_found(domain),
        };
    };
    let route: &Route = &route;
    let now = now_ms();
    match gate(state, route, domain, now) {
        Gate::Open => {}
        Gate::Closed(answer) => return answer,
        Gate::Password(_) if unlock == Unlock::Right => {}
        Gate::Password(_) => return password_form(route, unlock),
    }
    if let Some(file) = target.file {
        return download(route, file, domain);
    }

    hand_off(state, peer, request, route, now);

    let headers = request.headers();
    if let Some(extras) = route.extras.as_deref().filter(|e| !e.rules.is_empty()) {
        let real_ip = state.client_ip.resolve(peer.ip(), headers);
        let mut visitor = Visitor::new(headers, real_ip, &state.visitors);
        if let Some(url) = extras.rules.target(&mut visitor, now) {
            return redirect_with_query(route, url, target.query);
        }
    }
    match &route.answer {
        Answer::Redirect(url) => redirect_with_query(route, url, target.query),
        Answer::Locale(locales) => {
            let language = headers
                .get(header::ACCEPT_LANGUAGE)
                .map(HeaderValue::as_bytes);
            to_url(route, locales.choose(language), target.query)
        }
        Answer::App(app, fallback) => {
            let agent = headers
                .get(header::USER_AGENT)
                .map_or(&b""[..], HeaderValue::as_bytes);
            match (app.choose(hosted::platform_of(agent)), fallback) {
                (AppTarget::Redirect(url), _) => to_url(route, url, target.query),
                (AppTarget::Page, Some(page)) => page_response(StatusCode::OK, page),
                (AppTarget::Page, None) => not_found(domain),
            }
        }
        Answer::Page(page) => page_response(StatusCode::OK, page),
    }
}

/// A scan of `route` to the pipeline (never waiting for it), counted against its scan limit.
fn hand_off<B>(state: &EdgeState, peer: SocketAddr, request: &Request<B>, route: &Route, now: i64) {
    let scan = RawScan {
        qr_id: route.qr_id.clone(),
        team_id: route.team_id.clone(),
        display_id: route.display_id.clone(),
        ..visit(state, peer, request, now)
    };
    let head = scan.head;
    state.sink.send(scan);
    if !head && route.extras.as_ref().is_some_and(|e| e.max_scans.is_some()) {
        state.limits.count(&route.qr_id);
    }
}

/// The form that asks for a protected code's password; it posts to the code's own URL.
fn password_form(route: &Route, unlock: Unlock) -> Response<Full<Bytes>> {
    let extras = route.extras.as_deref();
    let brand = extras.and_then(|e| e.brand_colour.as_deref());
    let title = extras.map_or("", |e| e.name.as_str());
    let page = Page::password(&route.display_id, title, brand, unlock == Unlock::Wrong);
    page_response(StatusCode::OK, &page)
}

/// A redirect to a URL chosen per scan (validated when the code was saved).
fn to_url(route: &Route, url: &str, query: Option<&str>) -> Response<Full<Bytes>> {
    match HeaderValue::from_str(url) {
        Ok(url) => redirect_with_query(route, &url, query),
        Err(_) => plain(StatusCode::INTERNAL_SERVER_ERROR, "bad target\n"),
    }
}

/// The file a hosted page links to (a contact card), past the code's gate; not a scan.
fn download(route: &Route, file: &str, domain: Option<&Domain>) -> Response<Full<Bytes>> {
    let Answer::Page(page) = &route.answer else {
        return not_found(domain);
    };
    match &page.download {
        Some(d) if *d.file_name == *file => {
            let mut response = with_body(StatusCode::OK, d.content_type.clone(), d.body.clone());
            let disposition = format!("attachment; filename=\"{}\"", d.file_name);
            if let Ok(value) = HeaderValue::from_str(&disposition) {
                response
                    .headers_mut()
                    .insert(header::CONTENT_DISPOSITION, value);
            }
            response
        }
        _ => not_found(domain),
    }
}

/// A scan of an unknown code on a team's custom domain: kept for the team, counted apart, within
/// the domain's orphan budget (orphans.rs).
fn record_orphan<B>(
    state: &EdgeState,
    peer: SocketAddr,
    request: &Request<B>,
    domain: &Domain,
    display_id: &str,
) {
    if display_id.is_empty() || display_id.len() > crate::model::validate::MAX_DISPLAY_ID_LEN {
        return;
    }
    let now = now_ms();
    let orphan = domain.orphans.admit(now, state.orphan_limits);
    state.metrics.orphan(orphan);
    if orphan == Orphan::Unrecorded {
        return;
    }
    state.sink.send(RawScan {
        team_id: ByteString::from(&*domain.team_id),
        display_id: ByteString::from(display_id),
        orphan: true,
        ..visit(state, peer, request, now)
    });
}

/// A scan at `now` with what the request says of its visitor (address, user agent, referrer),
/// of no code yet: the caller names the code (or the orphan's team and displayId).
fn visit<B>(state: &EdgeState, peer: SocketAddr, request: &Request<B>, now: i64) -> RawScan {
    let headers = request.headers();
    RawScan {
        event_id: state.event_ids.next(),
        qr_id: ByteString::new(),
        team_id: ByteString::new(),
        display_id: ByteString::new(),
        scan_time: now,
        ip: state.client_ip.recorded(peer.ip(), headers),
        user_agent: headers.get(header::USER_AGENT).map(header_text),
        referrer: headers.get(header::REFERER).map(header_text),
        head: request.method() == Method::HEAD,
        orphan: false,
    }
}

/// A redirect to `url` with the scan's query appended when the code forwards it.
fn redirect_with_query(
    route: &Route,
    url: &HeaderValue,
    query: Option<&str>,
) -> Response<Full<Bytes>> {
    let location = match query.filter(|q| !q.is_empty() && route.forward_query) {
        Some(query) => with_query(url, query).unwrap_or_else(|| url.clone()),
        None => url.clone(),
    };
    redirect(route.status, location)
}

/// `url` with `query` added to its own query, before any fragment; `None` when that would make
/// a Location longer than any stored target may be (the code's own URL then goes out alone).
fn with_query(url: &HeaderValue, query: &str) -> Option<HeaderValue> {
    if url.len() + 1 + query.len() > MAX_URL_LEN {
        return None;
    }
    let url = url.to_str().ok()?;
    let (base, fragment) = match url.split_once('#') {
        Some((base, fragment)) => (base, Some(fragment)),
        None => (url, None),
    };
    let separator = if base.contains('?') { '&' } else { '?' };
    let mut out = String::with_capacity(url.len() + query.len() + 1);
    out.push_str(base);
    out.push(separator);
    out.push_str(query);
    if let Some(fragment) = fragment {
        out.push('#');
        out.push_str(fragment);
    }
    HeaderValue::from_str(&out).ok()
}

fn redirect(status: StatusCode, location: HeaderValue) -> Response<Full<Bytes>> {
    let mut response = Response::new(Full::new(Bytes::new()));
    *response.status_mut() = status;
    let headers = response.headers_mut();
    headers.insert(header::LOCATION, location);
    headers.insert(header::CACHE_CONTROL, NO_STORE);
    response
}

fn not_found(domain: Option<&Domain>) -> Response<Full<Bytes>> {
    let page = domain.map_or(&*pages::NOT_FOUND, |d| &d.not_found_page);
    page_response(StatusCode::NOT_FOUND, page)
}

fn gone(domain: Option<&Domain>) -> Response<Full<Bytes>> {
    let page = domain.map_or(&*pages::EXPIRED, |d| &d.expired_page);
    page_response(StatusCode::GONE, page)
}

fn method_not_allowed() -> Response<Full<Bytes>> {
    let mut response = plain(StatusCode::METHOD_NOT_ALLOWED, "method not allowed\n");
    response.headers_mut().insert(header::ALLOW, ALLOW);
    response
}

fn page_response(status: StatusCode, page: &Page) -> Response<Full<Bytes>> {
    let mut response = with_body(status, HTML, page.html.clone());
    let headers = response.headers_mut();
    headers.insert(
        header::CONTENT_SECURITY_POLICY,
        page.content_security_policy.clone(),
    );
    headers.insert(header::X_CONTENT_TYPE_OPTIONS, NO_SNIFF);
    headers.insert(header::REFERRER_POLICY, NO_REFERRER);
    response
}

fn plain(status: StatusCode, text: &'static str) -> Response<Full<Bytes>> {
    with_body(status, TEXT, Bytes::from_static(text.as_bytes()))
}

fn with_body(status: StatusCode, content_type: HeaderValue, body: Bytes) -> Response<Full<Bytes>> {
    let mut response = Response::new(Full::new(body));
    *response.status_mut() = status;
    let headers = response.headers_mut();
    headers.insert(header::CONTENT_TYPE, content_type);
    headers.insert(header::CACHE_CONTROL, NO_STORE);
    response
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn the_query_goes_before_the_fragment() {
        let url = HeaderValue::from_static("https://a.example/p?x=1#top");
        assert_eq!(
            with_query(&url, "utm=qr").unwrap(),
            "https://a.example/p?x=1&utm=qr#top"
        );
        let url = HeaderValue::from_static("https://a.example/");
        assert_eq!(with_query(&url, "a=b").unwrap(), "https://a.example/?a=b");
    }
}
