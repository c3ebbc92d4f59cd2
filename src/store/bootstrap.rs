//! The first start: an organization, a team and an owner credential, shown once.

use std::collections::BTreeMap;
use std::io::Write;
use std::path::Path;

use serde::Serialize;
use sha2::{Digest, Sha256};

use super::{EmbeddedStore, StoreError, BOOTSTRAP_FILE};
use crate::clock::now_ms;
use crate::ids::{new_id, new_secret};
use crate::model::{Credential, Member, Org, Role, Team};

/// What `bootstrap.json` holds; the secret exists nowhere else in clear.
#[derive(Debug, Clone, Serialize)]
#[serde(rename_all = "camelCase")]
pub struct Bootstrap {
    pub org_id: String,
    pub team_id: String,
    pub client_id: String,
    pub client_secret: String,
    /// The owner, whom the first dashboard sign-in link is for (not written to the file).
    #[serde(skip)]
    pub member_id: String,
}

/// Hex SHA-256 of a client secret, as credentials store it.
pub fn hash_secret(secret: &str) -> String {
    hex::encode(Sha256::digest(secret.as_bytes()))
}

/// The first organization with its team, owner member and credential, and what to show once.
pub struct FirstOwner {
    pub org: Org,
    pub team: Team,
    pub member: Member,
    pub credential: Credential,
    pub bootstrap: Bootstrap,
}

impl FirstOwner {
    pub fn new(default_domain: &str) -> Self {
        let now = now_ms();
        let org = Org {
            id: new_id("org"),
            name: "Default organization".into(),
            created_at: now,
            plan: Default::default(),
        };
        let member_id = new_id("mem");
        let team = Team {
            version: crate::model::FIRST_VERSION,
            id: new_id("team"),
            org_id: org.id.clone(),
            name: "Default team".into(),
            default_domain: default_domain.into(),
            domains: vec![default_domain.into()],
            time_zone: "UTC".into(),
            primary_color: None,
            domain_settings: Default::default(),
            created_at: now,
            created_by: member_id.clone(),
            updated_at: now,
            updated_by: member_id.clone(),
        };
        let member = Member {
            version: crate::model::FIRST_VERSION,
            id: member_id,
            org_id: org.id.clone(),
            name: "Owner".into(),
            email: "owner@localhost".into(),
            teams: BTreeMap::from([(team.id.clone(), Role::Owner)]),
            paused: false,
            created_at: now,
            paused_teams: Default::default(),
            invited_at: None,
            password_hash: None,
        };
        let secret = new_secret();
        let credential = Credential {
            version: crate::model::FIRST_VERSION,
            client_id: new_id("cli"),
            secret_sha256: hash_secret(&secret),
            member_id: member.id.clone(),
            created_at: now,
            name: "bootstrap".into(),
            scopes: None,
            made_by: Some(member.id.clone()),
            binding: None,
        };
        let bootstrap = Bootstrap {
            org_id: org.id.clone(),
            team_id: team.id.clone(),
            client_id: credential.client_id.clone(),
            client_secret: secret,
            member_id: member.id.clone(),
        };
        Self {
            org,
            team,
            member,
            credential,
            bootstrap,
        }
    }

    /// Writes `bootstrap.json` (mode 0600) into `data_dir`, which must hold nothing of an
    /// earlier start ([`LostStore`](crate::data_dir::LostStore)): called when the store is empty,
    /// this is where a lost store is told from a first start, on either backend. Done *before*
    /// the records are committed (the other order could commit a credential whose secret nobody
    /// ever saw); a commit that then fails removes the file again. Never overwrites one.
    pub fn write_file(&self, data_dir: &Path) -> Result<(), StoreError> {
        crate::data_dir::create_private_dir(data_dir).map_err(StoreError::Io)?;
        crate::data_dir::refuse_if_used(data_dir).map_err(StoreError::Io)??;
        write_private_json(&data_dir.join(BOOTSTRAP_FILE), &self.bootstrap)
    }
}

impl EmbeddedStore {
    /// On an empty store, creates the first organization, team and owner credential and writes
    /// them to `data_dir/bootstrap.json` (mode 0600). Returns None when the store was set up.
    pub fn bootstrap_if_empty(
        &self,
        data_dir: &Path,
        default_domain: &str,
    ) -> Result<Option<Bootstrap>, StoreError> {
        if self.has_any_org()? {
            return Ok(None);
        }
        let first = FirstOwner::new(default_domain);
        first.write_file(data_dir)?;
        let committed =
            self.insert_org_with_owner(&first.org, &first.team, &first.member, &first.credential);
        if committed.is_err() {
            // Its credential was never stored: the next start writes another.
            let _ = std::fs::remove_file(data_dir.join(BOOTSTRAP_FILE));
        }
        committed?;
        Ok(Some(first.bootstrap))
    }
}

/// Adds the owner's one-time dashboard sign-in link to this start's `bootstrap.json` as
/// `signInUrl` (it is made once the owner is stored, after the file was written): the file is
/// written anew beside it and renamed over it, still readable by the owner only.
pub fn add_sign_in_url(data_dir: &Path, url: &str) -> Result<(), StoreError> {
    let path = data_dir.join(BOOTSTRAP_FILE);
    let text = fs_err::read(&path).map_err(StoreError::Io)?;
    let mut saved: serde_json::Map<String, serde_json::Value> =
        serde_json::from_slice(&text).map_err(|e| StoreError::Io(std::io::Error::other(e)))?;
    saved.insert("signInUrl".into(), url.into());
    let fresh = path.with_extension("json.new");
    let _ = std::fs::remove_file(&fresh);
    write_private_json(&fresh, &saved)?;
    fs_err::rename(&fresh, &path).map_err(StoreError::Io)
}

/// Writes `value` to `path` readable by the owner only, atomically (a temporary file, then a
/// hard link, which fails rather than replace a file already there).
fn write_private_json(path: &Path, value: &impl Serialize) -> Result<(), StoreError> {
    use fs_err::os::unix::fs::OpenOptionsExt;
    let tmp = path.with_extension("json.tmp");
    let mut file = fs_err::OpenOptions::new()
        .write(true)
        .create(true)
        .truncate(true)
        .mode(0o600)
        .open(&tmp)
        .map_err(StoreError::Io)?;
    let mut text = serde_json::to_vec_pretty(value).expect("bootstrap serialises");
    text.push(b'\n');
    file.write_all(&text).map_err(StoreError::Io)?;
    file.sync_all().map_err(StoreError::Io)?;
    let linked = fs_err::hard_link(&tmp, path);
    let _ = std::fs::remove_file(&tmp);
    linked.map_err(StoreError::Io)
}

#[cfg(test)]
mod tests {
    use super::*;
    use std::os::unix::fs::PermissionsExt;

    #[test]
    fn bootstrap_happens_once_and_keeps_only_a_hash() {
        let dir = tempfile::tempdir().unwrap();
        let store = EmbeddedStore::open(dir.path()).unwrap();
        let first = store
            .bootstrap_if_empty(dir.path(), "localhost:8080")
            .unwrap()
            .expect("an empty store bootstraps");
        let file = dir.path().join("bootstrap.json");
        let mode = std::fs::metadata(&file).unwrap().permissions().mode();
        assert_eq!(mode & 0o777, 0o600);
        let saved: serde_json::Value =
            serde_json::from_slice(&std::fs::read(&file).unwrap()).unwrap();
        assert_eq!(saved["clientSecret"], first.client_secret.as_str());
        assert_eq!(saved["teamId"], first.team_id.as_str());

        let credential = store.credential(&first.client_id).unwrap().unwrap();
        assert_eq!(credential.secret_sha256, hash_secret(&first.client_secret));
        assert_ne!(credential.secret_sha256, first.client_secret);

        assert!(store
            .bootstrap_if_empty(dir.path(), "localhost:8080")
            .unwrap()
            .is_none());
    }

    #[test]
    fn an_empty_store_beside_an_earlier_bootstrap_is_refused_and_the_file_kept() {
        let dir = tempfile::tempdir().unwrap();
        let file = dir.path().join(BOOTSTRAP_FILE);
        std::fs::write(&file, b"{\"orgId\": \"org_earlier\"}").unwrap();
        let store = EmbeddedStore::open(dir.path()).unwrap();
        let refused = store
            .bootstrap_if_empty(dir.path(), "localhost:8080")
            .unwrap_err();
        assert!(matches!(refused, StoreError::LostStore(_)), "{refused}");
        assert!(refused.to_string().contains("bootstrap.json"), "{refused}");
        assert_eq!(
            std::fs::read(&file).unwrap(),
            b"{\"orgId\": \"org_earlier\"}"
        );
        assert!(!store.is_set_up().unwrap());
    }
}
