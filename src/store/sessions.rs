//! The dashboard's sign-in state: sessions, one-time sign-in links and one-time notices. Sessions
//! and links are kept under the SHA-256 of their token (`hash_secret`), never the token itself,
//! with the time they end: a store that leaks keeps no usable session. A notice (a new API key's
//! token, shown on the page its creation redirects to) is kept under its session's key for a
//! minute at most and taken when it is shown. On Redis each is a key with that TTL; here a record
//! past its end is treated as gone (and removed when it is next read).

use redb::{ReadableDatabase, ReadableTable, TableDefinition};
use serde::{Deserialize, Serialize};

use super::{decode_record, encode, EmbeddedStore, StoreError, MEMBERS};
use crate::clock::now_ms;
use crate::model::Member;

/// Hashed session token -> `Session` as JSON.
pub(super) const SESSIONS: TableDefinition<&str, &[u8]> = TableDefinition::new("sessions");
/// Hashed sign-in token -> `SignInToken` as JSON.
pub(super) const SIGN_IN_TOKENS: TableDefinition<&str, &[u8]> =
    TableDefinition::new("sign_in_tokens");
/// Session key and purpose -> `Notice` as JSON.
pub(super) const NOTICES: TableDefinition<&str, &[u8]> = TableDefinition::new("notices");

/// A signed-in member's session in the dashboard.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
#[serde(rename_all = "camelCase")]
pub struct Session {
    pub member_id: String,
    /// The team the dashboard shows (one of the member's).
    pub team_id: String,
    /// The token every form of this session carries (CSRF).
    pub csrf_token: String,
    /// Epoch ms after which the session is gone.
    pub expires_at: i64,
}

/// A one-time sign-in link's record: whom it signs in, until when.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
#[serde(rename_all = "camelCase")]
pub struct SignInToken {
    pub member_id: String,
    pub expires_at: i64,
}

/// A text for one session's next page only (post-redirect-get): taken on its first read.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
#[serde(rename_all = "camelCase")]
pub struct Notice {
    pub text: String,
    pub expires_at: i64,
}

/// Records that end, on either backend.
pub(super) trait Expiring {
    fn expires_at(&self) -> i64;

    /// Milliseconds it still lives (None: it has ended).
    fn ttl_ms(&self) -> Option<u64> {
        u64::try_from(self.expires_at() - now_ms())
            .ok()
            .filter(|ms| *ms > 0)
    }
}

impl Expiring for Session {
    fn expires_at(&self) -> i64 {
        self.expires_at
    }
}

impl Expiring for SignInToken {
    fn expires_at(&self) -> i64 {
        self.expires_at
    }
}

impl Expiring for Notice {
    fn expires_at(&self) -> i64 {
        self.expires_at
    }
}

impl EmbeddedStore {
    fn put_expiring<T: Serialize>(
        &self,
        table: TableDefinition<&str, &[u8]>,
        key: &str,
        value: &T,
    ) -> Result<(), StoreError> {
        let txn = self.db.begin_write()?;
        txn.open_table(table)?
            .insert(key, encode(value).as_slice())?;
        txn.commit()?;
        Ok(())
    }

    /// The record under `key`, removed when `take` or when it has ended.
    fn get_expiring<T>(
        &self,
        table: TableDefinition<&str, &[u8]>,
        key: &str,
        take: bool,
    ) -> Result<Option<T>, StoreError>
    where
        T: Expiring + serde::de::DeserializeOwned,
    {
        let found: Option<T> = {
            let txn = self.db.begin_read()?;
            let opened = txn.open_table(table)?;
            let bytes = opened.get(key)?;
            bytes
                .map(|b| decode_record(table, key, b.value()))
                .transpose()?
        };
        let Some(record) = found else {
            return Ok(None);
        };
        let live = record.ttl_ms().is_some();
        if take || !live {
            // Removed in a write of its own: of two takes of one token only one finds it there.
            let txn = self.db.begin_write()?;
            let removed = txn.open_table(table)?.remove(key)?.is_some();
            txn.commit()?;
            if !removed {
                return Ok(None);
            }
        }
        Ok(live.then_some(record))
    }

    pub fn create_session(&self, key: &str, session: &Session) -> Result<(), StoreError> {
        self.put_expiring(SESSIONS, key, session)
    }

    pub fn session(&self, key: &str) -> Result<Option<Session>, StoreError> {
        self.get_expiring(SESSIONS, key, false)
    }

    pub fn delete_session(&self, key: &str) -> Result<(), StoreError> {
        let txn = self.db.begin_write()?;
        txn.open_table(SESSIONS)?.remove(key)?;
        txn.commit()?;
        Ok(())
    }

    pub fn create_sign_in_token(&self, key: &str, token: &SignInToken) -> Result<(), StoreError> {
        self.put_expiring(SIGN_IN_TOKENS, key, token)
    }

    pub fn take_sign_in_token(&self, key: &str) -> Result<Option<SignInToken>, StoreError> {
        self.get_expiring(SIGN_IN_TOKENS, key, true)
    }

    pub fn create_notice(&self, key: &str, notice: &Notice) -> Result<(), StoreError> {
        self.put_expiring(NOTICES, key, notice)
    }

    pub fn take_notice(&self, key: &str) -> Result<Option<Notice>, StoreError> {
        self.get_expiring(NOTICES, key, true)
    }

    /// The members with this (lower-case) email: one per organization at most. Members are few
    /// (a handful per team): read by a scan.
    pub fn members_with_email(&self, email: &str) -> Result<Vec<Member>, StoreError> {
        let txn = self.db.begin_read()?;
        let mut out = Vec::new();
        for entry in txn.open_table(MEMBERS)?.iter()? {
            let (key, bytes) = entry?;
            let member: Member = decode_record(MEMBERS, key.value(), bytes.value())?;
            if member.email == email {
                out.push(member);
            }
        }
        Ok(out)
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn a_sign_in_token_is_taken_once_and_an_ended_session_is_gone() {
        let dir = tempfile::tempdir().unwrap();
        let store = EmbeddedStore::open(dir.path()).unwrap();
        let later = now_ms() + 60_000;
        let token = SignInToken {
            member_id: "mem_1".into(),
            expires_at: later,
        };
        store.create_sign_in_token("k1", &token).unwrap();
        assert_eq!(store.take_sign_in_token("k1").unwrap(), Some(token));
        assert_eq!(store.take_sign_in_token("k1").unwrap(), None, "used once");

        let session = |expires_at| Session {
            member_id: "mem_1".into(),
            team_id: "team_1".into(),
            csrf_token: "c".into(),
            expires_at,
        };
        store.create_session("live", &session(later)).unwrap();
        store
            .create_session("ended", &session(now_ms() - 1))
            .unwrap();
        assert_eq!(store.session("live").unwrap(), Some(session(later)));
        assert_eq!(store.session("ended").unwrap(), None);
        store.delete_session("live").unwrap();
        assert_eq!(store.session("live").unwrap(), None, "signed out");
    }
}
