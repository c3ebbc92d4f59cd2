//! The Redis store's side of the contract: each operation is the store's own (async) method;
//! the contract's documentation is on the trait.

use std::path::Path;

use super::RedisStore;
use crate::model::template::Template;
use crate::model::{Credential, Member, Org, Qr, Role, Team};
use crate::store::{
    Bootstrap, Check, Created, Edit, ListPosition, Notice, QrListPage, QrListQuery, RecordStore,
    Session, SignInToken, StoreError,
};

#[async_trait::async_trait]
impl RecordStore for RedisStore {
    async fn qr(&self, id: &str) -> Result<Option<Qr>, StoreError> {
        RedisStore::qr(self, id).await
    }

    async fn create_qr_within(&self, qr: &Qr, limit: Option<u64>) -> Result<(), StoreError> {
        RedisStore::create_qr_within(self, qr, limit).await
    }

    async fn create_qrs_within(
        &self,
        qrs: Vec<Qr>,
        limit: Option<u64>,
    ) -> Result<Vec<Created>, StoreError> {
        RedisStore::create_qrs_within(self, &qrs, limit).await
    }

    async fn update_qr(&self, id: &str, edit: Edit<Qr>) -> Result<Qr, StoreError> {
        RedisStore::update_qr(self, id, &edit).await
    }

    async fn list_qrs(&self, query: &QrListQuery) -> Result<QrListPage, StoreError> {
        RedisStore::list_qrs(self, query).await
    }

    async fn changes(
        &self,
        team_id: &str,
        after: &ListPosition,
        limit: usize,
    ) -> Result<Vec<ListPosition>, StoreError> {
        RedisStore::changes(self, team_id, after, limit).await
    }

    async fn qrs_by_id(&self, ids: &[&str]) -> Result<Vec<Qr>, StoreError> {
        RedisStore::qrs_by_id(self, ids).await
    }

    async fn live_qr_count(&self, team_id: &str) -> Result<u64, StoreError> {
        RedisStore::live_qr_count(self, team_id).await
    }

    async fn team_qrs(&self, team_id: &str) -> Result<Vec<Qr>, StoreError> {
        RedisStore::team_qrs(self, team_id).await
    }

    async fn org(&self, id: &str) -> Result<Option<Org>, StoreError> {
        RedisStore::org(self, id).await
    }

    async fn team(&self, id: &str) -> Result<Option<Team>, StoreError> {
        RedisStore::team(self, id).await
    }

    async fn insert_team(
        &self,
        team: &Team,
        limit: Option<u64>,
        roles: &[(String, Role)],
    ) -> Result<(), StoreError> {
        RedisStore::insert_team(self, team, limit, roles).await
    }

    async fn update_team(&self, id: &str, edit: Edit<Team>) -> Result<Team, StoreError> {
        RedisStore::update_team(self, id, &edit).await
    }

    async fn update_team_releasing(&self, id: &str, edit: Edit<Team>) -> Result<Team, StoreError> {
        RedisStore::update_team_releasing(self, id, &edit).await
    }

    async fn custom_domains(&self) -> Result<Vec<(String, Team)>, StoreError> {
        RedisStore::custom_domains(self).await
    }

    async fn org_teams(&self, org_id: &str) -> Result<Vec<Team>, StoreError> {
        RedisStore::org_teams(self, org_id).await
    }

    async fn member(&self, id: &str) -> Result<Option<Member>, StoreError> {
        RedisStore::member(self, id).await
    }

    async fn insert_member(&self, member: &Member) -> Result<(), StoreError> {
        RedisStore::insert_member(self, member).await
    }

    async fn update_member(&self, id: &str, edit: Edit<Member>) -> Result<Member, StoreError> {
        RedisStore::update_member(self, id, &edit).await
    }

    async fn delete_member(&self, id: &str, check: Check<Member>) -> Result<Member, StoreError> {
        RedisStore::delete_member(self, id, &check).await
    }

    async fn org_members(&self, org_id: &str) -> Result<Vec<Member>, StoreError> {
        RedisStore::org_members(self, org_id).await
    }

    async fn credential(&self, client_id: &str) -> Result<Option<Credential>, StoreError> {
        RedisStore::credential(self, client_id).await
    }

    async fn insert_credential(&self, credential: &Credential) -> Result<(), StoreError> {
        RedisStore::insert_credential(self, credential).await
    }

    async fn member_credentials(&self, member_id: &str) -> Result<Vec<Credential>, StoreError> {
        RedisStore::member_credentials(self, member_id).await
    }

    async fn delete_credential(
        &self,
        client_id: &str,
        check: Check<Credential>,
    ) -> Result<bool, StoreError> {
        RedisStore::delete_credential(self, client_id, &check).await
    }

    async fn team_templates(&self, team_id: &str) -> Result<Vec<Template>, StoreError> {
        RedisStore::team_templates(self, team_id).await
    }

    async fn team_template(&self, team_id: &str, id: &str) -> Result<Option<Template>, StoreError> {
        RedisStore::team_template(self, team_id, id).await
    }

    async fn insert_template(&self, template: &Template) -> Result<(), StoreError> {
        RedisStore::insert_template(self, template).await
    }

    async fn delete_template(
        &self,
        team_id: &str,
        id: &str,
        check: Check<Template>,
    ) -> Result<bool, StoreError> {
        RedisStore::delete_template(self, team_id, id, &check).await
    }

    async fn bootstrap_if_empty(
        &self,
        data_dir: &Path,
        default_domain: &str,
    ) -> Result<Option<Bootstrap>, StoreError> {
        RedisStore::bootstrap_if_empty(self, data_dir, default_domain).await
    }

    async fn create_session(&self, key: &str, session: &Session) -> Result<(), StoreError> {
        RedisStore::create_session(self, key, session).await
    }

    async fn session(&self, key: &str) -> Result<Option<Session>, StoreError> {
        RedisStore::session(self, key).await
    }

    async fn delete_session(&self, key: &str) -> Result<(), StoreError> {
        RedisStore::delete_session(self, key).await
    }

    async fn create_sign_in_token(&self, key: &str, token: &SignInToken) -> Result<(), StoreError> {
        RedisStore::create_sign_in_token(self, key, token).await
    }

    async fn take_sign_in_token(&self, key: &str) -> Result<Option<SignInToken>, StoreError> {
        RedisStore::take_sign_in_token(self, key).await
    }

    async fn create_notice(&self, key: &str, notice: &Notice) -> Result<(), StoreError> {
        RedisStore::create_notice(self, key, notice).await
    }

    async fn take_notice(&self, key: &str) -> Result<Option<Notice>, StoreError> {
        RedisStore::take_notice(self, key).await
    }

    async fn members_with_email(&self, email: &str) -> Result<Vec<Member>, StoreError> {
        RedisStore::members_with_email(self, email).await
    }

    async fn count_request(&self, bucket: &str, window: i64) -> Result<u64, StoreError> {
        RedisStore::count_request(self, bucket, window).await
    }

    async fn image_url_secret(&self) -> Result<[u8; 32], StoreError> {
        RedisStore::image_url_secret(self).await
    }
}
