//! Every hosted QR type over HTTP from the real binary: status, headers, escaped body, the
//! contact card's .vcf parsed back, per-language and per-platform redirects, the team colour.

use crate::support;
use crate::support::topology::Topology;
use crate::support::{location, Server, IPHONE_SAFARI, MAC_SAFARI};
use base64::Engine;
use reqwest::Method;
use serde_json::{json, Value};

const ANDROID: &str = "Mozilla/5.0 (Linux; Android 14; Pixel 8) AppleWebKit/537.36 (KHTML, like Gecko) Chrome/120.0.0.0 Mobile Safari/537.36";
const HOSTILE: &str = "<script>alert(1)</script>\"onmouseover='x'";

/// The page's status, CSP and body, after checking what every hosted page must have.
fn page(server: &Server, display_id: &str) -> (String, String) {
    let response = server.get(display_id, &[("user-agent", IPHONE_SAFARI)]);
    assert_eq!(response.status(), 200, "{display_id}");
    let header = |name: &str| response.headers()[name].to_str().unwrap().to_owned();
    assert_eq!(header("content-type"), "text/html; charset=utf-8");
    assert!(header("cache-control").contains("no-store"));
    let csp = header("content-security-policy");
    assert!(csp.contains("default-src 'none'"), "{csp}");
    assert!(
        !csp.contains("unsafe-inline") && !csp.contains("script-src"),
        "{csp}"
    );
    let html = response.text().unwrap();
    assert!(
        !html.contains("<script"),
        "{display_id}: no script, and user text escaped"
    );
    assert!(
        !html.contains("onmouseover='"),
        "{display_id}: attribute text escaped"
    );
    (csp, html)
}

#[test]
fn every_hosted_type_gets_its_page_with_user_text_escaped() {
    let (_tmp, data) = support::data_dir();
    let server = Server::start(&data);
    let team = format!("/api/teams-api/{}", server.credentials.team_id);
    let (status, body) = server.call(Method::PUT, &team, Some(json!({"primaryColor": "#C0FFEE"})));
    assert_eq!(status, 200, "{body}");

    let codes = [
        (
            "pdf",
            json!({"qrType": "PDF", "settings": {"pdfUrl": "https://docs.example/menu.pdf", "title": HOSTILE}}),
        ),
        (
            "links",
            json!({"qrType": "LINK_LIST", "settings": {"title": HOSTILE, "links": [{"title": "Shop", "url": "https://shop.example/"}]}}),
        ),
        (
            "coupon",
            json!({"qrType": "COUPON_CODE", "settings": {"code": "SAVE20", "title": HOSTILE, "validUntil": "2030-01-31"}}),
        ),
        (
            "gallery",
            json!({"qrType": "IMAGE_GALLERY", "settings": {"title": HOSTILE, "images": [{"url": "https://img.example/1.jpg", "caption": "One"}]}}),
        ),
        (
            "bio",
            json!({"qrType": "SOCIAL_BIO", "settings": {"name": HOSTILE, "links": [{"network": "instagram", "url": "https://instagram.com/acme"}]}}),
        ),
        (
            "video",
            json!({"qrType": "VIDEO_PREVIEW", "settings": {"videoUrl": "https://www.youtube.com/watch?v=dQw4w9WgXcQ", "title": HOSTILE}}),
        ),
        (
            "menu",
            json!({"qrType": "RESTAURANT_MENU", "settings": {"name": HOSTILE, "currency": "EUR",
            "sections": [{"name": "Mains", "items": [{"name": "Schnitzel", "price": 14.5}]}]}}),
        ),
        (
            "card",
            json!({"qrType": "VCARD", "settings": {"firstName": "Ada", "lastName": HOSTILE, "organization": "Acme"}}),
        ),
    ];
    for (display_id, mut body) in codes {
        body["displayId"] = json!(display_id);
        server.create_served(body);
        let (csp, html) = page(&server, display_id);
        assert!(
            html.contains("&lt;script&gt;alert(1)&lt;/script&gt;"),
            "{display_id}: {html}"
        );
        assert!(
            html.to_ascii_lowercase().contains("#c0ffee"),
            "{display_id}: team colour"
        );
        match display_id {
            "pdf" => assert!(
                html.contains("https://docs.example/menu.pdf")
                    && csp.contains("https://docs.example")
            ),
            "video" => assert!(
                csp.contains("frame-src https://www.youtube-nocookie.com"),
                "{csp}"
            ),
            "coupon" => assert!(html.contains("SAVE20")),
            "menu" => assert!(html.contains("Schnitzel")),
            _ => {}
        }
    }

    // A bad setting is refused by name, and nothing is stored.
    for (bad, words) in [
        (
            json!({"qrType": "LINK_LIST", "settings": {"links": [{"title": "x", "url": "javascript:alert(1)"}]}}),
            "settings.links[0].url",
        ),
        (
            json!({"qrType": "PDF", "settings": {"pdfUrl": "https://a.example/x.pdf", "colour": "red"}}),
            "colour",
        ),
        (json!({"qrType": "VCARD", "settings": {}}), "firstName"),
    ] {
        let (status, body) = server.call(Method::POST, "/api/qrs-api", Some(bad.clone()));
        assert_eq!(status, 400, "{bad}: {body}");
        assert!(
            body["message"].as_str().unwrap().contains(words),
            "{bad}: {body}"
        );
    }

    // A new team colour reaches the pages already served.
    let (status, _) = server.call(Method::PUT, &team, Some(json!({"primaryColor": "#123456"})));
    assert_eq!(status, 200);
    let deadline = std::time::Instant::now() + std::time::Duration::from_secs(2);
    while !page(&server, "coupon").1.contains("#123456") {
        assert!(
            std::time::Instant::now() < deadline,
            "the pages take the new colour"
        );
        std::thread::sleep(std::time::Duration::from_millis(10));
    }
}

/// vCard 3.0 as a phone reads it: unfold continuation lines, then split property and value.
fn vcard_properties(text: &str) -> Vec<(String, String)> {
    assert!(text.contains("\r\n"), "CRLF line endings");
    let unfolded = text.replace("\r\n ", "");
    unfolded
        .split("\r\n")
        .filter(|l| !l.is_empty())
        .map(|line| {
            let (name, value) = line.split_once(':').expect("NAME:value");
            let unescaped = value
                .replace("\\n", "\n")
                .replace("\\,", ",")
                .replace("\\;", ";")
                .replace("\\\\", "\\");
            (name.to_owned(), unescaped)
        })
        .collect()
}

#[test]
fn a_contact_card_downloads_as_a_vcf_phones_import() {
    let (_tmp, data) = support::data_dir();
    let server = Server::start(&data);
    let qr = server.create_served(
        json!({"qrType": "VCARD", "displayId": "ada", "name": "Ada's card",
               "settings": {"firstName": "Ada", "lastName": "Lovelace, Countess; of Lovelace",
                            "organization": "Analytical Engines Ltd.", "jobTitle": "Mathematician",
                            "phones": [{"type": "mobile", "number": "+44 20 7946 0000"}],
                            "emails": [{"type": "work", "address": "ada@engines.example"}],
                            "note": "First line\nSecond line — ünïcödé"}}),
    );
    let (_, html) = page(&server, "ada");
    assert!(
        html.contains("/ada/contact.vcf"),
        "the page links the card: {html}"
    );

    let response = server.get("ada/contact.vcf", &[]);
    assert_eq!(response.status(), 200);
    assert!(response.headers()["content-type"]
        .to_str()
        .unwrap()
        .starts_with("text/vcard"));
    assert!(response.headers()["content-disposition"]
        .to_str()
        .unwrap()
        .contains("contact.vcf"));
    let text = response.text().unwrap();
    for line in text.split("\r\n") {
        assert!(line.len() <= 75, "folded at 75 octets: {line:?}");
    }
    let properties = vcard_properties(&text);
    let value = |name: &str| {
        properties
            .iter()
            .find(|(n, _)| n == name || n.starts_with(&format!("{name};")))
            .map(|(_, v)| v.clone())
            .unwrap_or_else(|| panic!("{name} in {text}"))
    };
    assert_eq!(value("BEGIN"), "VCARD");
    assert_eq!(value("VERSION"), "3.0");
    assert_eq!(value("N"), "Lovelace, Countess; of Lovelace;Ada;;;");
    assert!(value("FN").contains("Ada"));
    assert_eq!(value("ORG"), "Analytical Engines Ltd.");
    assert_eq!(value("TEL"), "+44 20 7946 0000");
    assert_eq!(value("EMAIL"), "ada@engines.example");
    assert_eq!(value("NOTE"), "First line\nSecond line — ünïcödé");

    // Downloads are not scans: only the page view counts.
    let overview = server.wait_for_total(qr["id"].as_str().unwrap(), 1);
    assert_eq!(overview["totalScans"], 1, "{overview}");
    assert_eq!(server.get("ada/other.vcf", &[]).status(), 404);
}

#[test]
fn a_cards_file_goes_through_its_codes_gate_on_both_stores() {
    let (_tmp, data) = support::data_dir();
    let server = Server::start(&data);
    card_files_are_gated(&server, &server);
    let topology = Topology::new();
    let (api, edge) = (topology.start("api", "api"), topology.start("edge", "edge"));
    card_files_are_gated(&api, &edge);
}

/// A contact card's `.vcf` gets what its code gets: the password form while protected (the file
/// for a POST with the right password; the unlocked page embeds it), the fallback once expired
/// or used up, nothing once deleted.
fn card_files_are_gated(api: &Server, edge: &Server) {
    // `behaviour` goes into the settings, but for the code's own `expiryDate`.
    let card = |id: &str, behaviour: Value| {
        let mut settings = json!({"firstName": "Ada", "lastName": "Lovelace",
                                  "phones": [{"number": "+44 20 7946 0000"}]});
        let mut code = json!({"qrType": "VCARD", "displayId": id, "name": "Card"});
        for (key, value) in behaviour.as_object().unwrap() {
            let into = if key == "expiryDate" {
                &mut code
            } else {
                &mut settings
            };
            into[key] = value.clone();
        }
        code["settings"] = settings;
        let qr = api.create_qr(code);
        let served = edge.edge_within_a_second(id, |r| r.status() != 404);
        assert_ne!(served.status(), 404, "{id} served");
        qr
    };
    let file = |id: &str| edge.get(&format!("{id}/contact.vcf"), &[]);
    let post = |path: &str, password: &str| {
        edge.client
            .post(format!("{}/{path}", edge.edge))
            .form(&[("password", password)])
            .send()
            .unwrap()
    };
    let is_card = |text: &str| text.starts_with("BEGIN:VCARD") && text.contains("Lovelace");

    card("open-card", json!({}));
    assert!(is_card(&file("open-card").text().unwrap()));

    card("locked-card", json!({"password": "sesame"}));
    let form = file("locked-card");
    assert_eq!(form.status(), 200);
    assert!(form.headers().get("content-disposition").is_none());
    let form = form.text().unwrap();
    assert!(
        form.contains("name=\"password\"") && !form.contains("Lovelace"),
        "{form}"
    );
    let head = edge
        .client
        .head(format!("{}/locked-card/contact.vcf", edge.edge))
        .send()
        .unwrap();
    assert_eq!(head.headers()["content-type"], "text/html; charset=utf-8");
    let wrong = post("locked-card/contact.vcf", "open sesame")
        .text()
        .unwrap();
    assert!(wrong.contains("Wrong password") && !wrong.contains("Lovelace"));
    let right = post("locked-card/contact.vcf", "sesame");
    assert!(right.headers()["content-disposition"]
        .to_str()
        .unwrap()
        .contains("contact.vcf"));
    let vcf = right.text().unwrap();
    assert!(is_card(&vcf), "{vcf}");
    let unlocked = post("locked-card", "sesame").text().unwrap();
    assert!(
        !unlocked.contains("/locked-card/contact.vcf"),
        "no link to the gated file"
    );
    let embedded = unlocked
        .split("href=\"data:text/vcard;charset=utf-8;base64,")
        .nth(1)
        .and_then(|rest| rest.split('"').next())
        .unwrap_or_else(|| panic!("the card embedded: {unlocked}"));
    let embedded = base64::engine::general_purpose::STANDARD
        .decode(embedded)
        .unwrap();
    assert_eq!(String::from_utf8(embedded).unwrap(), vcf);

    card("old-card", json!({"expiryDate": 1000}));
    assert_eq!(file("old-card").status(), 410);
    card(
        "old-card-moved",
        json!({"expiryDate": 1000, "expiredUrl": "https://example.com/over"}),
    );
    assert_eq!(
        location(&file("old-card-moved")),
        "https://example.com/over"
    );
    card(
        "old-locked-card",
        json!({"expiryDate": 1000, "password": "sesame"}),
    );
    assert_eq!(post("old-locked-card/contact.vcf", "sesame").status(), 410);

    // A download is not a scan: it neither counts nor opens a used-up code.
    card(
        "one-scan-card",
        json!({"maxScans": 1, "maxScansUrl": "https://example.com/sold-out"}),
    );
    assert!(is_card(&file("one-scan-card").text().unwrap()));
    assert_eq!(edge.get("one-scan-card", &[]).status(), 200, "the one scan");
    assert_eq!(
        location(&file("one-scan-card")),
        "https://example.com/sold-out"
    );

    let deleted = card("deleted-card", json!({}));
    let path = format!("/api/qrs-api/{}", deleted["id"].as_str().unwrap());
    assert_eq!(api.call(Method::DELETE, &path, None).0, 200);
    let deadline = std::time::Instant::now() + std::time::Duration::from_secs(2);
    while file("deleted-card").status() != 404 {
        assert!(
            std::time::Instant::now() < deadline,
            "the deleted card's file is gone"
        );
        std::thread::sleep(std::time::Duration::from_millis(10));
    }
}

#[test]
fn multi_locale_and_app_download_redirect_per_visitor() {
    let (_tmp, data) = support::data_dir();
    let server = Server::start(&data);
    server.create_served(json!({"qrType": "MULTI_LOCALE", "displayId": "lang",
               "settings": {"urls": {"en": "https://en.example/", "de": "https://de.example/",
                                     "fr-CA": "https://fr-ca.example/"},
                            "defaultUrl": "https://www.example/"}}));
    for (accept, expected) in [
        ("de-AT,de;q=0.9,en;q=0.8", "https://de.example/"),
        ("en-GB,en;q=0.9", "https://en.example/"),
        ("fr-CA", "https://fr-ca.example/"),
        ("ja", "https://www.example/"),
        ("", "https://www.example/"),
    ] {
        let response = server.get("lang", &[("accept-language", accept)]);
        assert_eq!(response.status(), 302);
        assert_eq!(response.headers()["location"], expected, "{accept:?}");
    }

    server.create_served(json!({"qrType": "APP_DOWNLOAD", "displayId": "app",
               "settings": {"iosUrl": "https://apps.apple.com/app/id123",
                            "androidUrl": "https://play.google.com/store/apps/details?id=com.acme",
                            "appName": "Acme"}}));
    let ios = server.get("app", &[("user-agent", IPHONE_SAFARI)]);
    assert_eq!(
        ios.headers()["location"],
        "https://apps.apple.com/app/id123"
    );
    let android = server.get("app", &[("user-agent", ANDROID)]);
    assert_eq!(
        android.headers()["location"],
        "https://play.google.com/store/apps/details?id=com.acme"
    );
    let desktop = server.get("app", &[("user-agent", MAC_SAFARI)]);
    assert_eq!(desktop.status(), 200, "the store-buttons page for the rest");
    let html = desktop.text().unwrap();
    assert!(
        html.contains("apps.apple.com") && html.contains("play.google.com"),
        "{html}"
    );
}
