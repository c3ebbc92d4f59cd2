//! Validation rules for what the API and `qredge import` accept. Pure functions, unit-tested here.

use url::Url;

/// Paths the edge answers itself, so no code may take them.
pub const RESERVED_DISPLAY_IDS: &[&str] = &["healthz", "favicon.ico", "robots.txt", "metrics"];

/// Longest displayId accepted: it ends up printed in a QR code.
pub const MAX_DISPLAY_ID_LEN: usize = 128;

/// `^[a-zA-Z0-9\-_.~%]+$`, the reference document's pattern, bounded in length and reserved words.
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
    if value == "." || value == ".." {
        return Err("displayId cannot be '.' or '..'".into());
    }
    if RESERVED_DISPLAY_IDS.contains(&value) {
        return Err(format!("displayId {value:?} is reserved"));
    }
    Ok(())
}

/// Redirect targets must be absolute http(s) URLs with a host: no `javascript:`, `data:`, or
/// relative paths, and nothing that would break the Location header.
pub fn redirect_url(field: &str, value: &str) -> Result<String, String> {
    if value.len() > 8 * 1024 {
        return Err(format!("{field} is longer than 8192 characters"));
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
    Ok(url.into())
}

/// `^https?://.*/$`: a base URL for codes on a custom domain.
pub fn base_url(value: &str) -> Result<Url, String> {
    let url = Url::parse(value).map_err(|e| format!("baseUrl must be an absolute URL: {e}"))?;
    if !matches!(url.scheme(), "http" | "https") || url.host_str().is_none() {
        return Err("baseUrl must be an http(s) URL with a host".into());
    }
    if !value.ends_with('/') {
        return Err("baseUrl must end with '/'".into());
    }
    if url.query().is_some() || url.fragment().is_some() {
        return Err("baseUrl cannot have a query or fragment".into());
    }
    Ok(url)
}

/// The host (lower case, no port) of a base URL such as the edge's public URL.
pub fn host_of(base_url: &str) -> String {
    Url::parse(base_url)
        .ok()
        .and_then(|u| u.host_str().map(str::to_ascii_lowercase))
        .unwrap_or_default()
}

/// Whether `domain` (a host, maybe with a port, as teams list domains) is the platform's own
/// host (see [`host_of`]), whose code space is shared rather than a custom domain's.
pub fn is_platform_host(domain: &str, platform_host: &str) -> bool {
    let host = domain.rsplit_once(':').map_or(domain, |(host, port)| {
        if port.bytes().all(|b| b.is_ascii_digit()) {
            host
        } else {
            domain
        }
    });
    host.eq_ignore_ascii_case(platform_host)
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

    #[test]
    fn display_ids_follow_the_reference_pattern() {
        for ok in [
            "product-launch-2024",
            "a",
            "A_b.c~d%20",
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
            "healthz",
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
    fn base_urls_end_with_a_slash() {
        assert!(base_url("https://qr.acmecorp.com/").is_ok());
        assert!(base_url("https://qr.acmecorp.com/x").is_err());
        assert!(base_url("javascript:alert(1)/").is_err());
        let url = base_url("http://localhost:8080/").unwrap();
        assert_eq!(domain_of(&url), "localhost:8080");
    }
}
