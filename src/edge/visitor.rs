//! What the edge knows of the person scanning, worked out only when a rule asks (most codes
//! have no rules, and their scans pay nothing for this).

use std::net::IpAddr;
use std::sync::Arc;

use hyper::header::{self, HeaderMap};

use super::rules::fnv1a;
use crate::pipeline::geoip::GeoIp;
use crate::pipeline::user_agent::{UserAgentCache, UserAgentInfo};

/// Distinct user agents kept parsed for rules.
const USER_AGENT_CACHE_CAPACITY: usize = 20_000;

/// Shared by every request: the parsers a rule may need.
pub struct VisitorLookups {
    user_agents: UserAgentCache,
    geoip: Option<GeoIp>,
}

impl VisitorLookups {
    pub fn new(geoip: Option<GeoIp>) -> Self {
        Self {
            user_agents: UserAgentCache::new(USER_AGENT_CACHE_CAPACITY),
            geoip,
        }
    }
}

pub struct Visitor<'a> {
    headers: &'a HeaderMap,
    /// The client's real address (before any anonymisation of the recorded one).
    ip: IpAddr,
    lookups: &'a VisitorLookups,
    user_agent: Option<Arc<UserAgentInfo>>,
    os: Option<String>,
    language: Option<String>,
    country: Option<String>,
}

impl<'a> Visitor<'a> {
    pub fn new(headers: &'a HeaderMap, ip: IpAddr, lookups: &'a VisitorLookups) -> Self {
        Self {
            headers,
            ip,
            lookups,
            user_agent: None,
            os: None,
            language: None,
            country: None,
        }
    }

    fn user_agent_text(&self) -> &'a str {
        self.headers
            .get(header::USER_AGENT)
            .and_then(|v| v.to_str().ok())
            .unwrap_or("")
    }

    fn parsed(&mut self) -> &UserAgentInfo {
        let text = self.user_agent_text();
        let lookups = self.lookups;
        self.user_agent
            .get_or_insert_with(|| lookups.user_agents.get(text))
    }

    /// "mobile", "tablet", "desktop", "bot" or "other".
    pub fn device(&mut self) -> &str {
        self.parsed().device
    }

    /// Lower case: "ios", "android", "windows", "macos", "linux", … ("" when unknown).
    pub fn os(&mut self) -> &str {
        if self.os.is_none() {
            let os = self.parsed().os.to_ascii_lowercase().replace(' ', "");
            self.os = Some(os);
        }
        self.os.as_deref().unwrap_or("")
    }

    /// The primary subtag of the most preferred language of `Accept-Language` ("" when none).
    pub fn language(&mut self) -> &str {
        if self.language.is_none() {
            let header = self
                .headers
                .get(header::ACCEPT_LANGUAGE)
                .and_then(|v| v.to_str().ok())
                .unwrap_or("");
            self.language = Some(preferred_language(header));
        }
        self.language.as_deref().unwrap_or("")
    }

    /// ISO 3166-1 alpha-2 ("" when unknown or no GeoIP database is configured).
    pub fn country(&mut self) -> &str {
        if self.country.is_none() {
            let country = match &self.lookups.geoip {
                Some(geoip) => geoip.locate(self.ip).country.to_ascii_uppercase(),
                None => String::new(),
            };
            self.country = Some(country);
        }
        self.country.as_deref().unwrap_or("")
    }

    /// The same for the same address and browser, from any edge: keeps a visitor in one variant.
    pub fn sticky_hash(&self, seed: u64) -> u64 {
        let ip = match self.ip.to_canonical() {
            IpAddr::V4(v4) => fnv1a(&v4.octets(), seed),
            IpAddr::V6(v6) => fnv1a(&v6.octets(), seed),
        };
        // A final avalanche so that the low bits (taken modulo the weights) are well mixed.
        let mut h = fnv1a(self.user_agent_text().as_bytes(), ip);
        h ^= h >> 33;
        h = h.wrapping_mul(0xff51_afd7_ed55_8ccd);
        h ^= h >> 33;
        h
    }
}

/// The primary subtag, lower case, of the entry with the highest q-value (the first of equals).
pub fn preferred_language(accept_language: &str) -> String {
    let mut best = ("", 0.0f32);
    for entry in accept_language.split(',') {
        let mut parts = entry.split(';');
        let tag = parts.next().unwrap_or("").trim();
        let q = parts
            .find_map(|p| p.trim().strip_prefix("q="))
            .map_or(1.0, |q| q.trim().parse().unwrap_or(0.0));
        if !tag.is_empty() && tag != "*" && q > best.1 {
            best = (tag, q);
        }
    }
    best.0.split('-').next().unwrap_or("").to_ascii_lowercase()
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn the_most_preferred_language_wins() {
        assert_eq!(preferred_language("de-CH, de;q=0.9, en;q=0.8"), "de");
        assert_eq!(preferred_language("en;q=0.5, fr-FR;q=0.9"), "fr");
        assert_eq!(preferred_language("*, it;q=0.1"), "it");
        assert_eq!(preferred_language(""), "");
        assert_eq!(preferred_language("es;q=0"), "");
    }
}
