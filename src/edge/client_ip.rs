//! Who scanned: the TCP peer, unless the peer is one of our own proxies, in which case the address
//! the proxies recorded in `Forwarded` (RFC 7239) or `X-Forwarded-For`.
//!
//! Only networks configured in `edge.trusted_proxies` are believed: anyone else could write any
//! address into those headers. The chain is read from the right (the hop nearest to us) and every
//! trusted proxy is skipped, so a client cannot hide behind an address it prepends itself. A value
//! that does not parse ends the walk at the last address we could trust.
//!
//! With `edge.anonymize_ip` the address is cut to its network (IPv4 /24, IPv6 /48) here, before
//! it is enriched, spooled or streamed: the full address never leaves the request.

use std::net::IpAddr;

use hyper::header::{HeaderMap, HeaderValue};
use ipnet::IpNet;

const FORWARDED: &str = "forwarded";
const X_FORWARDED_FOR: &str = "x-forwarded-for";

#[derive(Debug, Clone, Default)]
pub struct ClientIp {
    trusted: Vec<IpNet>,
    anonymize: bool,
}

impl ClientIp {
    pub fn new(trusted: Vec<IpNet>) -> Self {
        Self {
            trusted,
            anonymize: false,
        }
    }

    pub fn anonymized(mut self, anonymize: bool) -> Self {
        self.anonymize = anonymize;
        self
    }

    /// The address recorded for a request that came from `peer`.
    pub fn recorded(&self, peer: IpAddr, headers: &HeaderMap) -> IpAddr {
        let ip = self.resolve(peer, headers);
        if self.anonymize {
            anonymize(ip)
        } else {
            ip
        }
    }

    fn is_trusted(&self, ip: IpAddr) -> bool {
        let ip = canonical(ip);
        self.trusted.iter().any(|net| net.contains(&ip))
    }

    /// The client's address for a request that came from `peer`.
    pub fn resolve(&self, peer: IpAddr, headers: &HeaderMap) -> IpAddr {
        let peer = canonical(peer);
        if self.trusted.is_empty() || !self.is_trusted(peer) {
            return peer;
        }
        // Forwarded is the standard; a proxy that writes it is preferred over the older header.
        let hops: Vec<Option<IpAddr>> = if headers.contains_key(FORWARDED) {
            headers
                .get_all(FORWARDED)
                .iter()
                .flat_map(forwarded_for)
                .collect()
        } else {
            headers
                .get_all(X_FORWARDED_FOR)
                .iter()
                .flat_map(x_forwarded_for)
                .collect()
        };
        let mut client = peer;
        for hop in hops.into_iter().rev() {
            match hop {
                Some(ip) => {
                    client = canonical(ip);
                    if !self.is_trusted(client) {
                        break;
                    }
                }
                None => break,
            }
        }
        client
    }
}

/// The address's network: IPv4 /24, IPv6 /48 (enough for a country and mostly a city).
fn anonymize(ip: IpAddr) -> IpAddr {
    let prefix = if ip.is_ipv4() { 24 } else { 48 };
    IpNet::new(ip, prefix).map_or(ip, |net| net.network())
}

/// IPv4 clients of a dual-stack listener arrive as `::ffff:a.b.c.d`: record them as IPv4.
fn canonical(ip: IpAddr) -> IpAddr {
    match ip {
        IpAddr::V6(v6) => v6.to_ipv4_mapped().map_or(ip, IpAddr::V4),
        v4 => v4,
    }
}

fn x_forwarded_for(value: &HeaderValue) -> Vec<Option<IpAddr>> {
    let Ok(text) = value.to_str() else {
        return vec![None];
    };
    text.split(',').map(|hop| parse_ip(hop.trim())).collect()
}

/// The `for=` of each element of a Forwarded header; an element without one is unparseable.
fn forwarded_for(value: &HeaderValue) -> Vec<Option<IpAddr>> {
    let Ok(text) = value.to_str() else {
        return vec![None];
    };
    text.split(',')
        .map(|element| {
            element.split(';').find_map(|pair| {
                let (key, value) = pair.trim().split_once('=')?;
                key.eq_ignore_ascii_case("for")
                    .then(|| parse_ip(value.trim().trim_matches('"')))
                    .flatten()
            })
        })
        .collect()
}

/// `1.2.3.4`, `1.2.3.4:5678`, `2001:db8::1`, `[2001:db8::1]` or `[2001:db8::1]:5678`.
fn parse_ip(text: &str) -> Option<IpAddr> {
    if let Ok(ip) = text.parse() {
        return Some(ip);
    }
    if let Some(rest) = text.strip_prefix('[') {
        return rest.split_once(']')?.0.parse().ok();
    }
    let (host, port) = text.rsplit_once(':')?;
    port.parse::<u16>().ok()?;
    host.parse::<std::net::Ipv4Addr>().ok().map(IpAddr::V4)
}

#[cfg(test)]
mod tests {
    use super::*;

    fn resolver(nets: &[&str]) -> ClientIp {
        ClientIp::new(nets.iter().map(|n| n.parse().unwrap()).collect())
    }

    fn headers(pairs: &[(&'static str, &'static str)]) -> HeaderMap {
        let mut map = HeaderMap::new();
        for (name, value) in pairs {
            map.append(*name, HeaderValue::from_static(value));
        }
        map
    }

    fn ip(text: &str) -> IpAddr {
        text.parse().unwrap()
    }

    #[test]
    fn without_trusted_proxies_the_headers_are_ignored() {
        let h = headers(&[("x-forwarded-for", "203.0.113.9")]);
        assert_eq!(
            ClientIp::default().resolve(ip("10.0.0.5"), &h),
            ip("10.0.0.5")
        );
        let r = resolver(&["10.0.0.0/8"]);
        assert_eq!(
            r.resolve(ip("198.51.100.7"), &h),
            ip("198.51.100.7"),
            "an untrusted peer"
        );
    }

    #[test]
    fn the_nearest_untrusted_hop_is_the_client() {
        let r = resolver(&["10.0.0.0/8"]);
        // The client wrote a fake address first; our two proxies appended theirs.
        let h = headers(&[("x-forwarded-for", "1.1.1.1, 203.0.113.9, 10.0.0.2")]);
        assert_eq!(r.resolve(ip("10.0.0.1"), &h), ip("203.0.113.9"));
        let split = headers(&[
            ("x-forwarded-for", "1.1.1.1, 203.0.113.9"),
            ("x-forwarded-for", "10.0.0.2"),
        ]);
        assert_eq!(r.resolve(ip("10.0.0.1"), &split), ip("203.0.113.9"));
    }

    #[test]
    fn forwarded_is_read_with_ports_brackets_and_quotes() {
        let r = resolver(&["10.0.0.0/8", "fd00::/8"]);
        let h = headers(&[(
            "forwarded",
            "for=192.0.2.60;proto=https, For=\"[2001:db8:cafe::17]:4711\", for=fd00::1",
        )]);
        assert_eq!(r.resolve(ip("10.0.0.1"), &h), ip("2001:db8:cafe::17"));
        let v4_port = headers(&[("forwarded", "for=\"192.0.2.60:8080\"")]);
        assert_eq!(r.resolve(ip("10.0.0.1"), &v4_port), ip("192.0.2.60"));
    }

    #[test]
    fn garbage_stops_at_the_last_trusted_address() {
        let r = resolver(&["10.0.0.0/8"]);
        let h = headers(&[("x-forwarded-for", "203.0.113.9, not-an-ip, 10.0.0.2")]);
        assert_eq!(r.resolve(ip("10.0.0.1"), &h), ip("10.0.0.2"));
        let hidden = headers(&[("forwarded", "for=_hidden")]);
        assert_eq!(r.resolve(ip("10.0.0.1"), &hidden), ip("10.0.0.1"));
        assert_eq!(r.resolve(ip("10.0.0.1"), &HeaderMap::new()), ip("10.0.0.1"));
    }

    #[test]
    fn anonymized_addresses_keep_only_their_network() {
        let r = ClientIp::default().anonymized(true);
        let none = HeaderMap::new();
        assert_eq!(r.recorded(ip("203.0.113.99"), &none), ip("203.0.113.0"));
        assert_eq!(
            r.recorded(ip("2001:db8:cafe:1:2:3:4:5"), &none),
            ip("2001:db8:cafe::")
        );
        assert_eq!(
            ClientIp::default().recorded(ip("203.0.113.99"), &none),
            ip("203.0.113.99")
        );
    }

    #[test]
    fn ipv4_mapped_peers_are_recorded_as_ipv4() {
        let r = resolver(&["127.0.0.0/8"]);
        let h = headers(&[("x-forwarded-for", "::ffff:203.0.113.9")]);
        assert_eq!(r.resolve(ip("::ffff:127.0.0.1"), &h), ip("203.0.113.9"));
        assert_eq!(
            ClientIp::default().resolve(ip("::ffff:192.0.2.1"), &h),
            ip("192.0.2.1")
        );
    }
}
