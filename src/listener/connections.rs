//! The open connections of one listener. Each has a small shared state: a stop flag with the
//! waker of its task, and counts of the requests it began and finished. A stop reaches every
//! connection through the list kept here (a lock per connection opened and closed), so that no
//! connection polls a shared lock on each wake-up; a request pays two atomic adds.

use std::future::Future;
use std::pin::Pin;
use std::sync::atomic::{AtomicBool, AtomicU64, Ordering};
use std::sync::{Arc, Mutex};
use std::task::{Context, Poll};

use futures::task::AtomicWaker;
use hashbrown::HashMap;

/// One connection's stop flag and request counts.
#[derive(Default)]
pub struct ConnectionState {
    stop: AtomicBool,
    waker: AtomicWaker,
    started: AtomicU64,
    finished: AtomicU64,
}

impl ConnectionState {
    /// Ready once the listener stops; registers the task to be woken then.
    pub fn poll_stop(&self, cx: &mut Context<'_>) -> Poll<()> {
        self.waker.register(cx.waker());
        if self.stop.load(Ordering::Acquire) {
            Poll::Ready(())
        } else {
            Poll::Pending
        }
    }

    /// Resolves once the listener stops.
    pub async fn stopped(&self) {
        std::future::poll_fn(|cx| self.poll_stop(cx)).await
    }

    fn stop(&self) {
        self.stop.store(true, Ordering::Release);
        self.waker.wake();
    }

    /// Requests begun so far, and whether one is still in progress.
    pub fn activity(&self) -> (u64, bool) {
        let finished = self.finished.load(Ordering::Acquire);
        let started = self.started.load(Ordering::Acquire);
        (started, started != finished)
    }

    fn begin(self: &Arc<Self>) -> InFlight {
        self.started.fetch_add(1, Ordering::AcqRel);
        InFlight(Arc::clone(self))
    }
}

/// A request in progress on a connection; finished when dropped.
struct InFlight(Arc<ConnectionState>);

impl Drop for InFlight {
    fn drop(&mut self) {
        self.0.finished.fetch_add(1, Ordering::AcqRel);
    }
}

/// The connections a listener has open, so that a stop reaches each.
#[derive(Default)]
pub(super) struct OpenConnections {
    open: Mutex<HashMap<u64, Arc<ConnectionState>>>,
    next: AtomicU64,
    stopping: AtomicBool,
}

impl OpenConnections {
    /// A new connection's state, listed until the returned registration is dropped.
    pub fn register(self: &Arc<Self>) -> Registration {
        let state = Arc::new(ConnectionState::default());
        let id = self.next.fetch_add(1, Ordering::Relaxed);
        let mut open = self.open.lock().unwrap_or_else(|e| e.into_inner());
        if self.stopping.load(Ordering::Acquire) {
            state.stop();
        }
        open.insert(id, Arc::clone(&state));
        Registration {
            id,
            owner: Arc::clone(self),
            state,
        }
    }

    /// Asks every open connection, and any registered later, to close.
    pub fn stop_all(&self) {
        let open = self.open.lock().unwrap_or_else(|e| e.into_inner());
        self.stopping.store(true, Ordering::Release);
        open.values().for_each(|state| state.stop());
    }
}

pub(super) struct Registration {
    id: u64,
    owner: Arc<OpenConnections>,
    pub state: Arc<ConnectionState>,
}

impl Drop for Registration {
    fn drop(&mut self) {
        let mut open = self.owner.open.lock().unwrap_or_else(|e| e.into_inner());
        open.remove(&self.id);
    }
}

/// A service whose requests are counted on their connection's state, from the call until its
/// answer is ready (what the idle timeout looks at).
#[derive(Clone)]
pub struct Counted<S> {
    inner: S,
    state: Arc<ConnectionState>,
}

impl<S> Counted<S> {
    pub fn new(inner: S, state: Arc<ConnectionState>) -> Self {
        Self { inner, state }
    }
}

impl<S, R> hyper::service::Service<R> for Counted<S>
where
    S: hyper::service::Service<R>,
{
    type Response = S::Response;
    type Error = S::Error;
    type Future = CountedFuture<S::Future>;

    fn call(&self, request: R) -> Self::Future {
        CountedFuture {
            _in_flight: self.state.begin(),
            inner: self.inner.call(request),
        }
    }
}

pin_project_lite::pin_project! {
    pub struct CountedFuture<F> {
        #[pin]
        inner: F,
        _in_flight: InFlight,
    }
}

impl<F: Future> Future for CountedFuture<F> {
    type Output = F::Output;

    fn poll(self: Pin<&mut Self>, cx: &mut Context<'_>) -> Poll<F::Output> {
        self.project().inner.poll(cx)
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[tokio::test]
    async fn a_stop_reaches_open_and_later_connections() {
        let open = Arc::new(OpenConnections::default());
        let first = open.register();
        let waiting = tokio::spawn({
            let state = Arc::clone(&first.state);
            async move { state.stopped().await }
        });
        open.stop_all();
        tokio::time::timeout(std::time::Duration::from_secs(5), waiting)
            .await
            .expect("the open connection is told")
            .unwrap();
        let later = open.register();
        later.state.stopped().await;
        drop((first, later));
        assert!(open.open.lock().unwrap().is_empty(), "closed ones leave");
    }

    #[test]
    fn requests_in_progress_are_counted_until_their_answer() {
        let state = Arc::new(ConnectionState::default());
        assert_eq!(state.activity(), (0, false));
        let request = state.begin();
        assert_eq!(state.activity(), (1, true));
        drop(request);
        assert_eq!(state.activity(), (1, false));
    }
}
