//! One code as the edge answers it, compiled once when the table is built: header values
//! checked, rules parsed, pages rendered. A plain redirect stays small; everything else a code
//! may ask for hangs off `extras`.

use std::collections::HashSet;
use std::sync::{Arc, LazyLock, Mutex};

use bytestring::ByteString;

use hyper::header::HeaderValue;
use hyper::StatusCode;
use serde_json::{Map, Value};

use super::pages::Page;
use super::rules::Rules;
use crate::hosted::{self, AppDownload, Content, MultiLocale, PageContext};
use crate::model::redirect::{split_settings, Behaviour};
use crate::model::{display_id_of, Qr, QrType, RouteRecord};

/// What a scan of the code gets when no rule or split picks a target.
#[derive(Debug, Clone)]
pub enum Answer {
    /// A redirect to the code's URL.
    Redirect(HeaderValue),
    /// A redirect to the URL of the visitor's language.
    Locale(Arc<MultiLocale>),
    /// The visitor's app store; for other platforms the fallback URL or the store-buttons page.
    App(Arc<AppDownload>, Option<Arc<Page>>),
    /// A hosted page.
    Page(Arc<Page>),
}

/// Everything beyond a plain redirect.
#[derive(Debug)]
pub struct Extras {
    pub rules: Rules,
    pub expired_url: Option<HeaderValue>,
    pub max_scans: Option<u64>,
    pub max_scans_url: Option<HeaderValue>,
    pub password_hash: Option<Box<str>>,
    /// The record's fields a plain route does not keep, for the snapshot.
    qr_type: QrType,
    pub name: String,
    settings: Map<String, Value>,
    pub brand_colour: Option<String>,
}

/// Routes the edge could not compile and does not serve (see `Route::from_record`).
pub const UNSERVABLE: &str = "qredge_edge_unservable_routes_total";

/// Every team id the edge has seen, so that all the routes of a team share one allocation of it
/// (a million codes of one team held a million copies). Teams are few; the set only grows.
static TEAM_IDS: LazyLock<Mutex<HashSet<ByteString>>> = LazyLock::new(Default::default);

pub fn shared_team_id(team_id: &str) -> ByteString {
    let mut ids = TEAM_IDS.lock().unwrap_or_else(|e| e.into_inner());
    if let Some(id) = ids.get(team_id) {
        return id.clone();
    }
    let id = ByteString::from(team_id);
    ids.insert(id.clone());
    id
}

/// What the edge needs to answer one code.
#[derive(Debug, Clone)]
pub struct Route {
    /// Shared text (a slice of the packed table's buffer, or of their own): a scan takes them
    /// with a reference count.
    pub qr_id: ByteString,
    pub team_id: ByteString,
    pub display_id: ByteString,
    pub expires_at: Option<i64>,
    pub answer: Answer,
    pub status: StatusCode,
    /// Append the scan's query string to redirect targets.
    pub forward_query: bool,
    pub extras: Option<Arc<Extras>>,
}

impl Route {
    /// The route of a live code (None when deleted or not servable). `brand_colour`: its team's.
    pub fn for_qr(qr: &Qr, brand_colour: Option<&str>) -> Option<Route> {
        Route::from_record(&qr.route_key(), &RouteRecord::for_qr(qr, brand_colour)?)
    }

    /// None (a warning, and `qredge_edge_unservable_routes_total`) when the record cannot be
    /// served. The write path refuses such a code ([`Route::check`]): what still gets here was
    /// written some other way (an earlier version, or by hand).
    pub fn from_record(key: &str, record: &RouteRecord) -> Option<Route> {
        match Route::compile(key, record) {
            Ok(route) => Some(route),
            Err(e) => {
                metrics::counter!(UNSERVABLE).increment(1);
                tracing::warn!(%key, error = %e, "skipping a route that cannot be served");
                None
            }
        }
    }

    /// Whether the edge can answer `qr` as it would be stored: every write of a code checks this,
    /// so that a code is refused when it is written rather than dropped when an edge loads it.
    /// `brand_colour`: its team's.
    pub fn check(qr: &Qr, brand_colour: Option<&str>) -> Result<(), String> {
        match RouteRecord::for_qr(qr, brand_colour) {
            Some(record) => Route::compile(&qr.route_key(), &record)
                .map(drop)
                .map_err(|e| format!("the edge cannot serve this code: {e}")),
            None => Ok(()),
        }
    }

    fn compile(key: &str, record: &RouteRecord) -> Result<Route, String> {
        let (behaviour, content) = split_settings(&record.settings);
        let behaviour = Behaviour::read(&behaviour)?;
        let header = |url: &str| HeaderValue::from_str(url).map_err(|e| format!("{url:?}: {e}"));
        let display_id = display_id_of(key);
        let context = PageContext {
            display_id,
            title: &record.name,
            brand_colour: record.brand_colour.as_deref(),
            protected: behaviour.password_hash.is_some(),
        };
        let page = |content: &Content| -> Result<Option<Arc<Page>>, String> {
            hosted::render(content, &context)
                .map(|hosted| Page::new(hosted).map(Arc::new))
                .transpose()
        };
        let answer = match hosted::parse(record.qr_type, &content)? {
            Content::Redirect => Answer::Redirect(header(&record.location)?),
            Content::MultiLocale(locales) => Answer::Locale(Arc::new(locales)),
            Content::AppDownload(app) => {
                let fallback = page(&Content::AppDownload(app.clone()))?;
                Answer::App(Arc::new(app), fallback)
            }
            other => Answer::Page(page(&other)?.ok_or("a hosted type renders a page")?),
        };
        let status = match behaviour.redirect_status {
            Some(code) => StatusCode::from_u16(code).map_err(|e| e.to_string())?,
            None => StatusCode::FOUND,
        };
        let plain = behaviour.is_plain() && record.qr_type == QrType::Web;
        let extras = if plain {
            None
        } else {
            let optional = |url: &Option<String>| url.as_deref().map(header).transpose();
            Some(Arc::new(Extras {
                rules: Rules::compile(&behaviour, &record.qr_id)?,
                expired_url: optional(&behaviour.expired_url)?,
                max_scans: behaviour.max_scans,
                max_scans_url: optional(&behaviour.max_scans_url)?,
                password_hash: behaviour.password_hash.map(String::into_boxed_str),
                qr_type: record.qr_type,
                name: record.name.clone(),
                settings: record.settings.clone(),
                brand_colour: record.brand_colour.clone(),
            }))
        };
        Ok(Route {
            qr_id: record.qr_id.as_str().into(),
            team_id: shared_team_id(&record.team_id),
            display_id: display_id.into(),
            expires_at: record.expires_at,
            answer,
            status,
            forward_query: behaviour.forward_query,
            extras,
        })
    }

    /// The stored form of this route (for the edge's local snapshot).
    pub fn record(&self) -> RouteRecord {
        let location = match &self.answer {
            Answer::Redirect(location) => String::from_utf8_lossy(location.as_bytes()).into(),
            _ => String::new(),
        };
        let mut record = RouteRecord {
            qr_id: self.qr_id.to_string(),
            team_id: self.team_id.to_string(),
            location,
            expires_at: self.expires_at,
            qr_type: QrType::Web,
            name: String::new(),
            settings: Map::new(),
            brand_colour: None,
        };
        if let Some(extras) = &self.extras {
            record.qr_type = extras.qr_type;
            record.name = extras.name.clone();
            record.settings = extras.settings.clone();
            record.brand_colour = extras.brand_colour.clone();
        }
        record
    }

    /// The redirect target of a plain redirect (no rules, limits, fallbacks, password or page):
    /// all such a code needs is its ids, this and its status.
    pub fn plain_location(&self) -> Option<&HeaderValue> {
        match (&self.answer, &self.extras) {
            (Answer::Redirect(location), None) => Some(location),
            _ => None,
        }
    }

    /// The password hash of a protected code.
    pub fn password_hash(&self) -> Option<&str> {
        self.extras.as_ref()?.password_hash.as_deref()
    }

    pub fn is_expired(&self, now_ms: i64) -> bool {
        self.expires_at.is_some_and(|at| now_ms >= at)
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn a_route_comes_back_whole_from_its_record() {
        let mut qr = Qr::web("qr_1", "team_1", "a", "https://a.example/");
        qr.settings.insert("forwardQuery".into(), false.into());
        let route = Route::for_qr(&qr, None).unwrap();
        assert!(!route.forward_query);
        let again = Route::from_record("a", &route.record()).unwrap();
        assert!(!again.forward_query, "the snapshot keeps forwardQuery");
        assert_eq!(again.record(), route.record());
    }

    #[test]
    fn a_code_the_edge_cannot_compile_fails_the_check_with_the_reason() {
        let mut qr = Qr::web("qr_1", "team_1", "a", "https://a.example/");
        assert_eq!(Route::check(&qr, None), Ok(()));
        qr.settings.insert("links".into(), serde_json::json!([]));
        let refused = Route::check(&qr, None).unwrap_err();
        assert!(refused.contains("settings.links"), "{refused}");
        assert!(Route::for_qr(&qr, None).is_none(), "the edge drops it");
    }
}
