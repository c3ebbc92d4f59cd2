//! Who may call the API: members, their roles per team, and their API credentials.

use std::collections::{BTreeMap, BTreeSet};

use serde::{Deserialize, Serialize};

#[derive(
    Debug, Clone, Copy, PartialEq, Eq, PartialOrd, Ord, Serialize, Deserialize, utoipa::ToSchema,
)]
#[serde(rename_all = "lowercase")]
pub enum Role {
    Viewer,
    Editor,
    Admin,
    Owner,
}

impl Role {
    /// Editors and above create and change codes.
    pub fn can_write_codes(self) -> bool {
        self >= Role::Editor
    }
}

/// A person in an organization, with a role in each team they belong to.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
#[serde(rename_all = "camelCase")]
pub struct Member {
    pub id: String,
    pub org_id: String,
    pub name: String,
    /// Lower case; unique within the organization.
    pub email: String,
    pub teams: BTreeMap<String, Role>,
    /// Paused everywhere (no API sets it; kept for records that have it).
    pub paused: bool,
    pub created_at: i64,
    /// Teams whose access is paused (`PUT /api/teams-api/{id}/members/pause`).
    #[serde(default, skip_serializing_if = "BTreeSet::is_empty")]
    pub paused_teams: BTreeSet<String>,
    /// When an admin added them as a new member (none: the first start's owner).
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub invited_at: Option<i64>,
}

impl Member {
    /// Whether they may act in `team_id`: a member of it, not paused there.
    pub fn is_active_in(&self, team_id: &str) -> bool {
        self.teams.contains_key(team_id) && !self.paused && !self.paused_teams.contains(team_id)
    }

    /// Whether they manage `team_id`: an admin (or the owner) there, not paused.
    pub fn manages(&self, team_id: &str) -> bool {
        self.is_active_in(team_id) && self.teams.get(team_id) >= Some(&Role::Admin)
    }

    /// The organization's owner: owner of some team (the role cannot be assigned, only had).
    pub fn is_owner(&self) -> bool {
        self.teams.values().any(|r| *r == Role::Owner)
    }
}

/// An API credential (client id + secret) acting for a member. Only the secret's hash is kept.
/// It is presented either as the reference's two headers or as `Authorization: Bearer
/// CLIENT_ID.SECRET`; an API key made through `/api/keys-api` is one with a name and scopes.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
#[serde(rename_all = "camelCase")]
pub struct Credential {
    pub client_id: String,
    /// Hex SHA-256 of the secret.
    pub secret_sha256: String,
    pub member_id: String,
    pub created_at: i64,
    #[serde(default)]
    pub name: String,
    /// What it may do, within its member's role; None: everything the role allows (the
    /// credential made at the first start).
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub scopes: Option<Vec<Scope>>,
}

impl Credential {
    /// Whether it may do what `needed` names (None: an endpoint no scope covers, which only
    /// an unscoped credential may call).
    pub fn allows(&self, needed: Option<Scope>) -> bool {
        match (&self.scopes, needed) {
            (None, _) => true,
            (Some(scopes), Some(needed)) => scopes.iter().any(|s| s.covers(needed)),
            (Some(_), None) => false,
        }
    }
}

/// What an API key may do in one area of the API. Writing an area includes reading it.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash, Serialize, Deserialize, utoipa::ToSchema)]
pub enum Scope {
    #[serde(rename = "codes:read")]
    CodesRead,
    #[serde(rename = "codes:write")]
    CodesWrite,
    #[serde(rename = "analytics:read")]
    AnalyticsRead,
    #[serde(rename = "teams:read")]
    TeamsRead,
    /// Teams, their domains and members.
    #[serde(rename = "teams:write")]
    TeamsWrite,
    /// Creating and revoking API keys.
    #[serde(rename = "keys:write")]
    KeysWrite,
}

impl Scope {
    pub const ALL: [Scope; 6] = [
        Scope::CodesRead,
        Scope::CodesWrite,
        Scope::AnalyticsRead,
        Scope::TeamsRead,
        Scope::TeamsWrite,
        Scope::KeysWrite,
    ];

    pub fn as_str(self) -> &'static str {
        match self {
            Scope::CodesRead => "codes:read",
            Scope::CodesWrite => "codes:write",
            Scope::AnalyticsRead => "analytics:read",
            Scope::TeamsRead => "teams:read",
            Scope::TeamsWrite => "teams:write",
            Scope::KeysWrite => "keys:write",
        }
    }

    fn covers(self, needed: Scope) -> bool {
        self == needed
            || matches!(
                (self, needed),
                (Scope::CodesWrite, Scope::CodesRead) | (Scope::TeamsWrite, Scope::TeamsRead)
            )
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn key(scopes: Option<Vec<Scope>>) -> Credential {
        Credential {
            client_id: "cli_1".into(),
            secret_sha256: String::new(),
            member_id: "mem_1".into(),
            created_at: 0,
            name: String::new(),
            scopes,
        }
    }

    #[test]
    fn writing_an_area_includes_reading_it_and_nothing_else() {
        let writer = key(Some(vec![Scope::CodesWrite]));
        assert!(writer.allows(Some(Scope::CodesRead)) && writer.allows(Some(Scope::CodesWrite)));
        assert!(!writer.allows(Some(Scope::AnalyticsRead)));
        assert!(!writer.allows(None), "an endpoint no scope names");
        let reader = key(Some(vec![Scope::CodesRead, Scope::TeamsRead]));
        assert!(!reader.allows(Some(Scope::CodesWrite)));
        assert!(!reader.allows(Some(Scope::TeamsWrite)));
        assert!(key(None).allows(Some(Scope::KeysWrite)) && key(None).allows(None));
        let parsed: Vec<Scope> = serde_json::from_str(r#"["codes:read", "keys:write"]"#).unwrap();
        assert_eq!(parsed, [Scope::CodesRead, Scope::KeysWrite]);
        assert!(serde_json::from_str::<Scope>(r#""codes:admin""#).is_err());
    }
}
