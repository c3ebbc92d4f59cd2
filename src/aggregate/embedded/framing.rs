//! How the event log's records are framed: `length` and `crc32` (both little-endian u32), then
//! the record, and how a segment's bytes are walked back into records.
//!
//! Where a record fails its checksum, the walk resynchronises: it looks for the next offset at
//! which a record passes its own checksum and is followed by another, by the end, or by a torn
//! tail. Damage in the middle of a segment so costs the records it touched, not the records
//! after it.

/// `length` and `crc32`, both little-endian u32.
pub const HEADER_BYTES: usize = 8;
/// No event comes near this; a larger length is a torn or damaged header.
pub const MAX_RECORD_BYTES: u32 = 1 << 20;

/// The header of `record`.
pub fn header(record: &[u8]) -> [u8; HEADER_BYTES] {
    let mut header = [0u8; HEADER_BYTES];
    header[..4].copy_from_slice(&(record.len() as u32).to_le_bytes());
    header[4..].copy_from_slice(&crc32fast::hash(record).to_le_bytes());
    header
}

/// `(length, crc32)` of a header.
pub fn parse_header(header: &[u8; HEADER_BYTES]) -> (u32, u32) {
    let [l0, l1, l2, l3, c0, c1, c2, c3] = *header;
    (
        u32::from_le_bytes([l0, l1, l2, l3]),
        u32::from_le_bytes([c0, c1, c2, c3]),
    )
}

/// Whether `length` can be a record's: every record holds at least its format byte.
pub fn plausible_length(length: u32) -> bool {
    (1..=MAX_RECORD_BYTES).contains(&length)
}

/// What a walk over a segment finds, in order.
#[derive(Debug, PartialEq, Eq)]
pub enum Found<'a> {
    /// A record that passed its checksum, starting at `offset`.
    Record { offset: usize, record: &'a [u8] },
    /// `bytes` from `offset` on that hold no readable record: damage, or a tail torn by a crash
    /// when it ends the segment ([`is_torn_tail`]). `records` is how many records they held as
    /// far as their headers tell (at least one).
    Unreadable {
        offset: usize,
        bytes: usize,
        records: usize,
    },
}

/// Walks the bytes of a segment from `from` (a record's start).
pub struct Walk<'a> {
    bytes: &'a [u8],
    at: usize,
}

impl<'a> Walk<'a> {
    pub fn new(bytes: &'a [u8], from: usize) -> Self {
        Self { bytes, at: from }
    }
}

impl<'a> Iterator for Walk<'a> {
    type Item = Found<'a>;

    fn next(&mut self) -> Option<Found<'a>> {
        let at = self.at;
        if at >= self.bytes.len() {
            return None;
        }
        if let Some(record) = record_at(self.bytes, at) {
            self.at = at + HEADER_BYTES + record.len();
            return Some(Found::Record { offset: at, record });
        }
        let next = resynchronise(self.bytes, at + 1).unwrap_or(self.bytes.len());
        self.at = next;
        Some(Found::Unreadable {
            offset: at,
            bytes: next - at,
            records: records_within(self.bytes, at, next),
        })
    }
}

/// Whether the unreadable `tail` that ends a segment is what a crash in the middle of a write
/// leaves: a header cut short, a record running past the end, or zeros (a file extended before
/// its data reached the disk). Anything else at the end is damage.
pub fn is_torn_tail(tail: &[u8]) -> bool {
    let Some(header) = tail.first_chunk::<HEADER_BYTES>() else {
        return true;
    };
    let (length, _) = parse_header(header);
    let runs_past_the_end = plausible_length(length) && HEADER_BYTES + length as usize > tail.len();
    runs_past_the_end || tail.iter().all(|&b| b == 0)
}

/// The record starting at `at`, if one that passes its checksum does.
fn record_at(bytes: &[u8], at: usize) -> Option<&[u8]> {
    let (length, crc) = parse_header(bytes.get(at..)?.first_chunk::<HEADER_BYTES>()?);
    if !plausible_length(length) {
        return None;
    }
    let start = at + HEADER_BYTES;
    let record = bytes.get(start..start + length as usize)?;
    (crc32fast::hash(record) == crc).then_some(record)
}

/// The first offset from `from` on where reading can go on: a record that is followed by
/// another, by the end or by a torn tail. (One record alone could pass its checksum by chance.)
fn resynchronise(bytes: &[u8], from: usize) -> Option<usize> {
    (from..bytes.len()).find(|&at| {
        record_at(bytes, at).is_some_and(|record| {
            let next = at + HEADER_BYTES + record.len();
            next == bytes.len() || record_at(bytes, next).is_some() || is_torn_tail(&bytes[next..])
        })
    })
}

/// How many records `bytes[from..to]` held, following their lengths while they chain up to `to`;
/// at least one.
fn records_within(bytes: &[u8], from: usize, to: usize) -> usize {
    let mut at = from;
    let mut records = 0;
    while let Some(header) = bytes
        .get(at..to)
        .and_then(|b| b.first_chunk::<HEADER_BYTES>())
    {
        let (length, _) = parse_header(header);
        let next = at + HEADER_BYTES + length as usize;
        if !plausible_length(length) || next > to {
            break;
        }
        records += 1;
        at = next;
    }
    if at == to {
        records.max(1)
    } else {
        records + 1
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn framed(records: &[&[u8]]) -> (Vec<u8>, Vec<usize>) {
        let mut bytes = Vec::new();
        let mut starts = Vec::new();
        for record in records {
            starts.push(bytes.len());
            bytes.extend_from_slice(&header(record));
            bytes.extend_from_slice(record);
        }
        (bytes, starts)
    }

    fn walk(bytes: &[u8]) -> Vec<Found<'_>> {
        Walk::new(bytes, 0).collect()
    }

    #[test]
    fn damage_in_the_middle_costs_only_the_records_it_touched() {
        let records: Vec<Vec<u8>> = (0..6u8).map(|i| vec![i + 1; 20]).collect();
        let refs: Vec<&[u8]> = records.iter().map(|r| r.as_slice()).collect();
        let (mut bytes, starts) = framed(&refs);
        // Damage from the middle of record 1 into record 3's header.
        for b in &mut bytes[starts[1] + 12..starts[3] + 2] {
            *b = 0xa5;
        }
        let found = walk(&bytes);
        let kept: Vec<u8> = found
            .iter()
            .filter_map(|f| match f {
                Found::Record { record, .. } => Some(record[0]),
                _ => None,
            })
            .collect();
        assert_eq!(kept, [1, 5, 6]);
        assert_eq!(
            found[1],
            Found::Unreadable {
                offset: starts[1],
                bytes: starts[4] - starts[1],
                records: 2
            },
            "record 1's header still says where record 2 starts; the rest is one record at least"
        );
    }

    #[test]
    fn a_torn_tail_is_told_from_damage_at_the_end() {
        let (bytes, starts) = framed(&[b"one", b"two"]);
        let torn = &bytes[..bytes.len() - 1];
        assert_eq!(
            walk(torn).last(),
            Some(&Found::Unreadable {
                offset: starts[1],
                bytes: torn.len() - starts[1],
                records: 1
            })
        );
        assert!(is_torn_tail(&torn[starts[1]..]));
        assert!(is_torn_tail(&[1, 2, 3]));
        assert!(is_torn_tail(&[0; 64]));
        let mut damaged = bytes.clone();
        damaged[starts[1] + HEADER_BYTES] ^= 0xff;
        assert!(!is_torn_tail(&damaged[starts[1]..]));
    }

    #[test]
    fn zeros_and_junk_are_no_records() {
        assert_eq!(
            walk(&[0; 40]),
            [Found::Unreadable {
                offset: 0,
                bytes: 40,
                records: 1
            }]
        );
        let (mut bytes, _) = framed(&[b"after"]);
        let mut junk = vec![0xffu8; 100];
        junk.append(&mut bytes);
        let found = walk(&junk);
        assert_eq!(found.len(), 2);
        assert_eq!(
            found[1],
            Found::Record {
                offset: 100,
                record: b"after"
            }
        );
    }
}
