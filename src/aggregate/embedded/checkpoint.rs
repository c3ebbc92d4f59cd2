//! A checkpoint of the embedded analytics' in-memory state and the log position it covers, so
//! that opening replays only the log written after it. One of the four previous versions is
//! read to be upgraded (`Saved::Version4` and down); one that is missing, of another version or
//! damaged is not used and the whole log is replayed (a damaged one is kept beside it as
//! `*.unusable`); one that exists but cannot be read stops the start, since a replay could then
//! only write a checkpoint with fewer counts over it once events were removed.

use std::io::{self, Write};
use std::path::Path;

use fs_err::os::unix::fs::OpenOptionsExt;
use fs_err::{self as fs, File};

use serde::de::DeserializeOwned;
use serde::{Deserialize, Serialize};

use super::event_log::Position;

/// Changes whenever the layout of what is checkpointed changes. Version 4 had no index of each
/// team's events; version 3 no headline counts per team; version 2 no team rollups; version 1
/// kept the two newest UTC days of each code instead of its rollups. All four are read to be
/// upgraded.
const VERSION: u32 = 5;

/// What a usable checkpoint holds: the state in this version's layout, or in an earlier one's.
pub enum Saved<T, V4, V3, V2, V1> {
    Current(T),
    Version4(V4),
    Version3(V3),
    Version2(V2),
    Version1(V1),
}

/// A usable checkpoint: the position it covers and what it holds.
pub type Loaded<T, V4, V3, V2, V1> = (Position, Saved<T, V4, V3, V2, V1>);

/// What `load` finds: a usable checkpoint, or None.
pub type Found<T, V4, V3, V2, V1> = Option<Loaded<T, V4, V3, V2, V1>>;

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
    let temporary = path.with_extension("tmp");
    let file = fs::OpenOptions::new()
        .write(true)
        .create(true)
        .truncate(true)
        .mode(0o600)
        .open(&temporary)?;
    // Written as it is serialized, not built in memory first: a checkpoint of millions of events
    // grew a buffer of its whole size (copied at each doubling, its pages faulted in anew).
    let out = io::BufWriter::with_capacity(
        1 << 20,
        Crc32Writer {
            inner: file,
            crc: crc32fast::Hasher::new(),
        },
    );
    let written = Written {
        version,
        covers,
        state,
    };
    let out = postcard::to_io(&written, out).map_err(io::Error::other)?;
    let Crc32Writer { mut inner, crc } =
        out.into_inner().map_err(io::IntoInnerError::into_error)?;
    inner.write_all(&crc.finalize().to_le_bytes())?;
    inner.sync_all()?;
    fs::rename(&temporary, path)?;
    if let Some(dir) = path.parent() {
        File::open(dir)?.sync_all()?;
    }
    Ok(())
}

/// Passes bytes on to `inner`, keeping the CRC-32 of all of them.
struct Crc32Writer<W> {
    inner: W,
    crc: crc32fast::Hasher,
}

impl<W: Write> Write for Crc32Writer<W> {
    fn write(&mut self, buf: &[u8]) -> io::Result<usize> {
        let written = self.inner.write(buf)?;
        self.crc.update(&buf[..written]);
        Ok(written)
    }

    fn flush(&mut self) -> io::Result<()> {
        self.inner.flush()
    }
}

/// Writes a checkpoint of an earlier version, as that version did (`state` in its layout).
#[cfg(test)]
pub fn save_earlier<T: Serialize>(
    path: &Path,
    version: u32,
    covers: Position,
    state: &T,
) -> io::Result<()> {
    assert!(version < VERSION);
    save_version(path, version, covers, state)
}

/// The state saved at `path` and the position it covers, or None when there is no usable one.
/// Err when the file exists but cannot be read.
pub fn load<T, V4, V3, V2, V1>(path: &Path) -> io::Result<Found<T, V4, V3, V2, V1>>
where
    T: DeserializeOwned,
    V4: DeserializeOwned,
    V3: DeserializeOwned,
    V2: DeserializeOwned,
    V1: DeserializeOwned,
{
    let bytes = match fs::read(path) {
        Ok(bytes) => bytes,
        Err(e) if e.kind() == io::ErrorKind::NotFound => return Ok(None),
        Err(e) => return Err(e),
    };
    let read = bytes
        .split_last_chunk::<4>()
        .filter(|(body, crc)| crc32fast::hash(body) == u32::from_le_bytes(**crc))
        .and_then(|(body, _)| decode(body));
    if read.is_none() {
        let aside = path.with_extension("checkpoint.unusable");
        tracing::warn!(file = %path.display(), kept_as = %aside.display(), "the analytics checkpoint is unusable (damaged, or of another version); replaying the event log");
        fs::rename(path, &aside)?;
    }
    Ok(read)
}

/// A checkpoint's body in this version's layout or an earlier one's, as its version says.
fn decode<T, V4, V3, V2, V1>(body: &[u8]) -> Found<T, V4, V3, V2, V1>
where
    T: DeserializeOwned,
    V4: DeserializeOwned,
    V3: DeserializeOwned,
    V2: DeserializeOwned,
    V1: DeserializeOwned,
{
    let (version, _) = postcard::take_from_bytes::<u32>(body).ok()?;
    fn read<S: DeserializeOwned>(body: &[u8]) -> Option<(Position, S)> {
        let read = postcard::from_bytes::<Read<S>>(body).ok()?;
        Some((read.covers, read.state))
    }
    match version {
        VERSION => read(body).map(|(at, state)| (at, Saved::Current(state))),
        4 => read(body).map(|(at, state)| (at, Saved::Version4(state))),
        3 => read(body).map(|(at, state)| (at, Saved::Version3(state))),
        2 => read(body).map(|(at, state)| (at, Saved::Version2(state))),
        1 => read(body).map(|(at, state)| (at, Saved::Version1(state))),
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
            load::<Vec<u64>, (), (), (), ()>(path)
                .unwrap()
                .map(|(at, saved)| match saved {
                    Saved::Current(state) => (at, state),
                    Saved::Version4(())
                    | Saved::Version3(())
                    | Saved::Version2(())
                    | Saved::Version1(()) => {
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
