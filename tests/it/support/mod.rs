//! Runs the real `qredge` binary on free loopback ports and talks to it over HTTP.
#![allow(dead_code)]

pub mod keys;
pub mod mmdb;
pub mod pki;
pub mod services;
pub mod topology;
pub mod zbar;

use std::io::{BufRead, BufReader};
use std::path::{Path, PathBuf};
use std::process::{Child, Command, ExitStatus, Stdio};
use std::sync::mpsc;
use std::time::{Duration, Instant};

use reqwest::blocking::{Client, Response};
use reqwest::Method;
use serde_json::Value;

pub const IPHONE_SAFARI: &str = "Mozilla/5.0 (iPhone; CPU iPhone OS 17_0 like Mac OS X) AppleWebKit/605.1.15 (KHTML, like Gecko) Version/17.0 Mobile/15E148 Safari/604.1";
pub const MAC_SAFARI: &str = "Mozilla/5.0 (Macintosh; Intel Mac OS X 10_15_7) AppleWebKit/605.1.15 (KHTML, like Gecko) Version/17.0 Safari/605.1.15";

/// The credentials `bootstrap.json` holds.
#[derive(Debug, Clone)]
pub struct Credentials {
    pub org_id: String,
    pub team_id: String,
    pub client_id: String,
    pub client_secret: String,
}

pub struct Server {
    child: Child,
    pub data_dir: PathBuf,
    pub edge: String,
    pub api: String,
    /// The Prometheus endpoint's URL.
    pub metrics: String,
    /// Everything the process printed on stdout up to "ready".
    pub stdout: String,
    pub credentials: Credentials,
    pub client: Client,
}

/// How to start a server: a data directory, optional config file text, extra environment.
pub struct Launch {
    /// The subcommand: serve (default), api, edge or aggregator.
    pub role: String,
    pub data_dir: PathBuf,
    pub config: Option<String>,
    pub env: Vec<(String, String)>,
    /// The open files limit to start with (soft, hard), set by `prlimit`.
    pub open_files: Option<(u64, u64)>,
}

impl Launch {
    pub fn new(data_dir: &Path) -> Self {
        Self {
            role: "serve".into(),
            data_dir: data_dir.to_owned(),
            config: None,
            env: Vec::new(),
            open_files: None,
        }
    }

    /// Starts the process with this open files limit (`ulimit -n`), soft and hard.
    pub fn open_files(mut self, soft: u64, hard: u64) -> Self {
        self.open_files = Some((soft, hard));
        self
    }

    pub fn config(mut self, toml: &str) -> Self {
        self.config = Some(toml.to_owned());
        self
    }

    pub fn role(mut self, role: &str) -> Self {
        self.role = role.into();
        self
    }

    pub fn env(mut self, name: &str, value: &str) -> Self {
        self.env.push((name.into(), value.into()));
        self
    }

    /// Runs a start that is expected to fail: its exit status and what it logged (stderr), or a
    /// panic when it became ready or did not exit within 60 s.
    pub fn refused(self) -> (ExitStatus, String) {
        let log = self.data_dir.with_extension("log");
        let mut command = self.command();
        command.stdout(Stdio::null());
        let mut child = command.spawn().expect("the qredge binary starts");
        let deadline = Instant::now() + Duration::from_secs(60);
        let status = loop {
            if let Some(status) = child.try_wait().unwrap() {
                break status;
            }
            if Instant::now() > deadline {
                let _ = child.kill();
                panic!(
                    "qredge did not stop: {}",
                    std::fs::read_to_string(&log).unwrap()
                );
            }
            std::thread::sleep(Duration::from_millis(20));
        };
        (status, std::fs::read_to_string(&log).unwrap_or_default())
    }

    /// Starts the process and returns at once, without waiting for it to become ready (its
    /// stdout discarded, its log in the usual file).
    pub fn spawn(self) -> Child {
        let mut command = self.command();
        command.stdout(Stdio::null());
        command.spawn().expect("the qredge binary starts")
    }

    /// The command with its config file, environment and log file (stderr).
    fn command(&self) -> Command {
        let mut command = match self.open_files {
            Some((soft, hard)) => {
                let mut prlimit = Command::new("prlimit");
                prlimit.arg(format!("--nofile={soft}:{hard}")).arg("--");
                prlimit.arg(env!("CARGO_BIN_EXE_qredge"));
                prlimit
            }
            None => Command::new(env!("CARGO_BIN_EXE_qredge")),
        };
        command.arg(&self.role);
        if let Some(text) = &self.config {
            let path = self.data_dir.with_extension("toml");
            std::fs::write(&path, text).unwrap();
            command.arg("--config").arg(path);
        }
        let log = std::fs::OpenOptions::new()
            .create(true)
            .append(true)
            .open(self.data_dir.with_extension("log"))
            .unwrap();
        command
            .env("QREDGE_DATA_DIR", &self.data_dir)
            .env("QREDGE_EDGE_LISTEN", "127.0.0.1:0")
            .env("QREDGE_API_LISTEN", "127.0.0.1:0")
            .env("QREDGE_METRICS_LISTEN", "127.0.0.1:0")
            .env("RUST_LOG", "info")
            .envs(self.env.iter().map(|(k, v)| (k, v)))
            .stdin(Stdio::null())
            .stderr(log);
        command
    }

    pub fn start(self) -> Server {
        let mut command = self.command();
        command.stdout(Stdio::piped());
        let mut child = command.spawn().expect("the qredge binary starts");

        // Read stdout on a thread until the ready line, with a deadline.
        let stdout = child.stdout.take().unwrap();
        let (lines_tx, lines_rx) = mpsc::channel();
        std::thread::spawn(move || {
            for line in BufReader::new(stdout).lines() {
                let Ok(line) = line else { break };
                if lines_tx.send(line).is_err() {
                    break;
                }
            }
        });
        let deadline = Instant::now() + Duration::from_secs(60);
        let mut printed = String::new();
        let ready = loop {
            let left = deadline.saturating_duration_since(Instant::now());
            match lines_rx.recv_timeout(left) {
                Ok(line) => {
                    printed.push_str(&line);
                    printed.push('\n');
                    if let Some(rest) = line.strip_prefix("qredge ready ") {
                        break rest.to_owned();
                    }
                }
                Err(_) => {
                    let _ = child.kill();
                    let log = std::fs::read_to_string(self.data_dir.with_extension("log"))
                        .unwrap_or_default();
                    panic!("qredge did not become ready; stdout:\n{printed}\nlog:\n{log}");
                }
            }
        };
        // Roles that do not serve HTTP leave their field out: empty here.
        let field = |name: &str| {
            ready
                .split_whitespace()
                .find_map(|kv| kv.strip_prefix(&format!("{name}=")))
                .unwrap_or_default()
                .trim_end_matches('/')
                .to_owned()
        };
        let (edge, api, metrics) = (field("edge"), field("api"), field("metrics"));
        let credentials = if self.data_dir.join("bootstrap.json").exists() {
            read_bootstrap(&self.data_dir)
        } else {
            Credentials {
                org_id: String::new(),
                team_id: String::new(),
                client_id: String::new(),
                client_secret: String::new(),
            }
        };
        let client = Client::builder()
            .redirect(reqwest::redirect::Policy::none())
            .timeout(Duration::from_secs(30))
            .build()
            .unwrap();
        Server {
            child,
            data_dir: self.data_dir,
            edge,
            api,
            metrics,
            stdout: printed,
            credentials,
            client,
        }
    }
}

pub fn read_bootstrap(data_dir: &Path) -> Credentials {
    let text = std::fs::read_to_string(data_dir.join("bootstrap.json")).expect("bootstrap.json");
    let v: Value = serde_json::from_str(&text).unwrap();
    let field = |k: &str| {
        v[k].as_str()
            .unwrap_or_else(|| panic!("{k} in bootstrap.json"))
            .to_owned()
    };
    Credentials {
        org_id: field("orgId"),
        team_id: field("teamId"),
        client_id: field("clientId"),
        client_secret: field("clientSecret"),
    }
}

impl Server {
    pub fn start(data_dir: &Path) -> Server {
        Launch::new(data_dir).start()
    }

    /// An authenticated API call as the bootstrap owner; returns the status and JSON body.
    pub fn call(&self, method: Method, path: &str, body: Option<Value>) -> (u16, Value) {
        self.call_as(
            &self.credentials,
            &self.credentials.team_id,
            method,
            path,
            body,
        )
    }

    pub fn call_as(
        &self,
        credentials: &Credentials,
        team_id: &str,
        method: Method,
        path: &str,
        body: Option<Value>,
    ) -> (u16, Value) {
        let mut request = self
            .client
            .request(method, format!("{}{path}", self.api))
            .header("x-request-team-id", team_id)
            .header("x-request-client-id", &credentials.client_id)
            .header("x-request-client-secret", &credentials.client_secret);
        if let Some(body) = body {
            request = request.json(&body);
        }
        json_of(request.send().expect("the API answers"))
    }

    /// Creates a code and returns its JSON object (asserting success).
    pub fn create_qr(&self, body: Value) -> Value {
        let (status, json) = self.call(Method::POST, "/api/qrs-api", Some(body));
        assert_eq!(status, 201, "create failed: {json}");
        assert_eq!(json["success"], true);
        json["data"].clone()
    }

    /// Creates a team beside the first one (the bootstrap credential acts in it too); its id.
    pub fn create_team(&self, name: &str) -> String {
        let (status, body) = self.call(
            Method::POST,
            "/api/teams-api",
            Some(serde_json::json!({ "name": name })),
        );
        assert_eq!(status, 201, "team create failed: {body}");
        body["data"]["id"].as_str().unwrap().to_owned()
    }

    /// Creates a code in `team_id` with the bootstrap credential; its JSON object.
    pub fn create_qr_in(&self, team_id: &str, body: Value) -> Value {
        let (status, json) = self.call_as(
            &self.credentials,
            team_id,
            Method::POST,
            "/api/qrs-api",
            Some(body),
        );
        assert_eq!(status, 201, "create failed: {json}");
        json["data"].clone()
    }

    /// A GET of the edge as a phone would make it (no redirect following).
    pub fn scan(&self, display_id: &str, user_agent: &str) -> Response {
        self.client
            .get(format!("{}/{display_id}", self.edge))
            .header("user-agent", user_agent)
            .send()
            .expect("the edge answers")
    }

    /// A GET of the edge's `/{path}` with these headers (no redirect following).
    pub fn get(&self, path: &str, headers: &[(&str, &str)]) -> Response {
        let mut request = self.client.get(format!("{}/{path}", self.edge));
        for (name, value) in headers {
            request = request.header(*name, *value);
        }
        request.send().expect("the edge answers")
    }

    /// Creates a code and waits until the edge serves it (answers anything but 404: a hosted
    /// page or a password form answers 200); returns its JSON object.
    pub fn create_served(&self, body: Value) -> Value {
        let qr = self.create_qr(body);
        let display_id = qr["displayId"].as_str().unwrap().to_owned();
        let response = self.edge_within_a_second(&display_id, |r| r.status() != 404);
        assert_ne!(
            response.status(),
            404,
            "{display_id} served within a second"
        );
        qr
    }

    pub fn overview(&self, qr_id: &str) -> Value {
        let (status, json) = self.call(
            Method::POST,
            "/api/analytics-api/overviews",
            Some(serde_json::json!({ "qrIds": [qr_id] })),
        );
        assert_eq!(status, 200, "overview failed: {json}");
        json["data"][0].clone()
    }

    /// Polls the overview until `totalScans` reaches `expected` (scans flow asynchronously),
    /// then returns it; panics with the last value after 20 s.
    pub fn wait_for_total(&self, qr_id: &str, expected: u64) -> Value {
        self.wait_for_total_within(qr_id, expected, Duration::from_secs(20))
    }

    pub fn wait_for_total_within(&self, qr_id: &str, expected: u64, wait: Duration) -> Value {
        let deadline = Instant::now() + wait;
        loop {
            let overview = self.overview(qr_id);
            if overview["totalScans"].as_u64() == Some(expected) || Instant::now() > deadline {
                return overview;
            }
            std::thread::sleep(Duration::from_millis(50));
        }
    }

    /// Polls the edge until `check` accepts its answer for `display_id`, or 1 s passes.
    pub fn edge_within_a_second(
        &self,
        display_id: &str,
        check: impl Fn(&Response) -> bool,
    ) -> Response {
        let deadline = Instant::now() + Duration::from_secs(1);
        loop {
            let response = self
                .client
                .head(format!("{}/{display_id}", self.edge))
                .send()
                .expect("the edge answers");
            if check(&response) || Instant::now() > deadline {
                return response;
            }
            std::thread::sleep(Duration::from_millis(1));
        }
    }

    /// The value of an unlabelled metric from `/metrics`; 0 when not recorded yet.
    pub fn metric(&self, name: &str) -> f64 {
        let text = self
            .client
            .get(&self.metrics)
            .send()
            .expect("the metrics endpoint answers")
            .text()
            .unwrap();
        text.lines()
            .find_map(|line| line.strip_prefix(name)?.strip_prefix(' '))
            .map_or(0.0, |value| value.trim().parse().unwrap())
    }

    /// Asserts that the edge redirects `display_id` within a second (it follows changes
    /// asynchronously); polls with HEAD, which is never counted.
    pub fn assert_served(&self, display_id: &str) {
        let response = self.edge_within_a_second(display_id, |r| r.status() == 302);
        assert_eq!(
            response.status(),
            302,
            "{display_id} served by {} within a second",
            self.edge
        );
    }

    /// SIGKILL: no chance to flush anything.
    pub fn kill9(mut self) {
        let _ = self.child.kill();
        let _ = self.child.wait();
    }

    /// SIGTERM, then wait for the exit.
    pub fn stop(mut self) -> ExitStatus {
        let pid = self.child.id().to_string();
        Command::new("kill").args(["-TERM", &pid]).status().unwrap();
        let deadline = Instant::now() + Duration::from_secs(30);
        loop {
            if let Some(status) = self.child.try_wait().unwrap() {
                return status;
            }
            assert!(Instant::now() < deadline, "qredge did not stop on SIGTERM");
            std::thread::sleep(Duration::from_millis(20));
        }
    }

    /// The process id (prlimit, when used, runs qredge in its own process).
    pub fn pid(&self) -> u32 {
        self.child.id()
    }

    pub fn log(&self) -> String {
        std::fs::read_to_string(self.data_dir.with_extension("log")).unwrap_or_default()
    }
}

impl Drop for Server {
    fn drop(&mut self) {
        let _ = self.child.kill();
        let _ = self.child.wait();
    }
}

/// A response's `Location` header ("" when it has none).
pub fn location(response: &Response) -> String {
    response
        .headers()
        .get("location")
        .map(|l| l.to_str().unwrap().to_owned())
        .unwrap_or_default()
}

pub fn json_of(response: Response) -> (u16, Value) {
    let status = response.status().as_u16();
    let text = response.text().unwrap_or_default();
    let json = serde_json::from_str(&text).unwrap_or(Value::String(text));
    (status, json)
}

/// A fresh data directory inside a temp dir that lives as long as the returned guard.
pub fn data_dir() -> (tempfile::TempDir, PathBuf) {
    let dir = tempfile::tempdir().unwrap();
    let data = dir.path().join("data");
    (dir, data)
}
