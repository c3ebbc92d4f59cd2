//! What the edge needs to answer one code, in the compact form the production store keeps for
//! every servable code (so an edge can load a million of them quickly), and the key it is kept
//! under: each custom domain has its own code space.

use serde::{Deserialize, Serialize};
use serde_json::{Map, Value};

use super::{Qr, QrType};

/// The key of a code's route: `displayId` on the platform's own domain, `domain/displayId` on a
/// custom domain (neither a domain nor a displayId can hold a '/').
pub fn route_key(domain: Option<&str>, display_id: &str) -> String {
    match domain {
        Some(domain) => format!("{domain}/{display_id}"),
        None => display_id.to_owned(),
    }
}

/// The displayId part of a route key.
pub fn display_id_of(key: &str) -> &str {
    key.rsplit_once('/').map_or(key, |(_, id)| id)
}

fn is_web(t: &QrType) -> bool {
    *t == QrType::Web
}

#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
pub struct RouteRecord {
    /// The code's id.
    #[serde(rename = "q")]
    pub qr_id: String,
    #[serde(rename = "t")]
    pub team_id: String,
    /// The redirect target (validated when the code was saved); empty for hosted types.
    #[serde(rename = "u", default)]
    pub location: String,
    #[serde(rename = "e", default, skip_serializing_if = "Option::is_none")]
    pub expires_at: Option<i64>,
    #[serde(rename = "k", default = "web", skip_serializing_if = "is_web")]
    pub qr_type: QrType,
    /// The code's name: the title of its hosted page.
    #[serde(rename = "n", default, skip_serializing_if = "String::is_empty")]
    pub name: String,
    /// The code's settings: its type's content and its redirect behaviour.
    #[serde(rename = "s", default, skip_serializing_if = "Map::is_empty")]
    pub settings: Map<String, Value>,
    /// The team's colour for hosted pages.
    #[serde(rename = "c", default, skip_serializing_if = "Option::is_none")]
    pub brand_colour: Option<String>,
}

fn web() -> QrType {
    QrType::Web
}

impl RouteRecord {
    /// The route of a code the edge can serve (None when deleted). `brand_colour` is the team's.
    pub fn for_qr(qr: &Qr, brand_colour: Option<&str>) -> Option<RouteRecord> {
        if qr.deleted {
            return None;
        }
        let redirect = qr.qr_type.is_redirect();
        Some(RouteRecord {
            qr_id: qr.id.clone(),
            team_id: qr.team_id.clone(),
            location: qr.qr_redirect_url.clone().unwrap_or_default(),
            expires_at: qr.expiry_date,
            qr_type: qr.qr_type,
            // Plain redirects never show their name: not copied into a million routes.
            name: if redirect {
                String::new()
            } else {
                qr.name.clone()
            },
            settings: qr.settings.clone(),
            brand_colour: (!redirect)
                .then(|| brand_colour.map(str::to_owned))
                .flatten(),
        })
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn keys_separate_domains_and_give_back_the_display_id() {
        assert_eq!(route_key(None, "abc"), "abc");
        let key = route_key(Some("qr.acme.example"), "abc");
        assert_eq!(key, "qr.acme.example/abc");
        assert_eq!(display_id_of(&key), "abc");
        assert_eq!(display_id_of("abc"), "abc");
    }

    #[test]
    fn a_plain_web_route_stays_compact_and_old_records_still_read() {
        let qr = Qr::web("qr_1", "team_1", "a", "https://a.example/");
        let record = RouteRecord::for_qr(&qr, Some("#123456")).unwrap();
        let json = serde_json::to_string(&record).unwrap();
        assert_eq!(
            json,
            r#"{"q":"qr_1","t":"team_1","u":"https://a.example/"}"#
        );
        let old: RouteRecord = serde_json::from_str(&json).unwrap();
        assert_eq!(old, record);
    }
}
