//! Where a request is going: the host (from the URI's authority under HTTP/2, else the Host
//! header; without port and trailing dot, and lower-cased by [`normalised_host`]: the form of
//! `model::DomainName`, in which custom domains are kept), the displayId, an optional file below
//! it, and the query. Nothing is allocated unless the host has upper-case letters.

use hyper::header;
use hyper::Request;

use crate::model::validate::MAX_DISPLAY_ID_LEN;

/// Longest host name (253) + '/' + the longest displayId: a route key fits a stack buffer.
pub const KEY_CAPACITY: usize = 254 + MAX_DISPLAY_ID_LEN;

#[derive(Debug, PartialEq, Eq)]
pub struct RequestTarget<'a> {
    pub host: &'a str,
    /// The path without its leading and trailing '/': "abc", "abc/contact.vcf", "" for the root.
    pub path: &'a str,
    pub display_id: &'a str,
    /// What follows the displayId ("contact.vcf"), if anything.
    pub file: Option<&'a str>,
    pub query: Option<&'a str>,
}

impl<'a> RequestTarget<'a> {
    pub fn of<B>(request: &'a Request<B>) -> Self {
        let uri = request.uri();
        let authority = uri.authority().map(|a| a.as_str()).or_else(|| {
            request
                .headers()
                .get(header::HOST)
                .and_then(|h| h.to_str().ok())
        });
        let host = authority.map_or("", host_of_authority);
        let path = uri.path().trim_start_matches('/');
        let path = path.strip_suffix('/').unwrap_or(path);
        let (display_id, file) = match path.split_once('/') {
            Some((id, file)) => (id, Some(file)),
            None => (path, None),
        };
        RequestTarget {
            host,
            path,
            display_id,
            file,
            query: uri.query(),
        }
    }

    /// The route key (see `model::route_key`): the display id itself on the platform's domain,
    /// `domain/displayId` written into `buffer` on a custom one. None when it cannot be a key.
    pub fn route_key<'b>(
        &'b self,
        domain: Option<&str>,
        buffer: &'b mut [u8; KEY_CAPACITY],
    ) -> Option<&'b str> {
        let Some(domain) = domain else {
            return Some(self.display_id);
        };
        let (d, id) = (domain.as_bytes(), self.display_id.as_bytes());
        let len = d.len() + 1 + id.len();
        if len > KEY_CAPACITY {
            return None;
        }
        buffer[..d.len()].copy_from_slice(d);
        buffer[d.len()] = b'/';
        buffer[d.len() + 1..len].copy_from_slice(id);
        std::str::from_utf8(&buffer[..len]).ok()
    }
}

/// "Host.:8080" → "Host"; "[::1]:8080" → "[::1]": without user, port and one trailing dot (a
/// fully qualified name is the same host).
fn host_of_authority(authority: &str) -> &str {
    let authority = authority.rsplit_once('@').map_or(authority, |(_, a)| a);
    let host = match authority.rfind(':') {
        Some(i) if !authority[i..].contains(']') => &authority[..i],
        _ => authority,
    };
    host.strip_suffix('.').unwrap_or(host)
}

/// A host as domains are kept: lower case. Borrowed unless it has upper-case letters.
pub fn normalised_host(host: &str) -> std::borrow::Cow<'_, str> {
    if host.bytes().any(|b| b.is_ascii_uppercase()) {
        host.to_ascii_lowercase().into()
    } else {
        host.into()
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use proptest::prelude::*;

    fn target(
        uri: &str,
        host: Option<&str>,
    ) -> (String, String, String, Option<String>, Option<String>) {
        let mut builder = Request::builder().uri(uri);
        if let Some(host) = host {
            builder = builder.header(header::HOST, host);
        }
        let request = builder.body(()).unwrap();
        let t = RequestTarget::of(&request);
        (
            t.host.to_owned(),
            t.path.to_owned(),
            t.display_id.to_owned(),
            t.file.map(str::to_owned),
            t.query.map(str::to_owned),
        )
    }

    #[test]
    fn host_path_and_query_are_told_apart() {
        assert_eq!(
            target("/abc?utm=x", Some("qr.acme.example:8080")),
            (
                "qr.acme.example".into(),
                "abc".into(),
                "abc".into(),
                None,
                Some("utm=x".into())
            )
        );
        assert_eq!(
            target("https://qr.acme.example/abc/contact.vcf", None),
            (
                "qr.acme.example".into(),
                "abc/contact.vcf".into(),
                "abc".into(),
                Some("contact.vcf".into()),
                None
            )
        );
        assert_eq!(target("/", Some("[::1]:80")).0, "[::1]");
        assert_eq!(
            target("/", Some("qr.acme.example.:80")).0,
            "qr.acme.example"
        );
        assert_eq!(target("/", Some("qr.acme.example.")).0, "qr.acme.example");
        assert_eq!(
            target("http://QR.acme.example./x", None).0,
            "QR.acme.example"
        );
        assert_eq!(target("/abc/", None).1, "abc");
    }

    #[test]
    fn route_keys_are_built_without_allocating() {
        let request = Request::builder().uri("/abc").body(()).unwrap();
        let t = RequestTarget::of(&request);
        let mut buffer = [0; KEY_CAPACITY];
        assert_eq!(t.route_key(None, &mut buffer), Some("abc"));
        assert_eq!(
            t.route_key(Some("qr.acme.example"), &mut buffer),
            Some("qr.acme.example/abc")
        );
        let long = "x".repeat(KEY_CAPACITY);
        assert_eq!(t.route_key(Some(&long), &mut buffer), None);
    }

    fn request(path: &str, host: &str) -> Option<Request<()>> {
        Request::builder()
            .uri(path)
            .header(header::HOST, host)
            .body(())
            .ok()
    }

    proptest! {
        /// Any spelling of a host that names one (case, trailing dot, port) resolves to the name
        /// `DomainName` keeps, and the route key is `domain/displayId` for any path.
        #[test]
        fn the_host_is_normalised_as_domains_are_kept(
            labels in proptest::collection::vec("[a-zA-Z][a-zA-Z0-9-]{0,8}[a-zA-Z0-9]", 2..4),
            dot in any::<bool>(),
            port in proptest::option::of(1u16..),
            id in "[a-zA-Z0-9_~-]{1,20}",
            file in proptest::option::of("[a-z.]{1,12}"),
        ) {
            let name = labels.join(".");
            prop_assume!(!name.to_ascii_lowercase().contains("xn--"));
            let host = format!(
                "{name}{}{}",
                if dot { "." } else { "" },
                port.map(|p| format!(":{p}")).unwrap_or_default()
            );
            let path = match &file {
                Some(file) => format!("/{id}/{file}"),
                None => format!("/{id}"),
            };
            let request = request(&path, &host).unwrap();
            let t = RequestTarget::of(&request);
            let kept = crate::model::DomainName::parse(&host).unwrap();
            let host = normalised_host(t.host);
            prop_assert_eq!(host.as_ref(), kept.as_str());
            prop_assert_eq!(t.display_id, id.as_str());
            let mut buffer = [0; KEY_CAPACITY];
            let key = format!("{kept}/{id}");
            prop_assert_eq!(t.route_key(Some(kept.as_str()), &mut buffer), Some(key.as_str()));
        }

        /// Whatever a client sends as path and Host, reading the target does not panic, and a
        /// route key, when there is one, is the domain, '/', and the displayId.
        #[test]
        fn any_request_is_read(path in "/[ -~]{0,300}", host in "[ -~]{0,300}", domain in "[a-z.]{0,300}") {
            if let Some(request) = request(&path, &host) {
                let t = RequestTarget::of(&request);
                prop_assert!(!t.display_id.contains('/'));
                let mut buffer = [0; KEY_CAPACITY];
                if let Some(key) = t.route_key(Some(&domain), &mut buffer) {
                    prop_assert_eq!(key, format!("{domain}/{}", t.display_id));
                }
                prop_assert_eq!(t.route_key(None, &mut buffer), Some(t.display_id));
            }
        }
    }
}
