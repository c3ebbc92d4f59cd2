//! The email index of the Redis store: `email-members:{email}`, the set of the ids of the
//! members with that email across organizations, which a password sign-in reads (one set, not a
//! walk of the keyspace). The member scripts keep it; a store written before it gets it filled
//! once from the organizations' email hashes, marked by `email-index-filled`.

use futures::TryStreamExt;
use redis::AsyncCommands;

use super::list::glob_escape;
use super::RedisStore;
use crate::store::StoreError;

/// Set once every organization's emails are in the index.
const FILLED: &str = "email-index-filled";

impl RedisStore {
    /// Puts every member's email in the index, once. A member written while this runs is
    /// indexed by its script either way; an id added here for a member changed meanwhile is
    /// passed over by the lookup, which checks the member's email.
    pub(super) async fn fill_email_index(&self) -> Result<(), StoreError> {
        let mut conn = self.conn.clone();
        if conn.exists(self.key(FILLED)).await? {
            return Ok(());
        }
        let pattern = format!("{}org-emails:*", glob_escape(&self.prefix));
        let hashes: Vec<String> = conn.scan_match(pattern).await?.try_collect().await?;
        for hash in hashes {
            let emails: Vec<(String, String)> = conn.hgetall(&hash).await?;
            let mut pipe = redis::pipe();
            for (email, member_id) in &emails {
                let set = self.key(&format!("email-members:{email}"));
                pipe.sadd(set, member_id).ignore();
            }
            pipe.query_async::<()>(&mut conn).await?;
        }
        let _: () = conn.set(self.key(FILLED), 1).await?;
        Ok(())
    }
}
