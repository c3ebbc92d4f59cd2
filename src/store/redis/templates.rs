//! A team's design templates on Redis: the hash `{prefix}templates:{teamId}`, template id →
//! JSON. One key per team: a lookup names the team, so another team's template is never found.

use redis::AsyncCommands;

use super::{decode_at, json, RedisStore};
use crate::model::template::Template;
use crate::store::edit::as_new;
use crate::store::StoreError;

impl RedisStore {
    fn templates_key(&self, team_id: &str) -> String {
        self.key(&format!("templates:{team_id}"))
    }

    pub async fn team_templates(&self, team_id: &str) -> Result<Vec<Template>, StoreError> {
        let mut conn = self.conn.clone();
        let key = self.templates_key(team_id);
        let texts: Vec<(String, String)> = conn.hgetall(&key).await?;
        texts
            .iter()
            .map(|(id, t)| decode_at(&format!("{key} {id}"), t))
            .collect()
    }

    pub async fn team_template(
        &self,
        team_id: &str,
        id: &str,
    ) -> Result<Option<Template>, StoreError> {
        let mut conn = self.conn.clone();
        let key = self.templates_key(team_id);
        let text: Option<String> = conn.hget(&key, id).await?;
        text.map(|t| decode_at(&format!("{key} {id}"), &t))
            .transpose()
    }

    pub async fn insert_template(&self, template: &Template) -> Result<(), StoreError> {
        let team_id = template.team_id.as_deref().ok_or(StoreError::NotFound)?;
        let mut conn = self.conn.clone();
        let _: i64 = conn
            .hset(
                self.templates_key(team_id),
                &template.id,
                json(&*as_new(template)),
            )
            .await?;
        Ok(())
    }

    pub async fn delete_template(&self, team_id: &str, id: &str) -> Result<bool, StoreError> {
        let mut conn = self.conn.clone();
        let removed: i64 = conn.hdel(self.templates_key(team_id), id).await?;
        Ok(removed > 0)
    }
}
