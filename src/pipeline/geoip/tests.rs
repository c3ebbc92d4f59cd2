//! Both schemas, the lookup order, and reloading, against databases written by `mmdb-writer`.

use std::net::IpAddr;
use std::path::{Path, PathBuf};

use mmdb_writer::IpVersion;

use super::{GeoIp, Location, Reloader};

#[path = "../../../tests/it/support/mmdb.rs"]
mod mmdb;

use mmdb::{write_city_db, write_flat_city_db, CityRecord};

fn record<'a>(network: &'a str, country_iso: &'a str, city_en: &'a str) -> CityRecord<'a> {
    CityRecord {
        network,
        country_iso,
        city_en,
    }
}

fn place(country: &str, city: &str) -> Location {
    Location {
        country: country.into(),
        city: city.into(),
    }
}

fn ip(text: &str) -> IpAddr {
    text.parse().unwrap()
}

/// A fresh directory with `copies/` for the private copies.
struct Dir(tempfile::TempDir);

impl Dir {
    fn new() -> Self {
        Self(tempfile::tempdir().unwrap())
    }

    fn path(&self, name: &str) -> PathBuf {
        self.0.path().join(name)
    }

    fn open(&self, names: &[&str]) -> GeoIp {
        let paths: Vec<PathBuf> = names.iter().map(|n| self.path(n)).collect();
        GeoIp::open(&paths, &self.path("copies")).unwrap()
    }

    /// Replaces `name` the way database updaters do: written aside, then renamed over it.
    fn replace_by_rename(&self, name: &str, write: impl FnOnce(&Path)) {
        let aside = self.path(&format!("{name}.new"));
        write(&aside);
        std::fs::rename(&aside, self.path(name)).unwrap();
    }
}

#[test]
fn the_geoip2_schema_gives_country_and_city() {
    let dir = Dir::new();
    write_city_db(
        &dir.path("City.mmdb"),
        &[
            record("203.0.113.0/24", "DE", "Berlin"),
            record("2001:db8::/32", "US", "Chicago"),
        ],
    )
    .unwrap();
    let geoip = dir.open(&["City.mmdb"]);
    assert_eq!(geoip.locate(ip("203.0.113.9")), place("DE", "Berlin"));
    assert_eq!(geoip.locate(ip("2001:db8::1")), place("US", "Chicago"));
    assert_eq!(
        geoip.locate(ip("::ffff:203.0.113.9")),
        place("DE", "Berlin"),
        "an IPv4 client seen on a dual-stack socket"
    );
    assert_eq!(geoip.locate(ip("198.51.100.1")), Location::default());
}

/// The ip-location-db layout: an IPv4 file (Paris) and an IPv6 file (Tokyo), flat schema.
fn write_paris_v4_tokyo_v6(dir: &Dir) {
    write_flat_city_db(
        &dir.path("v4.mmdb"),
        IpVersion::V4,
        &[record("203.0.113.0/24", "FR", "Paris")],
    )
    .unwrap();
    write_flat_city_db(
        &dir.path("v6.mmdb"),
        IpVersion::V6,
        &[record("2001:db8::/32", "JP", "Tokyo")],
    )
    .unwrap();
}

#[test]
fn the_flat_schema_of_separate_ipv4_and_ipv6_files_gives_country_and_city() {
    let dir = Dir::new();
    write_paris_v4_tokyo_v6(&dir);
    let geoip = dir.open(&["v4.mmdb", "v6.mmdb"]);
    assert_eq!(geoip.locate(ip("203.0.113.9")), place("FR", "Paris"));
    assert_eq!(
        geoip.locate(ip("2001:db8::1")),
        place("JP", "Tokyo"),
        "the IPv4-only file is passed over for an IPv6 address"
    );
    assert_eq!(geoip.locate(ip("::ffff:203.0.113.9")), place("FR", "Paris"));
    assert_eq!(geoip.locate(ip("2001:db9::1")), Location::default());
}

#[test]
fn the_first_database_that_knows_the_address_answers() {
    let dir = Dir::new();
    write_flat_city_db(
        &dir.path("local.mmdb"),
        IpVersion::V4,
        &[record("203.0.113.0/25", "NL", "Amsterdam")],
    )
    .unwrap();
    write_city_db(
        &dir.path("City.mmdb"),
        &[record("203.0.113.0/24", "DE", "Berlin")],
    )
    .unwrap();
    let geoip = dir.open(&["local.mmdb", "City.mmdb"]);
    assert_eq!(geoip.locate(ip("203.0.113.9")), place("NL", "Amsterdam"));
    assert_eq!(geoip.locate(ip("203.0.113.200")), place("DE", "Berlin"));
}

#[test]
fn a_missing_database_is_an_error_naming_it() {
    let dir = Dir::new();
    let err = GeoIp::open(&[dir.path("missing.mmdb")], &dir.path("copies"))
        .err()
        .expect("a missing file is refused");
    let message = err.to_string();
    assert!(message.contains("cannot open GeoIP database"), "{message}");
    assert!(message.contains("missing.mmdb"), "{message}");
}

#[test]
fn a_database_replaced_by_rename_is_swapped_in() {
    let dir = Dir::new();
    let berlin = [record("203.0.113.0/24", "DE", "Berlin")];
    write_city_db(&dir.path("City.mmdb"), &berlin).unwrap();
    let geoip = dir.open(&["City.mmdb"]);
    let mut reloader = Reloader::new(geoip.clone());
    reloader.check();
    assert_eq!(geoip.locate(ip("203.0.113.9")), place("DE", "Berlin"));

    dir.replace_by_rename("City.mmdb", |path| {
        write_city_db(path, &[record("203.0.113.0/24", "FR", "Paris")]).unwrap()
    });
    assert_eq!(
        geoip.locate(ip("203.0.113.9")),
        place("DE", "Berlin"),
        "nothing changes before the check"
    );
    reloader.check();
    assert_eq!(geoip.locate(ip("203.0.113.9")), place("FR", "Paris"));
}

#[test]
fn a_database_rewritten_in_place_is_swapped_in() {
    let dir = Dir::new();
    write_city_db(
        &dir.path("City.mmdb"),
        &[record("203.0.113.0/24", "DE", "Berlin")],
    )
    .unwrap();
    let geoip = dir.open(&["City.mmdb"]);
    let mut reloader = Reloader::new(geoip.clone());
    // Truncated and written again, the same inode: the map in use is of a private copy, so the
    // lookups never see the file half written.
    write_city_db(
        &dir.path("City.mmdb"),
        &[record("203.0.113.0/24", "FR", "Paris")],
    )
    .unwrap();
    assert_eq!(geoip.locate(ip("203.0.113.9")), place("DE", "Berlin"));
    reloader.check();
    assert_eq!(geoip.locate(ip("203.0.113.9")), place("FR", "Paris"));
}

#[test]
fn each_file_of_a_pair_is_reloaded_on_its_own() {
    let dir = Dir::new();
    write_paris_v4_tokyo_v6(&dir);
    let geoip = dir.open(&["v4.mmdb", "v6.mmdb"]);
    let mut reloader = Reloader::new(geoip.clone());
    dir.replace_by_rename("v6.mmdb", |path| {
        write_flat_city_db(
            path,
            IpVersion::V6,
            &[record("2001:db8::/32", "AU", "Sydney")],
        )
        .unwrap()
    });
    reloader.check();
    assert_eq!(geoip.locate(ip("2001:db8::1")), place("AU", "Sydney"));
    assert_eq!(geoip.locate(ip("203.0.113.9")), place("FR", "Paris"));
}

#[test]
fn a_corrupt_replacement_keeps_the_old_data_until_the_next_change() {
    let dir = Dir::new();
    write_city_db(
        &dir.path("City.mmdb"),
        &[record("203.0.113.0/24", "DE", "Berlin")],
    )
    .unwrap();
    let geoip = dir.open(&["City.mmdb"]);
    let mut reloader = Reloader::new(geoip.clone());

    dir.replace_by_rename("City.mmdb", |path| {
        std::fs::write(path, b"not a MaxMind database").unwrap()
    });
    reloader.check();
    assert_eq!(geoip.locate(ip("203.0.113.9")), place("DE", "Berlin"));

    // A download cut short: the start of a real database without its metadata section.
    dir.replace_by_rename("City.mmdb", |path| {
        write_city_db(path, &[record("203.0.113.0/24", "FR", "Paris")]).unwrap();
        let bytes = std::fs::read(path).unwrap();
        std::fs::write(path, &bytes[..bytes.len() / 2]).unwrap();
    });
    reloader.check();
    assert_eq!(geoip.locate(ip("203.0.113.9")), place("DE", "Berlin"));

    // The file disappears for a moment (deleted, then written anew).
    std::fs::remove_file(dir.path("City.mmdb")).unwrap();
    reloader.check();
    assert_eq!(geoip.locate(ip("203.0.113.9")), place("DE", "Berlin"));

    dir.replace_by_rename("City.mmdb", |path| {
        write_city_db(path, &[record("203.0.113.0/24", "GB", "London")]).unwrap()
    });
    reloader.check();
    assert_eq!(geoip.locate(ip("203.0.113.9")), place("GB", "London"));
}

#[test]
fn no_private_copy_is_left_in_the_copies_directory() {
    let dir = Dir::new();
    write_city_db(
        &dir.path("City.mmdb"),
        &[record("203.0.113.0/24", "DE", "Berlin")],
    )
    .unwrap();
    let geoip = dir.open(&["City.mmdb"]);
    let left = std::fs::read_dir(dir.path("copies")).unwrap().count();
    assert_eq!(left, 0, "copies are unlinked once mapped");
    assert_eq!(geoip.locate(ip("203.0.113.9")), place("DE", "Berlin"));
}
