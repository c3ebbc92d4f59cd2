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
#![allow(dead_code)]

use std::io;
use std::path::Path;

use mmdb_writer::ipnet::IpNet;
use mmdb_writer::{ReservedNetworks, Value, Writer};

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
    let mut writer = Writer::builder("GeoIP2-City")
        .languages(["en"])
        .description(&[("en", "qredge test GeoIP2-City database")])
        // Loopback, private and documentation ranges are what tests use.
        .reserved_networks(ReservedNetworks::Included)
        .build();

    for record in records {
        let network: IpNet = record.network.parse().map_err(|e| {
            io::Error::new(
                io::ErrorKind::InvalidInput,
                format!("bad network {:?}: {e}", record.network),
            )
        })?;
        writer
            .insert_value(network, city_value(record))
            .map_err(|e| {
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
