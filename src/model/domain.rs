//! Host names from outside (a team's domains, a code's `baseUrl`, the edge's `Host` header, a TLS
//! client's SNI name, the configured public URLs) in the one form qredge compares and keeps them:
//! lower case, IDNA as punycode, no trailing dot, no port, IP literals in their canonical form.
//! Two spellings of one host are one `DomainName`, so no spelling gets past a check the other
//! one fails.

use std::fmt;

use url::Host;

/// Longest DNS name (RFC 1035), without the trailing dot.
pub const MAX_NAME_LEN: usize = 253;

/// A host name in its one normal form (see the module's description).
#[derive(Debug, Clone, PartialEq, Eq, Hash, PartialOrd, Ord)]
pub struct DomainName(String);

impl DomainName {
    /// `text` as a host: `QR.Example.com.`, `qr.example.com:8443`, `bücher.example`,
    /// `[::1]:80` and `127.1` are `qr.example.com`, `qr.example.com`, `xn--bcher-kva.example`,
    /// `[::1]` and `127.0.0.1`. A scheme, path, query, user or a malformed name is refused
    /// with a sentence naming `text`.
    pub fn parse(text: &str) -> Result<DomainName, String> {
        let refuse = || {
            format!(
                "{text:?} is not a domain name like \"qr.example.com\" (no scheme, path or spaces)"
            )
        };
        let host = without_port(text.trim()).ok_or_else(refuse)?;
        let host = host.strip_suffix('.').unwrap_or(host);
        if host.is_empty()
            || host.len() > 4 * MAX_NAME_LEN
            || host.contains(['/', '\\', '?', '#', '@', '%', ' '])
            || host.chars().any(char::is_control)
        {
            return Err(refuse());
        }
        let name = match Host::parse(host).map_err(|_| refuse())? {
            Host::Domain(name) => name,
            ip => return Ok(DomainName(ip.to_string())),
        };
        if name.len() > MAX_NAME_LEN || !name.split('.').all(is_dns_label) {
            return Err(refuse());
        }
        Ok(DomainName(name))
    }

    pub fn as_str(&self) -> &str {
        &self.0
    }

    pub fn into_string(self) -> String {
        self.0
    }

    /// An IPv4 or IPv6 literal rather than a DNS name.
    pub fn is_ip(&self) -> bool {
        self.0.starts_with('[') || self.0.parse::<std::net::Ipv4Addr>().is_ok()
    }

    /// `localhost` or a name under it (RFC 6761: always this machine).
    pub fn is_localhost(&self) -> bool {
        self.0 == "localhost" || self.0.ends_with(".localhost")
    }

    /// A DNS name of two labels or more: what a team can point at the edge by CNAME.
    pub fn is_public_dns_name(&self) -> bool {
        !self.is_ip() && !self.is_localhost() && self.0.contains('.')
    }

    /// Whether it is `parent` or a name below it (`a.qr.example.com` under `qr.example.com`).
    pub fn is_within(&self, parent: &DomainName) -> bool {
        self.0
            .strip_suffix(parent.as_str())
            .is_some_and(|head| head.is_empty() || head.ends_with('.'))
    }
}

impl fmt::Display for DomainName {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str(&self.0)
    }
}

/// `host:port` → `host`, `[v6]:port` → `[v6]`; None when what follows the last ':' of a DNS name
/// is not a port number.
fn without_port(text: &str) -> Option<&str> {
    if let Some(rest) = text.strip_prefix('[') {
        let end = rest.find(']')?;
        let after = &rest[end + 1..];
        return match after.strip_prefix(':') {
            Some(port) if is_port(port) => Some(&text[..end + 2]),
            None if after.is_empty() => Some(text),
            _ => None,
        };
    }
    match text.rsplit_once(':') {
        Some((host, port)) if is_port(port) => Some(host),
        Some(_) => None,
        None => Some(text),
    }
}

fn is_port(text: &str) -> bool {
    !text.is_empty() && text.len() <= 5 && text.bytes().all(|b| b.is_ascii_digit())
}

/// 1 to 63 of `a-z0-9-`, not starting or ending with '-' (IDNA has made it ASCII lower case).
fn is_dns_label(label: &str) -> bool {
    (1..=63).contains(&label.len())
        && label
            .bytes()
            .all(|b| b.is_ascii_lowercase() || b.is_ascii_digit() || b == b'-')
        && !label.starts_with('-')
        && !label.ends_with('-')
}

/// The hosts that are the platform's own and no team's custom domain: the edge's and the API's
/// public hosts, `localhost` and every IP literal (the listen addresses among them).
#[derive(Debug, Clone)]
pub struct PlatformHosts {
    /// The edge's public host: codes printed with it live in the shared code space.
    pub edge: DomainName,
    /// The API's public host, when it has one.
    pub api: Option<DomainName>,
}

impl PlatformHosts {
    /// From the edge's and the API's public base URLs.
    pub fn of(edge_base_url: &str, api_base_url: &str) -> PlatformHosts {
        let edge = host_of_url(edge_base_url).unwrap_or_else(|| DomainName("localhost".into()));
        PlatformHosts {
            edge,
            api: host_of_url(api_base_url),
        }
    }

    /// Why `name` cannot be newly claimed as a team's custom domain, if it cannot: the
    /// platform's own hosts (see [`Self::own_host_refusal`]) and the names below them, where the
    /// platform's names and cookies live and a team's page must not pass for the platform's.
    pub fn refusal(&self, name: &DomainName) -> Option<String> {
        self.own_host_refusal(name).or_else(|| {
            self.is_below_own_host(name).then(|| {
                format!("{name:?} is a name under the platform's own host, not a custom domain")
            })
        })
    }

    /// Why `name` is one of the platform's own hosts (the edge's or the API's, an address of
    /// this machine, an IP literal or a name of one label), if it is: what no stored claim may
    /// be either. (A name below the platform's host that an older version let a team claim
    /// stays theirs: an operator may have handed such names out.)
    pub fn own_host_refusal(&self, name: &DomainName) -> Option<String> {
        if *name == self.edge || Some(name) == self.api.as_ref() {
            Some(format!(
                "{name:?} is the platform's own host, not a custom domain"
            ))
        } else if name.is_ip() || name.is_localhost() {
            Some(format!(
                "{name:?} is an address of this machine or an IP literal, not a custom domain"
            ))
        } else if !name.is_public_dns_name() {
            Some(format!(
                "{name:?} is not a domain name like \"qr.example.com\" (two labels or more)"
            ))
        } else {
            None
        }
    }

    /// Whether `name` is below (not equal to) the edge's or the API's public DNS name.
    fn is_below_own_host(&self, name: &DomainName) -> bool {
        [Some(&self.edge), self.api.as_ref()]
            .into_iter()
            .flatten()
            .filter(|own| own.is_public_dns_name())
            .any(|own| name != own && name.is_within(own))
    }
}

/// The host of an absolute URL, normalised; None when it has none.
pub fn host_of_url(url: &str) -> Option<DomainName> {
    let url = url::Url::parse(url).ok()?;
    DomainName::parse(url.host_str()?).ok()
}

#[cfg(test)]
mod tests {
    use super::*;
    use proptest::prelude::*;

    fn parse(text: &str) -> Result<String, String> {
        DomainName::parse(text).map(DomainName::into_string)
    }

    #[test]
    fn every_spelling_of_a_host_is_one_name() {
        for (text, name) in [
            ("qr.example.com", "qr.example.com"),
            ("QR.Example.COM.", "qr.example.com"),
            (" qr.example.com:8443 ", "qr.example.com"),
            ("bücher.example", "xn--bcher-kva.example"),
            ("XN--BCHER-KVA.example", "xn--bcher-kva.example"),
            ("localhost:8080", "localhost"),
            ("127.0.0.1:80", "127.0.0.1"),
            ("127.1", "127.0.0.1"),
            ("0x7f.0.0.1", "127.0.0.1"),
            ("[::1]:8080", "[::1]"),
            ("[0:0::1]", "[::1]"),
        ] {
            assert_eq!(parse(text).as_deref(), Ok(name), "{text}");
        }
    }

    #[test]
    fn what_is_no_host_name_is_refused() {
        for text in [
            "",
            ".",
            "https://qr.example.com",
            "qr.example.com/path",
            "qr.example.com..",
            "user@qr.example.com",
            "qr.example.com:port",
            "qr example.com",
            "qr_1.example.com",
            "-qr.example.com",
            "qr.example.com\0",
            "[::1",
            &format!("{}.com", "a".repeat(64)),
            &format!("{}com", "a.".repeat(130)),
        ] {
            assert!(parse(text).is_err(), "{text:?}");
        }
    }

    #[test]
    fn the_platforms_hosts_are_no_custom_domains() {
        let platform = PlatformHosts::of("https://qr.example.com/", "https://api.example.com/");
        for text in [
            "qr.example.com.",
            "QR.EXAMPLE.COM:443",
            "api.example.com",
            "localhost",
            "app.localhost",
            "127.0.0.1",
            "[::1]",
            "10.0.0.1",
            "intranet",
            "evil.qr.example.com",
            "A.B.API.EXAMPLE.COM.",
        ] {
            let name = DomainName::parse(text).unwrap();
            assert!(platform.refusal(&name).is_some(), "{text}");
        }
        for text in ["promo.acme.example", "xqr.example.com", "example.com"] {
            let custom = DomainName::parse(text).unwrap();
            assert_eq!(platform.refusal(&custom), None, "{text}");
        }
    }

    proptest! {
        /// A parsed name parses to itself: normalising twice changes nothing.
        #[test]
        fn normalising_is_idempotent(text in "[a-zA-Z0-9.:\\[\\]ü-]{0,40}") {
            if let Ok(name) = DomainName::parse(&text) {
                prop_assert_eq!(DomainName::parse(name.as_str()), Ok(name.clone()));
                prop_assert!(name.as_str().len() <= MAX_NAME_LEN);
                prop_assert!(!name.as_str().ends_with('.'));
                prop_assert!(!name.as_str().bytes().any(|b| b.is_ascii_uppercase()));
            }
        }

        /// Case, a trailing dot and a port never make two names of one host.
        #[test]
        fn case_dot_and_port_do_not_matter(
            labels in proptest::collection::vec("[a-z][a-z0-9-]{0,10}[a-z0-9]", 2..5),
            port in 1u16..,
            upper in any::<bool>(),
        ) {
            // An `xn--` label must be valid punycode: not every such label is a name.
            prop_assume!(!labels.iter().any(|l| l.starts_with("xn--")));
            let plain = labels.join(".");
            let name = DomainName::parse(&plain).unwrap();
            let spelled = if upper { plain.to_ascii_uppercase() } else { plain.clone() };
            prop_assert_eq!(DomainName::parse(&format!("{spelled}.:{port}")).unwrap(), name.clone());
            prop_assert_eq!(DomainName::parse(&format!("{spelled}.")).unwrap(), name);
        }

        /// No input panics, and whatever is accepted is an ASCII host a URL can carry.
        #[test]
        fn anything_parses_or_is_refused(text in any::<String>()) {
            if let Ok(name) = DomainName::parse(&text) {
                prop_assert!(name.as_str().is_ascii());
                let url = url::Url::parse(&format!("https://{name}/")).unwrap();
                prop_assert_eq!(url.host_str(), Some(name.as_str()));
            }
        }
    }
}
