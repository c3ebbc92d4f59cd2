//! Changes that race: many API connections (and, on Redis, two API processes) update, retitle,
//! tag and delete the same codes at once. Every change is applied to the record as stored, so
//! the acknowledged changes form one serial order (their versions), each answer shows the code as
//! that order leaves it, no deleted code comes back or is served, and the edge serves what the
//! store holds. `If-Match` with a stale ETag answers 412 and changes nothing. Both stores.

use std::sync::atomic::{AtomicUsize, Ordering};
use std::sync::Mutex;
use std::time::{Duration, Instant};

use reqwest::blocking::Client;
use reqwest::Method;
use serde_json::{json, Value};

use crate::support::topology::Topology;
use crate::support::{Credentials, Server};

/// One API process to call, with the credentials to call it with.
#[derive(Clone)]
pub(crate) struct Api {
    url: String,
    pub(crate) credentials: Credentials,
    client: Client,
}

/// An answer: status, the `ETag` header's version, the JSON body.
pub(crate) struct Answer {
    pub(crate) status: u16,
    pub(crate) version: Option<u64>,
    pub(crate) body: Value,
}

impl Api {
    pub(crate) fn of(server: &Server, credentials: &Credentials) -> Self {
        Self {
            url: server.api.clone(),
            credentials: credentials.clone(),
            client: server.client.clone(),
        }
    }

    pub(crate) fn call(
        &self,
        method: Method,
        path: &str,
        body: Option<Value>,
        if_match: &str,
    ) -> Answer {
        self.call_in(&self.credentials.team_id, method, path, body, if_match)
    }

    /// `call`, acting in `team`.
    fn call_in(
        &self,
        team: &str,
        method: Method,
        path: &str,
        body: Option<Value>,
        if_match: &str,
    ) -> Answer {
        let mut request = self
            .client
            .request(method, format!("{}{path}", self.url))
            .header("x-request-team-id", team)
            .header("x-request-client-id", &self.credentials.client_id)
            .header("x-request-client-secret", &self.credentials.client_secret);
        if !if_match.is_empty() {
            request = request.header("if-match", if_match);
        }
        if let Some(body) = body {
            request = request.json(&body);
        }
        let response = request.send().expect("the API answers");
        let status = response.status().as_u16();
        let version = response.headers().get("etag").map(|tag| {
            let tag = tag.to_str().unwrap();
            let digits = tag.strip_prefix('"').and_then(|t| t.strip_suffix('"'));
            digits
                .and_then(|d| d.parse().ok())
                .unwrap_or_else(|| panic!("a strong numeric ETag: {tag}"))
        });
        let body = response.json().unwrap_or(Value::Null);
        Answer {
            status,
            version,
            body,
        }
    }
}

/// What one acknowledged change set.
#[derive(Debug, Clone)]
enum Change {
    Url(String),
    Title(String),
    Tags(Vec<String>),
    Delete,
}

/// The fields the changes touch, as a serial order of them leaves a code.
#[derive(Debug, Clone, PartialEq)]
struct Fields {
    url: String,
    name: String,
    tags: Vec<String>,
    deleted: bool,
}

impl Fields {
    fn of(code: &Value) -> Self {
        Self {
            url: code["qrRedirectUrl"].as_str().unwrap().to_owned(),
            name: code["name"].as_str().unwrap().to_owned(),
            tags: serde_json::from_value(code["tags"].clone()).unwrap(),
            deleted: code["deleted"].as_bool().unwrap(),
        }
    }

    fn apply(&mut self, change: &Change) {
        match change {
            Change::Url(url) => self.url = url.clone(),
            Change::Title(name) => self.name = name.clone(),
            Change::Tags(tags) => self.tags = tags.clone(),
            Change::Delete => self.deleted = true,
        }
    }
}

/// An acknowledged change: the version it made, what it set, and the code its answer showed.
#[derive(Debug)]
struct Acked {
    code: usize,
    version: u64,
    change: Change,
    shown: Fields,
}

const CODES: usize = 3;
const WRITERS: usize = 6;
const CHANGES_EACH: usize = 15;

/// The change writer `w` makes as its `i`th: a new URL, title or tags for one of the codes.
fn change_of(w: usize, i: usize) -> (usize, Method, &'static str, Value, Change) {
    let code = (w + i) % CODES;
    let mark = format!("w{w}-{i}");
    match (w * 7 + i) % 3 {
        0 => {
            let url = format!("https://example.com/{mark}");
            let body = json!({"qrRedirectUrl": url});
            (code, Method::PUT, "", body, Change::Url(url))
        }
        1 => {
            let body = json!({"title": mark});
            (code, Method::PUT, "/title", body, Change::Title(mark))
        }
        _ => {
            let tags = vec![mark.clone(), "shared".to_owned()];
            let body = json!({"tags": tags});
            (code, Method::PUT, "/tags", body, Change::Tags(tags))
        }
    }
}

/// Races the writers against deletes of codes 0 and 1 (after a third and two thirds of the
/// changes were acknowledged) through `apis` in turn, then checks the outcome, on the store and
/// on `edge`.
fn changes_race(apis: &[Api], edge: &Server) {
    let codes: Vec<Value> = (0..CODES)
        .map(|n| {
            let body = json!({"qrType": "WEB", "name": "start", "displayId": format!("race-{n}-{}", qredge::ids::random_alphanumeric(6)), "qrRedirectUrl": "https://example.com/start"});
            let answer = apis[0].call(Method::POST, "/api/qrs-api", Some(body), "");
            assert_eq!(answer.status, 201, "{}", answer.body);
            assert_eq!(answer.version, Some(1), "a new code is at version 1");
            answer.body["data"].clone()
        })
        .collect();
    let ids: Vec<&str> = codes.iter().map(|c| c["id"].as_str().unwrap()).collect();
    let acked = Mutex::new(Vec::new());
    let done = AtomicUsize::new(0);
    let refused_deleted = AtomicUsize::new(0);
    std::thread::scope(|scope| {
        for w in 0..WRITERS {
            let (acked, done, refused_deleted, ids) = (&acked, &done, &refused_deleted, &ids);
            scope.spawn(move || {
                for i in 0..CHANGES_EACH {
                    let (code, method, path, body, change) = change_of(w, i);
                    let api = &apis[(w + i) % apis.len()];
                    let path = format!("/api/qrs-api/{}{path}", ids[code]);
                    let answer = api.call(method, &path, Some(body), "");
                    done.fetch_add(1, Ordering::SeqCst);
                    if answer.status == 409 {
                        // Only a deleted code refuses a change.
                        assert!(code < 2, "{}", answer.body);
                        assert!(answer.body["message"].as_str().unwrap().contains("deleted"));
                        refused_deleted.fetch_add(1, Ordering::SeqCst);
                        continue;
                    }
                    assert_eq!(answer.status, 200, "{path}: {}", answer.body);
                    let shown = Fields::of(&answer.body["data"]);
                    let version = answer.version.expect("an ETag");
                    assert_eq!(
                        answer.body["data"]["version"], version,
                        "ETag is the version"
                    );
                    let entry = Acked {
                        code,
                        version,
                        change,
                        shown,
                    };
                    acked.lock().unwrap().push(entry);
                }
            });
        }
        let (acked, done, ids) = (&acked, &done, &ids);
        scope.spawn(move || {
            for (code, after) in [
                (0, WRITERS * CHANGES_EACH / 3),
                (1, WRITERS * CHANGES_EACH * 2 / 3),
            ] {
                while done.load(Ordering::SeqCst) < after {
                    std::thread::yield_now();
                }
                let path = format!("/api/qrs-api/{}", ids[code]);
                let answer = apis[code % apis.len()].call(Method::DELETE, &path, None, "");
                assert_eq!(answer.status, 200, "{}", answer.body);
                let shown = Fields::of(&answer.body["data"]);
                let version = answer.version.expect("an ETag");
                let entry = Acked {
                    code,
                    version,
                    change: Change::Delete,
                    shown,
                };
                acked.lock().unwrap().push(entry);
            }
        });
    });
    let mut acked = acked.into_inner().unwrap();
    acked.sort_by_key(|a| (a.code, a.version));
    assert_eq!(
        acked.len() + refused_deleted.load(Ordering::SeqCst),
        WRITERS * CHANGES_EACH + 2,
        "every change was acknowledged or refused"
    );

    for (n, id) in ids.iter().enumerate() {
        // The acknowledged changes of the code, in the order of the versions they made: one
        // version each (no two writes made from one read), with no gap (no write unaccounted for).
        let mine: Vec<&Acked> = acked.iter().filter(|a| a.code == n).collect();
        let versions: Vec<u64> = mine.iter().map(|a| a.version).collect();
        let serial: Vec<u64> = (2..2 + mine.len() as u64).collect();
        assert_eq!(
            versions, serial,
            "code {n}: one version per acknowledged change"
        );
        // Each answer shows the code as that order leaves it: no change undid an earlier one.
        let mut expected = Fields::of(&codes[n]);
        for a in &mine {
            expected.apply(&a.change);
            assert_eq!(a.shown, expected, "code {n} at version {}", a.version);
        }
        // A delete is the last change: nothing acknowledged after it, and it stays deleted.
        if n < 2 {
            assert!(
                matches!(mine.last().unwrap().change, Change::Delete),
                "code {n}: {mine:?}"
            );
        }
        let stored = apis[0].call(Method::GET, &format!("/api/qrs-api/{id}"), None, "");
        assert_eq!(stored.version, Some(1 + mine.len() as u64), "code {n}");
        assert_eq!(
            Fields::of(&stored.body["data"]),
            expected,
            "code {n} as stored"
        );

        // The edge serves what the store holds.
        let display_id = codes[n]["displayId"].as_str().unwrap();
        if expected.deleted {
            assert_not_served(edge, display_id);
        } else {
            let response = edge
                .edge_within_a_second(display_id, |r| crate::support::location(r) == expected.url);
            assert_eq!(
                crate::support::location(&response),
                expected.url,
                "code {n}"
            );
        }
    }
}

/// The edge answers 404 for `display_id` within a second, and keeps answering so.
fn assert_not_served(edge: &Server, display_id: &str) {
    let gone = edge.edge_within_a_second(display_id, |r| r.status() == 404);
    assert_eq!(gone.status(), 404, "{display_id} is not served");
    let until = Instant::now() + Duration::from_millis(300);
    while Instant::now() < until {
        let response = edge.scan(display_id, crate::support::IPHONE_SAFARI);
        assert_eq!(response.status(), 404, "{display_id} stays unserved");
        std::thread::sleep(Duration::from_millis(20));
    }
}

/// `If-Match`: a stale ETag is 412 in the error envelope and changes nothing; the current one
/// and `*` are taken; a malformed one is 400.
fn stale_if_match(api: &Api, edge: &Server) {
    let body = json!({"qrType": "WEB", "name": "Menu", "qrRedirectUrl": "https://example.com/v1"});
    let created = api.call(Method::POST, "/api/qrs-api", Some(body), "");
    assert_eq!((created.status, created.version), (201, Some(1)));
    let id = created.body["data"]["id"].as_str().unwrap().to_owned();
    let display_id = created.body["data"]["displayId"]
        .as_str()
        .unwrap()
        .to_owned();
    let path = format!("/api/qrs-api/{id}");
    let read = api.call(Method::GET, &path, None, "");
    assert_eq!((read.status, read.version), (200, Some(1)));

    let v2 = json!({"qrRedirectUrl": "https://example.com/v2"});
    let changed = api.call(Method::PUT, &path, Some(v2), "\"1\"");
    assert_eq!(
        (changed.status, changed.version),
        (200, Some(2)),
        "{}",
        changed.body
    );

    // Another writer still holding version 1: refused, and nothing changes.
    let stale = [
        (
            Method::PUT,
            path.clone(),
            Some(json!({"qrRedirectUrl": "https://example.com/lost"})),
        ),
        (
            Method::PUT,
            format!("{path}/title"),
            Some(json!({"title": "lost"})),
        ),
        (
            Method::PUT,
            format!("{path}/tags"),
            Some(json!({"tags": ["lost"]})),
        ),
        (Method::POST, format!("{path}/image-url"), None),
        (Method::DELETE, path.clone(), None),
    ];
    for (method, at, body) in stale {
        let answer = api.call(method.clone(), &at, body, "\"1\", W/\"2\"");
        assert_eq!(answer.status, 412, "{method} {at}: {}", answer.body);
        assert_eq!(answer.body["success"], false);
        assert!(
            answer.body["message"].as_str().unwrap().contains("\"2\""),
            "{}",
            answer.body
        );
    }
    let after = api.call(Method::GET, &path, None, "");
    assert_eq!(after.version, Some(2), "nothing was written");
    assert_eq!(after.body["data"], changed.body["data"]);
    let served = edge.edge_within_a_second(&display_id, |r| {
        crate::support::location(r) == "https://example.com/v2"
    });
    assert_eq!(crate::support::location(&served), "https://example.com/v2");

    let malformed = api.call(
        Method::PUT,
        &format!("{path}/title"),
        Some(json!({"title": "x"})),
        "2",
    );
    assert_eq!(malformed.status, 400, "{}", malformed.body);
    assert_eq!(malformed.body["success"], false);
    let any = api.call(
        Method::PUT,
        &format!("{path}/title"),
        Some(json!({"title": "any"})),
        "*",
    );
    assert_eq!((any.status, any.version), (200, Some(3)));
    let listed = api.call(
        Method::PUT,
        &format!("{path}/tags"),
        Some(json!({"tags": ["a"]})),
        "\"9\", \"3\"",
    );
    assert_eq!((listed.status, listed.version), (200, Some(4)));
    let deleted = api.call(Method::DELETE, &path, None, "\"4\"");
    assert_eq!((deleted.status, deleted.version), (200, Some(5)));
    assert_eq!(deleted.body["data"]["deleted"], true);
    // Deleting again changes nothing: the same version.
    let again = api.call(Method::DELETE, &path, None, "");
    assert_eq!((again.status, again.version), (200, Some(5)));
    assert_not_served(edge, &display_id);
}

/// Checks that `acked` (version, what it set, what its answer showed) made one version each, in a
/// row after `start`, and that each answer shows `initial` with the changes up to it applied
/// in version order; returns that final state.
fn serial<F: Clone + PartialEq + std::fmt::Debug, C>(
    what: &str,
    start: u64,
    initial: F,
    mut acked: Vec<(u64, C, F)>,
    apply: impl Fn(&mut F, &C),
) -> F {
    acked.sort_by_key(|a| a.0);
    let versions: Vec<u64> = acked.iter().map(|a| a.0).collect();
    let expected: Vec<u64> = (start + 1..=start + acked.len() as u64).collect();
    assert_eq!(
        versions, expected,
        "{what}: one version per acknowledged change"
    );
    let mut state = initial;
    for (version, change, shown) in &acked {
        apply(&mut state, change);
        assert_eq!(shown, &state, "{what} at version {version}");
    }
    state
}

const TEAMS: usize = 3;
const MEMBER: &str = "racer@example.com";
const MEMBER_CHANGES_EACH: usize = 8;

/// What one member change set in one team.
#[derive(Debug, Clone)]
enum MemberChange {
    Role(&'static str),
    Paused(bool),
}

/// Per team: the member's role and whether they are paused there.
type Standing = Vec<(String, bool)>;

/// The member's standing in `teams`, as each team's answer lists them.
fn standing(api: &Api, teams: &[String]) -> Standing {
    teams
        .iter()
        .map(|team| {
            let answer = api.call_in(
                team,
                Method::GET,
                &format!("/api/teams-api/{team}"),
                None,
                "",
            );
            assert_eq!(answer.status, 200, "{}", answer.body);
            let members = answer.body["data"]["members"].as_array().unwrap().clone();
            let me = members
                .iter()
                .find(|m| m["email"] == MEMBER)
                .expect("a member");
            (
                me["role"].as_str().unwrap().to_owned(),
                me["paused"].as_bool().unwrap(),
            )
        })
        .collect()
}

/// Per team, one connection changes one member's role and another pauses and reactivates them
/// there, all at once (every team's entry is part of the one member record): each change is a
/// real one, and none undoes another's.
fn member_changes_race(apis: &[Api]) {
    let teams: Vec<String> = (0..TEAMS)
        .map(|n| {
            let body = json!({"name": format!("Race {n}")});
            let answer = apis[0].call(Method::POST, "/api/teams-api", Some(body), "");
            assert_eq!(
                (answer.status, answer.version),
                (201, Some(1)),
                "{}",
                answer.body
            );
            answer.body["data"]["id"].as_str().unwrap().to_owned()
        })
        .collect();
    let mut start = 0;
    for team in &teams {
        let body = json!({"name": "Racer", "email": MEMBER, "role": "viewer"});
        let path = format!("/api/teams-api/{team}/members");
        let answer = apis[0].call_in(team, Method::POST, &path, Some(body), "");
        assert_eq!(answer.status, 200, "{}", answer.body);
        start = answer.version.expect("an ETag");
    }
    assert_eq!(start, TEAMS as u64, "created, then one write per team");
    let initial = standing(&apis[0], &teams);
    let acked = Mutex::new(Vec::new());
    std::thread::scope(|scope| {
        for w in 0..2 * TEAMS {
            let (acked, teams) = (&acked, &teams);
            scope.spawn(move || {
                let team = &teams[w % TEAMS];
                for i in 0..MEMBER_CHANGES_EACH {
                    let (path, body, change) = match (w < TEAMS, i % 2 == 0) {
                        (true, true) => (
                            "role",
                            json!({"role": "editor"}),
                            MemberChange::Role("editor"),
                        ),
                        (true, false) => (
                            "role",
                            json!({"role": "admin"}),
                            MemberChange::Role("admin"),
                        ),
                        (false, true) => ("pause", json!({}), MemberChange::Paused(true)),
                        (false, false) => ("activate", json!({}), MemberChange::Paused(false)),
                    };
                    let path = format!("/api/teams-api/{team}/members/{path}?email={MEMBER}");
                    let api = &apis[(w + i) % apis.len()];
                    let answer = api.call_in(team, Method::PUT, &path, Some(body), "");
                    assert_eq!(answer.status, 200, "{path}: {}", answer.body);
                    let version = answer.version.expect("an ETag");
                    acked.lock().unwrap().push((version, w % TEAMS, change));
                }
            });
        }
    });
    let mut acked = acked.into_inner().unwrap();
    acked.sort_by_key(|a| a.0);
    let versions: Vec<u64> = acked.iter().map(|a| a.0).collect();
    let serial: Vec<u64> = (start + 1..=start + acked.len() as u64).collect();
    assert_eq!(
        versions, serial,
        "member: one version per acknowledged change"
    );
    let mut expected = initial;
    for (_, team, change) in acked {
        match change {
            MemberChange::Role(role) => expected[team].0 = role.to_owned(),
            MemberChange::Paused(paused) => expected[team].1 = paused,
        }
    }
    for api in apis {
        assert_eq!(
            standing(api, &teams),
            expected,
            "every team's last change holds"
        );
    }

    // A stale If-Match: 412, and nothing changes.
    let team = &teams[0];
    let path = format!("/api/teams-api/{team}/members/role?email={MEMBER}");
    let body = json!({"role": "viewer"});
    let refused = apis[0].call_in(
        team,
        Method::PUT,
        &path,
        Some(body.clone()),
        &format!("\"{start}\""),
    );
    assert_eq!(refused.status, 412, "{}", refused.body);
    assert_eq!(refused.body["success"], false);
    assert_eq!(standing(&apis[0], &teams), expected, "nothing changed");
    let current = format!("\"{}\"", start + (MEMBER_CHANGES_EACH * 2 * TEAMS) as u64);
    let taken = apis[0].call_in(team, Method::PUT, &path, Some(body), &current);
    assert_eq!(taken.status, 200, "{}", taken.body);
}

/// The team's settings the race changes.
#[derive(Debug, Clone, PartialEq)]
struct Settings {
    name: String,
    time_zone: String,
    colour: Value,
}

impl Settings {
    fn of(team: &Value) -> Self {
        Self {
            name: team["name"].as_str().unwrap().to_owned(),
            time_zone: team["timeZone"].as_str().unwrap().to_owned(),
            colour: team["primaryColor"].clone(),
        }
    }
}

const ZONES: [&str; 6] = [
    "UTC",
    "Europe/Berlin",
    "Asia/Tokyo",
    "America/Lima",
    "Africa/Cairo",
    "Asia/Dubai",
];

/// Connections change one team's name, time zone and colour at once: each answer shows the team
/// as the acknowledged changes leave it in version order, and the last of each holds.
fn team_changes_race(apis: &[Api]) {
    let team = apis[0].credentials.team_id.clone();
    let path = format!("/api/teams-api/{team}");
    let read = apis[0].call(Method::GET, &path, None, "");
    let (start, initial) = (
        read.version.expect("an ETag"),
        Settings::of(&read.body["data"]),
    );
    let acked = Mutex::new(Vec::new());
    std::thread::scope(|scope| {
        for w in 0..6 {
            let (acked, path) = (&acked, &path);
            scope.spawn(move || {
                for i in 0..8 {
                    // Each a value of its own, so that every change is a real one.
                    let body = match (w + i) % 3 {
                        0 => json!({"name": format!("w{w}-{i}")}),
                        1 => json!({"name": format!("n{w}-{i}"), "timeZone": ZONES[w]}),
                        _ => json!({"primaryColor": format!("#{w:02x}{i:02x}aa")}),
                    };
                    let answer =
                        apis[(w + i) % apis.len()].call(Method::PUT, path, Some(body.clone()), "");
                    assert_eq!(answer.status, 200, "{}", answer.body);
                    let shown = Settings::of(&answer.body["data"]);
                    acked
                        .lock()
                        .unwrap()
                        .push((answer.version.expect("an ETag"), body, shown));
                }
            });
        }
    });
    let expected = serial(
        "team",
        start,
        initial,
        acked.into_inner().unwrap(),
        |s, body| {
            if let Some(name) = body["name"].as_str() {
                s.name = name.to_owned();
            }
            if let Some(zone) = body["timeZone"].as_str() {
                s.time_zone = zone.to_owned();
            }
            if body.get("primaryColor").is_some() {
                s.colour = body["primaryColor"].clone();
            }
        },
    );
    let end = apis[0].call(Method::GET, &path, None, "");
    assert_eq!(end.version, Some(start + 48));
    assert_eq!(Settings::of(&end.body["data"]), expected);

    let stale = apis[0].call(
        Method::PUT,
        &path,
        Some(json!({"name": "lost"})),
        &format!("\"{start}\""),
    );
    assert_eq!(stale.status, 412, "{}", stale.body);
    let after = apis[0].call(Method::GET, &path, None, "");
    assert_eq!(
        (after.version, Settings::of(&after.body["data"])),
        (end.version, expected)
    );
}

#[test]
fn racing_member_and_team_changes_keep_one_serial_order_embedded() {
    let dir = tempfile::tempdir().unwrap();
    let server = Server::start(dir.path());
    let api = Api::of(&server, &server.credentials);
    member_changes_race(std::slice::from_ref(&api));
    team_changes_race(&[api]);
}

#[test]
fn racing_member_and_team_changes_keep_one_serial_order_on_redis_through_two_api_processes() {
    let topology = Topology::new();
    let first = topology.start("api", "api1");
    let second = topology.start("api", "api2");
    let apis = [
        Api::of(&first, &first.credentials),
        Api::of(&second, &first.credentials),
    ];
    member_changes_race(&apis);
    team_changes_race(&apis);
}

#[test]
fn racing_code_changes_keep_one_serial_order_embedded() {
    let dir = tempfile::tempdir().unwrap();
    let server = Server::start(dir.path());
    let api = Api::of(&server, &server.credentials);
    changes_race(std::slice::from_ref(&api), &server);
    stale_if_match(&api, &server);
}

#[test]
fn racing_code_changes_keep_one_serial_order_on_redis_through_two_api_processes() {
    let topology = Topology::new();
    let first = topology.start("api", "api1");
    let second = topology.start("api", "api2");
    let edge = topology.start("edge", "edge");
    let apis = [
        Api::of(&first, &first.credentials),
        Api::of(&second, &first.credentials),
    ];
    changes_race(&apis, &edge);
    stale_if_match(&apis[1], &edge);
}
