//! The host a scan's `Referer` counts under. Runs once per scan on the aggregator: the common
//! header (`http(s)://` and a plain host name) is cut out of the text as it is, without parsing or
//! allocating; anything else goes to the full URL parser, whose answer is the reference.

use std::borrow::Cow;

use super::rollup::truncate;

/// The host of a `Referer` header (lowercase), the header itself (cut) when it is not a URL with
/// a host, empty when absent.
pub fn referrer_host(referrer: &str) -> Cow<'_, str> {
    match plain_http_host(referrer) {
        Some(host) => lowercase(truncate(host)),
        None => referrer_host_by_url(referrer),
    }
}

/// `referrer_host` by a full parse of the URL: what every header the shortcut passes on gets.
pub fn referrer_host_by_url(referrer: &str) -> Cow<'_, str> {
    if referrer.is_empty() {
        return Cow::Borrowed("");
    }
    match url::Url::parse(referrer) {
        Ok(url) => match url.host_str() {
            Some(host) => Cow::Owned(truncate(host).to_ascii_lowercase()),
            None => Cow::Borrowed(truncate(referrer)),
        },
        Err(_) => Cow::Borrowed(truncate(referrer)),
    }
}

/// The host of an `http://` or `https://` URL (any case) when the URL parser would return it as
/// written but for case: a name of letters, digits, dots and hyphens (no IP address, no
/// punycode, no IPv6 literal), after any userinfo, before a valid port. None for anything else.
fn plain_http_host(referrer: &str) -> Option<&str> {
    let rest = strip_prefix_ignoring_case(referrer, "https://")
        .or_else(|| strip_prefix_ignoring_case(referrer, "http://"))?;
    // The authority ends where the path, query or fragment starts (a backslash is a slash in
    // http URLs); the host follows the last '@'.
    let authority = rest.split(['/', '?', '#', '\\']).next()?;
    let host_and_port = authority.rsplit('@').next()?;
    let (host, port) = host_and_port.split_once(':').unwrap_or((host_and_port, ""));
    let plain = !host.is_empty()
        && host
            .bytes()
            .all(|b| b.is_ascii_alphanumeric() || b == b'.' || b == b'-')
        && !ends_in_a_number(host)
        && !host
            .split('.')
            .any(|label| label.len() >= 4 && label[..4].eq_ignore_ascii_case("xn--"));
    (plain && valid_port(port)).then_some(host)
}

/// Whether the parser would read `host` as an IPv4 address (its last label, or the one before a
/// final dot, is a number): it writes those in its own form.
fn ends_in_a_number(host: &str) -> bool {
    let host = host.strip_suffix('.').unwrap_or(host);
    let last = host.rsplit('.').next().unwrap_or(host);
    !last.is_empty()
        && (last.bytes().all(|b| b.is_ascii_digit())
            || last.starts_with("0x")
            || last.starts_with("0X"))
}

/// Empty (the scheme's default) or a number of at most 65535.
fn valid_port(port: &str) -> bool {
    port.is_empty() || (port.bytes().all(|b| b.is_ascii_digit()) && port.parse::<u16>().is_ok())
}

fn strip_prefix_ignoring_case<'a>(text: &'a str, prefix: &str) -> Option<&'a str> {
    let head = text.get(..prefix.len())?;
    head.eq_ignore_ascii_case(prefix)
        .then(|| &text[prefix.len()..])
}

/// `text` in lowercase, borrowed when it is already.
fn lowercase(text: &str) -> Cow<'_, str> {
    match text.bytes().any(|b| b.is_ascii_uppercase()) {
        true => Cow::Owned(text.to_ascii_lowercase()),
        false => Cow::Borrowed(text),
    }
}

#[cfg(test)]
mod tests {
    use proptest::prelude::*;

    use super::*;

    #[test]
    fn the_host_of_a_web_referrer() {
        for (referrer, host) in [
            ("https://www.google.com/", "www.google.com"),
            ("https://www.google.com", "www.google.com"),
            ("http://news.example.org/a/b?c=d#e", "news.example.org"),
            ("https://example.com?q=1", "example.com"),
            ("https://example.com#top", "example.com"),
            ("HTTPS://WWW.Example.COM/Path", "www.example.com"),
            ("https://user:secret@example.com/", "example.com"),
            ("https://a@b@example.com/", "example.com"),
            ("https://example.com:8443/x", "example.com"),
            ("http://example.com:/x", "example.com"),
            ("https://example.com./", "example.com."),
            ("http://example.com\\path", "example.com"),
            ("https://[::1]:8080/", "[::1]"),
            ("https://[2001:DB8:0:0::1]/", "[2001:db8::1]"),
            ("http://127.0.0.1:8080/", "127.0.0.1"),
            ("http://127.1/", "127.0.0.1"),
            ("http://0x7f.0.0.1/", "127.0.0.1"),
            ("https://bücher.example/", "xn--bcher-kva.example"),
            ("https://xn--bcher-kva.example/", "xn--bcher-kva.example"),
            (
                "android-app://com.Google.android.gm/",
                "com.google.android.gm",
            ),
            (" https://example.com/", "example.com"),
        ] {
            assert_eq!(referrer_host(referrer), host, "{referrer}");
        }
    }

    #[test]
    fn a_referrer_without_a_host_counts_as_written() {
        for referrer in [
            "",
            "not a url",
            "mailto:someone@example.com",
            "https://example.com:99999/",
            "https://example.com:8o/",
            "https:///",
            "https://user@/",
        ] {
            assert_eq!(referrer_host(referrer), referrer, "{referrer:?}");
        }
        let long = format!("https://{}.example/", "a".repeat(300));
        assert_eq!(referrer_host(&long), "a".repeat(200));
    }

    #[test]
    fn a_lowercase_host_is_not_copied() {
        assert!(matches!(
            referrer_host("https://example.com/x"),
            Cow::Borrowed("example.com")
        ));
    }

    proptest! {
        /// The shortcut answers what the URL parser answers, on headers built to hit its edges.
        #[test]
        fn the_shortcut_agrees_with_the_url_parser(
            referrer in "(https?|HTTPS?|Http|ftp|ws|x-y)(://|:/|:)([a-zA-Z0-9:%]{0,4}@){0,2}([a-zA-Z0-9.\\-_]{0,12}|\\[[0-9a-fA-F:.]{0,10}\\]|xn--[a-z0-9\\-]{0,6}|[0-9x.]{0,10})(:[0-9a-z]{0,6})?([/?#\\\\ \t][ -~]{0,8})?"
        ) {
            prop_assert_eq!(referrer_host(&referrer), referrer_host_by_url(&referrer));
        }
    }
}
