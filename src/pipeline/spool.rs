//! The disk spool: scans that found the in-memory queue full are appended here and replayed in
//! order later. Replaying a file twice (after a crash mid-replay) is harmless: the aggregator
//! counts each event id once. Its files are private (0600) and every error names its file.

use fs_err::os::unix::fs::OpenOptionsExt;
use fs_err::{self as fs, File, OpenOptions};
use std::io::{self, BufRead, BufReader, Write};
use std::path::{Path, PathBuf};
use std::sync::atomic::{AtomicBool, AtomicU64, Ordering};
use std::sync::Mutex;

use crate::model::RawScan;

const ACTIVE: &str = "active.jsonl";

pub struct Spool {
    dir: PathBuf,
    /// The file appends go to, opened on first use.
    active: Mutex<Option<File>>,
    /// Set by appends, cleared when a replay finds nothing: lets the worker skip the filesystem.
    pending: AtomicBool,
    sealed_files: AtomicU64,
}

impl Spool {
    pub fn open(dir: &Path) -> io::Result<Self> {
        crate::data_dir::create_private_dir(dir)?;
        let spool = Self {
            dir: dir.to_owned(),
            active: Mutex::new(None),
            pending: AtomicBool::new(false),
            sealed_files: AtomicU64::new(0),
        };
        // Left over from a previous run: replay it.
        let leftover = !spool.sealed()?.is_empty() || dir.join(ACTIVE).exists();
        spool.pending.store(leftover, Ordering::Release);
        Ok(spool)
    }

    /// Appends one scan as a JSON line. Called by the edge only when the queue is full.
    pub fn append(&self, scan: &RawScan) -> io::Result<()> {
        let mut line = serde_json::to_vec(scan).map_err(io::Error::other)?;
        line.push(b'\n');
        let mut active = self.active.lock().unwrap_or_else(|p| p.into_inner());
        if active.is_none() {
            *active = Some(
                OpenOptions::new()
                    .create(true)
                    .append(true)
                    .mode(0o600)
                    .open(self.dir.join(ACTIVE))?,
            );
        }
        // One write call per line: a crash leaves at most a torn last line, skipped on replay.
        active.as_mut().expect("opened above").write_all(&line)?;
        self.pending.store(true, Ordering::Release);
        Ok(())
    }

    pub fn has_pending(&self) -> bool {
        self.pending.load(Ordering::Acquire)
    }

    /// A replay that failed leaves its files in place; this makes the worker try again.
    pub fn mark_pending(&self) {
        self.pending.store(true, Ordering::Release);
    }

    /// Closes the active file and returns every sealed file, oldest first.
    pub fn seal(&self) -> io::Result<Vec<PathBuf>> {
        {
            let mut active = self.active.lock().unwrap_or_else(|p| p.into_inner());
            *active = None;
            let path = self.dir.join(ACTIVE);
            if path.exists() {
                let n = self.sealed_files.fetch_add(1, Ordering::Relaxed);
                let name = format!("sealed-{:020}-{n:06}.jsonl", crate::clock::now_ms());
                fs::rename(&path, self.dir.join(name))?;
            }
            self.pending.store(false, Ordering::Release);
        }
        self.sealed()
    }

    fn sealed(&self) -> io::Result<Vec<PathBuf>> {
        let mut files: Vec<PathBuf> = fs::read_dir(&self.dir)?
            .filter_map(|e| e.ok().map(|e| e.path()))
            .filter(|p| {
                p.file_name()
                    .and_then(|n| n.to_str())
                    .is_some_and(|n| n.starts_with("sealed-") && n.ends_with(".jsonl"))
            })
            .collect();
        files.sort();
        Ok(files)
    }

    /// Reads a sealed file; torn or unreadable lines (damaged bytes, not UTF-8, included) are
    /// reported and skipped, and the lines after them read.
    pub fn read(path: &Path) -> io::Result<Vec<RawScan>> {
        let mut scans = Vec::new();
        for (n, line) in BufReader::new(File::open(path)?).split(b'\n').enumerate() {
            let line = line?;
            match serde_json::from_slice(&line) {
                Ok(scan) => scans.push(scan),
                Err(e) => tracing::warn!(file = %path.display(), line = n + 1, error = %e,
                    "skipping an unreadable spooled scan"),
            }
        }
        Ok(scans)
    }

    /// Removes a sealed file once its scans are committed.
    pub fn remove(path: &Path) -> io::Result<()> {
        fs::remove_file(path)
    }

    /// Bytes waiting in the spool.
    pub fn size_bytes(&self) -> u64 {
        fs::read_dir(&self.dir)
            .map(|entries| {
                entries
                    .filter_map(|e| e.ok()?.metadata().ok())
                    .map(|m| m.len())
                    .sum()
            })
            .unwrap_or(0)
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use std::net::{IpAddr, Ipv4Addr};

    fn scan(n: u128) -> RawScan {
        RawScan {
            event_id: n,
            qr_id: "qr_1".into(),
            team_id: "team_1".into(),
            display_id: "d".into(),
            scan_time: 1,
            ip: IpAddr::V4(Ipv4Addr::LOCALHOST),
            user_agent: Some("ua/1".into()),
            referrer: None,
            head: false,
            orphan: false,
        }
    }

    #[test]
    fn spooled_scans_come_back_in_order_and_survive_a_reopen() {
        let dir = tempfile::tempdir().unwrap();
        let spool = Spool::open(dir.path()).unwrap();
        assert!(!spool.has_pending());
        for n in 0..3 {
            spool.append(&scan(n)).unwrap();
        }
        assert!(spool.has_pending());
        drop(spool);

        let spool = Spool::open(dir.path()).unwrap();
        assert!(spool.has_pending(), "a reopened spool knows it has work");
        spool.append(&scan(3)).unwrap();
        let files = spool.seal().unwrap();
        let ids: Vec<u128> = files
            .iter()
            .flat_map(|f| Spool::read(f).unwrap())
            .map(|s| s.event_id)
            .collect();
        assert_eq!(ids, vec![0, 1, 2, 3]);
        assert_eq!(ids.len(), 4);
        files.iter().for_each(|f| Spool::remove(f).unwrap());
        assert!(spool.seal().unwrap().is_empty());
        assert_eq!(spool.size_bytes(), 0);
    }

    #[test]
    fn a_torn_last_line_is_skipped() {
        let dir = tempfile::tempdir().unwrap();
        let spool = Spool::open(dir.path()).unwrap();
        spool.append(&scan(7)).unwrap();
        let mut f = OpenOptions::new()
            .append(true)
            .open(dir.path().join(ACTIVE))
            .unwrap();
        f.write_all(b"{\"eventId\":").unwrap();
        let files = spool.seal().unwrap();
        let scans = Spool::read(&files[0]).unwrap();
        assert_eq!(scans.len(), 1);
        assert_eq!(scans[0].event_id, 7);
        assert_eq!(scans[0].user_agent.as_deref(), Some("ua/1"));
    }

    #[test]
    fn a_damaged_line_in_the_middle_costs_only_itself() {
        let dir = tempfile::tempdir().unwrap();
        let spool = Spool::open(dir.path()).unwrap();
        spool.append(&scan(1)).unwrap();
        let mut f = OpenOptions::new()
            .append(true)
            .open(dir.path().join(ACTIVE))
            .unwrap();
        f.write_all(b"\xff\xfe damaged, not UTF-8\n").unwrap();
        spool.append(&scan(2)).unwrap();
        let files = spool.seal().unwrap();
        let ids: Vec<u128> = Spool::read(&files[0])
            .unwrap()
            .iter()
            .map(|s| s.event_id)
            .collect();
        assert_eq!(ids, [1, 2]);
    }
}
