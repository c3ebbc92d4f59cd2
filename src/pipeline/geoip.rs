//! Country and city of an IP address from a GeoIP2/GeoLite2 City database.

use std::net::IpAddr;
use std::path::Path;

use maxminddb::{geoip2, Mmap, Reader};

#[derive(Debug, thiserror::Error)]
#[error("cannot open GeoIP database {path}: {source}")]
pub struct GeoIpError {
    path: String,
    source: maxminddb::MaxMindDbError,
}

pub struct GeoIp {
    reader: Reader<Mmap>,
}

/// Where an address is, as far as the database knows; empty strings when it does not.
#[derive(Debug, Default, Clone, PartialEq, Eq)]
pub struct Location {
    pub country: String,
    pub city: String,
}

impl GeoIp {
    pub fn open(path: &Path) -> Result<Self, GeoIpError> {
        // SAFETY: the map is read-only; database updaters (geoipupdate and the like) replace the
        // file by rename, which leaves the mapped inode intact. Editing it in place is not
        // supported.
        let reader = unsafe { Reader::open_mmap(path) }.map_err(|source| GeoIpError {
            path: path.display().to_string(),
            source,
        })?;
        Ok(Self { reader })
    }

    pub fn locate(&self, ip: IpAddr) -> Location {
        let found = self
            .reader
            .lookup(ip)
            .and_then(|result| result.decode::<geoip2::City>());
        match found {
            Ok(Some(city)) => Location {
                country: city.country.iso_code.unwrap_or_default().to_owned(),
                city: city.city.names.english.unwrap_or_default().to_owned(),
            },
            Ok(None) => Location::default(),
            Err(e) => {
                tracing::debug!(%ip, error = %e, "GeoIP lookup failed");
                Location::default()
            }
        }
    }
}
