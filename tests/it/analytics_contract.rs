//! The analytics contract (`ScanAnalytics`) on both of its implementations: the same scans,
//! counted by the embedded analytics and by the Redis rollups (a real redis-server, from
//! scripts/test.sh), give the same answer to every read, with days in the team's zone on both
//! sides of its midnight; a team's own rollups and headline counts answer what its codes' do
//! summed (its orphan scans and other teams' scans apart), and its own list of events pages
//! through its codes' events; and the embedded rollups come back the same after a restart.

use std::sync::Arc;

use chrono::TimeZone;
use chrono_tz::Tz;
use qredge::aggregate::contract::{Codes, DayCounts, EventsOf};
use qredge::aggregate::rollup::{day_number, local_date};
use qredge::aggregate::{Analytics, Dimension, Overview, RedisAnalytics, ScanAnalytics};
use qredge::clock::{now_ms, MS_PER_DAY};
use qredge::model::ScanEvent;

const KIRITIMATI: Tz = chrono_tz::Pacific::Kiritimati;
/// Visitors of the busy code: past what HyperLogLog counts exactly, so both sides must estimate
/// alike.
const CROWD: usize = 6_000;

fn zones(team: &str) -> Tz {
    if team == "team_k" {
        KIRITIMATI
    } else {
        chrono_tz::UTC
    }
}

/// The Kiritimati midnight most recently passed: within retention, and as late as a date gets.
fn last_midnight() -> i64 {
    let today = local_date(now_ms(), KIRITIMATI);
    KIRITIMATI
        .from_local_datetime(&today.and_hms_opt(0, 0, 0).unwrap())
        .unwrap()
        .timestamp_millis()
}

fn scan(n: usize, qr: &str, team: &str, time: i64) -> ScanEvent {
    ScanEvent {
        event_id: format!("{:032x}", (1u128 << 64) | n as u128).into(),
        qr_id: qr.into(),
        team_id: team.into(),
        display_id: qr.into(),
        scan_time: time,
        device: "mobile".into(),
        browser: "Safari".into(),
        os: "iOS".into(),
        country: ["DE", "US", "", "KI"][n % 4].into(),
        city: ["Berlin", "", "Tabwakea"][n % 3].into(),
        ip_address: format!("198.51.{}.{}", n / 250, n % 250).into(),
        referrer: ["", "https://www.example.com/a?b=c", "not a url"][n % 3].into(),
        user_agent: "Mozilla/5.0 (iPhone)".into(),
        bot: false,
        head: false,
        orphan: false,
    }
}

/// Scans on both sides of the team's midnight (the last millisecond of the day before and the
/// first of the day), a bot and a HEAD request, a crowd on one code, a code of a UTC team, and
/// an orphan scan (of no code) of the Kiritimati team.
fn script(midnight: i64) -> Vec<ScanEvent> {
    let mut events = Vec::new();
    let mut n = 0;
    let mut add = |qr: &str, team: &str, time: i64| {
        n += 1;
        events.push(scan(n, qr, team, time));
        n
    };
    for _ in 0..3 {
        add("qr_a", "team_k", midnight - 1);
    }
    for _ in 0..2 {
        add("qr_a", "team_k", midnight);
    }
    for i in 0..CROWD {
        add("qr_b", "team_k", midnight + 60_000 + i as i64 * 1_000);
    }
    for i in 0..4 {
        add("qr_c", "team_utc", midnight - 3 * MS_PER_DAY / 2 + i);
    }
    let bot = add("qr_a", "team_k", midnight + 5);
    let head = add("qr_a", "team_k", midnight + 6);
    let orphan = add("unknown", "team_k", midnight + 7);
    events[bot - 1].bot = true;
    events[head - 1].head = true;
    events[orphan - 1].orphan = true;
    events
}

async fn redis_with(events: &[ScanEvent]) -> RedisAnalytics {
    let url = crate::support::topology::shared_redis();
    let prefix = format!("contract-{}:", qredge::ids::random_alphanumeric(10));
    let redis = RedisAnalytics::connect(&url, &prefix, 30).await.unwrap();
    let batch: Vec<(i32, i64, ScanEvent)> = events
        .iter()
        .cloned()
        .zip(0..)
        .map(|(e, offset)| (0, offset, e))
        .collect();
    let applied = redis.apply("scans", "agg", &batch, &zones).await.unwrap();
    assert_eq!(applied, events.len());
    redis
}

fn embedded_in(dir: &std::path::Path) -> Arc<Analytics> {
    Arc::new(Analytics::open(dir, 0, Arc::new(zones)).unwrap())
}

/// An overview's (total, today, yesterday, bots, last scan, today's day number).
type OverviewFigures = (u64, u64, u64, u64, Option<i64>, i64);

fn figures(o: Overview) -> OverviewFigures {
    let counts = (o.total_scans, o.today_scans, o.yesterday_scans, o.bot_scans);
    (
        counts.0,
        counts.1,
        counts.2,
        counts.3,
        o.last_scan_time,
        o.today,
    )
}

/// Every read of the contract, for the codes the script scanned.
#[derive(Debug, PartialEq)]
struct Answers {
    /// qr_a, qr_b, qr_c, none.
    overviews: Vec<OverviewFigures>,
    /// `TEAMS`'.
    team_overviews: Vec<OverviewFigures>,
    /// `TEAMS`' most scanned codes; then the first of `TEAMS[0]`'s alone.
    top_codes: Vec<Vec<(String, u64)>>,
    events: Vec<Vec<ScanEvent>>,
    /// The event ids of `TEAMS`' own lists, read a page of `TEAM_PAGE` at a time.
    team_events: Vec<Vec<String>>,
    days: Vec<Vec<DayCounts>>,
    buckets: Vec<Vec<(i64, u64)>>,
    breakdowns: Vec<Vec<(String, u64)>>,
}

async fn answers(analytics: &dyn ScanAnalytics, midnight: i64) -> Answers {
    let now = midnight + 10 * 60_000;
    let today = day_number(local_date(midnight, KIRITIMATI));
    let lists: Vec<Vec<String>> = SCOPES
        .iter()
        .map(|ids| ids.iter().map(|id| id.to_string()).collect())
        .collect();
    let scopes = lists
        .iter()
        .map(|ids| Codes::These(ids))
        .chain(TEAMS.iter().map(|team| Codes::Team(team)));
    let mut out = Answers {
        overviews: Vec::new(),
        team_overviews: Vec::new(),
        top_codes: Vec::new(),
        events: Vec::new(),
        team_events: Vec::new(),
        days: Vec::new(),
        buckets: Vec::new(),
        breakdowns: Vec::new(),
    };
    for id in ["qr_a", "qr_b", "qr_c", "none"] {
        let o = analytics.overview(id, now, zones(if id == "qr_c" { "u" } else { "team_k" }));
        out.overviews.push(figures(o.await.unwrap()));
        let page = analytics.events_after(EventsOf::Code(id), i64::MIN, i64::MAX, None, 10);
        let page = page.await.unwrap();
        out.events.push(page.into_iter().map(|(_, e)| e).collect());
    }
    for team in TEAMS {
        let o = analytics
            .team_overview(team, now, zones(team))
            .await
            .unwrap();
        out.team_overviews.push(figures(o));
        out.top_codes
            .push(analytics.top_codes(team, 10).await.unwrap());
        out.team_events.push(team_event_ids(analytics, team).await);
    }
    out.top_codes
        .push(analytics.top_codes(TEAMS[0], 1).await.unwrap());
    for codes in scopes {
        out.days
            .push(analytics.days(codes, today - 3, today + 1).await.unwrap());
        let hour = 3_600_000;
        let buckets = analytics.buckets(codes, midnight - 2 * MS_PER_DAY, midnight + 4 * hour);
        out.buckets.push(buckets.await.unwrap());
        for dimension in Dimension::ALL {
            out.breakdowns
                .push(analytics.breakdown(codes, dimension).await.unwrap());
        }
    }
    out
}

/// Events a page of a team's list holds here: one page ends between two of qr_a's three scans
/// of one millisecond, the oldest of team_k's.
const TEAM_PAGE: usize = 1001;

/// The ids of the team's events, newest first, read a page at a time to the end.
async fn team_event_ids(analytics: &dyn ScanAnalytics, team: &str) -> Vec<String> {
    let (mut ids, mut after) = (Vec::new(), None);
    loop {
        let page = analytics.events_after(
            EventsOf::Team(team),
            i64::MIN,
            i64::MAX,
            after.as_ref(),
            TEAM_PAGE,
        );
        let page = page.await.unwrap();
        let full = page.len() == TEAM_PAGE;
        after = page.last().map(|(at, _)| at.clone());
        ids.extend(page.into_iter().map(|(_, e)| e.event_id.to_string()));
        if !full {
            return ids;
        }
    }
}

/// The lists of codes read together; then the teams (`TEAMS`) read as a whole.
const SCOPES: [&[&str]; 6] = [
    &["qr_a"],
    &["qr_b"],
    &["qr_a", "qr_b", "qr_c"],
    &["none"],
    &["qr_a", "qr_b"],
    &["qr_c"],
];
/// The Kiritimati team (qr_a and qr_b), the UTC team (qr_c) and one without scans.
const TEAMS: [&str; 3] = ["team_k", "team_utc", "team_none"];

/// The days, buckets and breakdowns read of one scope.
type ScopeAnswers<'a> = (&'a [DayCounts], &'a [(i64, u64)], &'a [Vec<(String, u64)>]);

impl Answers {
    /// Every read of scope `i` (an index into `SCOPES`, then `TEAMS`).
    fn scope(&self, i: usize) -> ScopeAnswers<'_> {
        let dims = Dimension::ALL.len();
        (
            &self.days[i],
            &self.buckets[i],
            &self.breakdowns[i * dims..(i + 1) * dims],
        )
    }
}

/// A team's own rollups say what its codes' say summed: the Kiritimati team's codes' on both
/// sides of its midnight (not its orphan scan, nor the UTC team's code), the UTC team's code's,
/// and nothing for a team without scans.
fn assert_teams_are_their_codes_summed(answers: &Answers) {
    let team = |i: usize| answers.scope(SCOPES.len() + i);
    assert_eq!(team(0), answers.scope(4), "team_k is qr_a and qr_b");
    assert_eq!(team(1), answers.scope(5), "team_utc is qr_c");
    assert_eq!(team(2), answers.scope(3), "a team without scans");
    let scans: Vec<u64> = team(0).0.iter().map(|d| d.scans).collect();
    assert_eq!(scans, [0, 0, 3, 2 + CROWD as u64, 0]);
    assert!(!team(0).1.is_empty(), "today's buckets are read");
    assert_eq!(team(1).0.iter().map(|d| d.scans).sum::<u64>(), 4);

    // The headline counts alike: qr_a's and qr_b's added (bots too), the newest of their scans.
    let [a, b, c, _] = answers.overviews[..] else {
        panic!("four overviews")
    };
    let summed = (
        a.0 + b.0,
        a.1 + b.1,
        a.2 + b.2,
        a.3 + b.3,
        a.4.max(b.4),
        a.5,
    );
    assert_eq!(answers.team_overviews[..2], [summed, c]);
    assert_eq!((summed.0, summed.3), (5 + CROWD as u64, 1));
    let (total, today, yesterday, bots, last, _) = answers.team_overviews[2];
    assert_eq!((total, today, yesterday, bots, last), (0, 0, 0, 0, None));

    // The most scanned codes, by their headline scans.
    let top = |codes: &[(&str, u64)]| -> Vec<(String, u64)> {
        codes.iter().map(|(id, n)| (id.to_string(), *n)).collect()
    };
    assert_eq!(
        answers.top_codes,
        [
            top(&[("qr_b", CROWD as u64), ("qr_a", 5)]),
            top(&[("qr_c", 4)]),
            top(&[]),
            top(&[("qr_b", CROWD as u64)]),
        ]
    );
}

/// A team's list holds the events of its codes (bots and HEAD requests too, its orphan scan and
/// other teams' scans apart), newest first, each once.
fn assert_team_lists_are_their_codes_events(answers: &Answers, events: &[ScanEvent]) {
    let of_team = |team: &str| {
        let mut theirs: Vec<&ScanEvent> = events
            .iter()
            .filter(|e| &*e.team_id == team && !e.orphan)
            .collect();
        // Newest first; in one millisecond, the later (greater) id first.
        theirs.sort_by(|a, b| (b.scan_time, &b.event_id).cmp(&(a.scan_time, &a.event_id)));
        theirs
            .iter()
            .map(|e| e.event_id.to_string())
            .collect::<Vec<_>>()
    };
    let expected: Vec<Vec<String>> = TEAMS.iter().map(|team| of_team(team)).collect();
    assert_eq!(expected[0].len(), 7 + CROWD);
    assert_eq!(answers.team_events, expected);
}

#[tokio::test]
async fn both_implementations_answer_alike_across_the_teams_midnight() {
    let midnight = last_midnight();
    let events = script(midnight);
    let redis = redis_with(&events).await;
    let dir = tempfile::tempdir().unwrap();
    let embedded = embedded_in(dir.path());
    assert_eq!(embedded.apply(&events).unwrap(), events.len());

    let from_redis = answers(&redis, midnight).await;
    let from_embedded = answers(&embedded, midnight).await;
    assert_eq!(from_embedded, from_redis);
    assert_teams_are_their_codes_summed(&from_redis);
    assert_team_lists_are_their_codes_events(&from_redis, &events);

    // What both said, spelled out: qr_a's three scans of the day before and two of the day.
    let (total, today, yesterday, bots, _, day) = from_redis.overviews[0];
    assert_eq!((total, today, yesterday, bots), (5, 2, 3, 1));
    assert_eq!(day, day_number(local_date(midnight, KIRITIMATI)));
    let a_days: Vec<u64> = from_redis.days[0].iter().map(|d| d.scans).collect();
    assert_eq!(a_days, [0, 0, 3, 2, 0]);
    let crowd = from_redis.days[1][3].unique_visitors as f64;
    assert!(
        (crowd - CROWD as f64).abs() < CROWD as f64 * 0.03,
        "{crowd}"
    );
    // qr_c's team is on UTC: its day is not the Kiritimati day of the others.
    let all_days: Vec<u64> = from_redis.days[2].iter().map(|d| d.scans).collect();
    assert_eq!(all_days.iter().sum::<u64>(), 5 + CROWD as u64 + 4);
    assert_eq!(from_redis.days[3].iter().map(|d| d.scans).sum::<u64>(), 0);
    let countries = &from_redis.breakdowns[Dimension::ALL.len() * 2];
    assert_eq!(
        countries.iter().map(|(_, n)| n).sum::<u64>(),
        5 + CROWD as u64 + 4
    );
}

#[tokio::test]
async fn the_embedded_rollups_survive_a_restart_with_or_without_a_checkpoint() {
    let midnight = last_midnight();
    let events = script(midnight);
    let dir = tempfile::tempdir().unwrap();
    let embedded = embedded_in(dir.path());
    let (first, second) = events.split_at(events.len() / 2);
    embedded.apply(first).unwrap();
    embedded.checkpoint().unwrap();
    embedded.apply(second).unwrap();
    let before = answers(&embedded, midnight).await;
    drop(embedded);

    let reopened = embedded_in(dir.path());
    assert_eq!(
        answers(&reopened, midnight).await,
        before,
        "checkpoint and log"
    );
    assert_eq!(
        reopened.apply(&events).unwrap(),
        0,
        "replays are not counted"
    );
    drop(reopened);
    std::fs::remove_file(dir.path().join("analytics.checkpoint")).unwrap();
    let from_log = embedded_in(dir.path());
    assert_eq!(answers(&from_log, midnight).await, before, "the log alone");
}
