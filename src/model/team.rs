//! Organizations and the teams inside them.

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
    pub created_at: i64,
    pub created_by: String,
    pub updated_at: i64,
    pub updated_by: String,
}

impl Team {
    /// The team's zone; UTC when it names none or one chrono-tz does not know.
    pub fn zone(&self) -> chrono_tz::Tz {
        self.time_zone.parse().unwrap_or(chrono_tz::Tz::UTC)
    }
}
