//! The list's filters on Redis (see `store/list_filter.rs` for what they are): per team and
//! filter ("type:WEB", "tag:TAG"), a sorted set of its live codes' ids scored by updatedAt, kept
//! by the CREATE_QR and UPDATE_QR scripts with every write and built once for the codes of a
//! store written before it existed.
//!
//! A filtered page by updatedAt is a range of one set (ZRANGE by rank, or past a cursor). A page
//! by name or createdAt without a search walks that order's index when that reads less
//! (`list_walk`). A search with a filter that holds a good share of the team's codes reads the
//! team's search text and keeps the hits every filter holds. Any other reads the ids of the
//! filter with fewer codes, and their name members and times from the list indexes: bounded by
//! how many codes have that type or tag.

use redis::AsyncCommands;

use super::list::split_member;
use super::list_walk::walk_is_cheaper;
use super::RedisStore;
use crate::store::list::{matches, Hit, ListPosition};
use crate::store::list_filter::filters_of;
use crate::store::{QrListQuery, StoreError};

/// Ids read per command when a page reads a whole filter.
const BATCH: isize = 10_000;
/// A search reads the team's search text rather than its filter's codes when the filter holds
/// more than one code in this many (`loadtest/list.sh` at 1M codes: 83k codes read through a
/// filter took ~300 ms, the whole text ~150 ms).
const TEXT_PER_FILTERED: u64 = 16;
/// Set once every stored code is in the filter sets.
const FILLED: &str = "list-filter-filled";

impl RedisStore {
    /// The prefix of the team's filter sets (a filter's set is this plus the filter), which the
    /// scripts extend by the code's filters.
    pub(super) fn filter_key_base(&self, team_id: &str) -> String {
        self.key(&format!("list-filter:{team_id}:"))
    }

    /// The page of a filtered query (`filters` not empty), whether more follow, and how many
    /// codes match on all pages.
    pub(super) async fn filtered_page(
        &self,
        query: &QrListQuery,
        filters: &[String],
    ) -> Result<((Vec<ListPosition>, bool), u64), StoreError> {
        let base = self.filter_key_base(&query.team_id);
        let mut conn = self.conn.clone();
        let mut sized = Vec::with_capacity(filters.len());
        for filter in filters {
            let key = format!("{base}{filter}");
            let count: u64 = conn.zcard(&key).await?;
            sized.push((count, key));
        }
        sized.sort_unstable();
        let (count, driving) = &sized[0];
        if query.is_filter_range(filters) {
            return Ok((self.time_page(query, driving, *count).await?, *count));
        }
        let keys: Vec<&str> = sized.iter().map(|(_, key)| key.as_str()).collect();
        if query.search.is_none() {
            let matching = match keys.len() {
                1 => *count,
                _ => self.in_all_count(&keys).await?,
            };
            if matching == 0 {
                return Ok(((Vec::new(), false), 0));
            }
            let indexed = self.live_qr_count(&query.team_id).await?;
            if walk_is_cheaper(query, (*count, matching, indexed)) {
                let density = matching as f64 / indexed.max(1) as f64;
                return Ok((self.walked_page(query, &keys, density).await?, matching));
            }
        }
        let hits = match &query.search {
            Some(search) if self.text_is_cheaper(query, *count).await? => {
                let hits = self.search(&query.team_id, search).await?;
                self.in_every_set(hits, &keys).await?
            }
            _ => self.filter_hits(query, driving, &keys[1..]).await?,
        };
        let total = hits.len() as u64;
        Ok((query.page_of(hits), total))
    }

    /// Whether a search through the team's whole search text costs less than reading the
    /// `smallest` codes of the query's smallest filter (a code read through a filter costs about
    /// TEXT_PER_FILTERED times one read in the text: its id, name member and times come apart).
    async fn text_is_cheaper(
        &self,
        query: &QrListQuery,
        smallest: u64,
    ) -> Result<bool, StoreError> {
        let indexed = self.live_qr_count(&query.team_id).await?;
        Ok(smallest.saturating_mul(TEXT_PER_FILTERED) > indexed)
    }

    /// The hits that every set of `keys` holds.
    async fn in_every_set(
        &self,
        mut hits: Vec<Hit>,
        keys: &[&str],
    ) -> Result<Vec<Hit>, StoreError> {
        let mut held = Vec::with_capacity(hits.len());
        for chunk in hits.chunks(BATCH as usize) {
            let ids: Vec<&str> = chunk.iter().map(|hit| hit.id.as_str()).collect();
            held.extend(self.held_by_every(keys, &ids).await?);
        }
        let mut held = held.into_iter();
        hits.retain(|_| held.next() == Some(true));
        Ok(hits)
    }

    /// For each of `ids`, whether every set of `keys` holds it (one ZMSCORE a set, pipelined).
    pub(super) async fn held_by_every(
        &self,
        keys: &[&str],
        ids: &[&str],
    ) -> Result<Vec<bool>, StoreError> {
        if keys.is_empty() || ids.is_empty() {
            return Ok(vec![true; ids.len()]);
        }
        let mut pipe = redis::pipe();
        for key in keys {
            pipe.cmd("ZMSCORE").arg(*key).arg(ids);
        }
        let mut conn = self.conn.clone();
        let scores: Vec<Vec<Option<f64>>> = pipe.query_async(&mut conn).await?;
        Ok((0..ids.len())
            .map(|i| scores.iter().all(|set| set[i].is_some()))
            .collect())
    }

    /// The codes of the set `driving` that are in each of `others` too and match the query's
    /// search, with their name keys and times from the list indexes (a code gone meanwhile is
    /// dropped).
    async fn filter_hits(
        &self,
        query: &QrListQuery,
        driving: &str,
        others: &[&str],
    ) -> Result<Vec<Hit>, StoreError> {
        let [by_created, _, _, names, _] = self.list_keys(&query.team_id);
        let mut conn = self.conn.clone();
        let mut hits = Vec::new();
        let mut start = 0;
        loop {
            let batch: Vec<(String, f64)> = conn
                .zrange_withscores(driving, start, start + BATCH - 1)
                .await?;
            let ids: Vec<&str> = batch.iter().map(|(id, _)| id.as_str()).collect();
            if ids.is_empty() {
                return Ok(hits);
            }
            let (members, created): (Vec<Option<String>>, Vec<Option<f64>>) = redis::pipe()
                .cmd("HMGET")
                .arg(&names)
                .arg(&ids)
                .cmd("ZMSCORE")
                .arg(&by_created)
                .arg(&ids)
                .query_async(&mut conn)
                .await?;
            let in_others = self.held_by_every(others, &ids).await?;
            for (i, (id, updated)) in batch.iter().enumerate() {
                let (Some(member), Some(created)) = (&members[i], created[i]) else {
                    continue;
                };
                let Some((name, _, display_id)) = split_member(member) else {
                    continue;
                };
                let in_all = in_others[i];
                let found = query
                    .search
                    .as_ref()
                    .is_none_or(|s| matches(s, name, display_id));
                if in_all && found {
                    hits.push(Hit {
                        id: id.clone(),
                        name_key: name.to_owned(),
                        created: created as u64,
                        updated: *updated as u64,
                    });
                }
            }
            if (batch.len() as isize) < BATCH {
                return Ok(hits);
            }
            start += BATCH;
        }
    }

    /// Puts every stored live code in its filter sets, once: for a store written by a version
    /// before them.
    pub async fn fill_filter_index(&self) -> Result<(), StoreError> {
        let filter_keys = |team_id: &str| self.filter_key_base(team_id);
        self.fill_from_every_code(FILLED, filter_keys, |pipe, base, qr| {
            if qr.deleted {
                return;
            }
            let updated = crate::store::list::millis(qr.updated_at);
            for filter in filters_of(qr) {
                pipe.zadd(format!("{base}{filter}"), &qr.id, updated)
                    .ignore();
            }
        })
        .await
    }
}
