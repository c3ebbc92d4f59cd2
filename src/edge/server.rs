//! The edge's accept loops: plain HTTP/1.1, and HTTPS with HTTP/2 or HTTP/1.1 by ALPN. Both
//! share one loop with limits on connections, header size and header read time, and a graceful
//! stop that lets in-flight requests finish.

use std::future::Future;
use std::net::SocketAddr;
use std::sync::Arc;
use std::time::Duration;

use hyper::server::conn::http1;
use hyper::service::service_fn;
use hyper_util::rt::{TokioExecutor, TokioIo, TokioTimer};
use hyper_util::server::conn::auto;
use hyper_util::server::graceful::{GracefulShutdown, Watcher};
use tokio::net::{TcpListener, TcpStream};
use tokio::sync::Semaphore;
use tokio_rustls::TlsAcceptor;
use tokio_util::sync::CancellationToken;

use super::handler::{handle, EdgeState};
use super::tls::ALPN_H2;
use crate::config::EdgeConfig;

/// How long in-flight requests get to finish once a stop is asked for.
const DRAIN_TIME: Duration = Duration::from_secs(5);
/// HTTP/2 pings on a quiet connection, and how long an answer may take before it is closed.
const H2_KEEP_ALIVE_INTERVAL: Duration = Duration::from_secs(30);
const H2_KEEP_ALIVE_TIMEOUT: Duration = Duration::from_secs(20);
/// hyper's smallest allowed read buffer, which bounds an HTTP/1.1 request head on TLS.
const MIN_BUF_SIZE: usize = 8192;

/// Serves plain HTTP/1.1 until `stop` is cancelled, then waits (bounded) for open connections
/// to finish.
pub async fn serve(
    listener: TcpListener,
    state: Arc<EdgeState>,
    config: EdgeConfig,
    stop: CancellationToken,
) {
    let mut http = http1::Builder::new();
    http.timer(TokioTimer::new())
        .header_read_timeout(Duration::from_millis(config.header_read_timeout_ms))
        .max_header_size(config.max_header_bytes)
        .keep_alive(true);
    accept_loop(listener, &config, stop, move |stream, peer, watcher| {
        let state = Arc::clone(&state);
        let service = service_fn(move |request| handle(Arc::clone(&state), peer, request));
        let connection = watcher.watch(http.serve_connection(TokioIo::new(stream), service));
        async move {
            if let Err(e) = connection.await {
                tracing::debug!(%peer, error = %e, "connection ended with an error");
            }
        }
    })
    .await;
}

/// Serves HTTPS until `stop` is cancelled: each connection's TLS handshake runs in its own task
/// (bounded by `edge.tls.handshake_timeout_ms`, so slow ones never hold up accepting), then
/// HTTP/2 when ALPN chose `h2` and HTTP/1.1 otherwise, under the same limits as plain HTTP.
pub async fn serve_tls(
    listener: TcpListener,
    state: Arc<EdgeState>,
    config: EdgeConfig,
    acceptor: TlsAcceptor,
    stop: CancellationToken,
) {
    let protocols = Arc::new(Protocols::new(&config));
    let handshake_timeout = Duration::from_millis(config.tls.handshake_timeout_ms);
    let connections_stop = stop.clone();
    accept_loop(listener, &config, stop, move |stream, peer, watcher| {
        let state = Arc::clone(&state);
        let acceptor = acceptor.clone();
        let protocols = Arc::clone(&protocols);
        let stop = connections_stop.clone();
        async move {
            let handshake = tokio::time::timeout(handshake_timeout, acceptor.accept(stream));
            let stream = tokio::select! {
                _ = stop.cancelled() => return,
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
            let connection = watcher.watch(http.serve_connection(TokioIo::new(stream), service));
            if let Err(e) = connection.await {
                tracing::debug!(%peer, error = %e, "connection ended with an error");
            }
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
    fn new(config: &EdgeConfig) -> Self {
        let mut http = auto::Builder::new(TokioExecutor::new());
        http.http1()
            .timer(TokioTimer::new())
            .header_read_timeout(Duration::from_millis(config.header_read_timeout_ms))
            // The read buffer holds the request head: a larger one is answered 431.
            .max_buf_size(config.max_header_bytes.max(MIN_BUF_SIZE))
            .keep_alive(true);
        http.http2()
            .timer(TokioTimer::new())
            .max_concurrent_streams(config.tls.http2_max_concurrent_streams)
            .max_header_list_size(u32::try_from(config.max_header_bytes).unwrap_or(u32::MAX))
            .keep_alive_interval(H2_KEEP_ALIVE_INTERVAL)
            .keep_alive_timeout(H2_KEEP_ALIVE_TIMEOUT);
        Self {
            h1: http.clone().http1_only(),
            h2: http.http2_only(),
        }
    }
}

/// Accepts connections until `stop`, each after a free slot of `edge.max_connections`, and runs
/// what `connection` makes of it in a task of its own that holds the slot. `connection` gets a
/// watcher to hand its HTTP connection to, so that a stop lets in-flight requests finish (bounded
/// by DRAIN_TIME).
async fn accept_loop<F, C>(
    listener: TcpListener,
    config: &EdgeConfig,
    stop: CancellationToken,
    mut connection: F,
) where
    F: FnMut(TcpStream, SocketAddr, Watcher) -> C,
    C: Future<Output = ()> + Send + 'static,
{
    let slots = Arc::new(Semaphore::new(config.max_connections));
    let graceful = GracefulShutdown::new();

    loop {
        let permit = tokio::select! {
            _ = stop.cancelled() => break,
            permit = Arc::clone(&slots).acquire_owned() => permit.expect("the semaphore is never closed"),
        };
        let (stream, peer) = tokio::select! {
            _ = stop.cancelled() => break,
            accepted = listener.accept() => match accepted {
                Ok(accepted) => accepted,
                Err(e) => {
                    // Out of file descriptors and the like: back off instead of spinning.
                    tracing::warn!(error = %e, "accept failed");
                    tokio::time::sleep(Duration::from_millis(50)).await;
                    continue;
                }
            },
        };
        let _ = stream.set_nodelay(true);
        let served = connection(stream, peer, graceful.watcher());
        tokio::spawn(async move {
            served.await;
            drop(permit);
        });
    }
    drop(listener);
    if tokio::time::timeout(DRAIN_TIME, graceful.shutdown())
        .await
        .is_err()
    {
        tracing::warn!("edge connections still open after the drain time; closing them");
    }
}
