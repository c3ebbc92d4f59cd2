//! Notices new versions of the database files and swaps them in, each file on its own.
//!
//! The files' metadata is polled rather than watched with inotify: polling sees a file replaced
//! by rename, one rewritten in place and a symlink pointed elsewhere alike, on any filesystem
//! (network mounts and container volumes included), with no dependency, for one `stat` per file
//! per interval.

use std::time::Duration;

use tokio_util::sync::CancellationToken;

use super::database::Loaded;
use super::GeoIp;
use crate::file_watch::{self, FileStamp, Reload};

pub struct Reloader {
    geoip: GeoIp,
    /// Per database (in the same order), the file version last tried, or None when the file
    /// could not be read then. A version that was refused is not tried again: the next change to
    /// the file is.
    tried: Vec<Option<FileStamp>>,
}

impl Reloader {
    pub fn new(geoip: GeoIp) -> Self {
        let tried = geoip
            .databases
            .iter()
            .map(|database| Some(database.loaded().stamp))
            .collect();
        Self { geoip, tried }
    }

    /// Checks every file once and swaps in each one that changed and opens cleanly; one that
    /// does not keeps the version in use. Blocking: copies and opens a changed file.
    pub fn check(&mut self) {
        for (database, tried) in self.geoip.databases.iter().zip(&mut self.tried) {
            let path = database.path.display();
            let now = match FileStamp::read(&database.path) {
                Ok(stamp) => Some(stamp),
                Err(e) => {
                    if tried.is_some() {
                        tracing::warn!(%path, error = %e, "GeoIP database unreadable; keeping the one in use");
                    }
                    *tried = None;
                    continue;
                }
            };
            if now == *tried {
                continue;
            }
            *tried = now;
            match Loaded::open(&database.path, &self.geoip.copies_dir) {
                Ok(loaded) => {
                    tracing::info!(
                        %path,
                        database_type = loaded.database_type(),
                        build_epoch = loaded.build_epoch(),
                        "GeoIP database reloaded"
                    );
                    // The version actually copied, which a change since the stat may have moved.
                    *tried = Some(loaded.stamp);
                    database.swap(loaded);
                }
                Err(e) => {
                    tracing::warn!(error = %e, "new GeoIP database refused; keeping the one in use until the file changes again");
                }
            }
        }
    }

    /// Checks the files every `every` until `stop`.
    pub async fn run(self, every: Duration, stop: CancellationToken) {
        file_watch::run_every(self, every, "GeoIP", stop).await
    }
}

impl Reload for Reloader {
    fn check(&mut self) {
        Reloader::check(self)
    }
}
