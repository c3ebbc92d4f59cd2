//! Pages of a Redis sorted set in (score, member) order that start just past a position (where
//! an earlier page ended), for the store's list indexes and the rollups' events. A position is a
//! place, not an offset: members added or removed before it do not shift the next page.
//!
//! ZRANGEBYSCORE alone cannot start inside a score shared by many members (codes imported in one
//! millisecond), so a script finds the place among them (Redis orders them byte by byte).

use redis::aio::ConnectionManager;
use redis::{RedisError, Script};

const PAGE_AFTER: &str = include_str!("redis_page.lua");

/// Up to `count` members of `key` just past (`score`, `member`), ascending or descending, with
/// their scores.
pub async fn page_after(
    conn: &mut ConnectionManager,
    key: &str,
    (score, member): (i64, &str),
    count: usize,
    descending: bool,
) -> Result<Vec<(String, i64)>, RedisError> {
    let page: Vec<(String, f64)> = Script::new(PAGE_AFTER)
        .key(key)
        .arg(score)
        .arg(member)
        .arg(count)
        .arg(if descending { "desc" } else { "asc" })
        .invoke_async(conn)
        .await?;
    // Scores here are epoch milliseconds, integers well within f64's exact range.
    Ok(page
        .into_iter()
        .map(|(member, score)| (member, score as i64))
        .collect())
}
