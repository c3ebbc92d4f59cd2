//! Criterion benchmarks of the edge's hot path pieces: route lookup, response building,
//! enrichment (user agent with and without the cache, GeoIP), the referrer's host and event
//! serialisation.
//!
//! `cargo bench --bench hot_path`; compare two runs with criterion's saved baselines
//! (`-- --save-baseline before` / `-- --baseline before`).

use std::hint::black_box;
use std::net::{IpAddr, Ipv4Addr, SocketAddr};
use std::sync::Arc;

use arc_swap::ArcSwap;
use criterion::{criterion_group, criterion_main, BatchSize, Criterion};
use hyper::Request;
use qredge::aggregate::referrer::{referrer_host, referrer_host_by_url};
use qredge::aggregate::Analytics;
use qredge::edge::handler::{respond, EdgeState, Unlock};
use qredge::edge::RouteTable;
use qredge::ids::EventIds;
use qredge::model::{Qr, RawScan};
use qredge::pipeline::geoip::GeoIp;
use qredge::pipeline::user_agent;
use qredge::pipeline::{Enricher, ScanSink, Spool};

/// The binary's allocator, so that what depends on it (its free lists, its use of huge pages)
/// is measured as the edge runs.
#[global_allocator]
static ALLOCATOR: mimalloc::MiMalloc = mimalloc::MiMalloc;

#[path = "../tests/it/support/mmdb.rs"]
mod mmdb;

const CODES: usize = 1_000_000;
const IPHONE: &str = "Mozilla/5.0 (iPhone; CPU iPhone OS 17_0 like Mac OS X) AppleWebKit/605.1.15 (KHTML, like Gecko) Version/17.0 Mobile/15E148 Safari/604.1";

fn qr(n: usize) -> Qr {
    Qr::web(
        &format!("qr_{n:020}"),
        "team_bench",
        &format!("c{n:07}"),
        &format!("https://example.com/landing/{n}"),
    )
}

fn raw_scan(n: u128) -> RawScan {
    RawScan {
        event_id: n,
        qr_id: "qr_00000000000000000042".into(),
        team_id: "team_bench".into(),
        display_id: "c0000042".into(),
        scan_time: 1_768_412_112_787,
        ip: IpAddr::V4(Ipv4Addr::new(203, 0, 113, 7)),
        user_agent: Some(IPHONE.into()),
        referrer: None,
        head: false,
        orphan: false,
    }
}

/// Pseudo-random code numbers, so lookups miss the CPU caches as real scans do.
fn spread(i: usize) -> usize {
    (i.wrapping_mul(2_654_435_761)) % CODES
}

fn benches(c: &mut Criterion) {
    // As in production with `metrics.listen` set: every counter below records for real.
    let _metrics = qredge::telemetry::install().unwrap();
    let table = RouteTable::from_qrs((0..CODES).map(qr));
    let keys: Vec<String> = (0..4096).map(|i| format!("c{:07}", spread(i))).collect();

    c.bench_function("route_lookup_1m_random", |b| {
        let mut i = 0;
        b.iter(|| {
            i = (i + 1) & 4095;
            black_box(table.lookup(black_box(&keys[i])))
        })
    });

    // The full answer for one GET, scan hand-off included (queue drained between batches).
    let spool_dir = tempfile::tempdir().unwrap();
    let spool = Arc::new(Spool::open(spool_dir.path()).unwrap());
    let (sink, mut receiver) = ScanSink::new(1 << 16, spool);
    let state = EdgeState {
        table: Arc::new(ArcSwap::from_pointee(table)),
        sink,
        event_ids: EventIds::new(),
        client_ip: qredge::edge::client_ip::ClientIp::default(),
        metrics: Default::default(),
        visitors: qredge::edge::visitor::VisitorLookups::new(None),
        limits: Default::default(),
        password_attempts: Default::default(),
        body_read_timeout: std::time::Duration::from_secs(10),
        orphan_limits: qredge::config::EdgeConfig::default().orphan_limits(),
    };
    let peer: SocketAddr = "203.0.113.7:50000".parse().unwrap();
    let requests: Vec<Request<()>> = keys
        .iter()
        .map(|k| {
            Request::get(format!("/{k}"))
                .header("user-agent", IPHONE)
                .body(())
                .unwrap()
        })
        .collect();
    c.bench_function("respond_redirect_with_scan_handoff", |b| {
        let mut i = 0;
        b.iter_batched(
            || {
                while receiver.try_recv().is_ok() {}
            },
            |()| {
                for _ in 0..1024 {
                    i = (i + 1) & 4095;
                    black_box(respond(&state, peer, &requests[i], Unlock::No));
                }
            },
            BatchSize::PerIteration,
        )
    });

    // An unknown code on the platform's domain: the lookup and a 404, no hand-off.
    let unknown: Vec<Request<()>> = keys
        .iter()
        .map(|k| Request::get(format!("/x{k}")).body(()).unwrap())
        .collect();
    c.bench_function("respond_not_found_without_scan", |b| {
        let mut i = 0;
        b.iter(|| {
            i = (i + 1) & 4095;
            black_box(respond(&state, peer, &unknown[i], Unlock::No))
        })
    });

    // What `handle` adds to `respond` per request: two clock reads, a counter and a histogram.
    c.bench_function("edge_metrics_observe", |b| {
        b.iter(|| {
            let started = std::time::Instant::now();
            state
                .metrics
                .observe(black_box(hyper::StatusCode::FOUND), started.elapsed())
        })
    });

    c.bench_function("user_agent_parse_uncached", |b| {
        b.iter(|| black_box(user_agent::parse(black_box(IPHONE))))
    });

    let enricher = Enricher::new(None);
    let scan = raw_scan(1);
    c.bench_function("enrich_cached_user_agent", |b| {
        b.iter(|| black_box(enricher.enrich(black_box(&scan))))
    });

    let geo_dir = tempfile::tempdir().unwrap();
    let geo_path = geo_dir.path().join("City.mmdb");
    mmdb::write_city_db(
        &geo_path,
        &[mmdb::CityRecord {
            network: "203.0.113.0/24",
            country_iso: "DE",
            city_en: "Berlin",
        }],
    )
    .unwrap();
    let with_geoip = Enricher::new(Some(
        GeoIp::open(&[geo_path], &geo_dir.path().join("copies")).unwrap(),
    ));
    assert_eq!(with_geoip.enrich(&scan).city, "Berlin");
    c.bench_function("enrich_cached_user_agent_and_geoip", |b| {
        b.iter(|| black_box(with_geoip.enrich(black_box(&scan))))
    });

    // The host a scan's referrer counts under, per scan on the aggregator: the shortcut for a
    // plain http(s) URL against the full URL parse every referrer had before (one run, two
    // figures: their ratio is the saving).
    let referrers = [
        "https://www.google.com/",
        "https://l.facebook.com/l.php?u=https%3A%2F%2Fexample.com",
        "http://News.Example.org:8080/a/b?c=d#e",
        "android-app://com.google.android.gm/",
    ];
    c.bench_function("referrer_host", |b| {
        b.iter(|| referrers.map(|r| black_box(referrer_host(black_box(r))).len()))
    });
    c.bench_function("referrer_host_by_url_parse", |b| {
        b.iter(|| referrers.map(|r| black_box(referrer_host_by_url(black_box(r))).len()))
    });

    let event = enricher.enrich(&scan);
    c.bench_function("scan_event_to_json", |b| {
        b.iter(|| black_box(serde_json::to_vec(black_box(&event)).unwrap()))
    });

    // One aggregator transaction of 2048 new events (fsync included): divide by 2048 for the
    // per-scan cost of counting and keeping the detailed event.
    let analytics_dir = tempfile::tempdir().unwrap();
    let analytics =
        Analytics::open(analytics_dir.path(), 0, Arc::new(|_: &str| chrono_tz::UTC)).unwrap();
    let mut next_id = 0u128;
    c.bench_function("aggregate_batch_of_2048", |b| {
        b.iter_batched(
            || {
                (0..2048)
                    .map(|_| {
                        next_id += 1;
                        // A random code of 10 000, visitor, country and city (as run.sh's load).
                        let n = (next_id as u64).wrapping_mul(0x9e37_79b9_7f4a_7c15);
                        let mut scan = raw_scan(next_id);
                        scan.qr_id = format!("qr_{:020}", (n >> 44) % 10_000).into();
                        scan.ip = IpAddr::V4(Ipv4Addr::from((n >> 8) as u32));
                        let mut event = enricher.enrich(&scan);
                        event.country = format!("C{}", (n >> 24) % 150).into();
                        event.city = format!("city {}", (n >> 32) % 5000).into();
                        event
                    })
                    .collect::<Vec<_>>()
            },
            |events| black_box(analytics.apply(&events).unwrap()),
            BatchSize::PerIteration,
        )
    });
}

criterion_group!(hot_path, benches);
criterion_main!(hot_path);
