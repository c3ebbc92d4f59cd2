//! Deletes apply to the record as stored at the write, like every other change, on both stores
//! (Redis through two API processes): a member deleted while their role changes and keys are
//! made for them stays deleted with every key of theirs; template and key deletes honour
//! `If-Match`; and codes created on a custom domain while it is removed never outlive it there.

use std::collections::BTreeSet;

use reqwest::Method;
use serde_json::{json, Value};

use crate::support::topology::Topology;
use crate::support::{Credentials, Server};
use crate::write_races::Api;

/// Rounds of each race.
const ROUNDS: usize = 6;

/// `api` acting with another key (its `clientId` and `clientSecret`), in the same team.
fn with_key(api: &Api, key: &Value) -> Api {
    let mut other = api.clone();
    other.credentials = Credentials {
        client_id: key["clientId"].as_str().unwrap().to_owned(),
        client_secret: key["clientSecret"].as_str().unwrap().to_owned(),
        ..api.credentials.clone()
    };
    other
}

/// Whether `api`'s credentials are still accepted.
fn accepted(api: &Api) -> bool {
    let answer = api.call(Method::GET, "/api/qrs-api?limit=1", None, "");
    match answer.status {
        200 => true,
        401 => false,
        other => panic!("{other}: {}", answer.body),
    }
}

fn emails_of_team(api: &Api) -> BTreeSet<String> {
    let team = &api.credentials.team_id;
    let answer = api.call(Method::GET, &format!("/api/teams-api/{team}"), None, "");
    assert_eq!(answer.status, 200, "{}", answer.body);
    let members = answer.body["data"]["members"].as_array().unwrap();
    members
        .iter()
        .map(|m| m["email"].as_str().unwrap().to_owned())
        .collect()
}

/// Adds `email` to the team as an editor; their version (the answer's ETag).
fn add_member(api: &Api, email: &str) -> u64 {
    let team = &api.credentials.team_id;
    let body = json!({"name": "Leaving", "email": email, "role": "editor"});
    let answer = api.call(
        Method::POST,
        &format!("/api/teams-api/{team}/members"),
        Some(body),
        "",
    );
    assert_eq!(answer.status, 200, "{}", answer.body);
    answer.version.expect("an ETag")
}

/// One thread changes the member's role back and forth, another makes keys for them, while the
/// owner deletes them: afterwards they are gone, and so is every key made for them.
fn member_deletion_race(apis: &[Api]) {
    let team = apis[0].credentials.team_id.clone();
    for round in 0..ROUNDS {
        let email = format!("leaving-{round}@example.com");
        add_member(&apis[0], &email);
        let (made, roles) = std::thread::scope(|s| {
            let roles = s.spawn(|| {
                (0..6)
                    .map(|n| {
                        let role = ["admin", "viewer"][n % 2];
                        let body = json!({"email": email, "role": role});
                        let path = format!("/api/teams-api/{team}/members/role");
                        apis[n % apis.len()]
                            .call(Method::PUT, &path, Some(body), "")
                            .status
                    })
                    .collect::<Vec<u16>>()
            });
            let keys = s.spawn(|| {
                (0..4)
                    .filter_map(|n| {
                        let body =
                            json!({"name": "k", "scopes": ["codes:read"], "memberEmail": email});
                        let answer = apis[n % apis.len()].call(
                            Method::POST,
                            "/api/keys-api",
                            Some(body),
                            "",
                        );
                        assert!(matches!(answer.status, 201 | 404), "{}", answer.body);
                        (answer.status == 201).then(|| answer.body["data"].clone())
                    })
                    .collect::<Vec<Value>>()
            });
            let path = format!("/api/teams-api/{team}/members/permanent?email={email}");
            let deleted = apis[apis.len() - 1].call(Method::DELETE, &path, None, "");
            assert_eq!(deleted.status, 200, "round {round}: {}", deleted.body);
            (keys.join().unwrap(), roles.join().unwrap())
        });
        assert!(
            roles.iter().all(|s| matches!(s, 200 | 404)),
            "round {round}: {roles:?}"
        );
        assert!(
            !emails_of_team(&apis[0]).contains(&email),
            "round {round}: stays deleted"
        );
        for key in &made {
            assert!(
                !accepted(&with_key(&apis[0], key)),
                "round {round}: a key of theirs survived"
            );
        }
    }
}

/// A permanent delete with a stale `If-Match` deletes nothing; with the current one it deletes.
fn member_deletion_honours_if_match(api: &Api) {
    let team = &api.credentials.team_id;
    let email = "checked@example.com";
    let version = add_member(api, email);
    let path = format!("/api/teams-api/{team}/members/permanent?email={email}");
    let stale = api.call(Method::DELETE, &path, None, &format!("\"{}\"", version + 1));
    assert_eq!(stale.status, 412, "{}", stale.body);
    assert!(emails_of_team(api).contains(email), "nothing deleted");
    let malformed = api.call(Method::DELETE, &path, None, "seven");
    assert_eq!(malformed.status, 400, "{}", malformed.body);
    let current = api.call(Method::DELETE, &path, None, &format!("\"{version}\""));
    assert_eq!(current.status, 200, "{}", current.body);
    assert!(!emails_of_team(api).contains(email));
    let owner =
        "/api/teams-api/{team}/members/permanent?email=owner@localhost".replace("{team}", team);
    assert_eq!(
        api.call(Method::DELETE, &owner, None, "").status,
        403,
        "an owner never is"
    );
}

/// Template and key deletes: 412 with a stale `If-Match` (nothing deleted), 400 with a
/// malformed one, deleted with the current one.
fn template_and_key_deletes_honour_if_match(api: &Api) {
    let body =
        json!({"name": "Checked", "foregroundColor": "#1E3A8A", "backgroundColor": "#ffffff"});
    let made = api.call(Method::POST, "/api/qr-templates-api", Some(body), "");
    assert_eq!(made.status, 201, "{}", made.body);
    let version = made.version.expect("an ETag");
    let path = format!(
        "/api/qr-templates-api/{}",
        made.body["data"]["id"].as_str().unwrap()
    );
    let stale = api.call(Method::DELETE, &path, None, &format!("\"{}\"", version + 1));
    assert_eq!(stale.status, 412, "{}", stale.body);
    assert_eq!(
        api.call(Method::GET, &path, None, "").status,
        200,
        "nothing deleted"
    );
    assert_eq!(
        api.call(Method::DELETE, &path, None, "W/\"1\", x").status,
        400
    );
    let current = api.call(Method::DELETE, &path, None, &format!("\"{version}\""));
    assert_eq!(current.status, 200, "{}", current.body);
    assert_eq!(api.call(Method::GET, &path, None, "").status, 404);

    let body = json!({"name": "checked", "scopes": ["codes:read"]});
    let made = api.call(Method::POST, "/api/keys-api", Some(body), "");
    assert_eq!((made.status, made.version), (201, Some(1)), "{}", made.body);
    let key = with_key(api, &made.body["data"]);
    let path = format!("/api/keys-api/{}", key.credentials.client_id);
    let stale = api.call(Method::DELETE, &path, None, "\"2\"");
    assert_eq!(stale.status, 412, "{}", stale.body);
    assert!(accepted(&key), "nothing revoked");
    assert_eq!(api.call(Method::DELETE, &path, None, "2").status, 400);
    assert_eq!(api.call(Method::DELETE, &path, None, "\"1\"").status, 200);
    assert!(!accepted(&key));
}

/// Codes are created on a custom domain while another request removes it from the team: either
/// the removal is refused (409: live codes on it) or the creates are (400), and no live code of
/// the team is ever on a domain the team does not have.
fn creates_racing_a_domains_removal(apis: &[Api]) {
    let team = apis[0].credentials.team_id.clone();
    let domains_path = format!("/api/teams-api/{team}/domains");
    let view = apis[0].call(Method::GET, &format!("/api/teams-api/{team}"), None, "");
    let platform = view.body["data"]["defaultDomain"]
        .as_str()
        .unwrap()
        .to_owned();
    for round in 0..ROUNDS {
        let domain = format!("qr.race{round}.test");
        let claim = json!({"defaultDomain": platform, "domains": [platform, domain]});
        let claimed = apis[0].call(Method::PUT, &domains_path, Some(claim), "");
        assert_eq!(claimed.status, 200, "{}", claimed.body);
        let (creates, removal) = std::thread::scope(|s| {
            let creates = s.spawn(|| {
                (0..6)
                    .map(|n| {
                        let body = json!({"qrType": "WEB", "qrRedirectUrl": "https://a.example/",
                                          "baseUrl": format!("https://{domain}/")});
                        let answer =
                            apis[n % apis.len()].call(Method::POST, "/api/qrs-api", Some(body), "");
                        assert!(matches!(answer.status, 201 | 400), "{}", answer.body);
                        answer.status
                    })
                    .collect::<Vec<u16>>()
            });
            let release = json!({"defaultDomain": platform, "domains": [platform]});
            let api = &apis[apis.len() - 1];
            let removal = api.call(Method::PUT, &domains_path, Some(release), "");
            (creates.join().unwrap(), removal)
        });
        assert!(matches!(removal.status, 200 | 409), "{}", removal.body);
        let stored = creates.iter().filter(|s| **s == 201).count();
        if removal.status == 200 {
            assert_eq!(stored, 0, "round {round}: released with codes on it");
        }
        let team_now = apis[0].call(Method::GET, &format!("/api/teams-api/{team}"), None, "");
        let kept: Vec<String> =
            serde_json::from_value(team_now.body["data"]["domains"].clone()).unwrap();
        let listed = apis[0].call(Method::GET, "/api/qrs-api?limit=100", None, "");
        for code in listed.body["data"]["qrs"].as_array().unwrap() {
            let on = code["baseUrl"].as_str().unwrap_or_default();
            if on.contains(&domain) {
                assert!(
                    kept.contains(&domain),
                    "round {round}: a live code on a lost domain"
                );
                let path = format!("/api/qrs-api/{}", code["id"].as_str().unwrap());
                assert_eq!(apis[0].call(Method::DELETE, &path, None, "").status, 200);
            }
        }
        let release = json!({"defaultDomain": platform, "domains": [platform]});
        let released = apis[0].call(Method::PUT, &domains_path, Some(release), "");
        assert_eq!(released.status, 200, "{}", released.body);
    }
}

#[test]
fn deletes_apply_to_the_record_as_stored_embedded() {
    let dir = tempfile::tempdir().unwrap();
    let server = Server::start(dir.path());
    let api = Api::of(&server, &server.credentials);
    let apis = std::slice::from_ref(&api);
    member_deletion_race(apis);
    member_deletion_honours_if_match(&api);
    template_and_key_deletes_honour_if_match(&api);
    creates_racing_a_domains_removal(apis);
}

#[test]
fn deletes_apply_to_the_record_as_stored_on_redis_through_two_api_processes() {
    let topology = Topology::new();
    let first = topology.start("api", "api1");
    let second = topology.start("api", "api2");
    let apis = [
        Api::of(&first, &first.credentials),
        Api::of(&second, &first.credentials),
    ];
    member_deletion_race(&apis);
    member_deletion_honours_if_match(&apis[1]);
    template_and_key_deletes_honour_if_match(&apis[1]);
    creates_racing_a_domains_removal(&apis);
}
