//! Organizations and the teams inside them.

use std::collections::BTreeMap;

use serde::{Deserialize, Serialize};

fn utc() -> String {
    "UTC".into()
}

#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
#[serde(rename_all = "camelCase")]
pub struct Org {
    pub id: String,
    pub name: String,
    pub created_at: i64,
    /// What its teams may do: their request rate (`api.requests_per_minute`).
    #[serde(default)]
    pub plan: Plan,
}

/// An organization's subscription plan (the reference's; API access from Business Plus up).
#[derive(Debug, Clone, Copy, Default, PartialEq, Eq, Serialize, Deserialize)]
#[serde(rename_all = "snake_case")]
pub enum Plan {
    Free,
    Business,
    #[default]
    BusinessPlus,
    Enterprise,
}

#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
#[serde(rename_all = "camelCase")]
pub struct Team {
    pub id: String,
    pub org_id: String,
    pub name: String,
    /// The host codes are printed with when they name no `baseUrl`.
    pub default_domain: String,
    /// Hosts this team's codes may be printed with.
    pub domains: Vec<String>,
    /// IANA zone in which "today" and "yesterday" are counted.
    #[serde(default = "utc")]
    pub time_zone: String,
    /// `#rrggbb` accent of the team's hosted pages.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub primary_color: Option<String>,
    /// Per custom domain: where its root, unknown and expired codes send a visitor.
    #[serde(default, skip_serializing_if = "BTreeMap::is_empty")]
    pub domain_settings: BTreeMap<String, DomainSettings>,
    pub created_at: i64,
    pub created_by: String,
    pub updated_at: i64,
    pub updated_by: String,
    /// Counts the writes of the record (the store sets it; 0: stored before versions existed).
    #[serde(default)]
    pub version: u64,
}

/// What a custom domain answers besides its codes; None: a plain branded page.
#[derive(Debug, Clone, Default, PartialEq, Eq, Serialize, Deserialize, utoipa::ToSchema)]
#[serde(rename_all = "camelCase", deny_unknown_fields)]
pub struct DomainSettings {
    /// Where `https://domain/` redirects; None: 404 page.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub root_url: Option<String>,
    /// Where an unknown code redirects; None: 404 page.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub not_found_url: Option<String>,
    /// Where an expired code without its own `expiredUrl` redirects; None: 410 page.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub expired_url: Option<String>,
}

impl Team {
    /// The team's zone; UTC when it names none or one chrono-tz does not know.
    pub fn zone(&self) -> chrono_tz::Tz {
        self.time_zone.parse().unwrap_or(chrono_tz::Tz::UTC)
    }
}
