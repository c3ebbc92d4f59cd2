//! Scans are enriched with GeoIP (a real MMDB file) and user-agent data; bots are not counted.

use crate::support;
use std::path::Path;
use std::time::{Duration, Instant};

use crate::support::mmdb::{write_city_db, CityRecord};
use crate::support::{Launch, Server, IPHONE_SAFARI};
use reqwest::Method;
use serde_json::{json, Value};

#[test]
fn scans_carry_country_and_city_from_the_geoip_database() {
    let (tmp, data) = support::data_dir();
    // Written by the test (tests/it/support/mmdb.rs) in the GeoIP2-City schema; the loopback range
    // is placed in Berlin so that scans over loopback resolve.
    let mmdb = tmp.path().join("City.mmdb");
    write_city_db(
        &mmdb,
        &[
            CityRecord {
                network: "127.0.0.0/8",
                country_iso: "DE",
                city_en: "Berlin",
            },
            CityRecord {
                network: "2001:db8::/32",
                country_iso: "US",
                city_en: "Chicago",
            },
        ],
    )
    .unwrap();
    let server = Launch::new(&data)
        .env("QREDGE_GEOIP_DB", mmdb.to_str().unwrap())
        .start();
    let qr = server.create_qr(
        json!({"qrType": "WEB", "displayId": "geo", "qrRedirectUrl": "https://example.com/"}),
    );
    let id = qr["id"].as_str().unwrap();
    server.edge_within_a_second("geo", |r| r.status() == 302);
    assert_eq!(server.scan("geo", IPHONE_SAFARI).status(), 302);
    server.wait_for_total(id, 1);
    let (_, detailed) = server.call(
        Method::GET,
        &format!("/api/analytics-api/detailed/{id}"),
        None,
    );
    let event = &detailed["data"][0];
    assert_eq!(event["country"], "DE", "{event}");
    assert_eq!(event["city"], "Berlin");
    assert_eq!(event["device"], "mobile");
}

/// Writes, beside `path`, a database placing the loopback range in `city`, and renames it over
/// `path`: the way database updaters replace the file.
fn replace_placing_loopback_in(path: &Path, country_iso: &str, city_en: &str) {
    let aside = path.with_extension("new");
    write_city_db(
        &aside,
        &[CityRecord {
            network: "127.0.0.0/8",
            country_iso,
            city_en,
        }],
    )
    .unwrap();
    std::fs::rename(&aside, path).unwrap();
}

/// Waits until the server's log holds `line` `times` times.
fn wait_for_log(server: &Server, line: &str, times: usize) {
    let deadline = Instant::now() + Duration::from_secs(10);
    while server.log().matches(line).count() < times {
        assert!(
            Instant::now() < deadline,
            "no {line:?} in the log:\n{}",
            server.log()
        );
        std::thread::sleep(Duration::from_millis(20));
    }
}

/// Scans `display_id` from loopback and returns the newest detailed event once it is counted.
fn scan_and_read_back(server: &Server, display_id: &str, id: &str, total: u64) -> Value {
    assert_eq!(server.scan(display_id, IPHONE_SAFARI).status(), 302);
    server.wait_for_total(id, total);
    let (_, detailed) = server.call(
        Method::GET,
        &format!("/api/analytics-api/detailed/{id}"),
        None,
    );
    detailed["data"][0].clone()
}

#[test]
fn a_replaced_geoip_database_is_used_without_a_restart() {
    let (tmp, data) = support::data_dir();
    let mmdb = tmp.path().join("City.mmdb");
    replace_placing_loopback_in(&mmdb, "DE", "Berlin");
    let server = Launch::new(&data)
        .config(&format!(
            "[geoip]\ndatabase = \"{}\"\nreload_interval_ms = 50\n",
            mmdb.display()
        ))
        .start();
    let qr = server.create_qr(
        json!({"qrType": "WEB", "displayId": "moving", "qrRedirectUrl": "https://example.com/"}),
    );
    let id = qr["id"].as_str().unwrap();
    server.edge_within_a_second("moving", |r| r.status() == 302);
    let first = scan_and_read_back(&server, "moving", id, 1);
    assert_eq!(
        (&first["country"], &first["city"]),
        (&json!("DE"), &json!("Berlin"))
    );

    replace_placing_loopback_in(&mmdb, "FR", "Paris");
    wait_for_log(&server, "GeoIP database reloaded", 1);
    let second = scan_and_read_back(&server, "moving", id, 2);
    assert_eq!(
        (&second["country"], &second["city"]),
        (&json!("FR"), &json!("Paris")),
        "{second}"
    );

    // A corrupt file in its place is refused; scans keep the data in use.
    let aside = mmdb.with_extension("new");
    std::fs::write(&aside, b"not a MaxMind database").unwrap();
    std::fs::rename(&aside, &mmdb).unwrap();
    wait_for_log(&server, "new GeoIP database refused", 1);
    let third = scan_and_read_back(&server, "moving", id, 3);
    assert_eq!(
        (&third["country"], &third["city"]),
        (&json!("FR"), &json!("Paris")),
        "{third}"
    );
}

#[test]
fn a_missing_geoip_database_is_a_clear_startup_error() {
    let (tmp, data) = support::data_dir();
    let output = std::process::Command::new(env!("CARGO_BIN_EXE_qredge"))
        .arg("serve")
        .env("QREDGE_DATA_DIR", &data)
        .env("QREDGE_EDGE_LISTEN", "127.0.0.1:0")
        .env("QREDGE_API_LISTEN", "127.0.0.1:0")
        .env("QREDGE_GEOIP_DB", tmp.path().join("missing.mmdb"))
        .output()
        .unwrap();
    assert!(!output.status.success());
    let stderr = String::from_utf8_lossy(&output.stderr);
    assert!(stderr.contains("cannot open GeoIP database"), "{stderr}");
}

#[test]
fn bots_get_the_redirect_but_stay_out_of_the_headline_counts() {
    let (_tmp, data) = support::data_dir();
    let server = support::Server::start(&data);
    let qr = server.create_qr(
        json!({"qrType": "WEB", "displayId": "shared", "qrRedirectUrl": "https://example.com/"}),
    );
    let id = qr["id"].as_str().unwrap();
    server.edge_within_a_second("shared", |r| r.status() == 302);
    for bot in [
        "Slackbot-LinkExpanding 1.0 (+https://api.slack.com/robots)",
        "facebookexternalhit/1.1 (+http://www.facebook.com/externalhit_uatext.php)",
        "Mozilla/5.0 (compatible; Googlebot/2.1; +http://www.google.com/bot.html)",
    ] {
        assert_eq!(server.scan("shared", bot).status(), 302, "{bot}");
    }
    assert_eq!(server.scan("shared", IPHONE_SAFARI).status(), 302);
    let overview = server.wait_for_total(id, 1);
    let deadline = std::time::Instant::now() + std::time::Duration::from_secs(10);
    let mut overview = overview;
    while overview["botScans"] != 3 && std::time::Instant::now() < deadline {
        std::thread::sleep(std::time::Duration::from_millis(50));
        overview = server.overview(id);
    }
    assert_eq!(
        (overview["totalScans"].clone(), overview["botScans"].clone()),
        (json!(1), json!(3)),
        "{overview}"
    );
    let (_, detailed) = server.call(
        Method::GET,
        &format!("/api/analytics-api/detailed/{id}"),
        None,
    );
    let bots = detailed["data"]
        .as_array()
        .unwrap()
        .iter()
        .filter(|e| e["bot"] == true)
        .count();
    assert_eq!(bots, 3, "bot scans are kept, flagged");
}
