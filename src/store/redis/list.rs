//! The list indexes on Redis (see `store/list.rs` for what they are): kept by the CREATE_QR and
//! UPDATE_QR scripts with every write, read here a page at a time (ZRANGE by rank), and built
//! once for the codes of a store written before they existed.

use futures::TryStreamExt;
use redis::AsyncCommands;

use super::RedisStore;
use crate::model::Qr;
use crate::store::list::{matches, millis, name_key, Hit};
use crate::store::{ListOrder, QrListPage, QrListQuery, StoreError};

/// Members of the name index read per ZRANGE when a search runs through it.
const SEARCH_BATCH: isize = 10_000;
/// Set once every stored code is in the list indexes.
const FILLED: &str = "list-index-filled";

/// A code's member in `list-name:{team}`: its name key, id and displayId, NUL-separated (a name
/// key has no NUL; ids and displayIds never do), so that the set's order is name, then id.
fn name_member(qr: &Qr) -> String {
    format!(
        "{}\0{}\0{}",
        name_key(qr),
        qr.id,
        qr.display_id.to_lowercase()
    )
}

/// The name key, id and lowercased displayId of a name member.
fn split_member(member: &str) -> Option<(&str, &str, &str)> {
    let mut parts = member.splitn(3, '\0');
    Some((parts.next()?, parts.next()?, parts.next()?))
}

/// The list's ARGV of the CREATE_QR and UPDATE_QR scripts: createdAt, updatedAt and the name
/// member ("" for a deleted code, which is not listed).
pub(super) fn script_args(qr: &Qr) -> [String; 3] {
    [
        millis(qr.created_at).to_string(),
        millis(qr.updated_at).to_string(),
        if qr.deleted {
            String::new()
        } else {
            name_member(qr)
        },
    ]
}

impl RedisStore {
    /// The team's five list keys, in the scripts' order: live codes by createdAt, by updatedAt,
    /// by name, each code's name member, and every code by updatedAt.
    pub(super) fn list_keys(&self, team_id: &str) -> [String; 5] {
        [
            "list-created",
            "list-updated",
            "list-name",
            "list-names",
            "list-changes",
        ]
        .map(|index| self.key(&format!("{index}:{team_id}")))
    }

    /// Every code of the team (deleted ones too) updated at or after `from`, oldest change
    /// first.
    pub async fn changed_qrs(&self, team_id: &str, from: i64) -> Result<Vec<Qr>, StoreError> {
        let [.., changes] = self.list_keys(team_id);
        let mut conn = self.conn.clone();
        let ids: Vec<String> = conn.zrangebyscore(changes, millis(from), "+inf").await?;
        self.qrs_by_id(&ids).await
    }

    /// The codes of `ids` that exist, in that order.
    pub(super) async fn qrs_by_id(&self, ids: &[String]) -> Result<Vec<Qr>, StoreError> {
        let mut conn = self.conn.clone();
        let mut qrs = Vec::with_capacity(ids.len());
        for chunk in ids.chunks(1_000) {
            let keys: Vec<String> = chunk
                .iter()
                .map(|id| self.key(&format!("qr:{id}")))
                .collect();
            let texts: Vec<Option<String>> = conn.mget(keys).await?;
            for text in texts.into_iter().flatten() {
                qrs.push(serde_json::from_str(&text).map_err(StoreError::Corrupt)?);
            }
        }
        Ok(qrs)
    }

    /// How many live codes the team has.
    pub async fn live_qr_count(&self, team_id: &str) -> Result<u64, StoreError> {
        let mut conn = self.conn.clone();
        Ok(conn.zcard(&self.list_keys(team_id)[0]).await?)
    }

    /// One page of the team's live codes.
    pub async fn list_qrs(&self, query: &QrListQuery) -> Result<QrListPage, StoreError> {
        let [by_created, by_updated, by_name, ..] = self.list_keys(&query.team_id);
        let mut conn = self.conn.clone();
        let (ids, total) = match &query.search {
            None => {
                let total = self.live_qr_count(&query.team_id).await?;
                let (start, stop) = (query.offset, query.offset + query.limit - 1);
                let mut range = redis::cmd("ZRANGE");
                let key = match query.order {
                    ListOrder::CreatedAt => &by_created,
                    ListOrder::UpdatedAt => &by_updated,
                    ListOrder::Name => &by_name,
                };
                range.arg(key).arg(start).arg(stop);
                if query.descending {
                    range.arg("REV");
                }
                let members: Vec<String> = range.query_async(&mut conn).await?;
                let ids = match query.order {
                    ListOrder::Name => members
                        .iter()
                        .filter_map(|m| split_member(m).map(|(_, id, _)| id.to_owned()))
                        .collect(),
                    _ => members,
                };
                (ids, total)
            }
            Some(search) => {
                let hits = self.search(&by_name, search).await?;
                let hits = self.with_times(hits, &by_created, &by_updated).await?;
                let total = hits.len() as u64;
                (query.page_of(hits), total)
            }
        };
        let qrs = self.qrs_by_id(&ids).await?;
        Ok(QrListPage { qrs, total })
    }

    /// The codes of the name index `by_name` whose name or displayId contains `search`, read in
    /// batches so that no single command holds Redis for long.
    async fn search(&self, by_name: &str, search: &str) -> Result<Vec<Hit>, StoreError> {
        let mut conn = self.conn.clone();
        let mut hits = Vec::new();
        let mut start = 0;
        loop {
            let members: Vec<String> = conn
                .zrange(by_name, start, start + SEARCH_BATCH - 1)
                .await?;
            for member in &members {
                if let Some((name, id, display_id)) = split_member(member) {
                    if matches(search, name, display_id) {
                        hits.push(Hit {
                            id: id.to_owned(),
                            name_key: name.to_owned(),
                            created: 0,
                            updated: 0,
                        });
                    }
                }
            }
            if (members.len() as isize) < SEARCH_BATCH {
                return Ok(hits);
            }
            start += SEARCH_BATCH;
        }
    }

    /// Fills in the hits' createdAt and updatedAt from the time indexes (a hit whose code went
    /// meanwhile is dropped).
    async fn with_times(
        &self,
        hits: Vec<Hit>,
        by_created: &str,
        by_updated: &str,
    ) -> Result<Vec<Hit>, StoreError> {
        let mut conn = self.conn.clone();
        let mut out = Vec::with_capacity(hits.len());
        for chunk in hits.chunks(SEARCH_BATCH as usize) {
            let ids: Vec<&str> = chunk.iter().map(|hit| hit.id.as_str()).collect();
            let (created, updated): (Vec<Option<f64>>, Vec<Option<f64>>) = redis::pipe()
                .cmd("ZMSCORE")
                .arg(by_created)
                .arg(&ids)
                .cmd("ZMSCORE")
                .arg(by_updated)
                .arg(&ids)
                .query_async(&mut conn)
                .await?;
            for ((hit, created), updated) in chunk.iter().zip(created).zip(updated) {
                if let (Some(created), Some(updated)) = (created, updated) {
                    out.push(Hit {
                        id: hit.id.clone(),
                        name_key: hit.name_key.clone(),
                        created: created as u64,
                        updated: updated as u64,
                    });
                }
            }
        }
        Ok(out)
    }

    /// Puts every stored code in the list indexes, once: for a store written by a version
    /// before them. The scripts keep them from then on (a code written while this runs is
    /// indexed by its script either way).
    pub async fn fill_list_index(&self) -> Result<(), StoreError> {
        let mut conn = self.conn.clone();
        if conn.exists(self.key(FILLED)).await? {
            return Ok(());
        }
        let pattern = format!("{}team-qrs:*", glob_escape(&self.prefix));
        let team_keys: Vec<String> = conn.scan_match(pattern).await?.try_collect().await?;
        for team_key in team_keys {
            let team_id = &team_key[self.key("team-qrs:").len()..];
            let [by_created, by_updated, by_name, names, changes] = self.list_keys(team_id);
            for chunk in self.team_qrs(team_id).await?.chunks(1_000) {
                let mut pipe = redis::pipe();
                for qr in chunk {
                    let [created, updated, member] = script_args(qr);
                    pipe.zadd(&changes, &qr.id, &updated).ignore();
                    if qr.deleted {
                        continue;
                    }
                    pipe.zadd(&by_created, &qr.id, created).ignore();
                    pipe.zadd(&by_updated, &qr.id, updated).ignore();
                    pipe.zadd(&by_name, &member, 0).ignore();
                    pipe.hset(&names, &qr.id, &member).ignore();
                }
                pipe.query_async::<()>(&mut conn).await?;
            }
        }
        conn.set::<_, _, ()>(self.key(FILLED), 1).await?;
        Ok(())
    }
}

/// `text` matched literally by a Redis glob pattern.
fn glob_escape(text: &str) -> String {
    let mut out = String::with_capacity(text.len());
    for c in text.chars() {
        if matches!(c, '*' | '?' | '[' | ']' | '\\') {
            out.push('\\');
        }
        out.push(c);
    }
    out
}
