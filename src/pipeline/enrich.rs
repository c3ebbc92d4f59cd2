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
        }
    }
}

fn header_text(value: Option<&HeaderValue>) -> String {
    value
        .map(|v| String::from_utf8_lossy(v.as_bytes()).into_owned())
        .unwrap_or_default()
}
