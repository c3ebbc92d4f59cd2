//! The append-only log of scan events: `DATA_DIR/events/NNNNNNNN.log` segment files of framed
//! records (`length`, `crc32`, the event as `event_record` writes it). A batch is one write and
//! one fsync at the end of the newest segment: a scan costs its own bytes on disk, not a rewrite
//! of the pages of a B-tree keyed by random code ids (which bounded `qredge serve` at ~34k
//! scans/s on one core).

use std::fs::{self, File, OpenOptions};
use std::io::{self, BufReader, Read, Write};
use std::os::unix::fs::FileExt;
use std::path::{Path, PathBuf};

/// A segment is closed and a new one begun past this size.
const SEGMENT_BYTES: u64 = 64 << 20;
/// `length` and `crc32`, both little-endian u32.
const HEADER_BYTES: usize = 8;
/// No event comes near this; a larger length is a torn or corrupt header.
const MAX_RECORD_BYTES: u32 = 1 << 20;

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
}

impl EventLog {
    /// Opens the log in `dir`, appending after the last complete record. A record torn by a
    /// crash (short, or failing its checksum) at the end of the newest segment is cut off.
    pub fn open(dir: &Path) -> io::Result<Self> {
        fs::create_dir_all(dir)?;
        let segment = segments(dir)?
            .last()
            .copied()
            .unwrap_or(Position::START.segment);
        let path = segment_path(dir, segment);
        let active = OpenOptions::new()
            .create(true)
            .read(true)
            .append(true)
            .open(&path)?;
        let complete = complete_length(&path)?;
        if complete < active.metadata()?.len() {
            tracing::warn!(file = %path.display(), at = complete, "cutting a torn scan record off the event log");
            active.set_len(complete)?;
            active.sync_data()?;
        }
        Ok(Self {
            dir: dir.to_owned(),
            active,
            end: Position {
                segment,
                offset: offset_of(complete)?,
            },
            appended: 0,
            buffer: Vec::new(),
        })
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
            let length = u32::try_from(record.len())
                .ok()
                .filter(|&n| n <= MAX_RECORD_BYTES)
                .ok_or_else(|| io::Error::other("a scan event is too large for the event log"))?;
            let crc = crc32fast::hash(record);
            buffer[start..start + 4].copy_from_slice(&length.to_le_bytes());
            buffer[start + 4..start + HEADER_BYTES].copy_from_slice(&crc.to_le_bytes());
        }
        if self.end.offset > 0 && u64::from(self.end.offset) + buffer.len() as u64 > SEGMENT_BYTES {
            self.start_segment()?;
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

    fn start_segment(&mut self) -> io::Result<()> {
        let next = self.end.segment + 1;
        let active = OpenOptions::new()
            .create(true)
            .read(true)
            .append(true)
            .open(segment_path(&self.dir, next))?;
        // The new file's name must survive a crash along with what is written into it.
        File::open(&self.dir)?.sync_all()?;
        self.active = active;
        self.end = Position {
            segment: next,
            offset: 0,
        };
        Ok(())
    }

    pub fn reader(&self) -> LogReader {
        LogReader {
            dir: self.dir.clone(),
        }
    }
}

/// Reads records back by position, or in order from a position.
#[derive(Clone)]
pub struct LogReader {
    dir: PathBuf,
}

impl LogReader {
    /// The records at `positions`, in that order.
    pub fn read_at(&self, positions: &[Position]) -> io::Result<Vec<Vec<u8>>> {
        let mut open: Option<(u32, File)> = None;
        let mut out = Vec::with_capacity(positions.len());
        for position in positions {
            let file = match &open {
                Some((segment, file)) if *segment == position.segment => file,
                _ => {
                    let file = File::open(segment_path(&self.dir, position.segment))?;
                    &open.insert((position.segment, file)).1
                }
            };
            let mut header = [0u8; HEADER_BYTES];
            file.read_exact_at(&mut header, u64::from(position.offset))?;
            let (length, crc) = parse_header(&header);
            let mut record = vec![0u8; length as usize];
            file.read_exact_at(
                &mut record,
                u64::from(position.offset) + HEADER_BYTES as u64,
            )?;
            if length > MAX_RECORD_BYTES || crc32fast::hash(&record) != crc {
                return Err(io::Error::new(
                    io::ErrorKind::InvalidData,
                    format!("the event log is damaged at {position:?}"),
                ));
            }
            out.push(record);
        }
        Ok(out)
    }

    /// Calls `each` with every complete record from `from` on, in log order.
    pub fn replay(
        &self,
        from: Position,
        mut each: impl FnMut(Position, &[u8]) -> io::Result<()>,
    ) -> io::Result<()> {
        for segment in segments(&self.dir)?
            .into_iter()
            .filter(|&s| s >= from.segment)
        {
            let path = segment_path(&self.dir, segment);
            let mut reader = BufReader::with_capacity(1 << 20, File::open(&path)?);
            let mut offset = if segment == from.segment {
                from.offset
            } else {
                0
            };
            io::copy(&mut (&mut reader).take(u64::from(offset)), &mut io::sink())?;
            let mut record = Vec::new();
            while let Some(length) = next_record(&mut reader, &mut record)? {
                each(Position { segment, offset }, &record)?;
                offset = offset_of(u64::from(offset) + HEADER_BYTES as u64 + u64::from(length))?;
            }
        }
        Ok(())
    }
}

/// The segment numbers in `dir`, oldest first.
fn segments(dir: &Path) -> io::Result<Vec<u32>> {
    let mut numbers: Vec<u32> = fs::read_dir(dir)?
        .filter_map(|entry| {
            let name = entry.ok()?.file_name();
            name.to_str()?.strip_suffix(".log")?.parse().ok()
        })
        .collect();
    numbers.sort_unstable();
    Ok(numbers)
}

fn segment_path(dir: &Path, segment: u32) -> PathBuf {
    dir.join(format!("{segment:08}.log"))
}

fn parse_header(header: &[u8; HEADER_BYTES]) -> (u32, u32) {
    let [l0, l1, l2, l3, c0, c1, c2, c3] = *header;
    (
        u32::from_le_bytes([l0, l1, l2, l3]),
        u32::from_le_bytes([c0, c1, c2, c3]),
    )
}

/// Reads the next record into `record`; None at the end or at a torn or corrupt record.
fn next_record(reader: &mut impl Read, record: &mut Vec<u8>) -> io::Result<Option<u32>> {
    let mut header = [0u8; HEADER_BYTES];
    if !read_fully(reader, &mut header)? {
        return Ok(None);
    }
    let (length, crc) = parse_header(&header);
    if length > MAX_RECORD_BYTES {
        return Ok(None);
    }
    record.resize(length as usize, 0);
    if !read_fully(reader, record)? || crc32fast::hash(record) != crc {
        return Ok(None);
    }
    Ok(Some(length))
}

/// Like `read_exact`, but false instead of an error when the input ends first.
fn read_fully(reader: &mut impl Read, buf: &mut [u8]) -> io::Result<bool> {
    let mut filled = 0;
    while filled < buf.len() {
        match reader.read(&mut buf[filled..])? {
            0 => return Ok(false),
            n => filled += n,
        }
    }
    Ok(true)
}

/// The length of the run of complete records at the start of the file at `path`.
fn complete_length(path: &Path) -> io::Result<u64> {
    let mut reader = BufReader::with_capacity(1 << 20, File::open(path)?);
    let mut length = 0u64;
    let mut record = Vec::new();
    while let Some(n) = next_record(&mut reader, &mut record)? {
        length += HEADER_BYTES as u64 + u64::from(n);
    }
    Ok(length)
}

fn offset_of(at: u64) -> io::Result<u32> {
    u32::try_from(at).map_err(|_| io::Error::other("an event log segment passed 4 GiB"))
}

#[cfg(test)]
mod tests {
    use super::*;

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
                Ok(())
            })
            .unwrap();
        out
    }

    #[test]
    fn records_read_back_by_position_and_in_order_after_reopening() {
        let dir = tempfile::tempdir().unwrap();
        let mut log = EventLog::open(dir.path()).unwrap();
        let first = append(&mut log, &[b"one".to_vec(), b"two".to_vec()]);
        let second = append(&mut log, &[b"three".to_vec()]);
        assert_eq!(first[0], Position::START);
        assert_eq!(first[1].offset, 11);
        drop(log);
        let mut log = EventLog::open(dir.path()).unwrap();
        assert_eq!(log.end().offset, 11 + 11 + 13);
        append(&mut log, &[b"four".to_vec()]);
        let reader = log.reader();
        assert_eq!(
            reader.read_at(&[second[0], first[0]]).unwrap(),
            vec![b"three".to_vec(), b"one".to_vec()]
        );
        let records: Vec<_> = all(&log).into_iter().map(|(_, r)| r).collect();
        assert_eq!(records, [&b"one"[..], b"two", b"three", b"four"]);
    }

    #[test]
    fn a_torn_record_at_the_end_is_cut_off_on_opening() {
        let dir = tempfile::tempdir().unwrap();
        let mut log = EventLog::open(dir.path()).unwrap();
        append(&mut log, &[b"kept".to_vec()]);
        drop(log);
        let path = segment_path(dir.path(), 1);
        // A crash in the middle of the next write: a header and half of its record.
        let mut file = OpenOptions::new().append(true).open(&path).unwrap();
        file.write_all(&10u32.to_le_bytes()).unwrap();
        file.write_all(&[0, 0, 0, 0, b'h', b'a']).unwrap();
        drop(file);
        let mut log = EventLog::open(dir.path()).unwrap();
        assert_eq!(fs::metadata(&path).unwrap().len(), 12);
        append(&mut log, &[b"next".to_vec()]);
        let records: Vec<_> = all(&log).into_iter().map(|(_, r)| r).collect();
        assert_eq!(records, [&b"kept"[..], b"next"]);
    }

    #[test]
    fn a_full_segment_is_followed_by_a_new_one() {
        let dir = tempfile::tempdir().unwrap();
        let mut log = EventLog::open(dir.path()).unwrap();
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
        assert_eq!(log.reader().read_at(&second[1..2]).unwrap()[0], batch[0]);
    }
}
