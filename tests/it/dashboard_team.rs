//! The dashboard's team pages (src/dashboard/team/) in a real browser, on both stores
//! (`tests/it/browser/team.py`): the owner changes the team's settings (and a stale save is
//! refused), switches teams, adds a member and changes their role (a change drawn before one
//! made through the API is refused and changes nothing), makes an API key whose token works
//! once shown, is shown on no reload (which makes no second key), and stops working once
//! revoked (a stale revoke is refused), adds a custom domain and sees its CNAME and an orphan
//! scan on it, makes a template whose preview scans; a viewer sees no edit control and their
//! forged posts change nothing, and is signed out once removed on the page; another team's admin
//! reaches none of it. Every team page passes axe-core.

use reqwest::Method;
use serde_json::{json, Value};

use crate::dashboard::{api_args, bootstrap_link, browse, cli_link, on};
use crate::support::topology::Topology;
use crate::support::{zbar, Server};

const VIEWER_EMAIL: &str = "vic.viewer@example.com";
const OTHER_ADMIN_EMAIL: &str = "olga.other@example.com";
const DOMAIN: &str = "qr.example.test";

/// Made through the API before the browser comes: a viewer of the team, a second team (the
/// owner's too, so the switcher shows) and that team's admin, who belongs to no other.
fn setup(server: &Server) -> Value {
    let team = &server.credentials.team_id;
    let (status, body) = server.call(
        Method::POST,
        &format!("/api/teams-api/{team}/members"),
        Some(json!({"name": "Vic Viewer", "email": VIEWER_EMAIL, "role": "viewer"})),
    );
    assert_eq!(status, 200, "{body}");
    let (status, body) = server.call(
        Method::POST,
        "/api/teams-api",
        Some(json!({"name": "Other team"})),
    );
    assert_eq!(status, 201, "{body}");
    let other_team = body["data"]["id"].as_str().unwrap().to_owned();
    let (status, body) = server.call_as(
        &server.credentials,
        &other_team,
        Method::POST,
        &format!("/api/teams-api/{other_team}/members"),
        Some(json!({"name": "Olga Other", "email": OTHER_ADMIN_EMAIL, "role": "admin"})),
    );
    assert_eq!(status, 200, "{body}");
    let mut args = api_args(server);
    args["otherTeamId"] = other_team.into();
    args["otherTeamName"] = "Other team".into();
    args["viewerEmail"] = VIEWER_EMAIL.into();
    args["domain"] = DOMAIN.into();
    args
}

fn team_pages(server: &Server, mut args: Value, links: [&str; 3]) {
    // The addresses of this start (a restart listens on other ports).
    for (name, value) in api_args(server).as_object().unwrap() {
        args[name] = value.clone();
    }
    let [owner, viewer, other] = links;
    args["signInUrl"] = on(server, owner).into();
    args["viewerSignInUrl"] = on(server, viewer).into();
    args["otherSignInUrl"] = on(server, other).into();
    let preview = tempfile::Builder::new().suffix(".png").tempfile().unwrap();
    args["previewPng"] = preview.path().to_str().unwrap().into();
    let seen = browse("team.py", &args);

    // Settings, the stale save and the switcher.
    assert_eq!(
        seen["savedSettings"],
        json!(["Team <i>One</i>", "Europe/Berlin", "#1f6feb"]),
        "{seen}"
    );
    assert_eq!(seen["staleStatus"], 412);
    let stale = seen["staleMessage"].as_str().unwrap();
    assert!(stale.contains("changed since you opened it"), "{stale}");
    assert_eq!(
        seen["nameAfterStale"], "Renamed elsewhere",
        "the stale save changed nothing"
    );
    assert_eq!(seen["switchedTo"], "Other team");
    assert_eq!(seen["forgedSwitch"], 404, "a team that is not the member's");

    // Members.
    assert_eq!(seen["addedRole"], "editor");
    assert_eq!(seen["changedRole"], "admin");
    assert_eq!(seen["pausedStatus"], "paused");
    assert_eq!(seen["activatedStatus"], "invited");
    let stale = seen["staleMemberMessage"].as_str().unwrap();
    assert!(stale.contains("changed since you opened it"), "{stale}");
    assert_eq!(
        seen["staleMemberRole"],
        json!(["editor"]),
        "the stale change changed nothing"
    );
    assert_eq!(
        seen["staleMemberShown"], "editor",
        "the page shows her as she is"
    );
    assert_eq!(
        seen["redrawnRole"], "admin",
        "a change from the redrawn page works"
    );
    let (status, team) = server.call(
        Method::GET,
        &format!("/api/teams-api/{}", server.credentials.team_id),
        None,
    );
    assert_eq!(status, 200);
    let ada = team["data"]["members"]
        .as_array()
        .unwrap()
        .iter()
        .find(|m| m["email"] == "ada@example.com")
        .cloned();
    assert_eq!(
        ada.map(|m| (m["role"].clone(), m["paused"].clone())),
        Some((json!("admin"), json!(false))),
        "the API sees what the page did"
    );
    let (status, refused) = server.call(
        Method::POST,
        &format!("/api/teams-api/{}/members", server.credentials.team_id),
        Some(json!({"name": "Bad", "email": "not-an-email", "role": "viewer"})),
    );
    assert_eq!(status, 400);
    assert_eq!(seen["badEmail"], json!([400, refused["message"]]));

    // Keys: the token once, working until revoked.
    assert_eq!(seen["tokenWorks"], 200);
    let after_create = seen["afterCreate"].as_str().unwrap();
    assert!(
        after_create.starts_with(&format!("{}/team/keys?created=cli_", server.api)),
        "the creation redirects to the list: {after_create}"
    );
    assert_eq!(
        seen["twoTabs"],
        json!([["tab one", 200], ["tab two", 200]]),
        "keys made at once in two tabs each show their own token"
    );
    assert_eq!(seen["shownOnReload"], false, "a reload does not show it");
    assert_eq!(seen["keysAfterReload"], 1, "a reload makes no second key");
    assert_eq!(seen["tokenShownAgain"], false, "never shown again");
    assert_eq!(seen["staleRevoke"], 412);
    assert_eq!(
        seen["worksAfterStaleRevoke"], 200,
        "a stale revoke revokes nothing"
    );
    assert_eq!(seen["tokenAfterRevoke"], 401);

    // Domains and orphans.
    let edge_host = server
        .edge
        .trim_start_matches("http://")
        .split(':')
        .next()
        .unwrap()
        .to_owned();
    assert_eq!(seen["dnsRecord"], format!("{DOMAIN}. CNAME {edge_host}."));
    assert_eq!(seen["orphanTotal"], "1");
    let live = seen["removeRefused"].as_str().unwrap();
    assert!(live.contains("still has 1 live QR codes"), "{live}");

    // Templates.
    assert_eq!(seen["previewLoaded"], true);
    let png = std::fs::read(preview.path()).unwrap();
    assert_eq!(
        zbar::decode(&png).trim_end_matches('/'),
        server.edge,
        "the preview is a code in the template"
    );
    assert_eq!(seen["templateDeleted"], true);

    // CSRF.
    assert_eq!(seen["noToken"], 403);
    assert_eq!(seen["wrongToken"], 403);
    assert_eq!(seen["membersAfterForgeries"], 0);

    // A viewer.
    assert_eq!(seen["viewerControls"], 0, "a viewer sees no edit control");
    assert_eq!(
        seen["viewerForged"],
        json!({"settings": 403, "add": 403, "role": 403, "domain": 403, "template": 403}),
    );
    assert_eq!(seen["viewerChangedNothing"], true);
    assert_eq!(seen["viewerStillListed"], false);
    assert_eq!(
        seen["viewerAfterRemoval"],
        format!("{}/sign-in", server.api).as_str(),
        "a member removed on the page is signed out"
    );

    // Another team's admin.
    assert_eq!(seen["otherTeamShown"], "Other team");
    assert_eq!(seen["otherSeesFirstTeam"], false, "{seen}");
    assert_eq!(seen["otherPreview"], 404);
    assert_eq!(seen["otherSwitch"], 404);
    assert_eq!(seen["otherChange"], 404);
}

#[test]
fn team_pages_manage_members_keys_domains_templates_embedded() {
    let (_tmp, dir) = crate::support::data_dir();
    let server = Server::start(&dir);
    let owner = bootstrap_link(&server);
    let args = setup(&server);
    // The embedded store is one process's: the CLI runs while it is stopped.
    server.stop();
    let viewer = cli_link(&dir, None, VIEWER_EMAIL);
    let other = cli_link(&dir, None, OTHER_ADMIN_EMAIL);
    let server = Server::start(&dir);
    team_pages(&server, args, [&owner, &viewer, &other]);
}

#[test]
fn team_pages_manage_members_keys_domains_templates_on_redis() {
    let topology = Topology::new();
    let server = topology.start("serve", "serve");
    let owner = bootstrap_link(&server);
    let args = setup(&server);
    let config = topology.root().join("serve.toml");
    let viewer = cli_link(&server.data_dir, Some(&config), VIEWER_EMAIL);
    let other = cli_link(&server.data_dir, Some(&config), OTHER_ADMIN_EMAIL);
    team_pages(&server, args, [&owner, &viewer, &other]);
}
