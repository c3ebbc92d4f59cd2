//! The API's OpenAPI document, as a client meets it: served at `/openapi.json` without
//! credentials and outside the rate limit; and schemathesis (PyPI) run against the real binary
//! with it: no 5xx, every status the API answers documented, every JSON body as documented.
//! Schemathesis comes from the venv scripts/test.sh makes (QREDGE_TEST_SCHEMATHESIS).

use std::io::Read;
use std::process::{Command, Stdio};
use std::time::{Duration, Instant};

use crate::support::{data_dir, Launch};
use reqwest::Method;
use serde_json::{json, Value};

/// The rate limit out of schemathesis's way: it makes thousands of requests a minute.
const NO_RATE_LIMIT: &str = "[api.requests_per_minute]\nfree = 1000000000\nbusiness = 1000000000\n\
    business_plus = 1000000000\nenterprise = 1000000000\n";

/// Test cases per operation and phase: ~35 operations × 4 phases in a minute or two on two
/// cores. The seed makes a failure in CI reproducible with the same command.
const MAX_EXAMPLES: &str = "40";
const SEED: &str = "20240501";
/// Far above a normal run: a hung run fails rather than eating CI's time.
const DEADLINE: Duration = Duration::from_secs(600);

/// A variable the harness exports. Missing means the test runs outside scripts/test.sh: fail,
/// so that a missing dependency is never mistaken for a pass.
fn harness_var(name: &str, what: &str) -> String {
    match std::env::var(name) {
        Ok(value) if !value.is_empty() => value,
        _ => panic!("{name} is not set: run the tests through scripts/test.sh ({what})"),
    }
}

#[test]
fn the_document_is_served_without_credentials_and_outside_the_rate_limit() {
    let (_guard, data) = data_dir();
    let server = Launch::new(&data)
        .config("[api.requests_per_minute]\nbusiness_plus = 2\n")
        .start();
    for _ in 0..3 {
        server.call(Method::GET, "/api/keys-api", None);
    }
    let (status, _) = server.call(Method::GET, "/api/keys-api", None);
    assert_eq!(status, 429, "the team's minute is spent");

    let response = server
        .client
        .get(format!("{}/openapi.json", server.api))
        .send()
        .unwrap();
    assert_eq!(response.status(), 200);
    assert_eq!(response.headers()["content-type"], "application/json");
    assert!(
        !response.headers().contains_key("x-ratelimit-limit"),
        "not counted"
    );
    let doc: Value = response.json().unwrap();
    assert_eq!(doc["openapi"], "3.1.0");
    assert_eq!(doc["info"]["title"], "qredge management API");
    let create = &doc["paths"]["/api/qrs-api"]["post"];
    assert_eq!(
        create["requestBody"]["content"]["application/json"]["schema"]["$ref"],
        "#/components/schemas/QrInput"
    );
    for status in ["201", "400", "401", "403", "409", "413", "429"] {
        assert!(create["responses"][status].is_object(), "create: {status}");
    }
    let schemes = &doc["components"]["securitySchemes"];
    assert_eq!(schemes["teamId"]["name"], "x-request-team-id");
    assert_eq!(schemes["clientId"]["name"], "x-request-client-id");
    assert_eq!(schemes["clientSecret"]["name"], "x-request-client-secret");
    assert_eq!(schemes["bearer"]["scheme"], "bearer");
}

/// The router and the document are one declaration (src/api/routes.rs); this holds the served
/// pair to it: every operation of the document is routed (answered by its route, not by the
/// "no such endpoint" fallback), and on its paths every other method is 405.
#[test]
fn every_documented_operation_is_routed_and_no_other_method_is() {
    const METHODS: [&str; 5] = ["get", "post", "put", "delete", "patch"];
    let (_guard, data) = data_dir();
    let server = Launch::new(&data).start();
    let doc: Value = server
        .client
        .get(format!("{}/openapi.json", server.api))
        .send()
        .unwrap()
        .json()
        .unwrap();
    let paths = doc["paths"].as_object().unwrap();
    assert!(paths.len() > 30, "{} paths", paths.len());
    let mut operations = 0;
    for (path, item) in paths {
        // Any value for the parameters: no credentials are sent, so a routed /api/ operation
        // answers 401 before it looks at them.
        let concrete = path
            .split('/')
            .map(|segment| {
                if segment.starts_with('{') {
                    "x1"
                } else {
                    segment
                }
            })
            .collect::<Vec<_>>()
            .join("/");
        for method in METHODS {
            let response = server
                .client
                .request(
                    method.to_uppercase().parse().unwrap(),
                    format!("{}{concrete}", server.api),
                )
                .send()
                .unwrap();
            let status = response.status().as_u16();
            let body = response.text().unwrap();
            if item[method].is_object() {
                operations += 1;
                assert!(
                    status != 405 && !body.contains("no such endpoint"),
                    "{method} {path} is documented but not routed: {status} {body}"
                );
            } else {
                assert_eq!(
                    status, 405,
                    "{method} {path} is routed but not documented: {body}"
                );
            }
        }
    }
    assert!(operations > 40, "{operations} operations");
}

#[test]
fn schemathesis_finds_no_server_error_and_no_undocumented_answer() {
    let schemathesis = harness_var(
        "QREDGE_TEST_SCHEMATHESIS",
        "it makes a venv with schemathesis",
    );
    let (guard, data) = data_dir();
    let server = Launch::new(&data).config(NO_RATE_LIMIT).start();
    let credentials = server.credentials.clone();

    // The operations on one code, one team or one key only reach their handlers' logic with an
    // id that exists: a code, the caller's team and a key to revoke, given to schemathesis as
    // fixed path parameters (the other parameters and the bodies are still generated).
    let qr = server.create_qr(json!({
        "name": "schemathesis", "qrType": "WEB",
        "qrRedirectUrl": "https://example.com/landing",
    }));
    let qr_id = qr["id"].as_str().unwrap();
    let (status, key) = server.call(
        Method::POST,
        "/api/keys-api",
        Some(json!({"name": "to revoke", "scopes": ["codes:read"]})),
    );
    assert_eq!(status, 201, "{key}");
    let key_id = key["data"]["clientId"].as_str().unwrap();
    let config = guard.path().join("schemathesis.toml");
    std::fs::write(
        &config,
        format!(
            r#"
[[operations]]
include-path-regex = '^/api/teams-api/\{{id\}}'
parameters = {{ "path.id" = "{team}" }}

[[operations]]
include-path-regex = '^/api/(qrs-api|qrs-api/teams|analytics-api/detailed)/\{{id\}}'
parameters = {{ "path.id" = "{qr_id}" }}

[[operations]]
include-operation-id = "revokeKey"
parameters = {{ "path.id" = "{key_id}" }}
"#,
            team = credentials.team_id,
        ),
    )
    .unwrap();

    let header = |name: &str, value: &str| format!("{name}: {value}");
    let mut child = Command::new(&schemathesis)
        .current_dir(guard.path())
        .arg("--config-file")
        .arg(&config)
        .arg("run")
        .arg(format!("{}/openapi.json", server.api))
        .args(["--url", &server.api])
        .args(["-H", &header("x-request-team-id", &credentials.team_id)])
        .args(["-H", &header("x-request-client-id", &credentials.client_id)])
        .args([
            "-H",
            &header("x-request-client-secret", &credentials.client_secret),
        ])
        // The credentials are the headers above: a generated Authorization header would only
        // ever be refused (401), and the handlers behind it never reached.
        .args(["--generation-with-security-parameters", "false"])
        .args([
            "--checks",
            "not_a_server_error,status_code_conformance,content_type_conformance,\
             response_schema_conformance",
        ])
        .args(["--max-examples", MAX_EXAMPLES, "--seed", SEED])
        // One worker: with two threads, hypothesis's ast.parse of lambda sources races in
        // CPython 3.11 (gh-106905, "AST constructor recursion depth mismatch") and fails a run
        // now and then for no fault of the API.
        .args(["--workers", "1", "--generation-database", "none"])
        .args(["--no-color", "--request-timeout", "30"])
        .stdin(Stdio::null())
        .stdout(Stdio::piped())
        .stderr(Stdio::piped())
        .spawn()
        .unwrap_or_else(|e| panic!("{schemathesis} starts: {e}"));
    // Read the output on threads (a full pipe would stall it) while waiting with a deadline.
    let mut stdout = child.stdout.take().unwrap();
    let mut stderr = child.stderr.take().unwrap();
    let out = std::thread::spawn(move || {
        let mut text = String::new();
        stdout.read_to_string(&mut text).ok();
        text
    });
    let err = std::thread::spawn(move || {
        let mut text = String::new();
        stderr.read_to_string(&mut text).ok();
        text
    });
    let started = Instant::now();
    let status = loop {
        if let Some(status) = child.try_wait().unwrap() {
            break Some(status);
        }
        if started.elapsed() > DEADLINE {
            child.kill().ok();
            child.wait().ok();
            break None;
        }
        std::thread::sleep(Duration::from_millis(200));
    };
    let (out, err) = (out.join().unwrap(), err.join().unwrap());
    // Shown with --nocapture: the operations and checks schemathesis ran.
    println!("{out}");
    match status {
        Some(status) if status.success() => {}
        Some(status) => panic!(
            "schemathesis failed ({status}):\n{out}\n{err}\nqredge log:\n{}",
            server.log()
        ),
        None => panic!("schemathesis still running after {DEADLINE:?}:\n{out}\n{err}"),
    }
    // It tested every operation (none left out for a schema it could not use).
    let line = |label: &str| {
        out.lines()
            .find_map(|l| l.trim().strip_prefix(label).map(str::trim))
            .unwrap_or_else(|| panic!("no {label:?} in the summary:\n{out}"))
            .to_owned()
    };
    let selected = line("Selected:");
    let tested = line("Tested:");
    let total = selected.split('/').nth(1).unwrap_or_default();
    assert_eq!(tested, total, "operations tested of {selected}:\n{out}");
}
