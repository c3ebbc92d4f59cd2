//! Scans: what the edge hands off (`RawScan`) and the enriched event that is stored and streamed.

use std::net::IpAddr;

use bytestring::ByteString;
use hyper::header::HeaderValue;
use serde::{Deserialize, Serialize};

/// What the edge knows about a scan when it answers: cheap to build (reference-counted strings),
/// enriched later off the request path.
#[derive(Debug, Clone, Serialize, Deserialize)]
#[serde(rename_all = "camelCase")]
pub struct RawScan {
    pub event_id: u128,
    pub qr_id: ByteString,
    pub team_id: ByteString,
    pub display_id: ByteString,
    pub scan_time: i64,
    pub ip: IpAddr,
    /// Copied out of the request (see [`header_text`]).
    pub user_agent: Option<ByteString>,
    pub referrer: Option<ByteString>,
    /// A HEAD request: answered, kept out of the headline counts.
    #[serde(default)]
    pub head: bool,
    /// A scan of an unknown code on the team's custom domain (`qr_id` is empty).
    #[serde(default)]
    pub orphan: bool,
}

/// An enriched scan: the detailed analytics record, and the schema of the scan stream.
///
/// The text fields are `ByteString`s because most of them are shared, not copied, per scan: the
/// ids with the route table's text, the user agent and what it says with the parsed-agent cache,
/// the place with the GeoIP record cache. A dozen strings allocated and freed per scan showed in
/// the profile of the loaded edge, whose core the pipeline shares.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize, utoipa::ToSchema)]
#[serde(rename_all = "camelCase")]
pub struct ScanEvent {
    /// Unique per scan (32 hex digits): replays are counted once by it.
    #[schema(value_type = String)]
    pub event_id: ByteString,
    #[schema(value_type = String)]
    pub qr_id: ByteString,
    #[schema(value_type = String)]
    pub team_id: ByteString,
    #[schema(value_type = String)]
    pub display_id: ByteString,
    pub scan_time: i64,
    /// "mobile", "desktop", "tablet", "bot" or "other".
    #[schema(value_type = String)]
    pub device: ByteString,
    #[schema(value_type = String)]
    pub browser: ByteString,
    #[schema(value_type = String)]
    pub os: ByteString,
    /// ISO 3166-1 alpha-2, empty when unknown.
    #[schema(value_type = String)]
    pub country: ByteString,
    #[schema(value_type = String)]
    pub city: ByteString,
    #[schema(value_type = String)]
    pub ip_address: ByteString,
    #[schema(value_type = String)]
    pub referrer: ByteString,
    #[schema(value_type = String)]
    pub user_agent: ByteString,
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
            std::borrow::Cow::Borrowed(&*self.qr_id)
        }
    }

    /// A headline scan of code `qr_id` (team "t", displayId "d") at `time`, every other text
    /// empty: what unit tests start from, changing the fields they are about.
    #[cfg(test)]
    pub fn test_scan(qr_id: &str, time: i64) -> ScanEvent {
        ScanEvent {
            event_id: "".into(),
            qr_id: qr_id.into(),
            team_id: "t".into(),
            display_id: "d".into(),
            scan_time: time,
            device: "".into(),
            browser: "".into(),
            os: "".into(),
            country: "".into(),
            city: "".into(),
            ip_address: "".into(),
            referrer: "".into(),
            user_agent: "".into(),
            bot: false,
            head: false,
            orphan: false,
        }
    }
}

/// The id under which a team's orphan scans are counted like a code's.
pub fn orphans_id(team_id: &str) -> String {
    format!("orphans:{team_id}")
}

/// A header's value as a scan keeps it: a copy, so that the request's read buffer, which the
/// header points into, is free for the connection's next request at once rather than held until
/// the scan's batch is stored (hyper then allocated a fresh 8 KiB buffer per request). Lossy for
/// the rare non-UTF-8 byte.
pub fn header_text(value: &HeaderValue) -> ByteString {
    // Nearly every header is visible ASCII: checked faster than decoded as UTF-8.
    match value.to_str() {
        Ok(text) => text.into(),
        Err(_) => String::from_utf8_lossy(value.as_bytes())
            .into_owned()
            .into(),
    }
}

impl RawScan {
    /// The scan an enriched event came from, for spooling an event Kafka did not take: everything
    /// enrichment needs is in the event, so enriching it again gives the same event.
    pub fn from_event(event: &ScanEvent) -> Option<RawScan> {
        let header = |text: &ByteString| (!text.is_empty()).then(|| text.clone());
        Some(RawScan {
            event_id: u128::from_str_radix(&event.event_id, 16).ok()?,
            qr_id: event.qr_id.clone(),
            team_id: event.team_id.clone(),
            display_id: event.display_id.clone(),
            scan_time: event.scan_time,
            ip: event.ip_address.parse().ok()?,
            user_agent: header(&event.user_agent),
            referrer: header(&event.referrer),
            head: event.head,
            orphan: event.orphan,
        })
    }
}
