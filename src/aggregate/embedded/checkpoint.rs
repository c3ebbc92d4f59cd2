//! A checkpoint of the embedded analytics' in-memory state and the log position it covers, so
//! that opening replays only the log written after it. The log stays the truth: a checkpoint
//! that is missing, from another version or damaged is ignored and the whole log is replayed.

use std::fs::{self, File};
use std::io::{self, Write};
use std::path::Path;

use serde::de::DeserializeOwned;
use serde::{Deserialize, Serialize};

use super::event_log::Position;

/// Changes whenever the layout of what is checkpointed changes.
const VERSION: u32 = 1;

#[derive(Serialize)]
struct Written<'a, T> {
    version: u32,
    covers: Position,
    state: &'a T,
}

#[derive(Deserialize)]
struct Read<T> {
    version: u32,
    covers: Position,
    state: T,
}

/// Writes `state`, which holds every record before `covers`, to `path` atomically (a temporary
/// file, fsynced, renamed over the old checkpoint).
pub fn save<T: Serialize>(path: &Path, covers: Position, state: &T) -> io::Result<()> {
    let mut bytes = postcard::to_stdvec(&Written {
        version: VERSION,
        covers,
        state,
    })
    .map_err(io::Error::other)?;
    let crc = crc32fast::hash(&bytes);
    bytes.extend_from_slice(&crc.to_le_bytes());
    let temporary = path.with_extension("tmp");
    let mut file = File::create(&temporary)?;
    file.write_all(&bytes)?;
    file.sync_all()?;
    fs::rename(&temporary, path)?;
    if let Some(dir) = path.parent() {
        File::open(dir)?.sync_all()?;
    }
    Ok(())
}

/// The state saved at `path` and the position it covers, or None when there is no usable one.
pub fn load<T: DeserializeOwned>(path: &Path) -> Option<(Position, T)> {
    let bytes = match fs::read(path) {
        Ok(bytes) => bytes,
        Err(e) if e.kind() == io::ErrorKind::NotFound => return None,
        Err(e) => {
            tracing::warn!(file = %path.display(), error = %e, "cannot read the analytics checkpoint; replaying the event log");
            return None;
        }
    };
    let (body, crc) = bytes.split_last_chunk::<4>()?;
    let read = (crc32fast::hash(body) == u32::from_le_bytes(*crc))
        .then(|| postcard::from_bytes::<Read<T>>(body).ok())
        .flatten()
        .filter(|read| read.version == VERSION);
    if read.is_none() {
        tracing::warn!(file = %path.display(), "the analytics checkpoint is unusable; replaying the event log");
    }
    read.map(|read| (read.covers, read.state))
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn a_checkpoint_reads_back_and_a_damaged_one_is_ignored() {
        let dir = tempfile::tempdir().unwrap();
        let path = dir.path().join("state.checkpoint");
        assert!(load::<Vec<u64>>(&path).is_none());
        let at = Position {
            segment: 3,
            offset: 99,
        };
        save(&path, at, &vec![1u64, 2, 3]).unwrap();
        assert_eq!(load::<Vec<u64>>(&path), Some((at, vec![1, 2, 3])));
        let mut bytes = fs::read(&path).unwrap();
        bytes[2] ^= 0xff;
        fs::write(&path, bytes).unwrap();
        assert!(load::<Vec<u64>>(&path).is_none());
    }
}
