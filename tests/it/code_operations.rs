//! Duplicate, tags, title and the updated-after feeds, on either backend: what an integrator
//! would check, and that refusals change nothing.

use crate::support;
use std::collections::HashSet;

use crate::support::topology::Topology;
use crate::support::Server;
use reqwest::Method;
use serde_json::{json, Value};

fn message(body: &Value) -> &str {
    body["message"].as_str().unwrap_or_default()
}

/// `body` is refused with 400 and a message containing `words`.
fn assert_bad(server: &Server, method: Method, path: &str, body: Value, words: &str) {
    let (status, answer) = server.call(method, path, Some(body.clone()));
    assert_eq!(status, 400, "{path} {body} is refused: {answer}");
    assert_eq!(answer["success"], false);
    assert!(message(&answer).contains(words), "{body}: {answer}");
}

fn code_operations(server: &Server, edge: bool) {
    let original = server.create_qr(json!({
        "name": "Summer Campaign", "qrType": "WEB",
        "qrRedirectUrl": "https://example.com/summer", "tags": ["marketing"]
    }));
    let id = original["id"].as_str().unwrap();

    // Duplicate: a new code with the same content.
    let (status, body) = server.call(Method::POST, &format!("/api/qrs-api/{id}/duplicate"), None);
    assert_eq!(status, 201, "{body}");
    let copy = &body["data"];
    assert_ne!(copy["id"], original["id"]);
    assert_ne!(copy["displayId"], original["displayId"]);
    for field in [
        "name",
        "qrType",
        "qrRedirectUrl",
        "tags",
        "teamId",
        "settings",
    ] {
        assert_eq!(copy[field], original[field], "{field} is copied");
    }
    assert_eq!(copy["deleted"], false);
    let copy_id = copy["id"].as_str().unwrap().to_owned();
    let (status, fetched) = server.call(Method::GET, &format!("/api/qrs-api/{copy_id}"), None);
    assert_eq!((status, &fetched["data"]["name"]), (200, &original["name"]));
    if edge {
        server.assert_served(copy["displayId"].as_str().unwrap());
    }

    // Tags: the reference's example replaces them; [] clears them.
    let tags_path = format!("/api/qrs-api/{id}/tags");
    let (status, body) = server.call(
        Method::PUT,
        &tags_path,
        Some(json!({"tags": ["marketing", "product-launch", "q4-2024"]})),
    );
    assert_eq!(status, 200, "{body}");
    assert_eq!(
        body["data"]["tags"],
        json!(["marketing", "product-launch", "q4-2024"])
    );
    assert_eq!(body["data"]["qrRedirectUrl"], "https://example.com/summer");
    for (bad, words) in [
        (json!({"tags": "marketing"}), "invalid JSON body"),
        (json!({"tags": [1]}), "invalid JSON body"),
        (json!({}), "missing field `tags`"),
        (json!({"tags": ["a"], "name": "x"}), "unknown field"),
        (json!({"tags": [""]}), "tag \"\" must be 1 to 64 characters"),
        (json!({"tags": vec!["t"; 51]}), "at most 50 tags"),
    ] {
        assert_bad(server, Method::PUT, &tags_path, bad, words);
    }

    // Title.
    let title_path = format!("/api/qrs-api/{id}/title");
    let (status, body) = server.call(
        Method::PUT,
        &title_path,
        Some(json!({"title": "Summer Campaign - Homepage"})),
    );
    assert_eq!(status, 200, "{body}");
    assert_eq!(body["data"]["name"], "Summer Campaign - Homepage");
    for (bad, words) in [
        (json!({"title": "   "}), "title must not be empty"),
        (json!({"title": 5}), "invalid JSON body"),
        (json!({}), "missing field `title`"),
        (json!({"title": "x".repeat(257)}), "name is longer than 256"),
    ] {
        assert_bad(server, Method::PUT, &title_path, bad, words);
    }
    let (_, now) = server.call(Method::GET, &format!("/api/qrs-api/{id}"), None);
    assert_eq!(
        (&now["data"]["name"], &now["data"]["tags"]),
        (
            &json!("Summer Campaign - Homepage"),
            &json!(["marketing", "product-launch", "q4-2024"])
        ),
        "refusals change nothing"
    );

    // Out of reach: an unknown code, another team's header, no credentials.
    for (method, path, body) in [
        (Method::POST, "/api/qrs-api/qr_nosuchcode/duplicate", None),
        (
            Method::PUT,
            "/api/qrs-api/qr_nosuchcode/tags",
            Some(json!({"tags": []})),
        ),
        (
            Method::PUT,
            "/api/qrs-api/qr_nosuchcode/title",
            Some(json!({"title": "x"})),
        ),
    ] {
        let (status, answer) = server.call(method, path, body);
        assert_eq!(status, 404, "{path}: {answer}");
        assert!(message(&answer).contains("not found"), "{answer}");
    }
    let (status, _) = server.call_as(
        &server.credentials,
        "team_someoneelse",
        Method::POST,
        &format!("/api/qrs-api/{id}/duplicate"),
        None,
    );
    assert_eq!(status, 403, "another team is out of reach");
    let anonymous = reqwest::blocking::Client::new()
        .put(format!("{}{title_path}", server.api))
        .json(&json!({"title": "stolen"}))
        .send()
        .unwrap();
    assert_eq!(anonymous.status(), 401);

    // A deleted code is only read.
    let (status, _) = server.call(Method::DELETE, &format!("/api/qrs-api/{copy_id}"), None);
    assert_eq!(status, 200);
    for (method, path, body) in [
        (
            Method::POST,
            format!("/api/qrs-api/{copy_id}/duplicate"),
            None,
        ),
        (
            Method::PUT,
            format!("/api/qrs-api/{copy_id}/tags"),
            Some(json!({"tags": ["x"]})),
        ),
        (
            Method::PUT,
            format!("/api/qrs-api/{copy_id}/title"),
            Some(json!({"title": "x"})),
        ),
    ] {
        let (status, answer) = server.call(method, &path, body);
        assert_eq!(status, 409, "{path}: {answer}");
        assert!(message(&answer).contains("deleted"), "{answer}");
    }

    // The feeds: at or after fromTime, oldest change first, deletions included.
    let (_, all) = server.call(Method::GET, "/api/qrs-api/updated-after?fromTime=0", None);
    let times: Vec<i64> = all["data"]
        .as_array()
        .unwrap()
        .iter()
        .map(|qr| qr["updatedAt"].as_i64().unwrap())
        .collect();
    assert!(
        times.windows(2).all(|w| w[0] <= w[1]),
        "oldest first: {times:?}"
    );
    let ids: HashSet<&str> = all["data"]
        .as_array()
        .unwrap()
        .iter()
        .map(|qr| qr["id"].as_str().unwrap())
        .collect();
    assert!(ids.contains(id) && ids.contains(copy_id.as_str()), "{all}");
    let (_, deleted) = server.call(Method::GET, &format!("/api/qrs-api/{copy_id}"), None);
    let since = deleted["data"]["updatedAt"].as_i64().unwrap();
    let (status, later) = server.call(
        Method::GET,
        &format!("/api/qrs-api/updated-after?fromTime={since}"),
        None,
    );
    assert_eq!(status, 200, "{later}");
    let later = later["data"].as_array().unwrap();
    assert!(
        later
            .iter()
            .any(|qr| qr["id"] == copy_id.as_str() && qr["deleted"] == true),
        "the deletion is in the feed: {later:?}"
    );
    assert!(later
        .iter()
        .all(|qr| qr["updatedAt"].as_i64().unwrap() >= since));
    let (_, none) = server.call(
        Method::GET,
        &format!("/api/qrs-api/updated-after?fromTime={}", since + 86_400_000),
        None,
    );
    assert_eq!(none["data"], json!([]));

    // Across the caller's teams: no team header needed.
    let across = reqwest::blocking::Client::new()
        .get(format!(
            "{}/api/qrs-api/all/updated-after?fromTime=0",
            server.api
        ))
        .header("x-request-client-id", &server.credentials.client_id)
        .header("x-request-client-secret", &server.credentials.client_secret)
        .send()
        .unwrap();
    let (status, across) = support::json_of(across);
    assert_eq!(status, 200, "{across}");
    assert_eq!(across["data"], all["data"], "one team: the same feed");

    for query in ["", "?fromTime=", "?fromTime=yesterday", "?fromTime=-5"] {
        for base in [
            "/api/qrs-api/updated-after",
            "/api/qrs-api/all/updated-after",
        ] {
            let (status, answer) = server.call(Method::GET, &format!("{base}{query}"), None);
            assert_eq!(status, 400, "{base}{query}: {answer}");
            assert!(message(&answer).contains("fromTime"), "{answer}");
        }
    }
}

#[test]
fn codes_are_duplicated_tagged_renamed_and_followed_embedded() {
    let dir = tempfile::tempdir().unwrap();
    code_operations(&Server::start(dir.path()), true);
}

#[test]
fn codes_are_duplicated_tagged_renamed_and_followed_on_redis() {
    let topology = Topology::new();
    code_operations(&topology.start("api", "api"), false);
}

/// Folders are not supported (the reference marks them "coming soon"): every way of putting a
/// code in one, and the list's folder filter, is refused with 400 and changes nothing; null, ""
/// and [] name no folder and are accepted.
fn folders_refused(server: &Server) {
    let live = || {
        let (status, body) = server.call(Method::GET, "/api/qrs-api?limit=1", None);
        assert_eq!(status, 200, "{body}");
        body["data"]["totalCount"].as_u64().unwrap()
    };
    let web = |extra: Value| {
        let mut body = json!({"qrType": "WEB", "qrRedirectUrl": "https://example.com/f"});
        body.as_object_mut()
            .unwrap()
            .extend(extra.as_object().unwrap().clone());
        body
    };
    let words = "folders are not supported";
    let code = server.create_qr(web(
        json!({"folderId": "", "folderIds": [], "name": "Foldless"}),
    ));
    assert_eq!(
        (&code["folderId"], &code["folderIds"]),
        (&Value::Null, &json!([]))
    );
    let id = code["id"].as_str().unwrap();
    let before = live();

    for folder in [
        json!({"folderId": "fld_1"}),
        json!({"folderIds": ["fld_1"]}),
        json!({"folderIds": [""]}),
    ] {
        assert_bad(
            server,
            Method::POST,
            "/api/qrs-api",
            web(folder.clone()),
            words,
        );
        assert_bad(
            server,
            Method::PUT,
            &format!("/api/qrs-api/{id}"),
            folder.clone(),
            words,
        );
        assert_bad(
            server,
            Method::POST,
            "/api/qrs-api/bulk",
            json!([web(json!({})), web(folder.clone())]),
            &format!("item 1: folderId/folderIds: {words}"),
        );
        assert_bad(
            server,
            Method::POST,
            &format!("/api/qrs-api/{id}/duplicate"),
            folder,
            words,
        );
    }
    assert_bad(
        server,
        Method::POST,
        &format!("/api/qrs-api/{id}/duplicate"),
        json!({"name": "not a duplicate's field"}),
        "unknown field",
    );
    for query in [
        "folderId=fld_1",
        "folderIds=fld_1",
        "folderId=&folderIds=fld_1",
    ] {
        let (status, body) = server.call(Method::GET, &format!("/api/qrs-api?{query}"), None);
        assert_eq!(status, 400, "{query}: {body}");
        assert!(message(&body).contains(words), "{body}");
    }
    assert_eq!(live(), before, "nothing was created");
    let (_, after) = server.call(Method::GET, &format!("/api/qrs-api/{id}"), None);
    assert_eq!(
        after["data"]["updatedAt"], code["updatedAt"],
        "nothing was updated"
    );

    // No folder named: accepted.
    let (status, body) = server.call(Method::GET, "/api/qrs-api?folderId=", None);
    assert_eq!(
        (status, &body["data"]["totalCount"]),
        (200, &json!(before)),
        "{body}"
    );
    let (status, body) = server.call(
        Method::PUT,
        &format!("/api/qrs-api/{id}"),
        Some(json!({"folderId": "", "folderIds": [], "name": "Still foldless"})),
    );
    assert_eq!(
        (status, &body["data"]["name"]),
        (200, &json!("Still foldless")),
        "{body}"
    );
    for duplicate in [
        Some(json!({})),
        Some(json!({"folderId": null, "folderIds": []})),
        None,
    ] {
        let (status, body) = server.call(
            Method::POST,
            &format!("/api/qrs-api/{id}/duplicate"),
            duplicate,
        );
        assert_eq!(status, 201, "{body}");
        assert_eq!(body["data"]["folderId"], Value::Null);
    }
    assert_eq!(live(), before + 3);
}

#[test]
fn folders_are_refused_embedded() {
    let dir = tempfile::tempdir().unwrap();
    folders_refused(&Server::start(dir.path()));
}

#[test]
fn folders_are_refused_on_redis() {
    let topology = Topology::new();
    folders_refused(&topology.start("api", "api"));
}

/// An update removes a code's expiry or template with `null` and keeps them when it leaves them
/// out; an expired code whose expiry is removed is served again. A bad value changes nothing.
fn expiry_and_template_removed(server: &Server) {
    let code = server.create_qr(json!({
        "qrType": "WEB", "qrRedirectUrl": "https://example.com/again", "displayId": "cleared",
        "templateId": "navy", "expiryDate": 1_000
    }));
    let path = format!("/api/qrs-api/{}", code["id"].as_str().unwrap());
    let expired = server.edge_within_a_second("cleared", |r| r.status() == 410);
    assert_eq!(expired.status(), 410, "expired");

    let (status, kept) = server.call(Method::PUT, &path, Some(json!({"name": "Kept"})));
    assert_eq!(status, 200, "{kept}");
    assert_eq!(
        (&kept["data"]["expiryDate"], &kept["data"]["templateId"]),
        (&json!(1_000), &json!("navy")),
        "left out: kept"
    );
    assert_bad(
        server,
        Method::PUT,
        &path,
        json!({"expiryDate": "never"}),
        "invalid JSON body",
    );
    let (_, unchanged) = server.call(Method::GET, &path, None);
    assert_eq!(
        unchanged["data"]["expiryDate"], 1_000,
        "a refusal changes nothing"
    );

    let removed = json!({"expiryDate": null, "templateId": null});
    let (status, body) = server.call(Method::PUT, &path, Some(removed));
    assert_eq!(status, 200, "{body}");
    let (_, read) = server.call(Method::GET, &path, None);
    assert_eq!(
        (&read["data"]["expiryDate"], &read["data"]["templateId"]),
        (&Value::Null, &Value::Null),
        "{read}"
    );
    assert_eq!(read["data"]["name"], "Kept");
    server.assert_served("cleared");
}

#[test]
fn an_expiry_and_a_template_are_removed_with_null_embedded() {
    let dir = tempfile::tempdir().unwrap();
    expiry_and_template_removed(&Server::start(dir.path()));
}

#[test]
fn an_expiry_and_a_template_are_removed_with_null_on_redis() {
    let topology = Topology::new();
    expiry_and_template_removed(&topology.start("serve", "serve"));
}
