//! One code as the edge answers it, compiled once when the table is built: header values
//! checked, rules parsed, pages rendered. A plain redirect stays small; everything else a code
//! may ask for hangs off `extras`.

use std::sync::Arc;

use bytes::Bytes;
use hyper::header::HeaderValue;
use hyper::StatusCode;
use serde_json::{Map, Value};

use super::rules::Rules;
use crate::model::redirect::Behaviour;
use crate::model::{display_id_of, Qr, QrType, RouteRecord};

/// What a scan of the code gets when no rule or split picks a target.
#[derive(Debug, Clone)]
pub enum Answer {
    /// A redirect to the code's URL.
    Redirect(HeaderValue),
    /// A hosted page.
    Page(Arc<Page>),
}

/// A hosted page, rendered when the route was built.
#[derive(Debug)]
pub struct Page {
    pub html: Bytes,
    pub content_security_policy: HeaderValue,
    /// A file the page links to (a contact card), served at `/{displayId}/{file name}`.
    pub download: Option<Download>,
}

#[derive(Debug)]
pub struct Download {
    pub file_name: Box<str>,
    pub content_type: HeaderValue,
    pub body: Bytes,
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
    name: String,
    settings: Map<String, Value>,
    pub brand_colour: Option<String>,
}

/// What the edge needs to answer one code.
#[derive(Debug, Clone)]
pub struct Route {
    pub qr_id: Arc<str>,
    pub team_id: Arc<str>,
    pub display_id: Arc<str>,
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

    /// None (and a warning) when the record cannot be served; the API never stores such a one.
    pub fn from_record(key: &str, record: &RouteRecord) -> Option<Route> {
        match Route::compile(key, record) {
            Ok(route) => Some(route),
            Err(e) => {
                tracing::warn!(%key, error = %e, "skipping a route that cannot be served");
                None
            }
        }
    }

    fn compile(key: &str, record: &RouteRecord) -> Result<Route, String> {
        let behaviour = Behaviour::read(&record.settings)?;
        let header = |url: &str| HeaderValue::from_str(url).map_err(|e| format!("{url:?}: {e}"));
        let answer = if record.qr_type.is_redirect() {
            Answer::Redirect(header(&record.location)?)
        } else {
            return Err(format!(
                "{} codes are not served by this edge",
                record.qr_type.as_str()
            ));
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
            team_id: record.team_id.as_str().into(),
            display_id: display_id_of(key).into(),
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
            Answer::Page(_) => String::new(),
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

    pub fn is_expired(&self, now_ms: i64) -> bool {
        self.expires_at.is_some_and(|at| now_ms >= at)
    }
}
