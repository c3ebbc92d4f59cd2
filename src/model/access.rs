//! Who may call the API: members, their roles per team, and their API credentials.

use std::collections::BTreeMap;

use serde::{Deserialize, Serialize};

#[derive(Debug, Clone, Copy, PartialEq, Eq, PartialOrd, Ord, Serialize, Deserialize)]
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
    pub email: String,
    pub teams: BTreeMap<String, Role>,
    pub paused: bool,
    pub created_at: i64,
}

/// An API credential (client id + secret) acting for a member. Only the secret's hash is kept.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
#[serde(rename_all = "camelCase")]
pub struct Credential {
    pub client_id: String,
    /// Hex SHA-256 of the secret.
    pub secret_sha256: String,
    pub member_id: String,
    pub created_at: i64,
}
