//! Scans: what the edge hands off (`RawScan`) and the enriched event that is stored and streamed.

use std::net::IpAddr;

use bytestring::ByteString;
use hyper::header::HeaderValue;
use serde::{Deserialize, Serialize};

/// What the edge knows about a scan when it answers: cheap to build (reference-counted strings,
/// header values shared with the request's buffer), enriched later off the request path.
#[derive(Debug, Clone, Serialize, Deserialize)]
#[serde(rename_all = "camelCase")]
pub struct RawScan {
    pub event_id: u128,
    pub qr_id: ByteString,
    pub team_id: ByteString,
    pub display_id: ByteString,
    pub scan_time: i64,
    pub ip: IpAddr,
    #[serde(with = "opt_header")]
    pub user_agent: Option<HeaderValue>,
    #[serde(with = "opt_header")]
    pub referrer: Option<HeaderValue>,
    /// A HEAD request: answered, kept out of the headline counts.
    #[serde(default)]
    pub head: bool,
    /// A scan of an unknown code on the team's custom domain (`qr_id` is empty).
    #[serde(default)]
    pub orphan: bool,
}

/// An enriched scan: the detailed analytics record, and the schema of the scan stream.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
#[serde(rename_all = "camelCase")]
pub struct ScanEvent {
    /// Unique per scan (32 hex digits): replays are counted once by it.
    pub event_id: String,
    pub qr_id: String,
    pub team_id: String,
    pub display_id: String,
    pub scan_time: i64,
    /// "mobile", "desktop", "tablet", "bot" or "other".
    pub device: String,
    pub browser: String,
    pub os: String,
    /// ISO 3166-1 alpha-2, empty when unknown.
    pub country: String,
    pub city: String,
    pub ip_address: String,
    pub referrer: String,
    pub user_agent: String,
    /// Crawlers and link-preview fetchers: kept, but out of the headline counts.
    pub bot: bool,
    /// A HEAD request (link checkers, prefetchers): kept, but out of the headline counts.
    #[serde(default)]
    pub head: bool,
    /// A scan of an unknown code (`displayId` as asked) on one of the team's custom domains;
    /// `qrId` is empty.
    #[serde(default)]
    pub orphan: bool,
}

impl ScanEvent {
    /// Whether the scan counts in the headline numbers (people, not machines).
    pub fn is_headline(&self) -> bool {
        !self.bot && !self.head
    }

    /// The id its counts are kept under: the code's, or the team's orphan scans'.
    pub fn rollup_id(&self) -> std::borrow::Cow<'_, str> {
        if self.orphan {
            orphans_id(&self.team_id).into()
        } else {
            self.qr_id.as_str().into()
        }
    }
}

/// The id under which a team's orphan scans are counted like a code's.
pub fn orphans_id(team_id: &str) -> String {
    format!("orphans:{team_id}")
}

/// Header values as text in the spool (lossy for the rare non-UTF-8 byte).
mod opt_header {
    use hyper::header::HeaderValue;
    use serde::{Deserialize, Deserializer, Serializer};

    pub fn serialize<S: Serializer>(value: &Option<HeaderValue>, s: S) -> Result<S::Ok, S::Error> {
        match value {
            Some(v) => s.serialize_some(&String::from_utf8_lossy(v.as_bytes())),
            None => s.serialize_none(),
        }
    }

    pub fn deserialize<'de, D: Deserializer<'de>>(d: D) -> Result<Option<HeaderValue>, D::Error> {
        Ok(Option::<String>::deserialize(d)?.and_then(|s| HeaderValue::from_str(&s).ok()))
    }
}

impl RawScan {
    /// The scan an enriched event came from, for spooling an event Kafka did not take: everything
    /// enrichment needs is in the event, so enriching it again gives the same event.
    pub fn from_event(event: &ScanEvent) -> Option<RawScan> {
        let header = |text: &str| {
            (!text.is_empty())
                .then(|| HeaderValue::from_str(text).ok())
                .flatten()
        };
        Some(RawScan {
            event_id: u128::from_str_radix(&event.event_id, 16).ok()?,
            qr_id: event.qr_id.as_str().into(),
            team_id: event.team_id.as_str().into(),
            display_id: event.display_id.as_str().into(),
            scan_time: event.scan_time,
            ip: event.ip_address.parse().ok()?,
            user_agent: header(&event.user_agent),
            referrer: header(&event.referrer),
            head: event.head,
            orphan: event.orphan,
        })
    }
}
