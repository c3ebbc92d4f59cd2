//! No code is stored that the edge cannot serve. The edge compiles each code into a route; what
//! can fail there (settings that are not the type's, a behaviour key of the wrong shape, a rule
//! time or time zone it cannot read, a target that is no header value) is refused when the code
//! is written, by create, update, bulk create and CSV import alike, or normalised into what the
//! edge serves. A code that still reaches an edge uncompiled (written by other means than the
//! API) is counted in `qredge_edge_unservable_routes_total` and answered as unknown.

use std::time::{Duration, Instant};

use reqwest::Method;
use serde_json::{json, Value};

use crate::support::topology::Topology;
use crate::support::{location, Launch, Server, IPHONE_SAFARI};
use qredge::model::Qr;
use qredge::store::redis::RedisStore;
use qredge::store::{EmbeddedStore, Store};

const UNSERVABLE: &str = "qredge_edge_unservable_routes_total";

/// Settings the edge could not compile, one for each way its compile fails, with a word the
/// refusal must carry.
fn uncompilable_settings() -> Vec<(Value, &'static str)> {
    vec![
        (json!({"links": []}), "settings.links"),
        (json!({"redirectStatus": "soon"}), "settings"),
        (
            json!({"rules": [{"url": "https://example.com/r", "fromTime": "25:00", "toTime": "26:00"}]}),
            "fromTime",
        ),
        (
            json!({"rules": [{"url": "https://example.com/r", "timeZone": "Mars/Olympus_Mons"}]}),
            "timeZone",
        ),
    ]
}

fn web(display_id: &str, settings: &Value) -> Value {
    json!({"qrType": "WEB", "displayId": display_id,
           "qrRedirectUrl": "https://example.com/kept", "settings": settings})
}

fn live_codes(server: &Server) -> u64 {
    let (status, body) = server.call(Method::GET, "/api/qrs-api?limit=1", None);
    assert_eq!(status, 200, "{body}");
    body["data"]["totalCount"].as_u64().unwrap()
}

fn refused_when_written(server: &Server) {
    let kept = server.create_served(web("kept", &json!({})));
    let id = kept["id"].as_str().unwrap();
    for (settings, named) in uncompilable_settings() {
        let (status, body) = server.call(Method::POST, "/api/qrs-api", Some(web("bad", &settings)));
        assert_eq!(status, 400, "create {settings}: {body}");
        let message = body["message"].as_str().unwrap_or_default();
        assert!(message.contains(named), "create {settings}: {body}");

        let items = json!([web("good", &json!({})), web("bad", &settings)]);
        let (status, body) = server.call(Method::POST, "/api/qrs-api/bulk", Some(items));
        assert_eq!(status, 400, "bulk {settings}: {body}");
        assert!(
            body["message"].as_str().unwrap().contains("item 1"),
            "{body}"
        );

        let change = json!({"settings": settings});
        let (status, body) = server.call(Method::PUT, &format!("/api/qrs-api/{id}"), Some(change));
        assert_eq!(status, 400, "update {settings}: {body}");
        assert_eq!(live_codes(server), 1, "nothing was created by {settings}");
    }
    // The code the updates were refused for is served as it was.
    let response = server.scan("kept", IPHONE_SAFARI);
    assert_eq!(response.status(), 302);
    assert_eq!(location(&response), "https://example.com/kept");
}

/// A target that is no header value as given (a space, a non-ASCII letter) is stored as the URL
/// it names, percent-encoded, which the edge serves: by create and by CSV import.
fn targets_normalised_when_written(server: &Server) {
    server.create_served(json!({"qrType": "WEB", "displayId": "spaced",
        "qrRedirectUrl": "https://example.com/ä b"}));
    let response = server.scan("spaced", IPHONE_SAFARI);
    assert_eq!(location(&response), "https://example.com/%C3%A4%20b");

    let csv = "displayId,url,type\nimported,https://example.com/ö c,WEB\n";
    let response = server
        .client
        .post(format!("{}/api/qrs-api/import", server.api))
        .header("x-request-team-id", &server.credentials.team_id)
        .header("x-request-client-id", &server.credentials.client_id)
        .header("x-request-client-secret", &server.credentials.client_secret)
        .header("content-type", "text/csv")
        .body(csv)
        .send()
        .unwrap();
    assert_eq!(response.status(), 201, "{}", response.text().unwrap());
    server.assert_served("imported");
    let response = server.scan("imported", IPHONE_SAFARI);
    assert_eq!(location(&response), "https://example.com/%C3%B6%20c");
    assert_eq!(
        server.metric(UNSERVABLE),
        0.0,
        "every written code compiled"
    );
}

#[test]
fn codes_the_edge_cannot_serve_are_refused_when_written_embedded() {
    let dir = tempfile::tempdir().unwrap();
    let server = Server::start(dir.path());
    refused_when_written(&server);
    targets_normalised_when_written(&server);
}

#[test]
fn codes_the_edge_cannot_serve_are_refused_when_written_on_redis() {
    let topology = Topology::new();
    let server = topology.start("serve", "serve");
    refused_when_written(&server);
    targets_normalised_when_written(&server);
}

/// A WEB code with settings that are not a WEB code's, as the API would never store it.
fn uncompilable(team_id: &str, display_id: &str) -> Qr {
    let mut qr = Qr::web(
        &format!("qr_{display_id}"),
        team_id,
        display_id,
        "https://example.com/never",
    );
    qr.settings.insert("links".into(), json!([]));
    qr
}

/// The edge counts the code it cannot serve, answers it as unknown and serves the others.
fn counted_and_unknown(server: &Server, counted: f64) {
    let deadline = Instant::now() + Duration::from_secs(10);
    while server.metric(UNSERVABLE) < counted {
        assert!(
            Instant::now() < deadline,
            "{UNSERVABLE} never reached {counted}"
        );
        std::thread::sleep(Duration::from_millis(50));
    }
    assert_eq!(server.metric(UNSERVABLE), counted);
    assert_eq!(server.scan("unservable", IPHONE_SAFARI).status(), 404);
    server.assert_served("fine");
}

/// Writes `qr` straight into `store`, as the API would not.
fn write_past_the_api(store: impl std::future::Future<Output = Store>, qr: &Qr) {
    let runtime = tokio::runtime::Runtime::new().unwrap();
    runtime.block_on(async { store.await.create_qr(qr).await.unwrap() });
}

#[test]
fn an_embedded_code_written_past_the_api_is_counted_and_answered_as_unknown() {
    let dir = tempfile::tempdir().unwrap();
    let data = dir.path().join("data");
    let server = Launch::new(&data).start();
    server.create_served(web("fine", &json!({})));
    let team_id = server.credentials.team_id.clone();
    assert!(server.stop().success());

    let store = async { Store::from(EmbeddedStore::open(&data).unwrap()) };
    write_past_the_api(store, &uncompilable(&team_id, "unservable"));
    let server = Launch::new(&data).start();
    counted_and_unknown(&server, 1.0);
}

#[test]
fn a_redis_code_written_past_the_api_is_counted_when_followed_and_when_loaded() {
    let topology = Topology::new();
    let redis_only = topology.config.split("[kafka]").next().unwrap().to_owned();
    let data = topology.root().join("serve");
    let server = Launch::new(&data).config(&redis_only).start();
    server.create_served(web("fine", &json!({})));
    let url = topology.setting("url");
    let prefix = topology.key_prefix();
    let store = async { Store::from(RedisStore::connect(&url, &prefix).await.unwrap()) };
    write_past_the_api(
        store,
        &uncompilable(&server.credentials.team_id, "unservable"),
    );
    // Followed by the running edge...
    counted_and_unknown(&server, 1.0);
    assert!(server.stop().success());
    // ...and loaded by the next start.
    let server = Launch::new(&data).config(&redis_only).start();
    counted_and_unknown(&server, 1.0);
}
