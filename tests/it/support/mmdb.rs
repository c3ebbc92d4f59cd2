//! Test helper: writes a small, real `MaxMind` DB (`.mmdb`) file in the
//! `GeoIP2`/`GeoLite2` **City** schema, so integration tests can check that scan
//! results are enriched with a country and a city.
//!
//! The database is an IPv6 tree with the IPv4 space mapped in (IPv4 networks
//! live under `::/96`, and the IPv4-mapped, 6to4 and Teredo ranges alias to
//! it), `database_type` is `"GeoIP2-City"`, and each network's data is
//!
//! ```text
//! { "country": { "iso_code": "DE", "names": { "en": "Germany" } },
//!   "city":    { "names": { "en": "Berlin" } } }
//! ```
//!
//! which `maxminddb::geoip2::City` decodes.
//!
//! [`write_flat_city_db`] writes the same records in the flat schema of the free ip-location-db
//! databases (`dbip-city-mmdb`, `geolite2-city-mmdb`), which come as separate IPv4 and IPv6 files:
//!
//! ```text
//! { "city": "Berlin", "country_code": "DE", "state1": "Berlin",
//!   "latitude": 52.52, "longitude": 13.405 }
//! ```
#![allow(dead_code)]

use std::io;
use std::path::Path;

use mmdb_writer::ipnet::IpNet;
use mmdb_writer::{IpVersion, ReservedNetworks, Value, Writer};

/// One network of the test database and the place it is said to be in.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct CityRecord<'a> {
    /// A network in CIDR form, e.g. `"203.0.113.0/24"` or `"2001:db8::/32"`.
    /// Host bits are ignored. A later record wins over an earlier one where
    /// they overlap.
    pub network: &'a str,
    /// ISO 3166-1 alpha-2 country code, e.g. `"DE"`.
    pub country_iso: &'a str,
    /// The city's English name, e.g. `"Berlin"`.
    pub city_en: &'a str,
}

/// The English country name written for an ISO code: a few well-known codes
/// get their real name, any other code is written as its own name.
pub fn country_name_en(iso: &str) -> &str {
    match iso {
        "DE" => "Germany",
        "US" => "United States",
        "GB" => "United Kingdom",
        "FR" => "France",
        "NL" => "Netherlands",
        "JP" => "Japan",
        "AU" => "Australia",
        "CA" => "Canada",
        other => other,
    }
}

/// Writes a GeoIP2-City-schema database (IPv6 tree with IPv4 mapped,
/// `database_type` `"GeoIP2-City"`) holding `records` to `path`.
///
/// An address outside every record's network has no data in the database.
///
/// # Errors
///
/// `InvalidInput` if a network is not valid CIDR or cannot be inserted (e.g.
/// it lies inside an IPv4-aliased IPv6 range such as `::ffff:0:0/96`), or any
/// error from writing the file.
pub fn write_city_db(path: &Path, records: &[CityRecord]) -> io::Result<()> {
    let writer = Writer::builder("GeoIP2-City")
        .languages(["en"])
        .description(&[("en", "qredge test GeoIP2-City database")])
        // Loopback, private and documentation ranges are what tests use.
        .reserved_networks(ReservedNetworks::Included)
        .build();
    write_records(writer, path, records, city_value)
}

/// Writes a database in the flat ip-location-db schema holding `records` to `path`. Like the
/// real files, an IPv4 one (`ip_version` 4, `database_type` `"city ipv4"`) holds only IPv4
/// networks, an IPv6 one (`"city ipv6"`) has no IPv4 space mapped in, and the metadata has an
/// empty description (which maxminddb's `verify()` refuses).
///
/// # Errors
///
/// As [`write_city_db`], and `InvalidInput` for a network of the other IP version.
pub fn write_flat_city_db(
    path: &Path,
    ip_version: IpVersion,
    records: &[CityRecord],
) -> io::Result<()> {
    let database_type = match ip_version {
        IpVersion::V4 => "city ipv4",
        _ => "city ipv6",
    };
    let writer = Writer::builder(database_type)
        .ip_version(ip_version)
        .ipv4_aliasing(mmdb_writer::Ipv4Aliasing::Disabled)
        .reserved_networks(ReservedNetworks::Included)
        .build();
    write_records(writer, path, records, flat_value)
}

fn write_records(
    mut writer: Writer,
    path: &Path,
    records: &[CityRecord],
    value: fn(&CityRecord) -> Value,
) -> io::Result<()> {
    for record in records {
        let network: IpNet = record.network.parse().map_err(|e| {
            io::Error::new(
                io::ErrorKind::InvalidInput,
                format!("bad network {:?}: {e}", record.network),
            )
        })?;
        writer.insert_value(network, value(record)).map_err(|e| {
            io::Error::new(
                io::ErrorKind::InvalidInput,
                format!("cannot insert {:?}: {e}", record.network),
            )
        })?;
    }

    let bytes = writer.to_bytes().map_err(io::Error::other)?;
    std::fs::write(path, bytes)
}

/// The `GeoIP2` City data of one record.
fn city_value(record: &CityRecord) -> Value {
    let names = |en: &str| Value::map([("en", Value::from(en))]);
    Value::map([
        (
            "country",
            Value::map([
                ("iso_code", Value::from(record.country_iso)),
                ("names", names(country_name_en(record.country_iso))),
            ]),
        ),
        ("city", Value::map([("names", names(record.city_en))])),
    ])
}

/// The ip-location-db data of one record (coordinates are made up).
fn flat_value(record: &CityRecord) -> Value {
    Value::map([
        ("city", Value::from(record.city_en)),
        ("country_code", Value::from(record.country_iso)),
        ("state1", Value::from(record.city_en)),
        ("latitude", Value::Float(52.52)),
        ("longitude", Value::Float(13.405)),
    ])
}
