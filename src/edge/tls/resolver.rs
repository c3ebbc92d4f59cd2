//! Which certificate a TLS handshake gets: the one whose DNS names cover the client's SNI name,
//! exact names before wildcards, else the default one (if any).

use std::borrow::Cow;
use std::collections::HashMap;
use std::sync::Arc;

use arc_swap::ArcSwap;
use rustls::server::{ClientHello, ResolvesServerCert};
use rustls::sign::CertifiedKey;

/// Names to values, as a certificate's subjectAltNames cover them: `a.example.com` exactly, and
/// `*.example.com` any one label in front of `example.com` (not `example.com` itself, not
/// `x.y.example.com`). Names are kept lowercase; lookups ignore case.
#[derive(Debug, Clone)]
pub struct Names<T> {
    exact: HashMap<String, T>,
    /// Keyed by what follows `*.`.
    wildcard: HashMap<String, T>,
    default: Option<T>,
}

impl<T> Default for Names<T> {
    fn default() -> Self {
        Self {
            exact: HashMap::new(),
            wildcard: HashMap::new(),
            default: None,
        }
    }
}

impl<T> Names<T> {
    /// Adds `value` for `name` (a DNS name or `*.`-wildcard); a name already taken keeps its
    /// first value and `false` is returned.
    pub fn insert(&mut self, name: &str, value: T) -> bool {
        let name = name.to_ascii_lowercase();
        let (map, key) = match name.strip_prefix("*.") {
            Some(parent) => (&mut self.wildcard, parent.to_owned()),
            None => (&mut self.exact, name),
        };
        match map.entry(key) {
            std::collections::hash_map::Entry::Occupied(_) => false,
            std::collections::hash_map::Entry::Vacant(slot) => {
                slot.insert(value);
                true
            }
        }
    }

    /// What answers when the client names no host, or one nothing covers.
    pub fn set_default(&mut self, value: T) {
        self.default = Some(value);
    }

    /// The value for `server_name` (the client's SNI, None when it sent none).
    pub fn find(&self, server_name: Option<&str>) -> Option<&T> {
        let Some(name) = server_name else {
            return self.default.as_ref();
        };
        // A fully qualified name (`qr.example.com.`) is the same host, as on the edge's Host.
        let name = name.strip_suffix('.').unwrap_or(name);
        let name = if name.bytes().any(|b| b.is_ascii_uppercase()) {
            Cow::Owned(name.to_ascii_lowercase())
        } else {
            Cow::Borrowed(name)
        };
        self.exact
            .get(name.as_ref())
            .or_else(|| {
                let (_, parent) = name.split_once('.')?;
                self.wildcard.get(parent)
            })
            .or(self.default.as_ref())
    }

    pub fn is_empty(&self) -> bool {
        self.exact.is_empty() && self.wildcard.is_empty() && self.default.is_none()
    }
}

/// The rustls hook: reads the current certificates (swapped whole on reload; handshakes never
/// lock) and picks one by SNI. None fails the handshake with an alert.
#[derive(Debug)]
pub struct SniResolver {
    certificates: Arc<ArcSwap<Names<Arc<CertifiedKey>>>>,
}

impl SniResolver {
    pub fn new(certificates: Arc<ArcSwap<Names<Arc<CertifiedKey>>>>) -> Self {
        Self { certificates }
    }
}

impl ResolvesServerCert for SniResolver {
    fn resolve(&self, hello: ClientHello<'_>) -> Option<Arc<CertifiedKey>> {
        let name = hello.server_name();
        let found = self.certificates.load().find(name).cloned();
        if found.is_none() {
            tracing::debug!(
                server_name = name.unwrap_or(""),
                "no certificate for this name"
            );
        }
        found
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn names() -> Names<&'static str> {
        let mut names = Names::default();
        assert!(names.insert("a.example.com", "a"));
        assert!(names.insert("*.c.example.com", "c-wildcard"));
        assert!(names.insert("exact.c.example.com", "c-exact"));
        names
    }

    #[test]
    fn exact_names_before_wildcards() {
        let names = names();
        assert_eq!(names.find(Some("a.example.com")), Some(&"a"));
        assert_eq!(names.find(Some("exact.c.example.com")), Some(&"c-exact"));
        assert_eq!(names.find(Some("x.c.example.com")), Some(&"c-wildcard"));
    }

    #[test]
    fn a_wildcard_covers_exactly_one_label() {
        let names = names();
        assert_eq!(names.find(Some("c.example.com")), None);
        assert_eq!(names.find(Some("y.x.c.example.com")), None);
        assert_eq!(names.find(Some("b.example.com")), None);
    }

    #[test]
    fn lookups_ignore_case() {
        let mut names = names();
        assert!(names.insert("Upper.Example.COM", "u"));
        assert_eq!(names.find(Some("A.Example.Com")), Some(&"a"));
        assert_eq!(names.find(Some("X.C.EXAMPLE.COM")), Some(&"c-wildcard"));
        assert_eq!(names.find(Some("upper.example.com")), Some(&"u"));
    }

    #[test]
    fn a_fully_qualified_name_is_the_same_host() {
        let names = names();
        assert_eq!(names.find(Some("a.example.com.")), Some(&"a"));
        assert_eq!(names.find(Some("X.c.example.com.")), Some(&"c-wildcard"));
        assert_eq!(names.find(Some("a.example.com..")), None);
    }

    #[test]
    fn the_default_answers_unknown_names_and_no_name() {
        let mut names = names();
        assert_eq!(names.find(None), None);
        names.set_default("default");
        assert_eq!(names.find(None), Some(&"default"));
        assert_eq!(names.find(Some("unknown.example.org")), Some(&"default"));
        assert_eq!(names.find(Some("a.example.com")), Some(&"a"));
    }

    #[test]
    fn the_first_claim_on_a_name_wins() {
        let mut names = names();
        assert!(!names.insert("a.example.com", "second"));
        assert!(!names.insert("*.c.example.com", "second"));
        assert_eq!(names.find(Some("a.example.com")), Some(&"a"));
    }
}
