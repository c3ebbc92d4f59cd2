//! The store's contract (`store::RecordStore`, with the edge's `ChangeFeed`), checked at the
//! store level, without HTTP: each case is written once, over the contract, and run against a
//! fresh embedded store in a temporary directory and a fresh Redis store under a key prefix of
//! its own (`CASE::embedded`, `CASE::redis`). Same assertions on both.

use std::collections::BTreeSet;
use std::future::Future;
use std::sync::atomic::{AtomicBool, Ordering};
use std::sync::Arc;
use std::time::Duration;

use qredge::model::template::{builtin_template, Template};
use qredge::model::{Credential, DomainSettings, Member, Qr, QrType, Role, Team};
use qredge::store::redis::RedisStore;
use qredge::store::{
    check, edit, unchecked, Bootstrap, Change, ChangeFeed, Created, EmbeddedStore, FeedRead,
    ListOrder, ListPosition, Notice, PageStart, QrListQuery, Session, SignInToken, Store,
    StoreError,
};

use crate::support::topology::shared_redis;

/// Entries the change feed keeps in these stores: fewer than the lagging case writes.
const KEPT: u64 = 50;
/// Rounds of a race, and writers of one record at once.
const ROUNDS: usize = 20;
const WRITERS: usize = 16;

/// Runs `case` on a fresh embedded store (in a temporary directory).
async fn on_embedded<F: Future<Output = ()>>(case: impl FnOnce(Store, EmbeddedStore) -> F) {
    let dir = tempfile::tempdir().unwrap();
    let store = EmbeddedStore::open(dir.path())
        .unwrap()
        .with_changes_kept(KEPT);
    case(Store::from(store.clone()), store).await;
}

/// Runs `case` on a fresh Redis store (the harness's Redis, under a key prefix of its own).
async fn on_redis<F: Future<Output = ()>>(case: impl FnOnce(Store, RedisStore) -> F) {
    let prefix = format!("tc{}:", qredge::ids::random_alphanumeric(10));
    let store = RedisStore::connect(&shared_redis(), &prefix)
        .await
        .unwrap()
        .with_changes_kept(KEPT);
    case(Store::from(store.clone()), store).await;
}

/// A module per case, with the case run on each store.
macro_rules! on_both_stores {
    ($($case:ident),* $(,)?) => {$(
        mod $case {
            #[tokio::test(flavor = "multi_thread", worker_threads = 4)]
            async fn embedded() {
                super::on_embedded(super::$case).await;
            }

            #[tokio::test(flavor = "multi_thread", worker_threads = 4)]
            async fn redis() {
                super::on_redis(super::$case).await;
            }
        }
    )*};
}

on_both_stores!(
    create_then_read,
    display_ids_are_never_reused,
    the_code_limit_holds,
    an_edit_moves_the_version_by_one_and_a_no_op_writes_nothing,
    a_refused_edit_writes_nothing,
    a_deleted_code_stays_deleted_against_racing_updates,
    concurrent_edits_of_one_code_lose_none,
    list_pages_in_each_order_survive_a_concurrent_insert,
    type_and_tag_filters_follow_every_write,
    a_common_filter_pages_in_the_order_asked,
    a_search_through_many_codes_finds_each_once_while_others_come_and_go,
    a_search_with_a_rare_or_a_common_filter_finds_the_codes_of_both,
    updated_after_changes_come_oldest_first,
    teams_insert_within_limit_and_update,
    a_domain_belongs_to_one_team,
    a_code_is_created_only_on_its_teams_domain,
    a_domain_with_live_codes_is_not_released,
    creates_racing_a_domains_removal_leave_no_code_off_its_team,
    members_insert_update_and_delete_with_their_credentials,
    a_member_deleted_during_role_changes_and_new_keys_stays_deleted,
    credentials_insert_and_delete_by_check,
    templates_are_the_teams_own_and_deleted_by_check,
    sessions_end_and_a_sign_in_token_is_taken_once,
    a_notice_is_taken_once_and_ends,
    the_feed_lists_each_write_in_commit_order,
    a_feed_trimmed_past_a_cursor_reads_lagged,
);

// --- Helpers ---

/// The store's first organization, team and owner (its bootstrap), as stored.
struct Setup {
    boot: Bootstrap,
    team: Team,
    owner: Member,
}

async fn set_up(store: &Store) -> Setup {
    let dir = tempfile::tempdir().unwrap();
    let boot = store
        .bootstrap_if_empty(dir.path(), "localhost:8080")
        .await
        .unwrap()
        .expect("a fresh store bootstraps");
    assert!(
        store
            .bootstrap_if_empty(dir.path(), "localhost:8080")
            .await
            .unwrap()
            .is_none(),
        "once"
    );
    let team = store.team(&boot.team_id).await.unwrap().unwrap();
    let credential = store.credential(&boot.client_id).await.unwrap().unwrap();
    let owner = store.member(&credential.member_id).await.unwrap().unwrap();
    Setup { boot, team, owner }
}

fn code(team: &str, display_id: &str) -> Qr {
    let mut qr = Qr::web(
        &qredge::ids::new_id("qr"),
        team,
        display_id,
        &format!("https://{display_id}.example/"),
    );
    qr.created_at = 1_000;
    qr.updated_at = 1_000;
    qr
}

/// `code` on the custom domain `domain`.
fn code_on(team: &str, domain: &str, display_id: &str) -> Qr {
    let mut qr = code(team, display_id);
    qr.base_url = Some(format!("https://{domain}/"));
    qr.domain = Some(domain.to_owned());
    qr
}

/// The first page (of up to 100 000) of the team's codes whose name or displayId contains `text`,
/// by name.
pub(crate) fn search_query(team: &str, text: &str) -> QrListQuery {
    QrListQuery {
        team_id: team.to_owned(),
        order: ListOrder::Name,
        descending: false,
        start: PageStart::Offset(0),
        limit: 100_000,
        search: Some(text.to_owned()),
        qr_type: None,
        tag: None,
    }
}

fn set_url(url: &str) -> qredge::store::Edit<Qr> {
    let url = url.to_owned();
    edit(move |qr: &mut Qr| {
        qr.qr_redirect_url = Some(url.clone());
        Ok(())
    })
}

/// What the API's changes do first: a deleted code is refused.
fn refusing_deleted(change: qredge::store::Edit<Qr>) -> qredge::store::Edit<Qr> {
    edit(move |qr: &mut Qr| {
        if qr.deleted {
            return Err(StoreError::NotFound);
        }
        change(qr)
    })
}

fn delete() -> qredge::store::Edit<Qr> {
    edit(|qr: &mut Qr| {
        qr.deleted = true;
        Ok(())
    })
}

fn with_domains(domains: &[&str]) -> qredge::store::Edit<Team> {
    let domains: Vec<String> = domains.iter().map(|d| d.to_string()).collect();
    edit(move |team: &mut Team| {
        team.domain_settings = domains
            .iter()
            .map(|d| (d.clone(), DomainSettings::default()))
            .collect();
        Ok(())
    })
}

fn member(org_id: &str, email: &str, teams: &[(&str, Role)]) -> Member {
    Member {
        id: qredge::ids::new_id("mem"),
        org_id: org_id.to_owned(),
        name: email.to_owned(),
        email: email.to_owned(),
        teams: teams.iter().map(|(t, r)| (t.to_string(), *r)).collect(),
        paused: false,
        created_at: 1_000,
        paused_teams: Default::default(),
        invited_at: Some(1_000),
        version: 0,
        password_hash: None,
    }
}

fn credential(member_id: &str, bound_to: Option<&[&str]>, created_at: i64) -> Credential {
    let binding = bound_to.map(|teams| qredge::model::Binding {
        granted_by: "mem_granter".into(),
        teams: teams.iter().map(|t| t.to_string()).collect(),
    });
    Credential {
        client_id: qredge::ids::new_id("cli"),
        secret_sha256: qredge::store::hash_secret("secret"),
        member_id: member_id.to_owned(),
        created_at,
        name: "key".into(),
        scopes: None,
        made_by: None,
        binding,
        version: 0,
    }
}

fn refused(message: &str) -> StoreError {
    StoreError::Refused(message.to_owned().into())
}

// --- Codes ---

async fn create_then_read(store: Store, _: impl ChangeFeed) {
    let setup = set_up(&store).await;
    let team = &setup.team.id;
    let (a, b) = (code(team, "first"), code(team, "second"));
    store.create_qr(&a).await.unwrap();
    store.create_qr(&b).await.unwrap();
    let stored = store.qr(&a.id).await.unwrap().expect("stored");
    assert_eq!(stored.version, 1, "a new code is at the first version");
    assert_eq!(stored.qr_redirect_url, a.qr_redirect_url);
    assert!(store.qr("qr_missing").await.unwrap().is_none());
    let ids: Vec<String> = store
        .qrs_by_id(&[b.id.as_str(), "qr_missing", a.id.as_str()])
        .await
        .unwrap()
        .into_iter()
        .map(|qr| qr.id)
        .collect();
    assert_eq!(
        ids,
        [b.id.clone(), a.id.clone()],
        "those that exist, in that order"
    );
    assert_eq!(store.live_qr_count(team).await.unwrap(), 2);
    let all: BTreeSet<String> = store
        .team_qrs(team)
        .await
        .unwrap()
        .into_iter()
        .map(|qr| qr.id)
        .collect();
    assert_eq!(all, BTreeSet::from([a.id, b.id]));
}

async fn display_ids_are_never_reused(store: Store, _: impl ChangeFeed) {
    let setup = set_up(&store).await;
    let team = &setup.team.id;
    let first = code(team, "taken");
    store.create_qr(&first).await.unwrap();
    let again = store.create_qr(&code(team, "taken")).await;
    assert!(matches!(again, Err(StoreError::DisplayIdTaken(d)) if d == "taken"));
    store.update_qr(&first.id, delete()).await.unwrap();
    let after_delete = store.create_qr(&code(team, "taken")).await;
    assert!(
        matches!(after_delete, Err(StoreError::DisplayIdTaken(_))),
        "a deleted code keeps its displayId"
    );
    let batch = vec![
        code(team, "taken"),
        code(team, "fresh"),
        code(team, "fresh"),
    ];
    assert_eq!(store.create_qrs(batch).await.unwrap(), [false, true, false]);
    // A rename onto a taken displayId is refused and changes nothing.
    let other = code(team, "other");
    store.create_qr(&other).await.unwrap();
    let rename = edit(|qr: &mut Qr| {
        qr.display_id = "fresh".into();
        Ok(())
    });
    let renamed = store.update_qr(&other.id, rename).await;
    assert!(matches!(renamed, Err(StoreError::DisplayIdTaken(_))));
    assert_eq!(store.qr(&other.id).await.unwrap().unwrap().version, 1);
}

async fn the_code_limit_holds(store: Store, _: impl ChangeFeed) {
    let setup = set_up(&store).await;
    let team = &setup.team.id;
    for n in 0..2 {
        let qr = code(team, &format!("within-{n}"));
        store.create_qr_within(&qr, Some(2)).await.unwrap();
    }
    let over = store.create_qr_within(&code(team, "over"), Some(2)).await;
    assert!(matches!(over, Err(StoreError::CodeLimit(2))));
    let batch = vec![code(team, "b-0"), code(team, "b-1")];
    let created = store.create_qrs_within(batch, Some(3)).await.unwrap();
    assert_eq!(created, [Created::Stored, Created::OverLimit]);
    assert_eq!(store.live_qr_count(team).await.unwrap(), 3);
    assert!(store.qr("qr_missing").await.unwrap().is_none());
}

async fn an_edit_moves_the_version_by_one_and_a_no_op_writes_nothing<F: ChangeFeed>(
    store: Store,
    feed: F,
) {
    let setup = set_up(&store).await;
    let qr = code(&setup.team.id, "versioned");
    store.create_qr(&qr).await.unwrap();
    let changed = store
        .update_qr(&qr.id, set_url("https://new.example/"))
        .await
        .unwrap();
    assert_eq!(changed.version, 2);
    assert_eq!(
        changed,
        store.qr(&qr.id).await.unwrap().unwrap(),
        "as stored"
    );
    let cursor = feed.cursor().await.unwrap();
    let same = store
        .update_qr(&qr.id, set_url("https://new.example/"))
        .await
        .unwrap();
    assert_eq!(
        same.version, 2,
        "an edit that changes nothing writes nothing"
    );
    assert_eq!(
        feed.cursor().await.unwrap().to_string(),
        cursor.to_string(),
        "and tells the feed nothing"
    );
    let missing = store
        .update_qr("qr_missing", set_url("https://x.example/"))
        .await;
    assert!(matches!(missing, Err(StoreError::NotFound)));
}

async fn a_refused_edit_writes_nothing(store: Store, _: impl ChangeFeed) {
    let setup = set_up(&store).await;
    let qr = code(&setup.team.id, "refused");
    store.create_qr(&qr).await.unwrap();
    let half_done = edit(|qr: &mut Qr| {
        qr.name = "half done".into();
        Err(refused("not this one"))
    });
    let outcome = store.update_qr(&qr.id, half_done).await;
    assert!(matches!(outcome, Err(StoreError::Refused(r)) if r.to_string() == "not this one"));
    let stale = edit(|qr: &mut Qr| {
        qr.name = "stale".into();
        Err(StoreError::Stale {
            current: qr.version,
        })
    });
    let outcome = store.update_qr(&qr.id, stale).await;
    assert!(matches!(outcome, Err(StoreError::Stale { current: 1 })));
    let stored = store.qr(&qr.id).await.unwrap().unwrap();
    assert_eq!((stored.name.as_str(), stored.version), ("Untitled", 1));
}

async fn a_deleted_code_stays_deleted_against_racing_updates<F: ChangeFeed>(store: Store, feed: F) {
    let setup = set_up(&store).await;
    for round in 0..ROUNDS {
        let qr = code(&setup.team.id, &format!("race-{round}"));
        store.create_qr(&qr).await.unwrap();
        let updates: Vec<_> = (0..4)
            .map(|n| {
                let (store, id) = (store.clone(), qr.id.clone());
                let change = refusing_deleted(set_url(&format!("https://u{n}.example/")));
                tokio::spawn(async move { store.update_qr(&id, change).await })
            })
            .collect();
        let deletion = {
            let (store, id) = (store.clone(), qr.id.clone());
            tokio::spawn(async move { store.update_qr(&id, delete()).await })
        };
        assert!(deletion.await.unwrap().unwrap().deleted);
        for update in updates {
            match update.await.unwrap() {
                Ok(updated) => assert!(!updated.deleted),
                Err(StoreError::NotFound) => {}
                Err(e) => panic!("round {round}: {e}"),
            }
        }
        let stored = store.qr(&qr.id).await.unwrap().unwrap();
        assert!(stored.deleted, "round {round}: deleted for good");
        let route = feed.routes(vec![qr.route_key()]).await.unwrap();
        assert_eq!(route, [None], "round {round}: not served");
    }
    assert_eq!(store.live_qr_count(&setup.team.id).await.unwrap(), 0);
}

async fn concurrent_edits_of_one_code_lose_none(store: Store, _: impl ChangeFeed) {
    let setup = set_up(&store).await;
    let qr = code(&setup.team.id, "tagged");
    store.create_qr(&qr).await.unwrap();
    let writers: Vec<_> = (0..WRITERS)
        .map(|n| {
            let (store, id) = (store.clone(), qr.id.clone());
            let tag = edit(move |qr: &mut Qr| {
                qr.tags.push(format!("tag-{n}"));
                Ok(())
            });
            tokio::spawn(async move { store.update_qr(&id, tag).await })
        })
        .collect();
    let mut versions = BTreeSet::new();
    for writer in writers {
        versions.insert(writer.await.unwrap().unwrap().version);
    }
    let expected: BTreeSet<u64> = (2..=1 + WRITERS as u64).collect();
    assert_eq!(
        versions, expected,
        "one serial order: each write its own version"
    );
    let stored = store.qr(&qr.id).await.unwrap().unwrap();
    let tags: BTreeSet<String> = stored.tags.into_iter().collect();
    assert_eq!(tags, (0..WRITERS).map(|n| format!("tag-{n}")).collect());
    assert_eq!(stored.version, 1 + WRITERS as u64);
}

async fn list_pages_in_each_order_survive_a_concurrent_insert(store: Store, _: impl ChangeFeed) {
    let setup = set_up(&store).await;
    let team = setup.team.id.clone();
    let mut ids = Vec::new();
    for n in 0..7u8 {
        let mut qr = code(&team, &format!("list-{n}"));
        qr.name = format!("name {}", (b'a' + n) as char);
        qr.created_at = 10_000 + i64::from(n);
        qr.updated_at = 20_000 - i64::from(n);
        store.create_qr(&qr).await.unwrap();
        ids.push(qr.id);
    }
    let gone = ids.pop().unwrap();
    store.update_qr(&gone, delete()).await.unwrap();
    for order in [ListOrder::CreatedAt, ListOrder::UpdatedAt, ListOrder::Name] {
        for descending in [false, true] {
            // Created and named in one order, updated in the other.
            let mut expected = ids.clone();
            if (order != ListOrder::UpdatedAt) == descending {
                expected.reverse();
            }
            let mut query = QrListQuery {
                team_id: team.clone(),
                order,
                descending,
                start: PageStart::Offset(0),
                limit: 2,
                search: None,
                qr_type: None,
                tag: None,
            };
            let first = store.list_qrs(&query).await.unwrap();
            assert_eq!(
                first.total as usize,
                ids.len(),
                "deleted codes are not listed"
            );
            // Between two pages, a code that sorts first in this order: paging past where the
            // last page ended, it neither shifts nor repeats the pages.
            let mut early = code(&team, &format!("early-{order:?}-{descending}"));
            (early.name, early.created_at, early.updated_at) = match descending {
                false => ("000".into(), 1, 1),
                true => ("zzz".into(), 99_000, 99_000),
            };
            store.create_qr(&early).await.unwrap();
            let mut listed: Vec<String> = first.qrs.into_iter().map(|qr| qr.id).collect();
            let mut next = first.next;
            while let Some(position) = next {
                query.start = PageStart::After(position);
                let page = store.list_qrs(&query).await.unwrap();
                listed.extend(page.qrs.into_iter().map(|qr| qr.id));
                next = page.next;
            }
            assert_eq!(listed, expected, "{order:?}, descending: {descending}");
            store.update_qr(&early.id, delete()).await.unwrap();
        }
    }
}

/// A filtered list of `team`, every page of it walked by cursor and by offset (two codes a page),
/// in each order and direction: the ids in updatedAt-descending order, after checking that
/// every walk lists the same codes and that each page's total is that many.
async fn filtered(
    store: &Store,
    team: &str,
    qr_type: Option<QrType>,
    tag: Option<&str>,
    search: Option<&str>,
) -> Vec<String> {
    let mut newest_first = None;
    for order in [ListOrder::UpdatedAt, ListOrder::CreatedAt, ListOrder::Name] {
        for descending in [true, false] {
            let query = QrListQuery {
                team_id: team.to_owned(),
                order,
                descending,
                start: PageStart::Offset(0),
                limit: 2,
                search: search.map(str::to_owned),
                qr_type,
                tag: tag.map(str::to_owned),
            };
            let (by_cursor, by_offset) = pages_both_ways(store, query).await;
            assert_eq!(by_offset, by_cursor, "{order:?}, descending {descending}");
            let sorted: BTreeSet<&String> = by_cursor.iter().collect();
            assert_eq!(sorted.len(), by_cursor.len(), "no code twice");
            match &newest_first {
                None => newest_first = Some(by_cursor),
                Some(first) => {
                    let listed: BTreeSet<&String> = first.iter().collect();
                    assert_eq!(sorted, listed, "{order:?}: the same codes in every order");
                }
            }
        }
    }
    newest_first.unwrap()
}

async fn type_and_tag_filters_follow_every_write(store: Store, _: impl ChangeFeed) {
    let setup = set_up(&store).await;
    let team = setup.team.id.clone();
    let make = |n: i64, name: &str, qr_type: QrType, tags: &[&str]| {
        let mut qr = code(&team, &format!("filter-{name}"));
        (qr.name, qr.qr_type) = (name.to_owned(), qr_type);
        qr.tags = tags.iter().map(|tag| tag.to_string()).collect();
        (qr.created_at, qr.updated_at) = (1_000 + n, 2_000 - n);
        qr
    };
    let alpha = make(1, "alpha", QrType::Web, &["Summer"]);
    let beta = make(2, "beta", QrType::Pdf, &["summer", "x"]);
    let gamma = make(3, "gamma", QrType::Pdf, &["Summer", "Summer"]);
    let delta = make(4, "delta", QrType::Pdf, &[]);
    store.create_qr(&alpha).await.unwrap();
    store.create_qr(&beta).await.unwrap();
    let bulk = vec![gamma.clone(), delta.clone()];
    assert_eq!(store.create_qrs(bulk).await.unwrap(), [true, true]);
    // Another team's code of the same type and tag is in none of this team's lists.
    let other = second_team(&store, &setup).await;
    let mut theirs = make(5, "theirs", QrType::Pdf, &["Summer"]);
    theirs.team_id = other.id.clone();
    store.create_qr(&theirs).await.unwrap();

    let ids = |qrs: &[&Qr]| -> Vec<String> { qrs.iter().map(|qr| qr.id.clone()).collect() };
    let pdf = Some(QrType::Pdf);
    assert_eq!(
        filtered(&store, &team, pdf, None, None).await,
        ids(&[&beta, &gamma, &delta])
    );
    assert_eq!(
        filtered(&store, &team, None, Some("Summer"), None).await,
        ids(&[&alpha, &gamma]),
        "a tag matches exactly, case included"
    );
    assert_eq!(
        filtered(&store, &team, pdf, Some("Summer"), None).await,
        ids(&[&gamma])
    );
    assert_eq!(
        filtered(&store, &team, pdf, None, Some("ta")).await,
        ids(&[&beta, &delta])
    );
    assert_eq!(
        filtered(&store, &team, None, Some("summer"), Some("be")).await,
        ids(&[&beta])
    );
    assert!(filtered(&store, &team, Some(QrType::Vcard), None, None)
        .await
        .is_empty());

    // An update that changes the type and the tags moves the code between the lists.
    let retyped = edit(|qr: &mut Qr| {
        (qr.qr_type, qr.tags) = (QrType::Pdf, vec!["x".into()]);
        qr.updated_at = 3_000;
        Ok(())
    });
    let alpha = store.update_qr(&alpha.id, retyped).await.unwrap();
    assert_eq!(
        filtered(&store, &team, pdf, None, None).await,
        ids(&[&alpha, &beta, &gamma, &delta])
    );
    assert_eq!(
        filtered(&store, &team, None, Some("Summer"), None).await,
        ids(&[&gamma])
    );
    assert_eq!(
        filtered(&store, &team, None, Some("x"), None).await,
        ids(&[&alpha, &beta])
    );
    assert!(filtered(&store, &team, Some(QrType::Web), None, None)
        .await
        .is_empty());

    // A deleted code is in no filtered list; brought back, it is again.
    store.update_qr(&gamma.id, delete()).await.unwrap();
    assert!(filtered(&store, &team, None, Some("Summer"), None)
        .await
        .is_empty());
    assert_eq!(
        filtered(&store, &team, pdf, None, None).await,
        ids(&[&alpha, &beta, &delta])
    );
    let back = edit(|qr: &mut Qr| {
        qr.deleted = false;
        qr.updated_at = 4_000;
        Ok(())
    });
    let gamma = store.update_qr(&gamma.id, back).await.unwrap();
    assert_eq!(
        filtered(&store, &team, None, Some("Summer"), None).await,
        ids(&[&gamma])
    );
    assert_eq!(
        filtered(&store, &other.id, pdf, Some("Summer"), None).await,
        ids(&[&theirs])
    );
}

/// Every page of `query` walked by cursor, then by offset (with the empty page after a full last
/// one), checking that each offset page's total is what the cursor walk listed: the ids listed
/// each way.
async fn pages_both_ways(store: &Store, mut query: QrListQuery) -> (Vec<String>, Vec<String>) {
    let (mut by_cursor, mut by_offset) = (Vec::new(), Vec::new());
    loop {
        let page = store.list_qrs(&query).await.unwrap();
        by_cursor.extend(page.qrs.iter().map(|qr| qr.id.clone()));
        let Some(next) = page.next else { break };
        query.start = PageStart::After(next);
    }
    for offset in (0..=by_cursor.len()).step_by(query.limit) {
        query.start = PageStart::Offset(offset);
        let page = store.list_qrs(&query).await.unwrap();
        assert_eq!(
            page.total as usize,
            by_cursor.len(),
            "{:?} total",
            query.order
        );
        by_offset.extend(page.qrs.into_iter().map(|qr| qr.id));
    }
    (by_cursor, by_offset)
}

/// A filter that holds most of the team's codes (what a store may read through the order's own
/// index rather than through the filter) pages in the order asked, by name and by createdAt,
/// either way, with two filters as with one.
async fn a_common_filter_pages_in_the_order_asked(store: Store, _: impl ChangeFeed) {
    let setup = set_up(&store).await;
    let team = setup.team.id.clone();
    let mut codes = Vec::new();
    for n in 0..60i64 {
        let mut qr = code(&team, &format!("common-{n:02}"));
        // Names and creation times in orders of their own, neither the ids' nor each other's.
        qr.name = format!("name {:02}", (n * 37) % 60);
        (qr.created_at, qr.updated_at) = (10_000 + (n * 23) % 60, 20_000 + n);
        if n % 4 == 3 {
            qr.qr_type = QrType::Pdf;
        }
        if n % 3 != 0 {
            qr.tags = vec!["common".into()];
        }
        store.create_qr(&qr).await.unwrap();
        codes.push(qr);
    }
    for (tag, kept) in [(None, 45), (Some("common"), 30)] {
        let wanted: Vec<&Qr> = codes
            .iter()
            .filter(|qr| qr.qr_type == QrType::Web)
            .filter(|qr| tag.is_none_or(|tag| qr.tags.iter().any(|t| t == tag)))
            .collect();
        assert_eq!(wanted.len(), kept);
        for order in [ListOrder::Name, ListOrder::CreatedAt] {
            let mut expected = wanted.clone();
            match order {
                ListOrder::Name => expected.sort_by(|a, b| (&a.name, &a.id).cmp(&(&b.name, &b.id))),
                _ => expected.sort_by_key(|qr| (qr.created_at, qr.id.clone())),
            }
            let mut expected: Vec<String> = expected.iter().map(|qr| qr.id.clone()).collect();
            for descending in [false, true] {
                if descending {
                    expected.reverse();
                }
                let query = QrListQuery {
                    team_id: team.clone(),
                    order,
                    descending,
                    start: PageStart::Offset(0),
                    limit: 4,
                    search: None,
                    qr_type: Some(QrType::Web),
                    tag: tag.map(str::to_owned),
                };
                let total = store.list_qrs(&query).await.unwrap().total;
                assert_eq!(total as usize, kept, "{order:?} {tag:?}: the total");
                let (by_cursor, by_offset) = pages_both_ways(&store, query).await;
                let case = format!("{order:?}, descending {descending}, tag {tag:?}");
                assert_eq!(by_cursor, expected, "{case}: by cursor");
                assert_eq!(by_offset, expected, "{case}: by offset");
            }
        }
    }
}

/// A search through more codes than a store reads at once (Redis: 4096 buckets of its search
/// text, 256 an MGET, four MGETs at once) finds each match once, while codes that sort before
/// every match are created and deleted throughout, and unnamed codes were deleted from the middle
/// of the buckets before it.
async fn a_search_through_many_codes_finds_each_once_while_others_come_and_go(
    store: Store,
    _: impl ChangeFeed,
) {
    let setup = set_up(&store).await;
    let team = setup.team.id.clone();
    let codes: Vec<Qr> = (0..50_000)
        .map(|n| {
            let mut qr = code(&team, &format!("many-{n}"));
            let needle = if n % 100 == 7 { " needle" } else { "" };
            qr.name = format!("code {n:05}{needle}");
            qr
        })
        .collect();
    let needles: BTreeSet<String> = codes
        .iter()
        .filter(|qr| qr.name.contains("needle"))
        .map(|qr| qr.id.clone())
        .collect();
    // Unnamed codes deleted among the others, whose entries were written before the needles'.
    let unnamed: Vec<Qr> = (0..500)
        .map(|n| {
            let mut qr = code(&team, &format!("unnamed-{n}"));
            qr.name = String::new();
            qr
        })
        .collect();
    let unnamed_ids: Vec<String> = unnamed.iter().map(|qr| qr.id.clone()).collect();
    assert!(store.create_qrs(unnamed).await.unwrap().iter().all(|c| *c));
    assert!(store.create_qrs(codes).await.unwrap().iter().all(|c| *c));
    for id in unnamed_ids {
        store.update_qr(&id, delete()).await.unwrap();
    }
    let churning = Arc::new(AtomicBool::new(true));
    let churn = tokio::spawn({
        let (store, team, churning) = (store.clone(), team.clone(), churning.clone());
        async move {
            let mut n = 0;
            while churning.load(Ordering::Relaxed) {
                let batch: Vec<Qr> = (0..500)
                    .map(|i| {
                        let mut qr = code(&team, &format!("churn-{n}-{i}"));
                        // Unnamed codes too: their entries end where the next one starts.
                        qr.name = match i % 2 {
                            0 => String::new(),
                            _ => format!("a churn {n} {i}"),
                        };
                        qr
                    })
                    .collect();
                let ids: Vec<String> = batch.iter().map(|qr| qr.id.clone()).collect();
                store.create_qrs(batch).await.unwrap();
                for id in ids {
                    store.update_qr(&id, delete()).await.unwrap();
                }
                n += 1;
            }
        }
    });
    let query = search_query(&team, "needle");
    for _ in 0..20 {
        let page = store.list_qrs(&query).await.unwrap();
        let found: Vec<String> = page.qrs.into_iter().map(|qr| qr.id).collect();
        assert_eq!(
            page.total as usize,
            needles.len(),
            "each match counted once"
        );
        assert_eq!(found.len(), needles.len(), "each match listed once");
        assert_eq!(found.into_iter().collect::<BTreeSet<_>>(), needles);
    }
    churning.store(false, Ordering::Relaxed);
    churn.await.unwrap();
    // A renamed code is found by its new name alone.
    let renamed = needles.first().unwrap();
    let rename = edit(|qr: &mut Qr| {
        qr.name = "Renamed Haystack".to_owned();
        Ok(())
    });
    store.update_qr(renamed, rename).await.unwrap();
    let page = store.list_qrs(&query).await.unwrap();
    assert_eq!(page.total as usize, needles.len() - 1);
    assert!(page.qrs.iter().all(|qr| &qr.id != renamed));
    let page = store
        .list_qrs(&search_query(&team, "haystack"))
        .await
        .unwrap();
    let found: Vec<&str> = page.qrs.iter().map(|qr| qr.id.as_str()).collect();
    assert_eq!(found, [renamed.as_str()]);
}

/// A search with a filter of a few codes reads them; with a filter of most of the team, the
/// store may read its search index instead: the answers are the same.
async fn a_search_with_a_rare_or_a_common_filter_finds_the_codes_of_both(
    store: Store,
    _: impl ChangeFeed,
) {
    let setup = set_up(&store).await;
    let team = setup.team.id.clone();
    let codes: Vec<Qr> = (0..400)
        .map(|n| {
            let mut qr = code(&team, &format!("mixed-{n:03}"));
            let word = if n % 3 == 0 { "Match" } else { "Other" };
            qr.name = format!("{word} {n:03}");
            if n % 40 == 0 {
                qr.qr_type = QrType::Pdf;
            }
            if n % 2 == 0 {
                qr.tags = vec!["even".into()];
            }
            qr
        })
        .collect();
    assert!(store
        .create_qrs(codes.clone())
        .await
        .unwrap()
        .iter()
        .all(|c| *c));
    let filters = [
        (Some(QrType::Pdf), None),
        (Some(QrType::Web), None),
        (Some(QrType::Web), Some("even")),
        (None, Some("even")),
        (Some(QrType::Pdf), Some("even")),
    ];
    for (qr_type, tag) in filters {
        let expected: Vec<&str> = codes
            .iter()
            .filter(|qr| qr.name.starts_with("Match"))
            .filter(|qr| qr_type.is_none_or(|t| qr.qr_type == t))
            .filter(|qr| tag.is_none_or(|t| qr.tags.iter().any(|x| x == t)))
            .map(|qr| qr.id.as_str())
            .collect();
        assert!(!expected.is_empty());
        let query = QrListQuery {
            qr_type,
            tag: tag.map(str::to_owned),
            ..search_query(&team, "match")
        };
        let page = store.list_qrs(&query).await.unwrap();
        let found: Vec<&str> = page.qrs.iter().map(|qr| qr.id.as_str()).collect();
        assert_eq!(found, expected, "{qr_type:?} {tag:?}");
        assert_eq!(page.total as usize, expected.len(), "{qr_type:?} {tag:?}");
    }
}

async fn updated_after_changes_come_oldest_first(store: Store, _: impl ChangeFeed) {
    let setup = set_up(&store).await;
    let team = &setup.team.id;
    let mut ids = Vec::new();
    for n in 0..4i64 {
        let mut qr = code(team, &format!("changed-{n}"));
        qr.updated_at = 5_000 + n;
        store.create_qr(&qr).await.unwrap();
        ids.push(qr.id);
    }
    // The first code, deleted later, is the newest change; deleted codes are in the feed.
    let retouch = edit(|qr: &mut Qr| {
        qr.deleted = true;
        qr.updated_at = 9_000;
        Ok(())
    });
    store.update_qr(&ids[0], retouch).await.unwrap();
    let all = store
        .changes(team, &ListPosition::changes_from(0), 10)
        .await
        .unwrap();
    let order: Vec<&str> = all.iter().map(|p| p.id()).collect();
    assert_eq!(order, [&ids[1], &ids[2], &ids[3], &ids[0]]);
    let rest = store.changes(team, &all[1], 10).await.unwrap();
    assert_eq!(rest, all[2..], "just past a position");
    let some = store
        .changes(team, &ListPosition::changes_from(5_002), 1)
        .await
        .unwrap();
    assert_eq!(some, all[1..2], "from a time, at most the limit");
}

// --- Teams and custom domains ---

async fn teams_insert_within_limit_and_update(store: Store, _: impl ChangeFeed) {
    let setup = set_up(&store).await;
    let mut second = setup.team.clone();
    second.id = qredge::ids::new_id("team");
    second.name = "Second".into();
    second.created_at = setup.team.created_at + 1;
    let roles = [(setup.owner.id.clone(), Role::Admin)];
    store.insert_team(&second, Some(2), &roles).await.unwrap();
    let mut third = second.clone();
    third.id = qredge::ids::new_id("team");
    let over = store.insert_team(&third, Some(2), &[]).await;
    assert!(matches!(over, Err(StoreError::TeamLimit(2))));
    assert!(
        store.team(&third.id).await.unwrap().is_none(),
        "nothing written"
    );
    let teams: Vec<String> = store
        .org_teams(&setup.boot.org_id)
        .await
        .unwrap()
        .into_iter()
        .map(|t| t.id)
        .collect();
    assert_eq!(
        teams,
        [setup.team.id.clone(), second.id.clone()],
        "oldest first"
    );
    let owner = store.member(&setup.owner.id).await.unwrap().unwrap();
    assert_eq!(
        owner.teams.get(&second.id),
        Some(&Role::Admin),
        "given a role in it"
    );
    assert_eq!(
        owner.version,
        setup.owner.version + 1,
        "a write of the member"
    );
    let renamed = store
        .update_team(
            &second.id,
            edit(|team: &mut Team| {
                team.name = "Renamed".into();
                Ok(())
            }),
        )
        .await
        .unwrap();
    assert_eq!((renamed.name.as_str(), renamed.version), ("Renamed", 2));
    assert_eq!(store.team(&second.id).await.unwrap().unwrap(), renamed);
    let missing = store.update_team("team_missing", with_domains(&[])).await;
    assert!(matches!(missing, Err(StoreError::NotFound)));
}

/// A second team of the setup's organization.
async fn second_team(store: &Store, setup: &Setup) -> Team {
    let mut second = setup.team.clone();
    second.id = qredge::ids::new_id("team");
    second.created_at = setup.team.created_at + 1;
    store.insert_team(&second, None, &[]).await.unwrap();
    store.team(&second.id).await.unwrap().unwrap()
}

async fn a_domain_belongs_to_one_team<F: ChangeFeed>(store: Store, feed: F) {
    let setup = set_up(&store).await;
    let second = second_team(&store, &setup).await;
    store
        .update_team(&setup.team.id, with_domains(&["qr.one.test"]))
        .await
        .unwrap();
    let claimed = store
        .update_team(&second.id, with_domains(&["qr.one.test"]))
        .await;
    assert!(matches!(claimed, Err(StoreError::DomainTaken(d)) if d == "qr.one.test"));
    assert_eq!(store.team(&second.id).await.unwrap().unwrap().version, 1);
    let owners: Vec<(String, String)> = store
        .custom_domains()
        .await
        .unwrap()
        .into_iter()
        .map(|(domain, team)| (domain, team.id))
        .collect();
    assert_eq!(owners, [("qr.one.test".to_string(), setup.team.id.clone())]);
    assert_eq!(feed.domains().await.unwrap().len(), 1, "what an edge reads");
    let unnormal = store
        .update_team(&second.id, with_domains(&["QR.two.test"]))
        .await;
    assert!(matches!(unnormal, Err(StoreError::DomainNotNormal(_))));
    // Released, it can be claimed.
    store
        .update_team(&setup.team.id, with_domains(&[]))
        .await
        .unwrap();
    store
        .update_team(&second.id, with_domains(&["qr.one.test"]))
        .await
        .unwrap();
    assert_eq!(store.custom_domains().await.unwrap()[0].1.id, second.id);
}

async fn a_code_is_created_only_on_its_teams_domain(store: Store, _: impl ChangeFeed) {
    let setup = set_up(&store).await;
    let team = &setup.team.id;
    let second = second_team(&store, &setup).await;
    store
        .update_team(team, with_domains(&["qr.mine.test"]))
        .await
        .unwrap();
    store
        .update_team(&second.id, with_domains(&["qr.theirs.test"]))
        .await
        .unwrap();
    store
        .create_qr(&code_on(team, "qr.mine.test", "mine"))
        .await
        .unwrap();
    for domain in ["qr.theirs.test", "qr.nobody.test"] {
        let refused = store.create_qr(&code_on(team, domain, "not-mine")).await;
        assert!(
            matches!(&refused, Err(StoreError::DomainNotTeams(d)) if d == domain),
            "{domain}: {refused:?}"
        );
        let bulk = vec![code_on(team, domain, "bulk-not-mine")];
        let created = store.create_qrs_within(bulk, None).await.unwrap();
        assert_eq!(created, [Created::DomainNotTeams]);
    }
    // Nor moved onto one.
    let plain = code(team, "plain");
    store.create_qr(&plain).await.unwrap();
    let moved = store
        .update_qr(
            &plain.id,
            edit(|qr: &mut Qr| {
                qr.domain = Some("qr.theirs.test".into());
                Ok(())
            }),
        )
        .await;
    assert!(matches!(moved, Err(StoreError::DomainNotTeams(_))));
    assert_eq!(store.live_qr_count(team).await.unwrap(), 2);
}

async fn a_domain_with_live_codes_is_not_released(store: Store, _: impl ChangeFeed) {
    let setup = set_up(&store).await;
    let team = &setup.team.id;
    store
        .update_team(team, with_domains(&["qr.live.test"]))
        .await
        .unwrap();
    let qr = code_on(team, "qr.live.test", "live");
    store.create_qr(&qr).await.unwrap();
    let released = store.update_team(team, with_domains(&[])).await;
    assert!(
        matches!(&released, Err(StoreError::DomainInUse { domain, live: 1 }) if domain == "qr.live.test"),
        "{released:?}"
    );
    assert_eq!(
        store.custom_domains().await.unwrap().len(),
        1,
        "still the team's"
    );
    store.update_qr(&qr.id, delete()).await.unwrap();
    store.update_team(team, with_domains(&[])).await.unwrap();
    assert!(store.custom_domains().await.unwrap().is_empty());
}

async fn creates_racing_a_domains_removal_leave_no_code_off_its_team(
    store: Store,
    _: impl ChangeFeed,
) {
    let setup = set_up(&store).await;
    let team = setup.team.id.clone();
    for round in 0..ROUNDS {
        let domain = format!("qr.r{round}.test");
        store
            .update_team(&team, with_domains(&[&domain]))
            .await
            .unwrap();
        let creates: Vec<_> = (0..4)
            .map(|n| {
                let store = store.clone();
                let qr = code_on(&team, &domain, &format!("c{n}"));
                tokio::spawn(async move { store.create_qr(&qr).await })
            })
            .collect();
        let removal = {
            let store = store.clone();
            let team = team.clone();
            tokio::spawn(async move { store.update_team(&team, with_domains(&[])).await })
        };
        let removed = removal.await.unwrap();
        let mut stored = 0;
        for create in creates {
            match create.await.unwrap() {
                Ok(()) => stored += 1,
                Err(StoreError::DomainNotTeams(_)) => {}
                Err(e) => panic!("round {round}: {e}"),
            }
        }
        match removed {
            Ok(_) => assert_eq!(stored, 0, "round {round}: released with none on it"),
            Err(StoreError::DomainInUse { live, .. }) => assert!(live > 0 && live <= stored),
            Err(e) => panic!("round {round}: {e}"),
        }
        let domains: BTreeSet<String> = store
            .team(&team)
            .await
            .unwrap()
            .unwrap()
            .domain_settings
            .into_keys()
            .collect();
        for qr in store.team_qrs(&team).await.unwrap() {
            if let (false, Some(on)) = (qr.deleted, &qr.domain) {
                assert!(
                    domains.contains(on),
                    "round {round}: {} on {on}",
                    qr.display_id
                );
            }
        }
        // Next round: no live code on the domain, and the domain released.
        for qr in store.team_qrs(&team).await.unwrap() {
            if !qr.deleted {
                store.update_qr(&qr.id, delete()).await.unwrap();
            }
        }
        store.update_team(&team, with_domains(&[])).await.unwrap();
    }
}

// --- Members and credentials ---

async fn members_insert_update_and_delete_with_their_credentials(store: Store, _: impl ChangeFeed) {
    let setup = set_up(&store).await;
    let (org, team) = (&setup.boot.org_id, &setup.team.id);
    let ann = member(org, "ann@example.com", &[(team, Role::Editor)]);
    store.insert_member(&ann).await.unwrap();
    assert_eq!(store.member(&ann.id).await.unwrap().unwrap().version, 1);
    let twin = member(org, "ann@example.com", &[]);
    let taken = store.insert_member(&twin).await;
    assert!(matches!(taken, Err(StoreError::EmailTaken(e)) if e == "ann@example.com"));
    let bob = member(org, "bob@example.com", &[]);
    store.insert_member(&bob).await.unwrap();
    let to_anns = edit(|m: &mut Member| {
        m.email = "ann@example.com".into();
        Ok(())
    });
    let taken = store.update_member(&bob.id, to_anns).await;
    assert!(matches!(taken, Err(StoreError::EmailTaken(_))));
    let promoted = store
        .update_member(
            &ann.id,
            edit(|m: &mut Member| {
                m.name = "Ann".into();
                Ok(())
            }),
        )
        .await
        .unwrap();
    assert_eq!((promoted.name.as_str(), promoted.version), ("Ann", 2));
    let emails: Vec<String> = store
        .org_members(org)
        .await
        .unwrap()
        .into_iter()
        .map(|m| m.email)
        .collect();
    assert_eq!(emails.len(), 3);
    for n in 0..2 {
        let key = credential(&ann.id, None, 1_000 + n);
        store.insert_credential(&key).await.unwrap();
    }
    // A refusing check deletes nothing.
    let kept = store
        .delete_member(&ann.id, check(|_: &Member| Err(refused("no"))))
        .await;
    assert!(matches!(kept, Err(StoreError::Refused(_))));
    let stale = check(|m: &Member| Err(StoreError::Stale { current: m.version }));
    let kept = store.delete_member(&ann.id, stale).await;
    assert!(matches!(kept, Err(StoreError::Stale { current: 2 })));
    assert_eq!(store.member_credentials(&ann.id).await.unwrap().len(), 2);
    let deleted = store.delete_member(&ann.id, unchecked()).await.unwrap();
    assert_eq!(deleted.id, ann.id);
    assert!(store.member(&ann.id).await.unwrap().is_none());
    assert!(
        store.member_credentials(&ann.id).await.unwrap().is_empty(),
        "theirs go too"
    );
    let again = store.delete_member(&ann.id, unchecked()).await;
    assert!(matches!(again, Err(StoreError::NotFound)));
    // Their email is free again.
    store
        .insert_member(&member(org, "ann@example.com", &[]))
        .await
        .unwrap();
}

async fn a_member_deleted_during_role_changes_and_new_keys_stays_deleted(
    store: Store,
    _: impl ChangeFeed,
) {
    let setup = set_up(&store).await;
    let (org, team) = (&setup.boot.org_id, &setup.team.id);
    for round in 0..ROUNDS {
        let leaving = member(
            org,
            &format!("m{round}@example.com"),
            &[(team, Role::Editor)],
        );
        store.insert_member(&leaving).await.unwrap();
        let id = leaving.id.clone();
        let roles: Vec<_> = [Role::Admin, Role::Viewer]
            .into_iter()
            .map(|role| {
                let (store, id, team) = (store.clone(), id.clone(), team.clone());
                let change = edit(move |m: &mut Member| {
                    m.teams.insert(team.clone(), role);
                    Ok(())
                });
                tokio::spawn(async move { store.update_member(&id, change).await })
            })
            .collect();
        let keys: Vec<_> = [None, Some(vec![team.clone()])]
            .into_iter()
            .map(|bound| {
                let store = store.clone();
                let teams: Option<Vec<&str>> = bound
                    .as_ref()
                    .map(|t| t.iter().map(|s| s.as_str()).collect());
                let key = credential(&id, teams.as_deref(), 1_000);
                tokio::spawn(async move { store.insert_credential(&key).await })
            })
            .collect();
        let deletion = {
            let (store, id) = (store.clone(), id.clone());
            tokio::spawn(async move { store.delete_member(&id, unchecked()).await })
        };
        deletion.await.unwrap().unwrap();
        for role in roles {
            match role.await.unwrap() {
                Ok(_) | Err(StoreError::NotFound) => {}
                Err(e) => panic!("round {round}: {e}"),
            }
        }
        for key in keys {
            match key.await.unwrap() {
                Ok(()) | Err(StoreError::NotFound) => {}
                Err(e) => panic!("round {round}: {e}"),
            }
        }
        assert!(
            store.member(&id).await.unwrap().is_none(),
            "round {round}: not resurrected"
        );
        let left = store.member_credentials(&id).await.unwrap();
        assert!(
            left.is_empty(),
            "round {round}: no key of theirs survives: {left:?}"
        );
    }
}

async fn credentials_insert_and_delete_by_check(store: Store, _: impl ChangeFeed) {
    let setup = set_up(&store).await;
    let (org, team) = (&setup.boot.org_id, &setup.team.id);
    let second = second_team(&store, &setup).await;
    let holder = member(org, "holder@example.com", &[(team, Role::Editor)]);
    store.insert_member(&holder).await.unwrap();
    let bound = credential(&holder.id, Some(&[team, &second.id]), 2_000);
    store.insert_credential(&bound).await.unwrap();
    let stored = store.credential(&bound.client_id).await.unwrap().unwrap();
    assert_eq!(stored.version, 1);
    let teams = &stored.binding.as_ref().unwrap().teams;
    assert_eq!(
        teams.iter().collect::<Vec<_>>(),
        [team],
        "only the teams they are in"
    );
    let nowhere = credential(&holder.id, Some(&[&second.id]), 2_001);
    assert!(matches!(
        store.insert_credential(&nowhere).await,
        Err(StoreError::NotFound)
    ));
    let nobodys = credential("mem_missing", None, 2_002);
    assert!(matches!(
        store.insert_credential(&nobodys).await,
        Err(StoreError::NotFound)
    ));
    let own = credential(&holder.id, None, 1_000);
    store.insert_credential(&own).await.unwrap();
    let listed: Vec<String> = store
        .member_credentials(&holder.id)
        .await
        .unwrap()
        .into_iter()
        .map(|c| c.client_id)
        .collect();
    assert_eq!(
        listed,
        [own.client_id.clone(), bound.client_id.clone()],
        "oldest first"
    );
    // Out of the team: the bound key, left with no team, goes in the same write.
    let out = edit({
        let team = team.clone();
        move |m: &mut Member| {
            m.teams.remove(&team);
            Ok(())
        }
    });
    store.update_member(&holder.id, out).await.unwrap();
    assert!(store.credential(&bound.client_id).await.unwrap().is_none());
    let stale = check(|c: &Credential| Err(StoreError::Stale { current: c.version }));
    let kept = store.delete_credential(&own.client_id, stale).await;
    assert!(matches!(kept, Err(StoreError::Stale { current: 1 })));
    assert!(
        store.credential(&own.client_id).await.unwrap().is_some(),
        "nothing deleted"
    );
    assert!(store
        .delete_credential(&own.client_id, unchecked())
        .await
        .unwrap());
    assert!(!store
        .delete_credential(&own.client_id, unchecked())
        .await
        .unwrap());
    assert!(store
        .member_credentials(&holder.id)
        .await
        .unwrap()
        .is_empty());
}

async fn templates_are_the_teams_own_and_deleted_by_check(store: Store, _: impl ChangeFeed) {
    let setup = set_up(&store).await;
    let template = |id: &str, team: &str, created_at: i64| -> Template {
        let mut template = builtin_template("navy").unwrap();
        (template.id, template.team_id) = (id.into(), Some(team.into()));
        template.created_at = created_at;
        template
    };
    let team = &setup.team.id;
    let (newer, older) = (template("tpl_b", team, 2), template("tpl_a2", team, 1));
    store.insert_template(&newer).await.unwrap();
    store.insert_template(&older).await.unwrap();
    store
        .insert_template(&template("tpl_c", "team_other", 1))
        .await
        .unwrap();
    let ids: Vec<String> = store
        .team_templates(team)
        .await
        .unwrap()
        .into_iter()
        .map(|t| t.id)
        .collect();
    assert_eq!(ids, ["tpl_a2", "tpl_b"], "the team's own, oldest first");
    assert_eq!(
        store
            .team_template(team, "tpl_b")
            .await
            .unwrap()
            .unwrap()
            .version,
        1
    );
    assert!(
        store.team_template(team, "tpl_c").await.unwrap().is_none(),
        "another team's"
    );
    assert!(!store
        .delete_template(team, "tpl_c", unchecked())
        .await
        .unwrap());
    let stale = check(|t: &Template| Err(StoreError::Stale { current: t.version }));
    let kept = store.delete_template(team, "tpl_b", stale).await;
    assert!(matches!(kept, Err(StoreError::Stale { current: 1 })));
    assert!(store.team_template(team, "tpl_b").await.unwrap().is_some());
    assert!(store
        .delete_template(team, "tpl_b", unchecked())
        .await
        .unwrap());
    assert!(store.team_template(team, "tpl_b").await.unwrap().is_none());
    let no_team = builtin_template("navy").unwrap();
    assert!(matches!(
        store.insert_template(&no_team).await,
        Err(StoreError::NotFound)
    ));
}

/// A session's notice (a new key's token on the page after its creation) is read once, by one
/// of several racing readers, and not at all past its end.
async fn a_notice_is_taken_once_and_ends(store: Store, _: impl ChangeFeed) {
    let now = qredge::clock::now_ms();
    let notice = |expires_at| Notice {
        text: "cli_1.secret".into(),
        expires_at,
    };
    store
        .create_notice("s:key", &notice(now + 60_000))
        .await
        .unwrap();
    let takers = (0..WRITERS).map(|_| {
        let store = store.clone();
        tokio::spawn(async move { store.take_notice("s:key").await.unwrap() })
    });
    let mut taken = Vec::new();
    for taker in takers {
        taken.extend(taker.await.unwrap());
    }
    assert_eq!(taken, vec![notice(now + 60_000)], "shown once");
    store
        .create_notice("s:old", &notice(now + 300))
        .await
        .unwrap();
    tokio::time::sleep(Duration::from_millis(600)).await;
    assert_eq!(
        store.take_notice("s:old").await.unwrap(),
        None,
        "past its end"
    );
    assert_eq!(store.take_notice("never-made").await.unwrap(), None);
}

// --- The change feed ---

/// Every entry after `cursor` (waiting briefly for the first).
async fn sessions_end_and_a_sign_in_token_is_taken_once(store: Store, _: impl ChangeFeed) {
    let setup = set_up(&store).await;
    let now = qredge::clock::now_ms();
    let session = |expires_at| Session {
        member_id: setup.owner.id.clone(),
        team_id: setup.team.id.clone(),
        csrf_token: "csrf".into(),
        expires_at,
    };
    store
        .create_session("live", &session(now + 60_000))
        .await
        .unwrap();
    store
        .create_session("ended", &session(now + 300))
        .await
        .unwrap();
    assert_eq!(
        store.session("live").await.unwrap(),
        Some(session(now + 60_000))
    );
    tokio::time::sleep(Duration::from_millis(600)).await;
    assert_eq!(store.session("ended").await.unwrap(), None, "past its end");
    store.delete_session("live").await.unwrap();
    assert_eq!(store.session("live").await.unwrap(), None, "signed out");
    store.delete_session("live").await.unwrap();

    let token = SignInToken {
        member_id: setup.owner.id.clone(),
        expires_at: now + 60_000,
    };
    store.create_sign_in_token("link", &token).await.unwrap();
    let takers = (0..WRITERS).map(|_| {
        let store = store.clone();
        tokio::spawn(async move { store.take_sign_in_token("link").await.unwrap() })
    });
    let mut taken = Vec::new();
    for taker in takers {
        taken.extend(taker.await.unwrap());
    }
    assert_eq!(
        taken,
        vec![token],
        "one of {WRITERS} racing takers signs in"
    );
    assert_eq!(store.take_sign_in_token("never-made").await.unwrap(), None);

    let owners = store.members_with_email(&setup.owner.email).await.unwrap();
    assert_eq!(
        owners.iter().map(|m| &m.id).collect::<Vec<_>>(),
        [&setup.owner.id]
    );
    assert!(store
        .members_with_email("nobody@example.com")
        .await
        .unwrap()
        .is_empty());
}

async fn entries_after<F: ChangeFeed>(feed: &F, cursor: &F::Cursor) -> Vec<Change> {
    match feed
        .changes_after(cursor, Duration::from_millis(200), 1_000)
        .await
        .unwrap()
    {
        FeedRead::Changes { changes, .. } => changes,
        FeedRead::Lagged => panic!("the feed keeps these entries"),
    }
}

async fn the_feed_lists_each_write_in_commit_order<F: ChangeFeed>(store: Store, feed: F) {
    let setup = set_up(&store).await;
    let team = &setup.team.id;
    let cursor = feed.cursor().await.unwrap();
    let qr = code(team, "fed");
    store.create_qr(&qr).await.unwrap();
    let rename = edit(|qr: &mut Qr| {
        qr.display_id = "fed-renamed".into();
        qr.qr_redirect_url = Some("https://renamed.example/".into());
        Ok(())
    });
    store.update_qr(&qr.id, rename).await.unwrap();
    let [route] = &feed.routes(vec!["fed-renamed".into()]).await.unwrap()[..] else {
        panic!("one route per key")
    };
    let route = route.as_ref().expect("the committed route");
    assert_eq!(
        (route.qr_id.as_str(), route.location.as_str()),
        (qr.id.as_str(), "https://renamed.example/")
    );
    assert_eq!(
        feed.routes(vec!["fed".into()]).await.unwrap(),
        [None],
        "released"
    );
    store.update_qr(&qr.id, delete()).await.unwrap();
    store
        .update_team(team, with_domains(&["qr.fed.test"]))
        .await
        .unwrap();
    assert_eq!(
        entries_after(&feed, &cursor).await,
        [
            Change::route("fed".into(), None),
            Change::route("fed-renamed".into(), Some("fed".into())),
            Change::route("fed-renamed".into(), Some("fed-renamed".into())),
            Change::Team {
                team_id: team.clone()
            },
        ]
    );
    assert_eq!(
        feed.routes(vec!["fed-renamed".into()]).await.unwrap(),
        [None]
    );
    assert_eq!(feed.route_count().await.unwrap(), 0);
    assert_eq!(feed.team_of(team).await.unwrap().unwrap().version, 2);
}

async fn a_feed_trimmed_past_a_cursor_reads_lagged<F: ChangeFeed>(store: Store, feed: F) {
    let setup = set_up(&store).await;
    let cursor = feed.cursor().await.unwrap();
    // Far more entries than the feed keeps (Redis trims whole nodes of its stream): one a write
    // (a bulk create's changes are one entry on the embedded store).
    for n in 0..300 {
        store
            .create_qr(&code(&setup.team.id, &format!("lag-{n}")))
            .await
            .unwrap();
    }
    let read = feed
        .changes_after(&cursor, Duration::from_millis(200), 1_000)
        .await
        .unwrap();
    assert!(
        matches!(read, FeedRead::Lagged),
        "the feed no longer keeps the cursor"
    );
    let newest = feed.cursor().await.unwrap();
    let none = feed
        .changes_after(&newest, Duration::from_millis(50), 10)
        .await
        .unwrap();
    assert!(matches!(none, FeedRead::Changes { changes, .. } if changes.is_empty()));
}
