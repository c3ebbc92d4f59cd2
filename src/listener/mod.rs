//! What every HTTP listener of qredge (the edge's plain and TLS ones, the API, `/metrics`) does
//! the same way against clients that hold connections open: a bounded pool of connection slots,
//! and timeouts for the request head, the request body and a connection with nothing to do.
//! The protocols (HTTP/1.1, HTTP/2, TLS) and the services stay with each listener's owner.
//!
//! How long one client can hold a slot: `header_read_timeout` for each request head (hyper's
//! timer, which also runs while an HTTP/1.1 connection waits for its next request),
//! `body_read_timeout` for each body a handler reads, and `idle_timeout` (¼ more at most) with no
//! request in progress: an idle HTTP/2 connection, a head trickled over HTTP/2, an answer the
//! client does not read. A connection asked to close (idle, or the process stopping) gets
//! `DRAIN_TIME` to finish what is in flight, then it is dropped.

mod accept;
mod body_deadline;
mod connections;
mod lifetime;
mod open_files;
mod router;

use std::sync::Arc;
use std::time::Duration;

use hyper::server::conn::http1;
use hyper_util::rt::TokioTimer;
use tokio::sync::Semaphore;

pub use accept::accept_loop;
pub use body_deadline::{BodyDeadline, BodyTimedOut};
pub use connections::{ConnectionState, Counted};
pub use lifetime::Lifetime;
pub use open_files::{fit_connection_caps, raise_open_files_limit, RESERVED_FILES};
pub use router::serve_router;

/// How long connections get to finish what is in flight once asked to close.
pub const DRAIN_TIME: Duration = Duration::from_secs(5);

/// The limits a listener applies to each client (`[edge]` and `[api]` in the configuration).
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct Limits {
    /// Connections open at once; beyond it, clients wait in the kernel's backlog.
    pub max_connections: usize,
    /// Largest request head; larger is answered 431.
    pub max_header_bytes: usize,
    /// A request head not received whole by then closes the connection.
    pub header_read_timeout: Duration,
    /// A request body not received whole by then is answered 408 and the connection closed.
    pub body_read_timeout: Duration,
    /// A connection with no request in progress for this long is closed.
    pub idle_timeout: Duration,
}

impl Limits {
    /// The fixed limits of `GET /metrics`, scraped by a few Prometheus servers.
    pub const METRICS: Limits = Limits {
        max_connections: 16,
        max_header_bytes: 8 * 1024,
        header_read_timeout: Duration::from_secs(10),
        body_read_timeout: Duration::from_secs(10),
        idle_timeout: Duration::from_secs(60),
    };

    /// A plain HTTP/1.1 server under these limits' head size and head timeout (hyper's timer).
    pub fn http1(&self) -> http1::Builder {
        let mut http = http1::Builder::new();
        http.timer(TokioTimer::new())
            .header_read_timeout(self.header_read_timeout)
            .max_header_size(self.max_header_bytes)
            .keep_alive(true);
        http
    }

    /// A pool of `max_connections` slots, to share between the listeners it covers.
    pub fn slots(&self) -> Arc<Semaphore> {
        Arc::new(Semaphore::new(self.max_connections))
    }
}
