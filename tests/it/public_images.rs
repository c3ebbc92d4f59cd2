//! A code's `qrImageUrl` works without credentials (an `<img src>`, a print shop), on either
//! store: its images decode (zbar) to the code's short URL; a wrong key, another code's, a
//! revoked one, an unknown or deleted code are 404; renewing the URL revokes the old one; the
//! platform's secret is kept in the store (a restart, or another API process, signs alike); each
//! client address has its own limit, outside the teams'.

use std::time::Duration;

use crate::support::topology::Topology;
use crate::support::zbar::decode;
use crate::support::{json_of, Launch, Server};
use reqwest::blocking::Response;
use reqwest::Method;
use serde_json::{json, Value};

/// A GET with no credentials at all, optionally through a proxy that names the client.
fn fetch(server: &Server, url: &str, forwarded_for: Option<&str>) -> Response {
    let mut request = server.client.get(url);
    if let Some(client) = forwarded_for {
        request = request.header("x-forwarded-for", client);
    }
    request.send().expect("the API answers")
}

fn web_code(server: &Server) -> Value {
    server.create_qr(json!({"qrType": "WEB", "qrRedirectUrl": "https://example.com/print"}))
}

fn image_url(qr: &Value) -> String {
    qr["qrImageUrl"].as_str().unwrap().to_owned()
}

/// The answer is "no such image", in the error envelope.
fn assert_no_such_image(response: Response, what: &str) {
    let (status, body) = json_of(response);
    assert_eq!(status, 404, "{what}: {body}");
    assert_eq!(body["success"], false, "{what}");
    assert_eq!(body["message"], "no such image", "{what}");
}

/// The PNG at a public URL (`.svg` swapped for `.png`), decoded.
fn decoded(server: &Server, svg_url: &str, query: &str) -> String {
    let url = format!("{}.png{query}", svg_url.strip_suffix(".svg").unwrap());
    let response = fetch(server, &url, None);
    assert_eq!(response.status(), 200, "{url}");
    assert_eq!(response.headers()["content-type"], "image/png");
    decode(&response.bytes().unwrap())
}

fn images_without_credentials(server: &Server) {
    let qr = web_code(server);
    let (id, short_url) = (qr["id"].as_str().unwrap(), qr["shortUrl"].as_str().unwrap());
    let url = image_url(&qr);
    let key = url
        .strip_prefix(&format!("{}/images/{id}/", server.api))
        .and_then(|file| file.strip_suffix(".svg"))
        .unwrap_or_else(|| panic!("{url} is the API's /images/{id}/KEY.svg"));
    assert_eq!(key.len(), 22, "128 bits, base64url: {key}");
    assert!(key
        .bytes()
        .all(|b| b.is_ascii_alphanumeric() || b == b'-' || b == b'_'));

    // The SVG, as an <img src> gets it: the same image the credentials get, cacheable, inert.
    let response = fetch(server, &url, None);
    assert_eq!(response.status(), 200);
    let headers = response.headers().clone();
    assert_eq!(headers["content-type"], "image/svg+xml");
    assert_eq!(headers["cache-control"], "public, max-age=300");
    assert_eq!(headers["x-content-type-options"], "nosniff");
    assert!(headers["content-security-policy"]
        .to_str()
        .unwrap()
        .starts_with("default-src 'none'"));
    assert!(
        !headers.contains_key("x-ratelimit-limit"),
        "not a team's request"
    );
    let svg = response.text().unwrap();
    let (status, _) = server.call(Method::GET, &format!("/api/qrs-api/{id}"), None);
    assert_eq!(status, 200);
    let with_credentials = server
        .client
        .get(format!("{}/api/qrs-api/{id}/image.svg", server.api))
        .header("x-request-team-id", &server.credentials.team_id)
        .header("x-request-client-id", &server.credentials.client_id)
        .header("x-request-client-secret", &server.credentials.client_secret)
        .send()
        .unwrap()
        .text()
        .unwrap();
    assert_eq!(svg, with_credentials);
    // The PNG scans to the code's short URL, at the sizes asked.
    assert_eq!(decoded(server, &url, ""), short_url);
    assert_eq!(
        decoded(server, &url, "?size=512&errorCorrection=H"),
        short_url
    );
    let (status, body) = json_of(fetch(server, &format!("{url}?size=10"), None));
    assert_eq!((status, &body["success"]), (400, &json!(false)), "{body}");

    // Nothing else answers: a changed key, another code's key, an unknown code, another format.
    let other = web_code(server);
    let other_url = image_url(&other);
    let other_key = other_url.rsplit('/').next().unwrap();
    let mut changed = key.to_owned();
    changed.replace_range(0..1, if key.starts_with('A') { "B" } else { "A" });
    for (bad, what) in [
        (url.replace(key, &changed), "a changed key"),
        (
            format!("{}/images/{id}/{other_key}", server.api),
            "another code's key",
        ),
        (url.replace(id, "qr_unknown"), "an unknown code"),
        (url.replace(".svg", ".gif"), "another format"),
        (url.replace(".svg", ""), "no format"),
        (url.replace(key, &key[..21]), "a cut key"),
    ] {
        assert_no_such_image(fetch(server, &bad, None), what);
    }
    assert_eq!(fetch(server, &other_url, None).status(), 200);

    // Renewing revokes: the old URL is 404 at once, the new one works, the code says so.
    let renew = format!("/api/qrs-api/{id}/image-url");
    let (status, renewed) = server.call(Method::POST, &renew, None);
    assert_eq!(status, 200, "{renewed}");
    let new_url = image_url(&renewed["data"]);
    assert_ne!(new_url, url);
    assert!(renewed["data"]["updatedAt"].as_i64() > qr["updatedAt"].as_i64());
    assert_eq!(renewed["data"].get("imageUrlGeneration"), None, "not shown");
    assert_no_such_image(fetch(server, &url, None), "the revoked URL");
    assert_eq!(decoded(server, &new_url, ""), short_url);
    let (_, again) = server.call(Method::GET, &format!("/api/qrs-api/{id}"), None);
    assert_eq!(image_url(&again["data"]), new_url);
    assert_eq!(
        fetch(server, &other_url, None).status(),
        200,
        "other codes keep theirs"
    );

    // Another team cannot renew this team's code; a deleted code has no image and no renewal.
    let (status, team) = server.call(Method::POST, "/api/teams-api", Some(json!({"name": "T2"})));
    assert_eq!(status, 201, "{team}");
    let team2 = team["data"]["id"].as_str().unwrap();
    let (status, body) = server.call_as(&server.credentials, team2, Method::POST, &renew, None);
    assert_eq!(status, 404, "{body}");
    assert_eq!(fetch(server, &new_url, None).status(), 200, "unchanged");
    let (status, _) = server.call(Method::DELETE, &format!("/api/qrs-api/{id}"), None);
    assert_eq!(status, 200);
    assert_no_such_image(fetch(server, &new_url, None), "a deleted code");
    let (status, body) = server.call(Method::POST, &renew, None);
    assert_eq!(status, 409, "{body}");

    // Viewers read codes but do not renew their URLs.
    let (status, body) = server.call(
        Method::POST,
        &format!("/api/teams-api/{}/members", server.credentials.team_id),
        Some(json!({"name": "Vi", "email": "viewer@example.com", "role": "viewer"})),
    );
    assert_eq!(status, 200, "{body}");
    let (status, key) = server.call(
        Method::POST,
        "/api/keys-api",
        Some(json!({"name": "viewer", "scopes": ["codes:read"], "memberEmail": "viewer@example.com"})),
    );
    assert_eq!(status, 201, "{key}");
    let other_id = other["id"].as_str().unwrap();
    let response = server
        .client
        .post(format!("{}/api/qrs-api/{other_id}/image-url", server.api))
        .header("x-request-team-id", &server.credentials.team_id)
        .header(
            "authorization",
            format!("Bearer {}", key["data"]["token"].as_str().unwrap()),
        )
        .send()
        .unwrap();
    assert_eq!(response.status(), 403);
    assert_eq!(fetch(server, &other_url, None).status(), 200, "unchanged");
}

/// At most 5 image requests a minute per client address, the API's own loopback proxy trusted
/// to name the client.
const LIMITED: &str =
    "[api]\nimage_requests_per_minute = 5\ntrusted_proxies = [\"127.0.0.1/32\"]\n";

/// The limit is per client address (an IPv6 client's /64 is one), outside the teams' limits.
fn limited_per_client(server: &Server, url: &str) {
    // The count is per calendar minute: start with most of one ahead.
    let second = qredge::clock::now_ms() / 1000 % 60;
    if second > 45 {
        std::thread::sleep(Duration::from_secs(61 - second as u64));
    }
    for client in ["198.51.100.1", "2001:db8:1:2::1"] {
        for n in 0..5 {
            assert_eq!(
                fetch(server, url, Some(client)).status(),
                200,
                "{client} #{n}"
            );
        }
    }
    for client in ["198.51.100.1", "2001:db8:1:2::ffff"] {
        let refused = fetch(server, url, Some(client));
        assert_eq!(refused.status(), 429, "{client}");
        let wait: u64 = refused.headers()["retry-after"]
            .to_str()
            .unwrap()
            .parse()
            .unwrap();
        assert!((1..=60).contains(&wait), "{wait}");
        let (_, body) = json_of(refused);
        assert!(body["message"]
            .as_str()
            .unwrap()
            .contains("5 image requests a minute"));
    }
    for client in ["198.51.100.2", "2001:db8:1:3::1"] {
        assert_eq!(
            fetch(server, url, Some(client)).status(),
            200,
            "{client}: its own count"
        );
    }
    // The team's own requests are counted apart.
    let (status, _) = server.call(Method::GET, "/api/qrs-api", None);
    assert_eq!(status, 200);
}

#[test]
fn images_are_public_at_an_unguessable_url_embedded() {
    let (_guard, data) = crate::support::data_dir();
    let server = Server::start(&data);
    images_without_credentials(&server);
    let kept = web_code(&server);
    let first_api = server.api.clone();
    server.stop();
    // The secret is the store's: after a restart the same URL (on the new port) is given.
    let server = Launch::new(&data).config(LIMITED).start();
    let (_, again) = server.call(
        Method::GET,
        &format!("/api/qrs-api/{}", kept["id"].as_str().unwrap()),
        None,
    );
    let url = image_url(&again["data"]);
    assert_eq!(url, image_url(&kept).replace(&first_api, &server.api));
    limited_per_client(&server, &url);
}

#[test]
fn images_are_public_at_an_unguessable_url_on_redis() {
    let topology = Topology::new();
    let server = topology.start("api", "api");
    images_without_credentials(&server);
    let kept = web_code(&server);
    // A second API process on the same store signs alike.
    let mut second = Launch::new(&topology.root().join("api-2"))
        .role("api")
        .config(&format!("{}{LIMITED}", topology.config))
        .start();
    second.credentials = server.credentials.clone();
    let (_, again) = second.call(
        Method::GET,
        &format!("/api/qrs-api/{}", kept["id"].as_str().unwrap()),
        None,
    );
    assert_eq!(
        image_url(&again["data"]),
        image_url(&kept).replace(&server.api, &second.api)
    );
    limited_per_client(&second, &image_url(&again["data"]));
}
