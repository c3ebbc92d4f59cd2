//! Design templates and QR images, on either backend: the images are read back with a real
//! decoder (zbar's `zbarimg`) and must give the code's short URL, in every template, size and
//! domain; templates are a team's own; each role is allowed and refused as documented.

use crate::support::topology::Topology;
use crate::support::zbar::decode;
use crate::support::{json_of, Server};
use base64::Engine;
use reqwest::Method;
use serde_json::{json, Value};

const TEMPLATES: &str = "/api/qr-templates-api";

/// How a test calls the API: the bootstrap owner's headers, or a member's key.
enum Who<'a> {
    Owner,
    Key(&'a str),
}

fn request(
    server: &Server,
    who: &Who,
    team: &str,
    method: Method,
    path: &str,
) -> reqwest::blocking::RequestBuilder {
    let request = server
        .client
        .request(method, format!("{}{path}", server.api))
        .header("x-request-team-id", team);
    match who {
        Who::Owner => request
            .header("x-request-client-id", &server.credentials.client_id)
            .header("x-request-client-secret", &server.credentials.client_secret),
        Who::Key(token) => request.header("authorization", format!("Bearer {token}")),
    }
}

fn call(
    server: &Server,
    who: &Who,
    team: &str,
    method: Method,
    path: &str,
    body: Option<Value>,
) -> (u16, Value) {
    let mut request = request(server, who, team, method, path);
    if let Some(body) = body {
        request = request.json(&body);
    }
    json_of(request.send().expect("the API answers"))
}

/// A GET of an image: status, content type and bytes (or the error envelope's text).
fn fetch(server: &Server, who: &Who, team: &str, path: &str) -> (u16, String, Vec<u8>) {
    let response = request(server, who, team, Method::GET, path)
        .send()
        .expect("the API answers");
    let status = response.status().as_u16();
    let content_type = response
        .headers()
        .get("content-type")
        .map(|v| v.to_str().unwrap().to_owned())
        .unwrap_or_default();
    (status, content_type, response.bytes().unwrap().to_vec())
}

/// A PNG image of the owner's team, asserting success; the image's bytes.
fn png(server: &Server, path: &str) -> Vec<u8> {
    let (status, content_type, bytes) =
        fetch(server, &Who::Owner, &server.credentials.team_id, path);
    assert_eq!(
        (status, content_type.as_str()),
        (200, "image/png"),
        "{path}: {}",
        String::from_utf8_lossy(&bytes)
    );
    bytes
}

/// The width and height of a PNG (its IHDR chunk).
fn png_size(png: &[u8]) -> (u32, u32) {
    assert_eq!(&png[..8], b"\x89PNG\r\n\x1a\n");
    let be = |at: usize| u32::from_be_bytes(png[at..at + 4].try_into().unwrap());
    (be(16), be(20))
}

/// The colour of a pixel of a PNG image.
fn pixel(png: &[u8], x: u32, y: u32) -> [u8; 3] {
    let image = image::load_from_memory_with_format(png, image::ImageFormat::Png)
        .unwrap()
        .into_rgb8();
    image.get_pixel(x, y).0
}

/// `path` with `body` is refused with `status` and a message containing `words`.
fn assert_refused(
    server: &Server,
    method: Method,
    path: &str,
    body: Option<Value>,
    status: u16,
    words: &str,
) {
    let (got, answer) = server.call(method, path, body.clone());
    assert_eq!(got, status, "{path} {body:?}: {answer}");
    assert_eq!(answer["success"], false);
    let message = answer["message"].as_str().unwrap_or_default();
    assert!(message.contains(words), "{path} {body:?}: {answer}");
}

/// A 48×48 logo: a dark red square with a white ring, as a data URL.
fn logo() -> String {
    let image = image::RgbaImage::from_fn(48, 48, |x, y| {
        let ring = (8..40).contains(&x)
            && (8..40).contains(&y)
            && !((14..34).contains(&x) && (14..34).contains(&y));
        if ring {
            image::Rgba([255, 255, 255, 255])
        } else {
            image::Rgba([160, 0, 0, 255])
        }
    });
    let mut bytes = Vec::new();
    image
        .write_to(
            &mut std::io::Cursor::new(&mut bytes),
            image::ImageFormat::Png,
        )
        .unwrap();
    format!(
        "data:image/png;base64,{}",
        base64::engine::general_purpose::STANDARD.encode(bytes)
    )
}

fn create_template(server: &Server, body: Value) -> Value {
    let (status, answer) = server.call(Method::POST, TEMPLATES, Some(body));
    assert_eq!(status, 201, "{answer}");
    answer["data"].clone()
}

fn web_code(server: &Server, extra: Value) -> Value {
    let mut body = json!({"qrType": "WEB", "qrRedirectUrl": "https://example.com/landing"});
    body.as_object_mut()
        .unwrap()
        .extend(extra.as_object().unwrap().clone());
    server.create_qr(body)
}

/// The code's PNG image decodes to its short URL.
fn assert_decodes(server: &Server, qr: &Value, query: &str) {
    let bytes = png(
        server,
        &format!(
            "/api/qrs-api/{}/image.png{query}",
            qr["id"].as_str().unwrap()
        ),
    );
    assert_eq!(decode(&bytes), qr["shortUrl"].as_str().unwrap(), "{query}");
}

/// The owner makes a member with `role` in the team, and a key for them; returns its token.
fn member_key(server: &Server, team: &str, email: &str, role: &str) -> String {
    let (status, body) = server.call(
        Method::POST,
        &format!("/api/teams-api/{team}/members"),
        Some(json!({"name": role, "email": email, "role": role})),
    );
    assert_eq!(status, 200, "{body}");
    let (status, body) = server.call(
        Method::POST,
        "/api/keys-api",
        Some(json!({"name": role, "scopes": ["codes:write"], "memberEmail": email})),
    );
    assert_eq!(status, 201, "{body}");
    body["data"]["token"].as_str().unwrap().to_owned()
}

fn templates_and_images(server: &Server) {
    let team = server.credentials.team_id.clone();

    // The built-ins, the default first, in the reference's shape.
    let (status, body) = server.call(Method::GET, TEMPLATES, None);
    assert_eq!(status, 200, "{body}");
    assert_eq!(body["success"], true);
    let list = body["data"].as_array().unwrap();
    let ids: Vec<&str> = list.iter().map(|t| t["id"].as_str().unwrap()).collect();
    assert_eq!(ids, ["classic", "navy", "forest"]);
    for field in ["id", "name", "description", "previewUrl", "createdAt"] {
        assert!(!list[0][field].is_null(), "{field} in {}", list[0]);
    }
    assert_eq!(list[0]["builtIn"], true);
    assert_eq!(
        (
            &list[0]["foregroundColor"],
            &list[0]["backgroundColor"],
            &list[0]["errorCorrection"]
        ),
        (&json!("#000000"), &json!("#ffffff"), &json!("M"))
    );

    // The default design: black on white, at several sizes, PNG exactly the size asked.
    let plain = web_code(server, json!({}));
    let short_url = plain["shortUrl"].as_str().unwrap();
    let edge_url = short_url
        .strip_suffix(plain["displayId"].as_str().unwrap())
        .unwrap();
    // The preview is the template drawn on the edge's URL.
    let preview = list[2]["previewUrl"].as_str().unwrap();
    let preview_path = &preview[preview.find("/api/").expect("previewUrl on the API")..];
    assert_eq!(decode(&png(server, preview_path)), edge_url);
    assert!(plain["qrImageUrl"].as_str().unwrap().ends_with(".svg"));
    for size in [128, 256, 777, 2048] {
        let bytes = png(
            server,
            &format!(
                "/api/qrs-api/{}/image.png?size={size}",
                plain["id"].as_str().unwrap()
            ),
        );
        assert_eq!(png_size(&bytes), (size, size));
        assert_eq!(
            decode(&bytes),
            plain["shortUrl"].as_str().unwrap(),
            "size {size}"
        );
        assert_eq!(pixel(&bytes, 0, 0), [255, 255, 255]);
    }
    assert_decodes(server, &plain, "");
    assert_decodes(server, &plain, "?errorCorrection=H");
    let image_url = plain["qrImageUrl"].as_str().unwrap();
    let svg_path = &image_url[server.api.len()..];
    let (status, content_type, svg) =
        fetch(server, &Who::Owner, &team, &format!("{svg_path}?size=300"));
    let svg = String::from_utf8(svg).unwrap();
    assert_eq!(
        (status, content_type.as_str()),
        (200, "image/svg+xml"),
        "{svg}"
    );
    assert!(
        svg.contains(r#"width="300" height="300""#) && svg.contains(r##"fill="#000000""##),
        "{svg}"
    );

    // A team's coloured template: its colours and margin in both formats, and it decodes.
    let coloured = create_template(
        server,
        json!({"name": "Brand", "description": "navy on cream", "foregroundColor": "#1E3A8A",
               "backgroundColor": "#fff7e6", "errorCorrection": "Q", "margin": 2}),
    );
    assert_eq!(
        (
            &coloured["foregroundColor"],
            &coloured["errorCorrection"],
            &coloured["margin"],
            &coloured["builtIn"]
        ),
        (&json!("#1e3a8a"), &json!("Q"), &json!(2), &json!(false))
    );
    assert!(coloured["id"].as_str().unwrap().starts_with("tpl_"));
    let brand = web_code(server, json!({"templateId": coloured["id"]}));
    assert_eq!(brand["templateId"], coloured["id"]);
    assert_decodes(server, &brand, "?size=512");
    let bytes = png(
        server,
        &format!("/api/qrs-api/{}/image.png", brand["id"].as_str().unwrap()),
    );
    assert_eq!(pixel(&bytes, 0, 0), [0xff, 0xf7, 0xe6]);
    let (_, _, svg) = fetch(
        server,
        &Who::Owner,
        &team,
        &format!("/api/qrs-api/{}/image.svg", brand["id"].as_str().unwrap()),
    );
    let svg = String::from_utf8(svg).unwrap();
    assert!(
        svg.contains(r##"fill="#1e3a8a""##) && svg.contains(r##"fill="#fff7e6""##),
        "{svg}"
    );
    // Listed after the built-ins, and readable by id.
    let (_, body) = server.call(Method::GET, TEMPLATES, None);
    assert_eq!(body["data"][3]["id"], coloured["id"]);
    let (status, body) = server.call(
        Method::GET,
        &format!("{TEMPLATES}/{}", coloured["id"].as_str().unwrap()),
        None,
    );
    assert_eq!((status, &body["data"]["name"]), (200, &json!("Brand")));

    // A built-in by id.
    let forest = web_code(server, json!({"templateId": "forest"}));
    assert_decodes(server, &forest, "?size=300");

    // A logo at H, drawn in the centre, on short and long URLs; Q carries it too.
    let with_logo = create_template(
        server,
        json!({"name": "Logo", "errorCorrection": "H", "logo": logo()}),
    );
    let logo_code = web_code(server, json!({"templateId": with_logo["id"]}));
    let logo_id = logo_code["id"].as_str().unwrap().to_owned();
    for query in ["", "?size=400", "?size=1024", "?errorCorrection=Q"] {
        assert_decodes(server, &logo_code, query);
    }
    let bytes = png(
        server,
        &format!("/api/qrs-api/{logo_id}/image.png?size=400"),
    );
    assert_eq!(
        pixel(&bytes, 200, 200),
        [160, 0, 0],
        "the logo is in the centre"
    );
    let long = web_code(
        server,
        json!({"templateId": with_logo["id"], "displayId": "l".repeat(120)}),
    );
    assert_decodes(server, &long, "?size=800");
    let (_, _, svg) = fetch(
        server,
        &Who::Owner,
        &team,
        &format!("/api/qrs-api/{logo_id}/image.svg"),
    );
    assert!(String::from_utf8(svg).unwrap().contains(r#"<image "#));
    assert_refused(
        server,
        Method::GET,
        &format!("/api/qrs-api/{logo_id}/image.png?errorCorrection=L"),
        None,
        400,
        "needs errorCorrection Q or H",
    );

    // A code on a custom domain encodes that domain's URL.
    let platform = edge_url
        .split_once("://")
        .unwrap()
        .1
        .trim_end_matches('/')
        .to_owned();
    let (status, body) = server.call(
        Method::PUT,
        &format!("/api/teams-api/{team}/domains"),
        Some(json!({"defaultDomain": platform, "domains": [platform, "qr.brand.test"]})),
    );
    assert_eq!(status, 200, "{body}");
    let on_domain = web_code(
        server,
        json!({"baseUrl": "https://qr.brand.test/", "displayId": "spring", "templateId": coloured["id"]}),
    );
    assert_eq!(on_domain["shortUrl"], "https://qr.brand.test/spring");
    assert_decodes(server, &on_domain, "");
    assert_decodes(server, &on_domain, "?size=200");

    // templateId on update and bulk.
    let (status, body) = server.call(
        Method::PUT,
        &format!("/api/qrs-api/{}", plain["id"].as_str().unwrap()),
        Some(json!({"templateId": "navy"})),
    );
    assert_eq!(
        (status, &body["data"]["templateId"]),
        (200, &json!("navy")),
        "{body}"
    );
    let (status, body) = server.call(
        Method::POST,
        "/api/qrs-api/bulk",
        Some(json!([{"qrType": "WEB", "qrRedirectUrl": "https://a.example/", "templateId": coloured["id"]}])),
    );
    assert_eq!(status, 201, "{body}");
    assert_decodes(server, &body["data"]["qrs"][0], "");

    // templateId in a CSV import: a row naming an unknown template is refused by line.
    let csv = format!(
        "displayId,url,type,templateId\nimported-1,https://a.example/1,WEB,{}\nimported-2,https://a.example/2,WEB,nope\n",
        coloured["id"].as_str().unwrap()
    );
    let response = request(
        server,
        &Who::Owner,
        &team,
        Method::POST,
        "/api/qrs-api/import",
    )
    .header("content-type", "text/csv")
    .body(csv)
    .send()
    .unwrap();
    let (status, body) = json_of(response);
    assert_eq!(
        (status, &body["data"]["imported"]),
        (201, &json!(1)),
        "{body}"
    );
    assert_eq!(body["data"]["refused"][0]["line"], 3);
    assert!(body["data"]["refused"][0]["message"]
        .as_str()
        .unwrap()
        .contains("templateId \"nope\" is not a template of this team"));
    let (_, body) = server.call(Method::GET, "/api/qrs-api?search=imported-1", None);
    let imported = &body["data"]["qrs"][0];
    assert_eq!(imported["templateId"], coloured["id"]);
    assert_decodes(server, imported, "");

    // Bad input, with the envelope's message.
    for (body, words) in [
        (
            json!({"name": "x", "foregroundColor": "navy"}),
            "foregroundColor \"navy\" must be a colour like #1a2b3c",
        ),
        (
            json!({"name": "x", "backgroundColor": "#12345"}),
            "backgroundColor",
        ),
        (
            json!({"name": "x", "foregroundColor": "#dddddd"}),
            "scanners need at least 3:1",
        ),
        (
            json!({"name": "x", "foregroundColor": "#ffffff", "backgroundColor": "#000000"}),
            "must be darker",
        ),
        (
            json!({"name": "x", "errorCorrection": "L", "logo": logo()}),
            "a logo needs errorCorrection Q or H",
        ),
        (
            json!({"name": "x", "logo": "https://a.example/logo.png"}),
            "logo must be a data:image/png;base64,",
        ),
        (
            json!({"name": "x", "margin": 17}),
            "margin must be 0 to 16 modules",
        ),
        (
            json!({"name": "x", "errorCorrection": "X"}),
            "must be L, M, Q or H",
        ),
        (json!({"description": "no name"}), "name is required"),
        (
            json!({"name": "x", "color": "#000000"}),
            "unknown field `color`",
        ),
    ] {
        assert_refused(server, Method::POST, TEMPLATES, Some(body), 400, words);
    }
    for query in ["?size=63", "?size=2049", "?size=big", "?errorCorrection=Z"] {
        let words = if query.contains("size") {
            "size must be from 64 to 2048 pixels"
        } else {
            "must be L, M, Q or H"
        };
        for ext in ["png", "svg"] {
            assert_refused(
                server,
                Method::GET,
                &format!(
                    "/api/qrs-api/{}/image.{ext}{query}",
                    plain["id"].as_str().unwrap()
                ),
                None,
                400,
                words,
            );
        }
    }
    assert_refused(
        server,
        Method::GET,
        "/api/qrs-api/qr_nope/image.png",
        None,
        404,
        "not found",
    );
    assert_refused(
        server,
        Method::GET,
        &format!("{TEMPLATES}/nope/preview.png"),
        None,
        404,
        "template \"nope\" not found",
    );
    let unknown =
        json!({"qrType": "WEB", "qrRedirectUrl": "https://a.example/", "templateId": "nope"});
    assert_refused(
        server,
        Method::POST,
        "/api/qrs-api",
        Some(unknown.clone()),
        400,
        "templateId \"nope\" is not a template of this team",
    );
    assert_refused(
        server,
        Method::POST,
        "/api/qrs-api/bulk",
        Some(json!([unknown])),
        400,
        "item 0: templateId \"nope\"",
    );
    assert_refused(
        server,
        Method::PUT,
        &format!("/api/qrs-api/{}", plain["id"].as_str().unwrap()),
        Some(json!({"templateId": "nope"})),
        400,
        "is not a template of this team",
    );
    assert_refused(
        server,
        Method::DELETE,
        &format!("{TEMPLATES}/classic"),
        None,
        403,
        "built in and cannot be deleted",
    );

    // Another team's templates are not this team's: not listed, not readable, not usable.
    let other = server.create_team("Other");
    let (status, body) = call(
        server,
        &Who::Owner,
        &other,
        Method::POST,
        TEMPLATES,
        Some(json!({"name": "Theirs", "foregroundColor": "#14532d"})),
    );
    assert_eq!(status, 201, "{body}");
    let theirs = body["data"]["id"].as_str().unwrap().to_owned();
    let (_, body) = server.call(Method::GET, TEMPLATES, None);
    assert!(!body["data"]
        .as_array()
        .unwrap()
        .iter()
        .any(|t| t["id"] == theirs.as_str()));
    for method in [Method::GET, Method::DELETE] {
        assert_refused(
            server,
            method,
            &format!("{TEMPLATES}/{theirs}"),
            None,
            404,
            "not found",
        );
    }
    assert_refused(
        server,
        Method::GET,
        &format!("{TEMPLATES}/{theirs}/preview.png"),
        None,
        404,
        "not found",
    );
    assert_refused(
        server,
        Method::POST,
        "/api/qrs-api",
        Some(json!({"qrType": "WEB", "qrRedirectUrl": "https://a.example/", "templateId": theirs})),
        400,
        "is not a template of this team",
    );
    // Nor is the other team's code's image; and this team's templates are not the other's.
    let (status, body) = call(
        server,
        &Who::Owner,
        &other,
        Method::POST,
        "/api/qrs-api",
        Some(json!({"qrType": "WEB", "qrRedirectUrl": "https://a.example/", "templateId": theirs})),
    );
    assert_eq!(status, 201, "{body}");
    let their_code = body["data"]["id"].as_str().unwrap().to_owned();
    assert_refused(
        server,
        Method::GET,
        &format!("/api/qrs-api/{their_code}/image.png"),
        None,
        404,
        "not found",
    );
    let (status, _) = call(
        server,
        &Who::Owner,
        &other,
        Method::GET,
        &format!("{TEMPLATES}/{}", coloured["id"].as_str().unwrap()),
        None,
    );
    assert_eq!(status, 404);

    // Roles: viewers read templates and images; editors and admins create and delete.
    let viewer = member_key(server, &team, "viewer@acmecorp.com", "viewer");
    let editor = member_key(server, &team, "editor@acmecorp.com", "editor");
    let admin = member_key(server, &team, "admin@acmecorp.com", "admin");
    let viewer = Who::Key(&viewer);
    let (status, body) = call(server, &viewer, &team, Method::GET, TEMPLATES, None);
    assert_eq!(
        (status, body["data"].as_array().unwrap().len()),
        (200, 5),
        "{body}"
    );
    let (status, _, bytes) = fetch(
        server,
        &viewer,
        &team,
        &format!("/api/qrs-api/{}/image.png", brand["id"].as_str().unwrap()),
    );
    assert_eq!(status, 200);
    assert_eq!(decode(&bytes), brand["shortUrl"].as_str().unwrap());
    let (status, _, _) = fetch(
        server,
        &viewer,
        &team,
        &format!("{TEMPLATES}/navy/preview.png"),
    );
    assert_eq!(status, 200);
    let (status, body) = call(
        server,
        &viewer,
        &team,
        Method::POST,
        TEMPLATES,
        Some(json!({"name": "v"})),
    );
    assert_eq!(status, 403, "{body}");
    assert!(body["message"]
        .as_str()
        .unwrap()
        .contains("cannot create or delete templates"));
    let (status, _) = call(
        server,
        &viewer,
        &team,
        Method::DELETE,
        &format!("{TEMPLATES}/{}", coloured["id"].as_str().unwrap()),
        None,
    );
    assert_eq!(status, 403);
    // A team the viewer is not in.
    let (status, body) = call(server, &viewer, &other, Method::GET, TEMPLATES, None);
    assert_eq!(status, 403, "{body}");
    let (status, _, _) = fetch(
        server,
        &viewer,
        &other,
        &format!("/api/qrs-api/{their_code}/image.png"),
    );
    assert_eq!(status, 403);
    for token in [&editor, &admin] {
        let who = Who::Key(token);
        let (status, body) = call(
            server,
            &who,
            &team,
            Method::POST,
            TEMPLATES,
            Some(json!({"name": "mine"})),
        );
        assert_eq!(status, 201, "{body}");
        let id = body["data"]["id"].as_str().unwrap().to_owned();
        let (status, body) = call(
            server,
            &who,
            &team,
            Method::DELETE,
            &format!("{TEMPLATES}/{id}"),
            None,
        );
        assert_eq!((status, &body["data"]["id"]), (200, &json!(id)), "{body}");
    }

    // Deleting a template: its codes keep their templateId and are drawn in the default design.
    let (status, body) = server.call(
        Method::DELETE,
        &format!("{TEMPLATES}/{}", coloured["id"].as_str().unwrap()),
        None,
    );
    assert_eq!(status, 200, "{body}");
    assert_refused(
        server,
        Method::GET,
        &format!("{TEMPLATES}/{}", coloured["id"].as_str().unwrap()),
        None,
        404,
        "not found",
    );
    let (status, body) = server.call(
        Method::GET,
        &format!("/api/qrs-api/{}", brand["id"].as_str().unwrap()),
        None,
    );
    assert_eq!(
        (status, &body["data"]["templateId"]),
        (200, &coloured["id"])
    );
    let bytes = png(
        server,
        &format!("/api/qrs-api/{}/image.png", brand["id"].as_str().unwrap()),
    );
    assert_eq!(pixel(&bytes, 0, 0), [255, 255, 255], "the default design");
    assert_eq!(decode(&bytes), brand["shortUrl"].as_str().unwrap());
    // The code can still be updated; naming the deleted template again is refused.
    let (status, body) = server.call(
        Method::PUT,
        &format!("/api/qrs-api/{}", brand["id"].as_str().unwrap()),
        Some(json!({"name": "renamed"})),
    );
    assert_eq!(status, 200, "{body}");
    assert_refused(
        server,
        Method::PUT,
        &format!("/api/qrs-api/{}", brand["id"].as_str().unwrap()),
        Some(json!({"templateId": coloured["id"]})),
        400,
        "is not a template of this team",
    );
}

#[test]
fn templates_and_images_embedded() {
    let dir = tempfile::tempdir().unwrap();
    templates_and_images(&Server::start(dir.path()));
}

#[test]
fn templates_and_images_on_redis() {
    let topology = Topology::new();
    templates_and_images(&topology.start("api", "api"));
}
