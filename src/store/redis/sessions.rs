//! The dashboard's sessions, one-time sign-in tokens and notices on Redis (see
//! `store/sessions.rs`): `{prefix}session:{hash}`, `{prefix}sign-in:{hash}` and
//! `{prefix}notice:{key}`, JSON with the record's own TTL, so that Redis forgets them when they
//! end. A sign-in token and a notice are taken with GETDEL: one use.

use redis::AsyncCommands;
use serde::Serialize;

use super::{decode_at, json, RedisStore};
use crate::model::Member;
use crate::store::sessions::{Expiring, Notice, Session, SignInToken};
use crate::store::StoreError;

impl RedisStore {
    async fn set_expiring(
        &self,
        key: String,
        value: &(impl Serialize + Expiring),
    ) -> Result<(), StoreError> {
        // One that has already ended is not stored at all.
        let Some(ttl) = value.ttl_ms() else {
            return Ok(());
        };
        let mut conn = self.conn.clone();
        let _: () = conn.pset_ex(key, json(value), ttl).await?;
        Ok(())
    }

    pub async fn create_session(&self, key: &str, session: &Session) -> Result<(), StoreError> {
        self.set_expiring(self.key(&format!("session:{key}")), session)
            .await
    }

    pub async fn session(&self, key: &str) -> Result<Option<Session>, StoreError> {
        self.get_json(self.key(&format!("session:{key}"))).await
    }

    pub async fn delete_session(&self, key: &str) -> Result<(), StoreError> {
        let mut conn = self.conn.clone();
        let _: () = conn.del(self.key(&format!("session:{key}"))).await?;
        Ok(())
    }

    pub async fn create_sign_in_token(
        &self,
        key: &str,
        token: &SignInToken,
    ) -> Result<(), StoreError> {
        self.set_expiring(self.key(&format!("sign-in:{key}")), token)
            .await
    }

    pub async fn take_sign_in_token(&self, key: &str) -> Result<Option<SignInToken>, StoreError> {
        let mut conn = self.conn.clone();
        let key = self.key(&format!("sign-in:{key}"));
        let text: Option<String> = conn.get_del(&key).await?;
        text.map(|t| decode_at(&key, &t)).transpose()
    }

    pub async fn create_notice(&self, key: &str, notice: &Notice) -> Result<(), StoreError> {
        self.set_expiring(self.key(&format!("notice:{key}")), notice)
            .await
    }

    pub async fn take_notice(&self, key: &str) -> Result<Option<Notice>, StoreError> {
        let mut conn = self.conn.clone();
        let key = self.key(&format!("notice:{key}"));
        let text: Option<String> = conn.get_del(&key).await?;
        text.map(|t| decode_at(&key, &t)).transpose()
    }

    /// The members with this email, from its member set (`email_index.rs`); an id left there
    /// by a member changed meanwhile is passed over.
    pub async fn members_with_email(&self, email: &str) -> Result<Vec<Member>, StoreError> {
        let mut conn = self.conn.clone();
        let ids: Vec<String> = conn
            .smembers(self.key(&format!("email-members:{email}")))
            .await?;
        let mut out = Vec::new();
        for id in ids {
            match self.member(&id).await? {
                Some(member) if member.email == email => out.push(member),
                _ => {}
            }
        }
        Ok(out)
    }
}
