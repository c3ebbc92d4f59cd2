//! The platform's secret for public image URLs on Redis (see `store/image_secret.rs`): set once
//! with SET NX, so that API processes starting together agree on one.

use redis::AsyncCommands;

use super::RedisStore;
use crate::store::image_secret::new_secret;
use crate::store::StoreError;

const KEY: &str = "image-url-secret";

impl RedisStore {
    /// The secret, made and stored on the first call of any process.
    pub async fn image_url_secret(&self) -> Result<[u8; 32], StoreError> {
        let mut conn = self.conn.clone();
        let key = self.key(KEY);
        let _: bool = conn.set_nx(&key, hex::encode(new_secret())).await?;
        let stored: String = conn.get(&key).await?;
        hex::decode(&stored)
            .ok()
            .and_then(|bytes| <[u8; 32]>::try_from(bytes).ok())
            .ok_or_else(|| {
                StoreError::Io(std::io::Error::other(format!(
                    "{key} in Redis is not 32 bytes in hex"
                )))
            })
    }
}
