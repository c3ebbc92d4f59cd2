//! The production topology in separate processes (api, edges, aggregators) on a Redis store and a
//! Kafka-protocol broker, and a steady stream of scans to drive it.

use std::path::PathBuf;
use std::sync::atomic::{AtomicBool, Ordering};
use std::sync::Arc;
use std::thread::JoinHandle;
use std::time::Duration;

use super::{Launch, Server, IPHONE_SAFARI};

pub fn shared_redis() -> String {
    std::env::var("QREDGE_TEST_REDIS_URL")
        .expect("QREDGE_TEST_REDIS_URL is not set: run the tests through scripts/test.sh")
}

/// Deletes the keys of the shared Redis that match `pattern` (a KEYS pattern, the test's prefix
/// included), as a store of an earlier version would lack them; the keys it deleted.
pub fn delete_redis_keys(pattern: &str) -> Vec<String> {
    let mut redis = shared_connection();
    let keys: Vec<String> = redis::cmd("KEYS").arg(pattern).query(&mut redis).unwrap();
    if !keys.is_empty() {
        let _: () = redis::cmd("DEL").arg(&keys).query(&mut redis).unwrap();
    }
    keys
}

fn shared_connection() -> redis::Connection {
    let client = redis::Client::open(shared_redis()).expect("a Redis URL");
    client.get_connection().expect("Redis answers")
}

pub fn shared_kafka() -> String {
    std::env::var("QREDGE_TEST_KAFKA_BROKERS")
        .expect("QREDGE_TEST_KAFKA_BROKERS is not set: run the tests through scripts/test.sh")
}

pub struct Topology {
    tmp: tempfile::TempDir,
    pub config: String,
}

impl Topology {
    /// On the services scripts/test.sh started.
    pub fn new() -> Self {
        Self::on(&shared_redis(), &shared_kafka())
    }

    /// A key prefix, topic and consumer group of its own, so tests can share the services.
    pub fn on(redis_url: &str, brokers: &str) -> Self {
        let unique = qredge::ids::random_alphanumeric(8);
        let config = format!(
            "[redis]\nurl = \"{redis_url}\"\nkey_prefix = \"t{unique}:\"\n\
             [kafka]\nbrokers = \"{brokers}\"\ntopic = \"scans-{unique}\"\npartitions = 3\n\
             message_timeout_ms = 10000\n\
             [aggregator]\ngroup = \"agg-{unique}\"\n"
        );
        Self {
            tmp: tempfile::tempdir().unwrap(),
            config,
        }
    }

    /// Adds a `key = value` line to the `[kafka]` section.
    pub fn with_kafka(mut self, setting: &str) -> Self {
        self.config = self
            .config
            .replace("[kafka]\n", &format!("[kafka]\n{setting}\n"));
        self
    }

    /// The Redis key prefix of this topology's store.
    pub fn key_prefix(&self) -> String {
        self.setting("key_prefix")
    }

    /// The value of a `key = "value"` line of the config (the first one of that key).
    pub fn setting(&self, key: &str) -> String {
        let line = self
            .config
            .lines()
            .find_map(|l| l.strip_prefix(&format!("{key} = \"")));
        line.unwrap_or_else(|| panic!("a {key} setting"))
            .trim_end_matches('"')
            .to_owned()
    }

    /// A connection to the Redis the tests share.
    pub fn redis(&self) -> redis::Connection {
        shared_connection()
    }

    pub fn root(&self) -> PathBuf {
        self.tmp.path().to_owned()
    }

    /// Starts `qredge ROLE` with this topology's config and a data directory called `name`.
    pub fn start(&self, role: &str, name: &str) -> Server {
        Launch::new(&self.tmp.path().join(name))
            .role(role)
            .config(&self.config)
            .start()
    }
}

/// How a test runs the roles: one process each, or `qredge serve` running the API, an edge with
/// its scan pipeline and the aggregator in one process (beside any further edges). A serve on
/// Redis once queued every API command behind its edge's blocking read, which only the split
/// roles were tested on; the tests that exercise all the roles together run both ways.
#[derive(Debug, Clone, Copy, PartialEq)]
pub enum Layout {
    Split,
    Serve,
}

/// The processes of an API, its edges and an aggregator.
pub struct Deployment {
    processes: Vec<Server>,
    /// Where the API and each edge are among `processes`.
    api: usize,
    edges: Vec<usize>,
}

impl Deployment {
    pub fn api(&self) -> &Server {
        &self.processes[self.api]
    }

    pub fn edges(&self) -> Vec<&Server> {
        self.edges.iter().map(|&i| &self.processes[i]).collect()
    }
}

impl Topology {
    /// An API, `edges` edges and an aggregator, started in `layout` (API first: it bootstraps).
    pub fn deploy(&self, layout: Layout, edges: usize) -> Deployment {
        let (mut processes, mut edge_indexes) = (Vec::new(), Vec::new());
        let first_apart = match layout {
            Layout::Split => {
                processes.push(self.start("api", "api"));
                1
            }
            Layout::Serve => {
                processes.push(self.start("serve", "serve"));
                edge_indexes.push(0);
                2
            }
        };
        for n in first_apart..=edges {
            edge_indexes.push(processes.len());
            processes.push(self.start("edge", &format!("edge{n}")));
        }
        if layout == Layout::Split {
            processes.push(self.start("aggregator", "aggregator"));
        }
        Deployment {
            processes,
            api: 0,
            edges: edge_indexes,
        }
    }
}

impl Drop for Topology {
    /// A failed test shows what each process logged.
    fn drop(&mut self) {
        if !std::thread::panicking() && std::env::var_os("QREDGE_TEST_SHOW_LOGS").is_none() {
            return;
        }
        let Ok(entries) = std::fs::read_dir(self.tmp.path()) else {
            return;
        };
        for entry in entries.flatten() {
            let path = entry.path();
            if path.extension().is_some_and(|e| e == "log") {
                let text = std::fs::read_to_string(&path).unwrap_or_default();
                let lines: Vec<&str> = text.lines().collect();
                let tail = lines[lines.len().saturating_sub(40)..].join("\n");
                eprintln!("----- {} -----\n{tail}", path.display());
            }
        }
    }
}

/// Scans codes through one edge, one request at a time with a pause between, until stopped: one
/// code, or several in turn. Every answer must be a 302: a failed redirect fails the test.
pub struct ScanStream {
    stop: Arc<AtomicBool>,
    thread: JoinHandle<u64>,
}

impl ScanStream {
    pub fn start(edge: &str, display_id: &str, pause: Duration) -> Self {
        Self::start_many(edge, &[display_id], pause)
    }

    pub fn start_many(edge: &str, display_ids: &[&str], pause: Duration) -> Self {
        let stop = Arc::new(AtomicBool::new(false));
        let urls: Vec<String> = display_ids.iter().map(|d| format!("{edge}/{d}")).collect();
        let stopped = Arc::clone(&stop);
        let thread = std::thread::spawn(move || {
            let client = reqwest::blocking::Client::builder()
                .redirect(reqwest::redirect::Policy::none())
                .timeout(Duration::from_secs(5))
                .build()
                .unwrap();
            let mut sent = 0;
            for url in urls.iter().cycle() {
                if stopped.load(Ordering::Relaxed) {
                    break;
                }
                let response = client
                    .get(url)
                    .header("user-agent", IPHONE_SAFARI)
                    .send()
                    .unwrap_or_else(|e| panic!("scan {sent} of {url} failed: {e}"));
                assert_eq!(response.status(), 302, "scan {sent} of {url}");
                sent += 1;
                std::thread::sleep(pause);
            }
            sent
        });
        Self { stop, thread }
    }

    /// Stops the stream; returns how many scans were sent (and redirected).
    pub fn finish(self) -> u64 {
        self.stop.store(true, Ordering::Relaxed);
        self.thread.join().expect("every scan was redirected")
    }
}
