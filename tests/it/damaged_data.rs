//! The data directory survives damage and mistakes, and keeps its secrets: a damaged event log
//! costs only the records it touched, a lost store is not taken for a first start, detailed
//! events can be kept for a while without touching the counts, everything is private to
//! qredge's user, and an error names its file.

use std::os::unix::fs::PermissionsExt;
use std::path::{Path, PathBuf};
use std::time::{Duration, SystemTime};

use reqwest::Method;
use serde_json::json;

use crate::support::topology::{delete_redis_keys, Topology};
use crate::support::{self, Launch, Server, IPHONE_SAFARI};

/// A code scanned `n` times (GETs alone, so that every stored event counts in the total);
/// returns its id.
fn scanned_code(server: &Server, display_id: &str, n: u64) -> String {
    let qr = server.create_qr(json!({
        "qrType": "WEB", "displayId": display_id, "qrRedirectUrl": "https://example.com/d"
    }));
    let id = qr["id"].as_str().unwrap().to_owned();
    scan(server, display_id, n);
    assert_eq!(server.wait_for_total(&id, n)["totalScans"], n);
    id
}

/// `n` more scans that were redirected (an unknown code's 404 is stored nowhere).
fn scan(server: &Server, display_id: &str, n: u64) {
    let mut redirected = 0;
    for _ in 0..10_000 {
        if redirected == n {
            return;
        }
        if server.scan(display_id, IPHONE_SAFARI).status() == 302 {
            redirected += 1;
        } else {
            std::thread::sleep(Duration::from_millis(2));
        }
    }
    panic!("{display_id} was not served");
}

fn segment(data: &Path, n: u32) -> PathBuf {
    data.join(format!("events/{n:08}.log"))
}

/// Where each record of a segment starts and ends, read by its framing (a little-endian u32
/// length and a CRC-32 before each record).
fn records(path: &Path) -> Vec<(usize, usize)> {
    let bytes = std::fs::read(path).unwrap();
    let mut at = 0;
    let mut out = Vec::new();
    while at + 8 <= bytes.len() {
        let length = u32::from_le_bytes(bytes[at..at + 4].try_into().unwrap()) as usize;
        out.push((at, at + 8 + length));
        at += 8 + length;
    }
    assert_eq!(at, bytes.len(), "{} is whole", path.display());
    out
}

/// Overwrites `len` bytes in the middle of the segment; returns how many records and bytes the
/// damage touched (from the first touched record's start to the next untouched one).
fn damage_the_middle(path: &Path, len: usize) -> (u64, u64) {
    let layout = records(path);
    let mut bytes = std::fs::read(path).unwrap();
    let from = bytes.len() / 2;
    bytes[from..from + len].fill(0xa5);
    std::fs::write(path, &bytes).unwrap();
    let touched: Vec<_> = layout
        .iter()
        .filter(|(start, end)| *start < from + len && *end > from)
        .collect();
    let span = touched.last().unwrap().1 - touched[0].0;
    (touched.len() as u64, span as u64)
}

fn age(path: &Path, days: u64) {
    let file = std::fs::File::options().append(true).open(path).unwrap();
    let then = SystemTime::now() - Duration::from_secs(days * 86_400);
    file.set_modified(then).unwrap();
}

fn detailed(server: &Server, id: &str) -> usize {
    let (status, body) = server.call(
        Method::GET,
        &format!("/api/analytics-api/detailed/{id}"),
        None,
    );
    assert_eq!(status, 200, "{body}");
    body["data"].as_array().unwrap().len()
}

#[test]
fn damage_in_the_middle_of_segments_costs_only_the_records_it_touched() {
    let (_tmp, data) = support::data_dir();
    let server = Server::start(&data);
    let id = scanned_code(&server, "damaged", 40);
    assert_eq!(server.stop().code(), Some(0));
    // Written on an earlier day: the next start writes into a second segment. (Kept for good by
    // default: no retention is configured.)
    age(&segment(&data, 1), 2);
    let server = Server::start(&data);
    scan(&server, "damaged", 40);
    assert_eq!(server.wait_for_total(&id, 80)["totalScans"], 80);
    assert_eq!(server.stop().code(), Some(0));
    assert!(segment(&data, 1).exists() && segment(&data, 2).exists());

    // The checkpoint gone, a segment that is not the last and the last one (good records after
    // the damage: no torn tail) damaged in the middle.
    std::fs::remove_file(data.join("analytics.checkpoint")).unwrap();
    let (lost_1, bytes_1) = damage_the_middle(&segment(&data, 1), 200);
    let (lost_2, bytes_2) = damage_the_middle(&segment(&data, 2), 120);
    let damaged = [1, 2].map(|n| std::fs::read(segment(&data, n)).unwrap());
    let logged_before = std::fs::read_to_string(data.with_extension("log"))
        .unwrap()
        .len();

    let server = Server::start(&data);
    let kept = 80 - lost_1 - lost_2;
    assert_eq!(server.overview(&id)["totalScans"], kept);
    assert_eq!(detailed(&server, &id) as u64, kept);
    let skipped = server.metric("qredge_event_log_skipped_records") as u64;
    assert!(
        (2..=lost_1 + lost_2).contains(&skipped),
        "{skipped} of {lost_1} + {lost_2}"
    );
    assert_eq!(
        server.metric("qredge_event_log_skipped_bytes") as u64,
        bytes_1 + bytes_2
    );
    let log = server.log()[logged_before..].to_owned();
    assert!(
        log.contains(&format!(
            "skipped {skipped} records ({} bytes)",
            bytes_1 + bytes_2
        )),
        "{log}"
    );
    for n in [1, 2] {
        let name = segment(&data, n).display().to_string();
        assert!(log.contains(&name), "the stretch in {name} is named: {log}");
    }
    assert_eq!(
        [1, 2].map(|n| std::fs::read(segment(&data, n)).unwrap()),
        damaged,
        "the damaged bytes are kept as they were"
    );

    // New scans are stored after the damage and counted, and survive the next start.
    scan(&server, "damaged", 1);
    assert_eq!(server.wait_for_total(&id, kept + 1)["totalScans"], kept + 1);
    assert_eq!(server.stop().code(), Some(0));
    let server = Server::start(&data);
    assert_eq!(server.overview(&id)["totalScans"], kept + 1);
}

#[test]
fn a_checkpoint_ahead_of_damage_keeps_its_counts_and_is_never_replaced_by_fewer() {
    let (_tmp, data) = support::data_dir();
    let server = Server::start(&data);
    let id = scanned_code(&server, "covered", 30);
    assert_eq!(server.stop().code(), Some(0));
    let (lost, _) = damage_the_middle(&segment(&data, 1), 200);

    let server = Server::start(&data);
    assert_eq!(
        server.overview(&id)["totalScans"],
        30,
        "from the checkpoint"
    );
    // The damaged events are left out of the detailed ones; the others are still read.
    assert_eq!(detailed(&server, &id) as u64, 30 - lost);
    assert_eq!(server.stop().code(), Some(0));

    // The log loses its second half: the checkpoint still holds every count, and new records go
    // to a new segment, never to positions the checkpoint knows.
    let path = segment(&data, 1);
    let len = std::fs::metadata(&path).unwrap().len();
    std::fs::File::options()
        .write(true)
        .open(&path)
        .unwrap()
        .set_len(len / 2)
        .unwrap();
    let server = Server::start(&data);
    assert_eq!(server.overview(&id)["totalScans"], 30);
    scan(&server, "covered", 1);
    assert_eq!(server.wait_for_total(&id, 31)["totalScans"], 31);
    assert!(segment(&data, 2).exists());
    assert_eq!(server.stop().code(), Some(0));
    let server = Server::start(&data);
    assert_eq!(server.overview(&id)["totalScans"], 31);
}

#[test]
fn retention_removes_old_segments_once_a_checkpoint_covers_them_and_keeps_the_counts() {
    let (_tmp, data) = support::data_dir();
    let config = "[event_log]\nretention_days = 1\n";
    let server = Launch::new(&data).config(config).start();
    let id = scanned_code(&server, "kept", 5);
    // Killed: no checkpoint covers the segment yet.
    server.kill9();
    assert!(!data.join("analytics.checkpoint").exists());
    age(&segment(&data, 1), 3);

    let server = Launch::new(&data).config(config).start();
    assert!(!segment(&data, 1).exists(), "{}", server.log());
    assert!(server.log().contains("removed an event log segment"));
    assert_eq!(server.overview(&id)["totalScans"], 5, "the counts stay");
    assert_eq!(detailed(&server, &id), 0, "the detailed events went");
    scan(&server, "kept", 1);
    assert_eq!(server.wait_for_total(&id, 6)["totalScans"], 6);
    assert_eq!(detailed(&server, &id), 1);
    assert_eq!(server.stop().code(), Some(0));

    let server = Launch::new(&data).config(config).start();
    let overview = server.overview(&id);
    assert_eq!(
        (
            overview["totalScans"].as_u64(),
            overview["todayScans"].as_u64()
        ),
        (Some(6), Some(6))
    );
    assert_eq!(detailed(&server, &id), 1);
}

#[test]
fn a_damaged_line_in_a_spool_file_costs_only_itself() {
    let (_tmp, data) = support::data_dir();
    let server = Server::start(&data);
    let qr = server.create_qr(json!({
        "qrType": "WEB", "displayId": "spooled", "qrRedirectUrl": "https://example.com/s"
    }));
    let id = qr["id"].as_str().unwrap().to_owned();
    let team = server.credentials.team_id.clone();
    assert_eq!(server.stop().code(), Some(0));

    // Two scans left in the spool by an earlier run, with bytes that are not even UTF-8 between.
    let now = SystemTime::now()
        .duration_since(SystemTime::UNIX_EPOCH)
        .unwrap()
        .as_millis();
    let line = |event_id: u64| {
        json!({
            "eventId": event_id, "qrId": id, "teamId": team, "displayId": "spooled",
            "scanTime": now as i64, "ip": "127.0.0.1", "userAgent": IPHONE_SAFARI,
            "referrer": null
        })
        .to_string()
    };
    let mut file = line(1).into_bytes();
    file.extend_from_slice(b"\n\xff\xfe\x00 damaged\n");
    file.extend_from_slice(line(2).as_bytes());
    file.push(b'\n');
    std::fs::write(
        data.join("spool/sealed-00000000000000000001-000000.jsonl"),
        file,
    )
    .unwrap();

    let server = Server::start(&data);
    assert_eq!(
        server.wait_for_total(&id, 2)["totalScans"],
        2,
        "{}",
        server.log()
    );
    assert!(server.log().contains("skipping an unreadable spooled scan"));
}

/// Every file and directory in `dir` (recursively) with its mode.
fn modes(dir: &Path) -> Vec<(PathBuf, bool, u32)> {
    let mut out = Vec::new();
    for entry in std::fs::read_dir(dir).unwrap() {
        let path = entry.unwrap().path();
        let metadata = std::fs::symlink_metadata(&path).unwrap();
        out.push((
            path.clone(),
            metadata.is_dir(),
            metadata.permissions().mode() & 0o777,
        ));
        if metadata.is_dir() {
            out.extend(modes(&path));
        }
    }
    out
}

fn assert_private(data: &Path) {
    let mode = std::fs::metadata(data).unwrap().permissions().mode() & 0o777;
    assert_eq!(mode, 0o700, "{}", data.display());
    let found = modes(data);
    for name in [
        "store.redb",
        "bootstrap.json",
        "events",
        "spool",
        "analytics.checkpoint",
    ] {
        assert!(
            found.iter().any(|(p, _, _)| p.ends_with(name)),
            "{name} in {found:?}"
        );
    }
    for (path, dir, mode) in found {
        let private = if dir { 0o700 } else { 0o600 };
        assert_eq!(mode, private, "{:o} for {}", mode, path.display());
    }
}

#[test]
fn the_data_directory_is_private_and_an_older_ones_modes_are_tightened() {
    let (_tmp, data) = support::data_dir();
    let server = Server::start(&data);
    scanned_code(&server, "private", 3);
    assert_eq!(server.stop().code(), Some(0));
    assert_private(&data);

    // As an earlier version left it: readable by everyone.
    for (path, dir, _) in modes(&data) {
        let mode = if dir { 0o755 } else { 0o644 };
        std::fs::set_permissions(path, std::fs::Permissions::from_mode(mode)).unwrap();
    }
    std::fs::set_permissions(&data, std::fs::Permissions::from_mode(0o755)).unwrap();
    let server = Server::start(&data);
    assert!(
        server
            .log()
            .contains("the data directory was readable by other users"),
        "{}",
        server.log()
    );
    assert_eq!(server.stop().code(), Some(0));
    assert_private(&data);
}

fn assert_refused_as_lost(launch: Launch, data: &Path, found: &[&str]) {
    let bootstrap = std::fs::read(data.join("bootstrap.json")).unwrap();
    let (status, log) = launch.refused();
    assert!(!status.success(), "{log}");
    assert!(log.contains("the store holds no organization"), "{log}");
    assert!(
        log.contains("To start afresh on purpose, move these files out"),
        "{log}"
    );
    for name in found {
        assert!(
            log.contains(&data.join(name).display().to_string()),
            "{name}: {log}"
        );
    }
    assert_eq!(
        std::fs::read(data.join("bootstrap.json")).unwrap(),
        bootstrap,
        "bootstrap.json is never overwritten"
    );
}

#[test]
fn a_lost_embedded_store_beside_earlier_data_is_refused() {
    let (_tmp, data) = support::data_dir();
    let server = Server::start(&data);
    scanned_code(&server, "lost", 2);
    assert_eq!(server.stop().code(), Some(0));
    std::fs::remove_file(data.join("store.redb")).unwrap();

    let found = [
        "bootstrap.json",
        "analytics.checkpoint",
        "events/00000001.log",
    ];
    assert_refused_as_lost(Launch::new(&data), &data, &found);
    // And again: the empty store the refused start opened is no first start either.
    assert_refused_as_lost(Launch::new(&data), &data, &found);
}

#[test]
fn an_empty_redis_keyspace_beside_a_bootstrapped_data_dir_is_refused() {
    let topology = Topology::new();
    let api = topology.start("api", "api");
    api.create_qr(json!({"qrType": "WEB", "qrRedirectUrl": "https://example.com/r"}));
    assert_eq!(api.stop().code(), Some(0));
    let keys = delete_redis_keys(&format!("{}*", topology.key_prefix()));
    assert!(!keys.is_empty());

    let data = topology.root().join("api");
    let launch = Launch::new(&data).role("api").config(&topology.config);
    assert_refused_as_lost(launch, &data, &["bootstrap.json"]);
    // A data directory of its own bootstraps the empty keyspace as a first start.
    let fresh = topology.start("api", "fresh");
    assert!(fresh.stdout.contains("first start"), "{}", fresh.stdout);
}

fn refused_with(data: &Path) -> String {
    let (status, log) = Launch::new(data).refused();
    assert!(!status.success(), "{log}");
    log
}

#[test]
fn start_errors_name_the_file_they_are_about() {
    let (_tmp, data) = support::data_dir();
    let server = Server::start(&data);
    scanned_code(&server, "named", 1);
    assert_eq!(server.stop().code(), Some(0));

    // A checkpoint that cannot be read stops the start: a replay could only write fewer counts
    // over it.
    let checkpoint = data.join("analytics.checkpoint");
    std::fs::rename(&checkpoint, data.join("saved")).unwrap();
    std::fs::create_dir(&checkpoint).unwrap();
    let log = refused_with(&data);
    assert!(log.contains(&checkpoint.display().to_string()), "{log}");
    std::fs::remove_dir(&checkpoint).unwrap();
    std::fs::rename(data.join("saved"), &checkpoint).unwrap();

    // A segment that cannot be opened.
    let next = segment(&data, 2);
    std::fs::create_dir(&next).unwrap();
    let log = refused_with(&data);
    assert!(log.contains(&next.display().to_string()), "{log}");
    std::fs::remove_dir(&next).unwrap();

    // The spool's directory taken by a file.
    let spool = data.join("spool");
    std::fs::remove_dir_all(&spool).unwrap();
    std::fs::write(&spool, b"").unwrap();
    let log = refused_with(&data);
    assert!(log.contains(&spool.display().to_string()), "{log}");
    std::fs::remove_file(&spool).unwrap();

    // A record in the store that cannot be read: the store's file and the record are named.
    {
        let db = redb::Database::open(data.join("store.redb")).unwrap();
        let txn = db.begin_write().unwrap();
        {
            let routes: redb::TableDefinition<&str, &[u8]> = redb::TableDefinition::new("routes");
            let mut table = txn.open_table(routes).unwrap();
            table.insert("broken", b"{not json".as_slice()).unwrap();
        }
        txn.commit().unwrap();
    }
    let log = refused_with(&data);
    assert!(
        log.contains(&data.join("store.redb").display().to_string()),
        "{log}"
    );
    assert!(
        log.contains("the record \"broken\" in the store's routes table"),
        "{log}"
    );
}

#[test]
fn a_record_in_redis_that_cannot_be_read_is_named_by_its_key() {
    let topology = Topology::new();
    let api = topology.start("api", "api");
    let code = api.create_qr(json!({"qrType": "WEB", "qrRedirectUrl": "https://example.com/r"}));
    let id = code["id"].as_str().unwrap();
    let key = format!("{}qr:{id}", topology.key_prefix());
    let mut redis = topology.redis();
    let _: () = redis::cmd("SET")
        .arg(&key)
        .arg("{not json")
        .query(&mut redis)
        .unwrap();
    let (status, body) = api.call(Method::GET, &format!("/api/qrs-api/{id}"), None);
    assert_eq!(status, 500, "{body}");
    assert_eq!(body["success"], false, "{body}");
    let log = api.log();
    assert!(
        log.contains(&format!(
            "the Redis key \"{key}\" holds a record that could not be read"
        )),
        "{log}"
    );
}
