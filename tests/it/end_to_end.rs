//! The first story on embedded defaults: bootstrap, create a code, scan it, count it.

use crate::support;
use std::os::unix::fs::PermissionsExt;
use std::time::{SystemTime, UNIX_EPOCH};

use crate::support::{Server, IPHONE_SAFARI, MAC_SAFARI};
use reqwest::Method;
use serde_json::{json, Value};

fn now_ms() -> i64 {
    SystemTime::now()
        .duration_since(UNIX_EPOCH)
        .unwrap()
        .as_millis() as i64
}

#[test]
fn first_start_bootstraps_an_owner_credential_once() {
    let (_tmp, data) = support::data_dir();
    let server = Server::start(&data);
    let file = data.join("bootstrap.json");
    let mode = std::fs::metadata(&file).unwrap().permissions().mode();
    assert_eq!(mode & 0o777, 0o600, "bootstrap.json is private");
    let c = &server.credentials;
    for value in [&c.org_id, &c.team_id, &c.client_id, &c.client_secret] {
        assert!(!value.is_empty());
        assert!(
            server.stdout.contains(value.as_str()),
            "printed once at first start"
        );
    }
    // The secret is stored only hashed: it appears nowhere in the store file.
    let store = std::fs::read(data.join("store.redb")).unwrap();
    let secret = c.client_secret.as_bytes();
    assert!(!store.windows(secret.len()).any(|w| w == secret));

    let (status, _) = server.call(Method::GET, "/api/qrs-api", None);
    assert_eq!(status, 200, "the printed credential works");
    for base in [&server.edge, &server.api] {
        let health = server.client.get(format!("{base}/healthz")).send().unwrap();
        assert_eq!(health.status(), 200, "{base}/healthz once ready");
    }
    let credentials = c.clone();
    assert_eq!(server.stop().code(), Some(0), "SIGTERM stops cleanly");

    let again = Server::start(&data);
    assert!(
        !again.stdout.contains("clientSecret"),
        "no second bootstrap"
    );
    assert_eq!(again.credentials.client_secret, credentials.client_secret);
}

#[test]
fn create_scan_and_count_a_code() {
    let (_tmp, data) = support::data_dir();
    let server = Server::start(&data);
    let before = now_ms();

    // The reference document's example, verbatim.
    let qr = server.create_qr(json!({
        "name": "Product Launch Landing Page",
        "qrType": "WEB",
        "displayId": "product-launch-2024",
        "qrRedirectUrl": "https://acmecorp.com/product-launch"
    }));
    let id = qr["id"].as_str().unwrap().to_owned();
    assert_eq!(qr["displayId"], "product-launch-2024");
    assert_eq!(qr["name"], "Product Launch Landing Page");
    assert_eq!(qr["qrType"], "WEB");
    assert_eq!(qr["teamId"], server.credentials.team_id.as_str());
    assert_eq!(qr["orgId"], server.credentials.org_id.as_str());
    assert_eq!(qr["qrRedirectUrl"], "https://acmecorp.com/product-launch");
    assert_eq!(qr["deleted"], false);
    assert_eq!(qr["metadata"], json!({}));
    assert_eq!(qr["settings"], json!({}));
    assert_eq!(qr["tags"], json!([]));
    assert!(qr["expiryDate"].is_null());
    let created = qr["createdAt"].as_i64().unwrap();
    assert!(
        created >= before && created <= now_ms(),
        "createdAt is epoch ms"
    );
    assert_eq!(qr["updatedAt"].as_i64(), Some(created));
    assert!(qr["createdBy"].as_str().is_some_and(|s| !s.is_empty()));
    assert!(qr["updatedBy"].as_str().is_some_and(|s| !s.is_empty()));
    // The image without credentials (tests/it/public_images.rs has the rest).
    let image_url = qr["qrImageUrl"].as_str().unwrap();
    assert!(
        image_url.starts_with(&format!("{}/images/{id}/", server.api))
            && image_url.ends_with(".svg"),
        "{image_url}"
    );
    assert_eq!(
        qr["shortUrl"].as_str().unwrap(),
        format!("{}/product-launch-2024", server.edge)
    );

    // The image it points at is a real SVG.
    let image = server
        .client
        .get(qr["qrImageUrl"].as_str().unwrap())
        .header("x-request-team-id", &server.credentials.team_id)
        .header("x-request-client-id", &server.credentials.client_id)
        .header("x-request-client-secret", &server.credentials.client_secret)
        .send()
        .unwrap();
    assert_eq!(image.status(), 200);
    assert_eq!(image.headers()["content-type"], "image/svg+xml");
    assert!(image.text().unwrap().contains("<svg"));

    // A phone scans it: a redirect that phones may not cache.
    let scan = server.edge_within_a_second("product-launch-2024", |r| r.status() == 302);
    assert_eq!(scan.status(), 302, "HEAD is answered like GET");
    let response = server
        .client
        .get(format!("{}/product-launch-2024", server.edge))
        .header("user-agent", IPHONE_SAFARI)
        .header("referer", "https://news.example/article")
        .send()
        .unwrap();
    assert_eq!(response.status(), 302);
    assert_eq!(
        response.headers()["location"],
        "https://acmecorp.com/product-launch"
    );
    let cache = response.headers()["cache-control"].to_str().unwrap();
    assert!(
        cache.contains("no-store") && cache.contains("no-cache"),
        "{cache}"
    );
    for _ in 0..4 {
        assert_eq!(server.scan("product-launch-2024", MAC_SAFARI).status(), 302);
    }

    // Five GETs counted; the HEAD is not.
    let overview = server.wait_for_total(&id, 5);
    assert_eq!(overview["id"], id.as_str());
    assert_eq!(overview["totalScans"], 5, "{overview}");
    assert_eq!(overview["todayScans"], 5);
    assert_eq!(overview["yesterdayScans"], 0);
    assert!(overview["todayDate"].as_str().unwrap().contains('/'));
    std::thread::sleep(std::time::Duration::from_millis(300));
    assert_eq!(
        server.overview(&id)["totalScans"],
        5,
        "nothing more arrives"
    );

    // The detailed events, newest first, enriched from the user agent.
    let (status, detailed) = server.call(
        Method::GET,
        &format!("/api/analytics-api/detailed/{id}"),
        None,
    );
    assert_eq!(status, 200);
    // HEAD requests (the probe above) are kept too, flagged: the scans are the others.
    let events: Vec<&Value> = detailed["data"]
        .as_array()
        .unwrap()
        .iter()
        .filter(|e| e["head"] == false)
        .collect();
    assert_eq!(events.len(), 5);
    let iphone = events.last().unwrap();
    assert_eq!(iphone["qrId"], id.as_str());
    assert_eq!(iphone["device"], "mobile");
    assert_eq!(iphone["browser"], "Safari");
    assert_eq!(iphone["os"], "iOS");
    assert_eq!(iphone["ipAddress"], "127.0.0.1");
    assert_eq!(iphone["referrer"], "https://news.example/article");
    assert_eq!(iphone["country"], "", "no GeoIP database configured");
    let scan_time = iphone["scanTime"].as_i64().unwrap();
    assert!(scan_time >= created && scan_time <= now_ms());
    assert_eq!(events[0]["device"], "desktop");
    assert_eq!(events[0]["os"], "macOS");
    let times: Vec<i64> = events
        .iter()
        .map(|e| e["scanTime"].as_i64().unwrap())
        .collect();
    assert!(
        times.windows(2).all(|w| w[0] >= w[1]),
        "newest first: {times:?}"
    );
    let mut ids: Vec<&str> = events
        .iter()
        .map(|e| e["eventId"].as_str().unwrap())
        .collect();
    ids.dedup();
    assert_eq!(ids.len(), 5, "every scan has its own event id");

    // The bulk endpoint finds the same events in a time range, and none outside it.
    let (status, bulk) = server.call(
        Method::POST,
        "/api/analytics-api/bulk",
        Some(json!({ "qrIds": [id], "startTime": created, "endTime": now_ms() })),
    );
    assert_eq!(status, 200, "{bulk}");
    let scans = bulk["data"]
        .as_array()
        .unwrap()
        .iter()
        .filter(|e| e["head"] == false);
    assert_eq!(
        scans.count(),
        5,
        "the five scans (and the HEAD probe, flagged)"
    );
    let (_, empty) = server.call(
        Method::POST,
        "/api/analytics-api/bulk",
        Some(json!({ "qrIds": [id], "startTime": 0, "endTime": created - 1 })),
    );
    assert_eq!(empty["data"], json!([]));
}

#[test]
fn codes_are_listed_updated_and_soft_deleted() {
    let (_tmp, data) = support::data_dir();
    let server = Server::start(&data);
    let mut ids = Vec::new();
    for (name, display) in [
        ("Alpha menu", "alpha"),
        ("Beta flyer", "beta"),
        ("Gamma poster", "gamma"),
    ] {
        let qr = server.create_qr(json!({
            "name": name, "qrType": "SHORT_LINK", "displayId": display,
            "qrRedirectUrl": format!("https://example.com/{display}")
        }));
        ids.push(qr["id"].as_str().unwrap().to_owned());
        std::thread::sleep(std::time::Duration::from_millis(5));
    }
    // Generated displayIds when none is given.
    let generated =
        server.create_qr(json!({"qrType": "WEB", "qrRedirectUrl": "https://example.com/g"}));
    let generated_display = generated["displayId"].as_str().unwrap();
    assert!(generated_display.len() >= 6, "{generated_display}");
    assert_eq!(generated["name"], "Untitled");

    let list = |query: &str| {
        let (status, json) = server.call(Method::GET, &format!("/api/qrs-api{query}"), None);
        assert_eq!(status, 200, "{query}: {json}");
        json["data"].clone()
    };
    let names = |page: &serde_json::Value| -> Vec<String> {
        page["qrs"]
            .as_array()
            .unwrap()
            .iter()
            .map(|q| q["name"].as_str().unwrap().to_owned())
            .collect()
    };
    let all = list("");
    assert_eq!(
        (
            all["totalCount"].as_u64(),
            all["page"].as_u64(),
            all["limit"].as_u64()
        ),
        (Some(4), Some(1), Some(10))
    );
    assert_eq!(
        names(&list("?sortBy=name&sortOrder=asc&limit=2")),
        ["Alpha menu", "Beta flyer"]
    );
    assert_eq!(
        names(&list("?sortBy=name&sortOrder=asc&limit=2&page=2")),
        ["Gamma poster", "Untitled"]
    );
    assert_eq!(
        names(&list("?sortBy=createdAt&sortOrder=desc&limit=1"))[0],
        "Untitled"
    );
    let search = list("?search=BETA");
    assert_eq!(
        (search["totalCount"].as_u64(), names(&search)),
        (Some(1), vec!["Beta flyer".to_string()])
    );
    assert_eq!(
        list("?search=gam")["totalCount"],
        1,
        "search matches displayId too"
    );
    for bad in [
        "?limit=0",
        "?limit=101",
        "?page=0",
        "?sortBy=color",
        "?sortOrder=up",
        "?limit=ten",
    ] {
        let (status, json) = server.call(Method::GET, &format!("/api/qrs-api{bad}"), None);
        assert_eq!(status, 400, "{bad}");
        assert_eq!(json["success"], false);
    }

    // Get, and the alias the reference shows.
    for path in [
        format!("/api/qrs-api/{}", ids[1]),
        format!("/api/qrs-api/teams/{}", ids[1]),
    ] {
        let (status, json) = server.call(Method::GET, &path, None);
        assert_eq!(status, 200);
        assert_eq!(json["data"]["displayId"], "beta");
    }

    // Update the target: the edge follows within a second.
    let (status, updated) = server.call(
        Method::PUT,
        &format!("/api/qrs-api/{}", ids[0]),
        Some(json!({"qrType": "WEB", "qrRedirectUrl": "https://example.com/alpha-v2", "tags": ["spring"]})),
    );
    assert_eq!(status, 200, "{updated}");
    assert_eq!(updated["data"]["tags"], json!(["spring"]));
    assert_eq!(
        updated["data"]["name"], "Alpha menu",
        "unnamed fields are kept"
    );
    assert!(updated["data"]["updatedAt"].as_i64() > updated["data"]["createdAt"].as_i64());
    let edge = server.edge_within_a_second("alpha", |r| {
        r.headers()
            .get("location")
            .is_some_and(|l| l == "https://example.com/alpha-v2")
    });
    assert_eq!(edge.headers()["location"], "https://example.com/alpha-v2");

    // Renaming the displayId moves the code on the edge.
    let (status, _) = server.call(
        Method::PUT,
        &format!("/api/qrs-api/{}", ids[2]),
        Some(json!({"displayId": "gamma-2"})),
    );
    assert_eq!(status, 200);
    assert_eq!(
        server
            .edge_within_a_second("gamma-2", |r| r.status() == 302)
            .status(),
        302
    );
    assert_eq!(
        server
            .edge_within_a_second("gamma", |r| r.status() == 404)
            .status(),
        404
    );

    // Soft delete: the record stays, the list drops it, the edge stops serving it at once.
    let (status, deleted) = server.call(Method::DELETE, &format!("/api/qrs-api/{}", ids[1]), None);
    assert_eq!(status, 200);
    assert_eq!(deleted["data"]["deleted"], true);
    let (_, fetched) = server.call(Method::GET, &format!("/api/qrs-api/{}", ids[1]), None);
    assert_eq!(fetched["data"]["deleted"], true);
    assert_eq!(list("")["totalCount"], 3);
    assert_eq!(
        server
            .edge_within_a_second("beta", |r| r.status() == 404)
            .status(),
        404
    );
    let page = server.scan("beta", support::IPHONE_SAFARI);
    assert_eq!(page.status(), 404);
    assert!(page.text().unwrap().contains("not found"));
    // A deleted code's displayId stays taken, and the code cannot be edited.
    let (status, json) = server.call(
        Method::POST,
        "/api/qrs-api",
        Some(json!({
        "qrType": "WEB", "displayId": "beta", "qrRedirectUrl": "https://evil.example/"})),
    );
    assert_eq!(
        (status, json["success"].clone()),
        (409, json!(false)),
        "{json}"
    );
    let (status, _) = server.call(
        Method::PUT,
        &format!("/api/qrs-api/{}", ids[1]),
        Some(json!({"name": "x"})),
    );
    assert_eq!(status, 409);
    assert_eq!(
        server.overview(&ids[1])["totalScans"],
        0,
        "scans of deleted codes are not counted"
    );
}

#[test]
fn an_expired_code_answers_gone_and_is_not_counted() {
    let (_tmp, data) = support::data_dir();
    let server = Server::start(&data);
    let qr = server.create_qr(json!({
        "qrType": "WEB", "displayId": "old-offer",
        "qrRedirectUrl": "https://example.com/offer", "expiryDate": now_ms() - 1000
    }));
    let response = server.edge_within_a_second("old-offer", |r| r.status() == 410);
    assert_eq!(response.status(), 410);
    assert_eq!(server.scan("old-offer", IPHONE_SAFARI).status(), 410);
    std::thread::sleep(std::time::Duration::from_millis(300));
    assert_eq!(server.overview(qr["id"].as_str().unwrap())["totalScans"], 0);
}
