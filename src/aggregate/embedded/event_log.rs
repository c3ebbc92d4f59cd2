//! The append-only log of scan events: `DATA_DIR/events/NNNNNNNN.log` segment files of framed
//! records (`framing`: length, crc32, the event as `event_record` writes it). A batch is one
//! write and one fsync at the end of the newest segment: a scan costs its own bytes on disk, not a
//! rewrite of the pages of a B-tree keyed by random code ids (which bounded `qredge serve` at
//! ~34k scans/s on one core).
//!
//! Damage is never cut away: reading skips the records it touched and goes on after it, and only
//! a tail torn by a crash in the middle of a write is cut off the newest segment. A new segment
//! begins past 64 MiB and on a new UTC day, so that retention removes whole days.

use std::io::{self, Write};
use std::path::{Path, PathBuf};
use std::time::SystemTime;

use fs_err::os::unix::fs::{FileExt, OpenOptionsExt};
use fs_err::{File, OpenOptions};

use super::framing::{self, Found, Walk, HEADER_BYTES};
use crate::clock::{now_ms, utc_day};
use crate::data_dir::create_private_dir;

/// A segment is closed and a new one begun past this size.
const SEGMENT_BYTES: u64 = 64 << 20;

/// Where a record starts: its segment's number and its offset in that segment.
#[derive(
    Debug, Clone, Copy, PartialEq, Eq, PartialOrd, Ord, serde::Serialize, serde::Deserialize,
)]
pub struct Position {
    pub segment: u32,
    pub offset: u32,
}

impl Position {
    pub const START: Position = Position {
        segment: 1,
        offset: 0,
    };
}

/// What reading the log had to leave out: records it could not read, and their bytes.
#[derive(Debug, Default, Clone, Copy, PartialEq, Eq)]
pub struct Skipped {
    pub records: u64,
    pub bytes: u64,
}

impl Skipped {
    pub fn add(&mut self, records: usize, bytes: usize) {
        self.records += records as u64;
        self.bytes += bytes as u64;
    }
}

/// The writer of the log. Readers go through [`EventLog::reader`], which never waits for it.
pub struct EventLog {
    dir: PathBuf,
    active: File,
    /// Where the next record goes.
    end: Position,
    /// Bytes appended since opening.
    appended: u64,
    /// The last batch's buffer, kept for the next: a fresh one per batch faulted its pages in anew.
    buffer: Vec<u8>,
    /// The UTC day the active segment was last written on.
    active_day: i64,
}

impl EventLog {
    /// Opens the log in `dir`, appending after the last record of the newest segment. A tail
    /// torn by a crash is cut off it. Appends go to a new segment instead when the newest one
    /// ends in damage (kept for inspection), was last written on an earlier day, or ends before
    /// `not_before` (what the checkpoint covers: its positions are never given to new records).
    pub fn open(dir: &Path, not_before: Position) -> io::Result<Self> {
        create_private_dir(dir)?;
        let segment = segments(dir)?
            .last()
            .copied()
            .unwrap_or(Position::START.segment);
        let path = segment_path(dir, segment);
        let active = open_segment(&path)?;
        let (end, damaged_tail) = end_of_records(&path, &active)?;
        let written = active.metadata()?.modified()?;
        let mut log = Self {
            dir: dir.to_owned(),
            active,
            end: Position {
                segment,
                offset: offset_of(end)?,
            },
            appended: 0,
            buffer: Vec::new(),
            active_day: day_of(written),
        };
        if log.end < not_before {
            tracing::warn!(log_end = ?log.end, checkpoint = ?not_before, "the event log ends before what the checkpoint covers: the events in between are missing (their counts are kept)");
        }
        let stale = end > 0 && log.active_day < utc_day(now_ms());
        if damaged_tail || stale || log.end < not_before {
            log.start_segment(segment.max(not_before.segment) + 1)?;
        }
        Ok(log)
    }

    /// Where the next record will start.
    pub fn end(&self) -> Position {
        self.end
    }

    /// Bytes appended since the log was opened.
    pub fn appended(&self) -> u64 {
        self.appended
    }

    /// Appends one record per item, each written by `encode` straight into the batch's buffer,
    /// durably (one write, one fsync), and returns where each starts.
    pub fn append<T>(
        &mut self,
        items: &[T],
        mut encode: impl FnMut(&T, &mut Vec<u8>) -> io::Result<()>,
    ) -> io::Result<Vec<Position>> {
        let mut buffer = std::mem::take(&mut self.buffer);
        buffer.clear();
        buffer.reserve(items.len() * 256);
        let mut starts = Vec::with_capacity(items.len());
        for item in items {
            let start = buffer.len();
            starts.push(start);
            buffer.extend_from_slice(&[0; HEADER_BYTES]);
            encode(item, &mut buffer)?;
            let record = &buffer[start + HEADER_BYTES..];
            if !u32::try_from(record.len()).is_ok_and(framing::plausible_length) {
                return Err(io::Error::other(
                    "a scan event is too large for the event log",
                ));
            }
            let header = framing::header(record);
            buffer[start..start + HEADER_BYTES].copy_from_slice(&header);
        }
        let today = utc_day(now_ms());
        let full = u64::from(self.end.offset) + buffer.len() as u64 > SEGMENT_BYTES;
        if self.end.offset > 0 && (full || today != self.active_day) {
            self.start_segment(self.end.segment + 1)?;
        }
        let written = (|| {
            self.active.write_all(&buffer)?;
            self.active.sync_data()
        })();
        if let Err(e) = written {
            // Nothing of a failed batch may stay behind a later one: cut it off again.
            let _ = self.active.set_len(u64::from(self.end.offset));
            return Err(e);
        }
        self.active_day = today;
        let base = u64::from(self.end.offset);
        let positions = starts
            .into_iter()
            .map(|start| {
                Ok(Position {
                    segment: self.end.segment,
                    offset: offset_of(base + start as u64)?,
                })
            })
            .collect::<io::Result<Vec<_>>>()?;
        self.end.offset = offset_of(base + buffer.len() as u64)?;
        self.appended += buffer.len() as u64;
        self.buffer = buffer;
        Ok(positions)
    }

    fn start_segment(&mut self, next: u32) -> io::Result<()> {
        let active = open_segment(&segment_path(&self.dir, next))?;
        // The new file's name must survive a crash along with what is written into it.
        File::open(&self.dir)?.sync_all()?;
        self.active = active;
        self.end = Position {
            segment: next,
            offset: 0,
        };
        self.active_day = utc_day(now_ms());
        Ok(())
    }

    /// The segments before the active one last written before `cutoff`, oldest first.
    pub fn closed_segments_written_before(&self, cutoff: SystemTime) -> io::Result<Vec<u32>> {
        let mut old = Vec::new();
        for segment in segments(&self.dir)? {
            if segment >= self.end.segment {
                break;
            }
            let written = fs_err::metadata(segment_path(&self.dir, segment))?.modified()?;
            if written < cutoff {
                old.push(segment);
            }
        }
        Ok(old)
    }

    /// Deletes a closed segment (retention).
    pub fn remove_segment(&self, segment: u32) -> io::Result<()> {
        assert!(segment < self.end.segment, "the active segment stays");
        fs_err::remove_file(segment_path(&self.dir, segment))
    }

    pub fn reader(&self) -> LogReader {
        LogReader {
            dir: self.dir.clone(),
        }
    }
}

fn open_segment(path: &Path) -> io::Result<File> {
    OpenOptions::new()
        .create(true)
        .read(true)
        .append(true)
        .mode(0o600)
        .open(path)
}

/// Where the records of the segment at `path` end, after cutting off a torn tail; true when the
/// segment ends in damage instead (left as it is).
fn end_of_records(path: &Path, file: &File) -> io::Result<(u64, bool)> {
    let bytes = fs_err::read(path)?;
    let Some(Found::Unreadable { offset, .. }) = Walk::new(&bytes, 0).last() else {
        return Ok((bytes.len() as u64, false));
    };
    if !framing::is_torn_tail(&bytes[offset..]) {
        tracing::warn!(file = %path.display(), at = offset, "the event log's newest segment ends in damage; it is kept as it is and a new segment begun");
        return Ok((bytes.len() as u64, true));
    }
    tracing::warn!(file = %path.display(), at = offset, "cutting a torn scan record off the event log");
    file.set_len(offset as u64)?;
    file.sync_data()?;
    Ok((offset as u64, false))
}

fn day_of(time: SystemTime) -> i64 {
    let ms = time
        .duration_since(SystemTime::UNIX_EPOCH)
        .map_or(0, |d| d.as_millis() as i64);
    utc_day(ms)
}

/// Reads records back by position, or in order from a position.
#[derive(Clone)]
pub struct LogReader {
    dir: PathBuf,
}

impl LogReader {
    /// The records at `positions`, in that order; None (with a warning) for any that is damaged
    /// or whose segment is gone.
    pub fn read_at(&self, positions: &[Position]) -> io::Result<Vec<Option<Vec<u8>>>> {
        let mut open: Option<(u32, Option<File>)> = None;
        let mut out = Vec::with_capacity(positions.len());
        for position in positions {
            let file = match &open {
                Some((segment, file)) if *segment == position.segment => file,
                _ => {
                    let file = match File::open(segment_path(&self.dir, position.segment)) {
                        Ok(file) => Some(file),
                        Err(e) if e.kind() == io::ErrorKind::NotFound => None,
                        Err(e) => return Err(e),
                    };
                    &open.insert((position.segment, file)).1
                }
            };
            match file.as_ref().map(|f| read_record(f, position.offset)) {
                Some(Ok(Some(record))) => out.push(Some(record)),
                Some(Err(e)) => return Err(e),
                _ => {
                    let file = segment_path(&self.dir, position.segment);
                    tracing::warn!(file = %file.display(), offset = position.offset, "a stored scan event is unreadable (damaged or gone); it is left out");
                    out.push(None);
                }
            }
        }
        Ok(out)
    }

    /// Calls `each` with every readable record from `from` on, in log order. Records that cannot
    /// be read are skipped, each stretch with a warning naming its file and offset, and counted.
    pub fn replay(
        &self,
        from: Position,
        mut each: impl FnMut(Position, &[u8]),
    ) -> io::Result<Skipped> {
        let mut skipped = Skipped::default();
        for segment in self.segments()?.into_iter().filter(|&s| s >= from.segment) {
            let path = segment_path(&self.dir, segment);
            let bytes = fs_err::read(&path)?;
            let start = if segment == from.segment {
                from.offset as usize
            } else {
                0
            };
            for found in Walk::new(&bytes, start) {
                match found {
                    Found::Record { offset, record } => {
                        let offset = offset_of(offset as u64)?;
                        each(Position { segment, offset }, record);
                    }
                    Found::Unreadable {
                        offset,
                        bytes,
                        records,
                    } => {
                        tracing::warn!(file = %path.display(), offset, bytes, records, "skipping a damaged stretch of the event log (left in the file as it is)");
                        skipped.add(records, bytes);
                    }
                }
            }
        }
        Ok(skipped)
    }

    /// The segment numbers, oldest first.
    pub fn segments(&self) -> io::Result<Vec<u32>> {
        segments(&self.dir)
    }

    /// The file of a segment.
    pub fn segment_path(&self, segment: u32) -> PathBuf {
        segment_path(&self.dir, segment)
    }
}

/// The record at `offset` of `file`, or None when it does not pass its checksum.
fn read_record(file: &File, offset: u32) -> io::Result<Option<Vec<u8>>> {
    let mut header = [0u8; HEADER_BYTES];
    if !read_fully_at(file, &mut header, u64::from(offset))? {
        return Ok(None);
    }
    let (length, crc) = framing::parse_header(&header);
    if !framing::plausible_length(length) {
        return Ok(None);
    }
    let mut record = vec![0u8; length as usize];
    let at = u64::from(offset) + HEADER_BYTES as u64;
    if !read_fully_at(file, &mut record, at)? || crc32fast::hash(&record) != crc {
        return Ok(None);
    }
    Ok(Some(record))
}

/// Like `read_exact_at`, but false instead of an error when the file ends first.
fn read_fully_at(file: &File, buf: &mut [u8], at: u64) -> io::Result<bool> {
    match file.read_exact_at(buf, at) {
        Ok(()) => Ok(true),
        Err(e) if e.kind() == io::ErrorKind::UnexpectedEof => Ok(false),
        Err(e) => Err(e),
    }
}

/// The segment numbers in `dir`, oldest first.
fn segments(dir: &Path) -> io::Result<Vec<u32>> {
    let mut numbers = Vec::new();
    for entry in fs_err::read_dir(dir)? {
        let name = entry?.file_name();
        if let Some(n) = name
            .to_str()
            .and_then(|n| n.strip_suffix(".log")?.parse().ok())
        {
            numbers.push(n);
        }
    }
    numbers.sort_unstable();
    Ok(numbers)
}

fn segment_path(dir: &Path, segment: u32) -> PathBuf {
    dir.join(format!("{segment:08}.log"))
}

fn offset_of(at: u64) -> io::Result<u32> {
    u32::try_from(at).map_err(|_| io::Error::other("an event log segment passed 4 GiB"))
}

#[cfg(test)]
mod tests {
    use super::*;
    use framing::MAX_RECORD_BYTES;

    fn append(log: &mut EventLog, records: &[Vec<u8>]) -> Vec<Position> {
        log.append(records, |record, out| {
            out.extend_from_slice(record);
            Ok(())
        })
        .unwrap()
    }

    fn all(log: &EventLog) -> Vec<(Position, Vec<u8>)> {
        let mut out = Vec::new();
        log.reader()
            .replay(Position::START, |at, record| {
                out.push((at, record.to_vec()));
            })
            .unwrap();
        out
    }

    #[test]
    fn records_read_back_by_position_and_in_order_after_reopening() {
        let dir = tempfile::tempdir().unwrap();
        let mut log = EventLog::open(dir.path(), Position::START).unwrap();
        let first = append(&mut log, &[b"one".to_vec(), b"two".to_vec()]);
        let second = append(&mut log, &[b"three".to_vec()]);
        assert_eq!(first[0], Position::START);
        assert_eq!(first[1].offset, 11);
        drop(log);
        let mut log = EventLog::open(dir.path(), Position::START).unwrap();
        assert_eq!(log.end().offset, 11 + 11 + 13);
        append(&mut log, &[b"four".to_vec()]);
        let reader = log.reader();
        assert_eq!(
            reader.read_at(&[second[0], first[0]]).unwrap(),
            vec![Some(b"three".to_vec()), Some(b"one".to_vec())]
        );
        let records: Vec<_> = all(&log).into_iter().map(|(_, r)| r).collect();
        assert_eq!(records, [&b"one"[..], b"two", b"three", b"four"]);
    }

    #[test]
    fn a_torn_record_at_the_end_is_cut_off_on_opening() {
        let dir = tempfile::tempdir().unwrap();
        let mut log = EventLog::open(dir.path(), Position::START).unwrap();
        append(&mut log, &[b"kept".to_vec()]);
        drop(log);
        let path = segment_path(dir.path(), 1);
        // A crash in the middle of the next write: a header and half of its record.
        let mut file = OpenOptions::new().append(true).open(&path).unwrap();
        file.write_all(&10u32.to_le_bytes()).unwrap();
        file.write_all(&[0, 0, 0, 0, b'h', b'a']).unwrap();
        drop(file);
        let mut log = EventLog::open(dir.path(), Position::START).unwrap();
        assert_eq!(std::fs::metadata(&path).unwrap().len(), 12);
        append(&mut log, &[b"next".to_vec()]);
        let records: Vec<_> = all(&log).into_iter().map(|(_, r)| r).collect();
        assert_eq!(records, [&b"kept"[..], b"next"]);
    }

    #[test]
    fn a_full_segment_is_followed_by_a_new_one() {
        let dir = tempfile::tempdir().unwrap();
        let mut log = EventLog::open(dir.path(), Position::START).unwrap();
        let record = vec![7u8; (MAX_RECORD_BYTES / 2) as usize];
        let batch = vec![record; (SEGMENT_BYTES / u64::from(MAX_RECORD_BYTES)) as usize + 1];
        let first = append(&mut log, &batch);
        let second = append(&mut log, &batch);
        assert_eq!(first[0], Position::START);
        assert_eq!(
            second[0],
            Position {
                segment: 2,
                offset: 0
            }
        );
        let at: Vec<_> = all(&log).into_iter().map(|(at, _)| at).collect();
        assert_eq!(at.len(), 2 * batch.len());
        assert_eq!(
            (at[batch.len() - 1].segment, at[batch.len()]),
            (1, second[0])
        );
        assert_eq!(
            log.reader().read_at(&second[1..2]).unwrap()[0].as_ref(),
            Some(&batch[0])
        );
    }
    #[test]
    fn damage_in_the_newest_segment_is_skipped_kept_and_written_after() {
        let dir = tempfile::tempdir().unwrap();
        let mut log = EventLog::open(dir.path(), Position::START).unwrap();
        let at = append(
            &mut log,
            &[b"one".to_vec(), b"two".to_vec(), b"six".to_vec()],
        );
        drop(log);
        let path = segment_path(dir.path(), 1);
        let mut bytes = std::fs::read(&path).unwrap();
        bytes[at[1].offset as usize + HEADER_BYTES] ^= 0xff;
        std::fs::write(&path, &bytes).unwrap();

        let mut log = EventLog::open(dir.path(), Position::START).unwrap();
        assert_eq!(
            std::fs::read(&path).unwrap(),
            bytes,
            "nothing cut, nothing rewritten"
        );
        append(&mut log, &[b"ten".to_vec()]);
        let records: Vec<_> = all(&log).into_iter().map(|(_, r)| r).collect();
        assert_eq!(records, [&b"one"[..], b"six", b"ten"]);
        let skipped = log.reader().replay(Position::START, |_, _| {}).unwrap();
        assert_eq!(
            skipped,
            Skipped {
                records: 1,
                bytes: 11
            }
        );
        let read = log.reader().read_at(&at).unwrap();
        assert_eq!(
            read.into_iter().flatten().collect::<Vec<_>>(),
            [b"one".to_vec(), b"six".to_vec()],
            "the damaged one is left out"
        );
    }

    #[test]
    fn damage_at_the_end_is_kept_and_a_new_segment_begun() {
        let dir = tempfile::tempdir().unwrap();
        let mut log = EventLog::open(dir.path(), Position::START).unwrap();
        let at = append(&mut log, &[b"one".to_vec(), b"two".to_vec()]);
        drop(log);
        let path = segment_path(dir.path(), 1);
        let mut bytes = std::fs::read(&path).unwrap();
        bytes[at[1].offset as usize + HEADER_BYTES + 1] ^= 0xff;
        std::fs::write(&path, &bytes).unwrap();

        let mut log = EventLog::open(dir.path(), Position::START).unwrap();
        assert_eq!(std::fs::read(&path).unwrap(), bytes);
        let next = append(&mut log, &[b"three".to_vec()]);
        assert_eq!(
            next[0],
            Position {
                segment: 2,
                offset: 0
            }
        );
        let records: Vec<_> = all(&log).into_iter().map(|(_, r)| r).collect();
        assert_eq!(records, [&b"one"[..], b"three"]);
    }

    #[test]
    fn a_log_that_ends_before_the_checkpoint_goes_on_in_a_new_segment() {
        let dir = tempfile::tempdir().unwrap();
        let mut log = EventLog::open(dir.path(), Position::START).unwrap();
        append(&mut log, &[b"one".to_vec()]);
        drop(log);
        let covered = Position {
            segment: 3,
            offset: 500,
        };
        let mut log = EventLog::open(dir.path(), covered).unwrap();
        assert_eq!(
            log.end(),
            Position {
                segment: 4,
                offset: 0
            }
        );
        assert!(append(&mut log, &[b"two".to_vec()])[0] > covered);
    }
}
