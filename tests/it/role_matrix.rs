//! The role matrix of the management API. Every team-scoped endpoint is called by each role
//! (viewer, editor, admin, owner): allowed is a real 2xx answer; refused is 403 with a message
//! that says why, and nothing changed. Every one is refused (403, nothing changed) in a team the
//! caller is not in and in a team that does not exist, and another team's codes and templates
//! are 404 (its path 403). The org-level endpoints, which take no team header, are covered by
//! who may call them. On the embedded store and on Redis.

use crate::support;
use std::cell::Cell;
use std::time::Duration;

use crate::support::keys::{key_for, request_as_key};
use crate::support::topology::Topology;
use crate::support::{Launch, Server};
use qredge::clock::now_ms;
use reqwest::Method;
use serde_json::{json, Value};

/// The matrix makes thousands of requests a minute in one team.
const NO_RATE_LIMIT: &str = "[api.requests_per_minute]\nbusiness_plus = 1000000\n";
/// A team id no one has.
const NO_SUCH_TEAM: &str = "team_doesnotexist";

#[derive(Debug, Clone, Copy, PartialEq, PartialOrd)]
enum Role {
    Viewer,
    Editor,
    Admin,
    Owner,
}

const ROLES: [Role; 4] = [Role::Viewer, Role::Editor, Role::Admin, Role::Owner];
/// The roles that are not the organization's owner (who is in every team).
const MEMBERS: [Role; 3] = [Role::Viewer, Role::Editor, Role::Admin];

impl Role {
    fn name(self) -> &'static str {
        match self {
            Role::Viewer => "viewer",
            Role::Editor => "editor",
            Role::Admin => "admin",
            Role::Owner => "owner",
        }
    }
}

/// How a call names its team, which decides what it answers when it names another one.
#[derive(Clone, Copy)]
enum Names {
    /// Only the header names the team.
    Header,
    /// The path names the team (`/api/teams-api/{teamId}…`): another team there is 403.
    TeamPath,
    /// The call names a code or template of the team: another team's is 404.
    Resource,
}

enum Body {
    Empty,
    Json(Value),
    Csv(String),
}

struct Call {
    method: Method,
    path: String,
    body: Body,
}

fn call(method: Method, path: String, body: Body) -> Call {
    Call { method, path, body }
}

fn get(path: String) -> Call {
    call(Method::GET, path, Body::Empty)
}

/// What an allowed call answers.
#[derive(Clone, Copy)]
enum Answer {
    /// `{"success": true, "data": …}` with this status, and the JSON pointer set.
    Data(u16, &'static str),
    /// 200 `{"success": true}` (the member endpoints).
    Done,
    Png,
    Svg,
}

/// One endpoint: the least role allowed, what a refused role is told, and a fresh call.
struct Row {
    label: &'static str,
    min: Role,
    /// In the message of a role refusal.
    why: &'static str,
    names: Names,
    answer: Answer,
    /// A call in the team given, whatever it consumes (a code to delete, a member to remove)
    /// made there by the owner first.
    call: fn(&World, &str) -> Call,
}

const WRITES_CODES: &str = "your role in this team cannot create or change QR codes";
const WRITES_TEMPLATES: &str = "your role in this team cannot create or delete templates";
const MANAGES_TEAM: &str = "only an admin or the owner can change the team's settings";
const MANAGES_MEMBERS: &str = "only an admin or the owner can manage the team's members";
const DELETES_MEMBERS: &str = "only the owner can delete a member from the organization";

fn rows() -> Vec<Row> {
    use Names::*;
    use Role::*;
    vec![
        // Codes.
        Row {
            label: "list codes",
            min: Viewer,
            why: "",
            names: Header,
            answer: Answer::Data(200, "/data/totalCount"),
            call: |_, _| get("/api/qrs-api?limit=1".into()),
        },
        Row {
            label: "get a code",
            min: Viewer,
            why: "",
            names: Resource,
            answer: Answer::Data(200, "/data/id"),
            call: |w, team| get(format!("/api/qrs-api/{}", w.probe(team).code)),
        },
        Row {
            label: "get a code (teams alias)",
            min: Viewer,
            why: "",
            names: Resource,
            answer: Answer::Data(200, "/data/id"),
            call: |w, team| get(format!("/api/qrs-api/teams/{}", w.probe(team).code)),
        },
        Row {
            label: "create a code",
            min: Editor,
            why: WRITES_CODES,
            names: Header,
            answer: Answer::Data(201, "/data/shortUrl"),
            call: |w, _| {
                let body = json!({"qrType": "WEB", "qrRedirectUrl": "https://example.com/spring",
                    "name": "Spring flyer", "displayId": w.unique(), "tags": ["print"]});
                call(Method::POST, "/api/qrs-api".into(), Body::Json(body))
            },
        },
        Row {
            label: "update a code",
            min: Editor,
            why: WRITES_CODES,
            names: Resource,
            answer: Answer::Data(200, "/data/qrRedirectUrl"),
            call: |w, team| {
                let body = json!({"qrRedirectUrl": "https://example.com/summer", "name": "Summer"});
                let path = format!("/api/qrs-api/{}", w.new_code(team));
                call(Method::PUT, path, Body::Json(body))
            },
        },
        Row {
            label: "delete a code",
            min: Editor,
            why: WRITES_CODES,
            names: Resource,
            answer: Answer::Data(200, "/data/deleted"),
            call: |w, team| {
                let path = format!("/api/qrs-api/{}", w.new_code(team));
                call(Method::DELETE, path, Body::Empty)
            },
        },
        Row {
            label: "bulk create codes",
            min: Editor,
            why: WRITES_CODES,
            names: Header,
            answer: Answer::Data(201, "/data/qrs/1/id"),
            call: |_, _| {
                let body = json!([
                    {"qrType": "WEB", "qrRedirectUrl": "https://example.com/a", "name": "A"},
                    {"qrType": "SHORT_LINK", "qrRedirectUrl": "https://example.com/b"},
                ]);
                call(Method::POST, "/api/qrs-api/bulk".into(), Body::Json(body))
            },
        },
        Row {
            label: "import codes (CSV)",
            min: Editor,
            why: WRITES_CODES,
            names: Header,
            answer: Answer::Data(201, "/data/batchId"),
            call: |w, _| {
                let csv = format!(
                    "displayId,url,type,name\n{0}-a,https://example.com/a,WEB,Flyer\n\
                     {0}-b,https://example.com/b,SHORT_LINK,\"Poster, big\"\n",
                    w.unique()
                );
                call(Method::POST, "/api/qrs-api/import".into(), Body::Csv(csv))
            },
        },
        Row {
            label: "duplicate a code",
            min: Editor,
            why: WRITES_CODES,
            names: Resource,
            answer: Answer::Data(201, "/data/id"),
            call: |w, team| {
                let path = format!("/api/qrs-api/{}/duplicate", w.probe(team).code);
                call(Method::POST, path, Body::Empty)
            },
        },
        Row {
            label: "replace a code's tags",
            min: Editor,
            why: WRITES_CODES,
            names: Resource,
            answer: Answer::Data(200, "/data/tags/1"),
            call: |w, team| {
                let path = format!("/api/qrs-api/{}/tags", w.new_code(team));
                call(
                    Method::PUT,
                    path,
                    Body::Json(json!({"tags": ["spring", "print"]})),
                )
            },
        },
        Row {
            label: "rename a code",
            min: Editor,
            why: WRITES_CODES,
            names: Resource,
            answer: Answer::Data(200, "/data/name"),
            call: |w, team| {
                let path = format!("/api/qrs-api/{}/title", w.new_code(team));
                call(
                    Method::PUT,
                    path,
                    Body::Json(json!({"title": "Autumn menu"})),
                )
            },
        },
        Row {
            label: "the team's changed codes",
            min: Viewer,
            why: "",
            names: Header,
            answer: Answer::Data(200, "/data/0/id"),
            call: |_, _| get("/api/qrs-api/updated-after?fromTime=0".into()),
        },
        Row {
            label: "a code's SVG image",
            min: Viewer,
            why: "",
            names: Resource,
            answer: Answer::Svg,
            call: |w, team| get(format!("/api/qrs-api/{}/image.svg", w.probe(team).code)),
        },
        Row {
            label: "a code's PNG image",
            min: Viewer,
            why: "",
            names: Resource,
            answer: Answer::Png,
            call: |w, team| {
                get(format!(
                    "/api/qrs-api/{}/image.png?size=300",
                    w.probe(team).code
                ))
            },
        },
        // Design templates.
        Row {
            label: "list templates",
            min: Viewer,
            why: "",
            names: Header,
            answer: Answer::Data(200, "/data/0/previewUrl"),
            call: |_, _| get("/api/qr-templates-api".into()),
        },
        Row {
            label: "get a template",
            min: Viewer,
            why: "",
            names: Resource,
            answer: Answer::Data(200, "/data/foregroundColor"),
            call: |w, team| get(format!("/api/qr-templates-api/{}", w.probe(team).template)),
        },
        Row {
            label: "a template's preview",
            min: Viewer,
            why: "",
            names: Resource,
            answer: Answer::Png,
            call: |w, team| {
                get(format!(
                    "/api/qr-templates-api/{}/preview.png",
                    w.probe(team).template
                ))
            },
        },
        Row {
            label: "create a template",
            min: Editor,
            why: WRITES_TEMPLATES,
            names: Header,
            answer: Answer::Data(201, "/data/id"),
            call: |_, _| {
                let body = json!({"name": "Brand", "description": "navy on cream",
                    "foregroundColor": "#1E3A8A", "backgroundColor": "#FFF8E7"});
                call(
                    Method::POST,
                    "/api/qr-templates-api".into(),
                    Body::Json(body),
                )
            },
        },
        Row {
            label: "delete a template",
            min: Editor,
            why: WRITES_TEMPLATES,
            names: Resource,
            answer: Answer::Data(200, "/data/id"),
            call: |w, team| {
                let path = format!("/api/qr-templates-api/{}", w.new_template(team));
                call(Method::DELETE, path, Body::Empty)
            },
        },
        // Analytics.
        Row {
            label: "a code's detailed analytics",
            min: Viewer,
            why: "",
            names: Resource,
            answer: Answer::Data(200, "/data"),
            call: |w, team| {
                get(format!(
                    "/api/analytics-api/detailed/{}",
                    w.probe(team).code
                ))
            },
        },
        Row {
            label: "analytics of several codes",
            min: Viewer,
            why: "",
            names: Resource,
            answer: Answer::Data(200, "/data"),
            call: |w, team| {
                let body =
                    json!({"qrIds": [w.probe(team).code], "startTime": 0, "endTime": now_ms()});
                call(
                    Method::POST,
                    "/api/analytics-api/bulk".into(),
                    Body::Json(body),
                )
            },
        },
        Row {
            label: "analytics overviews",
            min: Viewer,
            why: "",
            names: Resource,
            answer: Answer::Data(200, "/data/0/totalScans"),
            call: |w, team| {
                let body = json!({"qrIds": [w.probe(team).code]});
                call(
                    Method::POST,
                    "/api/analytics-api/overviews".into(),
                    Body::Json(body),
                )
            },
        },
        Row {
            label: "orphan scans",
            min: Viewer,
            why: "",
            names: Header,
            answer: Answer::Data(200, "/data/totalScans"),
            call: |_, _| get("/api/analytics-api/orphans".into()),
        },
        // The team.
        Row {
            label: "get the team",
            min: Viewer,
            why: "",
            names: TeamPath,
            answer: Answer::Data(200, "/data/members/0/role"),
            call: |_, team| get(format!("/api/teams-api/{team}")),
        },
        Row {
            label: "change the team",
            min: Admin,
            why: MANAGES_TEAM,
            names: TeamPath,
            answer: Answer::Data(200, "/data/timeZone"),
            // A new colour (on Redis, a team with redirect codes alone was once answered 503
            // here, when the colour was rewritten into its codes' routes).
            call: |w, team| {
                let body = json!({"name": format!("Marketing {}", w.unique()),
                    "timeZone": "Europe/Berlin", "primaryColor": "#1f6feb"});
                call(
                    Method::PUT,
                    format!("/api/teams-api/{team}"),
                    Body::Json(body),
                )
            },
        },
        Row {
            label: "set the team's domains",
            min: Admin,
            why: MANAGES_TEAM,
            names: TeamPath,
            answer: Answer::Data(200, "/data/domains/1"),
            call: |w, team| {
                // The platform's domain stays the default: codes made meanwhile stay on it, so
                // the next call may drop this custom domain again.
                let platform = &w.platform_domain;
                let custom = format!("{}.acme.test", w.unique());
                let body = json!({"defaultDomain": platform, "domains": [platform, custom],
                    "domainSettings": {custom.clone(): {"rootUrl": "https://acme.test/"}}});
                let path = format!("/api/teams-api/{team}/domains");
                call(Method::PUT, path, Body::Json(body))
            },
        },
        // Members.
        Row {
            label: "add a member",
            min: Admin,
            why: MANAGES_MEMBERS,
            names: TeamPath,
            answer: Answer::Done,
            call: |w, team| {
                let body =
                    json!({"name": "Sarah Johnson", "email": w.new_email(), "role": "editor"});
                call(
                    Method::POST,
                    format!("/api/teams-api/{team}/members"),
                    Body::Json(body),
                )
            },
        },
        Row {
            label: "pause a member",
            min: Admin,
            why: MANAGES_MEMBERS,
            names: TeamPath,
            answer: Answer::Done,
            call: |w, team| {
                let body = json!({"email": w.new_member(team)});
                let path = format!("/api/teams-api/{team}/members/pause");
                call(Method::PUT, path, Body::Json(body))
            },
        },
        Row {
            label: "activate a member",
            min: Admin,
            why: MANAGES_MEMBERS,
            names: TeamPath,
            answer: Answer::Done,
            call: |w, team| {
                let email = w.new_member(team);
                let pause = format!("/api/teams-api/{team}/members/pause");
                let (status, body) =
                    w.owner(team, Method::PUT, &pause, Some(json!({"email": email})));
                assert_eq!(status, 200, "{body}");
                let path = format!("/api/teams-api/{team}/members/activate");
                call(Method::PUT, path, Body::Json(json!({"email": email})))
            },
        },
        Row {
            label: "change a member's role",
            min: Admin,
            why: MANAGES_MEMBERS,
            names: TeamPath,
            answer: Answer::Done,
            call: |w, team| {
                let body = json!({"email": w.new_member(team), "role": "editor"});
                let path = format!("/api/teams-api/{team}/members/role");
                call(Method::PUT, path, Body::Json(body))
            },
        },
        Row {
            label: "remove a member from the team",
            min: Admin,
            why: MANAGES_MEMBERS,
            names: TeamPath,
            answer: Answer::Done,
            call: |w, team| {
                let body = json!({"email": w.new_member(team)});
                let path = format!("/api/teams-api/{team}/members");
                call(Method::DELETE, path, Body::Json(body))
            },
        },
        Row {
            label: "delete a member from the organization",
            min: Owner,
            why: DELETES_MEMBERS,
            names: TeamPath,
            answer: Answer::Done,
            call: |w, team| {
                let body = json!({"email": w.new_member(team)});
                let path = format!("/api/teams-api/{team}/members/permanent");
                call(Method::DELETE, path, Body::Json(body))
            },
        },
    ]
}

/// An answer, whatever its type.
struct Reply {
    status: u16,
    content_type: String,
    bytes: Vec<u8>,
}

impl Reply {
    fn json(&self) -> Value {
        serde_json::from_slice(&self.bytes)
            .unwrap_or_else(|_| Value::String(String::from_utf8_lossy(&self.bytes).into()))
    }
}

/// A code and a template of a team, for the calls that read or copy them.
struct Probe {
    code: String,
    template: String,
}

/// The server, its two teams, and a key for each role of the first.
struct World<'a> {
    server: &'a Server,
    /// The bootstrap team, where each role has a member.
    team: String,
    /// A second team of the owner's, which no other member is in.
    other_team: String,
    probes: [Probe; 2],
    /// The viewer's, editor's and admin's keys, in that order.
    tokens: [String; 3],
    platform_domain: String,
    /// Makes displayIds, emails and domains unique.
    run: String,
    serial: Cell<u32>,
}

impl<'a> World<'a> {
    fn new(server: &'a Server) -> Self {
        let team = server.credentials.team_id.clone();
        let (status, body) = server.call(
            Method::POST,
            "/api/teams-api",
            Some(json!({"name": "Finance"})),
        );
        assert_eq!(status, 201, "{body}");
        let other_team = body["data"]["id"].as_str().unwrap().to_owned();
        let mut world = World {
            server,
            platform_domain: body["data"]["defaultDomain"].as_str().unwrap().to_owned(),
            team,
            other_team,
            probes: [Probe::EMPTY, Probe::EMPTY],
            tokens: Default::default(),
            run: qredge::ids::random_alphanumeric(6).to_lowercase(),
            serial: Cell::new(0),
        };
        for (i, role) in MEMBERS.into_iter().enumerate() {
            let email = format!("{}-{}@acmecorp.com", world.run, role.name());
            let members = format!("/api/teams-api/{}/members", world.team);
            let person = json!({"name": role.name(), "email": email, "role": role.name()});
            let (status, body) = world.owner(&world.team, Method::POST, &members, Some(person));
            assert_eq!(status, 200, "{body}");
            world.tokens[i] = key_for(server, &email);
        }
        world.probes = [&world.team, &world.other_team].map(|team| Probe {
            code: world.new_code(team),
            template: world.new_template(team),
        });
        world
    }

    fn probe(&self, team: &str) -> &Probe {
        if team == self.team {
            &self.probes[0]
        } else {
            &self.probes[1]
        }
    }

    fn unique(&self) -> String {
        self.serial.set(self.serial.get() + 1);
        format!("rm{}-{}", self.run, self.serial.get())
    }

    fn new_email(&self) -> String {
        format!("{}@acmecorp.com", self.unique())
    }

    /// Calls the API as the owner (the bootstrap credential) in `team`.
    fn owner(&self, team: &str, method: Method, path: &str, body: Option<Value>) -> (u16, Value) {
        self.server
            .call_as(&self.server.credentials, team, method, path, body)
    }

    fn new_code(&self, team: &str) -> String {
        let code = json!({"qrType": "WEB", "qrRedirectUrl": "https://example.com/fixture"});
        let (status, body) = self.owner(team, Method::POST, "/api/qrs-api", Some(code));
        assert_eq!(status, 201, "{body}");
        body["data"]["id"].as_str().unwrap().to_owned()
    }

    fn new_template(&self, team: &str) -> String {
        let template = json!({"name": "Fixture", "foregroundColor": "#0f5132"});
        let (status, body) =
            self.owner(team, Method::POST, "/api/qr-templates-api", Some(template));
        assert_eq!(status, 201, "{body}");
        body["data"]["id"].as_str().unwrap().to_owned()
    }

    /// A new viewer of `team`; returns their email.
    fn new_member(&self, team: &str) -> String {
        let email = self.new_email();
        let person = json!({"name": "Mike Viewer", "email": email, "role": "viewer"});
        let members = format!("/api/teams-api/{team}/members");
        let (status, body) = self.owner(team, Method::POST, &members, Some(person));
        assert_eq!(status, 200, "{body}");
        email
    }

    /// Sends `call` as `role` (the owner with the bootstrap credential, the others with their
    /// keys) with `team` in the team header.
    fn send(&self, role: Role, team: &str, call: &Call) -> Reply {
        let (method, path) = (call.method.clone(), call.path.as_str());
        let request = match role {
            Role::Owner => {
                let credentials = &self.server.credentials;
                self.server
                    .client
                    .request(method, format!("{}{path}", self.server.api))
                    .header("x-request-team-id", team)
                    .header("x-request-client-id", &credentials.client_id)
                    .header("x-request-client-secret", &credentials.client_secret)
            }
            member => {
                let token = &self.tokens[MEMBERS.iter().position(|r| *r == member).unwrap()];
                request_as_key(self.server, token, team, method, path)
            }
        };
        let request = match &call.body {
            Body::Empty => request,
            Body::Json(body) => request.json(body),
            Body::Csv(text) => request
                .header("content-type", "text/csv")
                .body(text.clone()),
        };
        let response = request.send().expect("the API answers");
        let content_type = response
            .headers()
            .get("content-type")
            .and_then(|v| v.to_str().ok())
            .unwrap_or_default()
            .to_owned();
        Reply {
            status: response.status().as_u16(),
            content_type,
            bytes: response.bytes().expect("a whole answer").to_vec(),
        }
    }

    fn assert_allowed(&self, what: &str, role: Role, call: &Call, answer: Answer) {
        let reply = self.send(role, &self.team, call);
        let body = reply.json();
        match answer {
            Answer::Data(status, pointer) => {
                assert_eq!(reply.status, status, "{what}: {body}");
                assert_eq!(body["success"], true, "{what}: {body}");
                let field = body.pointer(pointer);
                assert!(
                    field.is_some_and(|v| !v.is_null()),
                    "{what}: {pointer} in {body}"
                );
            }
            Answer::Done => {
                assert_eq!(reply.status, 200, "{what}: {body}");
                assert_eq!(body["success"], true, "{what}: {body}");
            }
            Answer::Png => {
                assert_eq!(reply.status, 200, "{what}: {body}");
                assert_eq!(reply.content_type, "image/png", "{what}");
                assert!(reply.bytes.starts_with(b"\x89PNG\r\n\x1a\n"), "{what}");
            }
            Answer::Svg => {
                assert_eq!(reply.status, 200, "{what}: {body}");
                assert_eq!(reply.content_type, "image/svg+xml", "{what}");
                let text = String::from_utf8_lossy(&reply.bytes);
                assert!(text.contains("<svg") && text.contains("</svg>"), "{what}");
            }
        }
    }

    /// What a refused call must leave as it was in `team`: its live codes' count, its
    /// templates, and the team with its settings and members (roles, paused).
    fn state(&self, team: &str) -> Value {
        let mut state = json!({});
        for path in [
            "/api/qrs-api?limit=1".to_owned(),
            "/api/qr-templates-api".to_owned(),
            format!("/api/teams-api/{team}"),
        ] {
            let (status, body) = self.owner(team, Method::GET, &path, None);
            assert_eq!(status, 200, "{path}: {body}");
            let data = match path.as_str() {
                "/api/qrs-api?limit=1" => body["data"]["totalCount"].clone(),
                _ => body["data"].clone(),
            };
            state[path] = data;
        }
        state
    }

    /// The team's codes created or changed at or after `from` (deleted ones included).
    fn codes_written_since(&self, team: &str, from: i64) -> Vec<Value> {
        let path = format!("/api/qrs-api/updated-after?fromTime={from}");
        let (status, body) = self.owner(team, Method::GET, &path, None);
        assert_eq!(status, 200, "{body}");
        body["data"].as_array().unwrap().clone()
    }

    /// Sends `call` as `role` in `team`, expecting `status` and the error envelope with a
    /// message containing `why`, and that neither team changed.
    fn assert_refused(
        &self,
        what: &str,
        role: Role,
        team: &str,
        call: &Call,
        status: u16,
        why: &str,
    ) {
        let teams = [&self.team, &self.other_team];
        let before = teams.map(|team| self.state(team));
        // The fixtures' writes fall in an earlier millisecond than `since`.
        std::thread::sleep(Duration::from_millis(2));
        let since = now_ms();
        let reply = self.send(role, team, call);
        let body = reply.json();
        assert_eq!(reply.status, status, "{what}: {body}");
        assert_eq!(body["success"], false, "{what}: {body}");
        let message = body["message"].as_str().unwrap_or_default();
        assert!(message.contains(why), "{what}: says {why:?}: {body}");
        for (team, before) in teams.into_iter().zip(before) {
            assert_eq!(
                self.state(team),
                before,
                "{what}: nothing changed in {team}"
            );
            let written = self.codes_written_since(team, since);
            assert!(written.is_empty(), "{what}: no code written: {written:?}");
        }
    }
}

impl Probe {
    const EMPTY: Probe = Probe {
        code: String::new(),
        template: String::new(),
    };
}

fn role_matrix(server: &Server) {
    let world = World::new(server);
    let (team, other_team) = (world.team.as_str(), world.other_team.as_str());
    for row in rows() {
        let label = row.label;
        for role in ROLES {
            let what = format!("{label} as {}", role.name());
            let call = (row.call)(&world, team);
            if role >= row.min {
                world.assert_allowed(&what, role, &call, row.answer);
            } else {
                world.assert_refused(&what, role, team, &call, 403, row.why);
            }
        }

        // A team the caller is not in and one that does not exist look the same.
        for role in MEMBERS {
            let what = format!("{label} as {} in a team not theirs", role.name());
            let call = (row.call)(&world, other_team);
            world.assert_refused(&what, role, other_team, &call, 403, "has no access to team");
        }
        for role in ROLES {
            let what = format!("{label} as {} in a team that does not exist", role.name());
            let mut call = (row.call)(&world, team);
            call.path = call.path.replace(team, NO_SUCH_TEAM);
            world.assert_refused(
                &what,
                role,
                NO_SUCH_TEAM,
                &call,
                403,
                "has no access to team",
            );
        }

        // From the caller's own team, another team in the path, or its code or template.
        let (status, why) = match row.names {
            Names::Header => continue,
            Names::TeamPath => (403, "this request acts in team"),
            Names::Resource => (404, "not found"),
        };
        for role in ROLES.into_iter().filter(|role| *role >= row.min) {
            let what = format!("{label} as {} naming the other team's", role.name());
            let call = (row.call)(&world, other_team);
            world.assert_refused(&what, role, team, &call, status, why);
        }
    }
    org_level(&world);
}

/// The endpoints that take no team header: who may call them.
fn org_level(world: &World) {
    let (team, other_team) = (world.team.as_str(), world.other_team.as_str());
    // The key the previous role made and kept.
    let mut others_key: Option<String> = None;
    for role in ROLES {
        let name = role.name();
        // Each lists their own teams and reads their own teams' changes: the second team is
        // the owner's only.
        let reply = world.send(role, team, &get("/api/teams-api".into()));
        let body = reply.json();
        assert_eq!(reply.status, 200, "{name}: {body}");
        let teams: Vec<&str> = body["data"]
            .as_array()
            .unwrap()
            .iter()
            .map(|t| t["id"].as_str().unwrap())
            .collect();
        let expected = match role {
            Role::Owner => vec![team, other_team],
            _ => vec![team],
        };
        assert_eq!(sorted(teams), sorted(expected.clone()), "{name}");
        let feed = get("/api/qrs-api/all/updated-after?fromTime=0".into());
        let reply = world.send(role, team, &feed);
        let body = reply.json();
        assert_eq!(reply.status, 200, "{name}: {body}");
        let mut teams = sorted(
            body["data"]
                .as_array()
                .unwrap()
                .iter()
                .map(|qr| qr["teamId"].as_str().unwrap())
                .collect(),
        );
        teams.dedup();
        assert_eq!(teams, sorted(expected), "{name}: the feed's teams");

        // Their own keys: made, listed and revoked by everyone; another's key is unknown to them.
        let new_key = || {
            let key = json!({"name": "script", "scopes": ["codes:read"]});
            let made = call(Method::POST, "/api/keys-api".into(), Body::Json(key));
            let reply = world.send(role, team, &made);
            assert_eq!(reply.status, 201, "{name}: {}", reply.json());
            reply.json()["data"]["clientId"]
                .as_str()
                .unwrap()
                .to_owned()
        };
        let revoked = new_key();
        let reply = world.send(role, team, &get("/api/keys-api".into()));
        let listed = reply.json();
        assert_eq!(reply.status, 200, "{name}: {listed}");
        assert!(
            listed["data"]
                .as_array()
                .unwrap()
                .iter()
                .any(|k| k["clientId"] == revoked),
            "{name}: {listed}"
        );
        let revoke = |client_id: &str| {
            let path = format!("/api/keys-api/{client_id}");
            world.send(role, team, &call(Method::DELETE, path, Body::Empty))
        };
        let reply = revoke(&revoked);
        assert_eq!(reply.status, 200, "{name}: {}", reply.json());
        if let Some(theirs) = &others_key {
            let reply = revoke(theirs);
            assert_eq!(reply.status, 404, "{name}: {}", reply.json());
            assert_eq!(reply.json()["success"], false, "{name}");
        }
        others_key = Some(new_key());

        // A key for another member: from an admin of every team of theirs. To others the member
        // is as unknown as a missing one (404), which also tells nothing of other teams.
        let email = world.new_member(team);
        let for_member =
            json!({"name": "for them", "scopes": ["codes:read"], "memberEmail": email});
        let call_keys = call(Method::POST, "/api/keys-api".into(), Body::Json(for_member));
        if role >= Role::Admin {
            let reply = world.send(role, team, &call_keys);
            assert_eq!(reply.status, 201, "{name}: {}", reply.json());
        } else {
            let what = format!("a key for another member as {name}");
            world.assert_refused(&what, role, team, &call_keys, 404, "no member");
        }

        // One person into several teams: an admin of each, or nothing changes.
        let both = json!({"name": "Zed", "email": world.new_email(),
            "teams": [{"teamId": team, "role": "viewer"}, {"teamId": other_team, "role": "editor"}]});
        let bulk = call(
            Method::POST,
            "/api/teams-api/members/bulk".into(),
            Body::Json(both),
        );
        match role {
            Role::Owner => {
                let reply = world.send(role, team, &bulk);
                assert_eq!(reply.status, 200, "{name}: {}", reply.json());
            }
            _ => {
                let what = format!("bulk members in both teams as {name}");
                let why = format!("you cannot manage the members of team {other_team:?}");
                let why = if role == Role::Admin {
                    &why
                } else {
                    "cannot manage"
                };
                world.assert_refused(&what, role, team, &bulk, 403, why);
            }
        }
        let own = json!({"name": "Yan", "email": world.new_email(),
            "teams": [{"teamId": team, "role": "viewer"}]});
        let bulk = call(
            Method::POST,
            "/api/teams-api/members/bulk".into(),
            Body::Json(own),
        );
        if role >= Role::Admin {
            let reply = world.send(role, team, &bulk);
            assert_eq!(reply.status, 200, "{name}: {}", reply.json());
        } else {
            let what = format!("bulk members in the own team as {name}");
            world.assert_refused(&what, role, team, &bulk, 403, "cannot manage");
        }
    }

    // New teams: admins (of any team) and the owner. Last, as the creator joins the new team.
    let teams_of_owner = || {
        let (status, body) = world.owner(team, Method::GET, "/api/teams-api", None);
        assert_eq!(status, 200, "{body}");
        body["data"].as_array().unwrap().len()
    };
    for role in ROLES {
        let name = role.name();
        let new_team = call(
            Method::POST,
            "/api/teams-api".into(),
            Body::Json(json!({"name": format!("Made by the {name}")})),
        );
        let before = teams_of_owner();
        if role >= Role::Admin {
            let reply = world.send(role, team, &new_team);
            assert_eq!(reply.status, 201, "{name}: {}", reply.json());
            assert_eq!(teams_of_owner(), before + 1, "{name}");
        } else {
            let what = format!("a new team as {name}");
            let why = "only an admin or the owner can create a team";
            world.assert_refused(&what, role, team, &new_team, 403, why);
            assert_eq!(teams_of_owner(), before, "{what}: no team made");
        }
    }
}

fn sorted(mut list: Vec<&str>) -> Vec<&str> {
    list.sort_unstable();
    list
}

#[test]
fn role_matrix_embedded() {
    let (_dir, data) = support::data_dir();
    role_matrix(&Launch::new(&data).config(NO_RATE_LIMIT).start());
}

#[test]
fn role_matrix_on_redis() {
    let mut topology = Topology::new();
    topology.config.push_str(NO_RATE_LIMIT);
    role_matrix(&topology.start("api", "api"));
}
