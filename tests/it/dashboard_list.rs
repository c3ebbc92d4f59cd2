//! The codes list's type and tag filters in a real browser, on both stores
//! (`tests/it/browser/codes_list.py`): filtered by type and tag, the list shows only the
//! matching codes and their count, keeps the filters (and the sort) on the next page, and a
//! link clears them.

use reqwest::Method;
use serde_json::{json, Value};

use crate::dashboard::{api_args, bootstrap_link, browse, on};
use crate::support::topology::Topology;
use crate::support::Server;

/// 22 short links tagged "Promo" (more than a page of 20), and codes that miss one filter or
/// the other: web codes tagged "Promo", short links tagged "promo" (another tag) or none.
fn setup(server: &Server) {
    let mut items: Vec<Value> = (0..22)
        .map(|n| code("SHORT_LINK", &format!("Promo link {n:02}"), &["Promo"]))
        .collect();
    items.push(code("WEB", "A web promo", &["Promo"]));
    items.push(code("SHORT_LINK", "A lowercase promo", &["promo"]));
    items.push(code("SHORT_LINK", "A plain link", &[]));
    let (status, body) = server.call(Method::POST, "/api/qrs-api/bulk", Some(json!(items)));
    assert_eq!(status, 201, "{body}");
}

fn code(qr_type: &str, name: &str, tags: &[&str]) -> Value {
    json!({"qrType": qr_type, "name": name, "tags": tags,
           "qrRedirectUrl": "https://example.com/promo"})
}

fn filters(server: &Server) {
    setup(server);
    let mut args = api_args(server);
    args["signInUrl"] = on(server, &bootstrap_link(server)).into();
    let seen = browse("codes_list.py", &args);

    let promo_links: Vec<String> = (0..22).map(|n| format!("Promo link {n:02}")).collect();
    assert_eq!(seen["firstCaption"], "22 codes", "{seen}");
    assert_eq!(seen["firstNames"], json!(promo_links[..20]));
    assert_eq!(
        seen["active"],
        "Showing only codes with type SHORT_LINK and tag Promo. Clear filters"
    );
    assert_eq!(seen["secondCaption"], "22 codes");
    assert_eq!(seen["secondNames"], json!(promo_links[20..]));
    assert_eq!(seen["kept"], json!(["SHORT_LINK", "Promo", "name"]));
    assert_eq!(seen["clearedCaption"], "25 codes");
    assert_eq!(
        seen["clearedFirst"], "A lowercase promo",
        "the sort is kept"
    );
    let cleared = seen["clearedUrl"].as_str().unwrap();
    assert!(
        !cleared.contains("qrType") && !cleared.contains("tag="),
        "{cleared}"
    );
}

#[test]
fn the_codes_list_filters_by_type_and_tag_embedded() {
    let (_tmp, dir) = crate::support::data_dir();
    filters(&Server::start(&dir));
}

#[test]
fn the_codes_list_filters_by_type_and_tag_on_redis() {
    let topology = Topology::new();
    filters(&topology.start("serve", "serve"));
}
