//! The accept loop every listener runs: a connection is accepted only with a free slot, served
//! in a task of its own that holds the slot, and told to close when the listener stops.

use std::future::Future;
use std::net::SocketAddr;
use std::sync::Arc;
use std::time::Duration;

use tokio::net::{TcpListener, TcpStream};
use tokio::sync::Semaphore;
use tokio_util::sync::CancellationToken;
use tokio_util::task::TaskTracker;

use super::connections::{ConnectionState, OpenConnections};
use super::DRAIN_TIME;

/// How long accepting pauses after a failed accept (out of file descriptors and the like).
const ACCEPT_RETRY: Duration = Duration::from_millis(50);

/// Accepts connections until `stop`, each after a free slot of `slots` (which the listeners of
/// one role share), and runs what `connection` makes of it in a task of its own. `connection`
/// gets the connection's state, to count its requests (`Counted`) and to learn of the stop
/// (`Lifetime`). Returns once every connection has closed, or `DRAIN_TIME` after the stop.
pub async fn accept_loop<F, C>(
    listener: TcpListener,
    slots: Arc<Semaphore>,
    stop: CancellationToken,
    mut connection: F,
) where
    F: FnMut(TcpStream, SocketAddr, Arc<ConnectionState>) -> C,
    C: Future<Output = ()> + Send + 'static,
{
    let open = Arc::new(OpenConnections::default());
    let tasks = TaskTracker::new();
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
                    // Back off instead of spinning; the slot caps keep this rare (open_files.rs).
                    tracing::warn!(error = %e, "accept failed");
                    tokio::time::sleep(ACCEPT_RETRY).await;
                    continue;
                }
            },
        };
        // Small answers go out at once, not after Nagle's delay (pipelined clients).
        let _ = stream.set_nodelay(true);
        let registration = open.register();
        let served = connection(stream, peer, Arc::clone(&registration.state));
        tasks.spawn(async move {
            served.await;
            drop(registration);
            drop(permit);
        });
    }
    drop(listener);
    open.stop_all();
    tasks.close();
    // Each connection drops itself DRAIN_TIME after the stop; a little more for the last wake.
    let drain = DRAIN_TIME + Duration::from_secs(1);
    if tokio::time::timeout(drain, tasks.wait()).await.is_err() {
        tracing::warn!("connections still open after the drain time; closing them");
    }
}
