//! The analytics pages (src/dashboard/analytics/) in a real browser, on both stores: scans made
//! at the edge (a phone and a desktop from two countries, a bot) reach a code's analytics page
//! and the team's without a reload; the charts, the breakdowns, the bots and the scans table
//! show them; the range form and the live fragment's ETag work; the team's page counts the
//! team's scans from its rollups and lists them, a page at a time; another team's code is 404;
//! axe-core finds nothing serious. Needs what scripts/test.sh provides (see dashboard.rs).

use reqwest::Method;
use serde_json::json;

use crate::dashboard::{api_args, bootstrap_link, browse, on};
use crate::support::mmdb::{write_city_db, CityRecord};
use crate::support::topology::Topology;
use crate::support::{Launch, Server};

const DISPLAY_ID: &str = "summer-fair";
/// Where the scans say they come from (the edge trusts loopback's X-Forwarded-For), and the
/// place the test GeoIP database puts each.
const PHONE_ADDRESS: &str = "198.51.100.7";
const DESKTOP_ADDRESS: &str = "203.0.113.9";

/// A GeoIP database placing the phone in Berlin and the desktop in Chicago, and the config
/// lines that make the edge read client addresses from loopback's proxy headers.
fn geo_setup(dir: &std::path::Path) -> (std::path::PathBuf, &'static str) {
    let mmdb = dir.join("City.mmdb");
    let records = [
        CityRecord {
            network: "198.51.100.0/24",
            country_iso: "DE",
            city_en: "Berlin",
        },
        CityRecord {
            network: "203.0.113.0/24",
            country_iso: "US",
            city_en: "Chicago",
        },
    ];
    write_city_db(&mmdb, &records).unwrap();
    (mmdb, "[edge]\ntrusted_proxies = [\"127.0.0.0/8\"]\n")
}

/// A code of the team, and one of another team, made through the API.
fn codes(server: &Server) -> (String, String) {
    let own = server.create_qr(json!({
        "qrType": "WEB", "name": "Summer fair", "displayId": DISPLAY_ID,
        "qrRedirectUrl": "https://example.com/fair"
    }));
    let other_team = server.create_team("Other");
    let other = server.create_qr_in(
        &other_team,
        json!({"qrType": "WEB", "qrRedirectUrl": "https://example.com/other"}),
    );
    let own = own["id"].as_str().unwrap().to_owned();
    (own, other["id"].as_str().unwrap().to_owned())
}

fn analytics_journey(server: &Server) {
    let link = bootstrap_link(server);
    let (own, other) = codes(server);
    let mut args = api_args(server);
    args["signInUrl"] = on(server, &link).into();
    args["codeId"] = own.clone().into();
    args["otherTeamCodeId"] = other.into();
    args["displayId"] = DISPLAY_ID.into();
    args["phoneAddress"] = PHONE_ADDRESS.into();
    args["desktopAddress"] = DESKTOP_ADDRESS.into();
    let seen = browse("analytics.py", &args);

    assert_eq!(seen["totalBefore"], "0", "{seen}");
    assert_eq!(
        seen["notReloaded"], true,
        "the scans arrived without a reload"
    );
    assert_eq!(seen["total"], "2", "the phone and the desktop, not the bot");
    assert_eq!(seen["today"], "2");
    assert_eq!(seen["bots"], "1", "the bot apart");
    assert_eq!(seen["announced"], "2 scans in total");
    assert_eq!(seen["dailyTotal"], "2", "the daily chart sums the scans");
    assert_eq!(seen["todayTotal"], "2", "today's 5-minute curve too");
    assert_eq!(seen["dailyBars"], 30, "30 days unless asked");
    assert_eq!(seen["sevenDayBars"], 7, "the range form");
    assert_eq!(seen["badRange"], "from must not be after to");
    let breakdown = &seen["breakdowns"];
    assert_eq!(breakdown["device"], json!(["desktop 1", "mobile 1"]));
    assert_eq!(breakdown["country"], json!(["DE 1", "US 1"]));
    assert_eq!(breakdown["city"], json!(["Berlin 1", "Chicago 1"]));
    assert_eq!(breakdown["browser"], json!(["Safari 2"]));
    assert_eq!(breakdown["os"], json!(["iOS 1", "macOS 1"]));
    let mut kinds: Vec<&str> = seen["scanKinds"]
        .as_array()
        .unwrap()
        .iter()
        .map(|k| k.as_str().unwrap())
        .collect();
    kinds.sort();
    assert_eq!(kinds, ["Bot", "Scan", "Scan"], "the table lists every scan");
    assert_eq!(seen["liveStatus"], 200);
    assert_eq!(seen["unchangedStatus"], 304, "an idle poll is a 304");
    assert_eq!(seen["teamTotal"], "2", "the team's rollups count its scans");
    assert_eq!(seen["topCodes"], json!(["Summer fair"]));
    assert_eq!(
        seen["teamScans"],
        json!([
            format!("{DISPLAY_ID} Bot"),
            format!("{DISPLAY_ID} Scan"),
            format!("{DISPLAY_ID} Scan")
        ]),
        "the team's table lists the scans made on the edge, each with its code"
    );
    assert_eq!(seen["teamFirstPage"], 25, "25 scans a page");
    assert_eq!(
        seen["teamOlderCountries"],
        json!(["DE", "US"]),
        "the next page has the two oldest scans"
    );
    assert_eq!(seen["teamNewestAgain"], 25);
    assert_eq!(seen["otherPage"], "Not Found", "another team's code");
    assert_eq!(seen["otherLive"], 404);
    let (_, overview) = server.call(
        Method::GET,
        &format!("/api/analytics-api/detailed/{own}"),
        None,
    );
    assert_eq!(
        overview["data"].as_array().unwrap().len(),
        27,
        "the API has the same scans (the first 3 and the 24 of the paging)"
    );
}

#[test]
fn scans_reach_the_analytics_pages_without_a_reload_embedded() {
    let (tmp, dir) = crate::support::data_dir();
    let (mmdb, config) = geo_setup(tmp.path());
    let server = Launch::new(&dir)
        .config(config)
        .env("QREDGE_GEOIP_DB", mmdb.to_str().unwrap())
        .start();
    analytics_journey(&server);
}

#[test]
fn scans_reach_the_analytics_pages_without_a_reload_on_redis() {
    let topology = Topology::new();
    let (mmdb, edge) = geo_setup(&topology.root());
    let server = Launch::new(&topology.root().join("serve"))
        .role("serve")
        .config(&format!("{}{edge}", topology.config))
        .env("QREDGE_GEOIP_DB", mmdb.to_str().unwrap())
        .start();
    analytics_journey(&server);
}
