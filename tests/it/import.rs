//! `qredge import`, run as a user runs it: a CSV of good and bad rows into the embedded store
//! (then served by `qredge serve`), and into Redis while an API and an edge run (served by that
//! edge without a restart). The Redis test needs QREDGE_TEST_REDIS_URL (scripts/test.sh).

use std::path::Path;
use std::process::Command;

use crate::support::services::PrivateKafka;
use crate::support::topology::{shared_redis, Topology};
use crate::support::{data_dir, Server};
use reqwest::Method;
use serde_json::json;

/// The file both tests import, after a code with displayId `taken` was created through the API.
/// Lines 2, 3, 4 and 13 are good; the others say why not.
const CSV: &str = "displayId,url,type,name\n\
    imp-web,https://example.com/web,WEB,A web code\n\
    imp-short,http://example.com/short?x=1,SHORT_LINK,\"Short, with a comma\"\n\
    imp-noname,https://example.com/noname,WEB,\n\
    imp-js,javascript:alert(1),WEB,\n\
    imp-pdf,https://example.com/a.pdf,PDF,\n\
    imp bad,https://example.com/bad,WEB,\n\
    imp-short,https://example.com/again,WEB,\n\
    taken,https://example.com/taken,WEB,\n\
    healthz,https://example.com/h,WEB,\n\
    imp-few,https://example.com/few\n\
    \n\
    imp-relative,/relative,WEB,\n\
    imp-last,https://example.com/last,SHORT_LINK,Last\n\
    imp-open,\"https://example.com/open,WEB,\n\
    imp-never,https://example.com/never,WEB,\n";

const GOOD: [(&str, &str); 4] = [
    ("imp-web", "https://example.com/web"),
    ("imp-short", "http://example.com/short?x=1"),
    ("imp-noname", "https://example.com/noname"),
    ("imp-last", "https://example.com/last"),
];

/// What the import prints for CSV: each refused row by line, then the summary.
fn expected_report() -> Vec<&'static str> {
    vec![
        "line 5: qrRedirectUrl must use http or https, not javascript:",
        "line 6: qrType PDF needs settings, which a CSV row cannot carry: import WEB or SHORT_LINK codes (create the others through the API)",
        "line 7: displayId \"imp bad\" must match ^[a-zA-Z0-9\\-_.~%]+$",
        "line 8: displayId \"imp-short\" is already in use",
        "line 9: displayId \"taken\" is already in use",
        "line 10: displayId \"healthz\" is reserved",
        "line 11: expected 4 columns as the header names, found 2",
        "line 13: qrRedirectUrl must be an absolute http(s) URL: relative URL without a base",
        "line 15: a quoted field is not closed: the rest of the file was read as part of this row",
    ]
}

struct Run {
    code: i32,
    stdout: String,
    stderr: String,
}

/// `qredge import ARGS` with the data directory `data`.
fn import(data: &Path, args: &[&str]) -> Run {
    let output = Command::new(env!("CARGO_BIN_EXE_qredge"))
        .arg("import")
        .args(args)
        .env("QREDGE_DATA_DIR", data)
        .env("RUST_LOG", "warn")
        .output()
        .expect("the qredge binary runs");
    Run {
        code: output.status.code().expect("exited"),
        stdout: String::from_utf8(output.stdout).unwrap(),
        stderr: String::from_utf8(output.stderr).unwrap(),
    }
}

/// Runs the import of CSV into team `team` and checks its report and exit status.
fn import_csv(data: &Path, extra: &[&str], team: &str) {
    let file = data.with_extension("csv");
    std::fs::write(&file, CSV).unwrap();
    let mut args = vec!["--team", team];
    args.extend_from_slice(extra);
    args.push(file.to_str().unwrap());
    let run = import(data, &args);
    let mut lines: Vec<&str> = run.stdout.lines().collect();
    let summary = lines.pop().unwrap_or_default();
    assert_eq!(lines, expected_report(), "stderr: {}", run.stderr);
    assert!(
        summary.starts_with("imported 4, refused 9 (batchId batch_"),
        "{summary}"
    );
    assert_eq!(run.code, 1, "some rows were refused");
}

/// The good codes redirect from `edge`; the refused ones do not exist; the API lists exactly the
/// good ones (and `taken`) with what the rows said.
fn check_served(api: &Server, edge: &Server) {
    for (display_id, location) in GOOD {
        let response = edge.edge_within_a_second(display_id, |r| r.status() == 302);
        assert_eq!(response.status(), 302, "{display_id}");
        assert_eq!(response.headers()["location"], location, "{display_id}");
    }
    for display_id in ["imp-js", "imp-pdf", "imp-relative", "imp-open", "imp-never"] {
        assert_eq!(edge.scan(display_id, "curl").status(), 404, "{display_id}");
    }
    let taken = edge.scan("taken", "curl");
    assert_eq!(taken.headers()["location"], "https://example.com/original");

    let (status, list) = api.call(Method::GET, "/api/qrs-api?limit=100", None);
    assert_eq!(status, 200, "{list}");
    assert_eq!(list["data"]["totalCount"], 5, "{list}");
    let mut listed: Vec<(&str, &str, &str)> = list["data"]["qrs"]
        .as_array()
        .unwrap()
        .iter()
        .map(|qr| {
            (
                qr["displayId"].as_str().unwrap(),
                qr["name"].as_str().unwrap(),
                qr["qrType"].as_str().unwrap(),
            )
        })
        .collect();
    listed.sort();
    assert_eq!(
        listed,
        [
            ("imp-last", "Last", "SHORT_LINK"),
            ("imp-noname", "Untitled", "WEB"),
            ("imp-short", "Short, with a comma", "SHORT_LINK"),
            ("imp-web", "A web code", "WEB"),
            ("taken", "Untitled", "WEB"),
        ]
    );
    let imported = list["data"]["qrs"]
        .as_array()
        .unwrap()
        .iter()
        .find(|qr| qr["displayId"] == "imp-web")
        .unwrap();
    assert_eq!(imported["teamId"], api.credentials.team_id.as_str());
    assert_eq!(imported["createdBy"], "import");
    assert!(imported["batchId"].as_str().unwrap().starts_with("batch_"));
}

fn create_taken(server: &Server) {
    server.create_qr(json!({
        "qrType": "WEB", "displayId": "taken", "qrRedirectUrl": "https://example.com/original"
    }));
}

#[test]
fn an_import_into_the_embedded_store_is_served_by_the_next_serve() {
    let (_tmp, data) = data_dir();
    let server = Server::start(&data);
    create_taken(&server);
    let team = server.credentials.team_id.clone();
    let file = data.with_extension("csv");
    std::fs::write(&file, CSV).unwrap();
    let file = file.to_str().unwrap();

    let busy = import(&data, &["--team", &team, file]);
    assert_eq!(busy.code, 2, "{}", busy.stderr);
    assert!(
        busy.stderr.contains("open in another process"),
        "{}",
        busy.stderr
    );
    server.stop();

    let unknown = import(&data, &["--team", "team_nope", file]);
    assert_eq!(unknown.code, 2);
    assert!(
        unknown
            .stderr
            .contains("team \"team_nope\" does not exist in this store; nothing was imported"),
        "{}",
        unknown.stderr
    );
    let missing = import(&data.with_extension("none"), &["--team", &team, file]);
    assert_eq!(missing.code, 2);
    assert!(
        missing.stderr.contains("no embedded store"),
        "{}",
        missing.stderr
    );

    import_csv(&data, &[], &team);
    let server = Server::start(&data);
    check_served(&server, &server);

    // Importing the same file again refuses every row: nothing is overwritten.
    server.stop();
    let again = import(&data, &["--team", &team, file]);
    assert_eq!(again.code, 1);
    assert!(
        again.stdout.contains("\nimported 0, refused 13 (batchId "),
        "{}",
        again.stdout
    );
    let server = Server::start(&data);
    check_served(&server, &server);
}

#[test]
fn an_import_into_redis_is_served_by_a_running_edge() {
    // The edge needs a broker for its scans; no scan is counted here, so any will do.
    let tmp = tempfile::tempdir().unwrap();
    let (_kafka, brokers) = match std::env::var("QREDGE_TEST_KAFKA_BROKERS") {
        Ok(brokers) if !brokers.is_empty() => (None, brokers),
        _ => {
            let kafka = PrivateKafka::start(&tmp.path().join("kafka"));
            let brokers = kafka.brokers();
            (Some(kafka), brokers)
        }
    };
    let topology = Topology::on(&shared_redis(), &brokers);
    let api = topology.start("api", "api");
    let edge = topology.start("edge", "edge");
    create_taken(&api);
    assert_eq!(
        edge.edge_within_a_second("taken", |r| r.status() == 302)
            .status(),
        302
    );

    let config = topology.root().join("import.toml");
    std::fs::write(&config, &topology.config).unwrap();
    let data = topology.root().join("import");
    import_csv(
        &data,
        &["--config", config.to_str().unwrap()],
        &api.credentials.team_id,
    );

    // The edge that was running all along serves the codes; the API lists them.
    check_served(&api, &edge);
}
