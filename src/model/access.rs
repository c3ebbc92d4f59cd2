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
    /// The argon2 hash (PHC string) of their dashboard password, once they set one. Never
    /// shown: the API answers with its own views of a member.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub password_hash: Option<String>,
    /// Counts the writes of the record (the store sets it; 0: stored before versions existed).
    #[serde(default)]
    pub version: u64,
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

    /// Whether they may act in at least one of their teams.
    pub fn is_active_anywhere(&self) -> bool {
        self.teams.keys().any(|team| self.is_active_in(team))
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
    /// The member who made it. None: a credential of an earlier version, which is taken for its
    /// member's own (as the first start's is).
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub made_by: Option<String>,
    /// Set when the key rests on someone else's rights: the teams it may act in. None: the
    /// member's own key, acting in all their teams.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub binding: Option<Binding>,
    /// Counts the writes of the record (the store sets it; 0: stored before versions existed).
    #[serde(default)]
    pub version: u64,
}

/// What a key made for a member by someone else may reach: the teams where, when it was made,
/// `granted_by` was an admin or the owner and the member was a member. It acts in one of them
/// only while both still hold; the store drops a team from it when the member leaves that team,
/// and deletes the key with the last one.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
#[serde(rename_all = "camelCase")]
pub struct Binding {
    /// The member whose rights the key rests on (an admin who made it for someone).
    pub granted_by: String,
    pub teams: BTreeSet<String>,
}

impl Credential {
    /// The teams it acts in now, each with the holder's current role: all the holder's for their
    /// own key; for a bound key, those of its teams where the holder still is and the granter
    /// (their current record, None when deleted) still manages.
    pub fn reach(&self, holder: &Member, granter: Option<&Member>) -> BTreeMap<String, Role> {
        let Some(binding) = &self.binding else {
            return holder.teams.clone();
        };
        let granter_manages = |team: &str| granter.is_some_and(|g| g.manages(team));
        holder
            .teams
            .iter()
            .filter(|(team, _)| binding.teams.contains(*team) && granter_manages(team))
            .map(|(team, role)| (team.clone(), *role))
            .collect()
    }

    /// Whether a caller with this credential may see (list, revoke) `other`, a key of the same
    /// member: any with the member's own key; with a bound key only keys bound within its teams.
    pub fn sees(&self, other: &Credential) -> bool {
        match (&self.binding, &other.binding) {
            (None, _) => true,
            (Some(mine), Some(theirs)) => theirs.teams.is_subset(&mine.teams),
            (Some(_), None) => false,
        }
    }

    /// Keeps the binding's teams that `holder` is still a member of. Whether anything is left:
    /// a bound key with no team left is to be deleted. The stores call it on every membership
    /// change, in the same write.
    pub fn follow_membership(&mut self, holder: &Member) -> bool {
        match &mut self.binding {
            None => true,
            Some(binding) => {
                binding.teams.retain(|team| holder.teams.contains_key(team));
                !binding.teams.is_empty()
            }
        }
    }

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
            version: crate::model::FIRST_VERSION,
            client_id: "cli_1".into(),
            secret_sha256: String::new(),
            member_id: "mem_1".into(),
            created_at: 0,
            name: String::new(),
            scopes,
            made_by: None,
            binding: None,
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

    fn member(id: &str, teams: &[(&str, Role)]) -> Member {
        Member {
            version: crate::model::FIRST_VERSION,
            id: id.into(),
            org_id: "org_1".into(),
            name: id.into(),
            email: format!("{id}@example.com"),
            teams: teams.iter().map(|(t, r)| (t.to_string(), *r)).collect(),
            paused: false,
            created_at: 0,
            paused_teams: Default::default(),
            invited_at: None,
            password_hash: None,
        }
    }

    fn bound(by: &str, teams: &[&str]) -> Credential {
        Credential {
            binding: Some(Binding {
                granted_by: by.into(),
                teams: teams.iter().map(|t| t.to_string()).collect(),
            }),
            ..key(Some(vec![Scope::CodesRead]))
        }
    }

    #[test]
    fn an_own_key_follows_its_member_and_a_bound_key_its_teams_and_granter() {
        let holder = member(
            "mem_1",
            &[("team_a", Role::Editor), ("team_b", Role::Viewer)],
        );
        assert_eq!(
            key(None).reach(&holder, None),
            holder.teams,
            "own: every team"
        );

        let admin_of_b = member("mem_adm", &[("team_b", Role::Admin)]);
        let key_from_b = bound("mem_adm", &["team_b"]);
        let reach = key_from_b.reach(&holder, Some(&admin_of_b));
        assert_eq!(reach, BTreeMap::from([("team_b".into(), Role::Viewer)]));
        assert!(
            key_from_b.reach(&holder, None).is_empty(),
            "granter deleted: nowhere"
        );
        let demoted = member("mem_adm", &[("team_b", Role::Editor)]);
        assert!(key_from_b.reach(&holder, Some(&demoted)).is_empty());
        let mut paused = admin_of_b.clone();
        paused.paused_teams.insert("team_b".into());
        assert!(key_from_b.reach(&holder, Some(&paused)).is_empty());
        let promoted = member(
            "mem_1",
            &[("team_a", Role::Editor), ("team_b", Role::Admin)],
        );
        assert_eq!(
            key_from_b.reach(&promoted, Some(&admin_of_b))["team_b"],
            Role::Admin,
            "the holder's role of the moment"
        );
    }

    #[test]
    fn a_bound_key_loses_the_teams_its_member_leaves_and_sees_only_keys_within_its_own() {
        let mut key_from_b = bound("mem_adm", &["team_a", "team_b"]);
        let holder = member(
            "mem_1",
            &[("team_b", Role::Viewer), ("team_c", Role::Viewer)],
        );
        assert!(key_from_b.follow_membership(&holder));
        assert_eq!(key_from_b, bound("mem_adm", &["team_b"]));
        let gone = member("mem_1", &[("team_c", Role::Viewer)]);
        assert!(
            !key_from_b.follow_membership(&gone),
            "no team left: deleted"
        );
        let mut own = key(None);
        assert!(own.follow_membership(&gone) && own.binding.is_none());

        let wide = bound("mem_adm", &["team_a", "team_b"]);
        assert!(wide.sees(&bound("mem_other", &["team_b"])));
        assert!(!bound("mem_adm", &["team_b"]).sees(&wide));
        assert!(!wide.sees(&key(None)), "not the member's own keys");
        assert!(key(None).sees(&wide));
        let old: Credential = serde_json::from_str(
            r#"{"clientId":"cli_1","secretSha256":"","memberId":"mem_1","createdAt":0}"#,
        )
        .unwrap();
        assert_eq!(
            (old.made_by, old.binding),
            (None, None),
            "an earlier version's: own"
        );
    }
}
