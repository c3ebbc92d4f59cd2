//! The Redis store's change feed (see `store/feed.rs`): the `changes` stream, written by the same
//! scripts as the records, so Redis orders it as it runs them. Followers read it with blocking
//! XREAD on a connection of their own (on the shared one, every other command of the process
//! would queue behind it), and the committed routes from the `routes` hash.
//!
//! Each entry carries its number `n`, from a counter the script that adds it increments
//! (`append_change` in `redis.rs`). Trimming takes the oldest entries first, so nothing after a
//! follower's cursor was lost exactly when the first entry a read returns is numbered one past the
//! cursor's: a trim shows as a gap, with no second round trip. Entries of earlier versions carry
//! no number; a read that starts at or with one asks Redis how far the stream was trimmed instead,
//! as those versions did (`trimmed_past`). While processes of an earlier version still write (an
//! upgrade under way), their entries take no number: one of them trimmed away between two numbered
//! entries leaves no gap, so an edge that falls `changes_kept` entries behind in that window could
//! miss it. Upgrade the edges last, or restart them after the upgrade, to rule that out.

use std::fmt;
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

/// A follower's place in the stream: the id of the last entry read, and its number when it has
/// one (see the module's comment).
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct StreamCursor {
    id: String,
    number: Option<u64>,
}

impl StreamCursor {
    /// The place after entry `id`, whose number is not known (a snapshot keeps only the id).
    pub fn at(id: String) -> Self {
        Self { id, number: None }
    }

    fn of(entry: &redis::streams::StreamId) -> Self {
        Self {
            id: entry.id.clone(),
            number: entry.get("n"),
        }
    }
}

/// The entry id: what a snapshot records.
impl fmt::Display for StreamCursor {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str(&self.id)
    }
}

/// Whether a read whose first entry is numbered `first` lost nothing after a cursor numbered
/// `cursor`: the first must be the very next entry. None when either has no number.
fn follows_on(cursor: Option<u64>, first: Option<u64>) -> Option<bool> {
    let (cursor, first) = (cursor?, first?);
    Some(cursor.checked_add(1) == Some(first))
}

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
    type Cursor = StreamCursor;

    /// The newest entry ("0-0", unnumbered, when there is none).
    async fn cursor(&self) -> Result<StreamCursor, StoreError> {
        let mut conn = self.conn.clone();
        let newest: redis::streams::StreamRangeReply = conn
            .xrevrange_count(self.key("changes"), "+", "-", 1)
            .await?;
        Ok(newest
            .ids
            .first()
            .map(StreamCursor::of)
            .unwrap_or_else(|| StreamCursor::at("0-0".into())))
    }

    async fn changes_after(
        &self,
        cursor: &StreamCursor,
        wait: Duration,
        max: usize,
    ) -> Result<FeedRead<StreamCursor>, StoreError> {
        let mut blocking = self
            .blocking
            .get_or_try_init(|| crate::redis_link::connect(&self.url, RESPONSE_TIMEOUT))
            .await?
            .clone();
        let options = redis::streams::StreamReadOptions::default()
            .block(wait.as_millis() as usize)
            .count(max);
        let reply: Option<redis::streams::StreamReadReply> = blocking
            .xread_options(&[self.key("changes")], &[&cursor.id], &options)
            .await?;
        let entries: Vec<_> = reply
            .into_iter()
            .flat_map(|r| r.keys)
            .flat_map(|k| k.ids)
            .collect();
        let (Some(first), Some(last)) = (entries.first(), entries.last()) else {
            return Ok(FeedRead::Changes {
                changes: Vec::new(),
                cursor: cursor.clone(),
            });
        };
        let lost = match follows_on(cursor.number, StreamCursor::of(first).number) {
            Some(follows) => !follows,
            // Checked after the read: a trim between the two only costs a needless reload.
            None => self.trimmed_past(&cursor.id).await?,
        };
        if lost {
            return Ok(FeedRead::Lagged);
        }
        Ok(FeedRead::Changes {
            changes: entries.iter().filter_map(change_of).collect(),
            cursor: StreamCursor::of(last),
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
    use super::{follows_on, stream_id_le};

    #[test]
    fn a_gap_in_the_numbers_is_a_trim() {
        assert_eq!(follows_on(Some(7), Some(8)), Some(true));
        assert_eq!(
            follows_on(Some(0), Some(1)),
            Some(true),
            "the stream's first entry"
        );
        assert_eq!(
            follows_on(Some(7), Some(9)),
            Some(false),
            "entry 8 was trimmed"
        );
        assert_eq!(
            follows_on(Some(7), Some(1)),
            Some(false),
            "the stream was made anew"
        );
        assert_eq!(follows_on(Some(7), Some(7)), Some(false));
        assert_eq!(follows_on(Some(u64::MAX), Some(0)), Some(false));
    }

    #[test]
    fn entries_of_earlier_versions_leave_it_to_the_trim_check() {
        assert_eq!(
            follows_on(None, Some(8)),
            None,
            "a cursor from a snapshot or an old entry"
        );
        assert_eq!(
            follows_on(Some(7), None),
            None,
            "an old version wrote the next entry"
        );
        assert_eq!(follows_on(None, None), None);
    }

    #[test]
    fn stream_ids_compare_numerically() {
        assert!(stream_id_le("9-1", "10-0"));
        assert!(stream_id_le("10-2", "10-10"));
        assert!(!stream_id_le("11-0", "10-99"));
        assert!(stream_id_le("5-5", "5-5"));
    }
}
