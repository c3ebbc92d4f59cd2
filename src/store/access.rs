//! Organizations, teams, members and credentials.

use redb::ReadableDatabase;

use super::{encode, EmbeddedStore, StoreError, CREDENTIALS, MEMBERS, ORGS, TEAMS};
use crate::model::{Credential, Member, Org, Team};

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

    /// Replaces an existing team's record; NotFound when there is none.
    pub fn update_team(&self, team: &Team) -> Result<(), StoreError> {
        use redb::ReadableTable;
        let txn = self.db.begin_write()?;
        {
            let mut teams = txn.open_table(TEAMS)?;
            if teams.get(team.id.as_str())?.is_none() {
                return Err(StoreError::NotFound);
            }
            teams.insert(team.id.as_str(), encode(team).as_slice())?;
        }
        txn.commit()?;
        Ok(())
    }

    pub(super) fn has_any_org(&self) -> Result<bool, StoreError> {
        use redb::ReadableTableMetadata;
        let txn = self.db.begin_read()?;
        Ok(!txn.open_table(ORGS)?.is_empty()?)
    }
}
