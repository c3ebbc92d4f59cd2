//! How a code redirects: status code, query forwarding, rules (device, OS, country, language,
//! time), a sticky weighted A/B split, expiry and max-scan fallbacks, passwords, HEAD requests.
//! Against the real binary over loopback.

use crate::support;
use std::collections::HashMap;

use crate::support::{location, Launch, Server, IPHONE_SAFARI, MAC_SAFARI};
use reqwest::Method;
use serde_json::json;

const ANDROID: &str = "Mozilla/5.0 (Linux; Android 14; Pixel 8) AppleWebKit/537.36 (KHTML, like Gecko) Chrome/120.0.0.0 Mobile Safari/537.36";

#[test]
fn status_code_and_query_forwarding_are_per_code() {
    let (_tmp, data) = support::data_dir();
    let server = Server::start(&data);
    server.create_served(json!({"qrType": "WEB", "displayId": "fwd", "qrRedirectUrl": "https://a.example/p?x=1#top"}),
    );
    let response = server.get("fwd?utm_source=poster&b=2", &[]);
    assert_eq!(response.status(), 302);
    assert_eq!(
        location(&response),
        "https://a.example/p?x=1&utm_source=poster&b=2#top"
    );
    let cache = response.headers()["cache-control"].to_str().unwrap();
    assert!(cache.contains("no-store"), "{cache}");

    server.create_served(
        json!({"qrType": "SHORT_LINK", "displayId": "perm", "qrRedirectUrl": "https://b.example/",
               "settings": {"redirectStatus": 301, "forwardQuery": false}}),
    );
    let response = server.get("perm?utm_source=poster", &[]);
    assert_eq!(response.status(), 301);
    assert_eq!(location(&response), "https://b.example/");

    for status in [307, 308] {
        let id = format!("s{status}");
        server.create_served(
            json!({"qrType": "WEB", "displayId": id, "qrRedirectUrl": "https://c.example/",
                   "settings": {"redirectStatus": status}}),
        );
        assert_eq!(server.get(&id, &[]).status().as_u16(), status);
    }

    let (status, body) = server.call(
        Method::POST,
        "/api/qrs-api",
        Some(
            json!({"qrType": "WEB", "qrRedirectUrl": "https://c.example/",
                    "settings": {"redirectStatus": 303}}),
        ),
    );
    assert_eq!(status, 400, "{body}");
    assert!(body["message"]
        .as_str()
        .unwrap()
        .contains("301, 302, 307 or 308"));
}

#[test]
fn rules_pick_the_first_matching_target() {
    let (_tmp, data) = support::data_dir();
    let server = Server::start(&data);
    server.create_served(
        json!({"qrType": "WEB", "displayId": "rules", "qrRedirectUrl": "https://default.example/",
        "settings": {"rules": [
            {"url": "https://ios.example/", "os": ["ios"]},
            {"url": "https://german.example/", "languages": ["de"]},
            {"url": "https://desktop.example/", "devices": ["desktop"]},
            {"url": "https://never.example/", "endAt": 1000},
            {"url": "https://never.example/", "startAt": 32503680000000i64},
            {"url": "https://always.example/", "fromTime": "00:00", "toTime": "00:00",
             "weekdays": ["mon", "tue", "wed", "thu", "fri", "sat", "sun"], "countries": ["ZZ"]}
        ]}}),
    );
    let cases = [
        (IPHONE_SAFARI, "de-DE,de;q=0.9", "https://ios.example/"),
        (ANDROID, "de-CH, en;q=0.5", "https://german.example/"),
        (ANDROID, "en-US", "https://default.example/"),
        (MAC_SAFARI, "fr", "https://desktop.example/"),
    ];
    for (user_agent, language, expected) in cases {
        let response = server.get(
            "rules",
            &[("user-agent", user_agent), ("accept-language", language)],
        );
        assert_eq!(response.status(), 302);
        assert_eq!(location(&response), expected, "{user_agent} / {language}");
    }

    let (status, body) = server.call(
        Method::POST,
        "/api/qrs-api",
        Some(
            json!({"qrType": "WEB", "qrRedirectUrl": "https://c.example/",
                    "settings": {"rules": [{"url": "https://x.example/", "os": ["symbian"]}]}}),
        ),
    );
    assert_eq!(status, 400, "{body}");
    assert!(body["message"]
        .as_str()
        .unwrap()
        .contains("settings.rules[0].os"));
}

#[test]
fn an_ab_split_follows_its_weights_and_keeps_each_visitor_in_one_variant() {
    let (_tmp, data) = support::data_dir();
    let server = Server::start(&data);
    server.create_served(
        json!({"qrType": "WEB", "displayId": "ab", "qrRedirectUrl": "https://default.example/",
               "settings": {"abSplit": [
                   {"url": "https://a.example/", "weight": 1},
                   {"url": "https://b.example/", "weight": 3}]}}),
    );
    let mut seen: HashMap<String, usize> = HashMap::new();
    let visitors = 800;
    for i in 0..visitors {
        let user_agent = format!("{IPHONE_SAFARI} visitor/{i}");
        let first = location(&server.get("ab", &[("user-agent", &user_agent)]));
        let again = location(&server.get("ab", &[("user-agent", &user_agent)]));
        assert_eq!(first, again, "visitor {i} keeps their variant");
        *seen.entry(first).or_default() += 1;
    }
    let b = seen.get("https://b.example/").copied().unwrap_or(0) as f64 / visitors as f64;
    assert_eq!(seen.len(), 2, "{seen:?}");
    // 3:1 → 75 %; 800 visitors put 4.5 standard deviations inside ±7 %.
    assert!((0.68..=0.82).contains(&b), "share of b: {b} ({seen:?})");
}

#[test]
fn expiry_and_max_scans_have_their_own_fallbacks() {
    let (_tmp, data) = support::data_dir();
    let server = Server::start(&data);
    let past = 1_000;
    server.create_qr(json!({"qrType": "WEB", "displayId": "old", "qrRedirectUrl": "https://a.example/",
                            "expiryDate": past, "settings": {"expiredUrl": "https://expired.example/"}}));
    server.create_qr(
        json!({"qrType": "WEB", "displayId": "old410", "qrRedirectUrl": "https://a.example/",
                            "expiryDate": past}),
    );
    let response = server.edge_within_a_second("old", |r| r.status() == 302);
    assert_eq!(location(&response), "https://expired.example/");
    let response = server.edge_within_a_second("old410", |r| r.status() == 410);
    assert_eq!(response.status(), 410);

    let qr = server.create_served(
        json!({"qrType": "WEB", "displayId": "limited", "qrRedirectUrl": "https://a.example/",
               "settings": {"maxScans": 3, "maxScansUrl": "https://sold-out.example/"}}),
    );
    for _ in 0..3 {
        assert_eq!(
            location(&server.get("limited", &[("user-agent", IPHONE_SAFARI)])),
            "https://a.example/"
        );
    }
    for _ in 0..2 {
        assert_eq!(
            location(&server.get("limited", &[("user-agent", IPHONE_SAFARI)])),
            "https://sold-out.example/"
        );
    }
    let overview = server.wait_for_total(qr["id"].as_str().unwrap(), 3);
    assert_eq!(
        overview["totalScans"], 3,
        "scans past the limit are not counted"
    );
}

#[test]
fn password_guesses_count_per_ipv6_network_not_per_address() {
    let (_tmp, data) = support::data_dir();
    let server = Launch::new(&data)
        .config("[edge]\ntrusted_proxies = [\"127.0.0.1/32\"]\n")
        .start();
    server.create_served(
        json!({"qrType": "WEB", "displayId": "vault", "qrRedirectUrl": "https://inside.example/",
               "settings": {"password": "open sesame"}}),
    );
    let guess_from = |client: &str| {
        server
            .client
            .post(format!("{}/vault", server.edge))
            .header("x-forwarded-for", client)
            .form(&[("password", "guess")])
            .send()
            .unwrap()
            .status()
            .as_u16()
    };
    // A new address of the same /64 for every guess: the network's attempts run out all the same.
    let statuses: Vec<u16> = (1..=12)
        .map(|n| guess_from(&format!("2001:db8:1:2::{n:x}")))
        .collect();
    assert_eq!(
        statuses,
        [[200; 10].as_slice(), &[429; 2]].concat(),
        "one /64 is one client"
    );
    // Another /64, and an IPv4 client, have attempts of their own.
    assert_eq!(guess_from("2001:db8:1:3::1"), 200);
    assert_eq!(guess_from("192.0.2.7"), 200);
    // An IPv4 client written IPv4-mapped is the same client as written plainly.
    let mapped: Vec<u16> = (0..10).map(|_| guess_from("::ffff:192.0.2.7")).collect();
    assert_eq!(
        mapped.iter().filter(|s| **s == 429).count(),
        1,
        "{mapped:?}"
    );
}

#[test]
fn a_password_code_asks_first_and_counts_only_unlocked_scans() {
    let (_tmp, data) = support::data_dir();
    let server = Server::start(&data);
    let qr = server.create_served(
        json!({"qrType": "WEB", "displayId": "secret", "qrRedirectUrl": "https://inside.example/",
               "settings": {"password": "open sesame"}}),
    );
    assert_eq!(qr["passwordProtected"], true);
    assert!(qr["settings"].get("passwordHash").is_none(), "{qr}");
    assert!(qr["settings"].get("password").is_none(), "{qr}");

    let form = server.get("secret", &[]);
    assert_eq!(form.status(), 200);
    let policy = form.headers()["content-security-policy"]
        .to_str()
        .unwrap()
        .to_owned();
    assert!(policy.contains("form-action 'self'"), "{policy}");
    let html = form.text().unwrap();
    assert!(
        html.contains("method=\"post\" action=\"/secret\""),
        "{html}"
    );

    let post = |password: &str| {
        server
            .client
            .post(format!("{}/secret", server.edge))
            .form(&[("password", password)])
            .send()
            .unwrap()
    };
    let wrong = post("guess");
    assert_eq!(wrong.status(), 200);
    assert!(wrong.text().unwrap().contains("Wrong password"));
    let right = post("open sesame");
    assert_eq!(right.status(), 302);
    assert_eq!(location(&right), "https://inside.example/");

    // Guessing is slowed down: a few attempts per client and code, then 429.
    let statuses: Vec<u16> = (0..12).map(|_| post("guess").status().as_u16()).collect();
    assert_eq!(
        statuses.iter().filter(|s| **s == 429).count(),
        12 - 8,
        "{statuses:?}"
    );

    let huge = server
        .client
        .post(format!("{}/secret", server.edge))
        .body(vec![b'a'; 10_000])
        .send()
        .unwrap();
    assert_eq!(huge.status(), 413);

    let id = qr["id"].as_str().unwrap();
    let overview = server.wait_for_total(id, 1);
    assert_eq!(
        overview["totalScans"], 1,
        "only the unlocked scan counts: {overview}"
    );

    // An update that names no password keeps it; "" removes it.
    let (status, body) = server.call(
        Method::PUT,
        &format!("/api/qrs-api/{id}"),
        Some(json!({"settings": {"redirectStatus": 307}})),
    );
    assert_eq!(
        (status, body["data"]["passwordProtected"].clone()),
        (200, json!(true))
    );
    let (_, body) = server.call(
        Method::PUT,
        &format!("/api/qrs-api/{id}"),
        Some(json!({"settings": {"password": ""}})),
    );
    assert_eq!(body["data"]["passwordProtected"], false);
    let response = server.edge_within_a_second("secret", |r| r.status() == 302);
    assert_eq!(location(&response), "https://inside.example/");
}

#[test]
fn head_requests_are_answered_and_kept_apart() {
    let (_tmp, data) = support::data_dir();
    let server = Server::start(&data);
    let qr = server.create_served(
        json!({"qrType": "WEB", "displayId": "probe", "qrRedirectUrl": "https://a.example/"}),
    );
    let id = qr["id"].as_str().unwrap();
    for _ in 0..3 {
        let response = server
            .client
            .head(format!("{}/probe", server.edge))
            .send()
            .unwrap();
        assert_eq!(response.status(), 302);
    }
    assert_eq!(
        server
            .get("probe", &[("user-agent", IPHONE_SAFARI)])
            .status(),
        302
    );
    let overview = server.wait_for_total(id, 1);
    assert_eq!(
        (overview["totalScans"].clone(), overview["botScans"].clone()),
        (json!(1), json!(0))
    );
    let deadline = std::time::Instant::now() + std::time::Duration::from_secs(10);
    loop {
        let (_, detailed) = server.call(
            Method::GET,
            &format!("/api/analytics-api/detailed/{id}"),
            None,
        );
        let heads = detailed["data"]
            .as_array()
            .unwrap()
            .iter()
            .filter(|e| e["head"] == true)
            .count();
        if heads >= 3 {
            break;
        }
        assert!(
            std::time::Instant::now() < deadline,
            "HEAD requests kept, flagged: {detailed}"
        );
        std::thread::sleep(std::time::Duration::from_millis(50));
    }
}

/// Codes as an edge reads them from the store when it starts (packed, not the changes it
/// followed): each keeps its expiry, status and query forwarding, on both stores.
#[test]
fn codes_read_at_start_keep_their_expiry_status_and_query_forwarding_on_both_stores() {
    let codes = |api: &Server| {
        let tomorrow = qredge::clock::now_ms() + 86_400_000;
        for body in [
            json!({"displayId": "later", "expiryDate": tomorrow}),
            json!({"displayId": "past", "expiryDate": 1_000}),
            json!({"displayId": "moved", "settings": {"redirectStatus": 301, "forwardQuery": false}}),
        ] {
            let mut body = body;
            body["qrType"] = json!("WEB");
            body["qrRedirectUrl"] = json!("https://a.example/?x=1");
            api.create_qr(body);
        }
    };
    let answers = |edge: &Server| {
        let later = edge.get("later?y=2", &[]);
        assert_eq!(
            (later.status().as_u16(), location(&later)),
            (302, "https://a.example/?x=1&y=2".to_owned())
        );
        assert_eq!(edge.get("past", &[]).status(), 410);
        let moved = edge.get("moved?y=2", &[]);
        assert_eq!(
            (moved.status().as_u16(), location(&moved)),
            (301, "https://a.example/?x=1".to_owned())
        );
    };

    let (_tmp, data) = support::data_dir();
    let server = Server::start(&data);
    codes(&server);
    server.stop();
    answers(&Server::start(&data));

    let topology = crate::support::topology::Topology::new();
    let api = topology.start("api", "api");
    codes(&api);
    answers(&topology.start("edge", "edge"));
}
