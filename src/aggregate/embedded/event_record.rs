//! How a scan event is written in the event log: one format byte, then the event.
//!
//! Format 1 is postcard (compact, not self-describing): under half the size of JSON, with no
//! field names or escaping to write, which matters at one record per scan. Records of the first
//! version of the log are JSON objects and start with `{`; they are still read. postcard encodes
//! fields by position, so a change to `ScanEvent`'s fields needs a new format byte, with the
//! old layout kept readable.

use std::io;

use crate::model::ScanEvent;

const POSTCARD: u8 = 1;

pub fn encode(event: &ScanEvent, out: &mut Vec<u8>) -> io::Result<()> {
    out.push(POSTCARD);
    // postcard extends a buffer it owns; on an error the batch is given up anyway.
    *out = postcard::to_extend(event, std::mem::take(out)).map_err(io::Error::other)?;
    Ok(())
}

pub fn decode(record: &[u8]) -> io::Result<ScanEvent> {
    let invalid = |e: String| io::Error::new(io::ErrorKind::InvalidData, e);
    match record.split_first() {
        Some((&POSTCARD, event)) => postcard::from_bytes(event).map_err(|e| invalid(e.to_string())),
        Some((b'{', _)) => serde_json::from_slice(record).map_err(|e| invalid(e.to_string())),
        _ => Err(invalid(format!(
            "unknown scan event record format {:?}",
            record.first()
        ))),
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn event() -> ScanEvent {
        ScanEvent {
            event_id: "0000000000000abc0000000000000007".into(),
            qr_id: "qr_1".into(),
            team_id: "team_1".into(),
            display_id: "menu".into(),
            scan_time: 1_768_412_112_787,
            device: "mobile".into(),
            browser: "Safari".into(),
            os: "iOS".into(),
            country: "DE".into(),
            city: "Köln".into(),
            ip_address: "203.0.113.9".into(),
            referrer: "https://news.example/".into(),
            user_agent: "Mozilla/5.0 (iPhone)".into(),
            bot: false,
            head: true,
            orphan: false,
        }
    }

    #[test]
    fn events_read_back_from_both_formats() {
        let mut record = Vec::new();
        encode(&event(), &mut record).unwrap();
        assert_eq!(decode(&record).unwrap(), event());
        let json = serde_json::to_vec(&event()).unwrap();
        assert!(record.len() < json.len() / 2);
        assert_eq!(decode(&json).unwrap(), event());
        assert_eq!(
            decode(b"\x07junk").unwrap_err().kind(),
            io::ErrorKind::InvalidData
        );
        assert!(decode(&record[..record.len() - 3]).is_err());
    }
}
