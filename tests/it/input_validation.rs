//! Outside names and input in one form everywhere (issue 13): a host name is one name however it
//! is spelt (case, trailing dot, port, IDN), so no team claims the platform's host, and the edge
//! finds a custom domain by any spelling; displayIds, names, redirect targets, baseUrl and
//! unknown fields are checked as they are stored. Each on the embedded store and on Redis.

use std::time::{Duration, Instant};

use reqwest::blocking::Response;
use reqwest::Method;
use serde_json::{json, Value};

use crate::support::topology::{shared_redis, Topology};
use crate::support::{data_dir, json_of, location, Credentials, Launch, Server, IPHONE_SAFARI};

/// The edge's public host in these tests: the platform's own domain.
const PLATFORM: &str = "qr.platform.test";

/// An API and an edge: one `qredge serve` on the embedded store, or `qredge api` and `qredge
/// edge` on Redis.
struct Setup {
    api: Server,
    edge: Option<Server>,
    topology: Option<Topology>,
    _tmp: Option<tempfile::TempDir>,
}

impl Setup {
    fn embedded() -> Setup {
        let (tmp, data) = data_dir();
        Setup {
            api: embedded_server(&data),
            edge: None,
            topology: None,
            _tmp: Some(tmp),
        }
    }

    fn on_redis() -> Setup {
        let mut topology = Topology::new();
        topology
            .config
            .push_str(&format!("[edge]\npublic_url = \"http://{PLATFORM}/\"\n"));
        Setup {
            api: topology.start("api", "api"),
            edge: Some(topology.start("edge", "edge")),
            topology: Some(topology),
            _tmp: None,
        }
    }

    fn edge(&self) -> &Server {
        self.edge.as_ref().unwrap_or(&self.api)
    }
}

fn embedded_server(data: &std::path::Path) -> Server {
    Launch::new(data)
        .env("QREDGE_EDGE_PUBLIC_URL", &format!("http://{PLATFORM}/"))
        .start()
}

/// The edge's answer to `GET /{path}` with `Host: host`.
fn on_host(edge: &Server, host: &str, path: &str) -> Response {
    edge.client
        .get(format!("{}/{path}", edge.edge))
        .header("host", host)
        .header("user-agent", IPHONE_SAFARI)
        .send()
        .expect("the edge answers")
}

/// Waits (up to 5 s: the edge follows changes asynchronously) until `host/path` answers `status`
/// with `Location: target` (None: no Location).
fn edge_answers(edge: &Server, host: &str, path: &str, status: u16, target: Option<&str>) {
    let deadline = Instant::now() + Duration::from_secs(5);
    loop {
        let response = on_host(edge, host, path);
        let at = response
            .headers()
            .get("location")
            .map(|_| location(&response));
        let got = (response.status().as_u16(), at.as_deref());
        if got == (status, target) || Instant::now() > deadline {
            assert_eq!(got, (status, target), "{host}/{path}");
            return;
        }
        std::thread::sleep(Duration::from_millis(10));
    }
}

fn assert_refused(answer: &(u16, Value), status: u16, words: &str) {
    let (got, body) = answer;
    assert_eq!(*got, status, "{body}");
    assert_eq!(body["success"], false, "{body}");
    let message = body["message"].as_str().unwrap_or_default();
    assert!(message.contains(words), "{message:?} should say {words:?}");
}

/// A second team of the bootstrap owner's organization (they are its owner, so its admin too).
fn other_team(api: &Server, name: &str) -> String {
    let (status, body) = api.call(Method::POST, "/api/teams-api", Some(json!({"name": name})));
    assert_eq!(status, 201, "{body}");
    body["data"]["id"].as_str().unwrap().to_owned()
}

fn set_domains(api: &Server, team_id: &str, body: Value) -> (u16, Value) {
    let path = format!("/api/teams-api/{team_id}/domains");
    api.call_as(&api.credentials, team_id, Method::PUT, &path, Some(body))
}

fn team(api: &Server, team_id: &str) -> Value {
    let path = format!("/api/teams-api/{team_id}");
    let (status, body) = api.call_as(&api.credentials, team_id, Method::GET, &path, None);
    assert_eq!(status, 200, "{body}");
    body["data"].clone()
}

fn code_count(api: &Server) -> u64 {
    let (_, body) = api.call(Method::GET, "/api/qrs-api?limit=1", None);
    body["data"]["totalCount"].as_u64().unwrap()
}

fn web(display_id: &str, url: &str) -> Value {
    json!({"qrType": "WEB", "displayId": display_id, "qrRedirectUrl": url})
}

// --- 1. The platform's host is no team's custom domain -------------------------------------

/// A second team lists the platform's host in every spelling: it stays the platform's (shared)
/// domain, never the team's custom one, and the edge keeps answering the first team's code on
/// it. The platform's other hosts are refused outright.
fn no_spelling_of_the_platforms_host_is_claimed(setup: &Setup) {
    let api = &setup.api;
    api.create_qr(web("victim", "https://victim.example/"));
    let attacker = other_team(api, "Attacker");

    let answer = set_domains(
        api,
        &attacker,
        json!({"defaultDomain": "qr.platform.test.", "domains": ["qr.platform.test."],
               "domainSettings": {"qr.platform.test.": {"notFoundUrl": "https://attacker.example/"}}}),
    );
    assert_refused(&answer, 400, "not one of the custom domains");
    for spelling in [
        "qr.platform.test.",
        "QR.Platform.TEST",
        "qr.platform.test:443",
        "qr.platform.test.:8080",
    ] {
        let (status, body) = set_domains(
            api,
            &attacker,
            json!({"defaultDomain": spelling, "domains": [spelling]}),
        );
        assert_eq!(status, 200, "{spelling}: {body}");
        assert_eq!(body["data"]["domains"], json!([PLATFORM]), "{spelling}");
        assert_eq!(body["data"]["defaultDomain"], PLATFORM, "{spelling}");
        assert_eq!(
            body["data"]["domainSettings"],
            Value::Null,
            "no custom domain"
        );
    }
    for host in [
        "localhost",
        "app.localhost",
        "127.0.0.1",
        "0x7f.0.0.1",
        "[::1]",
        "10.1.2.3",
        "login.qr.platform.test",
        "A.B.QR.PLATFORM.TEST.",
    ] {
        let answer = set_domains(
            api,
            &attacker,
            json!({"defaultDomain": host, "domains": [host]}),
        );
        assert_refused(&answer, 400, "not a custom domain");
    }

    // Printed with the platform's host in any spelling, a code lives in the shared code space.
    let (status, body) = api.call_as(
        &api.credentials,
        &attacker,
        Method::POST,
        "/api/qrs-api",
        Some(json!({"qrType": "WEB", "displayId": "victim", "qrRedirectUrl": "https://attacker.example/",
                    "baseUrl": "https://QR.PLATFORM.TEST./"})),
    );
    assert_refused(&(status, body), 409, "already in use");
    for host in [PLATFORM, "qr.platform.test.", "QR.Platform.Test.:80"] {
        edge_answers(
            setup.edge(),
            host,
            "victim",
            302,
            Some("https://victim.example/"),
        );
        edge_answers(setup.edge(), host, "nothing-here", 404, None);
    }
}

#[test]
fn no_spelling_of_the_platforms_host_is_claimed_embedded() {
    no_spelling_of_the_platforms_host_is_claimed(&Setup::embedded());
}

#[test]
fn no_spelling_of_the_platforms_host_is_claimed_on_redis() {
    no_spelling_of_the_platforms_host_is_claimed(&Setup::on_redis());
}

// --- A custom domain is one name however it is spelt -----------------------------------------

fn custom_domains_are_kept_in_one_form(setup: &Setup) {
    let api = &setup.api;
    let own = api.credentials.team_id.clone();
    let (status, body) = set_domains(
        api,
        &own,
        json!({"defaultDomain": "Promo.Acme.Test.",
               "domains": [PLATFORM, "PROMO.acme.test.:8443", "bücher.acme.test", "promo.acme.test"],
               "domainSettings": {"promo.ACME.test": {"notFoundUrl": "https://acme.example/missing"}}}),
    );
    assert_eq!(status, 200, "{body}");
    let data = &body["data"];
    assert_eq!(
        data["domains"],
        json!([PLATFORM, "promo.acme.test", "xn--bcher-kva.acme.test"])
    );
    assert_eq!(data["defaultDomain"], "promo.acme.test");
    assert_eq!(
        data["domainSettings"]["promo.acme.test"]["notFoundUrl"],
        "https://acme.example/missing"
    );

    // Another team cannot have them under another spelling.
    let other = other_team(api, "Other");
    for spelling in [
        "PROMO.ACME.TEST.",
        "xn--bcher-kva.acme.test",
        "BÜCHER.acme.test:80",
    ] {
        let answer = set_domains(
            api,
            &other,
            json!({"defaultDomain": spelling, "domains": [spelling]}),
        );
        assert_refused(&answer, 409, "acme.test");
    }

    let deal = api.create_qr(web("deal", "https://acme.example/deal"));
    assert_eq!(deal["shortUrl"], "https://promo.acme.test/deal");
    let book = api.create_qr(json!({"qrType": "WEB", "displayId": "book",
        "qrRedirectUrl": "https://acme.example/book", "baseUrl": "https://BÜCHER.acme.test./"}));
    assert_eq!(book["baseUrl"], "https://xn--bcher-kva.acme.test/");
    assert_eq!(book["shortUrl"], "https://xn--bcher-kva.acme.test/book");

    let edge = setup.edge();
    for host in [
        "promo.acme.test",
        "PROMO.ACME.TEST.",
        "Promo.Acme.Test.:8443",
    ] {
        edge_answers(edge, host, "deal", 302, Some("https://acme.example/deal"));
        edge_answers(
            edge,
            host,
            "nope",
            302,
            Some("https://acme.example/missing"),
        );
    }
    edge_answers(
        edge,
        "XN--BCHER-KVA.acme.test.",
        "book",
        302,
        Some("https://acme.example/book"),
    );
    edge_answers(edge, PLATFORM, "deal", 404, None);
}

#[test]
fn custom_domains_are_kept_in_one_form_embedded() {
    custom_domains_are_kept_in_one_form(&Setup::embedded());
}

#[test]
fn custom_domains_are_kept_in_one_form_on_redis() {
    custom_domains_are_kept_in_one_form(&Setup::on_redis());
}

// --- A claim an older version stored is released at start --------------------------------------

/// `team` as an older version let it be stored: the platform's host as its custom domain, with
/// the fallbacks that took over every other team's codes on it.
fn with_platform_claim(mut team: qredge::model::Team) -> qredge::model::Team {
    let settings = qredge::model::DomainSettings {
        not_found_url: Some("https://attacker.example/".into()),
        ..Default::default()
    };
    team.domain_settings = [(PLATFORM.to_owned(), settings)].into();
    team.domains = vec![PLATFORM.into()];
    team.default_domain = PLATFORM.into();
    team
}

/// The edit that makes a stored team as an older version let it be stored.
fn claim_the_platform() -> qredge::store::Edit<qredge::model::Team> {
    qredge::store::edit(|team: &mut qredge::model::Team| {
        *team = with_platform_claim(team.clone());
        Ok(())
    })
}

fn assert_released(api: &Server, edge: &Server, attacker: &str) {
    let team = team(api, attacker);
    assert_eq!(team["domainSettings"], Value::Null, "{team}");
    assert_eq!(team["defaultDomain"], PLATFORM);
    edge_answers(
        edge,
        PLATFORM,
        "victim",
        302,
        Some("https://victim.example/"),
    );
    edge_answers(edge, PLATFORM, "nothing-here", 404, None);
}

#[test]
fn a_stored_claim_on_the_platforms_host_is_released_at_start_embedded() {
    let (_tmp, data) = data_dir();
    let server = embedded_server(&data);
    server.create_qr(web("victim", "https://victim.example/"));
    let attacker = other_team(&server, "Attacker");
    let credentials: Credentials = server.credentials.clone();
    assert!(server.stop().success());

    let store = qredge::store::EmbeddedStore::open(&data).unwrap();
    store.update_team(&attacker, &claim_the_platform()).unwrap();
    drop(store);

    let server = embedded_server(&data);
    assert_eq!(server.credentials.client_id, credentials.client_id);
    assert_released(&server, &server, &attacker);
}

#[test]
fn a_stored_claim_on_the_platforms_host_is_released_at_start_on_redis() {
    let Setup {
        api,
        edge,
        topology,
        ..
    } = Setup::on_redis();
    let (edge, topology) = (edge.unwrap(), topology.unwrap());
    api.create_qr(web("victim", "https://victim.example/"));
    let attacker = other_team(&api, "Attacker");
    let runtime = tokio::runtime::Runtime::new().unwrap();
    runtime.block_on(async {
        let store =
            qredge::store::redis::RedisStore::connect(&shared_redis(), &topology.key_prefix())
                .await
                .unwrap();
        // The store itself keeps claims in one form: another spelling is refused.
        let misspell = qredge::store::edit(|team: &mut qredge::model::Team| {
            team.domain_settings = [("QR.Platform.Test.".to_owned(), Default::default())].into();
            Ok(())
        });
        assert!(matches!(
            store.update_team(&attacker, &misspell).await,
            Err(qredge::store::StoreError::DomainNotNormal(_))
        ));
        store
            .update_team(&attacker, &claim_the_platform())
            .await
            .unwrap();
    });
    // The old state as it was: the edge answers the platform's host from the attacker's space.
    edge_answers(
        &edge,
        PLATFORM,
        "victim",
        302,
        Some("https://attacker.example/"),
    );

    assert!(api.stop().success());
    let api = topology.start("api", "api");
    assert_released(&api, &edge, &attacker);
}

// --- 16. Text, displayIds, URLs and fields as stored ---------------------------------------

fn import(api: &Server, csv: &str) -> (u16, Value) {
    let response = api
        .client
        .post(format!("{}/api/qrs-api/import", api.api))
        .header("x-request-team-id", &api.credentials.team_id)
        .header("x-request-client-id", &api.credentials.client_id)
        .header("x-request-client-secret", &api.credentials.client_secret)
        .header("content-type", "text/csv")
        .body(csv.to_owned())
        .send()
        .unwrap();
    json_of(response)
}

/// Every way a code is written refuses `display_id` with a message containing `words`.
fn display_id_refused_everywhere(api: &Server, code_id: &str, display_id: &str, words: &str) {
    let body = web(display_id, "https://a.example/");
    assert_refused(
        &api.call(Method::POST, "/api/qrs-api", Some(body.clone())),
        400,
        words,
    );
    assert_refused(
        &api.call(
            Method::PUT,
            &format!("/api/qrs-api/{code_id}"),
            Some(json!({ "displayId": display_id })),
        ),
        400,
        words,
    );
    assert_refused(
        &api.call(Method::POST, "/api/qrs-api/bulk", Some(json!([body]))),
        400,
        words,
    );
    let (status, answer) = import(api, &format!("{display_id},https://a.example/,WEB\n"));
    assert_eq!(status, 400, "{display_id}: {answer}");
    let refusal = answer["data"]["refused"][0]["message"]
        .as_str()
        .unwrap_or_else(|| answer["message"].as_str().unwrap_or_default());
    assert!(refusal.contains(words), "{display_id}: {answer}");
}

fn display_ids_print_urls_that_scan(setup: &Setup) {
    let api = &setup.api;
    let code = api.create_qr(web("kept", "https://a.example/"));
    let id = code["id"].as_str().unwrap();
    let before = code_count(api);
    for (display_id, words) in [
        ("%", "'%' must begin an escape"),
        ("100%", "'%' must begin an escape"),
        ("a%2", "'%' must begin an escape"),
        ("a%2Fb", "cannot be escaped"),
        ("%2e%2e", "cannot be escaped"),
        ("healthz", "reserved"),
        ("HEALTHZ", "reserved"),
        ("metrics", "reserved"),
        ("robots.txt", "reserved"),
        (".well-known", "cannot start with '.'"),
        (".env", "cannot start with '.'"),
    ] {
        display_id_refused_everywhere(api, id, display_id, words);
    }
    assert_eq!(code_count(api), before, "nothing stored");
    assert_eq!(
        api.call(Method::GET, &format!("/api/qrs-api/{id}"), None).1["data"]["displayId"],
        "kept"
    );

    // An escape is a displayId like any other: printed as it is, found by the edge.
    let code = api.create_qr(web("100%25", "https://percent.example/"));
    let short = reqwest::Url::parse(code["shortUrl"].as_str().unwrap()).unwrap();
    assert_eq!(short.as_str(), format!("http://{PLATFORM}/100%25"));
    assert_eq!(short.path_segments().unwrap().next(), Some("100%25"));
    edge_answers(
        setup.edge(),
        PLATFORM,
        "100%25",
        302,
        Some("https://percent.example/"),
    );
}

#[test]
fn display_ids_print_urls_that_scan_embedded() {
    display_ids_print_urls_that_scan(&Setup::embedded());
}

#[test]
fn display_ids_print_urls_that_scan_on_redis() {
    display_ids_print_urls_that_scan(&Setup::on_redis());
}

fn texts_urls_and_fields_are_checked_as_stored(setup: &Setup) {
    let api = &setup.api;
    let code = api.create_qr(
        json!({"qrType": "WEB", "displayId": "named", "name": "Spring",
                                    "tags": ["print"], "qrRedirectUrl": "https://a.example/"}),
    );
    let path = format!("/api/qrs-api/{}", code["id"].as_str().unwrap());
    let before = code_count(api);

    // Names keep no control or direction characters, wherever they are set.
    for bad in ["nul\u{0}", "bell\u{7}", "invoice\u{202E}gnp.exe"] {
        let mut create = web("never", "https://a.example/");
        create["name"] = json!(bad);
        assert_refused(
            &api.call(Method::POST, "/api/qrs-api", Some(create)),
            400,
            "name must be one line",
        );
        assert_refused(
            &api.call(Method::PUT, &path, Some(json!({"name": bad}))),
            400,
            "name must be one line",
        );
        assert_refused(
            &api.call(
                Method::PUT,
                &format!("{path}/title"),
                Some(json!({"title": bad})),
            ),
            400,
            "title must be one line",
        );
        assert_refused(
            &api.call(
                Method::PUT,
                &format!("{path}/tags"),
                Some(json!({"tags": [bad]})),
            ),
            400,
            "tag must be one line",
        );
        assert_refused(
            &api.call(
                Method::POST,
                "/api/qr-templates-api",
                Some(json!({"name": bad})),
            ),
            400,
            "name must be one line",
        );
        // The names of teams, members and keys, which others read in lists, too.
        let team = &api.credentials.team_id;
        let named = [
            (
                Method::POST,
                "/api/teams-api".to_owned(),
                json!({"name": bad}),
            ),
            (
                Method::PUT,
                format!("/api/teams-api/{team}"),
                json!({"name": bad}),
            ),
            (
                Method::POST,
                format!("/api/teams-api/{team}/members"),
                json!({"name": bad, "email": "new@example.com", "role": "viewer"}),
            ),
            (
                Method::POST,
                "/api/keys-api".to_owned(),
                json!({"name": bad, "scopes": ["codes:read"]}),
            ),
        ];
        for (method, path, body) in named {
            let answer = api.call(method, &path, Some(body));
            assert_refused(&answer, 400, "name must be one line");
        }
    }
    let teams = api.call(Method::GET, "/api/teams-api", None).1;
    assert_eq!(
        teams["data"].as_array().map(Vec::len),
        Some(1),
        "no team made: {teams}"
    );

    // The 8 KiB limit holds for the target as stored: 'ä' is 6 characters once encoded.
    let long = format!("https://a.example/{}", "ä".repeat(3000));
    assert!(long.len() < 8192);
    assert_refused(
        &api.call(Method::POST, "/api/qrs-api", Some(web("long", &long))),
        400,
        "qrRedirectUrl is longer than 8192",
    );
    assert_refused(
        &api.call(Method::PUT, &path, Some(json!({"qrRedirectUrl": long}))),
        400,
        "longer than 8192",
    );
    let fits = format!("https://a.example/{}", "ä".repeat(1300));
    let code = api.create_qr(web("fits", &fits));
    let stored = code["qrRedirectUrl"].as_str().unwrap().to_owned();
    assert!(
        stored.len() <= 8192 && stored.len() > 7000,
        "{}",
        stored.len()
    );
    edge_answers(setup.edge(), PLATFORM, "fits", 302, Some(&stored));
    // The scan's query is forwarded while the Location stays within the same 8 KiB; past it the
    // code's own target goes out alone.
    let short = format!("{stored}?utm=qr");
    edge_answers(setup.edge(), PLATFORM, "fits?utm=qr", 302, Some(&short));
    let big_query = format!("fits?q={}", "x".repeat(2000));
    edge_answers(setup.edge(), PLATFORM, &big_query, 302, Some(&stored));

    // A field the body does not know is refused by name, as an unknown setting is.
    let mut create = web("unknown", "https://a.example/");
    create["colour"] = json!("red");
    assert_refused(
        &api.call(Method::POST, "/api/qrs-api", Some(create.clone())),
        400,
        "unknown field `colour`",
    );
    assert_refused(
        &api.call(Method::POST, "/api/qrs-api/bulk", Some(json!([create]))),
        400,
        "unknown field `colour`",
    );
    assert_refused(
        &api.call(Method::PUT, &path, Some(json!({"nmae": "typo"}))),
        400,
        "unknown field `nmae`",
    );
    assert_refused(
        &api.call(
            Method::POST,
            "/api/analytics-api/overviews",
            Some(json!({"qrIds": [code["id"]], "range": 1})),
        ),
        400,
        "unknown field `range`",
    );

    // 18. baseUrl is a domain's root: a path would print a code the edge never finds.
    for base in ["http://qr.platform.test/qr/", "http://qr.platform.test/qr"] {
        let mut create = web("pathed", "https://a.example/");
        create["baseUrl"] = json!(base);
        assert_refused(
            &api.call(Method::POST, "/api/qrs-api", Some(create.clone())),
            400,
            "baseUrl must be a domain's root",
        );
        assert_refused(
            &api.call(Method::POST, "/api/qrs-api/bulk", Some(json!([create]))),
            400,
            "baseUrl must be a domain's root",
        );
        assert_refused(
            &api.call(Method::PUT, &path, Some(json!({"baseUrl": base}))),
            400,
            "baseUrl must be a domain's root",
        );
    }
    assert_eq!(
        code_count(api),
        before + 1,
        "only the code that fits was stored"
    );
    let (_, unchanged) = api.call(Method::GET, &path, None);
    assert_eq!(
        (
            &unchanged["data"]["name"],
            &unchanged["data"]["tags"],
            &unchanged["data"]["baseUrl"]
        ),
        (&json!("Spring"), &json!(["print"]), &Value::Null)
    );

    // The reference's folders are still accepted, and a root baseUrl is stored in its one form.
    let code = api.create_qr(
        json!({"qrType": "WEB", "displayId": "rooted", "folderIds": [],
        "qrRedirectUrl": "https://a.example/", "baseUrl": "HTTP://QR.Platform.Test."}),
    );
    assert_eq!(code["shortUrl"], format!("http://{PLATFORM}/rooted"));
}

#[test]
fn texts_urls_and_fields_are_checked_as_stored_embedded() {
    texts_urls_and_fields_are_checked_as_stored(&Setup::embedded());
}

#[test]
fn texts_urls_and_fields_are_checked_as_stored_on_redis() {
    texts_urls_and_fields_are_checked_as_stored(&Setup::on_redis());
}
