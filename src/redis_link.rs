//! One way to open a Redis connection for the store and the rollups: a multiplexed connection
//! that reconnects on its own, with a heartbeat so that it does so as soon as Redis is back.
//!
//! redis-rs's `ConnectionManager` only notices a dead connection when a command fails on it, and
//! that command's caller gets the error. Without the heartbeat the first API request after an
//! outage would answer 503 although Redis had been back for minutes.

use std::time::Duration;

use redis::aio::{ConnectionManager, ConnectionManagerConfig};
use redis::RedisError;

const CONNECT_TIMEOUT: Duration = Duration::from_secs(5);
const HEARTBEAT: Duration = Duration::from_secs(1);

/// Connects to `url`; commands fail after `response_timeout` without an answer.
pub async fn connect(
    url: &str,
    response_timeout: Duration,
) -> Result<ConnectionManager, RedisError> {
    let client = redis::Client::open(url)?;
    let config = ConnectionManagerConfig::new()
        .set_response_timeout(Some(response_timeout))
        .set_connection_timeout(Some(CONNECT_TIMEOUT));
    let conn = ConnectionManager::new_with_config(client, config).await?;
    tokio::spawn(heartbeat(conn.clone()));
    Ok(conn)
}

async fn heartbeat(mut conn: ConnectionManager) {
    loop {
        tokio::time::sleep(HEARTBEAT).await;
        // A failure is the point: it makes the manager reconnect. Callers report outages.
        let _: Result<String, RedisError> = redis::cmd("PING").query_async(&mut conn).await;
    }
}
