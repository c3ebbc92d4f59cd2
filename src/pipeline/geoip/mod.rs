//! Country and city of an IP address from one or more City databases (`.mmdb`), kept current
//! while qredge runs.
//!
//! `record` reads the two schemas in use (GeoIP2/GeoLite2 and the flat ip-location-db one),
//! `database` holds one file's version in use and swaps in new ones, `places` keeps that
//! version's decoded records, `reload` notices new versions of the files.

mod database;
mod places;
mod record;
mod reload;
#[cfg(test)]
mod tests;

use std::net::IpAddr;
use std::path::{Path, PathBuf};
use std::sync::Arc;

use bytestring::ByteString;
use database::Database;
pub use reload::Reloader;

#[derive(Debug, thiserror::Error)]
pub enum GeoIpError {
    #[error("cannot open GeoIP database {path}: {source}")]
    Open {
        path: PathBuf,
        source: maxminddb::MaxMindDbError,
    },
    #[error("cannot copy GeoIP database {path} into {dir}: {source}")]
    Copy {
        path: PathBuf,
        dir: PathBuf,
        source: std::io::Error,
    },
}

/// The configured databases in lookup order. Cloning is cheap: clones share the databases, so
/// the reloader's swaps are what the enricher sees.
#[derive(Clone)]
pub struct GeoIp {
    databases: Arc<[Database]>,
    /// Where the private copies of the files are made (see `database`).
    copies_dir: Arc<Path>,
}

/// Where an address is, as far as the database knows; empty strings when it does not.
#[derive(Debug, Default, Clone, PartialEq, Eq)]
pub struct Location {
    pub country: ByteString,
    pub city: ByteString,
}

impl GeoIp {
    /// Opens every database in `paths` (the lookup order), making private copies in
    /// `copies_dir`. Any file that cannot be opened is an error: a typo should stop the start.
    pub fn open(paths: &[PathBuf], copies_dir: &Path) -> Result<Self, GeoIpError> {
        let databases = paths
            .iter()
            .map(|path| Database::open(path, copies_dir))
            .collect::<Result<Vec<_>, _>>()?;
        for database in &databases {
            let loaded = database.loaded();
            tracing::info!(
                path = %database.path.display(),
                database_type = loaded.database_type(),
                build_epoch = loaded.build_epoch(),
                "GeoIP database opened"
            );
        }
        Ok(Self {
            databases: databases.into(),
            copies_dir: copies_dir.into(),
        })
    }

    /// Asks the databases in order; the first that has a record for `ip` answers.
    pub fn locate(&self, ip: IpAddr) -> Location {
        // An IPv4 client seen on a dual-stack socket is `::ffff:a.b.c.d`; IPv4-only files know it
        // by its IPv4 form.
        let ip = ip.to_canonical();
        self.databases
            .iter()
            .find_map(|database| database.locate(ip))
            .unwrap_or_default()
    }
}
