//! The dashboard's code forms (src/dashboard/code_form.rs) in a real browser, on both stores:
//! each of the twelve types made through its form, read back through the API (the fields stored
//! as entered) and scanned on the edge; the API's refusals next to the fields they name; an edit
//! that keeps every field; a duplicate; a CSV import; the live preview of the code's image (it
//! scans to the code and follows the template; another team's template or code is refused); an
//! expiry and a template removed in the form. The journey is tests/it/browser/forms.py.

use reqwest::Method;
use serde_json::{json, Value};

use crate::dashboard::{api_args, bootstrap_link, browse, on};
use crate::support::topology::Topology;
use crate::support::{zbar, Server};

/// The API's own message for a create `body`.
fn refusal(server: &Server, body: Value) -> Value {
    let (status, refused) = server.call(Method::POST, "/api/qrs-api", Some(body));
    assert_eq!(status, 400, "{refused}");
    refused["message"].clone()
}

fn refusals_are_the_apis(server: &Server, seen: &Value) {
    let refused = &seen["refused"];
    let missing = refusal(
        server,
        json!({"qrType": "PDF", "settings": {"title": "No file"}}),
    );
    assert_eq!(refused["missing"], missing, "{refused}");
    assert_eq!(
        refused["missingKept"], "No file",
        "what was entered is kept"
    );
    let links = json!([{"title": "Fine", "url": "https://example.com"},
                       {"title": "Evil", "url": "javascript:alert(1)"}]);
    let bad_url = refusal(
        server,
        json!({"qrType": "LINK_LIST", "settings": {"links": links}}),
    );
    assert!(
        bad_url
            .as_str()
            .unwrap()
            .starts_with("settings.links[1].url"),
        "{bad_url}"
    );
    assert_eq!(refused["badUrl"], bad_url);
    assert_eq!(refused["badUrlKept"], "javascript:alert(1)");
    let one_variant = refusal(
        server,
        json!({"qrType": "WEB", "qrRedirectUrl": "https://example.com",
               "settings": {"abSplit": [{"url": "https://example.com/a", "weight": 1}]}}),
    );
    assert_eq!(refused["oneVariant"], one_variant);
    assert_eq!(
        seen["codesAfterRefusals"], 0,
        "a refused form creates nothing"
    );
}

/// A scan's status and where it was sent.
fn head(answer: &Value) -> Value {
    json!([answer[0], answer[1]])
}

fn redirect_codes_are_stored_and_served(seen: &Value) {
    let web = &seen["codes"]["WEB"];
    assert_eq!(web["name"], "Web <i>launch</i>");
    assert_eq!(web["qrRedirectUrl"], "https://example.com/web");
    assert_eq!(web["displayId"], "forms-web");
    assert_eq!(web["tags"], json!(["spring", "print"]));
    assert_eq!(web["templateId"], "forest");
    assert_eq!(
        web["expiryDate"], 1_893_456_000_000_i64,
        "2030-01-01T00:00 UTC"
    );
    let settings = &web["settings"];
    assert_eq!(settings["redirectStatus"], 307);
    assert_eq!(settings["maxScans"], 100);
    assert_eq!(settings["maxScansUrl"], "https://example.com/used-up");
    assert_eq!(settings["expiredUrl"], "https://example.com/expired");
    assert_eq!(settings["forwardQuery"], false);
    let rules = &settings["rules"];
    assert_eq!(rules[0]["url"], "https://example.com/ios");
    assert_eq!(rules[0]["os"], json!(["ios"]));
    assert_eq!(rules[1]["devices"], json!(["tablet"]));
    assert_eq!(rules[1]["weekdays"], json!(["fri", "sat"]));
    assert_eq!(
        (
            &rules[1]["fromTime"],
            &rules[1]["toTime"],
            &rules[1]["timeZone"]
        ),
        (&json!("22:00"), &json!("06:00"), &json!("Europe/Berlin"))
    );
    assert_eq!(
        settings["abSplit"],
        json!([{"url": "https://example.com/a", "weight": 1},
               {"url": "https://example.com/b", "weight": 3}])
    );
    let edge = &seen["edge"];
    assert_eq!(
        head(&edge["WEB"]),
        json!([307, "https://example.com/ios"]),
        "an iPhone: the first rule"
    );
    let desktop = &edge["WEB_desktop"];
    assert_eq!(desktop[0], 307);
    assert!(
        ["https://example.com/a", "https://example.com/b"].contains(&desktop[1].as_str().unwrap()),
        "a desktop: an A/B variant: {desktop}"
    );
    assert_eq!(seen["codes"]["SHORT_LINK"]["passwordProtected"], true);
    assert_eq!(edge["SHORT_LINK"][0], 200, "the password form");
    assert!(edge["SHORT_LINK"][2]
        .as_str()
        .unwrap()
        .contains("name=\"password\""));
    let locale = &seen["codes"]["MULTI_LOCALE"]["settings"];
    assert_eq!(
        locale["urls"],
        json!({"en": "https://example.com/en", "de": "https://example.com/de"})
    );
    assert_eq!(locale["defaultLocale"], "en");
    assert_eq!(
        head(&edge["MULTI_LOCALE"]),
        json!([302, "https://example.com/de"])
    );
    assert_eq!(
        head(&edge["APP_DOWNLOAD"]),
        json!([302, "https://apps.apple.com/app/acme/id123456789"])
    );
}

/// Each hosted type: its settings as entered, and its page on the edge showing them.
fn hosted_codes_are_stored_and_served(seen: &Value) {
    let settings = |t: &str| seen["codes"][t]["settings"].clone();
    assert_eq!(settings("PDF")["title"], "Spring <b>catalogue</b>");
    assert_eq!(settings("PDF")["description"], "All 48 pages.\nIn colour.");
    assert_eq!(settings("VCARD")["phones"][0]["type"], "work");
    assert_eq!(settings("VCARD")["phones"][0]["number"], "+41 44 668 18 00");
    assert_eq!(
        settings("VCARD")["emails"][0]["address"],
        "jane.doe@example.com"
    );
    assert_eq!(settings("VCARD")["address"], json!({"city": "Zürich"}));
    assert_eq!(
        settings("LINK_LIST")["links"],
        json!([{"title": "Order online", "url": "https://shop.example.com/"},
               {"title": "Opening hours", "url": "https://example.com/hours"}])
    );
    assert_eq!(settings("COUPON_CODE")["validUntil"], "2030-06-30");
    assert_eq!(
        settings("IMAGE_GALLERY")["images"],
        json!([{"url": "https://example.com/1.jpg", "caption": "The entrance"}])
    );
    assert_eq!(
        settings("SOCIAL_BIO")["links"],
        json!([{"network": "instagram", "url": "https://instagram.com/janedoe"}])
    );
    assert_eq!(
        settings("RESTAURANT_MENU")["sections"],
        json!([{"name": "Pizze", "items": [
            {"name": "Margherita", "price": 18.5, "tags": ["vegetarian"]},
            {"name": "Diavola", "price": 22}]}])
    );
    let pages = [
        ("PDF", "Spring &lt;b&gt;catalogue&lt;/b&gt;"),
        ("VCARD", "Jane Doe"),
        ("LINK_LIST", "Opening hours"),
        ("COUPON_CODE", "SPRING25"),
        ("IMAGE_GALLERY", "The entrance"),
        ("SOCIAL_BIO", "Jane Bio"),
        ("VIDEO_PREVIEW", "youtube-nocookie.com/embed/dQw4w9WgXcQ"),
        ("RESTAURANT_MENU", "CHF 18.50"),
    ];
    for (qr_type, shown) in pages {
        let answer = &seen["edge"][qr_type];
        assert_eq!(answer[0], 200, "{qr_type}: {answer}");
        assert!(
            answer[2].as_str().unwrap().contains(shown),
            "{qr_type}'s page shows {shown:?}: {answer}"
        );
    }
}

fn edits_duplicates_and_imports(seen: &Value) {
    let edited = &seen["edited"];
    assert_eq!(
        edited["shownDish"], "Diavola",
        "the edit form shows nested rows"
    );
    let menu = &edited["menuAfterEdit"];
    assert_eq!(menu["name"], "Renamed menu");
    assert_eq!(
        menu["settings"], seen["codes"]["RESTAURANT_MENU"]["settings"],
        "an edit keeps every field"
    );
    assert_eq!(edited["shortAfterEdit"]["passwordProtected"], false);
    assert_eq!(
        edited["shortAfterEdit"]["qrRedirectUrl"],
        "https://example.com/short"
    );

    let (copy, original) = (&seen["copy"], &seen["codes"]["LINK_LIST"]);
    assert_ne!(copy["id"], original["id"]);
    assert_ne!(copy["displayId"], original["displayId"]);
    assert_eq!(
        (&copy["qrType"], &copy["settings"]),
        (&original["qrType"], &original["settings"])
    );

    let result = seen["importResult"].as_str().unwrap();
    assert!(result.starts_with("1 imported, 1 refused."), "{result}");
    let refused = &seen["importRefused"];
    assert_eq!(refused.as_array().unwrap().len(), 1, "{refused}");
    assert_eq!(refused[0][0], "3", "the bad line by number");
    assert!(
        refused[0][1].as_str().unwrap().contains("javascript"),
        "{refused}"
    );
    let error = seen["importError"].as_str().unwrap();
    assert!(
        error.starts_with("no row was imported: line 2: "),
        "{error}"
    );
    assert_eq!(seen["noneRefused"][0][0], "2");
    assert_eq!(seen["importedIds"], json!(["csv-one"]));
}

/// Another team's template and code, which the preview must not draw: their ids.
fn other_teams_template_and_code(server: &Server) -> (String, String) {
    let team = server.create_team("Other team");
    let template = json!({"name": "Theirs", "foregroundColor": "#7A1F1F"});
    let (status, made) = server.call_as(
        &server.credentials,
        &team,
        Method::POST,
        "/api/qr-templates-api",
        Some(template),
    );
    assert_eq!(status, 201, "{made}");
    let code = server.create_qr_in(
        &team,
        json!({"qrType": "WEB", "qrRedirectUrl": "https://example.com/theirs"}),
    );
    (
        made["data"]["id"].as_str().unwrap().to_owned(),
        code["id"].as_str().unwrap().to_owned(),
    )
}

/// The preview scans to the code in both templates and is not the same image; the expiry
/// emptied in the form is gone and the code served again; "Default" removes the template.
fn preview_follows_the_form_and_an_expiry_is_removed(
    server: &Server,
    seen: &Value,
    previews: [&std::path::Path; 2],
) {
    let short_url = format!("{}/forms-expired", server.edge);
    let [forest, navy] = previews.map(|path| std::fs::read(path).unwrap());
    for png in [&forest, &navy] {
        assert_eq!(
            zbar::decode(png),
            short_url,
            "the preview scans to the code"
        );
    }
    assert_ne!(forest, navy, "the preview follows the template chosen");
    let previewed = &seen["previewed"];
    assert_eq!(previewed["caption"], format!("Encodes {short_url}"));
    assert_eq!(previewed["expiredStatus"], 410);
    assert_eq!(previewed["saved"]["expiryDate"], Value::Null, "{previewed}");
    assert_eq!(previewed["saved"]["templateId"], "navy");
    let settings = previewed["saved"]["settings"].as_object().unwrap();
    assert!(!settings.contains_key("maxScans"), "{settings:?}");
    assert_eq!(
        previewed["served"],
        json!([302, "https://example.com/back"]),
        "served again"
    );
    assert_eq!(previewed["defaultTemplate"], Value::Null);
    let new_code = &seen["newPreview"];
    assert_eq!(new_code["before"], format!("{}/xxxxxxx", server.edge));
    assert_eq!(new_code["after"], format!("{}/typed-path", server.edge));
}

fn preview_refuses_what_is_not_the_teams(seen: &Value) {
    let refused = &seen["previewRefused"];
    assert_eq!(refused["own"], json!([200, "image/svg+xml"]));
    for (asked, status) in [
        ("otherTemplate", 404),
        ("otherCode", 404),
        ("longTemplate", 400),
        ("badPath", 400),
        ("unknownField", 400),
    ] {
        assert_eq!(refused[asked][0], status, "{asked}: {refused}");
    }
}

fn every_qr_type_and_setting(server: &Server) {
    let mut args = api_args(server);
    args["signInUrl"] = on(server, &bootstrap_link(server)).into();
    let (other_template, other_code) = other_teams_template_and_code(server);
    args["otherTemplateId"] = other_template.into();
    args["otherCodeId"] = other_code.into();
    let png = || tempfile::Builder::new().suffix(".png").tempfile().unwrap();
    let (forest, navy) = (png(), png());
    args["previewPng"] = forest.path().to_str().unwrap().into();
    args["previewNavyPng"] = navy.path().to_str().unwrap().into();
    let seen = browse("forms.py", &args);
    refusals_are_the_apis(server, &seen);
    redirect_codes_are_stored_and_served(&seen);
    hosted_codes_are_stored_and_served(&seen);
    edits_duplicates_and_imports(&seen);
    preview_follows_the_form_and_an_expiry_is_removed(server, &seen, [forest.path(), navy.path()]);
    preview_refuses_what_is_not_the_teams(&seen);
}

#[test]
fn every_qr_type_and_setting_through_its_form_embedded() {
    let (_tmp, dir) = crate::support::data_dir();
    every_qr_type_and_setting(&Server::start(&dir));
}

#[test]
fn every_qr_type_and_setting_through_its_form_on_redis() {
    let topology = Topology::new();
    every_qr_type_and_setting(&topology.start("serve", "serve"));
}
