//! Waiting between retries of something that failed (Redis or Kafka away): twice as long each
//! time up to a ceiling, and never past a stop.

use std::time::Duration;

use tokio_util::sync::CancellationToken;

pub struct Backoff {
    first: Duration,
    max: Duration,
    next: Duration,
}

impl Backoff {
    pub fn new(first: Duration, max: Duration) -> Self {
        Self {
            first,
            max,
            next: first,
        }
    }

    /// How long the next `wait` sleeps.
    pub fn next_delay(&self) -> Duration {
        self.next
    }

    /// Sleeps the current delay and doubles it; false when `stop` was cancelled meanwhile.
    pub async fn wait(&mut self, stop: &CancellationToken) -> bool {
        let delay = self.next;
        self.next = (self.next * 2).min(self.max);
        tokio::select! {
            _ = stop.cancelled() => false,
            _ = tokio::time::sleep(delay) => true,
        }
    }

    /// After a success: the next failure waits the first delay again.
    pub fn reset(&mut self) {
        self.next = self.first;
    }
}
