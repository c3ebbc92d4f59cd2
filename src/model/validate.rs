//! Validation rules for what the API and `qredge import` accept. Pure functions, unit-tested here.

use url::Url;

use crate::model::domain::DomainName;

/// Paths no code may take: what the edge answers itself (`healthz`), what browsers, crawlers and
/// app platforms ask every host for, and what a later dashboard or metrics page on the edge's
/// host may need. Compared without regard to case. Names starting with '.' are refused apart
/// (`.well-known` is ACME's).
pub const RESERVED_DISPLAY_IDS: &[&str] = &[
    "healthz",
    "livez",
    "readyz",
    "metrics",
    "favicon.ico",
    "robots.txt",
    "sitemap.xml",
    "ads.txt",
    "humans.txt",
    "apple-app-site-association",
    "api",
    "admin",
    "dashboard",
    "login",
    "logout",
    "static",
    "assets",
    "openapi.json",
];

/// Longest displayId accepted: it ends up printed in a QR code.
pub const MAX_DISPLAY_ID_LEN: usize = 128;

/// Longest redirect target, as stored (normalised): the `Location` header the edge sends.
pub const MAX_URL_LEN: usize = 8 * 1024;

/// `^[a-zA-Z0-9\-_.~%]+$`, the reference document's pattern, bounded in length, with every '%'
/// starting an escape (`%20`) of a byte that is no control character, '/', '\\' or '.', so that
/// the URL a code prints (`https://host/{displayId}`) is well formed and its first path segment
/// is the displayId again; not starting with '.' and not a reserved path.
pub fn display_id(value: &str) -> Result<(), String> {
    if value.is_empty() || value.len() > MAX_DISPLAY_ID_LEN {
        return Err(format!(
            "displayId must be 1 to {MAX_DISPLAY_ID_LEN} characters long"
        ));
    }
    if !value
        .bytes()
        .all(|b| b.is_ascii_alphanumeric() || matches!(b, b'-' | b'_' | b'.' | b'~' | b'%'))
    {
        return Err(format!(
            "displayId {value:?} must match ^[a-zA-Z0-9\\-_.~%]+$"
        ));
    }
    check_escapes(value)?;
    if value.starts_with('.') {
        return Err(format!(
            "displayId {value:?} cannot start with '.' (such paths are the web server's, e.g. /.well-known/)"
        ));
    }
    if RESERVED_DISPLAY_IDS
        .iter()
        .any(|reserved| reserved.eq_ignore_ascii_case(value))
    {
        return Err(format!("displayId {value:?} is reserved"));
    }
    Ok(())
}

/// Every '%' begins `%XX` (two hex digits) of a byte a URL path may carry escaped and still mean
/// one segment: not a control character, '/', '\\' or '.' (`%2e` is a dot segment to URL
/// parsers, which would drop it).
fn check_escapes(value: &str) -> Result<(), String> {
    let bytes = value.as_bytes();
    let mut i = 0;
    while i < bytes.len() {
        if bytes[i] != b'%' {
            i += 1;
            continue;
        }
        let byte = bytes
            .get(i + 1..i + 3)
            .and_then(|hex| std::str::from_utf8(hex).ok())
            .filter(|hex| hex.bytes().all(|b| b.is_ascii_hexdigit()))
            .and_then(|hex| u8::from_str_radix(hex, 16).ok())
            .ok_or_else(|| {
                format!(
                    "displayId {value:?}: '%' must begin an escape like %20 (a '%' itself is %25)"
                )
            })?;
        if byte < 0x20 || matches!(byte, 0x7f | b'/' | b'\\' | b'.') {
            return Err(format!(
                "displayId {value:?}: %{:02X} cannot be escaped in a displayId",
                byte
            ));
        }
        i += 3;
    }
    Ok(())
}

/// Redirect targets must be absolute http(s) URLs with a host: no `javascript:`, `data:`, or
/// relative paths, and nothing that would break the Location header. Returned normalised (IDNA
/// host, percent-encoded), and at most [`MAX_URL_LEN`] bytes as normalised: encoding can make a
/// URL several times longer than it was typed.
pub fn redirect_url(field: &str, value: &str) -> Result<String, String> {
    let too_long = || format!("{field} is longer than {MAX_URL_LEN} characters");
    if value.len() > MAX_URL_LEN {
        return Err(too_long());
    }
    let url = Url::parse(value.trim())
        .map_err(|e| format!("{field} must be an absolute http(s) URL: {e}"))?;
    if !matches!(url.scheme(), "http" | "https") {
        return Err(format!(
            "{field} must use http or https, not {}:",
            url.scheme()
        ));
    }
    if url.host_str().is_none_or(str::is_empty) {
        return Err(format!("{field} must name a host"));
    }
    // Url serialises to ASCII (punycode, percent-encoding), always a valid header value.
    let normalised: String = url.into();
    if normalised.len() > MAX_URL_LEN {
        return Err(too_long());
    }
    Ok(normalised)
}

/// A base URL for codes: a domain's root, `http(s)://host[:port]/`, nothing after the '/'. The
/// edge reads a code's displayId from the first path segment, so a base URL with a path
/// (`https://brand.example/qr/`) would print codes that never scan. Returned with its host
/// normalised (see [`DomainName`]).
pub fn base_url(value: &str) -> Result<(Url, DomainName), String> {
    let url =
        Url::parse(value.trim()).map_err(|e| format!("baseUrl must be an absolute URL: {e}"))?;
    if !matches!(url.scheme(), "http" | "https") || url.host_str().is_none() {
        return Err("baseUrl must be an http(s) URL with a host".into());
    }
    if !url.username().is_empty() || url.password().is_some() {
        return Err("baseUrl cannot carry a user name or password".into());
    }
    if url.path() != "/" || url.query().is_some() || url.fragment().is_some() {
        return Err(format!(
            "baseUrl must be a domain's root like \"https://qr.example.com/\" (no path, query or fragment): the edge finds a code by the first segment of the path, so {value:?} would print a code that cannot be scanned"
        ));
    }
    let host = DomainName::parse(url.host_str().unwrap_or_default())?;
    let mut normal = url;
    normal
        .set_host(Some(host.as_str()))
        .map_err(|e| format!("baseUrl: {e}"))?;
    Ok((normal, host))
}

/// The host of a base URL such as the edge's public URL, normalised (empty when it has none).
pub fn host_of(base_url: &str) -> String {
    crate::model::domain::host_of_url(base_url)
        .map(DomainName::into_string)
        .unwrap_or_default()
}

/// The host[:port] of a URL as teams list their domains.
pub fn domain_of(url: &Url) -> String {
    match url.port() {
        Some(port) => format!("{}:{port}", url.host_str().unwrap_or_default()),
        None => url.host_str().unwrap_or_default().to_owned(),
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use proptest::prelude::*;

    #[test]
    fn display_ids_follow_the_reference_pattern() {
        for ok in [
            "product-launch-2024",
            "a",
            "A_b.c~d%20",
            "caf%C3%A9",
            "x".repeat(128).as_str(),
        ] {
            assert!(display_id(ok).is_ok(), "{ok}");
        }
        for bad in [
            "",
            "has space",
            "slash/inside",
            "quote\"",
            "ü",
            "..",
            ".well-known",
            ".env",
            "healthz",
            "HealthZ",
            "metrics",
            "%",
            "100%",
            "a%2",
            "a%zz",
            "a%2Fb",
            "%2e%2E",
            "nul%00",
        ] {
            assert!(display_id(bad).is_err(), "{bad}");
        }
        assert!(display_id(&"x".repeat(129)).is_err());
    }

    #[test]
    fn only_absolute_http_urls_are_redirect_targets() {
        assert_eq!(
            redirect_url("qrRedirectUrl", "https://acmecorp.com/launch?a=1").unwrap(),
            "https://acmecorp.com/launch?a=1"
        );
        assert_eq!(
            redirect_url("qrRedirectUrl", "http://bücher.example/ä").unwrap(),
            "http://xn--bcher-kva.example/%C3%A4"
        );
        for bad in [
            "javascript:alert(1)",
            "data:text/html,<script>alert(1)</script>",
            "/relative/path",
            "//evil.example/x",
            "ftp://files.example/x",
            "https://",
            "mailto:a@b.c",
            "",
        ] {
            assert!(redirect_url("qrRedirectUrl", bad).is_err(), "{bad}");
        }
    }

    #[test]
    fn the_limit_holds_for_the_url_as_stored() {
        // 3,000 'ä' are 6,000 bytes typed and 18,000 percent-encoded.
        let typed = format!("https://a.example/{}", "ä".repeat(3000));
        assert!(typed.len() < MAX_URL_LEN);
        let err = redirect_url("qrRedirectUrl", &typed).unwrap_err();
        assert!(err.contains("longer than 8192"), "{err}");
    }

    #[test]
    fn base_urls_are_a_domains_root() {
        let (url, host) = base_url("HTTPS://QR.AcmeCorp.com./").unwrap();
        assert_eq!(
            (url.as_str(), host.as_str()),
            ("https://qr.acmecorp.com/", "qr.acmecorp.com")
        );
        let (url, _) = base_url("http://localhost:8080/").unwrap();
        assert_eq!(domain_of(&url), "localhost:8080");
        for bad in [
            "https://qr.acmecorp.com/x",
            "https://brand.example/qr/",
            "https://qr.acmecorp.com/?a=1",
            "https://qr.acmecorp.com/#x",
            "https://user:pw@qr.acmecorp.com/",
            "javascript:alert(1)/",
            "https://qr_1.example/",
        ] {
            assert!(base_url(bad).is_err(), "{bad}");
        }
        let err = base_url("https://brand.example/qr/").unwrap_err();
        assert!(err.contains("must be a domain's root"), "{err}");
    }

    proptest! {
        /// A displayId accepted prints a URL whose first path segment is the displayId again.
        #[test]
        fn an_accepted_display_id_round_trips_through_its_short_url(
            id in "[a-zA-Z0-9._~%-]{1,12}(%[0-9a-fA-F]{2})?[a-zA-Z0-9._~%-]{0,4}"
        ) {
            if display_id(&id).is_ok() {
                let url = Url::parse(&format!("https://qr.example.com/{id}")).unwrap();
                let first = url.path_segments().and_then(|mut s| s.next());
                prop_assert_eq!(first, Some(id.as_str()));
                prop_assert!(hyper::header::HeaderValue::from_str(url.as_str()).is_ok());
            }
        }

        /// Whatever the input, checking a displayId does not panic.
        #[test]
        fn any_display_id_is_answered(id in any::<String>()) {
            let _ = display_id(&id);
        }

        /// A redirect target accepted is a valid header value within the limit, and accepting it
        /// again changes nothing.
        #[test]
        fn accepted_redirect_targets_are_stable_header_values(
            url in "(https?|ftp|javascript)://[a-zA-Zä0-9.-]{0,20}(:[0-9]{1,5})?(/[ -~äü€\u{202E}]{0,40})?(\\?[ -~ä]{0,20})?",
        ) {
            if let Ok(kept) = redirect_url("u", &url) {
                prop_assert!(kept.len() <= MAX_URL_LEN);
                prop_assert!(hyper::header::HeaderValue::from_str(&kept).is_ok());
                prop_assert!(kept.starts_with("http://") || kept.starts_with("https://"));
                prop_assert_eq!(redirect_url("u", &kept), Ok(kept.clone()));
            }
        }

        #[test]
        fn any_redirect_target_is_answered(url in any::<String>()) {
            let _ = redirect_url("u", &url);
        }
    }
}
