//! A team's design templates on Redis: the hash `{prefix}templates:{teamId}`, template id →
//! JSON. One key per team: a lookup names the team, so another team's template is never found.

use redis::{AsyncCommands, Script};

use super::{decode_at, deleted, json, RedisStore};
use crate::model::template::Template;
use crate::store::edit::{as_new, until_written, Check};
use crate::store::StoreError;

/// KEYS: the team's templates hash. ARGV: template id, the version read. 'missing' when gone,
/// 'stale' when written since, else 'ok' (deleted).
const DELETE_TEMPLATE: &str = r#"
local text = redis.call('HGET', KEYS[1], ARGV[1])
if not text then return 'missing' end
if (tonumber(cjson.decode(text)['version']) or 0) ~= tonumber(ARGV[2]) then return 'stale' end
redis.call('HDEL', KEYS[1], ARGV[1])
return 'ok'
"#;

impl RedisStore {
    fn templates_key(&self, team_id: &str) -> String {
        self.key(&format!("templates:{team_id}"))
    }

    pub async fn team_templates(&self, team_id: &str) -> Result<Vec<Template>, StoreError> {
        let mut conn = self.conn.clone();
        let key = self.templates_key(team_id);
        let texts: Vec<(String, String)> = conn.hgetall(&key).await?;
        let mut templates = texts
            .iter()
            .map(|(id, t)| decode_at(&format!("{key} {id}"), t))
            .collect::<Result<Vec<Template>, _>>()?;
        crate::store::templates::sort_templates(&mut templates);
        Ok(templates)
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

    /// Deletes the template if `check` passes on it as stored: read, checked, and deleted by a
    /// script only while it is still at the version read (else read and checked again).
    pub async fn delete_template(
        &self,
        team_id: &str,
        id: &str,
        check: &Check<Template>,
    ) -> Result<bool, StoreError> {
        until_written(|| async move {
            let Some(stored) = self.team_template(team_id, id).await? else {
                return Ok(Some(false));
            };
            check(&stored)?;
            let mut conn = self.conn.clone();
            let outcome: String = Script::new(DELETE_TEMPLATE)
                .key(self.templates_key(team_id))
                .arg(id)
                .arg(stored.version)
                .invoke_async(&mut conn)
                .await?;
            Ok(deleted(&outcome))
        })
        .await
    }
}
