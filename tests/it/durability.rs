//! Everything survives a restart, and no scan is lost when the in-memory queue overflows.

use crate::support;
use std::process::Command;
use std::sync::atomic::{AtomicBool, Ordering};
use std::sync::Arc;
use std::time::{Duration, Instant};

use crate::support::{Launch, Server, IPHONE_SAFARI};
use reqwest::Method;
use serde_json::json;

#[test]
fn codes_counts_and_events_survive_a_restart() {
    let (_tmp, data) = support::data_dir();
    let server = Server::start(&data);
    let qr = server.create_qr(
        json!({"qrType": "WEB", "displayId": "durable", "qrRedirectUrl": "https://example.com/d"}),
    );
    let id = qr["id"].as_str().unwrap().to_owned();
    server.edge_within_a_second("durable", |r| r.status() == 302);
    for _ in 0..3 {
        assert_eq!(server.scan("durable", IPHONE_SAFARI).status(), 302);
    }
    assert_eq!(server.wait_for_total(&id, 3)["totalScans"], 3);
    // Scans still in flight at the stop are delivered before the process exits.
    for _ in 0..20 {
        assert_eq!(server.scan("durable", IPHONE_SAFARI).status(), 302);
    }
    assert_eq!(server.stop().code(), Some(0));

    let server = Server::start(&data);
    assert_eq!(
        server.scan("durable", IPHONE_SAFARI).status(),
        302,
        "the code is served after a restart"
    );
    let overview = server.wait_for_total(&id, 24);
    assert_eq!(overview["totalScans"], 24, "{overview}");
    let (_, detailed) = server.call(
        Method::GET,
        &format!("/api/analytics-api/detailed/{id}"),
        None,
    );
    // HEAD requests (the tests' probes among them) are kept too, flagged.
    let scans = detailed["data"]
        .as_array()
        .unwrap()
        .iter()
        .filter(|e| e["head"] == false)
        .count();
    assert_eq!(scans, 24);
    let (_, fetched) = server.call(Method::GET, &format!("/api/qrs-api/{id}"), None);
    assert_eq!(fetched["data"]["qrRedirectUrl"], "https://example.com/d");
}

#[test]
fn after_a_kill_the_counts_are_rebuilt_from_the_event_log_and_a_damaged_checkpoint_is_ignored() {
    let (_tmp, data) = support::data_dir();
    let server = Server::start(&data);
    let qr = server.create_qr(
        json!({"qrType": "WEB", "displayId": "logged", "qrRedirectUrl": "https://example.com/l"}),
    );
    let id = qr["id"].as_str().unwrap().to_owned();
    server.edge_within_a_second("logged", |r| r.status() == 302);
    for _ in 0..5 {
        assert_eq!(server.scan("logged", IPHONE_SAFARI).status(), 302);
    }
    // Counted means stored: a kill now loses none of them, though no checkpoint is written.
    assert_eq!(server.wait_for_total(&id, 5)["totalScans"], 5);
    server.kill9();

    let server = Server::start(&data);
    assert_eq!(
        server.overview(&id)["totalScans"],
        5,
        "rebuilt from the log"
    );
    assert_eq!(server.scan("logged", IPHONE_SAFARI).status(), 302);
    assert_eq!(server.wait_for_total(&id, 6)["totalScans"], 6);
    assert_eq!(server.stop().code(), Some(0));

    // A clean stop leaves a checkpoint; damaged, it is ignored and the log read again.
    let checkpoint = data.join("analytics.checkpoint");
    let mut bytes = std::fs::read(&checkpoint).expect("a checkpoint after a clean stop");
    let middle = bytes.len() / 2;
    bytes[middle] ^= 0xff;
    std::fs::write(&checkpoint, bytes).unwrap();
    let server = Server::start(&data);
    assert_eq!(server.overview(&id)["totalScans"], 6);
    assert!(
        server.log().contains("checkpoint is unusable"),
        "{}",
        server.log()
    );
}

#[test]
fn a_full_queue_spills_to_the_spool_and_every_scan_is_counted() {
    let (_tmp, data) = support::data_dir();
    // A queue of one scan: nearly every scan of a burst goes through the disk spool.
    let server = Launch::new(&data)
        .config("[pipeline]\nqueue_capacity = 1\nbatch_size = 1\n")
        .start();
    let qr = server.create_qr(
        json!({"qrType": "WEB", "displayId": "burst", "qrRedirectUrl": "https://example.com/b"}),
    );
    let id = qr["id"].as_str().unwrap().to_owned();
    server.edge_within_a_second("burst", |r| r.status() == 302);

    let per_thread = 100;
    let threads: Vec<_> = (0..4)
        .map(|_| {
            let client = server.client.clone();
            let url = format!("{}/burst", server.edge);
            std::thread::spawn(move || {
                for _ in 0..per_thread {
                    let response = client
                        .get(&url)
                        .header("user-agent", IPHONE_SAFARI)
                        .send()
                        .unwrap();
                    assert_eq!(
                        response.status(),
                        302,
                        "a full queue never fails a redirect"
                    );
                }
            })
        })
        .collect();
    threads.into_iter().for_each(|t| t.join().unwrap());

    let overview = server.wait_for_total(&id, 400);
    assert_eq!(overview["totalScans"], 400, "{overview}");
    std::thread::sleep(Duration::from_millis(1200));
    assert_eq!(server.overview(&id)["totalScans"], 400, "and none twice");
    assert!(
        server.log().contains("spool file replayed"),
        "the spool was used"
    );
}

/// A stop (SIGTERM) that arrives while `qredge serve` is still loading its routes lets the start
/// finish and then stops as any stop does: the process exits 0 having closed the embedded store,
/// which the next open finds clean (an uncaught signal left it open, and the next start first
/// read and checked the whole file to repair it).
#[test]
fn a_stop_during_the_start_closes_the_store_cleanly() {
    let (_tmp, data) = support::data_dir();
    let server = Server::start(&data);
    let team = server.credentials.team_id.clone();
    assert_eq!(server.stop().code(), Some(0));
    // Enough codes that loading them keeps the start busy while the stop arrives.
    const CODES: usize = 100_000;
    let csv = data.with_extension("csv");
    let mut rows = String::from("displayId,url,type\n");
    for i in 0..CODES {
        rows.push_str(&format!("s{i},https://example.com/{i},WEB\n"));
    }
    std::fs::write(&csv, rows).unwrap();
    let import = Command::new(env!("CARGO_BIN_EXE_qredge"))
        .args(["import", "--team", &team, csv.to_str().unwrap()])
        .env("QREDGE_DATA_DIR", &data)
        .output()
        .unwrap();
    assert!(import.status.success(), "{import:?}");

    let mut starting = Launch::new(&data).spawn();
    let store_open = || {
        std::fs::read_dir(format!("/proc/{}/fd", starting.id()))
            .into_iter()
            .flatten()
            .flatten()
            .any(|fd| std::fs::read_link(fd.path()).is_ok_and(|to| to.ends_with("store.redb")))
    };
    let deadline = Instant::now() + Duration::from_secs(30);
    while !store_open() {
        assert!(Instant::now() < deadline, "qredge never opened its store");
        std::thread::sleep(Duration::from_millis(2));
    }
    // Past the store's opening, into the loading of the routes.
    std::thread::sleep(Duration::from_millis(50));
    let pid = starting.id().to_string();
    Command::new("kill").args(["-TERM", &pid]).status().unwrap();
    let status = starting.wait().unwrap();
    let log = std::fs::read_to_string(data.with_extension("log")).unwrap();
    assert_eq!(status.code(), Some(0), "{status:?}; log:\n{log}");
    let stops = log
        .lines()
        .filter(|l| l.trim_end().ends_with(" stopped"))
        .count();
    assert_eq!(stops, 2, "the first start's stop and this one's: {log}");

    let repaired = Arc::new(AtomicBool::new(false));
    let mut builder = redb::Database::builder();
    let seen = Arc::clone(&repaired);
    builder.set_repair_callback(move |_| seen.store(true, Ordering::SeqCst));
    drop(builder.open(data.join("store.redb")).unwrap());
    assert!(
        !repaired.load(Ordering::SeqCst),
        "the store was left open: it needed a repair"
    );
    let server = Server::start(&data);
    server.assert_served(&format!("s{}", CODES - 1));
}
