//! The list indexes on Redis (see `store/list.rs` for what they are): kept by the CREATE_QR and
//! UPDATE_QR scripts with every write, read here a page at a time (ZRANGE by rank; a search
//! reads the team's search text in `search.rs`), and built once for the codes of a store written
//! before they existed.

use futures::TryStreamExt;
use redis::AsyncCommands;

use super::{decode_at, RedisStore};
use crate::model::Qr;
use crate::redis_page::page_after;
use crate::store::list::{millis, name_key, ListPosition, PageStart};
use crate::store::{ListOrder, QrListPage, QrListQuery, StoreError};

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
pub(super) fn split_member(member: &str) -> Option<(&str, &str, &str)> {
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

    /// Where the team's changes (every code, deleted ones too, by updatedAt) are just past
    /// `after`, oldest first, at most `limit`.
    pub async fn changes(
        &self,
        team_id: &str,
        after: &ListPosition,
        limit: usize,
    ) -> Result<Vec<ListPosition>, StoreError> {
        let Some((time, id)) = after.in_time() else {
            return Ok(Vec::new());
        };
        let [.., changes] = self.list_keys(team_id);
        let mut conn = self.conn.clone();
        let page = page_after(&mut conn, &changes, (time as i64, id), limit, false).await?;
        Ok(page
            .into_iter()
            .map(|(id, time)| ListPosition::Time(millis(time), id))
            .collect())
    }

    /// The codes of `ids` that exist, in that order.
    pub async fn qrs_by_id(&self, ids: &[impl AsRef<str>]) -> Result<Vec<Qr>, StoreError> {
        let mut conn = self.conn.clone();
        let mut qrs = Vec::with_capacity(ids.len());
        for chunk in ids.chunks(1_000) {
            let keys: Vec<String> = chunk
                .iter()
                .map(|id| self.key(&format!("qr:{}", id.as_ref())))
                .collect();
            let texts: Vec<Option<String>> = conn.mget(&keys).await?;
            for (key, text) in keys.iter().zip(texts) {
                if let Some(text) = text {
                    qrs.push(decode_at(key, &text)?);
                }
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
        let filters = query.filters();
        let ((page, more), total) = match &query.search {
            _ if !filters.is_empty() => self.filtered_page(query, &filters).await?,
            Some(search) => {
                let hits = self.search(&query.team_id, search).await?;
                let total = hits.len() as u64;
                (query.page_of(hits), total)
            }
            None => {
                let total = self.live_qr_count(&query.team_id).await?;
                let page = match query.order {
                    ListOrder::CreatedAt => self.time_page(query, &by_created, total).await?,
                    ListOrder::UpdatedAt => self.time_page(query, &by_updated, total).await?,
                    ListOrder::Name => self.name_page(query, &by_name, total).await?,
                };
                (page, total)
            }
        };
        let ids: Vec<&str> = page.iter().map(ListPosition::id).collect();
        let qrs = self.qrs_by_id(&ids).await?;
        let next = if more { page.last().cloned() } else { None };
        Ok(QrListPage { qrs, total, next })
    }

    /// A page of a time index (members: ids, scores: times), and whether more follow.
    pub(super) async fn time_page(
        &self,
        query: &QrListQuery,
        key: &str,
        total: u64,
    ) -> Result<(Vec<ListPosition>, bool), StoreError> {
        let mut conn = self.conn.clone();
        let members: Vec<(String, i64)> = match &query.start {
            PageStart::Offset(offset) => {
                let mut range = redis::cmd("ZRANGE");
                range.arg(key).arg(offset).arg(offset + query.limit - 1);
                if query.descending {
                    range.arg("REV");
                }
                let page: Vec<(String, f64)> =
                    range.arg("WITHSCORES").query_async(&mut conn).await?;
                let more = ((offset + query.limit) as u64) < total;
                let page = page
                    .into_iter()
                    .map(|(id, time)| ListPosition::Time(millis(time as i64), id));
                return Ok((page.collect(), more));
            }
            PageStart::After(after) => {
                let Some((time, id)) = after.in_time() else {
                    return Ok((Vec::new(), false));
                };
                let (position, count) = ((time as i64, id), query.limit + 1);
                page_after(&mut conn, key, position, count, query.descending).await?
            }
        };
        Ok(query.cut(
            members
                .into_iter()
                .map(|(id, time)| ListPosition::Time(millis(time), id)),
        ))
    }

    /// A page of the name index (members: name key, id and displayId), and whether more follow.
    async fn name_page(
        &self,
        query: &QrListQuery,
        key: &str,
        total: u64,
    ) -> Result<(Vec<ListPosition>, bool), StoreError> {
        let mut conn = self.conn.clone();
        let mut range = redis::cmd("ZRANGE");
        range.arg(key);
        let more = match &query.start {
            PageStart::Offset(offset) => {
                range.arg(offset).arg(offset + query.limit - 1);
                if query.descending {
                    range.arg("REV");
                }
                Some(((offset + query.limit) as u64) < total)
            }
            PageStart::After(after) => {
                let Some((name, id)) = after.in_names() else {
                    return Ok((Vec::new(), false));
                };
                // Members sort by name, then id (NUL separates them): ascending, every member
                // of (name, id) sorts before "name NUL id \x01", and descending after "name NUL
                // id NUL", so both bounds leave out the position's own code and nothing else.
                if query.descending {
                    range
                        .arg(format!("({name}\0{id}\0"))
                        .arg("-")
                        .arg("BYLEX")
                        .arg("REV");
                } else {
                    range
                        .arg(format!("({name}\0{id}\x01"))
                        .arg("+")
                        .arg("BYLEX");
                }
                range.arg("LIMIT").arg(0).arg(query.limit + 1);
                None
            }
        };
        let members: Vec<String> = range.query_async(&mut conn).await?;
        let positions = members.iter().filter_map(|member| {
            let (name, id, _) = split_member(member)?;
            Some(ListPosition::Name(name.to_owned(), id.to_owned()))
        });
        Ok(match more {
            Some(more) => (positions.collect(), more),
            None => query.cut(positions),
        })
    }

    /// Puts every stored code in the list indexes, once: for a store written by a version
    /// before them.
    pub async fn fill_list_index(&self) -> Result<(), StoreError> {
        let list_keys = |team_id: &str| self.list_keys(team_id);
        self.fill_from_every_code(FILLED, list_keys, |pipe, keys, qr| {
            let [by_created, by_updated, by_name, names, changes] = keys;
            let [created, updated, member] = script_args(qr);
            pipe.zadd(changes, &qr.id, &updated).ignore();
            if !qr.deleted {
                pipe.zadd(by_created, &qr.id, created).ignore();
                pipe.zadd(by_updated, &qr.id, updated).ignore();
                pipe.zadd(by_name, &member, 0).ignore();
                pipe.hset(names, &qr.id, &member).ignore();
            }
        })
        .await
    }

    /// Fills an index from every stored code (deleted ones too) of every team, once, for a store
    /// written by a version before it: `add` puts a code in it, given what `team_keys` named for
    /// the code's team, 1 000 codes a round trip; then the flag `filled` is set. The scripts
    /// keep the index from then on (a code written while this runs is indexed by its script
    /// either way).
    pub(super) async fn fill_from_every_code<K: Send>(
        &self,
        filled: &str,
        team_keys: impl Fn(&str) -> K + Send + Sync,
        add: impl Fn(&mut redis::Pipeline, &K, &Qr) + Send + Sync,
    ) -> Result<(), StoreError> {
        let mut conn = self.conn.clone();
        if conn.exists(self.key(filled)).await? {
            return Ok(());
        }
        for team_id in self.team_ids().await? {
            let keys = team_keys(&team_id);
            for chunk in self.team_qrs(&team_id).await?.chunks(1_000) {
                let mut pipe = redis::pipe();
                for qr in chunk {
                    add(&mut pipe, &keys, qr);
                }
                pipe.query_async::<()>(&mut conn).await?;
            }
        }
        conn.set::<_, _, ()>(self.key(filled), 1).await?;
        Ok(())
    }

    /// The ids of every team that has codes (deleted ones too), from the keys of their sets.
    pub(super) async fn team_ids(&self) -> Result<Vec<String>, StoreError> {
        let mut conn = self.conn.clone();
        let pattern = format!("{}team-qrs:*", glob_escape(&self.prefix));
        let team_sets: Vec<String> = conn.scan_match(pattern).await?.try_collect().await?;
        let skip = self.key("team-qrs:").len();
        Ok(team_sets
            .into_iter()
            .map(|set| set[skip..].to_owned())
            .collect())
    }
}

/// `text` matched literally by a Redis glob pattern.
pub(crate) fn glob_escape(text: &str) -> String {
    let mut out = String::with_capacity(text.len());
    for c in text.chars() {
        if matches!(c, '*' | '?' | '[' | ']' | '\\') {
            out.push('\\');
        }
        out.push(c);
    }
    out
}
