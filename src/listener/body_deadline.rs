//! A request body that must arrive whole within a time: one deadline for the whole body (not per
//! read, which a client trickling a byte at a time would pass), started when a handler first
//! reads it, so a request whose body is never read costs no timer.

use std::future::Future;
use std::pin::Pin;
use std::sync::atomic::{AtomicBool, Ordering};
use std::sync::Arc;
use std::task::{Context, Poll};
use std::time::Duration;

use bytes::Buf;
use hyper::body::{Body, Frame, SizeHint};
use tokio::time::Sleep;

type BoxError = Box<dyn std::error::Error + Send + Sync>;

/// The error a body yields once its deadline has passed.
#[derive(Debug, thiserror::Error)]
#[error("the request body did not arrive within {} ms", .0.as_millis())]
pub struct BodyTimedOut(pub Duration);

impl BodyTimedOut {
    /// Whether `error` (as a body reader returns it, possibly wrapped) is a timeout.
    pub fn is(error: &(dyn std::error::Error + 'static)) -> bool {
        let mut cause = Some(error);
        while let Some(e) = cause {
            if e.is::<BodyTimedOut>() {
                return true;
            }
            cause = e.source();
        }
        false
    }
}

pin_project_lite::pin_project! {
    pub struct BodyDeadline<B> {
        #[pin]
        inner: B,
        timeout: Duration,
        // Boxed so that a body never read stays small; made on the first read.
        timer: Option<Pin<Box<Sleep>>>,
        noticed: Option<Arc<AtomicBool>>,
    }
}

impl<B> BodyDeadline<B> {
    pub fn new(inner: B, timeout: Duration) -> Self {
        Self {
            inner,
            timeout,
            timer: None,
            noticed: None,
        }
    }

    /// Sets `flag` when the deadline passes, for a server whose handlers only see a read error.
    pub fn noticed_by(mut self, flag: Arc<AtomicBool>) -> Self {
        self.noticed = Some(flag);
        self
    }
}

impl<B> Body for BodyDeadline<B>
where
    B: Body,
    B::Data: Buf,
    B::Error: Into<BoxError>,
{
    type Data = B::Data;
    type Error = BoxError;

    fn poll_frame(
        self: Pin<&mut Self>,
        cx: &mut Context<'_>,
    ) -> Poll<Option<Result<Frame<Self::Data>, Self::Error>>> {
        let this = self.project();
        let timeout = *this.timeout;
        let timer = this
            .timer
            .get_or_insert_with(|| Box::pin(tokio::time::sleep(timeout)));
        if timer.as_mut().poll(cx).is_ready() {
            if let Some(flag) = this.noticed {
                flag.store(true, Ordering::Release);
            }
            return Poll::Ready(Some(Err(BodyTimedOut(timeout).into())));
        }
        this.inner.poll_frame(cx).map_err(Into::into)
    }

    fn is_end_stream(&self) -> bool {
        self.inner.is_end_stream()
    }

    fn size_hint(&self) -> SizeHint {
        self.inner.size_hint()
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use http_body_util::{BodyExt, StreamBody};

    #[tokio::test]
    async fn a_trickled_body_fails_at_its_deadline() {
        // A byte every 10 ms, forever: each read succeeds, the whole does not.
        let trickle = futures::stream::unfold((), |()| async {
            tokio::time::sleep(Duration::from_millis(10)).await;
            let byte = Frame::data(bytes::Bytes::from_static(b"x"));
            Some((Ok::<_, std::io::Error>(byte), ()))
        });
        let body = BodyDeadline::new(StreamBody::new(trickle), Duration::from_millis(150));
        let error = body.collect().await.expect_err("cut off");
        assert!(BodyTimedOut::is(&*error), "{error}");
        assert_eq!(
            error.to_string(),
            "the request body did not arrive within 150 ms"
        );
    }

    #[tokio::test]
    async fn a_body_in_time_is_read_whole() {
        let body = BodyDeadline::new(
            http_body_util::Full::new(bytes::Bytes::from_static(b"password=x")),
            Duration::from_secs(1),
        );
        assert_eq!(body.collect().await.unwrap().to_bytes(), "password=x");
    }
}
