//! The dashboard (src/dashboard/) in a real browser: headless Chromium (Debian's `chromium` and
//! `chromium-driver`) driven by Python's selenium (the scripts in tests/it/browser/, each a
//! journey that fails at its first broken check and reports what it saw), against the real
//! binary on both stores. Needs what scripts/test.sh provides: QREDGE_TEST_BROWSER_PYTHON,
//! QREDGE_TEST_CHROMIUM, QREDGE_TEST_CHROMEDRIVER and QREDGE_TEST_AXE_JS (and the Redis and Kafka
//! services).

use std::path::Path;
use std::process::Command;

use reqwest::Method;
use serde_json::{json, Value};

use crate::support::topology::Topology;
use crate::support::{zbar, Server};

const OWNER_EMAIL: &str = "owner@localhost";
const VIEWER_EMAIL: &str = "viewer@example.com";

/// A variable the harness exports. Missing means the test runs outside scripts/test.sh: fail,
/// so that a missing browser is never mistaken for a pass.
fn harness_var(name: &str) -> String {
    match std::env::var(name) {
        Ok(value) if !value.is_empty() => value,
        _ => panic!(
            "{name} is not set: run the tests through scripts/test.sh (it installs the browser)"
        ),
    }
}

/// Runs `tests/it/browser/SCRIPT` with `args`; what it reports seeing.
pub(crate) fn browse(script: &str, args: &Value) -> Value {
    let file = tempfile::Builder::new().suffix(".json").tempfile().unwrap();
    std::fs::write(file.path(), args.to_string()).unwrap();
    let dir = Path::new(env!("CARGO_MANIFEST_DIR")).join("tests/it/browser");
    let output = Command::new(harness_var("QREDGE_TEST_BROWSER_PYTHON"))
        .arg(dir.join(script))
        .arg(file.path())
        .env("QREDGE_TEST_CHROMIUM", harness_var("QREDGE_TEST_CHROMIUM"))
        .env(
            "QREDGE_TEST_CHROMEDRIVER",
            harness_var("QREDGE_TEST_CHROMEDRIVER"),
        )
        .env("QREDGE_TEST_AXE_JS", harness_var("QREDGE_TEST_AXE_JS"))
        .output()
        .expect("the browser's Python runs");
    let stdout = String::from_utf8_lossy(&output.stdout);
    assert!(
        output.status.success(),
        "{script} failed ({}):\n{stdout}\n{}",
        output.status,
        String::from_utf8_lossy(&output.stderr)
    );
    let last = stdout
        .lines()
        .last()
        .expect("the script reports what it saw");
    serde_json::from_str(last).unwrap_or_else(|e| panic!("{script} reported {last:?}: {e}"))
}

/// The same link on `server`'s API address: test servers listen on port 0, so a link made by
/// an earlier start, or by the CLI (which knows only the configured address), names another
/// port. The token is what the link carries.
pub(crate) fn on(server: &Server, link: &str) -> String {
    let path = link.find("/sign-in/link?").map(|at| &link[at..]);
    format!("{}{}", server.api, path.expect("a sign-in link"))
}

/// The first start's sign-in link, from bootstrap.json, as printed.
pub(crate) fn bootstrap_link(server: &Server) -> String {
    let text = std::fs::read_to_string(server.data_dir.join("bootstrap.json")).unwrap();
    let saved: Value = serde_json::from_str(&text).unwrap();
    let link = saved["signInUrl"]
        .as_str()
        .expect("signInUrl in bootstrap.json")
        .to_owned();
    assert!(
        server.stdout.contains(&link),
        "the first start prints it:\n{}",
        server.stdout
    );
    assert!(
        saved["clientSecret"].is_string(),
        "the rest of the file is kept"
    );
    link
}

/// `qredge sign-in-link --email EMAIL` for the store of a server started in `data_dir` with
/// `config` (None: the embedded defaults).
pub(crate) fn cli_link(data_dir: &Path, config: Option<&Path>, email: &str) -> String {
    let mut command = Command::new(env!("CARGO_BIN_EXE_qredge"));
    command
        .args(["sign-in-link", "--email", email])
        .env("QREDGE_DATA_DIR", data_dir);
    if let Some(config) = config {
        command.arg("--config").arg(config);
    }
    let output = command.output().expect("qredge runs");
    assert!(
        output.status.success(),
        "qredge sign-in-link: {}",
        String::from_utf8_lossy(&output.stderr)
    );
    String::from_utf8(output.stdout).unwrap().trim().to_owned()
}

pub(crate) fn api_args(server: &Server) -> Value {
    json!({
        "api": server.api,
        "edge": server.edge,
        "teamId": server.credentials.team_id,
        "clientId": server.credentials.client_id,
        "clientSecret": server.credentials.client_secret,
    })
}

fn journey(server: &Server) {
    let link = bootstrap_link(server);
    let image = tempfile::Builder::new().suffix(".png").tempfile().unwrap();
    let mut args = api_args(server);
    args["signInUrl"] = on(server, &link).into();
    args["email"] = OWNER_EMAIL.into();
    args["displayId"] = "spring-launch".into();
    args["imagePng"] = image.path().to_str().unwrap().into();
    let seen = browse("journey.py", &args);

    assert_eq!(seen["linkSpent"], true, "a sign-in link works once: {seen}");
    assert_eq!(seen["wrongPassword"], "wrong email or password");
    let (status, refused) = server.call(
        Method::POST,
        "/api/qrs-api",
        Some(json!({"qrType": "WEB", "qrRedirectUrl": "javascript:alert(1)"})),
    );
    assert_eq!(status, 400);
    assert_eq!(
        seen["urlError"], refused["message"],
        "the form shows the API's own message next to the field"
    );
    assert_eq!(
        seen["codesAfterRefusal"], 0,
        "a refused form creates nothing"
    );
    assert_eq!(
        seen["title"], "Spring <b>launch</b>",
        "the name is shown as text"
    );
    let short_url = format!("{}/spring-launch", server.edge);
    assert_eq!(seen["shortUrl"], short_url.as_str());
    assert_eq!(seen["imageLoaded"], true);
    let png = std::fs::read(image.path()).unwrap();
    assert_eq!(
        zbar::decode(&png),
        short_url,
        "the image the page shows scans to the code"
    );
    assert_eq!(seen["countsBefore"], "0");
    assert_eq!(seen["firstTarget"], "https://example.com/spring");
    assert_eq!(seen["todayAfterScan"], "1", "the scan counts today too");
    assert_eq!(seen["targetShown"], "https://example.com/summer");
    assert_eq!(seen["servedAfterEdit"], "https://example.com/summer");
    assert_eq!(seen["listedNames"], json!(["Spring <b>launch</b>"]));
}

#[test]
fn sign_in_create_a_code_watch_its_scan_and_edit_it_embedded() {
    let (_tmp, dir) = crate::support::data_dir();
    journey(&Server::start(&dir));
}

#[test]
fn sign_in_create_a_code_watch_its_scan_and_edit_it_on_redis() {
    let topology = Topology::new();
    journey(&topology.start("serve", "serve"));
}

/// What the guards journey needs made through the API first: a viewer, a code of the team and
/// one of another team.
fn guard_setup(server: &Server) -> Value {
    let team = &server.credentials.team_id;
    let (status, body) = server.call(
        Method::POST,
        &format!("/api/teams-api/{team}/members"),
        Some(json!({"name": "Vera Viewer", "email": VIEWER_EMAIL, "role": "viewer"})),
    );
    assert_eq!(status, 200, "{body}");
    let own =
        server.create_qr(json!({"qrType": "WEB", "qrRedirectUrl": "https://example.com/own"}));
    let other_team = server.create_team("Other");
    let other = server.create_qr_in(
        &other_team,
        json!({"qrType": "WEB", "qrRedirectUrl": "https://example.com/other"}),
    );
    let mut args = api_args(server);
    args["ownCodeId"] = own["id"].clone();
    args["otherTeamCodeId"] = other["id"].clone();
    args["viewerEmail"] = VIEWER_EMAIL.into();
    args
}

fn guards(server: &Server, mut args: Value, owner_link: &str, viewer_link: &str) {
    // The addresses of this start (a restart listens on other ports).
    for (name, value) in api_args(server).as_object().unwrap() {
        args[name] = value.clone();
    }
    args["signInUrl"] = on(server, owner_link).into();
    args["viewerSignInUrl"] = on(server, viewer_link).into();
    let seen = browse("guards.py", &args);
    assert_eq!(
        seen["otherPage"], "Not Found",
        "another team's code: {seen}"
    );
    assert_eq!(seen["otherImage"], 404);
    assert_eq!(seen["otherCounts"], 404);
    assert_eq!(seen["noToken"], 403, "a form without its CSRF token");
    assert_eq!(seen["wrongToken"], 403);
    assert_eq!(seen["signOutWithoutToken"], 403);
    assert_eq!(seen["stillSignedIn"], true);
    assert_eq!(seen["codesAfterForgeries"], 0);
    assert_eq!(seen["controlsOnList"], 0, "a viewer sees no edit control");
    assert_eq!(seen["controlsOnCode"], 0);
    assert_eq!(seen["newFormStatus"], 403);
    assert_eq!(
        seen["forged"],
        json!({"create": 403, "edit": 403, "delete": 403})
    );
    assert_eq!(seen["codesAfterViewer"], 0);
    assert_eq!(
        seen["storedAfterViewer"],
        json!(["https://example.com/own", false])
    );
    assert_eq!(
        seen["afterRemoval"],
        format!("{}/sign-in", server.api).as_str(),
        "a removed member's session ends"
    );
}

#[test]
fn viewers_other_teams_and_forged_forms_are_refused_embedded() {
    let (_tmp, dir) = crate::support::data_dir();
    let server = Server::start(&dir);
    let owner_link = bootstrap_link(&server);
    let args = guard_setup(&server);
    // The embedded store is one process's: the CLI runs while it is stopped.
    server.stop();
    let viewer_link = cli_link(&dir, None, VIEWER_EMAIL);
    let server = Server::start(&dir);
    guards(&server, args, &owner_link, &viewer_link);
}

#[test]
fn viewers_other_teams_and_forged_forms_are_refused_on_redis() {
    let topology = Topology::new();
    let server = topology.start("serve", "serve");
    let owner_link = bootstrap_link(&server);
    let args = guard_setup(&server);
    let config = topology.root().join("serve.toml");
    let viewer_link = cli_link(&server.data_dir, Some(&config), VIEWER_EMAIL);
    guards(&server, args, &owner_link, &viewer_link);
}

#[test]
fn every_page_carries_a_strict_policy_and_the_api_is_unchanged() {
    let (_tmp, dir) = crate::support::data_dir();
    let server = Server::start(&dir);
    for path in ["/sign-in", "/codes", "/assets/live.js", "/nowhere"] {
        let response = server
            .client
            .get(format!("{}{path}", server.api))
            .send()
            .unwrap();
        let headers = response.headers();
        if path == "/nowhere" {
            // Not the dashboard's: the API's envelope.
            assert_eq!(response.status(), 404);
            continue;
        }
        let csp = headers["content-security-policy"].to_str().unwrap();
        for directive in [
            "default-src 'self'",
            "script-src 'self'",
            "style-src 'self'",
            "frame-ancestors 'none'",
        ] {
            assert!(csp.contains(directive), "{path}: {csp}");
        }
        assert!(!csp.contains("unsafe-inline"), "{path}: {csp}");
        assert_eq!(headers["x-content-type-options"], "nosniff", "{path}");
        assert_eq!(headers["referrer-policy"], "same-origin", "{path}");
    }
    let signed_out = server
        .client
        .get(format!("{}/codes", server.api))
        .send()
        .unwrap();
    assert_eq!(signed_out.status(), 303, "signed out: to the sign-in page");
    assert_eq!(signed_out.headers()["location"], "/sign-in");
    let form = server
        .client
        .get(format!("{}/sign-in", server.api))
        .send()
        .unwrap();
    let cookie = form.headers()["set-cookie"].to_str().unwrap().to_owned();
    assert!(
        cookie.contains("HttpOnly") && cookie.contains("SameSite=Lax"),
        "{cookie}"
    );
    let forged = server
        .client
        .post(format!("{}/sign-in", server.api))
        .header("content-type", "application/x-www-form-urlencoded")
        .body("email=owner%40localhost&password=whatever")
        .send()
        .unwrap();
    assert_eq!(
        forged.status(),
        403,
        "a sign-in form without its CSRF token"
    );

    let (status, document) = server.call(Method::GET, "/openapi.json", None);
    assert_eq!(status, 200);
    let paths: Vec<&String> = document["paths"].as_object().unwrap().keys().collect();
    assert!(
        paths.iter().all(|p| p.starts_with("/api/")
            || p.starts_with("/images/")
            || *p == "/healthz"
            || *p == "/openapi.json"),
        "the dashboard's pages are not API operations: {paths:?}"
    );
    let (status, _) = server.call(Method::GET, "/api/qrs-api", None);
    assert_eq!(status, 200, "the API answers beside the dashboard");
}

/// One password try of `email` through the sign-in form, as a browser sends it (the form's
/// CSRF cookie and field); its status.
fn password_try(server: &Server, email: &str, password: &str) -> u16 {
    let page = server
        .client
        .get(format!("{}/sign-in", server.api))
        .send()
        .unwrap();
    let cookie = page.headers()["set-cookie"].to_str().unwrap();
    let pair = cookie.split(';').next().unwrap().to_owned();
    let token = pair.split_once('=').unwrap().1.to_owned();
    let body = format!("csrf={token}&email={email}&password={password}");
    let answer = server
        .client
        .post(format!("{}/sign-in", server.api))
        .header("cookie", pair)
        .header("content-type", "application/x-www-form-urlencoded")
        .body(body)
        .send()
        .unwrap();
    answer.status().as_u16()
}

/// `api.dashboard.sign_in_tries_per_minute` (10): the eleventh try of an email within a minute
/// is refused without being checked; another email is not held back by it.
fn password_guessing_is_held_back(server: &Server) {
    // Tries are counted per clock minute: start early in one, so that all eleven fall in it.
    let second_of_minute = || {
        let now = std::time::SystemTime::now().duration_since(std::time::UNIX_EPOCH);
        now.unwrap().as_secs() % 60
    };
    while second_of_minute() > 30 {
        std::thread::sleep(std::time::Duration::from_millis(200));
    }
    let statuses: Vec<u16> = (0..11)
        .map(|i| password_try(server, "owner%40localhost", &format!("guess-{i}")))
        .collect();
    let mut expected = vec![401; 10];
    expected.push(429);
    assert_eq!(statuses, expected);
    assert_eq!(password_try(server, "someone%40example.com", "guess"), 401);
}

#[test]
fn password_guessing_is_held_back_embedded() {
    let (_tmp, dir) = crate::support::data_dir();
    password_guessing_is_held_back(&Server::start(&dir));
}

#[test]
fn password_guessing_is_held_back_on_redis() {
    let topology = Topology::new();
    password_guessing_is_held_back(&topology.start("api", "api"));
}
