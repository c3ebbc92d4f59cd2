//! One connection from its first request to its close: served until the listener stops or the
//! connection has had no request in progress for the idle timeout, then asked to close
//! gracefully (hyper finishes what is in flight) and dropped if that takes longer than
//! `DRAIN_TIME`. The idle check runs on a timer four times per timeout, reading the
//! connection's request counts, so a request itself never touches a timer or the clock here.

use std::future::Future;
use std::pin::Pin;
use std::sync::Arc;
use std::task::{Context, Poll};
use std::time::Duration;

use hyper_util::server::graceful::GracefulConnection;
use tokio::time::{Instant, Sleep};

use super::connections::ConnectionState;
use super::DRAIN_TIME;

/// Checks per idle timeout: a connection is closed between one and 1¼ timeouts after its last
/// request ended.
const CHECKS_PER_TIMEOUT: u32 = 4;

pin_project_lite::pin_project! {
    /// Drives a hyper connection under the listener's stop and idle rules.
    pub struct Lifetime<C> {
        #[pin]
        connection: C,
        #[pin]
        timer: Sleep,
        state: Arc<ConnectionState>,
        check_every: Duration,
        quiet_checks: u32,
        last_started: u64,
        closing: bool,
    }
}

impl<C> Lifetime<C> {
    pub fn new(connection: C, state: Arc<ConnectionState>, idle_timeout: Duration) -> Self {
        let check_every = (idle_timeout / CHECKS_PER_TIMEOUT).max(Duration::from_millis(1));
        Self {
            connection,
            timer: tokio::time::sleep(check_every),
            state,
            check_every,
            quiet_checks: 0,
            last_started: 0,
            closing: false,
        }
    }
}

impl<C> Future for Lifetime<C>
where
    C: GracefulConnection,
    C::Error: std::fmt::Display,
{
    type Output = ();

    fn poll(self: Pin<&mut Self>, cx: &mut Context<'_>) -> Poll<()> {
        let mut this = self.project();
        if !*this.closing {
            let stopping = this.state.poll_stop(cx).is_ready();
            let mut idle = false;
            while !stopping && !idle && this.timer.as_mut().poll(cx).is_ready() {
                let (started, in_progress) = this.state.activity();
                if in_progress || started != *this.last_started {
                    *this.quiet_checks = 0;
                    *this.last_started = started;
                } else {
                    *this.quiet_checks += 1;
                }
                idle = *this.quiet_checks >= CHECKS_PER_TIMEOUT;
                this.timer
                    .as_mut()
                    .reset(Instant::now() + *this.check_every);
            }
            if stopping || idle {
                tracing::debug!(stopping, idle, "closing a connection");
                *this.closing = true;
                this.connection.as_mut().graceful_shutdown();
                this.timer.as_mut().reset(Instant::now() + DRAIN_TIME);
            }
        }
        if *this.closing && this.timer.as_mut().poll(cx).is_ready() {
            tracing::debug!("a connection did not finish within the drain time; dropped");
            return Poll::Ready(());
        }
        match this.connection.poll(cx) {
            Poll::Ready(Err(e)) => {
                tracing::debug!(error = %e, "connection ended with an error");
                Poll::Ready(())
            }
            Poll::Ready(Ok(())) => Poll::Ready(()),
            Poll::Pending => Poll::Pending,
        }
    }
}
