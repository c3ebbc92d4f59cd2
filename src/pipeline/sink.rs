//! The edge's hand-off: never blocks a response. A bounded queue takes the scan; when it is
//! full (or the pipeline is shutting down) the scan goes to the disk spool instead.

use std::sync::Arc;

use tokio::sync::mpsc::{self, error::TrySendError};

use super::Spool;
use crate::model::RawScan;

#[derive(Clone)]
pub struct ScanSink {
    queue: mpsc::Sender<RawScan>,
    spool: Arc<Spool>,
    capacity: usize,
}

impl ScanSink {
    /// The sink and the receiving end for the pipeline worker.
    pub fn new(capacity: usize, spool: Arc<Spool>) -> (Self, mpsc::Receiver<RawScan>) {
        let (queue, receiver) = mpsc::channel(capacity);
        (
            Self {
                queue,
                spool,
                capacity,
            },
            receiver,
        )
    }

    pub fn send(&self, scan: RawScan) {
        match self.queue.try_send(scan) {
            Ok(()) => {}
            Err(TrySendError::Full(scan) | TrySendError::Closed(scan)) => {
                if let Err(e) = self.spool.append(&scan) {
                    // Only a failing disk gets here; say so loudly.
                    tracing::error!(error = %e, qr_id = %scan.qr_id, "scan could not be spooled");
                    metrics::counter!("qredge_scans_lost_total").increment(1);
                } else {
                    metrics::counter!("qredge_scans_spooled_total").increment(1);
                }
            }
        }
    }

    /// Scans waiting in memory.
    pub fn queue_depth(&self) -> usize {
        self.capacity - self.queue.capacity()
    }

    /// Reads the queue depth later without keeping the queue open (the worker ends when every
    /// sender is gone).
    pub fn depth_reader(&self) -> impl Fn() -> usize + Send + Sync + 'static {
        let queue = self.queue.downgrade();
        let capacity = self.capacity;
        move || queue.upgrade().map_or(0, |q| capacity - q.capacity())
    }
}
