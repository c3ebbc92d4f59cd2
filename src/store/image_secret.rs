//! The platform's secret for public image URLs: 32 random bytes made the first time they are
//! asked for and kept in the store, so that every API process (and every restart) signs the same
//! URLs, and codes stored before it existed need nothing done to them.

use redb::ReadableTable;

use super::{EmbeddedStore, StoreError, META};

/// Where META keeps it.
const IMAGE_URL_SECRET: &str = "image_url_secret";

/// 32 bytes from the operating system's random generator.
pub(super) fn new_secret() -> [u8; 32] {
    let mut secret = [0; 32];
    getrandom::fill(&mut secret).expect("the operating system's random generator failed");
    secret
}

impl EmbeddedStore {
    /// The secret, made and stored on the first call.
    pub fn image_url_secret(&self) -> Result<[u8; 32], StoreError> {
        let txn = self.db.begin_write()?;
        let secret = {
            let mut meta = txn.open_table(META)?;
            let stored = meta
                .get(IMAGE_URL_SECRET)?
                .and_then(|bytes| <[u8; 32]>::try_from(bytes.value()).ok());
            match stored {
                Some(secret) => secret,
                None => {
                    let secret = new_secret();
                    meta.insert(IMAGE_URL_SECRET, secret.as_slice())?;
                    secret
                }
            }
        };
        txn.commit()?;
        Ok(secret)
    }
}
