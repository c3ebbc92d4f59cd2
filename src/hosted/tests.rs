//! Every type end to end: realistic settings in, the page a user would see out.

use serde_json::{json, Map, Value};

use super::*;
use crate::model::QrType;

fn settings(value: Value) -> Map<String, Value> {
    match value {
        Value::Object(map) => map,
        other => panic!("not an object: {other}"),
    }
}

fn ctx() -> PageContext<'static> {
    PageContext {
        display_id: "spring-25",
        title: "Spring campaign",
        brand_colour: Some("#0b8043"),
        protected: false,
    }
}

fn page(qr_type: QrType, value: Value) -> Hosted {
    let content = parse(qr_type, &settings(value)).unwrap_or_else(|e| panic!("{qr_type:?}: {e}"));
    render(&content, &ctx()).unwrap_or_else(|| panic!("{qr_type:?} renders no page"))
}

fn error(qr_type: QrType, value: Value) -> String {
    match parse(qr_type, &settings(value)) {
        Ok(content) => panic!("{qr_type:?} accepted: {content:?}"),
        Err(e) => e,
    }
}

/// The text of the page's one `<style>` element.
fn style_of(html: &str) -> &str {
    let start = html.find("<style>").expect("a <style> element") + "<style>".len();
    let end = html[start..].find("</style>").unwrap() + start;
    assert_eq!(html.matches("<style").count(), 1, "one style element");
    &html[start..end]
}

/// What every page must be: a document with no script at all, no inline style or event
/// attributes, and a policy allowing exactly its stylesheet.
fn assert_well_formed(hosted: &Hosted) {
    let html = &hosted.html;
    assert!(html.starts_with("<!doctype html>"));
    assert!(html.contains("<meta name=\"viewport\""));
    let lower = html.to_ascii_lowercase();
    assert!(!lower.contains("<script"), "{html}");
    assert!(!lower.contains(" style="), "{html}");
    for (i, _) in lower.match_indices(" on") {
        let name: String = lower[i + 3..]
            .chars()
            .take_while(char::is_ascii_lowercase)
            .collect();
        assert!(
            !lower[i + 3 + name.len()..].starts_with('='),
            "an event attribute: on{name}= in {html}"
        );
    }
    assert!(!lower.contains("javascript:"), "{html}");
    let hash = csp::style_hash(style_of(html));
    assert!(
        hosted.csp.starts_with(&format!(
            "default-src 'none'; style-src {hash}; img-src https: data:"
        )),
        "{}",
        hosted.csp
    );
    assert!(hosted
        .csp
        .ends_with("form-action 'self'; base-uri 'none'; frame-ancestors 'none'"));
}

const HOSTILE: &str = "<script>alert(1)</script>\"onmouseover=alert(1) x='";
const HOSTILE_ESCAPED: &str =
    "&lt;script&gt;alert(1)&lt;/script&gt;&quot;onmouseover=alert(1) x=&#39;";

/// Realistic settings of every page type, each with `text` in a title and a link text.
fn examples(text: &str) -> Vec<(QrType, Value)> {
    vec![
        (
            QrType::Pdf,
            json!({"pdfUrl": "https://acme.example/files/brochure.pdf", "title": text,
                   "description": "Our spring collection.", "fileName": "brochure.pdf"}),
        ),
        (
            QrType::Vcard,
            json!({"firstName": "Jane", "lastName": "Doe", "organization": "Acme, Inc.",
                   "jobTitle": text, "phones": [{"type": "work", "number": "+41 44 668 18 00"}],
                   "emails": [{"address": "jane@acme.example"}], "note": text,
                   "website": "https://acme.example/jane"}),
        ),
        (
            QrType::AppDownload,
            json!({"iosUrl": "https://apps.apple.com/app/id123",
                   "androidUrl": "https://play.google.com/store/apps/details?id=com.acme",
                   "appName": "Acme", "title": text, "description": "Order in two taps."}),
        ),
        (
            QrType::LinkList,
            json!({"title": text, "description": "Everything in one place",
                   "imageUrl": "https://acme.example/logo.png",
                   "links": [{"title": "Shop", "url": "https://acme.example/shop"},
                             {"title": text, "url": "https://acme.example/blog"}]}),
        ),
        (
            QrType::CouponCode,
            json!({"title": text, "code": "SPRING25", "discount": "25% off",
                   "validUntil": "2025-06-30", "terms": text,
                   "redeemUrl": "https://acme.example/redeem"}),
        ),
        (
            QrType::ImageGallery,
            json!({"title": text, "images": [
                {"url": "https://acme.example/1.jpg", "caption": text},
                {"url": "https://acme.example/2.jpg"}]}),
        ),
        (
            QrType::SocialBio,
            json!({"name": text, "bio": "Designer in Zürich", "avatarUrl": "https://acme.example/me.jpg",
                   "links": [{"network": "instagram", "url": "https://instagram.com/jane"},
                             {"network": "website", "url": "https://jane.example", "label": text}]}),
        ),
        (
            QrType::VideoPreview,
            json!({"title": text, "description": "Two minutes on the new range.",
                   "videoUrl": "https://www.youtube.com/watch?v=dQw4w9WgXcQ"}),
        ),
        (
            QrType::RestaurantMenu,
            json!({"name": text, "currency": "EUR", "sections": [
                {"name": "Starters", "items": [
                    {"name": "Soup of the day", "price": 6.5, "tags": ["vegan"]},
                    {"name": text, "description": text, "price": 9}]}]}),
        ),
    ]
}

#[test]
fn every_page_type_shows_its_texts() {
    let text = "Grüße from Zürich & friends";
    for (qr_type, value) in examples(text) {
        let hosted = page(qr_type, value);
        assert_well_formed(&hosted);
        assert!(
            hosted.html.contains("Grüße from Zürich &amp; friends"),
            "{qr_type:?}: {}",
            hosted.html
        );
        assert!(hosted.html.contains("--accent:#0b8043"), "{qr_type:?}");
    }
}

#[test]
fn hostile_text_appears_only_escaped() {
    for (qr_type, value) in examples(HOSTILE) {
        let hosted = page(qr_type, value);
        assert_well_formed(&hosted);
        assert!(hosted.html.contains(HOSTILE_ESCAPED), "{qr_type:?}");
        assert!(!hosted.html.contains("\"onmouseover"), "{qr_type:?}");
    }
    let hostile_ctx = PageContext {
        display_id: "x",
        title: HOSTILE,
        brand_colour: Some("#fff;}body{display:none"),
        protected: false,
    };
    let content = parse(
        QrType::LinkList,
        &settings(json!({"links": [{"title": "a", "url": "https://a.example/"}]})),
    )
    .unwrap();
    let hosted = render(&content, &hostile_ctx).unwrap();
    assert_well_formed(&hosted);
    assert!(hosted
        .html
        .contains(&format!("<title>{HOSTILE_ESCAPED}</title>")));
    assert!(hosted
        .html
        .contains(&format!("--accent:{}", layout::DEFAULT_ACCENT)));
    assert!(!hosted.html.contains("display:none"));
}

#[test]
fn urls_in_attributes_are_escaped() {
    let hosted = page(
        QrType::LinkList,
        json!({"links": [{"title": "q", "url": "https://a.example/?a=1&b=\"x\"<y>"}]}),
    );
    // The url crate percent-encodes quotes and angle brackets; the ampersand is escaped.
    assert!(hosted
        .html
        .contains("href=\"https://a.example/?a=1&amp;b=%22x%22%3Cy%3E\""));
}

#[test]
fn script_urls_are_rejected_naming_the_field() {
    for (qr_type, value, path) in [
        (
            QrType::Pdf,
            json!({"pdfUrl": "javascript:alert(1)"}),
            "settings.pdfUrl",
        ),
        (
            QrType::LinkList,
            json!({"links": [{"title": "a", "url": "https://a.example"},
                             {"title": "b", "url": "https://b.example"},
                             {"title": "c", "url": "javascript:alert(1)"}]}),
            "settings.links[2].url",
        ),
        (
            QrType::SocialBio,
            json!({"name": "n", "avatarUrl": "data:image/png;base64,AAAA", "links": []}),
            "settings.avatarUrl",
        ),
        (
            QrType::ImageGallery,
            json!({"images": [{"url": "vbscript:x"}]}),
            "settings.images[0].url",
        ),
        (
            QrType::AppDownload,
            json!({"iosUrl": "JavaScript:alert(1)"}),
            "settings.iosUrl",
        ),
        (
            QrType::Vcard,
            json!({"firstName": "J", "website": "javascript:alert(1)"}),
            "settings.website",
        ),
        (
            QrType::VideoPreview,
            json!({"videoUrl": "javascript:alert(1)//youtube.com/watch?v=dQw4w9WgXcQ"}),
            "settings.videoUrl",
        ),
        (
            QrType::CouponCode,
            json!({"code": "X", "redeemUrl": "javascript:alert(1)"}),
            "settings.redeemUrl",
        ),
        (
            QrType::RestaurantMenu,
            json!({"name": "n", "currency": "EUR", "logoUrl": "/logo.png",
                   "sections": [{"name": "s", "items": [{"name": "i"}]}]}),
            "settings.logoUrl",
        ),
    ] {
        let err = error(qr_type, value);
        assert!(
            err.starts_with(&format!("{path} must")),
            "{qr_type:?}: {err}"
        );
    }
    assert_eq!(
        error(
            QrType::LinkList,
            json!({"links": [{"title": "c", "url": "javascript:alert(1)"}]})
        ),
        "settings.links[0].url must use http or https, not javascript:"
    );
}

#[test]
fn unknown_keys_are_rejected_by_name() {
    let err = error(
        QrType::Pdf,
        json!({"pdfUrl": "https://a.example/a.pdf", "pdfURL": "x"}),
    );
    assert!(
        err.starts_with("settings.pdfURL is not a known setting; expected one of pdfUrl"),
        "{err}"
    );
    let err = error(
        QrType::LinkList,
        json!({"links": [{"title": "a", "url": "https://a.example", "target": "_blank"}]}),
    );
    assert!(
        err.starts_with("settings.links[0].target is not a known setting"),
        "{err}"
    );
    let err = error(QrType::Web, json!({"maxScans": 3}));
    assert_eq!(
        err,
        "settings.maxScans is not a known setting; WEB codes take no settings"
    );
    assert_eq!(
        parse(QrType::ShortLink, &Map::new()).unwrap(),
        Content::Redirect
    );
    assert!(render(&Content::Redirect, &ctx()).is_none());
}

#[test]
fn missing_and_mistyped_fields_say_what_is_expected() {
    for (qr_type, value, message) in [
        (QrType::Pdf, json!({}), "settings.pdfUrl is required"),
        (
            QrType::LinkList,
            json!({"links": [{"title": 5, "url": "https://a.example"}]}),
            "settings.links[0].title must be a string, not integer 5",
        ),
        (
            QrType::LinkList,
            json!({"links": []}),
            "settings.links must have at least one entry",
        ),
        (
            QrType::SocialBio,
            json!({"name": "n", "links": [{"network": "myspace", "url": "https://a.example"}]}),
            "settings.links[0].network must be one of instagram, facebook",
        ),
        (
            QrType::Vcard,
            json!({"phones": [{"number": "+1 555 0100"}]}),
            "settings.firstName, settings.lastName or settings.organization is required",
        ),
        (
            QrType::Vcard,
            json!({"firstName": "J", "emails": [{"address": "jane at acme"}]}),
            "settings.emails[0].address must be an e-mail address",
        ),
        (
            QrType::Vcard,
            json!({"firstName": "J", "phones": [{"number": "call me"}]}),
            "settings.phones[0].number must be a phone number",
        ),
        (
            QrType::CouponCode,
            json!({"code": "X", "validUntil": "30.06.2025"}),
            "settings.validUntil must be a date like 2025-12-31",
        ),
        (
            QrType::CouponCode,
            json!({"code": "X", "accentColor": "green"}),
            "settings.accentColor must be a colour like #1a73e8",
        ),
        (
            QrType::CouponCode,
            json!({"code": "X", "title": "x".repeat(201)}),
            "settings.title is longer than 200 characters",
        ),
        (
            QrType::CouponCode,
            json!({"code": "X", "terms": "x".repeat(5001)}),
            "settings.terms is longer than 5000 characters",
        ),
        (
            QrType::RestaurantMenu,
            json!({"name": "n", "currency": "EUR",
                   "sections": [{"name": "s", "items": [{"name": "i", "price": -1}]}]}),
            "settings.sections[0].items[0].price must be a number from 0",
        ),
        (
            QrType::RestaurantMenu,
            json!({"name": "n", "currency": "euro", "sections": []}),
            "settings.currency must be a three-letter currency code",
        ),
        (
            QrType::ImageGallery,
            json!({"images": (0..101).map(|i| json!({"url": format!("https://a.example/{i}.jpg")})).collect::<Vec<_>>()}),
            "settings.images has more than 100 entries",
        ),
    ] {
        let err = error(qr_type, value);
        assert!(err.starts_with(message), "{qr_type:?}: {err}");
    }
}

#[test]
fn the_vcard_page_links_its_vcf_file() {
    let hosted = page(
        QrType::Vcard,
        json!({"firstName": "Jane", "lastName": "Doe",
               "phones": [{"type": "mobile", "number": "+41 (79) 123-45-67"}],
               "emails": [{"type": "home", "address": "jane@doe.example"}],
               "address": {"street": "Bahnhofstrasse 1", "city": "Zürich", "postalCode": "8001",
                           "country": "Switzerland"}}),
    );
    assert!(hosted
        .html
        .contains("<a class=\"btn\" href=\"/spring-25/contact.vcf\""));
    assert!(hosted.html.contains("href=\"tel:+41791234567\""));
    assert!(hosted.html.contains("href=\"mailto:jane@doe.example\""));
    assert!(hosted.html.contains("8001 Zürich"));
    let download = hosted.download.expect("the .vcf file");
    assert_eq!(download.file_name, "contact.vcf");
    assert_eq!(download.content_type, "text/vcard; charset=utf-8");
}

#[test]
fn a_protected_vcard_page_embeds_its_card_instead_of_linking_it() {
    use base64::Engine;
    let content = parse(
        QrType::Vcard,
        &settings(json!({"firstName": "Jane", "organization": "Acme <&> Co"})),
    )
    .unwrap();
    let protected = PageContext {
        protected: true,
        ..ctx()
    };
    let hosted = render(&content, &protected).unwrap();
    assert!(!hosted.html.contains("/spring-25/contact.vcf"), "no link");
    let prefix = "<a class=\"btn\" href=\"data:text/vcard;charset=utf-8;base64,";
    let start = hosted.html.find(prefix).expect("a data: link") + prefix.len();
    let end = start + hosted.html[start..].find('"').unwrap();
    let card = base64::engine::general_purpose::STANDARD
        .decode(&hosted.html[start..end])
        .unwrap();
    assert_eq!(
        card,
        hosted.download.expect("the file").body,
        "the same card"
    );
    assert!(hosted.html[end..].starts_with("\" download=\"contact.vcf\">Save contact</a>"));
}

/// A vCard reader as small as it can be: unfold, split lines, split name from value, unescape.
fn read_vcf(body: &[u8]) -> Vec<(String, Vec<String>)> {
    let text = std::str::from_utf8(body).unwrap();
    assert!(text.ends_with("\r\n"));
    assert!(
        !text.replace("\r\n", "").contains(['\r', '\n']),
        "bare CR or LF"
    );
    for line in text.split_terminator("\r\n") {
        assert!(line.len() <= 75, "{} octets: {line}", line.len());
    }
    let unfolded = text.replace("\r\n ", "");
    unfolded
        .split_terminator("\r\n")
        .map(|line| {
            let (name, value) = line.split_once(':').unwrap();
            let mut parts = vec![String::new()];
            let mut chars = value.chars();
            while let Some(c) = chars.next() {
                match c {
                    '\\' => match chars.next() {
                        Some('n' | 'N') => parts.last_mut().unwrap().push('\n'),
                        Some(c) => parts.last_mut().unwrap().push(c),
                        None => panic!("dangling backslash"),
                    },
                    ';' => parts.push(String::new()),
                    c => parts.last_mut().unwrap().push(c),
                }
            }
            (name.to_owned(), parts)
        })
        .collect()
}

#[test]
fn the_vcf_file_reads_back_the_same_contact() {
    let note =
        "Office hours: Mon–Fri; 9–5, \\ by appointment.\nSecond line: ünïcödé 東京 ".repeat(3);
    let content = parse(
        QrType::Vcard,
        &settings(json!({
            "firstName": "Zoë, Jr.", "lastName": "O'Brien; Müller",
            "organization": "Acme, Inc.; Research \\ Development", "jobTitle": "Head of R&D",
            "phones": [{"type": "work", "number": "+41 44 668 18 00"},
                       {"type": "mobile", "number": "+1 (555) 010-9999"}],
            "emails": [{"address": "zoe@acme.example"}, {"type": "home", "address": "zoe@home.example"}],
            "website": "https://acme.example/zoe?a=1,2;3",
            "address": {"street": "Bahnhofstrasse 1, 3rd floor", "city": "Zürich", "postalCode": "8001"},
            "note": note,
            "photoUrl": "https://acme.example/zoe.jpg"
        })),
    )
    .unwrap();
    let hosted = render(&content, &ctx()).unwrap();
    let card = read_vcf(&hosted.download.unwrap().body);
    let get = |name: &str| -> Vec<Vec<String>> {
        card.iter()
            .filter(|(n, _)| n == name || n.starts_with(&format!("{name};")))
            .map(|(_, v)| v.clone())
            .collect()
    };
    assert_eq!(card.first().unwrap().0, "BEGIN");
    assert_eq!(get("VERSION"), [["3.0"]]);
    assert_eq!(get("N"), [["O'Brien; Müller", "Zoë, Jr.", "", "", ""]]);
    assert_eq!(get("FN"), [["Zoë, Jr. O'Brien; Müller"]]);
    assert_eq!(get("ORG"), [["Acme, Inc.; Research \\ Development"]]);
    assert_eq!(get("TITLE"), [["Head of R&D"]]);
    assert_eq!(get("TEL"), [["+41 44 668 18 00"], ["+1 (555) 010-9999"]]);
    assert!(card.iter().any(|(n, _)| n == "TEL;TYPE=CELL,VOICE"));
    assert_eq!(get("EMAIL"), [["zoe@acme.example"], ["zoe@home.example"]]);
    assert_eq!(
        get("ADR"),
        [[
            "",
            "",
            "Bahnhofstrasse 1, 3rd floor",
            "Zürich",
            "",
            "8001",
            ""
        ]]
    );
    assert_eq!(get("NOTE"), [[note.trim().to_owned()]]);
    assert_eq!(card.last().unwrap().0, "END");
}

#[test]
fn media_pages_allow_only_their_sources() {
    let video = page(
        QrType::VideoPreview,
        json!({"videoUrl": "https://youtu.be/dQw4w9WgXcQ"}),
    );
    assert!(video
        .html
        .contains("src=\"https://www.youtube-nocookie.com/embed/dQw4w9WgXcQ\""));
    assert!(video
        .csp
        .contains("; frame-src https://www.youtube-nocookie.com;"));
    let vimeo = page(
        QrType::VideoPreview,
        json!({"videoUrl": "https://vimeo.com/76979871"}),
    );
    assert!(vimeo
        .html
        .contains("src=\"https://player.vimeo.com/video/76979871?dnt=1\""));
    assert!(vimeo.csp.contains("; frame-src https://player.vimeo.com;"));
    let file = page(
        QrType::VideoPreview,
        json!({"videoUrl": "https://cdn.acme.example/clip.mp4",
               "thumbnailUrl": "http://img.acme.example/poster.jpg"}),
    );
    assert!(file
        .html
        .contains("<video class=\"frame\" src=\"https://cdn.acme.example/clip.mp4\""));
    assert!(file
        .csp
        .contains("img-src https: data: http://img.acme.example;"));
    assert!(file.csp.contains("; media-src https://cdn.acme.example;"));
    assert!(!file.csp.contains("frame-src"));
    let pdf = page(
        QrType::Pdf,
        json!({"pdfUrl": "https://files.acme.example:8443/a.pdf"}),
    );
    assert!(pdf
        .html
        .contains("<object class=\"pdf\" data=\"https://files.acme.example:8443/a.pdf\""));
    assert!(pdf.csp.contains(
        "frame-src https://files.acme.example:8443; object-src https://files.acme.example:8443;"
    ));
    for plain in [
        page(
            QrType::LinkList,
            json!({"links": [{"title": "a", "url": "https://a.example"}]}),
        ),
        not_found_page(None),
    ] {
        assert!(!plain.csp.contains("frame-src") && !plain.csp.contains("object-src"));
    }
}

#[test]
fn app_download_has_a_page_only_without_a_fallback() {
    let with_fallback = parse(
        QrType::AppDownload,
        &settings(json!({"iosUrl": "https://apps.apple.com/app/id1",
                         "fallbackUrl": "https://acme.example/app"})),
    )
    .unwrap();
    assert!(render(&with_fallback, &ctx()).is_none());
    let hosted = page(
        QrType::AppDownload,
        json!({"iosUrl": "https://apps.apple.com/app/id1",
               "androidUrl": "https://play.google.com/store/apps/details?id=x"}),
    );
    assert!(hosted
        .html
        .contains("href=\"https://apps.apple.com/app/id1\""));
    assert!(hosted
        .html
        .contains("href=\"https://play.google.com/store/apps/details?id=x\""));
    assert!(
        hosted.html.contains("<h1>Spring campaign</h1>"),
        "the code's name as title"
    );
}

#[test]
fn the_menu_and_coupon_read_as_printed() {
    let menu = page(
        QrType::RestaurantMenu,
        json!({"name": "Trattoria Roma", "currency": "chf", "sections": [
            {"name": "Pizze", "items": [
                {"name": "Margherita", "description": "Tomato, mozzarella, basil", "price": 18.5,
                 "tags": ["vegetarian"]},
                {"name": "Catch of the day"}]}]}),
    );
    for text in [
        "Trattoria Roma",
        "Pizze",
        "Margherita",
        "CHF 18.50",
        "vegetarian",
        "Catch of the day",
    ] {
        assert!(menu.html.contains(text), "{text}");
    }
    let coupon = page(
        QrType::CouponCode,
        json!({"code": "SPRING25", "discount": "25% off", "validUntil": "2025-06-30"}),
    );
    for text in [
        "SPRING25",
        "25% off",
        "<time datetime=\"2025-06-30\">30 June 2025</time>",
    ] {
        assert!(coupon.html.contains(text), "{text}");
    }
}

#[test]
fn multi_locale_is_chosen_per_scan_not_rendered() {
    let content = parse(
        QrType::MultiLocale,
        &settings(
            json!({"urls": {"en": "https://a.example/en", "de": "https://a.example/de"},
                         "defaultLocale": "en"}),
        ),
    )
    .unwrap();
    assert!(render(&content, &ctx()).is_none());
    let Content::MultiLocale(m) = content else {
        panic!()
    };
    assert_eq!(
        m.choose(Some(b"de-DE,de;q=0.9,en;q=0.8")),
        "https://a.example/de"
    );
}

#[test]
fn the_examples_of_the_documentation_are_valid() {
    let doc = include_str!("../../docs/qr-types.md");
    let mut checked = 0;
    for section in doc.split("\n## ").skip(1) {
        let heading = section.lines().next().unwrap();
        let Some(qr_type) = QrType::parse(heading.trim()) else {
            continue;
        };
        for block in section.split("```json\n").skip(1) {
            let example = block.split("```").next().unwrap();
            let value: Value = serde_json::from_str(example)
                .unwrap_or_else(|e| panic!("{heading}: {e}\n{example}"));
            let content =
                parse(qr_type, &settings(value)).unwrap_or_else(|e| panic!("{heading}: {e}"));
            if let Some(hosted) = render(&content, &ctx()) {
                assert_well_formed(&hosted);
            }
            checked += 1;
        }
    }
    assert_eq!(checked, 10, "one example per type but WEB and SHORT_LINK");
}

/// Text a user might put in a card field: separators, newlines, markup, other scripts, and what
/// must be refused (control and direction characters).
fn card_text() -> impl proptest::strategy::Strategy<Value = String> {
    use proptest::prelude::*;
    prop_oneof![
        "[a-zA-Z ,;:\\\\\n\r\t<>&\"'é東\u{202E}\u{0}\u{7}]{0,40}",
        any::<String>(),
        "[a-zé,;\\\\]{70,120}",
    ]
}

proptest::proptest! {
    /// Whatever a card's fields hold, a card accepted gives a well-formed `.vcf` (CRLF lines of at
    /// most 75 octets, `,;\` and newlines escaped) that reads back the same text, and a
    /// well-formed page with that text escaped.
    #[test]
    fn any_accepted_card_gives_a_well_formed_vcf_and_page(
        first in card_text(),
        org in card_text(),
        note in card_text(),
        street in card_text(),
    ) {
        let value = json!({"firstName": first, "organization": org, "note": note,
                           "address": {"street": street}});
        let Ok(content) = parse(QrType::Vcard, &settings(value)) else {
            return Ok(());
        };
        let Content::Vcard(card) = &content else { panic!("a vCard") };
        let hosted = render(&content, &ctx()).unwrap();
        assert_well_formed(&hosted);
        proptest::prop_assert!(hosted.html.contains(&escape::escape(&card.full_name()).to_string()));
        let vcf = read_vcf(&hosted.download.unwrap().body);
        let value_of = |name: &str| {
            vcf.iter()
                .find(|(n, _)| n == name || n.starts_with(&format!("{name};")))
                .map(|(_, v)| v.clone())
        };
        proptest::prop_assert_eq!(value_of("FN"), Some(vec![card.full_name()]));
        if let Some(org) = &card.organization {
            proptest::prop_assert_eq!(value_of("ORG"), Some(vec![org.clone()]));
        }
        if let Some(note) = &card.note {
            proptest::prop_assert_eq!(value_of("NOTE"), Some(vec![note.clone()]));
        }
        if let Some(street) = card.address.as_ref().and_then(|a| a.street.clone()) {
            proptest::prop_assert_eq!(&value_of("ADR").unwrap()[2], &street);
        }
    }
}
