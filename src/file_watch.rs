//! Files qredge reloads while it runs (GeoIP databases, TLS certificates): which version of a
//! file is there, and the loop that checks for new versions off the async workers.

use std::fs::Metadata;
use std::os::unix::fs::MetadataExt;
use std::path::Path;
use std::time::Duration;

use tokio_util::sync::CancellationToken;

/// Which version of a file its metadata describes. A rename brings another inode; a rewrite in
/// place moves the change time (also when the modification time is set back, as `cp -p` does).
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct FileStamp {
    device: u64,
    inode: u64,
    size: u64,
    modified: (i64, i64),
    changed: (i64, i64),
}

impl FileStamp {
    pub fn of(metadata: &Metadata) -> Self {
        Self {
            device: metadata.dev(),
            inode: metadata.ino(),
            size: metadata.size(),
            modified: (metadata.mtime(), metadata.mtime_nsec()),
            changed: (metadata.ctime(), metadata.ctime_nsec()),
        }
    }

    /// The stamp of what `path` names now, following symlinks as opening it does (Kubernetes
    /// mounts secrets and config maps as symlinks).
    pub fn read(path: &Path) -> std::io::Result<Self> {
        std::fs::metadata(path).map(|m| Self::of(&m))
    }
}

/// Something that looks at its files and takes up new versions (blocking I/O).
pub trait Reload: Send + 'static {
    fn check(&mut self);
}

/// Calls `reloader.check()` every `every` on a blocking thread until `stop`; `what` names it in
/// the log should a check panic (then reloading stops, and what is loaded stays in use).
pub async fn run_every<R: Reload>(
    mut reloader: R,
    every: Duration,
    what: &'static str,
    stop: CancellationToken,
) {
    loop {
        tokio::select! {
            _ = stop.cancelled() => return,
            _ = tokio::time::sleep(every) => {}
        }
        reloader = match tokio::task::spawn_blocking(move || {
            reloader.check();
            reloader
        })
        .await
        {
            Ok(reloader) => reloader,
            Err(e) => {
                tracing::error!(error = %e, "the {what} reloader failed; no longer reloaded");
                return;
            }
        };
    }
}
