//! What the edge needs to answer one code, in the compact form the production store keeps for
//! every servable code (so an edge can load a million of them quickly).

use serde::{Deserialize, Serialize};

use super::Qr;

#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct RouteRecord {
    /// The code's id.
    #[serde(rename = "q")]
    pub qr_id: String,
    #[serde(rename = "t")]
    pub team_id: String,
    /// The redirect target (validated when the code was saved).
    #[serde(rename = "u")]
    pub location: String,
    #[serde(rename = "e", default, skip_serializing_if = "Option::is_none")]
    pub expires_at: Option<i64>,
}

impl RouteRecord {
    /// The route of a code the edge can serve: live, of a redirect type, with a target.
    pub fn for_qr(qr: &Qr) -> Option<RouteRecord> {
        if qr.deleted || !qr.qr_type.is_redirect() {
            return None;
        }
        Some(RouteRecord {
            qr_id: qr.id.clone(),
            team_id: qr.team_id.clone(),
            location: qr.qr_redirect_url.clone()?,
            expires_at: qr.expiry_date,
        })
    }
}
