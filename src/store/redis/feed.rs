//! The Redis store's change feed (see `store/feed.rs`): the `changes` stream, written by the same
//! scripts as the records, so Redis orders it as it runs them. Followers read it with blocking
//! XREAD on a connection of their own (on the shared one, every other command of the process
//! would queue behind it), and the committed routes from the `routes` hash.

use std::time::Duration;

use redis::{AsyncCommands, Script};

use super::{RedisStore, RESPONSE_TIMEOUT};
use crate::model::{RouteRecord, Team};
use crate::store::feed::{Change, ChangeFeed, FeedRead};
use crate::store::StoreError;

/// Routes fetched per HSCAN step when an edge loads the table.
const SCAN_BATCH: usize = 10_000;

/// KEYS: changes. The stream's oldest entry id as Redis records it, how many entries were ever
/// added and how many it holds (Redis 7 keeps these); "0-0", 0, 0 when it does not exist (yet).
const TRIM_STATE: &str = r#"
if redis.call('EXISTS', KEYS[1]) == 0 then return {'0-0', 0, 0} end
local info = redis.call('XINFO', 'STREAM', KEYS[1])
local state = {}
for i = 1, #info, 2 do state[info[i]] = info[i + 1] end
if state['recorded-first-entry-id'] == nil then
  return redis.error_reply('the change stream needs Redis 7.0 or later')
end
return {state['recorded-first-entry-id'], state['entries-added'], state['length']}
"#;

impl RedisStore {
    /// Whether entries after `cursor` may have been trimmed away: the oldest entry kept is newer
    /// than the cursor, and entries were trimmed (the stream has fewer than were ever added).
    /// Trimming takes the oldest first, so with the cursor's own entry still kept nothing after
    /// it was lost; with it gone too, the follower reads everything afresh, which is never wrong.
    async fn trimmed_past(&self, cursor: &str) -> Result<bool, StoreError> {
        let mut conn = self.conn.clone();
        let (oldest, added, length): (String, u64, u64) = Script::new(TRIM_STATE)
            .key(self.key("changes"))
            .invoke_async(&mut conn)
            .await?;
        Ok(added > length && !stream_id_le(&oldest, cursor))
    }
}

/// A stream entry as a change; None for one this version does not know.
fn change_of(entry: &redis::streams::StreamId) -> Option<Change> {
    if let Some(team_id) = entry.get::<String>("t") {
        return Some(Change::Team { team_id });
    }
    Some(Change::Route {
        key: entry.get("d")?,
        released: entry.get("p"),
    })
}

impl ChangeFeed for RedisStore {
    type Cursor = String;

    /// The newest entry's id ("0-0" when there is none).
    async fn cursor(&self) -> Result<String, StoreError> {
        let mut conn = self.conn.clone();
        let newest: redis::streams::StreamRangeReply = conn
            .xrevrange_count(self.key("changes"), "+", "-", 1)
            .await?;
        Ok(newest
            .ids
            .first()
            .map(|e| e.id.clone())
            .unwrap_or_else(|| "0-0".into()))
    }

    async fn changes_after(
        &self,
        cursor: &String,
        wait: Duration,
        max: usize,
    ) -> Result<FeedRead<String>, StoreError> {
        let mut blocking = self
            .blocking
            .get_or_try_init(|| crate::redis_link::connect(&self.url, RESPONSE_TIMEOUT))
            .await?
            .clone();
        let options = redis::streams::StreamReadOptions::default()
            .block(wait.as_millis() as usize)
            .count(max);
        let reply: Option<redis::streams::StreamReadReply> = blocking
            .xread_options(&[self.key("changes")], &[cursor], &options)
            .await?;
        let entries: Vec<_> = reply
            .into_iter()
            .flat_map(|r| r.keys)
            .flat_map(|k| k.ids)
            .collect();
        let Some(last) = entries.last() else {
            return Ok(FeedRead::Changes {
                changes: Vec::new(),
                cursor: cursor.clone(),
            });
        };
        // Checked after the read: a trim between the two only costs a needless reload.
        if self.trimmed_past(cursor).await? {
            return Ok(FeedRead::Lagged);
        }
        Ok(FeedRead::Changes {
            changes: entries.iter().filter_map(change_of).collect(),
            cursor: last.id.clone(),
        })
    }

    async fn routes(&self, keys: Vec<String>) -> Result<Vec<Option<RouteRecord>>, StoreError> {
        if keys.is_empty() {
            return Ok(Vec::new());
        }
        let mut conn = self.conn.clone();
        let texts: Vec<Option<String>> = redis::cmd("HMGET")
            .arg(self.key("routes"))
            .arg(&keys)
            .query_async(&mut conn)
            .await?;
        Ok(keys
            .iter()
            .zip(texts)
            .map(|(key, text)| readable_route(key, &text?))
            .collect())
    }

    async fn route_count(&self) -> Result<u64, StoreError> {
        let mut conn = self.conn.clone();
        Ok(conn.hlen(self.key("routes")).await?)
    }

    /// Every servable route, `SCAN_BATCH` at a time.
    async fn each_route<S, V>(&self, mut state: S, mut visit: V) -> Result<S, StoreError>
    where
        S: Send + 'static,
        V: FnMut(&mut S, &str, RouteRecord) + Send + 'static,
    {
        let mut conn = self.conn.clone();
        let key = self.key("routes");
        let mut cursor: u64 = 0;
        loop {
            let (next, entries): (u64, Vec<(String, String)>) = redis::cmd("HSCAN")
                .arg(&key)
                .arg(cursor)
                .arg("COUNT")
                .arg(SCAN_BATCH)
                .query_async(&mut conn)
                .await?;
            for (route_key, text) in entries {
                if let Some(record) = readable_route(&route_key, &text) {
                    visit(&mut state, &route_key, record);
                }
            }
            if next == 0 {
                return Ok(state);
            }
            cursor = next;
        }
    }

    async fn domains(&self) -> Result<Vec<(String, Team)>, StoreError> {
        self.custom_domains().await
    }

    async fn team_of(&self, id: &str) -> Result<Option<Team>, StoreError> {
        self.team(id).await
    }
}

/// A route of the hash; one that cannot be read is passed over with a warning (as if absent).
fn readable_route(key: &str, text: &str) -> Option<RouteRecord> {
    serde_json::from_str(text)
        .inspect_err(
            |e| tracing::warn!(route_key = %key, error = %e, "skipping an unreadable route"),
        )
        .ok()
}

/// Stream ids compare as (milliseconds, sequence).
fn stream_id_le(a: &str, b: &str) -> bool {
    let parse = |id: &str| -> (u64, u64) {
        let (ms, seq) = id.split_once('-').unwrap_or((id, "0"));
        (ms.parse().unwrap_or(0), seq.parse().unwrap_or(0))
    };
    parse(a) <= parse(b)
}

#[cfg(test)]
mod tests {
    use super::stream_id_le;

    #[test]
    fn stream_ids_compare_numerically() {
        assert!(stream_id_le("9-1", "10-0"));
        assert!(stream_id_le("10-2", "10-10"));
        assert!(!stream_id_le("11-0", "10-99"));
        assert!(stream_id_le("5-5", "5-5"));
    }
}
