//! The Redis store and the edge's change follower, against a real Redis (started by
//! scripts/test.sh, which exports QREDGE_TEST_REDIS_URL).

use std::sync::Arc;
use std::time::{Duration, Instant};

use arc_swap::ArcSwap;
use qredge::edge::snapshot::Snapshots;
use qredge::edge::{follow, RouteTable};
use qredge::model::Qr;
use qredge::store::redis::RedisStore;

use crate::support::topology::delete_redis_keys;
use qredge::store::{Edit, StoreError};
use tokio_util::sync::CancellationToken;

fn redis_url() -> String {
    std::env::var("QREDGE_TEST_REDIS_URL")
        .expect("QREDGE_TEST_REDIS_URL is not set: run the tests through scripts/test.sh")
}

/// A key prefix of its own, so tests share one Redis without seeing each other.
fn prefix() -> String {
    format!("qredge-test-{}:", qredge::ids::random_alphanumeric(10))
}

fn qr(id: &str, display_id: &str, url: &str) -> Qr {
    Qr::web(id, "team_1", display_id, url)
}

/// An edit that makes the stored code `qr` (the API changes fields; this is a test's shorthand).
fn replace(qr: &Qr) -> Edit<Qr> {
    let qr = qr.clone();
    qredge::store::edit(move |stored| {
        *stored = qr.clone();
        Ok(())
    })
}

#[tokio::test]
async fn only_one_of_two_racing_processes_bootstraps() {
    let prefix = prefix();
    let a = RedisStore::connect(&redis_url(), &prefix).await.unwrap();
    let b = RedisStore::connect(&redis_url(), &prefix).await.unwrap();
    let (dir_a, dir_b) = (tempfile::tempdir().unwrap(), tempfile::tempdir().unwrap());
    let (ra, rb) = tokio::join!(
        a.bootstrap_if_empty(dir_a.path(), "localhost:8080"),
        b.bootstrap_if_empty(dir_b.path(), "localhost:8080")
    );
    let winners: Vec<_> = [ra.unwrap(), rb.unwrap()].into_iter().flatten().collect();
    assert_eq!(winners.len(), 1, "exactly one bootstrap");
    let won = &winners[0];
    let credential = a.credential(&won.client_id).await.unwrap().unwrap();
    assert_eq!(
        credential.secret_sha256,
        qredge::store::hash_secret(&won.client_secret)
    );
    let files = [dir_a.path(), dir_b.path()]
        .iter()
        .filter(|d| d.join("bootstrap.json").exists())
        .count();
    assert_eq!(files, 1, "only the winner keeps a bootstrap.json");
    assert!(a.team(&won.team_id).await.unwrap().is_some());
    assert!(a
        .bootstrap_if_empty(dir_a.path(), "x")
        .await
        .unwrap()
        .is_none());
}

#[tokio::test]
async fn codes_are_stored_renamed_and_deleted_with_unique_display_ids() {
    let store = RedisStore::connect(&redis_url(), &prefix()).await.unwrap();
    let first = qr("qr_1", "menu", "https://example.com/menu");
    store.create_qr(&first).await.unwrap();
    assert_eq!(store.qr("qr_1").await.unwrap().as_ref(), Some(&first));
    let clash = qr("qr_2", "menu", "https://example.com/other");
    assert!(matches!(
        store.create_qr(&clash).await,
        Err(StoreError::DisplayIdTaken(_))
    ));
    assert!(store.qr("qr_2").await.unwrap().is_none(), "nothing stored");

    let mut renamed = first.clone();
    renamed.display_id = "menu-2024".into();
    store.update_qr("qr_1", &replace(&renamed)).await.unwrap();
    store
        .create_qr(&qr("qr_2", "menu", "https://example.com/other"))
        .await
        .expect("the old displayId was released by the rename");
    let mut onto_taken = renamed.clone();
    onto_taken.display_id = "menu".into();
    assert!(matches!(
        store.update_qr("qr_1", &replace(&onto_taken)).await,
        Err(StoreError::DisplayIdTaken(_))
    ));
    assert!(matches!(
        store.update_qr("qr_none", &replace(&first)).await,
        Err(StoreError::NotFound)
    ));
    let mut ids: Vec<String> = store
        .team_qrs("team_1")
        .await
        .unwrap()
        .into_iter()
        .map(|q| q.id)
        .collect();
    ids.sort();
    assert_eq!(ids, ["qr_1", "qr_2"]);
}

/// Polls `table` until `check` holds or one second passes; returns whether it held.
async fn within_a_second(table: &ArcSwap<RouteTable>, check: impl Fn(&RouteTable) -> bool) -> bool {
    let deadline = Instant::now() + Duration::from_secs(1);
    while Instant::now() < deadline {
        if check(&table.load()) {
            return true;
        }
        tokio::time::sleep(Duration::from_millis(5)).await;
    }
    check(&table.load())
}

#[tokio::test]
async fn edges_load_the_routes_and_follow_every_change() {
    let prefix = prefix();
    let store = RedisStore::connect(&redis_url(), &prefix).await.unwrap();
    store
        .create_qr(&qr("qr_a", "a", "https://example.com/a"))
        .await
        .unwrap();
    let mut deleted = qr("qr_gone", "gone", "https://example.com/gone");
    store.create_qr(&deleted).await.unwrap();
    deleted.deleted = true;
    store
        .update_qr("qr_gone", &replace(&deleted))
        .await
        .unwrap();

    // Two edges, each with its own connection, table and follower.
    let stop = CancellationToken::new();
    let mut tables = Vec::new();
    let data_dirs = [tempfile::tempdir().unwrap(), tempfile::tempdir().unwrap()];
    for data_dir in &data_dirs {
        let edge_store = RedisStore::connect(&redis_url(), &prefix).await.unwrap();
        let following = follow::first_table(&edge_store).await.unwrap();
        let table = Arc::clone(&following.table);
        let loaded = table.load();
        assert_eq!(loaded.len(), 1, "only servable codes are loaded");
        assert_eq!(
            loaded.lookup("a").unwrap().record().location,
            "https://example.com/a"
        );
        assert!(loaded.lookup("gone").is_none());
        tokio::spawn(follow::follow(
            edge_store,
            following,
            Some(Snapshots::new(data_dir.path())),
            stop.clone(),
        ));
        tables.push(table);
    }

    store
        .create_qr(&qr("qr_b", "b", "https://example.com/b"))
        .await
        .unwrap();
    let mut a = qr("qr_a", "a2", "https://example.com/a-v2");
    a.updated_at = 2;
    store.update_qr("qr_a", &replace(&a)).await.unwrap();
    for table in &tables {
        assert!(within_a_second(table, |t| t.lookup("b").is_some()).await);
        assert!(
            within_a_second(table, |t| t.lookup("a").is_none()
                && t.lookup("a2")
                    .is_some_and(|r| r.record().location == "https://example.com/a-v2"))
            .await
        );
    }
    a.deleted = true;
    store.update_qr("qr_a", &replace(&a)).await.unwrap();
    for table in &tables {
        assert!(within_a_second(table, |t| t.lookup("a2").is_none()).await);
        assert_eq!(table.load().len(), 1);
    }
    stop.cancel();
}

/// `qredge serve` on Redis: the API and the edge's change follower in one process. The
/// follower's blocking read (XREAD BLOCK, 1 s) has a connection of its own; on the shared one
/// every API command queued behind it and a create took seconds.
#[test]
fn serve_on_redis_answers_the_api_at_once_while_the_edge_follows() {
    let topology = crate::support::topology::Topology::new();
    let config = format!(
        "[redis]\nurl = \"{}\"\nkey_prefix = \"{}\"\n",
        redis_url(),
        topology.key_prefix()
    );
    let mut server = crate::support::Launch::new(&topology.root().join("serve"))
        .config(&config)
        .start();
    // Far above what a create takes, far below a second for each of its Redis commands.
    server.client = reqwest::blocking::Client::builder()
        .timeout(Duration::from_secs(3))
        .redirect(reqwest::redirect::Policy::none())
        .build()
        .unwrap();
    for n in 0..10 {
        let target = format!("https://example.com/{n}");
        let qr = server.create_served(serde_json::json!({
            "qrType": "WEB", "displayId": format!("s{n}"), "qrRedirectUrl": target
        }));
        let id = qr["id"].as_str().unwrap();
        let moved = format!("https://example.org/{n}");
        let (status, body) = server.call(
            reqwest::Method::PUT,
            &format!("/api/qrs-api/{id}"),
            Some(serde_json::json!({ "qrRedirectUrl": moved })),
        );
        assert_eq!(status, 200, "{body}");
        let served = server.edge_within_a_second(&format!("s{n}"), |r| {
            r.headers()
                .get("location")
                .is_some_and(|l| l == moved.as_str())
        });
        assert_eq!(
            crate::support::location(&served),
            moved,
            "the edge follows the update"
        );
    }
}

/// A member of organization `org` with `email`, in no team.
fn person(org: &str, email: &str) -> qredge::model::Member {
    qredge::model::Member {
        id: qredge::ids::new_id("mem"),
        org_id: org.to_owned(),
        name: email.to_owned(),
        email: email.to_owned(),
        teams: Default::default(),
        paused: false,
        created_at: 1_000,
        paused_teams: Default::default(),
        invited_at: Some(1_000),
        version: 0,
        password_hash: None,
    }
}

async fn ids_with_email(store: &RedisStore, email: &str) -> Vec<String> {
    let mut ids: Vec<String> = store
        .members_with_email(email)
        .await
        .unwrap()
        .into_iter()
        .map(|m| m.id)
        .collect();
    ids.sort();
    ids
}

#[tokio::test]
async fn members_are_found_by_email_across_organizations_through_changes_and_after_a_refill() {
    let prefix = prefix();
    let store = RedisStore::connect(&redis_url(), &prefix).await.unwrap();
    let (ann_1, ann_2, bob) = (
        person("org_1", "ann@example.com"),
        person("org_2", "ann@example.com"),
        person("org_1", "bob@example.com"),
    );
    for member in [&ann_1, &ann_2, &bob] {
        store.insert_member(member).await.unwrap();
    }
    let mut both = vec![ann_1.id.clone(), ann_2.id.clone()];
    both.sort();
    assert_eq!(ids_with_email(&store, "ann@example.com").await, both);
    assert_eq!(
        ids_with_email(&store, "bob@example.com").await,
        vec![bob.id.clone()]
    );

    // Ann of org 2 changes her email; Bob leaves.
    let new_email = qredge::store::edit(|m: &mut qredge::model::Member| {
        m.email = "ann@new.example".into();
        Ok(())
    });
    store.update_member(&ann_2.id, &new_email).await.unwrap();
    store
        .delete_member(&bob.id, &qredge::store::unchecked())
        .await
        .unwrap();
    assert_eq!(
        ids_with_email(&store, "ann@example.com").await,
        vec![ann_1.id.clone()]
    );
    assert_eq!(
        ids_with_email(&store, "ann@new.example").await,
        vec![ann_2.id.clone()]
    );
    assert!(ids_with_email(&store, "bob@example.com").await.is_empty());

    // A store written before the index: filled once when a process connects.
    let index = delete_redis_keys(&format!("{prefix}email-*"));
    assert!(index.len() >= 3, "{index:?}");
    assert!(ids_with_email(&store, "ann@example.com").await.is_empty());
    let reconnected = RedisStore::connect(&redis_url(), &prefix).await.unwrap();
    assert_eq!(
        ids_with_email(&reconnected, "ann@example.com").await,
        vec![ann_1.id.clone()]
    );
    assert_eq!(
        ids_with_email(&reconnected, "ann@new.example").await,
        [ann_2.id]
    );
    assert!(ids_with_email(&reconnected, "bob@example.com")
        .await
        .is_empty());
}

/// The ids of the codes of team_1 a search for `text` lists.
async fn searched(store: &RedisStore, text: &str) -> Vec<String> {
    let query = crate::store_contract::search_query("team_1", text);
    let page = store.list_qrs(&query).await.unwrap();
    assert_eq!(page.total as usize, page.qrs.len(), "one page holds them");
    let mut ids: Vec<String> = page.qrs.into_iter().map(|qr| qr.id).collect();
    ids.sort();
    ids
}

#[tokio::test(flavor = "multi_thread", worker_threads = 4)]
async fn the_search_text_of_an_older_store_is_built_once_beside_writers() {
    let prefix = prefix();
    let store = RedisStore::connect(&redis_url(), &prefix).await.unwrap();
    let mut ids: Vec<String> = (0..20_000).map(|_| qredge::ids::new_id("qr")).collect();
    ids.sort();
    let codes: Vec<Qr> = ids
        .iter()
        .enumerate()
        .map(|(n, id)| {
            let mut code = qr(id, &format!("text-{n}"), "https://example.com/");
            code.name = format!("Before {n}");
            code
        })
        .collect();
    let created = store.create_qrs_within(&codes, None).await.unwrap();
    assert_eq!(created.len(), codes.len());

    // A store written before the search text: its keys and its flag gone.
    let text = delete_redis_keys(&format!("{prefix}list-text*"));
    assert!(text.len() > 4000, "{}", text.len());
    assert!(searched(&store, "before").await.is_empty());

    // One process renames a code in ten while another starts and builds the text.
    let renamed: Vec<String> = ids.iter().step_by(10).cloned().collect();
    let renames = tokio::spawn({
        let (store, renamed) = (store.clone(), renamed.clone());
        async move {
            for id in renamed {
                let rename = qredge::store::edit(|qr: &mut Qr| {
                    qr.name = qr.name.replace("Before", "After");
                    Ok(())
                });
                store.update_qr(&id, &rename).await.unwrap();
            }
        }
    });
    let started = RedisStore::connect(&redis_url(), &prefix).await.unwrap();
    renames.await.unwrap();
    let kept: Vec<String> = ids
        .iter()
        .filter(|id| !renamed.contains(id))
        .cloned()
        .collect();
    assert_eq!(searched(&started, "after").await, renamed);
    assert_eq!(searched(&started, "before").await, kept);
    assert_eq!(
        searched(&started, "text-19999").await,
        [ids[19_999].clone()]
    );
}
