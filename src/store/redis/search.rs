//! A search of a team's codes on Redis, through the team's search text `list-text:{team}`: a
//! hash of 4096 buckets, each one string of the entries of the live codes whose id falls in it
//! (id, createdAt, updatedAt, displayId lowercased and name key: all a search matches and
//! orders by). The CREATE_QR and UPDATE_QR scripts keep it with the name index, and it is built
//! once for a store written before it.
//!
//! A search reads every bucket and matches here: Redis has no substring match of its own that
//! is faster (a Lua script and ZSCAN MATCH were both slower), and parsing one reply per code
//! (what reading the name index meant) was most of a search's time, where a bucket of thousands
//! of codes is one string. The buckets are read in a few parts at once, each part on a
//! connection of its own. A code is in one bucket, and each bucket is read in one command: a
//! code written during a search is listed once or not at all, never twice.
//!
//! An entry is `NUL NUL id NUL createdAt NUL updatedAt NUL displayId NUL name`: only a name can
//! be empty and none holds a NUL, so two NULs followed by another byte start an entry and
//! nothing else.

use futures::future::try_join_all;
use futures::TryStreamExt;
use redis::aio::ConnectionManager;
use redis::AsyncCommands;

use super::{RedisStore, RESPONSE_TIMEOUT};
use crate::store::list::{matches, Hit};
use crate::store::StoreError;

/// Lua: the team's search text, for the scripts that write codes (KEYS and ARGV are theirs).
/// `set_text(key, id, created, updated, member)` puts the code's entry in its bucket in place
/// of any it had; with `member` "" (a deleted code) it only takes it out. The bucket of an id is
/// a hash of its bytes, here alone, so that every writer agrees.
macro_rules! search_text {
    () => {
        r#"
local function text_bucket(id)
  local h = 0
  for i = 1, #id do h = (h * 31 + string.byte(id, i)) % 4096 end
  return h
end
local function set_text(key, id, created, updated, member)
  local bucket = text_bucket(id)
  local text = redis.call('HGET', key, bucket) or ''
  local at = string.find(text, '\0\0' .. id .. '\0', 1, true)
  if at then
    local after = string.find(text, '%z%z[^%z]', at + 2)
    text = string.sub(text, 1, at - 1) .. (after and string.sub(text, after) or '')
  end
  if member ~= '' then
    local name, display = string.match(member, '^([^%z]*)%z[^%z]*%z(.*)$')
    text = text .. '\0\0' .. id .. '\0' .. created .. '\0' .. updated .. '\0' .. display .. '\0' .. name
  end
  if text == '' then redis.call('HDEL', key, bucket) else redis.call('HSET', key, bucket, text) end
end
"#
    };
}

/// KEYS: the team's name members (`list-names`), live codes by createdAt and by updatedAt, its
/// search text. ARGV: a code id. Puts the code's entry in the search text from what the list
/// indexes hold now (nothing for a deleted code): the one-time build, safe beside writers.
const TEXT_OF_CODE: &str = concat!(
    search_text!(),
    r#"
local member = redis.call('HGET', KEYS[1], ARGV[1])
local created = redis.call('ZSCORE', KEYS[2], ARGV[1])
local updated = redis.call('ZSCORE', KEYS[3], ARGV[1])
if not (member and created and updated) then return 0 end
set_text(KEYS[4], ARGV[1], created, updated, member)
return 1
"#
);

/// Buckets of a search text (the Lua above names the same number).
const BUCKETS: usize = 4096;
/// Buckets read per HMGET: a few MB at 1M codes, so no command holds Redis for long.
const BUCKETS_PER_READ: usize = 256;
/// Parts of a search read at once, each on its own connection.
const PARTS: usize = 4;
/// Set once every stored code is in its team's search text.
const FILLED: &str = "list-text-filled";
/// Codes whose entries the one-time build writes per round trip.
const FILL_BATCH: usize = 1_000;

impl RedisStore {
    /// The team's search text.
    pub(super) fn text_key(&self, team_id: &str) -> String {
        self.key(&format!("list-text:{team_id}"))
    }

    /// The team's codes whose name or displayId contains `search`.
    pub(super) async fn search(&self, team_id: &str, search: &str) -> Result<Vec<Hit>, StoreError> {
        let links = self
            .search_links
            .get_or_try_init(|| {
                try_join_all(
                    (0..PARTS).map(|_| crate::redis_link::connect(&self.url, RESPONSE_TIMEOUT)),
                )
            })
            .await?;
        let key = self.text_key(team_id);
        let reads = links.iter().enumerate().map(|(part, conn)| {
            let read = search_part(conn.clone(), key.clone(), part, search.to_owned());
            tokio::spawn(read)
        });
        let mut hits = Vec::new();
        for found in try_join_all(reads)
            .await
            .map_err(|e| StoreError::Io(e.into()))?
        {
            hits.extend(found?);
        }
        Ok(hits)
    }

    /// Puts every live code in its team's search text, once: for a store written by a version
    /// before it. Each code is one script call, pipelined, that reads the list indexes as they
    /// are when it runs, so a code written meanwhile keeps its newest entry.
    pub(super) async fn fill_search_text(&self) -> Result<(), StoreError> {
        let mut conn = self.conn.clone();
        if conn.exists(self.key(FILLED)).await? {
            return Ok(());
        }
        tracing::info!("building each team's search text, once, for codes stored before it");
        let script = redis::Script::new(TEXT_OF_CODE);
        let pattern = format!("{}team-qrs:*", super::glob_escape(&self.prefix));
        let team_sets: Vec<String> = conn.scan_match(pattern).await?.try_collect().await?;
        for team_set in team_sets {
            let team_id = &team_set[self.key("team-qrs:").len()..];
            let [by_created, by_updated, _, names, _] = self.list_keys(team_id);
            let keys = [names, by_created, by_updated, self.text_key(team_id)];
            let ids: Vec<String> = conn.smembers(&team_set).await?;
            for chunk in ids.chunks(FILL_BATCH) {
                let mut pipe = redis::pipe();
                pipe.cmd("SCRIPT").arg("LOAD").arg(TEXT_OF_CODE).ignore();
                for id in chunk {
                    let call = pipe.cmd("EVALSHA").arg(script.get_hash()).arg(keys.len());
                    call.arg(&keys[..]).arg(id).ignore();
                }
                pipe.query_async::<()>(&mut conn).await?;
            }
        }
        conn.set::<_, _, ()>(self.key(FILLED), 1).await?;
        Ok(())
    }
}

/// The matches of `search` in the buckets of part `part` of the search text `key`.
async fn search_part(
    mut conn: ConnectionManager,
    key: String,
    part: usize,
    search: String,
) -> Result<Vec<Hit>, StoreError> {
    let mut hits = Vec::new();
    let reads = BUCKETS / BUCKETS_PER_READ;
    for read in (part..reads).step_by(PARTS) {
        let first = read * BUCKETS_PER_READ;
        let buckets: Vec<usize> = (first..first + BUCKETS_PER_READ).collect();
        let texts: Vec<Option<String>> = redis::cmd("HMGET")
            .arg(&key)
            .arg(&buckets)
            .query_async(&mut conn)
            .await?;
        for text in texts.iter().flatten() {
            hits.extend(
                entries(text)
                    .filter(|entry| entry.matches(&search))
                    .map(Entry::hit),
            );
        }
    }
    Ok(hits)
}

/// A code's entry in a bucket of the search text.
struct Entry<'a> {
    id: &'a str,
    created: u64,
    updated: u64,
    display_id: &'a str,
    name_key: &'a str,
}

impl Entry<'_> {
    fn matches(&self, search: &str) -> bool {
        matches(search, self.name_key, self.display_id)
    }

    fn hit(self) -> Hit {
        Hit {
            id: self.id.to_owned(),
            name_key: self.name_key.to_owned(),
            created: self.created,
            updated: self.updated,
        }
    }
}

/// The entries of a bucket, in order (a malformed tail, which no script writes, ends them).
fn entries(text: &str) -> impl Iterator<Item = Entry<'_>> {
    // Split at NULs, an entry's start gives "" twice at the text's head (before and between
    // its NULs) and once after a name (whose own end is the first NUL).
    let mut fields = text.split('\0').skip(1);
    std::iter::from_fn(move || {
        let ([start, id, created, updated, display_id], Some(name_key)) = (
            std::array::from_fn(|_| fields.next().unwrap_or("-")),
            fields.next(),
        ) else {
            return None;
        };
        let time = |field: &str| field.parse::<f64>().ok().map(|t| t as u64);
        Some(Entry {
            id,
            created: time(created)?,
            updated: time(updated)?,
            display_id,
            name_key,
        })
        .filter(|_| start.is_empty())
    })
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn entries_come_out_as_written_empty_names_too() {
        let text = "\0\0qr_a\x0010\x0020\0shop\0spring sale\0\0qr_b\x001\x002\0x\0\0\0qr_c\x003\x004\0y\0last";
        let read: Vec<_> = entries(text)
            .map(|e| (e.id, e.created, e.updated, e.display_id, e.name_key))
            .collect();
        assert_eq!(
            read,
            [
                ("qr_a", 10, 20, "shop", "spring sale"),
                ("qr_b", 1, 2, "x", ""),
                ("qr_c", 3, 4, "y", "last"),
            ]
        );
        assert_eq!(entries("").count(), 0);
    }
}
