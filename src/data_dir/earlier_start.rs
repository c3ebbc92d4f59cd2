//! A first start creates an organization, a team and an owner, and writes bootstrap.json. A store
//! that is empty (a store.redb lost or moved, a wrong `data_dir`, `redis.url` or
//! `redis.key_prefix`) next to a data directory that qredge ran in before is no first start: it
//! would hide every code behind a new organization. qredge refuses it, naming what it found.

use std::io;
use std::path::{Path, PathBuf};

use crate::aggregate::embedded::{CHECKPOINT_FILE, EVENTS_DIR};
use crate::store::BOOTSTRAP_FILE;

/// The store is empty, but the data directory holds what an earlier start left.
#[derive(Debug, thiserror::Error)]
#[error(
    "the store holds no organization, but the data directory {} holds what an earlier start \
     left: {}. Is the store missing or configured wrong (data_dir, redis.url, \
     redis.key_prefix)? Put it back and start again. To start afresh on purpose, move these \
     files out of the data directory first (bootstrap.json is never overwritten).",
    .data_dir.display(),
    list(.found)
)]
pub struct LostStore {
    pub data_dir: PathBuf,
    pub found: Vec<PathBuf>,
}

fn list(found: &[PathBuf]) -> String {
    let names: Vec<String> = found.iter().map(|p| p.display().to_string()).collect();
    names.join(", ")
}

/// The files in `data_dir` that only an earlier start leaves: bootstrap.json, event log segments
/// that hold records, the analytics checkpoint, the analytics of an earlier version, spooled
/// scans. (Empty segments and directories are made by any start, this one included.)
pub fn traces_of_earlier_start(data_dir: &Path) -> io::Result<Vec<PathBuf>> {
    let mut found = Vec::new();
    for name in [
        BOOTSTRAP_FILE,
        CHECKPOINT_FILE,
        "analytics.redb",
        "analytics.redb.imported",
    ] {
        let path = data_dir.join(name);
        if exists(&path)? {
            found.push(path);
        }
    }
    found.extend(files_with_content(&data_dir.join(EVENTS_DIR))?);
    found.extend(files_with_content(&data_dir.join(super::SPOOL_DIR))?);
    Ok(found)
}

/// Refuses a first start in `data_dir` when it was used before (see [`LostStore`]).
pub fn refuse_if_used(data_dir: &Path) -> io::Result<Result<(), LostStore>> {
    let found = traces_of_earlier_start(data_dir)?;
    if found.is_empty() {
        return Ok(Ok(()));
    }
    Ok(Err(LostStore {
        data_dir: data_dir.to_owned(),
        found,
    }))
}

fn exists(path: &Path) -> io::Result<bool> {
    match fs_err::symlink_metadata(path) {
        Ok(_) => Ok(true),
        Err(e) if e.kind() == io::ErrorKind::NotFound => Ok(false),
        Err(e) => Err(e),
    }
}

/// The non-empty files directly in `dir`, sorted; none when it does not exist.
fn files_with_content(dir: &Path) -> io::Result<Vec<PathBuf>> {
    let entries = match fs_err::read_dir(dir) {
        Ok(entries) => entries,
        Err(e) if e.kind() == io::ErrorKind::NotFound => return Ok(Vec::new()),
        Err(e) => return Err(e),
    };
    let mut found = Vec::new();
    for entry in entries {
        let entry = entry?;
        let metadata = entry.metadata()?;
        if metadata.is_file() && metadata.len() > 0 {
            found.push(entry.path());
        }
    }
    found.sort();
    Ok(found)
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn only_what_an_earlier_start_leaves_counts() {
        let dir = tempfile::tempdir().unwrap();
        let data = dir.path();
        std::fs::create_dir_all(data.join(EVENTS_DIR)).unwrap();
        std::fs::write(data.join(EVENTS_DIR).join("00000001.log"), b"").unwrap();
        assert!(traces_of_earlier_start(data).unwrap().is_empty());
        std::fs::write(data.join(EVENTS_DIR).join("00000001.log"), b"record").unwrap();
        std::fs::write(data.join(BOOTSTRAP_FILE), b"{}").unwrap();
        let refused = refuse_if_used(data).unwrap().unwrap_err();
        assert_eq!(
            refused.found,
            [
                data.join(BOOTSTRAP_FILE),
                data.join(EVENTS_DIR).join("00000001.log")
            ]
        );
        assert!(refused.to_string().contains("move these files out"));
    }
}
