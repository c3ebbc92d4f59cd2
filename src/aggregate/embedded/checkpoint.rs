//! A checkpoint of the embedded analytics' in-memory state and the log position it covers, so
//! that opening replays only the log written after it. One of the two previous versions is read
//! to be upgraded (`Saved::Previous`, `Saved::First`); one that is missing, of another version or damaged is not
//! used and the whole log is replayed (a damaged one is kept beside it as `*.unusable`); one
//! that exists but cannot be read stops the start, since a replay could then only write a
//! checkpoint with fewer counts over it once events were removed.

use std::io::{self, Write};
use std::path::Path;

use fs_err::os::unix::fs::OpenOptionsExt;
use fs_err::{self as fs, File};

use serde::de::DeserializeOwned;
use serde::{Deserialize, Serialize};

use super::event_log::Position;

/// Changes whenever the layout of what is checkpointed changes. Version 2 had no team rollups
/// (`Saved::Previous`); version 1 kept the two newest UTC days of each code instead of its
/// rollups (`Saved::First`); both are read to be upgraded.
const VERSION: u32 = 3;
const PREVIOUS_VERSION: u32 = 2;
const FIRST_VERSION: u32 = 1;

/// What a usable checkpoint holds: the state in this version's layout, or in an earlier one's.
pub enum Saved<T, Previous, First> {
    Current(T),
    Previous(Previous),
    First(First),
}

/// A usable checkpoint: the position it covers and what it holds.
pub type Loaded<T, Previous, First> = (Position, Saved<T, Previous, First>);

#[derive(Serialize)]
struct Written<'a, T> {
    version: u32,
    covers: Position,
    state: &'a T,
}

#[derive(Deserialize)]
struct Read<T> {
    /// Read first on its own (`decode`), to choose the layout of the rest.
    _version: u32,
    covers: Position,
    state: T,
}

/// Writes `state`, which holds every record before `covers`, to `path` atomically (a temporary
/// file, fsynced, renamed over the old checkpoint).
pub fn save<T: Serialize>(path: &Path, covers: Position, state: &T) -> io::Result<()> {
    save_version(path, VERSION, covers, state)
}

fn save_version<T: Serialize>(
    path: &Path,
    version: u32,
    covers: Position,
    state: &T,
) -> io::Result<()> {
    let mut bytes = postcard::to_stdvec(&Written {
        version,
        covers,
        state,
    })
    .map_err(io::Error::other)?;
    let crc = crc32fast::hash(&bytes);
    bytes.extend_from_slice(&crc.to_le_bytes());
    let temporary = path.with_extension("tmp");
    let mut file = fs::OpenOptions::new()
        .write(true)
        .create(true)
        .truncate(true)
        .mode(0o600)
        .open(&temporary)?;
    file.write_all(&bytes)?;
    file.sync_all()?;
    fs::rename(&temporary, path)?;
    if let Some(dir) = path.parent() {
        File::open(dir)?.sync_all()?;
    }
    Ok(())
}

/// Writes a checkpoint in the previous version's layout, as that version did.
#[cfg(test)]
pub fn save_previous<T: Serialize>(path: &Path, covers: Position, state: &T) -> io::Result<()> {
    save_version(path, PREVIOUS_VERSION, covers, state)
}

/// Writes a checkpoint in the first version's layout, as that version did.
#[cfg(test)]
pub fn save_first<T: Serialize>(path: &Path, covers: Position, state: &T) -> io::Result<()> {
    save_version(path, FIRST_VERSION, covers, state)
}

/// The state saved at `path` and the position it covers, or None when there is no usable one.
/// Err when the file exists but cannot be read.
pub fn load<T: DeserializeOwned, Previous: DeserializeOwned, First: DeserializeOwned>(
    path: &Path,
) -> io::Result<Option<Loaded<T, Previous, First>>> {
    let bytes = match fs::read(path) {
        Ok(bytes) => bytes,
        Err(e) if e.kind() == io::ErrorKind::NotFound => return Ok(None),
        Err(e) => return Err(e),
    };
    let read = bytes
        .split_last_chunk::<4>()
        .filter(|(body, crc)| crc32fast::hash(body) == u32::from_le_bytes(**crc))
        .and_then(|(body, _)| decode::<T, Previous, First>(body));
    if read.is_none() {
        let aside = path.with_extension("checkpoint.unusable");
        tracing::warn!(file = %path.display(), kept_as = %aside.display(), "the analytics checkpoint is unusable (damaged, or of another version); replaying the event log");
        fs::rename(path, &aside)?;
    }
    Ok(read)
}

/// A checkpoint's body in this version's layout or an earlier one's, as its version says.
fn decode<T: DeserializeOwned, Previous: DeserializeOwned, First: DeserializeOwned>(
    body: &[u8],
) -> Option<Loaded<T, Previous, First>> {
    let (version, _) = postcard::take_from_bytes::<u32>(body).ok()?;
    match version {
        VERSION => {
            let read = postcard::from_bytes::<Read<T>>(body).ok()?;
            Some((read.covers, Saved::Current(read.state)))
        }
        PREVIOUS_VERSION => {
            let read = postcard::from_bytes::<Read<Previous>>(body).ok()?;
            Some((read.covers, Saved::Previous(read.state)))
        }
        FIRST_VERSION => {
            let read = postcard::from_bytes::<Read<First>>(body).ok()?;
            Some((read.covers, Saved::First(read.state)))
        }
        _ => None,
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn a_checkpoint_reads_back_and_a_damaged_one_is_ignored() {
        let dir = tempfile::tempdir().unwrap();
        let path = dir.path().join("state.checkpoint");
        let read = |path: &Path| {
            load::<Vec<u64>, (), ()>(path)
                .unwrap()
                .map(|(at, saved)| match saved {
                    Saved::Current(state) => (at, state),
                    Saved::Previous(()) | Saved::First(()) => {
                        panic!("saved as the current version")
                    }
                })
        };
        assert!(read(&path).is_none());
        let at = Position {
            segment: 3,
            offset: 99,
        };
        save(&path, at, &vec![1u64, 2, 3]).unwrap();
        assert_eq!(read(&path), Some((at, vec![1, 2, 3])));
        let mut bytes = fs::read(&path).unwrap();
        bytes[2] ^= 0xff;
        fs::write(&path, &bytes).unwrap();
        assert!(read(&path).is_none());
        let aside = dir.path().join("state.checkpoint.unusable");
        assert_eq!(fs::read(aside).unwrap(), bytes, "kept for a look");
        assert!(!path.exists());
    }
}
