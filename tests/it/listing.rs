//! The list of a team's codes, read from the store's indexes, on either backend: every order,
//! both directions, every page and searches give what sorting the team's codes would, after
//! renames and deletions too; the type and tag filters list exactly the matching codes.

use crate::support;
use crate::support::topology::{delete_redis_keys, Topology};
use crate::support::Server;
use reqwest::Method;
use serde_json::{json, Value};

/// What the list shows of a code, and what it sorts by.
#[derive(Debug, Clone)]
struct Listed {
    id: String,
    name: String,
    display_id: String,
    created_at: i64,
    updated_at: i64,
}

impl Listed {
    fn of(view: &Value) -> Self {
        Self {
            id: view["id"].as_str().unwrap().to_owned(),
            name: view["name"].as_str().unwrap().to_owned(),
            display_id: view["displayId"].as_str().unwrap().to_owned(),
            created_at: view["createdAt"].as_i64().unwrap(),
            updated_at: view["updatedAt"].as_i64().unwrap(),
        }
    }
}

/// The ids the list should give, sorting `codes` itself.
fn expected(codes: &[Listed], sort_by: &str, descending: bool, search: &str) -> Vec<String> {
    let search = search.to_lowercase();
    let mut hits: Vec<&Listed> = codes
        .iter()
        .filter(|c| {
            c.name.to_lowercase().contains(&search) || c.display_id.to_lowercase().contains(&search)
        })
        .collect();
    hits.sort_by(|a, b| {
        let order = match sort_by {
            "createdAt" => a.created_at.cmp(&b.created_at),
            "updatedAt" => a.updated_at.cmp(&b.updated_at),
            _ => a.name.to_lowercase().cmp(&b.name.to_lowercase()),
        }
        .then_with(|| a.id.cmp(&b.id));
        if descending {
            order.reverse()
        } else {
            order
        }
    });
    hits.into_iter().map(|c| c.id.clone()).collect()
}

/// Every page of the list in this order, concatenated; and the totalCount each page gave.
fn all_pages(server: &Server, query: &str, limit: usize) -> (Vec<String>, Vec<u64>) {
    let (mut ids, mut totals) = (Vec::new(), Vec::new());
    for page in 1.. {
        let path = format!("/api/qrs-api?{query}&limit={limit}&page={page}");
        let (status, body) = server.call(Method::GET, &path, None);
        assert_eq!(status, 200, "{path}: {body}");
        assert_eq!(body["data"]["page"], page);
        totals.push(body["data"]["totalCount"].as_u64().unwrap());
        let qrs = body["data"]["qrs"].as_array().unwrap();
        ids.extend(qrs.iter().map(|q| q["id"].as_str().unwrap().to_owned()));
        if qrs.len() < limit {
            break;
        }
    }
    (ids, totals)
}

/// Every page of the list in this order by cursor (each page's nextCursor), concatenated.
fn all_pages_by_cursor(server: &Server, query: &str, limit: usize) -> Vec<String> {
    let mut ids = Vec::new();
    let mut path = format!("/api/qrs-api?{query}&limit={limit}");
    for pages in 1.. {
        let (status, body) = server.call(Method::GET, &path, None);
        assert_eq!(status, 200, "{path}: {body}");
        let qrs = body["data"]["qrs"].as_array().unwrap();
        assert!(qrs.len() <= limit);
        ids.extend(qrs.iter().map(|q| q["id"].as_str().unwrap().to_owned()));
        if pages > 1 {
            assert_eq!(
                body["data"]["page"],
                Value::Null,
                "a page by cursor has no number"
            );
        }
        match body["nextCursor"].as_str() {
            Some(cursor) => path = format!("/api/qrs-api?{query}&limit={limit}&cursor={cursor}"),
            None => return ids,
        }
        assert!(pages < 1000, "the pages end");
    }
    unreachable!()
}

fn listing(server: &Server) {
    let names = [
        "Alpha menu",
        "beta Flyer",
        "Gamma poster",
        "delta sign",
        "Ünïcode card",
        // Glob characters, which a search matches literally.
        "Sale [50%] *now*? \\o/",
    ];
    let mut codes = Vec::new();
    for batch in 0..2 {
        let items: Vec<Value> = (0..70)
            .map(|i| {
                let n = batch * 70 + i;
                json!({
                    "qrType": "WEB", "qrRedirectUrl": format!("https://example.com/{n}"),
                    "name": format!("{} {}", names[n % names.len()], n % 7),
                    "displayId": format!("list-{n:03}"),
                })
            })
            .collect();
        let (status, body) = server.call(Method::POST, "/api/qrs-api/bulk", Some(json!(items)));
        assert_eq!(status, 201, "{body}");
        codes.extend(
            body["data"]["qrs"]
                .as_array()
                .unwrap()
                .iter()
                .map(Listed::of),
        );
    }
    // A rename moves a code in the name and updatedAt orders; deleted codes leave the list.
    for (index, name) in [(5, "Zulu last"), (77, "aaa first")] {
        let id = codes[index].id.clone();
        let (status, body) = server.call(
            Method::PUT,
            &format!("/api/qrs-api/{id}/title"),
            Some(json!({"title": name})),
        );
        assert_eq!(status, 200, "{body}");
        codes[index] = Listed::of(&body["data"]);
    }
    for index in [140 - 1, 8, 9] {
        let id = &codes[index].id;
        let (status, _) = server.call(Method::DELETE, &format!("/api/qrs-api/{id}"), None);
        assert_eq!(status, 200);
    }
    for index in [140 - 1, 9, 8] {
        codes.remove(index);
    }
    let live = codes.len() as u64;
    assert_eq!(live, 137);

    for sort_by in ["createdAt", "updatedAt", "name"] {
        for (order, descending) in [("asc", false), ("desc", true)] {
            let query = format!("sortBy={sort_by}&sortOrder={order}");
            for limit in [7, 100] {
                let (ids, totals) = all_pages(server, &query, limit);
                assert_eq!(
                    ids,
                    expected(&codes, sort_by, descending, ""),
                    "{query} limit {limit}"
                );
                assert!(totals.iter().all(|t| *t == live), "{query}: {totals:?}");
                let by_cursor = all_pages_by_cursor(server, &query, limit);
                assert_eq!(by_cursor, ids, "{query} limit {limit}, by cursor");
            }
            let searches = [
                ("GAMMA", "GAMMA"),
                ("list-01", "list-01"),
                ("ünï", "ünï"),
                ("zulu", "zulu"),
                ("nothing-like-it", "nothing-like-it"),
                ("[50%] *now*? \\o", "%5B50%25%5D%20%2Anow%2A%3F%20%5Co"),
                ("[5", "%5B5"),
                ("*", "%2A"),
            ];
            for (search, in_query) in searches {
                let query = format!("{query}&search={in_query}");
                let want = expected(&codes, sort_by, descending, search);
                let (ids, totals) = all_pages(server, &query, 4);
                assert_eq!(ids, want, "{query}");
                assert!(totals.iter().all(|t| *t == want.len() as u64), "{query}");
                assert_eq!(
                    all_pages_by_cursor(server, &query, 4),
                    want,
                    "{query}, by cursor"
                );
            }
        }
    }
    // The defaults: updatedAt, newest first, 10 a page.
    let (status, body) = server.call(Method::GET, "/api/qrs-api", None);
    assert_eq!(status, 200);
    let first_page: Vec<&str> = body["data"]["qrs"]
        .as_array()
        .unwrap()
        .iter()
        .map(|q| q["id"].as_str().unwrap())
        .collect();
    assert_eq!(first_page, expected(&codes, "updatedAt", true, "")[..10]);
    // Past the last page: no codes, the same total.
    let (status, body) = server.call(Method::GET, "/api/qrs-api?page=1000&limit=100", None);
    assert_eq!(status, 200);
    assert_eq!(body["data"]["qrs"], json!([]));
    assert_eq!(body["data"]["totalCount"], live);
    assert_eq!(body["nextCursor"], Value::Null);
    cursors_hold_their_place(server, &codes);
}

/// Codes written while a client pages by cursor neither shift the pages nor repeat a code: the
/// newest-first list by createdAt gets two new codes at its front, and a code not read yet is
/// deleted, after the first page. (By page number, the second page would repeat two codes.)
fn cursors_hold_their_place(server: &Server, codes: &[Listed]) {
    let want = expected(codes, "createdAt", true, "");
    let query = "sortBy=createdAt&sortOrder=desc&limit=10";
    let (_, first) = server.call(Method::GET, &format!("/api/qrs-api?{query}"), None);
    let cursor = first["nextCursor"].as_str().unwrap().to_owned();
    for n in 0..2 {
        server.create_qr(
            json!({"qrType": "WEB", "qrRedirectUrl": format!("https://example.com/new/{n}")}),
        );
    }
    let gone = &want[15];
    let (status, _) = server.call(Method::DELETE, &format!("/api/qrs-api/{gone}"), None);
    assert_eq!(status, 200);
    let rest = all_pages_by_cursor(server, &format!("{query}&cursor={cursor}"), 10);
    let unread: Vec<String> = want[10..]
        .iter()
        .filter(|id| *id != gone)
        .cloned()
        .collect();
    assert_eq!(rest, unread);

    // Refused: page with cursor, a cursor of another order, one the API did not give.
    let (_, by_name) = server.call(Method::GET, "/api/qrs-api?sortBy=name&limit=1", None);
    let name_cursor = by_name["nextCursor"].as_str().unwrap();
    for (path, words) in [
        (
            format!("/api/qrs-api?{query}&page=2&cursor={cursor}"),
            "page and cursor",
        ),
        (
            format!("/api/qrs-api?sortBy=updatedAt&cursor={cursor}"),
            "another list or order",
        ),
        (
            format!("/api/qrs-api?sortBy=createdAt&cursor={name_cursor}"),
            "another list or order",
        ),
        (
            "/api/qrs-api?cursor=eyJrIjoibmFtZSJ9".to_owned(),
            "not one this API gave",
        ),
        (
            "/api/qrs-api?limit=101".to_owned(),
            "limit must be an integer from 1 to 100",
        ),
    ] {
        let (status, body) = server.call(Method::GET, &path, None);
        assert_eq!(status, 400, "{path}: {body}");
        assert!(
            body["message"].as_str().unwrap().contains(words),
            "{path}: {body}"
        );
    }
    // A cursor names a place, not a direction: under the other sortOrder it pages back.
    let back = format!("/api/qrs-api?sortBy=createdAt&sortOrder=asc&limit=3&cursor={cursor}");
    let (status, body) = server.call(Method::GET, &back, None);
    assert_eq!(status, 200, "{body}");
    let back: Vec<&str> = body["data"]["qrs"]
        .as_array()
        .unwrap()
        .iter()
        .map(|q| q["id"].as_str().unwrap())
        .collect();
    assert_eq!(back, [&want[8], &want[7], &want[6]]);
}

#[test]
fn the_list_pages_through_its_indexes_embedded() {
    let dir = tempfile::tempdir().unwrap();
    listing(&Server::start(dir.path()));
}

#[test]
fn the_list_pages_through_its_indexes_on_redis() {
    let topology = Topology::new();
    listing(&topology.start("api", "api"));
}

/// The ids of the codes the list shows for `query` (every page by cursor, 2 a page), checking
/// that each page's totalCount is that many and that pages by number agree.
fn filtered_ids(server: &Server, query: &str) -> Vec<String> {
    let by_cursor = all_pages_by_cursor(server, query, 2);
    let (by_number, totals) = all_pages(server, query, 2);
    assert_eq!(by_number, by_cursor, "{query}");
    let total = by_cursor.len() as u64;
    assert!(totals.iter().all(|t| *t == total), "{query}: {totals:?}");
    by_cursor
}

fn filtering(server: &Server) {
    let items: Vec<Value> = (0..12)
        .map(|n| {
            json!({
                "qrType": if n % 3 == 0 { "SHORT_LINK" } else { "WEB" },
                "qrRedirectUrl": format!("https://example.com/{n}"),
                "name": format!("Code {n:02}"),
                "tags": match n % 4 { 0 => json!(["Promo", "all"]), 1 => json!(["promo", "all"]), _ => json!(["all"]) },
            })
        })
        .collect();
    let (status, body) = server.call(Method::POST, "/api/qrs-api/bulk", Some(json!(items)));
    assert_eq!(status, 201, "{body}");
    let codes: Vec<Value> = body["data"]["qrs"].as_array().unwrap().clone();
    // Another team's code of the same type and tag stays out of this team's lists.
    let other = server.create_team("Other");
    let theirs = json!({"qrType": "SHORT_LINK", "qrRedirectUrl": "https://example.com/x", "tags": ["Promo"]});
    server.create_qr_in(&other, theirs);

    // The codes numbered `wanted`, by name (which is the order of their numbers).
    let named = |wanted: &[usize]| -> Vec<String> {
        wanted
            .iter()
            .map(|n| codes[*n]["id"].as_str().unwrap().to_owned())
            .collect()
    };
    let by_name = "sortBy=name&sortOrder=asc";
    assert_eq!(
        filtered_ids(server, &format!("{by_name}&qrType=SHORT_LINK")),
        named(&[0, 3, 6, 9])
    );
    assert_eq!(
        filtered_ids(server, &format!("{by_name}&tag=Promo")),
        named(&[0, 4, 8])
    );
    assert_eq!(
        filtered_ids(server, &format!("{by_name}&tag=promo")),
        named(&[1, 5, 9])
    );
    assert_eq!(
        filtered_ids(server, &format!("{by_name}&qrType=SHORT_LINK&tag=promo")),
        named(&[9])
    );
    assert_eq!(
        filtered_ids(
            server,
            &format!("{by_name}&qrType=WEB&tag=all&search=code%200")
        ),
        named(&[1, 2, 4, 5, 7, 8])
    );
    assert_eq!(
        filtered_ids(server, &format!("{by_name}&qrType=&tag=")).len(),
        12,
        "empty: no filter"
    );
    // The default order (updatedAt, newest first) is the filter index's own.
    let mut newest_first = filtered_ids(server, "qrType=WEB");
    newest_first.sort();
    let mut web = named(&[1, 2, 4, 5, 7, 8, 10, 11]);
    web.sort();
    assert_eq!(newest_first, web);
    assert!(filtered_ids(server, "qrType=VCARD").is_empty());

    // Changing a code's type and deleting one move them between the lists.
    let first = codes[0]["id"].as_str().unwrap();
    let (status, body) = server.call(
        Method::PUT,
        &format!("/api/qrs-api/{first}"),
        Some(json!({"qrType": "WEB", "qrRedirectUrl": "https://example.com/0", "tags": ["all"]})),
    );
    assert_eq!(status, 200, "{body}");
    let third = codes[3]["id"].as_str().unwrap();
    let (status, _) = server.call(Method::DELETE, &format!("/api/qrs-api/{third}"), None);
    assert_eq!(status, 200);
    assert_eq!(
        filtered_ids(server, &format!("{by_name}&qrType=SHORT_LINK")),
        named(&[6, 9])
    );
    assert_eq!(
        filtered_ids(server, &format!("{by_name}&tag=Promo")),
        named(&[4, 8])
    );

    let (status, body) = server.call(Method::GET, "/api/qrs-api?qrType=web", None);
    assert_eq!(status, 400, "{body}");
    let message = body["message"].as_str().unwrap();
    assert!(
        message.contains(r#"qrType "web" must be one of WEB, PDF"#),
        "{message}"
    );
}

#[test]
fn the_list_filters_by_type_and_tag_embedded() {
    let dir = tempfile::tempdir().unwrap();
    filtering(&Server::start(dir.path()));
}

#[test]
fn the_list_filters_by_type_and_tag_on_redis() {
    let topology = Topology::new();
    filtering(&topology.start("api", "api"));
}

/// A Redis store written before the list indexes existed: the indexes are built when a process
/// connects, once.
#[test]
fn the_list_indexes_are_built_for_an_older_redis_store() {
    let topology = Topology::new();
    let api = topology.start("api", "api");
    let created: Vec<Value> = (0..3)
        .map(|n| {
            api.create_qr(json!({
                "qrType": "WEB", "qrRedirectUrl": format!("https://example.com/{n}"),
                "name": format!("Old {n}")
            }))
        })
        .collect();
    let ids: Vec<String> = created
        .iter()
        .map(|qr| qr["id"].as_str().unwrap().to_owned())
        .collect();
    // The feed's order: by updatedAt, then id (codes made in one millisecond tie).
    let mut by_change: Vec<(i64, &str)> = created
        .iter()
        .map(|qr| {
            (
                qr["updatedAt"].as_i64().unwrap(),
                qr["id"].as_str().unwrap(),
            )
        })
        .collect();
    by_change.sort();
    let by_change: Vec<&str> = by_change.into_iter().map(|(_, id)| id).collect();
    api.stop();
    // Take the indexes away, as a store of the earlier version would be.
    let prefix = topology.key_prefix();
    let keys = delete_redis_keys(&format!("{prefix}list-*"));
    assert!(keys.len() >= 5, "{keys:?}");

    let mut api = topology.start("api", "api-again");
    api.credentials = support::read_bootstrap(&topology.root().join("api"));
    let (status, body) = api.call(Method::GET, "/api/qrs-api?sortBy=name&sortOrder=asc", None);
    assert_eq!(status, 200, "{body}");
    assert_eq!(body["data"]["totalCount"], 3);
    let listed: Vec<&str> = body["data"]["qrs"]
        .as_array()
        .unwrap()
        .iter()
        .map(|q| q["id"].as_str().unwrap())
        .collect();
    assert_eq!(listed, ids);
    let (status, body) = api.call(Method::GET, "/api/qrs-api/updated-after?fromTime=0", None);
    assert_eq!(status, 200, "{body}");
    let changed: Vec<&str> = body["data"]
        .as_array()
        .unwrap()
        .iter()
        .map(|q| q["id"].as_str().unwrap())
        .collect();
    assert_eq!(
        changed, by_change,
        "the updated-after feed reads its index too"
    );
    let (status, body) = api.call(Method::GET, "/api/qrs-api?search=OLD%201", None);
    assert_eq!(status, 200, "{body}");
    assert_eq!(body["data"]["totalCount"], 1, "a search reads its text too");
    assert_eq!(body["data"]["qrs"][0]["id"], ids[1].as_str());
}
