//! Turns what the edge saw into the enriched scan event.

use std::sync::Arc;

use hyper::header::HeaderValue;

use super::geoip::GeoIp;
use super::user_agent::{UserAgentCache, UserAgentInfo};
use crate::ids::format_event_id;
use crate::model::{RawScan, ScanEvent};

/// Distinct user agents kept parsed.
const USER_AGENT_CACHE_CAPACITY: usize = 20_000;

pub struct Enricher {
    user_agents: UserAgentCache,
    geoip: Option<GeoIp>,
}

impl Enricher {
    pub fn new(geoip: Option<GeoIp>) -> Self {
        Self {
            user_agents: UserAgentCache::new(USER_AGENT_CACHE_CAPACITY),
            geoip,
        }
    }

    pub fn enrich(&self, scan: &RawScan) -> ScanEvent {
        let user_agent = header_text(scan.user_agent.as_ref());
        let ua = if user_agent.is_empty() {
            Arc::new(UserAgentInfo {
                device: "other",
                browser: String::new(),
                os: String::new(),
                bot: false,
            })
        } else {
            self.user_agents.get(&user_agent)
        };
        let location = self
            .geoip
            .as_ref()
            .map(|g| g.locate(scan.ip))
            .unwrap_or_default();
        ScanEvent {
            event_id: format_event_id(scan.event_id),
            qr_id: scan.qr_id.to_string(),
            team_id: scan.team_id.to_string(),
            display_id: scan.display_id.to_string(),
            scan_time: scan.scan_time,
            device: ua.device.to_owned(),
            browser: ua.browser.clone(),
            os: ua.os.clone(),
            country: location.country,
            city: location.city,
            ip_address: scan.ip.to_string(),
            referrer: header_text(scan.referrer.as_ref()),
            user_agent,
            bot: ua.bot,
            head: scan.head,
            orphan: scan.orphan,
        }
    }
}

fn header_text(value: Option<&HeaderValue>) -> String {
    match value {
        // Nearly every header is visible ASCII: checked faster than decoded as UTF-8.
        Some(v) => match v.to_str() {
            Ok(text) => text.to_owned(),
            Err(_) => String::from_utf8_lossy(v.as_bytes()).into_owned(),
        },
        None => String::new(),
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use std::net::{IpAddr, Ipv4Addr};

    #[test]
    fn a_spooled_event_enriches_back_to_itself() {
        let enricher = Enricher::new(None);
        let raw = RawScan {
            event_id: 0xabc_u128 << 64 | 7,
            qr_id: "qr_1".into(),
            team_id: "team_1".into(),
            display_id: "menu".into(),
            scan_time: 1_768_412_112_787,
            ip: IpAddr::V4(Ipv4Addr::new(203, 0, 113, 9)),
            user_agent: Some(HeaderValue::from_static("Mozilla/5.0 (iPhone; CPU iPhone OS 17_0 like Mac OS X) Version/17.0 Mobile/15E148 Safari/604.1")),
            referrer: Some(HeaderValue::from_static("https://news.example/")),
            head: false,
            orphan: false,
        };
        let event = enricher.enrich(&raw);
        let back = RawScan::from_event(&event).expect("events convert back");
        assert_eq!(enricher.enrich(&back), event);
        assert_eq!(back.event_id, raw.event_id);
    }
}
