//! The data directory is its user's alone: the store holds password and credential hashes,
//! bootstrap.json a client secret, the event log visitors' addresses. Files are 0600 and
//! directories 0700, whichever code creates them, and an older version's files are tightened at
//! start.

use std::io;
use std::os::unix::fs::{DirBuilderExt, PermissionsExt};
use std::path::Path;

use super::ENTRIES;

/// Group and other bits: none may be set on what qredge keeps.
const NOT_PRIVATE: u32 = 0o077;

/// Sets the process's umask so that every file and directory it creates from now on, by its own
/// code or a library's (redb, the snapshot writer), is 0600 / 0700. Call first thing in `main`.
pub fn keep_new_files_private() {
    // SAFETY: umask(2) only swaps the process's file mode creation mask; it cannot fail.
    unsafe {
        libc::umask(NOT_PRIVATE as libc::mode_t);
    }
}

/// Creates `dir` and its missing parents, mode 0700.
pub fn create_private_dir(dir: &Path) -> io::Result<()> {
    std::fs::DirBuilder::new()
        .recursive(true)
        .mode(0o700)
        .create(dir)
        .map_err(|e| io::Error::new(e.kind(), format!("cannot create {}: {e}", dir.display())))
}

/// Takes the group and other bits off everything qredge keeps in the data directory (`ENTRIES`,
/// and what their directories hold; symbolic links are left alone), and off the directory itself
/// when it holds nothing else (a `data_dir` pointed at a shared folder by mistake stays as it
/// is). Returns how many modes it changed: data directories of earlier versions were created
/// 0644 / 0755.
pub fn tighten_modes(data_dir: &Path) -> io::Result<usize> {
    let mut changed = 0;
    if holds_only_entries(data_dir)? {
        changed += tighten(data_dir)?;
    }
    for name in ENTRIES {
        changed += tighten_tree(&data_dir.join(name))?;
    }
    Ok(changed)
}

fn holds_only_entries(dir: &Path) -> io::Result<bool> {
    for entry in fs_err::read_dir(dir)? {
        let name = entry?.file_name();
        if !name.to_str().is_some_and(|name| ENTRIES.contains(&name)) {
            return Ok(false);
        }
    }
    Ok(true)
}

fn tighten_tree(path: &Path) -> io::Result<usize> {
    let metadata = match fs_err::symlink_metadata(path) {
        Ok(metadata) => metadata,
        Err(e) if e.kind() == io::ErrorKind::NotFound => return Ok(0),
        Err(e) => return Err(e),
    };
    if metadata.file_type().is_symlink() {
        return Ok(0);
    }
    let mut changed = tighten(path)?;
    if metadata.is_dir() {
        for entry in fs_err::read_dir(path)? {
            changed += tighten_tree(&entry?.path())?;
        }
    }
    Ok(changed)
}

/// Takes the group and other bits off `path`; 1 when there were any.
fn tighten(path: &Path) -> io::Result<usize> {
    let mode = fs_err::metadata(path)?.permissions().mode();
    if mode & NOT_PRIVATE == 0 {
        return Ok(0);
    }
    fs_err::set_permissions(path, std::fs::Permissions::from_mode(mode & !NOT_PRIVATE))?;
    Ok(1)
}

#[cfg(test)]
mod tests {
    use super::*;

    fn mode(path: &Path) -> u32 {
        std::fs::metadata(path).unwrap().permissions().mode() & 0o777
    }

    #[test]
    fn what_qredge_keeps_is_tightened_and_nothing_else() {
        let dir = tempfile::tempdir().unwrap();
        let data = dir.path().join("data");
        create_private_dir(&data.join("events")).unwrap();
        assert_eq!(mode(&data), 0o700);
        let segment = data.join("events/00000001.log");
        let foreign = data.join("notes.txt");
        for file in [&segment, &foreign] {
            std::fs::write(file, b"x").unwrap();
            std::fs::set_permissions(file, std::fs::Permissions::from_mode(0o644)).unwrap();
        }
        for dir in [&data, &data.join("events")] {
            std::fs::set_permissions(dir, std::fs::Permissions::from_mode(0o755)).unwrap();
        }
        assert_eq!(tighten_modes(&data).unwrap(), 2);
        assert_eq!(
            (mode(&data), mode(&data.join("events"))),
            (0o755, 0o700),
            "a directory holding others' files is not made qredge's own"
        );
        assert_eq!((mode(&segment), mode(&foreign)), (0o600, 0o644));
        assert_eq!(tighten_modes(&data).unwrap(), 0, "once is enough");
        std::fs::remove_file(&foreign).unwrap();
        assert_eq!(tighten_modes(&data).unwrap(), 1);
        assert_eq!(mode(&data), 0o700);
    }
}
