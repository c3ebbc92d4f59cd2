//! Every unbounded list of the API comes a page at a time, on either store: a `limit` with a
//! default and a maximum, and a cursor that continues where a page ended (`nextCursor` beside
//! `data`, and for a GET a `Link: <…>; rel="next"` header). Codes and events written while a
//! client pages neither repeat nor hide what it has not read yet; a cursor of another list, or
//! one the API did not give, is 400.

use std::collections::HashSet;
use std::path::Path;
use std::sync::Arc;

use crate::support::topology::{shared_redis, Topology};
use crate::support::{json_of, Server};
use qredge::model::ScanEvent;
use reqwest::Method;
use serde_json::{json, Value};

/// A GET as the bootstrap owner in `team`: status, body and the `Link` header ("" without).
fn get_in(server: &Server, team: &str, url: &str) -> (u16, Value, String) {
    let url = if url.starts_with("http") {
        url.to_owned()
    } else {
        format!("{}{url}", server.api)
    };
    let response = server
        .client
        .get(url)
        .header("x-request-team-id", team)
        .header("x-request-client-id", &server.credentials.client_id)
        .header("x-request-client-secret", &server.credentials.client_secret)
        .send()
        .unwrap();
    let link = response
        .headers()
        .get("link")
        .map(|l| l.to_str().unwrap().to_owned())
        .unwrap_or_default();
    let (status, body) = json_of(response);
    (status, body, link)
}

fn get(server: &Server, url: &str) -> (u16, Value, String) {
    get_in(server, &server.credentials.team_id, url)
}

fn ids(items: &Value) -> Vec<String> {
    let items = items
        .as_array()
        .unwrap_or_else(|| panic!("a list: {items}"));
    items
        .iter()
        .map(|q| q["id"].as_str().unwrap().to_owned())
        .collect()
}

fn message(body: &Value) -> &str {
    body["message"].as_str().unwrap_or_default()
}

/// Pages through a GET list from `first` (a path with its query) to the end, in `team`; `items`
/// picks a page's items from its body. Every other page is fetched through the Link header,
/// the others by adding `cursor`; both must give the same.
fn every_page(
    server: &Server,
    team: &str,
    first: &str,
    items: impl Fn(&Value) -> Vec<Value>,
) -> Vec<Vec<Value>> {
    let mut pages = Vec::new();
    let mut url = first.to_owned();
    loop {
        let (status, body, link) = get_in(server, team, &url);
        assert_eq!(status, 200, "{url}: {body}");
        assert_eq!(body["success"], true);
        pages.push(items(&body));
        let Some(next) = body["nextCursor"].as_str() else {
            assert_eq!(body["nextCursor"], Value::Null, "{body}");
            assert_eq!(link, "", "no Link on the last page");
            return pages;
        };
        assert!(pages.len() < 1000, "the pages end");
        let target = link
            .strip_prefix('<')
            .and_then(|l| l.strip_suffix(">; rel=\"next\""))
            .unwrap_or_else(|| panic!("a next Link with the cursor: {link:?}"));
        assert!(target.starts_with(&server.api), "{target}");
        assert!(target.contains(&format!("cursor={next}")), "{target}");
        url = if pages.len() % 2 == 0 {
            target.to_owned()
        } else {
            let separator = if first.contains('?') { '&' } else { '?' };
            format!("{first}{separator}cursor={next}")
        };
    }
}

fn items_of(path: &'static str) -> impl Fn(&Value) -> Vec<Value> {
    move |body| body.pointer(path).unwrap().as_array().unwrap().clone()
}

fn flat_ids(pages: &[Vec<Value>]) -> Vec<String> {
    pages.iter().flat_map(|page| ids(&json!(page))).collect()
}

/// The codes `views` in the feeds' order: updatedAt, then id.
fn feed_order(views: &[Value]) -> Vec<String> {
    let mut keyed: Vec<(i64, String)> = views
        .iter()
        .map(|q| {
            (
                q["updatedAt"].as_i64().unwrap(),
                q["id"].as_str().unwrap().to_owned(),
            )
        })
        .collect();
    keyed.sort();
    keyed.into_iter().map(|(_, id)| id).collect()
}

fn bulk_create(server: &Server, team: &str, count: usize, tag: &str) -> Vec<Value> {
    let items: Vec<Value> = (0..count)
        .map(
            |n| json!({"qrType": "WEB", "qrRedirectUrl": format!("https://example.com/{tag}/{n}")}),
        )
        .collect();
    let (status, body) = server.call_as(
        &server.credentials,
        team,
        Method::POST,
        "/api/qrs-api/bulk",
        Some(json!(items)),
    );
    assert_eq!(status, 201, "{body}");
    body["data"]["qrs"].as_array().unwrap().clone()
}

/// The updated-after feeds, a page at a time.
fn feeds(server: &Server) {
    let team = server.credentials.team_id.clone();
    // Codes created in one bulk request share their millisecond: the cursor must page within it.
    let mut codes = bulk_create(server, &team, 30, "a");
    codes
        .push(server.create_qr(json!({"qrType": "WEB", "qrRedirectUrl": "https://example.com/b"})));
    let want = feed_order(&codes);
    // A Link names the next page of a request with no query string too.
    let (_, list, link) = get(server, "/api/qrs-api");
    let next = list["nextCursor"].as_str().unwrap();
    let want_link = format!("<{}/api/qrs-api?cursor={next}>; rel=\"next\"", server.api);
    assert_eq!(link, want_link);
    let feed = "/api/qrs-api/updated-after?fromTime=0&limit=7";
    let pages = every_page(server, &team, feed, items_of("/data"));
    assert!(pages.iter().all(|p| p.len() <= 7));
    assert_eq!(pages.len(), 5, "31 codes, 7 a page");
    assert_eq!(flat_ids(&pages), want);

    // Writes while paging: a code already read and one not read yet are changed, and one is
    // created. The rest come once each; the changed ones come (again) at the end, as they are now.
    let (_, first, _) = get(server, feed);
    let cursor = first["nextCursor"].as_str().unwrap().to_owned();
    let (read, unread) = (&want[2], &want[20]);
    for id in [read, unread] {
        let (status, body) = server.call(
            Method::PUT,
            &format!("/api/qrs-api/{id}/title"),
            Some(json!({"title": "changed while paging"})),
        );
        assert_eq!(status, 200, "{body}");
    }
    let created =
        server.create_qr(json!({"qrType": "WEB", "qrRedirectUrl": "https://example.com/c"}));
    let rest = every_page(
        server,
        &team,
        &format!("{feed}&cursor={cursor}"),
        items_of("/data"),
    );
    let rest = flat_ids(&rest);
    let mut expected: Vec<String> = want[7..]
        .iter()
        .filter(|id| *id != unread)
        .cloned()
        .collect();
    // The changed and the created come last, by their updatedAt now, then id (a change and the
    // create may fall in one millisecond).
    let created_id = created["id"].as_str().unwrap().to_owned();
    let mut last = vec![created.clone()];
    for id in [read, unread] {
        let (status, view) = server.call(Method::GET, &format!("/api/qrs-api/{id}"), None);
        assert_eq!(status, 200, "{view}");
        last.push(view["data"].clone());
    }
    expected.extend(feed_order(&last));
    assert_eq!(rest, expected);

    // fromTime still applies under a cursor: a cursor from before it starts at it.
    let since = created["updatedAt"].as_i64().unwrap();
    let (status, body, _) = get(
        server,
        &format!("/api/qrs-api/updated-after?fromTime={since}&cursor={cursor}"),
    );
    assert_eq!(status, 200, "{body}");
    assert!(ids(&body["data"]).contains(&created_id));
    assert!(!ids(&body["data"]).contains(&want[10]), "{body}");

    // Bad paging is 400, in the envelope.
    let (_, list, _) = get(server, "/api/qrs-api?limit=1");
    let list_cursor = list["nextCursor"].as_str().unwrap();
    for (query, words) in [
        ("limit=0", "limit must be an integer from 1 to 1000"),
        ("limit=1001", "limit must be an integer from 1 to 1000"),
        ("limit=ten", "limit must be an integer from 1 to 1000"),
        ("cursor=bm90IGEgY3Vyc29y", "cursor is not one this API gave"),
        ("cursor=%21%21", "cursor is not one this API gave"),
        (
            &format!("cursor={list_cursor}"),
            "cursor belongs to another list",
        ),
    ] {
        let (status, body, _) = get(
            server,
            &format!("/api/qrs-api/updated-after?fromTime=0&{query}"),
        );
        assert_eq!(
            (status, &body["success"]),
            (400, &json!(false)),
            "{query}: {body}"
        );
        assert!(message(&body).contains(words), "{query}: {body}");
    }

    // The default page is 100 codes; a client that ignores the cursor gets the oldest 100.
    bulk_create(server, &team, 100, "d");
    let (status, body, link) = get(server, "/api/qrs-api/updated-after?fromTime=0");
    assert_eq!(status, 200, "{body}");
    assert_eq!(body["data"].as_array().unwrap().len(), 100);
    assert!(body["nextCursor"].is_string() && !link.is_empty(), "{body}");

    // The all-teams feed merges the caller's teams into one order, a page at a time.
    let (status, other) = server.call(Method::POST, "/api/teams-api", Some(json!({"name": "B"})));
    assert_eq!(status, 201, "{other}");
    let other = other["data"]["id"].as_str().unwrap().to_owned();
    bulk_create(server, &other, 5, "other");
    let everything = every_page(
        server,
        &team,
        "/api/qrs-api/updated-after?fromTime=0&limit=1000",
        items_of("/data"),
    );
    let theirs = every_page(
        server,
        &other,
        "/api/qrs-api/updated-after?fromTime=0",
        items_of("/data"),
    );
    let mut all: Vec<Value> = everything.into_iter().chain(theirs).flatten().collect();
    all.sort_by_key(|q| {
        (
            q["updatedAt"].as_i64().unwrap(),
            q["id"].as_str().unwrap().to_owned(),
        )
    });
    let merged = every_page(
        server,
        &team,
        "/api/qrs-api/all/updated-after?fromTime=0&limit=9",
        items_of("/data"),
    );
    assert!(merged.iter().all(|p| p.len() <= 9));
    assert_eq!(flat_ids(&merged), ids(&json!(all)));
}

#[test]
fn the_updated_after_feeds_come_a_page_at_a_time_embedded() {
    let dir = tempfile::tempdir().unwrap();
    feeds(&Server::start(dir.path()));
}

#[test]
fn the_updated_after_feeds_come_a_page_at_a_time_on_redis() {
    let topology = Topology::new();
    feeds(&topology.start("api", "api"));
}

/// The team list and the key list, which the store reads whole, are served a page at a time too:
/// oldest first, a created one joins at the end, and a cursor of one is refused by the other.
fn teams_and_keys(server: &Server) {
    let team = server.credentials.team_id.clone();
    for n in 0..4 {
        let (status, body) = server.call(
            Method::POST,
            "/api/teams-api",
            Some(json!({"name": format!("Team {n}")})),
        );
        assert_eq!(status, 201, "{body}");
        let (status, body) = server.call(
            Method::POST,
            "/api/keys-api",
            Some(json!({"name": format!("Key {n}"), "scopes": ["codes:read"]})),
        );
        assert_eq!(status, 201, "{body}");
    }
    let whole = |path: &str| get(server, &format!("{path}?limit=500")).1["data"].clone();
    let (all_teams, all_keys) = (whole("/api/teams-api"), whole("/api/keys-api"));
    assert_eq!(all_teams.as_array().unwrap().len(), 5, "{all_teams}");
    assert_eq!(
        all_keys.as_array().unwrap().len(),
        5,
        "the owner's first one and four"
    );

    let teams = every_page(server, &team, "/api/teams-api?limit=2", items_of("/data"));
    assert_eq!(teams.iter().map(Vec::len).collect::<Vec<_>>(), [2, 2, 1]);
    assert_eq!(flat_ids(&teams), ids(&all_teams), "oldest first, each once");
    let key_ids = |pages: &[Vec<Value>]| -> Vec<String> {
        let ids = pages
            .iter()
            .flatten()
            .map(|k| k["clientId"].as_str().unwrap().to_owned());
        ids.collect()
    };
    let keys = every_page(server, &team, "/api/keys-api?limit=3", items_of("/data"));
    assert_eq!(keys.iter().map(Vec::len).collect::<Vec<_>>(), [3, 2]);
    assert_eq!(
        key_ids(&keys),
        key_ids(&[all_keys.as_array().unwrap().clone()])
    );

    // A page's cursor holds its place while a key is made: the new one comes last.
    let (_, first, _) = get(server, "/api/keys-api?limit=3");
    let cursor = first["nextCursor"].as_str().unwrap().to_owned();
    let (status, made) = server.call(
        Method::POST,
        "/api/keys-api",
        Some(json!({"name": "Later", "scopes": ["codes:read"]})),
    );
    assert_eq!(status, 201, "{made}");
    let (status, rest, _) = get(server, &format!("/api/keys-api?limit=3&cursor={cursor}"));
    assert_eq!(status, 200, "{rest}");
    let rest = key_ids(&[rest["data"].as_array().unwrap().clone()]);
    assert_eq!(rest.len(), 3);
    assert_eq!(rest[2], made["data"]["clientId"].as_str().unwrap());

    // One list's cursor is not the other's, and limits are bounded.
    let teams_cursor = get(server, "/api/teams-api?limit=1").1["nextCursor"].clone();
    let (status, body, _) = get(
        server,
        &format!("/api/keys-api?cursor={}", teams_cursor.as_str().unwrap()),
    );
    assert_eq!(status, 400, "{body}");
    assert!(message(&body).contains("another list"), "{body}");
    for bad in [
        "/api/teams-api?limit=0",
        "/api/teams-api?limit=501",
        "/api/keys-api?limit=1001",
    ] {
        let (status, body, _) = get(server, bad);
        assert_eq!(status, 400, "{bad}: {body}");
        assert!(message(&body).contains("limit must be"), "{body}");
    }
}

#[test]
fn teams_and_keys_come_a_page_at_a_time_embedded() {
    let dir = tempfile::tempdir().unwrap();
    teams_and_keys(&Server::start(dir.path()));
}

#[test]
fn teams_and_keys_come_a_page_at_a_time_on_redis() {
    let topology = Topology::new();
    teams_and_keys(&topology.start("api", "api"));
}

/// A scan event of `qr_id` at `time` with the id `n` (32 hex digits, as the edge makes them);
/// an orphan scan of the team's domains for `orphans:TEAM` (its `qrId` is empty).
fn event(n: u128, qr_id: &str, team_id: &str, time: i64) -> ScanEvent {
    let orphan = qr_id.starts_with("orphans:");
    ScanEvent {
        event_id: format!("{:032x}", (7u128 << 64) | n).into(),
        qr_id: if orphan { "" } else { qr_id }.into(),
        team_id: team_id.into(),
        display_id: "d".into(),
        scan_time: time,
        device: "mobile".into(),
        browser: "Safari".into(),
        os: "iOS".into(),
        country: "".into(),
        city: "".into(),
        ip_address: "192.0.2.1".into(),
        referrer: "".into(),
        user_agent: "Mozilla/5.0 (iPhone)".into(),
        bot: false,
        head: false,
        orphan,
    }
}

/// Events of `qr_ids` (and the team's orphans), several in each millisecond: ids from `first`.
fn scans(qr_ids: &[&str], team_id: &str, first: u128, count: u128, t0: i64) -> Vec<ScanEvent> {
    let orphans = format!("orphans:{team_id}");
    let codes: Vec<&str> = qr_ids.iter().copied().chain([orphans.as_str()]).collect();
    (0..count)
        .map(|n| {
            let qr = codes[n as usize % codes.len()];
            event(first + n, qr, team_id, t0 + (n / 4) as i64)
        })
        .collect()
}

/// Where each event id is expected in an answer: newest first.
fn newest_first(events: &[ScanEvent], qr_ids: &[&str], start: i64, end: i64) -> Vec<(i64, String)> {
    let mut want: Vec<(i64, String)> = events
        .iter()
        .filter(|e| qr_ids.contains(&&*e.rollup_id()) && (start..=end).contains(&e.scan_time))
        .map(|e| (e.scan_time, e.event_id.to_string()))
        .collect();
    want.sort_by(|a, b| b.0.cmp(&a.0).then_with(|| a.1.cmp(&b.1)));
    want
}

/// (scanTime, eventId) of each event in `pages`, checking the order is newest first.
fn times_and_ids(pages: &[Vec<Value>]) -> Vec<(i64, String)> {
    let got: Vec<(i64, String)> = pages
        .iter()
        .flatten()
        .map(|e| {
            (
                e["scanTime"].as_i64().unwrap(),
                e["eventId"].as_str().unwrap().to_owned(),
            )
        })
        .collect();
    assert!(
        got.windows(2).all(|w| w[0].0 >= w[1].0),
        "newest first: {got:?}"
    );
    got
}

/// The same events, whatever their order within a millisecond (each store has its own).
fn same_events(mut got: Vec<(i64, String)>, mut want: Vec<(i64, String)>, what: &str) {
    let unique: HashSet<&String> = got.iter().map(|(_, id)| id).collect();
    assert_eq!(unique.len(), got.len(), "{what}: an event came twice");
    got.sort();
    want.sort();
    assert_eq!(got, want, "{what}");
}

/// POSTs a bulk request through every page, following nextCursor in the body.
fn bulk_pages(server: &Server, mut request: Value) -> Vec<Vec<Value>> {
    let mut pages = Vec::new();
    loop {
        let (status, body) = server.call(
            Method::POST,
            "/api/analytics-api/bulk",
            Some(request.clone()),
        );
        assert_eq!(status, 200, "{request}: {body}");
        pages.push(body["data"].as_array().unwrap().clone());
        match body["nextCursor"].as_str() {
            Some(next) => request["cursor"] = json!(next),
            None => return pages,
        }
        assert!(pages.len() < 1000, "the pages end");
    }
}

/// The events of a code, of several codes and of the team's orphans, a page at a time; `more`
/// stores newer events (as a scan arriving while a client pages would).
fn event_pages(
    server: &Server,
    qr_ids: &[&str],
    written: &[ScanEvent],
    more: impl Fn(Vec<ScanEvent>),
) {
    let team = server.credentials.team_id.clone();
    let (a, b) = (qr_ids[0], qr_ids[1]);
    let (t0, t_end) = (written[0].scan_time, written.last().unwrap().scan_time);

    let detailed = format!("/api/analytics-api/detailed/{a}?limit=5");
    let (_, first, _) = get(server, &detailed);
    let cursor = first["nextCursor"].as_str().unwrap().to_owned();
    // Newer scans while the client pages: not in the pages after the first.
    more(scans(qr_ids, &team, 10_000, 12, t_end + 1_000));
    let rest = every_page(
        server,
        &team,
        &format!("{detailed}&cursor={cursor}"),
        items_of("/data"),
    );
    let mut pages = vec![first["data"].as_array().unwrap().clone()];
    pages.extend(rest);
    assert!(pages.iter().all(|p| p.len() <= 5));
    same_events(
        times_and_ids(&pages),
        newest_first(written, &[a], i64::MIN, i64::MAX),
        "detailed",
    );

    // A time range, and pages of one event.
    let (start, end) = (t0 + 2, t0 + 6);
    let ranged = format!("/api/analytics-api/detailed/{a}?startTime={start}&endTime={end}&limit=1");
    let pages = every_page(server, &team, &ranged, items_of("/data"));
    same_events(
        times_and_ids(&pages),
        newest_first(written, &[a], start, end),
        "a range",
    );

    // Orphan scans of the team's domains: the counts on every page, the events a page at a time.
    let orphans = format!("orphans:{team}");
    let pages = every_page(
        server,
        &team,
        &format!("/api/analytics-api/orphans?endTime={t_end}&limit=4"),
        items_of("/data/events"),
    );
    let want = newest_first(written, &[&orphans], i64::MIN, t_end);
    same_events(times_and_ids(&pages), want, "orphans");

    // Several codes: merged newest first, a page at a time; one page of all says the same.
    let request = json!({"qrIds": [b, a, b], "startTime": t0, "endTime": t_end, "limit": 3});
    let pages = bulk_pages(server, request.clone());
    assert!(pages.iter().all(|p| p.len() <= 3));
    let paged = times_and_ids(&pages);
    same_events(
        paged.clone(),
        newest_first(written, &[a, b], t0, t_end),
        "bulk",
    );
    let mut whole = request;
    whole["limit"] = json!(10_000);
    let one_page = bulk_pages(server, whole);
    assert_eq!(one_page.len(), 1);
    assert_eq!(
        times_and_ids(&one_page),
        paged,
        "the pages are the whole answer, cut"
    );

    // Bad paging is 400.
    let (_, list, _) = get(server, "/api/qrs-api?limit=1");
    let foreign = list["nextCursor"].as_str().unwrap();
    for query in [
        "limit=0",
        "limit=10001",
        &format!("cursor={foreign}"),
        "cursor=x",
    ] {
        let (status, body, _) = get(server, &format!("/api/analytics-api/detailed/{a}?{query}"));
        assert_eq!(status, 400, "{query}: {body}");
    }
    let detailed_cursor = cursor;
    for (extra, words) in [
        (
            json!({"limit": 0}),
            "limit must be an integer from 1 to 10000",
        ),
        (
            json!({"cursor": detailed_cursor}),
            "cursor belongs to another list",
        ),
        (json!({"cursor": "???"}), "cursor is not one this API gave"),
    ] {
        let mut request = json!({"qrIds": [a], "startTime": 0, "endTime": t_end});
        request
            .as_object_mut()
            .unwrap()
            .extend(extra.as_object().unwrap().clone());
        let (status, body) = server.call(Method::POST, "/api/analytics-api/bulk", Some(request));
        assert_eq!(status, 400, "{body}");
        assert!(message(&body).contains(words), "{body}");
    }
}

fn two_codes(server: &Server) -> (String, String) {
    let code = |n: u32| {
        let qr = server.create_qr(
            json!({"qrType": "WEB", "qrRedirectUrl": format!("https://example.com/e{n}")}),
        );
        qr["id"].as_str().unwrap().to_owned()
    };
    (code(1), code(2))
}

/// Stores `events` in the embedded analytics of `data_dir`, as the server's aggregator does.
fn store_embedded(data_dir: &Path, events: &[ScanEvent]) {
    let analytics =
        qredge::aggregate::Analytics::open(data_dir, 0, Arc::new(|_: &str| chrono_tz::UTC))
            .unwrap();
    assert_eq!(analytics.apply(events).unwrap(), events.len());
}

#[test]
fn events_come_a_page_at_a_time_embedded() {
    let (_guard, data) = crate::support::data_dir();
    let server = Server::start(&data);
    let (a, b) = two_codes(&server);
    let team = server.credentials.team_id.clone();
    server.stop();
    let t0 = 1_700_000_000_000;
    let written = scans(&[&a, &b], &team, 0, 60, t0);
    store_embedded(&data, &written);
    let server = Server::start(&data);
    let stored_of_a = written.iter().filter(|e| *e.qr_id == *a).count() as u64;
    // Newer scans, as the edge takes them while the client pages.
    let scan_newer = |_: Vec<ScanEvent>| {
        let display_id = {
            let (_, qr) = server.call(Method::GET, &format!("/api/qrs-api/{a}"), None);
            qr["data"]["displayId"].as_str().unwrap().to_owned()
        };
        for _ in 0..3 {
            assert_eq!(
                server
                    .scan(&display_id, crate::support::IPHONE_SAFARI)
                    .status(),
                302
            );
        }
        let overview = server.wait_for_total(&a, stored_of_a + 3);
        assert_eq!(overview["totalScans"], stored_of_a + 3);
    };
    event_pages(&server, &[&a, &b], &written, scan_newer);
}

#[test]
fn events_come_a_page_at_a_time_on_redis() {
    let topology = Topology::new();
    let server = topology.start("api", "api");
    let (a, b) = two_codes(&server);
    let team = server.credentials.team_id.clone();
    let runtime = tokio::runtime::Runtime::new().unwrap();
    let analytics = runtime
        .block_on(qredge::aggregate::RedisAnalytics::connect(
            &shared_redis(),
            &topology.key_prefix(),
            3650,
        ))
        .unwrap();
    let offset = std::cell::Cell::new(0);
    // As the aggregator applies what it consumes.
    let store = |events: Vec<ScanEvent>| {
        let batch: Vec<(i32, i64, ScanEvent)> = events
            .into_iter()
            .map(|e| {
                offset.set(offset.get() + 1);
                (0, offset.get(), e)
            })
            .collect();
        let applied =
            runtime.block_on(analytics.apply("scans", "agg", &batch, &|_: &str| chrono_tz::UTC));
        assert_eq!(applied.unwrap(), batch.len());
    };
    let t0 = qredge::clock::now_ms() - 3_600_000;
    let written = scans(&[&a, &b], &team, 0, 60, t0);
    store(written.clone());
    event_pages(&server, &[&a, &b], &written, store);
}
