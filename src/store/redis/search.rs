//! A search of a team's codes on Redis, through the team's search text: 4096 string keys
//! `list-text:{team}:{bucket}`, each the entries of the live codes whose id hashes to that
//! bucket (id, createdAt, updatedAt, displayId lowercased and name key: all a search matches and
//! orders by). The CREATE_QR script appends a code's entry, UPDATE_QR rewrites the code's
//! bucket, and the buckets are built once for a store written before them.
//!
//! A search reads every bucket and matches here: Redis has no substring match of its own that
//! is faster (a Lua script and ZSCAN MATCH were both slower), and parsing one reply per code
//! (what reading the name index meant) was most of a search's time, where a bucket of hundreds
//! of codes is one string. The buckets are read in a few parts at once, each part on a
//! connection of its own. A code is in one bucket, and each bucket is read in one command: a
//! code written during a search is listed once or not at all, never twice.
//!
//! An entry is `NUL NUL id NUL createdAt NUL updatedAt NUL displayId NUL name`: only a name can
//! be empty and none holds a NUL, so two NULs followed by another byte start an entry and
//! nothing else.

use futures::future::try_join_all;
use redis::aio::ConnectionManager;
use redis::AsyncCommands;

use super::{RedisStore, RESPONSE_TIMEOUT};
use crate::store::list::{matches, Hit};
use crate::store::StoreError;

/// Lua: a code's entry in its bucket of the search text, for the scripts that write codes.
/// `text_entry(id, created, updated, member)` is the entry of a code with that name member;
/// `set_text(bucket, id, entry)` puts `entry` in the bucket in place of the code's entry ("":
/// takes it out). A new code's entry is APPENDed, which costs the same at any bucket size.
macro_rules! search_text {
    () => {
        r#"
local function text_entry(id, created, updated, member)
  local name, display = string.match(member, '^([^%z]*)%z[^%z]*%z(.*)$')
  return '\0\0' .. id .. '\0' .. created .. '\0' .. updated .. '\0' .. display .. '\0' .. name
end
local function set_text(bucket, id, entry)
  local text = redis.call('GET', bucket) or ''
  local at = string.find(text, '\0\0' .. id .. '\0', 1, true)
  if at then
    local after = string.find(text, '%z%z[^%z]', at + 2)
    text = string.sub(text, 1, at - 1) .. (after and string.sub(text, after) or '')
  end
  text = text .. entry
  if text == '' then redis.call('DEL', bucket) else redis.call('SET', bucket, text) end
end
"#
    };
}

/// KEYS: the team's name members (`list-names`), live codes by createdAt and by updatedAt, one
/// bucket of its search text. ARGV: the ids of codes of that bucket. Appends the entries of
/// those that are live and not in it yet, from what the list indexes hold when it runs: the
/// one-time build, safe beside writers.
const TEXT_OF_BUCKET: &str = concat!(
    search_text!(),
    r#"
local present = {}
for id in string.gmatch(redis.call('GET', KEYS[4]) or '', '%z%z([^%z]+)') do present[id] = true end
local added = {}
for _, id in ipairs(ARGV) do
  local member = redis.call('HGET', KEYS[1], id)
  local created = redis.call('ZSCORE', KEYS[2], id)
  local updated = redis.call('ZSCORE', KEYS[3], id)
  if member and created and updated and not present[id] then
    added[#added + 1] = text_entry(id, created, updated, member)
  end
end
if #added > 0 then redis.call('APPEND', KEYS[4], table.concat(added)) end
return #added
"#
);

/// Buckets of a team's search text.
const BUCKETS: usize = 4096;
/// Buckets read per MGET: a few MB at 1M codes, so no command holds Redis for long.
const BUCKETS_PER_READ: usize = 256;
/// Parts of a search read at once, each on its own connection.
const PARTS: usize = 4;
/// Set once every stored code is in its team's search text.
const FILLED: &str = "list-text-filled";
/// Buckets the one-time build writes per round trip.
const FILL_BUCKETS: usize = 64;

impl RedisStore {
    /// The key of one bucket of the team's search text.
    fn text_bucket(&self, team_id: &str, bucket: usize) -> String {
        self.key(&format!("list-text:{team_id}:{bucket}"))
    }

    /// The key of the bucket of the team's search text that holds code `id`'s entry.
    pub(super) fn text_key(&self, team_id: &str, id: &str) -> String {
        self.text_bucket(team_id, bucket_of(id))
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
        let reads = links.iter().enumerate().map(|(part, conn)| {
            let keys: Vec<Vec<String>> = (part..BUCKETS / BUCKETS_PER_READ)
                .step_by(PARTS)
                .map(|read| {
                    let first = read * BUCKETS_PER_READ;
                    let buckets = first..first + BUCKETS_PER_READ;
                    buckets.map(|b| self.text_bucket(team_id, b)).collect()
                })
                .collect();
            tokio::spawn(search_part(conn.clone(), keys, search.to_owned()))
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
    /// before it. Each bucket is one script call (pipelined) that reads the list indexes as they
    /// are when it runs, so a code written meanwhile keeps its newest entry.
    pub(super) async fn fill_search_text(&self) -> Result<(), StoreError> {
        let mut conn = self.conn.clone();
        if conn.exists(self.key(FILLED)).await? {
            return Ok(());
        }
        tracing::info!("building each team's search text, once, for codes stored before it");
        let started = std::time::Instant::now();
        let script = redis::Script::new(TEXT_OF_BUCKET);
        for team_id in self.team_ids().await? {
            let team_id = team_id.as_str();
            let [by_created, by_updated, _, names, _] = self.list_keys(team_id);
            let mut buckets = vec![Vec::new(); BUCKETS];
            let ids: Vec<String> = conn
                .smembers(self.key(&format!("team-qrs:{team_id}")))
                .await?;
            for id in ids {
                buckets[bucket_of(&id)].push(id);
            }
            let buckets: Vec<_> = buckets.into_iter().enumerate().collect();
            for round in buckets.chunks(FILL_BUCKETS) {
                let mut pipe = redis::pipe();
                pipe.cmd("SCRIPT").arg("LOAD").arg(TEXT_OF_BUCKET).ignore();
                for (bucket, ids) in round.iter().filter(|(_, ids)| !ids.is_empty()) {
                    let keys = [
                        &names,
                        &by_created,
                        &by_updated,
                        &self.text_bucket(team_id, *bucket),
                    ];
                    let call = pipe.cmd("EVALSHA").arg(script.get_hash()).arg(keys.len());
                    call.arg(&keys[..]).arg(ids).ignore();
                }
                pipe.query_async::<()>(&mut conn).await?;
            }
        }
        conn.set::<_, _, ()>(self.key(FILLED), 1).await?;
        tracing::info!(
            seconds = started.elapsed().as_secs_f64(),
            "search text built"
        );
        Ok(())
    }
}

/// The bucket of the search text that holds code `id`'s entry: the same for every writer, every
/// version (a CRC of the id).
fn bucket_of(id: &str) -> usize {
    crc32fast::hash(id.as_bytes()) as usize % BUCKETS
}

/// The matches of `search` in the buckets named by `keys`, read a batch at a time.
async fn search_part(
    mut conn: ConnectionManager,
    keys: Vec<Vec<String>>,
    search: String,
) -> Result<Vec<Hit>, StoreError> {
    let mut hits = Vec::new();
    for batch in keys {
        let texts: Vec<Option<String>> = conn.mget(&batch).await?;
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
