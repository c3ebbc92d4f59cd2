//! Custom domains: the team's domains through the API, one code space per domain (the same
//! displayId on two domains), the root / unknown / expired fallbacks per domain, orphan scans
//! of unknown codes, and one team's domain refused to another.

use crate::support;
use crate::support::topology::Topology;
use crate::support::{location, Launch, Server, IPHONE_SAFARI};
use reqwest::Method;
use serde_json::{json, Value};

fn on_host(server: &Server, host: &str, path: &str) -> reqwest::blocking::Response {
    server
        .client
        .get(format!("{}/{path}", server.edge))
        .header("host", host)
        .header("user-agent", IPHONE_SAFARI)
        .send()
        .expect("the edge answers")
}

/// Polls until the edge answers `path` on `host` with `status` (it follows changes
/// asynchronously), and returns that answer.
fn answered(server: &Server, host: &str, path: &str, status: u16) -> reqwest::blocking::Response {
    let deadline = std::time::Instant::now() + std::time::Duration::from_secs(2);
    loop {
        let response = on_host(server, host, path);
        if response.status() == status || std::time::Instant::now() > deadline {
            assert_eq!(response.status(), status, "{host}/{path}");
            return response;
        }
        std::thread::sleep(std::time::Duration::from_millis(5));
    }
}

/// Waits (up to 2 s) for `host/path` to redirect to `target`: an edge that does not know the code
/// yet may redirect too (to the domain's not-found URL).
fn redirects_to(server: &Server, host: &str, path: &str, target: &str) {
    let deadline = std::time::Instant::now() + std::time::Duration::from_secs(2);
    loop {
        let response = on_host(server, host, path);
        let at = location(&response);
        if (response.status() == 302 && at == target) || std::time::Instant::now() > deadline {
            assert_eq!(
                (response.status().as_u16(), at.as_str()),
                (302, target),
                "{host}/{path}"
            );
            return;
        }
        std::thread::sleep(std::time::Duration::from_millis(5));
    }
}

fn set_domains(server: &Server, body: Value) -> (u16, Value) {
    let path = format!("/api/teams-api/{}/domains", server.credentials.team_id);
    server.call(Method::PUT, &path, Some(body))
}

#[test]
fn each_custom_domain_has_its_own_codes_and_fallbacks() {
    let (_tmp, data) = support::data_dir();
    let server = Server::start(&data);
    let platform = server.edge.trim_start_matches("http://").to_owned();

    let (status, body) = set_domains(
        &server,
        json!({"defaultDomain": "QR.Acme.Test", "domains": [platform, "qr.acme.test", "promo.acme.test"],
               "domainSettings": {
                   "qr.acme.test": {"rootUrl": "https://acme.example/",
                                     "notFoundUrl": "https://acme.example/missing"},
                   "promo.acme.test": {"expiredUrl": "https://acme.example/over"}}}),
    );
    assert_eq!(status, 200, "{body}");
    assert_eq!(body["data"]["defaultDomain"], "qr.acme.test");

    // Created without a baseUrl, a code goes on the team's default domain.
    let on_default = server.create_qr(
        json!({"qrType": "WEB", "displayId": "same", "qrRedirectUrl": "https://one.example/"}),
    );
    assert_eq!(on_default["shortUrl"], "https://qr.acme.test/same");
    let on_promo = server.create_qr(
        json!({"qrType": "WEB", "displayId": "same", "qrRedirectUrl": "https://two.example/",
                                           "baseUrl": "https://promo.acme.test/"}),
    );
    assert_eq!(on_promo["shortUrl"], "https://promo.acme.test/same");
    let (status, body) = server.call(
        Method::POST,
        "/api/qrs-api",
        Some(
            json!({"qrType": "WEB", "displayId": "same", "qrRedirectUrl": "https://three.example/",
                    "baseUrl": "https://promo.acme.test/"}),
        ),
    );
    assert_eq!(status, 409, "one displayId per domain: {body}");

    redirects_to(&server, "qr.acme.test", "same", "https://one.example/");
    redirects_to(
        &server,
        "promo.acme.test:8443",
        "same",
        "https://two.example/",
    );
    assert_eq!(
        on_host(&server, &platform, "same").status(),
        404,
        "not on the platform's domain"
    );

    // Root and unknown codes: the domain's redirects, or the branded pages.
    assert_eq!(
        location(&answered(&server, "qr.acme.test", "", 302)),
        "https://acme.example/"
    );
    assert_eq!(
        location(&answered(&server, "qr.acme.test", "nope", 302)),
        "https://acme.example/missing"
    );
    let page = answered(&server, "promo.acme.test", "nope", 404);
    assert!(page.headers()["content-type"]
        .to_str()
        .unwrap()
        .starts_with("text/html"));
    assert_eq!(answered(&server, "promo.acme.test", "", 404).status(), 404);

    // Expired codes on promo go to its expiredUrl.
    server.create_qr(
        json!({"qrType": "WEB", "displayId": "old", "qrRedirectUrl": "https://two.example/",
                            "baseUrl": "https://promo.acme.test/", "expiryDate": 1000}),
    );
    assert_eq!(
        location(&answered(&server, "promo.acme.test", "old", 302)),
        "https://acme.example/over"
    );

    // Scans of unknown codes on the team's domains are kept as its orphan scans.
    for _ in 0..2 {
        on_host(&server, "promo.acme.test", "typo");
    }
    let deadline = std::time::Instant::now() + std::time::Duration::from_secs(10);
    loop {
        let (status, body) = server.call(Method::GET, "/api/analytics-api/orphans", None);
        assert_eq!(status, 200, "{body}");
        let typos = body["data"]["events"]
            .as_array()
            .unwrap()
            .iter()
            .filter(|e| e["displayId"] == "typo" && e["orphan"] == true && e["qrId"] == "")
            .count();
        if typos == 2 && body["data"]["totalScans"].as_u64() >= Some(3) {
            break;
        }
        assert!(
            std::time::Instant::now() < deadline,
            "orphans recorded: {body}"
        );
        std::thread::sleep(std::time::Duration::from_millis(50));
    }

    // A domain with live codes cannot be dropped; bad names and targets are refused.
    let (status, body) = set_domains(
        &server,
        json!({"defaultDomain": "qr.acme.test", "domains": ["qr.acme.test"]}),
    );
    assert_eq!(status, 409, "{body}");
    assert!(body["message"]
        .as_str()
        .unwrap()
        .contains("promo.acme.test"));
    for (bad, words) in [
        (
            json!({"defaultDomain": "qr.acme.test", "domains": ["https://qr.acme.test/"]}),
            "not a domain name",
        ),
        (
            json!({"defaultDomain": "elsewhere.test", "domains": ["qr.acme.test"]}),
            "must be one of domains",
        ),
        (
            json!({"defaultDomain": "qr.acme.test", "domains": ["qr.acme.test"],
                "domainSettings": {"qr.acme.test": {"rootUrl": "javascript:alert(1)"}}}),
            "http or https",
        ),
        (json!({"defaultDomain": "qr.acme.test"}), "domains"),
    ] {
        let (status, body) = set_domains(&server, bad.clone());
        assert_eq!(status, 400, "{bad}: {body}");
        let message = body["message"].as_str().unwrap_or_default();
        assert!(message.contains(words), "{bad}: {message}");
    }
}

#[test]
fn only_the_callers_own_team_domains_can_be_changed() {
    let (_tmp, data) = support::data_dir();
    let server = Server::start(&data);
    let (status, body) = set_domains(
        &server,
        json!({"defaultDomain": "qr.acme.test", "domains": ["qr.acme.test"]}),
    );
    assert_eq!(status, 200, "{body}");
    let other = "/api/teams-api/team_other/domains";
    let (status, _) = server.call(
        Method::PUT,
        other,
        Some(json!({"defaultDomain": "x.test", "domains": ["x.test"]})),
    );
    assert_eq!(status, 403);
}

#[test]
fn domains_and_hosted_pages_reach_separate_edges_through_redis() {
    let topology = Topology::new();
    let api = topology.start("api", "api");
    let edge = topology.start("edge", "edge");
    let _aggregator = topology.start("aggregator", "aggregator");

    let (status, body) = set_domains(
        &api,
        json!({"defaultDomain": "qr.acme.test", "domains": ["qr.acme.test"],
               "domainSettings": {"qr.acme.test": {"notFoundUrl": "https://acme.example/missing"}}}),
    );
    assert_eq!(status, 200, "{body}");
    let team = format!("/api/teams-api/{}", api.credentials.team_id);
    let (status, _) = api.call(Method::PUT, &team, Some(json!({"primaryColor": "#abcdef"})));
    assert_eq!(status, 200);
    api.create_qr(
        json!({"qrType": "WEB", "displayId": "same", "qrRedirectUrl": "https://one.example/"}),
    );
    api.create_qr(
        json!({"qrType": "COUPON_CODE", "displayId": "deal", "settings": {"code": "SAVE10"}}),
    );

    redirects_to(&edge, "qr.acme.test", "same", "https://one.example/");
    assert_eq!(
        on_host(&edge, "localhost", "same").status(),
        404,
        "only on its domain"
    );
    let page = answered(&edge, "qr.acme.test", "deal", 200).text().unwrap();
    assert!(
        page.contains("SAVE10") && page.contains("#abcdef"),
        "{page}"
    );
    assert_eq!(
        location(&answered(&edge, "qr.acme.test", "typo", 302)),
        "https://acme.example/missing"
    );

    // A scan limit holds on an edge of its own too.
    api.create_qr(
        json!({"qrType": "WEB", "displayId": "two", "qrRedirectUrl": "https://one.example/",
                         "settings": {"maxScans": 2, "maxScansUrl": "https://sold-out.example/"}}),
    );
    // Polled with HEAD, which is not a scan (a GET of a code not there yet is a 302 too).
    let deadline = std::time::Instant::now() + std::time::Duration::from_secs(2);
    loop {
        let probe = edge
            .client
            .head(format!("{}/two", edge.edge))
            .header("host", "qr.acme.test")
            .send()
            .unwrap();
        if location(&probe) == "https://one.example/" {
            break;
        }
        assert!(std::time::Instant::now() < deadline, "two served");
        std::thread::sleep(std::time::Duration::from_millis(5));
    }
    let targets: Vec<String> = (0..3)
        .map(|_| location(&on_host(&edge, "qr.acme.test", "two")))
        .collect();
    assert_eq!(
        targets,
        [
            "https://one.example/",
            "https://one.example/",
            "https://sold-out.example/"
        ]
    );

    // A new colour: the edge renders the page again from the change stream.
    let (status, _) = api.call(Method::PUT, &team, Some(json!({"primaryColor": "#123456"})));
    assert_eq!(status, 200);
    let deadline = std::time::Instant::now() + std::time::Duration::from_secs(2);
    while !on_host(&edge, "qr.acme.test", "deal")
        .text()
        .unwrap()
        .contains("#123456")
    {
        assert!(
            std::time::Instant::now() < deadline,
            "the page takes the new colour"
        );
        std::thread::sleep(std::time::Duration::from_millis(10));
    }

    // The orphan scan went through Kafka and the aggregator into the team's orphan counts.
    let deadline = std::time::Instant::now() + std::time::Duration::from_secs(30);
    loop {
        let (_, body) = api.call(Method::GET, "/api/analytics-api/orphans", None);
        if body["data"]["totalScans"].as_u64() >= Some(1) {
            let events = body["data"]["events"].as_array().unwrap();
            assert!(
                events
                    .iter()
                    .any(|e| e["displayId"] == "typo" && e["head"] == false),
                "{body}"
            );
            break;
        }
        assert!(
            std::time::Instant::now() < deadline,
            "orphan counted: {body}"
        );
        std::thread::sleep(std::time::Duration::from_millis(100));
    }
}

/// At most 5 orphan scans per domain and second in full, then one in 10.
const ORPHAN_RATE: &str = "[edge]\norphans_per_second = 5\norphans_sample_one_in = 10\n";

#[test]
fn orphan_scans_past_a_domains_rate_are_sampled_and_counted_on_both_stores() {
    let (_tmp, data) = support::data_dir();
    let server = Launch::new(&data).config(ORPHAN_RATE).start();
    orphans_are_bounded(&server, &server);
    let mut topology = Topology::new();
    topology.config.push_str(ORPHAN_RATE);
    let (api, edge) = (topology.start("api", "api"), topology.start("edge", "edge"));
    let _aggregator = topology.start("aggregator", "aggregator");
    orphans_are_bounded(&api, &edge);
}

/// A burst of scans of unknown codes on a custom domain: what is recorded stays within the
/// domain's rate (and its samples), and every scan is either recorded or counted as unrecorded.
fn orphans_are_bounded(api: &Server, edge: &Server) {
    let (status, body) = set_domains(
        api,
        json!({"defaultDomain": "qr.acme.test", "domains": ["qr.acme.test"]}),
    );
    assert_eq!(status, 200, "{body}");
    api.create_qr(
        json!({"qrType": "WEB", "displayId": "known", "qrRedirectUrl": "https://one.example/"}),
    );
    // Polled until known, the code was an orphan too: the burst is counted from here, in a
    // second of its own.
    redirects_to(edge, "qr.acme.test", "known", "https://one.example/");
    let outcome = |name: &str| {
        edge.metric(&format!(
            "qredge_edge_orphan_scans_total{{outcome=\"{name}\"}}"
        )) as u64
    };
    let before = ["recorded", "sampled", "unrecorded"].map(outcome);
    std::thread::sleep(std::time::Duration::from_millis(1100));

    const SENT: u64 = 300;
    let started = std::time::Instant::now();
    for i in 0..SENT {
        assert_eq!(
            on_host(edge, "qr.acme.test", &format!("typo-{i}")).status(),
            404
        );
    }
    // The burst touched at most this many distinct seconds.
    let seconds = started.elapsed().as_secs() + 2;
    let after = ["recorded", "sampled", "unrecorded"].map(outcome);
    let [recorded, sampled, unrecorded] = [0, 1, 2].map(|i| after[i] - before[i]);
    assert_eq!(
        recorded + sampled + unrecorded,
        SENT,
        "every orphan scan is counted"
    );
    assert!(
        (5..=5 * seconds).contains(&recorded),
        "{recorded} in {seconds} s"
    );
    assert!(
        sampled <= (SENT - recorded) / 10 + seconds,
        "{sampled} sampled"
    );
    assert!(unrecorded > 0, "a burst of {SENT} exceeds 5 a second");

    // The team's orphan analytics hold exactly what was recorded.
    let kept = after[0] + after[1];
    let deadline = std::time::Instant::now() + std::time::Duration::from_secs(30);
    loop {
        let (status, body) = api.call(Method::GET, "/api/analytics-api/orphans", None);
        assert_eq!(status, 200, "{body}");
        let total = body["data"]["totalScans"].as_u64().unwrap_or_default();
        assert!(
            total <= kept,
            "{total} orphan scans stored, {kept} recorded: {body}"
        );
        if total == kept {
            break;
        }
        assert!(
            std::time::Instant::now() < deadline,
            "{total} of {kept} recorded orphans stored"
        );
        std::thread::sleep(std::time::Duration::from_millis(100));
    }
}
