//! Turns what the edge saw into the enriched scan event.

use std::sync::Arc;

use bytestring::ByteString;

use super::geoip::GeoIp;
use super::user_agent::{UserAgentCache, UserAgentInfo};
use crate::ids::format_event_id;
use crate::model::{RawScan, ScanEvent};

/// Distinct user agents kept parsed.
const USER_AGENT_CACHE_CAPACITY: usize = 20_000;

pub struct Enricher {
    user_agents: UserAgentCache,
    /// What a scan without a user agent is.
    no_user_agent: Arc<UserAgentInfo>,
    geoip: Option<GeoIp>,
}

impl Enricher {
    pub fn new(geoip: Option<GeoIp>) -> Self {
        Self {
            user_agents: UserAgentCache::new(USER_AGENT_CACHE_CAPACITY),
            no_user_agent: Arc::new(UserAgentInfo {
                device: "other",
                browser: ByteString::new(),
                os: ByteString::new(),
                bot: false,
                user_agent: ByteString::new(),
            }),
            geoip,
        }
    }

    /// The event of a scan. Its texts are shared where they repeat (ids, user agent, place):
    /// a cached user agent or a known place costs no allocation.
    pub fn enrich(&self, scan: &RawScan) -> ScanEvent {
        let ua = match scan.user_agent.as_deref() {
            None | Some("") => Arc::clone(&self.no_user_agent),
            Some(user_agent) => self.user_agents.get(user_agent),
        };
        let location = self
            .geoip
            .as_ref()
            .map(|g| g.locate(scan.ip))
            .unwrap_or_default();
        ScanEvent {
            event_id: format_event_id(scan.event_id).into(),
            qr_id: scan.qr_id.clone(),
            team_id: scan.team_id.clone(),
            display_id: scan.display_id.clone(),
            scan_time: scan.scan_time,
            device: ByteString::from_static(ua.device),
            browser: ua.browser.clone(),
            os: ua.os.clone(),
            country: location.country,
            city: location.city,
            ip_address: scan.ip.to_string().into(),
            referrer: scan.referrer.clone().unwrap_or_default(),
            user_agent: ua.user_agent.clone(),
            bot: ua.bot,
            head: scan.head,
            orphan: scan.orphan,
        }
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
            user_agent: Some(("Mozilla/5.0 (iPhone; CPU iPhone OS 17_0 like Mac OS X) Version/17.0 Mobile/15E148 Safari/604.1").into()),
            referrer: Some("https://news.example/".into()),
            head: false,
            orphan: false,
        };
        let event = enricher.enrich(&raw);
        let back = RawScan::from_event(&event).expect("events convert back");
        assert_eq!(enricher.enrich(&back), event);
        assert_eq!(back.event_id, raw.event_id);
    }
}
