//! Organizations, teams, members and credentials.

use redb::ReadableDatabase;

use super::edit::{apply, as_new, Check, Edit};
use super::Release;
use super::{
    decode_record, encode, EmbeddedStore, StoreError, CREDENTIALS, DISPLAY_IDS, DOMAINS, MEMBERS,
    ORGS, QRS, TEAMS,
};
use crate::model::{Credential, Member, Org, Qr, Role, Team};

impl EmbeddedStore {
    pub fn org(&self, id: &str) -> Result<Option<Org>, StoreError> {
        self.get_json(ORGS, id)
    }

    pub fn team(&self, id: &str) -> Result<Option<Team>, StoreError> {
        self.get_json(TEAMS, id)
    }

    pub fn member(&self, id: &str) -> Result<Option<Member>, StoreError> {
        self.get_json(MEMBERS, id)
    }

    pub fn credential(&self, client_id: &str) -> Result<Option<Credential>, StoreError> {
        self.get_json(CREDENTIALS, client_id)
    }

    /// Stores a new credential (its client id is fresh and random) of a member who exists at
    /// this write (a deletion that got in first is not undone). A bound key keeps only the teams
    /// its member is in then; NotFound when none is left or the member is gone.
    pub fn insert_credential(&self, credential: &Credential) -> Result<(), StoreError> {
        use redb::ReadableTable;
        let txn = self.db.begin_write()?;
        {
            let mut credential = credential.clone();
            let members = txn.open_table(MEMBERS)?;
            let holder: Member = match members.get(credential.member_id.as_str())? {
                Some(bytes) => decode_record(MEMBERS, &credential.member_id, bytes.value())?,
                None => return Err(StoreError::NotFound),
            };
            if !credential.follow_membership(&holder) {
                return Err(StoreError::NotFound);
            }
            txn.open_table(CREDENTIALS)?.insert(
                credential.client_id.as_str(),
                encode(&*as_new(&credential)).as_slice(),
            )?;
        }
        txn.commit()?;
        Ok(())
    }

    /// A member's credentials, oldest first (members have a handful: read by a scan).
    pub fn member_credentials(&self, member_id: &str) -> Result<Vec<Credential>, StoreError> {
        let mut out: Vec<Credential> =
            self.scan(CREDENTIALS, |c: &Credential| c.member_id == member_id)?;
        out.sort_by(|a, b| (a.created_at, &a.client_id).cmp(&(b.created_at, &b.client_id)));
        Ok(out)
    }

    /// The organization's teams, oldest first (organizations have a handful: read by a scan).
    pub fn org_teams(&self, org_id: &str) -> Result<Vec<Team>, StoreError> {
        let mut teams: Vec<Team> = self.scan(TEAMS, |t: &Team| t.org_id == org_id)?;
        teams.sort_by(|a, b| (a.created_at, &a.id).cmp(&(b.created_at, &b.id)));
        Ok(teams)
    }

    /// The organization's members, oldest first.
    pub fn org_members(&self, org_id: &str) -> Result<Vec<Member>, StoreError> {
        let mut members: Vec<Member> = self.scan(MEMBERS, |m: &Member| m.org_id == org_id)?;
        members.sort_by(|a, b| (a.created_at, &a.id).cmp(&(b.created_at, &b.id)));
        Ok(members)
    }

    fn scan<T: serde::de::DeserializeOwned>(
        &self,
        table: redb::TableDefinition<&str, &[u8]>,
        keep: impl Fn(&T) -> bool,
    ) -> Result<Vec<T>, StoreError> {
        use redb::ReadableTable;
        let txn = self.db.begin_read()?;
        let mut out = Vec::new();
        for entry in txn.open_table(table)?.iter()? {
            let (key, bytes) = entry?;
            let value: T = decode_record(table, key.value(), bytes.value())?;
            if keep(&value) {
                out.push(value);
            }
        }
        Ok(out)
    }

    /// Stores a new team and gives each of `roles` (member id, role) their role in it, in one
    /// transaction; TeamLimit when its organization already has `limit` teams (counted inside
    /// the write, so that concurrent creates cannot pass the limit together).
    pub fn insert_team(
        &self,
        team: &Team,
        limit: Option<u64>,
        roles: &[(String, Role)],
    ) -> Result<(), StoreError> {
        use redb::ReadableTable;
        let txn = self.db.begin_write()?;
        {
            let mut teams = txn.open_table(TEAMS)?;
            if let Some(limit) = limit {
                let mut count = 0;
                for entry in teams.iter()? {
                    let (id, bytes) = entry?;
                    let other: Team = decode_record(TEAMS, id.value(), bytes.value())?;
                    count += u64::from(other.org_id == team.org_id);
                }
                if count >= limit {
                    return Err(StoreError::TeamLimit(limit));
                }
            }
            teams.insert(team.id.as_str(), encode(&*as_new(team)).as_slice())?;
            let mut members = txn.open_table(MEMBERS)?;
            for (member_id, role) in roles {
                let stored = members.get(member_id.as_str())?.map(|b| b.value().to_vec());
                if let Some(bytes) = stored {
                    let mut member: Member = decode_record(MEMBERS, member_id, &bytes)?;
                    member.teams.insert(team.id.clone(), *role);
                    member.version += 1;
                    members.insert(member_id.as_str(), encode(&member).as_slice())?;
                }
            }
        }
        txn.commit()?;
        Ok(())
    }

    /// Stores a new member: EmailTaken when a member of the organization has the email
    /// (checked inside the write transaction, so two concurrent additions of one person make one).
    pub fn insert_member(&self, member: &Member) -> Result<(), StoreError> {
        use redb::ReadableTable;
        let txn = self.db.begin_write()?;
        {
            let mut members = txn.open_table(MEMBERS)?;
            if members.get(member.id.as_str())?.is_some() {
                return Err(StoreError::EmailTaken(member.email.clone()));
            }
            write_member(&txn, &mut members, &as_new(member))?;
        }
        txn.commit()?;
        Ok(())
    }

    /// Applies `edit` to the stored member `id` inside one write transaction (NotFound: none);
    /// the member as stored after it. EmailTaken when it gives them another member's email. The
    /// same transaction narrows their bound keys to the teams they are still in and deletes those
    /// left with none (`Credential::follow_membership`).
    pub fn update_member(&self, id: &str, edit: &Edit<Member>) -> Result<Member, StoreError> {
        use redb::ReadableTable;
        let txn = self.db.begin_write()?;
        let member = {
            let mut members = txn.open_table(MEMBERS)?;
            let old: Member = match members.get(id)? {
                Some(bytes) => decode_record(MEMBERS, id, bytes.value())?,
                None => return Err(StoreError::NotFound),
            };
            let Some(member) = apply(&old, edit)? else {
                return Ok(old);
            };
            write_member(&txn, &mut members, &member)?;
            member
        };
        txn.commit()?;
        Ok(member)
    }

    /// Deletes the member `id` and every credential of theirs in one write transaction,
    /// `check`ed as stored there.
    pub fn delete_member(&self, id: &str, check: &Check<Member>) -> Result<Member, StoreError> {
        use redb::ReadableTable;
        let txn = self.db.begin_write()?;
        let member = {
            let mut members = txn.open_table(MEMBERS)?;
            let member: Member = match members.get(id)? {
                Some(bytes) => decode_record(MEMBERS, id, bytes.value())?,
                None => return Err(StoreError::NotFound),
            };
            check(&member)?;
            members.remove(id)?;
            let mut credentials = txn.open_table(CREDENTIALS)?;
            let mut theirs = Vec::new();
            for entry in credentials.iter()? {
                let (client_id, bytes) = entry?;
                let credential: Credential =
                    decode_record(CREDENTIALS, client_id.value(), bytes.value())?;
                if credential.member_id == id {
                    theirs.push(client_id.value().to_owned());
                }
            }
            for client_id in theirs {
                credentials.remove(client_id.as_str())?;
            }
            member
        };
        txn.commit()?;
        Ok(member)
    }

    /// Removes a credential in one write transaction, `check`ed as stored there.
    pub fn delete_credential(
        &self,
        client_id: &str,
        check: &Check<Credential>,
    ) -> Result<bool, StoreError> {
        use redb::ReadableTable;
        let txn = self.db.begin_write()?;
        {
            let mut credentials = txn.open_table(CREDENTIALS)?;
            let stored: Credential = match credentials.get(client_id)? {
                Some(bytes) => decode_record(CREDENTIALS, client_id, bytes.value())?,
                None => return Ok(false),
            };
            check(&stored)?;
            credentials.remove(client_id)?;
        }
        txn.commit()?;
        Ok(true)
    }

    /// Writes an organization with its first team, member and credential in one transaction.
    pub(super) fn insert_org_with_owner(
        &self,
        org: &Org,
        team: &Team,
        member: &Member,
        credential: &Credential,
    ) -> Result<(), StoreError> {
        let txn = self.db.begin_write()?;
        {
            txn.open_table(ORGS)?
                .insert(org.id.as_str(), encode(org).as_slice())?;
            txn.open_table(TEAMS)?
                .insert(team.id.as_str(), encode(team).as_slice())?;
            txn.open_table(MEMBERS)?
                .insert(member.id.as_str(), encode(member).as_slice())?;
            txn.open_table(CREDENTIALS)?
                .insert(credential.client_id.as_str(), encode(credential).as_slice())?;
        }
        txn.commit()?;
        Ok(())
    }

    /// Applies `edit` to the stored team `id` inside one write transaction (NotFound: none); the
    /// team as stored after it. Its custom domains (the keys of `domain_settings`) are claimed
    /// for it, DomainTaken when another team has one, and the ones it no longer lists are
    /// released (DomainInUse while live codes are on one).
    pub fn update_team(&self, id: &str, edit: &Edit<Team>) -> Result<Team, StoreError> {
        self.change_team(id, edit, Release::IfUnused)
    }

    /// `update_team`, releasing domains whatever codes are on them.
    pub fn update_team_releasing(&self, id: &str, edit: &Edit<Team>) -> Result<Team, StoreError> {
        self.change_team(id, edit, Release::Always)
    }

    fn change_team(
        &self,
        id: &str,
        edit: &Edit<Team>,
        release: Release,
    ) -> Result<Team, StoreError> {
        use redb::ReadableTable;
        let txn = self.db.begin_write()?;
        let team = {
            let mut teams = txn.open_table(TEAMS)?;
            let old: Team = match teams.get(id)? {
                Some(bytes) => decode_record(TEAMS, id, bytes.value())?,
                None => return Err(StoreError::NotFound),
            };
            let Some(team) = apply(&old, edit)? else {
                return Ok(old);
            };
            super::platform_claims::check_claims(&team)?;
            let mut domains = txn.open_table(DOMAINS)?;
            for domain in team.domain_settings.keys() {
                if let Some(owner) = domains.get(domain.as_str())? {
                    if owner.value() != team.id {
                        return Err(StoreError::DomainTaken(domain.clone()));
                    }
                }
            }
            for domain in team.domain_settings.keys() {
                domains.insert(domain.as_str(), team.id.as_str())?;
            }
            for released in old.domain_settings.keys() {
                if !team.domain_settings.contains_key(released) {
                    let live = match release {
                        Release::IfUnused => live_codes_on(&txn, released)?,
                        Release::Always => 0,
                    };
                    if live > 0 {
                        let domain = released.clone();
                        return Err(StoreError::DomainInUse { domain, live });
                    }
                    domains.remove(released.as_str())?;
                }
            }
            teams.insert(team.id.as_str(), encode(&team).as_slice())?;
            team
        };
        let change = super::Change::Team {
            team_id: team.id.clone(),
        };
        self.feed.append(&txn, change)?;
        txn.commit()?;
        self.feed.wake();
        Ok(team)
    }

    /// Every custom domain with the team that has it.
    pub fn custom_domains(&self) -> Result<Vec<(String, Team)>, StoreError> {
        use redb::ReadableTable;
        let txn = self.db.begin_read()?;
        let domains = txn.open_table(DOMAINS)?;
        let teams = txn.open_table(TEAMS)?;
        let mut out = Vec::new();
        for entry in domains.iter()? {
            let (domain, team_id) = entry?;
            if let Some(bytes) = teams.get(team_id.value())? {
                let team = decode_record(TEAMS, team_id.value(), bytes.value())?;
                out.push((domain.value().to_owned(), team));
            }
        }
        Ok(out)
    }

    pub(super) fn has_any_org(&self) -> Result<bool, StoreError> {
        use redb::ReadableTableMetadata;
        let txn = self.db.begin_read()?;
        Ok(!txn.open_table(ORGS)?.is_empty()?)
    }
}

/// How many live codes are on the custom domain `domain` (its route keys are `domain/…`),
/// counted inside the write that would release it, so that a code created meanwhile is seen.
fn live_codes_on(txn: &redb::WriteTransaction, domain: &str) -> Result<u64, StoreError> {
    use redb::ReadableTable;
    let (display_ids, qrs) = (txn.open_table(DISPLAY_IDS)?, txn.open_table(QRS)?);
    let prefix = format!("{domain}/");
    let mut live = 0;
    for entry in display_ids.range(prefix.as_str()..)? {
        let (key, id) = entry?;
        if !key.value().starts_with(&prefix) {
            break;
        }
        if let Some(bytes) = qrs.get(id.value())? {
            let qr: Qr = decode_record(QRS, id.value(), bytes.value())?;
            live += u64::from(!qr.deleted && qr.domain.as_deref() == Some(domain));
        }
    }
    Ok(live)
}

/// Writes `member` unless another member of the organization has the email (EmailTaken), and
/// makes their bound keys follow their teams.
fn write_member(
    txn: &redb::WriteTransaction,
    members: &mut redb::Table<&str, &[u8]>,
    member: &Member,
) -> Result<(), StoreError> {
    use redb::ReadableTable;
    for entry in members.iter()? {
        let (id, bytes) = entry?;
        let other: Member = decode_record(MEMBERS, id.value(), bytes.value())?;
        if other.org_id == member.org_id && other.email == member.email && other.id != member.id {
            return Err(StoreError::EmailTaken(member.email.clone()));
        }
    }
    members.insert(member.id.as_str(), encode(member).as_slice())?;
    follow_membership(&mut txn.open_table(CREDENTIALS)?, member)
}

/// Rewrites `member`'s bound keys to the teams they are still in (a write of the key: its version
/// moves), and deletes those left with none.
fn follow_membership(
    credentials: &mut redb::Table<&str, &[u8]>,
    member: &Member,
) -> Result<(), StoreError> {
    use redb::ReadableTable;
    let mut changed = Vec::new();
    for entry in credentials.iter()? {
        let (id, bytes) = entry?;
        let credential: Credential = decode_record(CREDENTIALS, id.value(), bytes.value())?;
        if credential.member_id == member.id && credential.binding.is_some() {
            let mut narrowed = credential.clone();
            let keep = narrowed.follow_membership(member);
            if narrowed != credential || !keep {
                narrowed.version += 1;
                changed.push((narrowed, keep));
            }
        }
    }
    for (credential, keep) in changed {
        let id = credential.client_id.as_str();
        if keep {
            credentials.insert(id, encode(&credential).as_slice())?;
        } else {
            credentials.remove(id)?;
        }
    }
    Ok(())
}

#[cfg(test)]
mod tests {
    use super::super::bootstrap::FirstOwner;
    use super::*;
    use crate::model::DomainSettings;

    #[test]
    fn a_custom_domain_belongs_to_one_team_until_released() {
        let dir = tempfile::tempdir().unwrap();
        let store = EmbeddedStore::open(dir.path()).unwrap();
        let (a, b) = (FirstOwner::new("localhost"), FirstOwner::new("localhost"));
        for owner in [&a, &b] {
            store
                .insert_org_with_owner(&owner.org, &owner.team, &owner.member, &owner.credential)
                .unwrap();
        }
        let with = |team: &Team, domains: &[&str]| {
            let mut team = team.clone();
            team.domain_settings = domains
                .iter()
                .map(|d| (d.to_string(), DomainSettings::default()))
                .collect();
            team
        };
        let update = |team: Team| {
            let id = team.id.clone();
            store.update_team(
                &id,
                &crate::store::edit(move |stored| {
                    *stored = team.clone();
                    Ok(())
                }),
            )
        };
        update(with(&a.team, &["qr.a.test"])).unwrap();
        let team_changed = crate::store::Change::Team {
            team_id: a.team.id.clone(),
        };
        assert_eq!(
            store.read_changes(0, 10).unwrap(),
            crate::store::FeedRead::Changes {
                changes: vec![team_changed],
                cursor: 1
            },
            "edges hear of the change"
        );
        assert!(matches!(
            update(with(&b.team, &["qr.a.test"])),
            Err(StoreError::DomainTaken(d)) if d == "qr.a.test"
        ));
        let owners: Vec<(String, String)> = store
            .custom_domains()
            .unwrap()
            .into_iter()
            .map(|(d, t)| (d, t.id))
            .collect();
        assert_eq!(owners, [("qr.a.test".to_string(), a.team.id.clone())]);

        update(with(&a.team, &[])).unwrap();
        update(with(&b.team, &["qr.a.test"])).unwrap();
        assert_eq!(store.custom_domains().unwrap()[0].1.id, b.team.id);

        // Claims are kept in one form: another spelling is no second claim.
        for spelling in ["QR.a.test", "qr.a.test.", "qr.a.test:443"] {
            assert!(matches!(
                update(with(&a.team, &[spelling])),
                Err(StoreError::DomainNotNormal(d)) if d == spelling
            ));
        }
    }
}
