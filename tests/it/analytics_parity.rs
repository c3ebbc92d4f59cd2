//! One analytics truth: the same script of API calls and scans, with scans on both sides of the
//! team's midnight (the test clock starts each server 45 s before it), driven into `qredge serve`
//! on the embedded store and into `qredge serve` on Redis and Kafka; every analytics endpoint
//! answers the same on both, ids and times aside.

use std::time::{Duration, Instant};

use chrono::{TimeZone, Timelike};
use chrono_tz::Tz;
use reqwest::Method;
use serde_json::{json, Value};

use crate::support::topology::Topology;
use crate::support::{Launch, Server, IPHONE_SAFARI};

const ORPHAN_HOST: &str = "parity.example.test";
const GOOGLEBOT: &str = "Mozilla/5.0 (compatible; Googlebot/2.1; +http://www.google.com/bot.html)";
const MARGIN_MS: i64 = 45_000;

/// The zone (a whole-hour offset; +14 is Kiritimati) whose next midnight comes soonest, at
/// least two minutes from now, and that midnight: the test clock then moves by an hour at most.
fn next_midnight() -> (Tz, i64) {
    let earliest = qredge::clock::now_ms() + 120_000;
    (-12..=14)
        .map(|hours: i32| {
            let name = match hours {
                14 => "Pacific/Kiritimati".to_owned(),
                0 => "UTC".to_owned(),
                h => format!("Etc/GMT{}{}", if h > 0 { "-" } else { "+" }, h.abs()),
            };
            let zone: Tz = name.parse().unwrap();
            let local = zone.timestamp_millis_opt(earliest).unwrap();
            let next_day = local.date_naive().succ_opt().unwrap();
            let midnight = zone
                .from_local_datetime(&next_day.and_hms_opt(0, 0, 0).unwrap())
                .unwrap();
            (zone, midnight.timestamp_millis())
        })
        .min_by_key(|(_, midnight)| *midnight)
        .unwrap()
}

fn scan(server: &Server, host: Option<&str>, path: &str, user_agent: &str, referer: &str) {
    let mut request = server
        .client
        .get(format!("{}/{path}", server.edge))
        .header("user-agent", user_agent);
    if let Some(host) = host {
        request = request.header("host", host);
    }
    if !referer.is_empty() {
        request = request.header("referer", referer);
    }
    let status = request.send().expect("the edge answers").status();
    assert!(status == 302 || status == 404, "{path}: {status}");
}

/// Polls `path` (GET, or POST with `body`) until `done` holds of its data; returns the data.
fn wait_for(
    server: &Server,
    path: &str,
    body: Option<Value>,
    done: impl Fn(&Value) -> bool,
) -> Value {
    let deadline = Instant::now() + Duration::from_secs(60);
    let method = if body.is_some() {
        Method::POST
    } else {
        Method::GET
    };
    loop {
        let (status, answer) = server.call(method.clone(), path, body.clone());
        assert_eq!(status, 200, "{path}: {answer}");
        if done(&answer["data"]) {
            return answer["data"].clone();
        }
        assert!(
            Instant::now() < deadline,
            "{path} never got there: {answer}"
        );
        std::thread::sleep(Duration::from_millis(100));
    }
}

fn totals(overviews: &Value) -> Vec<u64> {
    let list = overviews.as_array().unwrap();
    list.iter()
        .flat_map(|o| {
            [
                o["totalScans"].as_u64().unwrap(),
                o["botScans"].as_u64().unwrap(),
            ]
        })
        .collect()
}

/// The script: a team in `zone`, two codes and a custom domain; scans before and after the
/// team's `midnight`; then every analytics endpoint's answer.
fn drive(server: &Server, zone: Tz, midnight: i64) -> Value {
    let team = format!("/api/teams-api/{}", server.credentials.team_id);
    let (status, body) = server.call(Method::PUT, &team, Some(json!({"timeZone": zone.name()})));
    assert_eq!(status, 200, "{body}");
    let platform = server.edge.trim_start_matches("http://").to_owned();
    let (status, body) = server.call(
        Method::PUT,
        &format!("{team}/domains"),
        Some(json!({"defaultDomain": platform, "domains": [platform, ORPHAN_HOST]})),
    );
    assert_eq!(status, 200, "{body}");
    let a = server.create_served(json!({"qrType": "WEB", "displayId": "parity-a",
        "qrRedirectUrl": "https://example.com/a"}))["id"]
        .as_str()
        .unwrap()
        .to_owned();
    let b = server.create_served(json!({"qrType": "WEB", "displayId": "parity-b",
        "qrRedirectUrl": "https://example.com/b"}))["id"]
        .as_str()
        .unwrap()
        .to_owned();
    let visitor = |n: u32| format!("{IPHONE_SAFARI} visitor/{n}");
    let codes = json!({"qrIds": [a, b]});

    // Before midnight: three scans of A by two visitors, one of B, a bot, an orphan.
    scan(
        server,
        None,
        "parity-a",
        &visitor(1),
        "https://news.example.org/story?id=1",
    );
    scan(server, None, "parity-a", &visitor(2), "");
    scan(server, None, "parity-a", &visitor(1), "");
    scan(
        server,
        None,
        "parity-b",
        &visitor(3),
        "https://www.example.com/",
    );
    scan(server, None, "parity-a", GOOGLEBOT, "");
    scan(server, Some(ORPHAN_HOST), "typo", &visitor(4), "");
    wait_for(
        server,
        "/api/analytics-api/overviews",
        Some(codes.clone()),
        |o| totals(o) == [3, 1, 1, 0],
    );
    let (_, body) = server.call(
        Method::GET,
        &format!("/api/analytics-api/detailed/{a}"),
        None,
    );
    let newest = body["data"][0]["scanTime"].as_i64().unwrap();
    assert!(
        newest < midnight,
        "the start took longer than the test clock's margin"
    );

    // Past midnight: two more of A (one visitor new), two of B, another orphan.
    wait_for(
        server,
        "/api/analytics-api/overviews",
        Some(codes.clone()),
        |o| o[0]["yesterdayScans"] == 3,
    );
    scan(server, None, "parity-a", &visitor(1), "");
    scan(
        server,
        None,
        "parity-a",
        &visitor(5),
        "https://news.example.org/other",
    );
    scan(server, None, "parity-b", &visitor(3), "");
    scan(server, None, "parity-b", &visitor(6), "");
    scan(server, Some(ORPHAN_HOST), "typo", &visitor(4), "");
    let overviews = wait_for(
        server,
        "/api/analytics-api/overviews",
        Some(codes.clone()),
        |o| totals(o) == [5, 1, 3, 0],
    );
    let orphans = wait_for(server, "/api/analytics-api/orphans", None, |o| {
        o["totalScans"] == 2
    });

    let today = zone.timestamp_millis_opt(midnight).unwrap().date_naive();
    let from = today - chrono::TimeDelta::days(2);
    let post = |path: &str, body: Value| {
        let (status, answer) = server.call(Method::POST, path, Some(body));
        assert_eq!(status, 200, "{path}: {answer}");
        answer["data"].clone()
    };
    let detailed = |id: &str| {
        let (status, body) = server.call(
            Method::GET,
            &format!("/api/analytics-api/detailed/{id}"),
            None,
        );
        assert_eq!(status, 200, "{body}");
        body["data"].clone()
    };
    let yesterday = (today - chrono::TimeDelta::days(1)).to_string();
    let mut answers = json!({
        "overviews": overviews,
        "orphans": orphans,
        "dailyTeam": post("/api/analytics-api/daily", json!({"from": from.to_string()})),
        "dailyA": post("/api/analytics-api/daily", json!({"qrIds": [a], "from": from.to_string()})),
        "bucketsToday": post("/api/analytics-api/buckets", json!({})),
        "bucketsYesterday": post("/api/analytics-api/buckets", json!({"qrIds": [a, b], "date": yesterday})),
        "breakdownsTeam": post("/api/analytics-api/breakdowns", json!({})),
        "breakdownsB": post("/api/analytics-api/breakdowns", json!({"qrIds": [b]})),
        "detailedA": detailed(&a),
        "detailedB": detailed(&b),
    });
    strip_ids_and_times(&mut answers);
    answers
}

/// Leaves out what differs between two servers however alike their scans: ids, the times of
/// scans and records, the team.
fn strip_ids_and_times(value: &mut Value) {
    const APART: [&str; 8] = [
        "id",
        "qrId",
        "teamId",
        "eventId",
        "scanTime",
        "createdAt",
        "updatedAt",
        "leadsUpdatedAt",
    ];
    match value {
        Value::Object(fields) => {
            fields.retain(|name, _| !APART.contains(&name.as_str()));
            fields.values_mut().for_each(strip_ids_and_times);
        }
        Value::Array(items) => items.iter_mut().for_each(strip_ids_and_times),
        _ => {}
    }
}

#[test]
fn the_embedded_and_the_redis_analytics_answer_alike_across_midnight() {
    let (zone, midnight) = next_midnight();
    let start = (midnight - MARGIN_MS).to_string();
    let clock = qredge::clock::TEST_CLOCK_ENV;
    let topology = Topology::new();
    let embedded_dir = tempfile::tempdir().unwrap();
    let (embedded, redis) = std::thread::scope(|s| {
        let embedded = s.spawn(|| {
            let server = Launch::new(&embedded_dir.path().join("data"))
                .env(clock, &start)
                .start();
            drive(&server, zone, midnight)
        });
        let redis = s.spawn(|| {
            let server = Launch::new(&topology.root().join("serve"))
                .config(&topology.config)
                .env(clock, &start)
                .start();
            drive(&server, zone, midnight)
        });
        (embedded.join().unwrap(), redis.join().unwrap())
    });
    assert_eq!(embedded, redis, "embedded (left) and Redis (right) differ");

    // What both said, spelled out.
    let today = zone.timestamp_millis_opt(midnight).unwrap();
    assert_eq!(today.hour(), 0);
    let o = &embedded["overviews"][0];
    assert_eq!(
        (o["todayScans"].as_u64(), o["yesterdayScans"].as_u64()),
        (Some(2), Some(3))
    );
    assert_eq!(o["todayDate"], today.format("%-m/%-d/%Y").to_string());
    let days = embedded["dailyTeam"]["days"].as_array().unwrap();
    let last_two: Vec<(u64, u64)> = days[days.len() - 2..]
        .iter()
        .map(|d| {
            (
                d["scans"].as_u64().unwrap(),
                d["uniqueVisitors"].as_u64().unwrap(),
            )
        })
        .collect();
    assert_eq!(
        last_two,
        [(4, 3), (4, 4)],
        "A and B: scans and visitors, yesterday and today"
    );
    assert_eq!(embedded["dailyTeam"]["timeZone"], zone.name());
    let buckets = &embedded["bucketsToday"]["buckets"];
    assert_eq!(buckets, &json!([{"start": midnight, "scans": 4}]));
    let buckets = &embedded["bucketsYesterday"]["buckets"];
    assert_eq!(buckets, &json!([{"start": midnight - 300_000, "scans": 4}]));
    let referrers = &embedded["breakdownsTeam"]["referrer"];
    assert_eq!(
        referrers,
        &json!([{"value": "", "scans": 5}, {"value": "news.example.org", "scans": 2},
                {"value": "www.example.com", "scans": 1}])
    );
    assert_eq!(embedded["orphans"]["todayScans"], 1);
    // The detailed events hold the bot's scan too (and create_served's HEAD probe, apart).
    let events = embedded["detailedA"].as_array().unwrap();
    let gets: Vec<&Value> = events.iter().filter(|e| e["head"] == false).collect();
    assert_eq!(gets.len(), 6);
    assert_eq!(gets.iter().filter(|e| e["bot"] == true).count(), 1);
}
