//! One database file: the version in use, swapped whole when a new one has been opened.
//!
//! Each version is read from a private copy of the file, memory-mapped. Mapping the configured
//! file itself would be safe only while nobody touches it: a database rewritten in place changes
//! under a live map, and one truncated makes every read past its new end a SIGBUS that kills the
//! process. The copy is unlinked the moment it is created, so no other process can reach it, it
//! lives exactly as long as its map, and a crash leaves nothing behind. It costs one copy per
//! version (a reflink on filesystems that have them) and its size on disk while mapped; the
//! pages stay in the page cache, not on the heap.

use std::fs::{File, OpenOptions};
use std::net::IpAddr;
use std::path::{Path, PathBuf};
use std::sync::atomic::{AtomicU64, Ordering};
use std::sync::Arc;

use arc_swap::ArcSwap;
use maxminddb::{MaxMindDbError, Mmap, Reader};

use super::places::Places;
use super::record::Record;
use super::{GeoIpError, Location};
use crate::file_watch::FileStamp;

/// A version of the database, opened and checked.
pub(super) struct Loaded {
    reader: Reader<Mmap>,
    /// The file version it was copied from.
    pub(super) stamp: FileStamp,
    places: Places,
}

impl Loaded {
    /// Copies `path` into `copies_dir`, maps the copy and reads its metadata and search-tree
    /// layout, so that a file cut short (the metadata is at its end) or not a database at all is
    /// refused here rather than found out by lookups. maxminddb's full `verify()` is not used: it
    /// refuses the ip-location-db files (their metadata has an empty description) and walks the
    /// whole file (over a second for GeoLite2 City).
    pub(super) fn open(path: &Path, copies_dir: &Path) -> Result<Self, GeoIpError> {
        let open_error = |source: MaxMindDbError| GeoIpError::Open {
            path: path.to_owned(),
            source,
        };
        let mut source = File::open(path).map_err(|e| open_error(e.into()))?;
        // The stamp of the very file copied: a change after this point is seen on the next check.
        let stamp = source
            .metadata()
            .map(|m| FileStamp::of(&m))
            .map_err(|e| open_error(e.into()))?;
        let copy = private_copy(&mut source, copies_dir).map_err(|source| GeoIpError::Copy {
            path: path.to_owned(),
            dir: copies_dir.to_owned(),
            source,
        })?;
        // SAFETY: the map is of our own copy, unlinked before it was written: no other process
        // can open, change or truncate it, and this process never writes to it again.
        let map = unsafe { Mmap::map(&copy) }.map_err(|e| open_error(MaxMindDbError::Mmap(e)))?;
        let reader = Reader::from_source(map).map_err(open_error)?;
        Ok(Self {
            reader,
            stamp,
            places: Places::default(),
        })
    }

    pub(super) fn database_type(&self) -> &str {
        &self.reader.metadata().database_type
    }

    pub(super) fn build_epoch(&self) -> u64 {
        self.reader.metadata().build_epoch
    }

    /// The place of `ip`, or None when this database has no record for it (and the next
    /// database should be asked).
    fn locate(&self, ip: IpAddr) -> Option<Location> {
        // The IPv4 file of a v4/v6 pair cannot hold an IPv6 address: not an error, not here.
        if ip.is_ipv6() && self.reader.metadata().ip_version == 4 {
            return None;
        }
        let failed = |e: MaxMindDbError| tracing::debug!(%ip, error = %e, "GeoIP lookup failed");
        let found = self.reader.lookup(ip).map_err(failed).ok()?;
        self.places.get_or_decode(found.offset()?, || {
            let record = found.decode::<Record>().map_err(failed).ok()??;
            let (country, city) = record.place();
            Some(Location {
                country: country.into(),
                city: city.into(),
            })
        })
    }
}

/// Creates a file in `dir`, unlinks it at once and fills it with `source`.
fn private_copy(source: &mut File, dir: &Path) -> std::io::Result<File> {
    /// Names are unique within the process; the pid keeps processes sharing a data_dir apart.
    static NEXT: AtomicU64 = AtomicU64::new(0);
    std::fs::create_dir_all(dir)?;
    let name = dir.join(format!(
        ".geoip-{}-{}.mmdb",
        std::process::id(),
        NEXT.fetch_add(1, Ordering::Relaxed)
    ));
    let mut copy = OpenOptions::new()
        .read(true)
        .write(true)
        .create_new(true)
        .open(&name)?;
    std::fs::remove_file(&name)?;
    std::io::copy(source, &mut copy)?;
    Ok(copy)
}

/// A configured database file and the version of it in use.
pub(super) struct Database {
    pub(super) path: PathBuf,
    current: ArcSwap<Loaded>,
}

impl Database {
    pub(super) fn open(path: &Path, copies_dir: &Path) -> Result<Self, GeoIpError> {
        let loaded = Loaded::open(path, copies_dir)?;
        Ok(Self {
            path: path.to_owned(),
            current: ArcSwap::from_pointee(loaded),
        })
    }

    /// Lock-free: one atomic load of the version in use.
    pub(super) fn locate(&self, ip: IpAddr) -> Option<Location> {
        self.current.load().locate(ip)
    }

    pub(super) fn loaded(&self) -> arc_swap::Guard<Arc<Loaded>> {
        self.current.load()
    }

    /// Lookups that started on the old version finish on it; its map goes with the last of them.
    pub(super) fn swap(&self, loaded: Loaded) {
        self.current.store(Arc::new(loaded));
    }
}
