//! A Redis or a Kafka-protocol broker of one test's own, which the test may stop and start again
//! on the same port with the same data: outages without disturbing the services other tests share.
//! Uses the binaries scripts/test.sh installs (redis-server, tansu); a missing one fails the test.

use std::net::{TcpListener, TcpStream};
use std::path::{Path, PathBuf};
use std::process::{Child, Command, Stdio};
use std::time::{Duration, Instant};

fn free_port() -> u16 {
    TcpListener::bind("127.0.0.1:0")
        .unwrap()
        .local_addr()
        .unwrap()
        .port()
}

fn wait_listening(port: u16, what: &str, log: &Path) {
    let deadline = Instant::now() + Duration::from_secs(30);
    while TcpStream::connect(("127.0.0.1", port)).is_err() {
        if Instant::now() > deadline {
            let text = std::fs::read_to_string(log).unwrap_or_default();
            panic!("{what} did not listen on port {port} within 30 s; its log:\n{text}");
        }
        std::thread::sleep(Duration::from_millis(50));
    }
}

fn spawn(mut command: Command, what: &str, log: &Path) -> Child {
    let log = std::fs::OpenOptions::new()
        .create(true)
        .append(true)
        .open(log)
        .unwrap();
    command
        .stdin(Stdio::null())
        .stdout(log.try_clone().unwrap())
        .stderr(log)
        .spawn()
        .unwrap_or_else(|e| panic!("cannot start {what} ({e}): run the tests through scripts/test.sh, which installs it"))
}

/// One service process: its command line, port, and data directory.
struct Service {
    name: &'static str,
    port: u16,
    dir: PathBuf,
    make: fn(u16, &Path) -> Command,
    child: Option<Child>,
}

impl Service {
    fn start(name: &'static str, dir: &Path, make: fn(u16, &Path) -> Command) -> Self {
        std::fs::create_dir_all(dir).unwrap();
        let mut service = Self {
            name,
            port: free_port(),
            dir: dir.to_owned(),
            make,
            child: None,
        };
        service.resume();
        service
    }

    fn log(&self) -> PathBuf {
        self.dir.join(format!("{}.log", self.name))
    }

    /// Kills the process (as a crash or a lost host would) and waits for it to be gone.
    fn stop(&mut self) {
        if let Some(mut child) = self.child.take() {
            let _ = child.kill();
            let _ = child.wait();
        }
    }

    /// Starts it again on the same port and data, and waits until it listens.
    fn resume(&mut self) {
        assert!(self.child.is_none(), "{} is running", self.name);
        let command = (self.make)(self.port, &self.dir);
        self.child = Some(spawn(command, self.name, &self.log()));
        wait_listening(self.port, self.name, &self.log());
    }
}

impl Drop for Service {
    fn drop(&mut self) {
        self.stop();
    }
}

/// A redis-server that keeps its data across `stop` and `resume` (append-only file, fsync always).
pub struct PrivateRedis(Service);

impl PrivateRedis {
    pub fn start(dir: &Path) -> Self {
        Self(Service::start("redis", dir, |port, dir| {
            let mut command = Command::new("redis-server");
            command
                .args(["--bind", "127.0.0.1", "--save", "", "--appendonly", "yes"])
                .args(["--appendfsync", "always", "--port", &port.to_string()])
                .arg("--dir")
                .arg(dir);
            command
        }))
    }

    pub fn url(&self) -> String {
        format!("redis://127.0.0.1:{}/", self.0.port)
    }

    pub fn stop(&mut self) {
        self.0.stop();
    }

    pub fn resume(&mut self) {
        self.0.resume();
    }
}

/// A tansu broker on SQLite storage: topics, messages and committed offsets survive a restart.
pub struct PrivateKafka(Service);

impl PrivateKafka {
    pub fn start(dir: &Path) -> Self {
        Self(Service::start("tansu", dir, |port, dir| {
            let listener = format!("tcp://127.0.0.1:{port}");
            let mut command = Command::new("tansu");
            // tansu reads defaults from the environment and a .env file, and resolves the SQLite
            // path against its working directory: run it in its own directory, flags only.
            command
                .current_dir(dir)
                .env_remove("CLUSTER_ID")
                .env_remove("LISTENER_URL")
                .env_remove("ADVERTISED_LISTENER_URL")
                .env_remove("STORAGE_ENGINE")
                .args(["broker", "--cluster-id", "qredge-test"])
                .args(["--listener-url", &listener])
                .args(["--advertised-listener-url", &listener])
                .args(["--storage-engine", "sqlite://./tansu.db"]);
            command
        }))
    }

    pub fn brokers(&self) -> String {
        format!("127.0.0.1:{}", self.0.port)
    }

    pub fn stop(&mut self) {
        self.0.stop();
    }

    pub fn resume(&mut self) {
        self.0.resume();
    }
}
