//! An axum router (the API, `/metrics`) served over HTTP/1.1 by the shared accept loop, under a
//! listener's limits: heads and connections as on the edge, and each request body under the
//! body deadline, a request whose body did not arrive in time answered 408 and its connection
//! closed.

use std::sync::atomic::{AtomicBool, Ordering};
use std::sync::Arc;
use std::time::Duration;

use axum::extract::ConnectInfo;
use axum::response::Response;
use axum::Router;
use hyper::header::{HeaderValue, CONNECTION};
use hyper::service::service_fn;
use hyper_util::rt::TokioIo;
use tokio::net::TcpListener;
use tokio::sync::Semaphore;
use tokio_util::sync::CancellationToken;
use tower::ServiceExt;

use super::{accept_loop, BodyDeadline, Counted, Lifetime, Limits};

/// Serves `router` until `stop` is cancelled, then lets open connections finish (bounded).
/// `timed_out` is the answer to a request whose body took longer than `body_read_timeout`.
pub async fn serve_router(
    listener: TcpListener,
    router: Router,
    limits: Limits,
    slots: Arc<Semaphore>,
    stop: CancellationToken,
    timed_out: fn(Duration) -> Response,
) {
    let http = limits.http1();
    accept_loop(listener, slots, stop, move |stream, peer, connection| {
        let router = router.clone();
        let service = service_fn(move |request: hyper::Request<hyper::body::Incoming>| {
            let late = Arc::new(AtomicBool::new(false));
            let mut request = request.map(|body| {
                BodyDeadline::new(body, limits.body_read_timeout).noticed_by(Arc::clone(&late))
            });
            // The peer's address, as axum's `into_make_service_with_connect_info` gives it:
            // public images are limited per client.
            request.extensions_mut().insert(ConnectInfo(peer));
            let answer = router.clone().oneshot(request);
            async move {
                let response = answer.await;
                if !late.load(Ordering::Acquire) {
                    return response;
                }
                let mut response = timed_out(limits.body_read_timeout);
                response
                    .headers_mut()
                    .insert(CONNECTION, HeaderValue::from_static("close"));
                Ok(response)
            }
        });
        let service = Counted::new(service, Arc::clone(&connection));
        let served = http.serve_connection(TokioIo::new(stream), service);
        Lifetime::new(served, connection, limits.idle_timeout)
    })
    .await;
}
