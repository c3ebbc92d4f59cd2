//! A role started with a configuration that cannot work refuses to start and says what to set,
//! rather than running on something nobody else sees.

use std::process::Command;

use crate::support::topology::{shared_kafka, shared_redis};

/// Runs `qredge ROLE` with `config` and returns its exit success and what it printed on stderr.
fn run(role: &str, config: &str) -> (bool, String) {
    let dir = tempfile::tempdir().unwrap();
    let path = dir.path().join("qredge.toml");
    std::fs::write(&path, config).unwrap();
    let output = Command::new(env!("CARGO_BIN_EXE_qredge"))
        .arg(role)
        .arg("--config")
        .arg(&path)
        .env("QREDGE_DATA_DIR", dir.path().join("data"))
        .env("QREDGE_EDGE_LISTEN", "127.0.0.1:0")
        .env("QREDGE_API_LISTEN", "127.0.0.1:0")
        .output()
        .unwrap();
    (
        output.status.success(),
        String::from_utf8_lossy(&output.stderr).into_owned(),
    )
}

fn assert_refused(role: &str, config: &str, words: &str) {
    let (success, stderr) = run(role, config);
    assert!(!success, "`qredge {role}` started with:\n{config}");
    assert!(
        stderr.contains(words),
        "`qredge {role}` says what is wrong ({words:?}): {stderr}"
    );
}

#[test]
fn roles_apart_without_redis_or_kafka_refuse_to_start() {
    let redis = format!("[redis]\nurl = \"{}\"\n", shared_redis());
    assert_refused("edge", "", "set redis.url");
    assert_refused("api", "", "set redis.url");
    assert_refused("edge", &redis, "set kafka.brokers");
    assert_refused("aggregator", &redis, "set kafka.brokers");
}

#[test]
fn bad_kafka_settings_refuse_to_start() {
    let base = format!(
        "[redis]\nurl = \"{}\"\n[kafka]\nbrokers = \"{}\"\n",
        shared_redis(),
        shared_kafka()
    );
    assert_refused(
        "edge",
        &format!("{base}compression = \"zstd\"\n"),
        "compression",
    );
    assert_refused("edge", &format!("{base}partitions = 0\n"), "partitions");
    assert_refused("edge", &format!("{base}topc = \"x\"\n"), "topc");
}

/// The test clock cannot be turned on by accident in a deployment: a process that listens
/// beyond loopback refuses it, and one on loopback says it runs on it.
#[test]
fn the_test_clock_is_refused_beyond_loopback() {
    let clock = qredge::clock::TEST_CLOCK_ENV;
    let dir = tempfile::tempdir().unwrap();
    let (status, log) = crate::support::Launch::new(&dir.path().join("open"))
        .env(clock, "1796292000000")
        .env("QREDGE_EDGE_LISTEN", "0.0.0.0:0")
        .refused();
    assert!(!status.success());
    assert!(log.contains("listens beyond loopback"), "{log}");
    assert!(
        !dir.path().join("open").join("bootstrap.json").exists(),
        "nothing set up"
    );

    let server = crate::support::Launch::new(&dir.path().join("local"))
        .env(clock, "1796292000000")
        .start();
    assert!(
        server.log().contains("the test clock is on"),
        "{}",
        server.log()
    );
    let (status, body) = server.call(
        reqwest::Method::POST,
        "/api/analytics-api/buckets",
        Some(serde_json::json!({})),
    );
    assert_eq!(status, 200, "{body}");
    assert_eq!(
        body["data"]["date"], "2026-12-03",
        "today on the test clock (UTC)"
    );
}
