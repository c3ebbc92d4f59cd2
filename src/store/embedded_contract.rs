//! The embedded store's side of the contract: each operation is the store's own blocking redb
//! call, run off the async workers (`blocking`); the contract's documentation is on the trait.

use std::path::Path;

use super::{
    Bootstrap, Check, Created, Edit, EmbeddedStore, ListPosition, Notice, QrListPage, QrListQuery,
    RecordStore, Session, SignInToken, StoreError,
};
use crate::model::template::Template;
use crate::model::{Credential, Member, Org, Qr, Role, Team};

impl EmbeddedStore {
    /// Runs `call` on this store on tokio's blocking pool: a redb transaction may wait for the
    /// disk (a commit syncs it), which must not hold up the tasks of the async workers.
    async fn blocking<T: Send + 'static>(
        &self,
        call: impl FnOnce(&EmbeddedStore) -> Result<T, StoreError> + Send + 'static,
    ) -> Result<T, StoreError> {
        let store = self.clone();
        tokio::task::spawn_blocking(move || call(&store))
            .await
            .map_err(|e| StoreError::Io(std::io::Error::other(e)))?
    }
}

#[async_trait::async_trait]
impl RecordStore for EmbeddedStore {
    async fn qr(&self, id: &str) -> Result<Option<Qr>, StoreError> {
        let id = id.to_owned();
        self.blocking(move |s| s.qr(&id)).await
    }

    async fn create_qr_within(&self, qr: &Qr, limit: Option<u64>) -> Result<(), StoreError> {
        let qr = qr.clone();
        self.blocking(move |s| s.create_qr_within(&qr, limit)).await
    }

    async fn create_qrs_within(
        &self,
        qrs: Vec<Qr>,
        limit: Option<u64>,
    ) -> Result<Vec<Created>, StoreError> {
        self.blocking(move |s| s.create_qrs_within(&qrs, limit))
            .await
    }

    async fn update_qr(&self, id: &str, edit: Edit<Qr>) -> Result<Qr, StoreError> {
        let id = id.to_owned();
        self.blocking(move |s| s.update_qr(&id, &edit)).await
    }

    async fn list_qrs(&self, query: &QrListQuery) -> Result<QrListPage, StoreError> {
        let query = query.clone();
        self.blocking(move |s| s.list_qrs(&query)).await
    }

    async fn changes(
        &self,
        team_id: &str,
        after: &ListPosition,
        limit: usize,
    ) -> Result<Vec<ListPosition>, StoreError> {
        let (team_id, after) = (team_id.to_owned(), after.clone());
        self.blocking(move |s| s.changes(&team_id, &after, limit))
            .await
    }

    async fn qrs_by_id(&self, ids: &[&str]) -> Result<Vec<Qr>, StoreError> {
        let ids: Vec<String> = ids.iter().map(|id| id.to_string()).collect();
        self.blocking(move |s| s.qrs_by_id(&ids)).await
    }

    async fn live_qr_count(&self, team_id: &str) -> Result<u64, StoreError> {
        let team_id = team_id.to_owned();
        self.blocking(move |s| s.live_qr_count(&team_id)).await
    }

    async fn team_qrs(&self, team_id: &str) -> Result<Vec<Qr>, StoreError> {
        let team_id = team_id.to_owned();
        self.blocking(move |s| s.team_qrs(&team_id)).await
    }

    async fn org(&self, id: &str) -> Result<Option<Org>, StoreError> {
        let id = id.to_owned();
        self.blocking(move |s| s.org(&id)).await
    }

    async fn team(&self, id: &str) -> Result<Option<Team>, StoreError> {
        let id = id.to_owned();
        self.blocking(move |s| s.team(&id)).await
    }

    async fn insert_team(
        &self,
        team: &Team,
        limit: Option<u64>,
        roles: &[(String, Role)],
    ) -> Result<(), StoreError> {
        let (team, roles) = (team.clone(), roles.to_vec());
        self.blocking(move |s| s.insert_team(&team, limit, &roles))
            .await
    }

    async fn update_team(&self, id: &str, edit: Edit<Team>) -> Result<Team, StoreError> {
        let id = id.to_owned();
        self.blocking(move |s| s.update_team(&id, &edit)).await
    }

    async fn update_team_releasing(&self, id: &str, edit: Edit<Team>) -> Result<Team, StoreError> {
        let id = id.to_owned();
        self.blocking(move |s| s.update_team_releasing(&id, &edit))
            .await
    }

    async fn custom_domains(&self) -> Result<Vec<(String, Team)>, StoreError> {
        self.blocking(|s| s.custom_domains()).await
    }

    async fn org_teams(&self, org_id: &str) -> Result<Vec<Team>, StoreError> {
        let org_id = org_id.to_owned();
        self.blocking(move |s| s.org_teams(&org_id)).await
    }

    async fn member(&self, id: &str) -> Result<Option<Member>, StoreError> {
        let id = id.to_owned();
        self.blocking(move |s| s.member(&id)).await
    }

    async fn insert_member(&self, member: &Member) -> Result<(), StoreError> {
        let member = member.clone();
        self.blocking(move |s| s.insert_member(&member)).await
    }

    async fn update_member(&self, id: &str, edit: Edit<Member>) -> Result<Member, StoreError> {
        let id = id.to_owned();
        self.blocking(move |s| s.update_member(&id, &edit)).await
    }

    async fn delete_member(&self, id: &str, check: Check<Member>) -> Result<Member, StoreError> {
        let id = id.to_owned();
        self.blocking(move |s| s.delete_member(&id, &check)).await
    }

    async fn org_members(&self, org_id: &str) -> Result<Vec<Member>, StoreError> {
        let org_id = org_id.to_owned();
        self.blocking(move |s| s.org_members(&org_id)).await
    }

    async fn credential(&self, client_id: &str) -> Result<Option<Credential>, StoreError> {
        let client_id = client_id.to_owned();
        self.blocking(move |s| s.credential(&client_id)).await
    }

    async fn insert_credential(&self, credential: &Credential) -> Result<(), StoreError> {
        let credential = credential.clone();
        self.blocking(move |s| s.insert_credential(&credential))
            .await
    }

    async fn member_credentials(&self, member_id: &str) -> Result<Vec<Credential>, StoreError> {
        let member_id = member_id.to_owned();
        self.blocking(move |s| s.member_credentials(&member_id))
            .await
    }

    async fn delete_credential(
        &self,
        client_id: &str,
        check: Check<Credential>,
    ) -> Result<bool, StoreError> {
        let client_id = client_id.to_owned();
        self.blocking(move |s| s.delete_credential(&client_id, &check))
            .await
    }

    async fn team_templates(&self, team_id: &str) -> Result<Vec<Template>, StoreError> {
        let team_id = team_id.to_owned();
        self.blocking(move |s| s.team_templates(&team_id)).await
    }

    async fn team_template(&self, team_id: &str, id: &str) -> Result<Option<Template>, StoreError> {
        let (team_id, id) = (team_id.to_owned(), id.to_owned());
        self.blocking(move |s| s.team_template(&team_id, &id)).await
    }

    async fn insert_template(&self, template: &Template) -> Result<(), StoreError> {
        let template = template.clone();
        self.blocking(move |s| s.insert_template(&template)).await
    }

    async fn delete_template(
        &self,
        team_id: &str,
        id: &str,
        check: Check<Template>,
    ) -> Result<bool, StoreError> {
        let (team_id, id) = (team_id.to_owned(), id.to_owned());
        self.blocking(move |s| s.delete_template(&team_id, &id, &check))
            .await
    }

    async fn create_session(&self, key: &str, session: &Session) -> Result<(), StoreError> {
        let (key, session) = (key.to_owned(), session.clone());
        self.blocking(move |s| s.create_session(&key, &session))
            .await
    }

    async fn session(&self, key: &str) -> Result<Option<Session>, StoreError> {
        let key = key.to_owned();
        self.blocking(move |s| s.session(&key)).await
    }

    async fn delete_session(&self, key: &str) -> Result<(), StoreError> {
        let key = key.to_owned();
        self.blocking(move |s| s.delete_session(&key)).await
    }

    async fn create_sign_in_token(&self, key: &str, token: &SignInToken) -> Result<(), StoreError> {
        let (key, token) = (key.to_owned(), token.clone());
        self.blocking(move |s| s.create_sign_in_token(&key, &token))
            .await
    }

    async fn take_sign_in_token(&self, key: &str) -> Result<Option<SignInToken>, StoreError> {
        let key = key.to_owned();
        self.blocking(move |s| s.take_sign_in_token(&key)).await
    }

    async fn create_notice(&self, key: &str, notice: &Notice) -> Result<(), StoreError> {
        let (key, notice) = (key.to_owned(), notice.clone());
        self.blocking(move |s| s.create_notice(&key, &notice)).await
    }

    async fn take_notice(&self, key: &str) -> Result<Option<Notice>, StoreError> {
        let key = key.to_owned();
        self.blocking(move |s| s.take_notice(&key)).await
    }

    async fn members_with_email(&self, email: &str) -> Result<Vec<Member>, StoreError> {
        let email = email.to_owned();
        self.blocking(move |s| s.members_with_email(&email)).await
    }

    /// In memory, without the blocking pool: one process serves the embedded store.
    async fn count_request(&self, bucket: &str, window: i64) -> Result<u64, StoreError> {
        Ok(EmbeddedStore::count_request(self, bucket, window))
    }

    async fn image_url_secret(&self) -> Result<[u8; 32], StoreError> {
        self.blocking(|s| s.image_url_secret()).await
    }

    async fn bootstrap_if_empty(
        &self,
        data_dir: &Path,
        default_domain: &str,
    ) -> Result<Option<Bootstrap>, StoreError> {
        let (data_dir, domain) = (data_dir.to_owned(), default_domain.to_owned());
        self.blocking(move |s| s.bootstrap_if_empty(&data_dir, &domain))
            .await
    }
}
