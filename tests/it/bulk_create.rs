//! Many codes at once: the JSON bulk create (all valid or none) and the CSV import endpoint
//! (each row on its own), on either backend.

use crate::support::topology::Topology;
use crate::support::{json_of, Launch, Server};
use reqwest::Method;
use serde_json::{json, Value};

fn code_count(server: &Server) -> u64 {
    let (_, body) = server.call(Method::GET, "/api/qrs-api?limit=1", None);
    body["data"]["totalCount"].as_u64().unwrap()
}

fn import(server: &Server, content_type: &str, csv: &str) -> (u16, Value) {
    let response = server
        .client
        .post(format!("{}/api/qrs-api/import", server.api))
        .header("x-request-team-id", &server.credentials.team_id)
        .header("x-request-client-id", &server.credentials.client_id)
        .header("x-request-client-secret", &server.credentials.client_secret)
        .header("content-type", content_type)
        .body(csv.to_owned())
        .send()
        .unwrap();
    json_of(response)
}

fn many_codes(server: &Server, edge: bool) {
    let web = |url: &str| json!({"qrType": "WEB", "qrRedirectUrl": url});
    let (status, body) = server.call(
        Method::POST,
        "/api/qrs-api/bulk",
        Some(json!([
            {"qrType": "WEB", "qrRedirectUrl": "https://example.com/1", "displayId": "bulk-one", "name": "One"},
            web("https://example.com/2"),
            web("https://example.com/3"),
        ])),
    );
    assert_eq!(status, 201, "{body}");
    let qrs = body["data"]["qrs"].as_array().unwrap();
    assert_eq!((qrs.len(), &body["data"]["refused"]), (3, &json!([])));
    assert_eq!(
        (&qrs[0]["displayId"], &qrs[0]["name"]),
        (&json!("bulk-one"), &json!("One"))
    );
    for qr in qrs {
        let (status, _) = server.call(
            Method::GET,
            &format!("/api/qrs-api/{}", qr["id"].as_str().unwrap()),
            None,
        );
        assert_eq!(status, 200);
    }
    if edge {
        // Their changes reach the edge as one entry of the feed: each code is served.
        for qr in qrs {
            server.assert_served(qr["displayId"].as_str().unwrap());
        }
    }

    // One bad item refuses the whole request.
    let before = code_count(server);
    for (bad, words) in [
        (
            json!([web("https://example.com/4"), web("javascript:alert(1)")]),
            "item 1: qrRedirectUrl",
        ),
        (
            json!([web("https://example.com/5"), {"qrType": "NOPE"}]),
            "item 1: unknown qrType",
        ),
        (
            json!([web("https://example.com/6"), {"qrType": "WEB", "qrRedirectUrl": 7}]),
            "item 1:",
        ),
        (
            json!([{"qrType": "WEB", "qrRedirectUrl": "https://a.example", "displayId": "twice"},
                {"qrType": "WEB", "qrRedirectUrl": "https://b.example", "displayId": "twice"}]),
            "also item 0's",
        ),
        (json!([]), "1 to 100 codes"),
        (
            json!(vec![web("https://example.com/n"); 101]),
            "1 to 100 codes",
        ),
        (json!({"qrType": "WEB"}), "invalid JSON body"),
    ] {
        let (status, answer) = server.call(Method::POST, "/api/qrs-api/bulk", Some(bad.clone()));
        assert_eq!(status, 400, "{answer}");
        assert!(
            answer["message"].as_str().unwrap().contains(words),
            "{words}: {answer}"
        );
    }
    assert_eq!(
        code_count(server),
        before,
        "refused requests create nothing"
    );

    // A displayId taken meanwhile: that item is refused, the others stored.
    let (status, body) = server.call(
        Method::POST,
        "/api/qrs-api/bulk",
        Some(json!([
            {"qrType": "WEB", "qrRedirectUrl": "https://example.com/x", "displayId": "bulk-one"},
            web("https://example.com/7"),
        ])),
    );
    assert_eq!(status, 201, "{body}");
    assert_eq!(body["data"]["qrs"].as_array().unwrap().len(), 1);
    assert_eq!(body["data"]["refused"][0]["index"], 0);
    assert!(body["data"]["refused"][0]["message"]
        .as_str()
        .unwrap()
        .contains("already in use"));
    assert_eq!(code_count(server), before + 1);

    // CSV import: each row on its own, refusals by line.
    let (status, body) = import(
        server,
        "text/csv",
        "displayId,url,type,name\nimp-1,https://example.com/i1,WEB,Imported\nimp-2,javascript:x,WEB,\nbulk-one,https://example.com/i3,WEB,\n",
    );
    assert_eq!(status, 201, "{body}");
    let data = &body["data"];
    assert_eq!(data["imported"], 1);
    let refused: Vec<u64> = data["refused"]
        .as_array()
        .unwrap()
        .iter()
        .map(|r| r["line"].as_u64().unwrap())
        .collect();
    assert_eq!(refused, [3, 4]);
    assert!(data["refused"][1]["message"]
        .as_str()
        .unwrap()
        .contains("already in use"));
    let batch = data["batchId"].as_str().unwrap();
    let (_, found) = server.call(Method::GET, "/api/qrs-api?search=imp-1", None);
    assert_eq!(found["data"]["qrs"][0]["batchId"], batch, "{found}");
    assert_eq!(found["data"]["qrs"][0]["name"], "Imported");
    if edge {
        server.assert_served("imp-1");
    }

    let before = code_count(server);
    let (status, body) = import(
        server,
        "application/json",
        "displayId,url,type\nz,https://example.com/z,WEB\n",
    );
    assert_eq!(status, 415, "{body}");
    let (status, body) = import(
        server,
        "text/csv",
        "displayId,url,type\nz,ftp://example.com/z,WEB\n",
    );
    assert_eq!(status, 400, "{body}");
    let (status, body) = import(server, "text/csv", "displayId,color\nz,red\n");
    assert_eq!(status, 400, "{body}");
    assert_eq!(code_count(server), before, "nothing imported");

    let (status, _) = server.call_as(
        &server.credentials,
        "team_someoneelse",
        Method::POST,
        "/api/qrs-api/bulk",
        Some(json!([web("https://example.com/8")])),
    );
    assert_eq!(status, 403);
}

#[test]
fn codes_are_created_in_bulk_and_imported_embedded() {
    let dir = tempfile::tempdir().unwrap();
    many_codes(&Server::start(dir.path()), true);
}

#[test]
fn codes_are_created_in_bulk_and_imported_on_redis() {
    let topology = Topology::new();
    many_codes(&topology.start("api", "api"), false);
}

/// The plan's limit of live codes per team (the reference's `checkQrLimit`), here 3: every way
/// of creating a code stops at it, and deleting one frees a place.
fn limited_codes(server: &Server) {
    let web = |url: &str| json!({"qrType": "WEB", "qrRedirectUrl": url});
    let limit_reached = |status: u16, body: &Value| {
        assert_eq!(status, 403, "{body}");
        assert_eq!(body["success"], false);
        let message = body["message"].as_str().unwrap();
        assert!(message.contains("limit of 3 live QR codes"), "{message}");
    };
    let first = server.create_qr(web("https://example.com/1"));
    server.create_qr(web("https://example.com/2"));

    let (status, body) = server.call(
        Method::POST,
        "/api/qrs-api/bulk",
        Some(json!([
            web("https://example.com/3"),
            web("https://example.com/4")
        ])),
    );
    limit_reached(status, &body);
    assert_eq!(
        code_count(server),
        2,
        "a bulk create past the limit stores none"
    );

    server.create_qr(web("https://example.com/3"));
    let (status, body) = server.call(
        Method::POST,
        "/api/qrs-api",
        Some(web("https://example.com/4")),
    );
    limit_reached(status, &body);
    let first_id = first["id"].as_str().unwrap();
    let (status, body) = server.call(
        Method::POST,
        &format!("/api/qrs-api/{first_id}/duplicate"),
        None,
    );
    limit_reached(status, &body);
    assert_eq!(code_count(server), 3);

    // A deleted code does not count: one place, so one of two rows is imported.
    let (status, _) = server.call(Method::DELETE, &format!("/api/qrs-api/{first_id}"), None);
    assert_eq!(status, 200);
    let (status, body) = import(
        server,
        "text/csv",
        "displayId,url,type\nlim-1,https://example.com/l1,WEB\nlim-2,https://example.com/l2,WEB\n",
    );
    assert_eq!(status, 201, "{body}");
    assert_eq!(body["data"]["imported"], 1);
    assert_eq!(body["data"]["refused"][0]["line"], 3);
    assert!(body["data"]["refused"][0]["message"]
        .as_str()
        .unwrap()
        .contains("limit of 3 live QR codes"));
    assert_eq!(code_count(server), 3);
}

const LIMIT_OF_3: &str = "[api.codes_per_team]\nbusiness_plus = 3\n";

#[test]
fn a_plan_limits_the_codes_of_a_team_embedded() {
    let dir = tempfile::tempdir().unwrap();
    limited_codes(&Launch::new(dir.path()).config(LIMIT_OF_3).start());
}

#[test]
fn a_plan_limits_the_codes_of_a_team_on_redis() {
    let mut topology = Topology::new();
    topology.config.push_str(LIMIT_OF_3);
    limited_codes(&topology.start("api", "api"));
}

/// A POST of `body` declared as `content_type` (none when None) to `path`.
fn post_as(server: &Server, path: &str, content_type: Option<&str>, body: &str) -> (u16, Value) {
    let mut request = server
        .client
        .post(format!("{}{path}", server.api))
        .header("x-request-team-id", &server.credentials.team_id)
        .header("x-request-client-id", &server.credentials.client_id)
        .header("x-request-client-secret", &server.credentials.client_secret)
        .body(body.to_owned());
    if let Some(content_type) = content_type {
        request = request.header("content-type", content_type);
    }
    json_of(request.send().unwrap())
}

/// A refusal in the error envelope (`success: false`, a message with `words`), with its report.
fn assert_refused_with_report(status: u16, body: &Value, expected: u16, words: &str) {
    assert_eq!(status, expected, "{body}");
    assert_eq!(body["success"], false, "{body}");
    let message = body["message"].as_str().unwrap_or_default();
    assert!(message.contains(words), "{words:?} in {message:?}");
}

/// Every answer's status and `success` agree: an import or bulk create that created nothing is
/// a refusal (success false, a message) that still carries its report; media types are read
/// case-insensitively with parameters, and a body declared as another type is 415.
fn honest_answers(server: &Server) {
    let before = code_count(server);
    // Rows that are not UTF-8: nothing imported, 400 in the error envelope, the report kept.
    let mut csv = b"displayId,url,type\nbad-utf8,https://example.com/".to_vec();
    csv.extend_from_slice(&[0xff, 0xfe]);
    csv.extend_from_slice(b",WEB\n");
    let response = server
        .client
        .post(format!("{}/api/qrs-api/import", server.api))
        .header("x-request-team-id", &server.credentials.team_id)
        .header("x-request-client-id", &server.credentials.client_id)
        .header("x-request-client-secret", &server.credentials.client_secret)
        .header("content-type", "text/csv")
        .body(csv)
        .send()
        .unwrap();
    let (status, body) = json_of(response);
    assert_refused_with_report(status, &body, 400, "no row was imported: line 2:");
    assert_eq!(body["data"]["imported"], 0);
    assert_eq!(body["data"]["refused"][0]["line"], 2);
    assert!(body["data"]["refused"][0]["message"]
        .as_str()
        .unwrap()
        .contains("not valid UTF-8"));

    // Another team's template: refused by line, and nothing imported is a refusal too.
    let (status, team) = server.call(
        Method::POST,
        "/api/teams-api",
        Some(json!({"name": "Other team"})),
    );
    assert_eq!(status, 201, "{team}");
    let other_team = team["data"]["id"].as_str().unwrap();
    let (status, template) = server.call_as(
        &server.credentials,
        other_team,
        Method::POST,
        "/api/qr-templates-api",
        Some(json!({"name": "Theirs"})),
    );
    assert_eq!(status, 201, "{template}");
    let foreign = template["data"]["id"].as_str().unwrap();
    let (status, body) = import(
        server,
        "text/csv",
        &format!("displayId,url,type,templateId\nforeign-1,https://example.com/f,WEB,{foreign}\nforeign-2,https://example.com/g,WEB,{foreign}\n"),
    );
    assert_refused_with_report(status, &body, 400, "(and 1 more)");
    assert!(body["message"].as_str().unwrap().contains(&format!(
        "line 2: templateId \"{foreign}\" is not a template of this team"
    )));
    assert_eq!(body["data"]["refused"].as_array().unwrap().len(), 2);
    let (status, body) = import(server, "text/csv", "displayId,url,type\n");
    assert_refused_with_report(status, &body, 400, "there was nothing to create");
    assert_eq!(code_count(server), before, "nothing imported");

    // Media types: any case, with parameters; another type, or another charset, is 415.
    for (n, content_type) in [
        "TEXT/CSV",
        "text/csv; charset=utf-8",
        "Text/Csv;Charset=\"UTF-8\"",
    ]
    .into_iter()
    .enumerate()
    {
        let csv = format!("displayId,url,type\ncase-{n},https://example.com/c{n},WEB\n");
        let (status, body) = import(server, content_type, &csv);
        assert_eq!(
            (status, &body["success"]),
            (201, &json!(true)),
            "{content_type}: {body}"
        );
    }
    for content_type in [
        Some("text/csvx"),
        Some("application/json"),
        Some("text/csv; charset=latin1"),
        Some("not a media type"),
        None,
    ] {
        let csv = "displayId,url,type\nnever,https://example.com/n,WEB\n";
        let (status, body) = post_as(server, "/api/qrs-api/import", content_type, csv);
        assert_refused_with_report(status, &body, 415, "");
        assert!(body["data"].is_null(), "{body}");
    }
    let create = r#"{"qrType": "WEB", "qrRedirectUrl": "https://example.com/json"}"#;
    for content_type in [
        Some("APPLICATION/JSON; charset=UTF-8"),
        Some("application/merge-patch+json"),
        None,
    ] {
        let (status, body) = post_as(server, "/api/qrs-api", content_type, create);
        assert_eq!(status, 201, "{content_type:?}: {body}");
    }
    for content_type in [
        "text/plain",
        "application/x-www-form-urlencoded",
        "application/json; charset=utf-16",
    ] {
        let (status, body) = post_as(server, "/api/qrs-api", Some(content_type), create);
        assert_refused_with_report(status, &body, 415, "");
    }
    assert_eq!(code_count(server), before + 6, "3 imported and 3 created");

    // A bulk create whose every displayId is taken created nothing: 409 in the error envelope.
    let (status, body) = server.call(
        Method::POST,
        "/api/qrs-api/bulk",
        Some(json!([
            {"qrType": "WEB", "qrRedirectUrl": "https://example.com/t0", "displayId": "case-0"},
            {"qrType": "WEB", "qrRedirectUrl": "https://example.com/t1", "displayId": "case-1"},
        ])),
    );
    assert_refused_with_report(status, &body, 409, "no code was created: item 0:");
    assert!(body["message"].as_str().unwrap().contains("(and 1 more)"));
    assert_eq!(body["data"]["qrs"], json!([]));
    assert_eq!(body["data"]["refused"][1]["index"], 1);
    assert_eq!(code_count(server), before + 6);
}

#[test]
fn answers_say_success_only_when_something_was_done_embedded() {
    let dir = tempfile::tempdir().unwrap();
    honest_answers(&Server::start(dir.path()));
}

#[test]
fn answers_say_success_only_when_something_was_done_on_redis() {
    let topology = Topology::new();
    honest_answers(&topology.start("api", "api"));
}
