//! The edge's listeners: plain HTTP/1.1, and HTTPS with HTTP/2 or HTTP/1.1 by ALPN. Both run the
//! shared accept loop (`crate::listener`) on one pool of `edge.max_connections` slots, under the
//! edge's header, body and idle timeouts.

use std::sync::Arc;
use std::time::Duration;

use hyper::service::service_fn;
use hyper_util::rt::{TokioExecutor, TokioIo, TokioTimer};
use hyper_util::server::conn::auto;
use tokio::net::TcpListener;
use tokio::sync::Semaphore;
use tokio_rustls::TlsAcceptor;
use tokio_util::sync::CancellationToken;

use super::handler::{handle, EdgeState};
use super::tls::ALPN_H2;
use crate::config::TlsConfig;
use crate::listener::{accept_loop, Counted, Lifetime, Limits};

/// HTTP/2 pings on a quiet connection, and how long an answer may take before it is closed.
const H2_KEEP_ALIVE_INTERVAL: Duration = Duration::from_secs(30);
const H2_KEEP_ALIVE_TIMEOUT: Duration = Duration::from_secs(20);
/// hyper's smallest allowed read buffer, which bounds an HTTP/1.1 request head on TLS.
const MIN_BUF_SIZE: usize = 8192;

/// Serves plain HTTP/1.1 until `stop` is cancelled, then lets open connections finish (bounded).
pub async fn serve(
    listener: TcpListener,
    state: Arc<EdgeState>,
    limits: Limits,
    slots: Arc<Semaphore>,
    stop: CancellationToken,
) {
    let http = limits.http1();
    accept_loop(listener, slots, stop, move |stream, peer, connection| {
        let state = Arc::clone(&state);
        let service = service_fn(move |request| handle(Arc::clone(&state), peer, request));
        let service = Counted::new(service, Arc::clone(&connection));
        let served = http.serve_connection(TokioIo::new(stream), service);
        Lifetime::new(served, connection, limits.idle_timeout)
    })
    .await;
}

/// Serves HTTPS until `stop` is cancelled: each connection's TLS handshake runs in its own task
/// (bounded by `edge.tls.handshake_timeout_ms`, so slow ones never hold up accepting), then
/// HTTP/2 when ALPN chose `h2` and HTTP/1.1 otherwise, under the same limits as plain HTTP.
pub async fn serve_tls(
    listener: TcpListener,
    state: Arc<EdgeState>,
    limits: Limits,
    tls: TlsConfig,
    slots: Arc<Semaphore>,
    acceptor: TlsAcceptor,
    stop: CancellationToken,
) {
    let protocols = Arc::new(Protocols::new(&limits, &tls));
    let handshake_timeout = Duration::from_millis(tls.handshake_timeout_ms);
    accept_loop(listener, slots, stop, move |stream, peer, connection| {
        let state = Arc::clone(&state);
        let acceptor = acceptor.clone();
        let protocols = Arc::clone(&protocols);
        async move {
            let handshake = tokio::time::timeout(handshake_timeout, acceptor.accept(stream));
            let stream = tokio::select! {
                _ = connection.stopped() => return,
                shaken = handshake => match shaken {
                    Ok(Ok(stream)) => stream,
                    Ok(Err(e)) => {
                        tracing::debug!(%peer, error = %e, "TLS handshake failed");
                        return;
                    }
                    Err(_) => {
                        tracing::debug!(%peer, "TLS handshake timed out");
                        return;
                    }
                },
            };
            let http = if stream.get_ref().1.alpn_protocol() == Some(ALPN_H2) {
                &protocols.h2
            } else {
                &protocols.h1
            };
            let service = service_fn(move |request| handle(Arc::clone(&state), peer, request));
            let service = Counted::new(service, Arc::clone(&connection));
            let served = http.serve_connection(TokioIo::new(stream), service);
            Lifetime::new(served, connection, limits.idle_timeout).await
        }
    })
    .await;
}

/// The TLS listener's two protocols: one builder configured for both, fixed to the protocol
/// ALPN chose (so no connection is sniffed for the HTTP/2 preface without a deadline).
struct Protocols {
    h1: auto::Builder<TokioExecutor>,
    h2: auto::Builder<TokioExecutor>,
}

impl Protocols {
    fn new(limits: &Limits, tls: &TlsConfig) -> Self {
        let mut http = auto::Builder::new(TokioExecutor::new());
        http.http1()
            .timer(TokioTimer::new())
            .header_read_timeout(limits.header_read_timeout)
            // The read buffer holds the request head: a larger one is answered 431.
            .max_buf_size(limits.max_header_bytes.max(MIN_BUF_SIZE))
            .keep_alive(true);
        http.http2()
            .timer(TokioTimer::new())
            .max_concurrent_streams(tls.http2_max_concurrent_streams)
            .max_header_list_size(u32::try_from(limits.max_header_bytes).unwrap_or(u32::MAX))
            .keep_alive_interval(H2_KEEP_ALIVE_INTERVAL)
            .keep_alive_timeout(H2_KEEP_ALIVE_TIMEOUT);
        Self {
            h1: http.clone().http1_only(),
            h2: http.http2_only(),
        }
    }
}
