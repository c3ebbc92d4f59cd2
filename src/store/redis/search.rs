//! A search of a team's codes on Redis: the name index (`list-name:{team}`, whose members hold
//! each code's name key, id and displayId) read whole and matched here, since Redis has no
//! substring match of its own that is faster (a Lua script and ZSCAN MATCH were both slower).
//!
//! Most of a search's time is this process parsing Redis's replies, so the index is read in a
//! few parts at once, each on a connection of its own (each connection parses its replies in its
//! own task), each part a walk of ZRANGE BYLEX batches, every batch from just past the last
//! member of the one before. The parts are split at members read in one atomic step: a member is
//! in exactly one part, so that codes written during a search neither hide a match nor list it
//! twice (a walk by rank would: a code created before the walk's place shifts it).

use futures::future::try_join_all;
use redis::aio::ConnectionManager;
use redis::AsyncCommands;

use super::list::split_member;
use super::{RedisStore, RESPONSE_TIMEOUT};
use crate::store::list::{matches, Hit};
use crate::store::StoreError;

/// Members of the name index read per ZRANGE: no single command holds Redis for long.
const BATCH: usize = 10_000;
/// Parts of the name index read at once (at most; one per BATCH members).
const PARTS: usize = 4;

impl RedisStore {
    /// The codes of the name index `by_name` whose name or displayId contains `search`.
    pub(super) async fn search(&self, by_name: &str, search: &str) -> Result<Vec<Hit>, StoreError> {
        let links = self
            .search_links
            .get_or_try_init(|| {
                try_join_all(
                    (0..PARTS).map(|_| crate::redis_link::connect(&self.url, RESPONSE_TIMEOUT)),
                )
            })
            .await?;
        let parts = self.parts_of(by_name).await?;
        let walks = parts.into_iter().zip(links).map(|(part, conn)| {
            let walk = walk_matching(conn.clone(), by_name.to_owned(), part, search.to_owned());
            tokio::spawn(walk)
        });
        let mut hits = Vec::new();
        for found in try_join_all(walks)
            .await
            .map_err(|e| StoreError::Io(e.into()))?
        {
            hits.extend(found?);
        }
        Ok(hits)
    }

    /// The name index split into about equal parts (ZRANGE BYLEX bounds, from and to), at
    /// members read in one atomic step.
    async fn parts_of(&self, by_name: &str) -> Result<Vec<(String, String)>, StoreError> {
        let mut conn = self.conn.clone();
        let total: usize = conn.zcard(by_name).await?;
        let parts = total.div_ceil(BATCH).clamp(1, PARTS);
        let mut firsts: Vec<String> = Vec::new();
        if parts > 1 {
            let mut pipe = redis::pipe();
            pipe.atomic();
            for part in 1..parts {
                let rank = (total * part / parts) as isize;
                pipe.zrange(by_name, rank, rank);
            }
            let read: Vec<Vec<String>> = pipe.query_async(&mut conn).await?;
            firsts = read.into_iter().flatten().collect();
        }
        let froms = std::iter::once("-".to_owned()).chain(firsts.iter().map(|m| format!("[{m}")));
        let tos = firsts
            .iter()
            .map(|m| format!("({m}"))
            .chain(["+".to_owned()]);
        Ok(froms.zip(tos).collect())
    }
}

/// The matches of `search` among the members of `by_name` within `part` (ZRANGE BYLEX bounds).
async fn walk_matching(
    mut conn: ConnectionManager,
    by_name: String,
    (mut from, to): (String, String),
    search: String,
) -> Result<Vec<Hit>, StoreError> {
    let mut hits = Vec::new();
    loop {
        let batch: Vec<String> = redis::cmd("ZRANGE")
            .arg(&by_name)
            .arg(&from)
            .arg(&to)
            .arg("BYLEX")
            .arg("LIMIT")
            .arg(0)
            .arg(BATCH)
            .query_async(&mut conn)
            .await?;
        hits.extend(batch.iter().filter_map(|member| hit_of(member, &search)));
        match batch.last() {
            Some(last) if batch.len() == BATCH => from = format!("({last}"),
            _ => return Ok(hits),
        }
    }
}

/// The code of a name member, if its name or displayId contains `search`.
fn hit_of(member: &str, search: &str) -> Option<Hit> {
    let (name, id, display_id) = split_member(member)?;
    matches(search, name, display_id).then(|| Hit {
        id: id.to_owned(),
        name_key: name.to_owned(),
        created: 0,
        updated: 0,
    })
}
