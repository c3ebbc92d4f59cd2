//! The Content-Security-Policy of a hosted page: nothing is allowed by default, the page's one
//! `<style>` element by its SHA-256 hash, and only the origins the page embeds.

use base64::Engine;
use sha2::{Digest, Sha256};

/// `'sha256-…'`: the CSP source expression that allows exactly this `<style>` element text.
pub fn style_hash(style: &str) -> String {
    let digest = Sha256::digest(style.as_bytes());
    format!(
        "'sha256-{}'",
        base64::engine::general_purpose::STANDARD.encode(digest)
    )
}

/// What a page embeds beyond its own CSS; [`Csp::header`] turns it into the header value.
#[derive(Debug, Default, Clone)]
pub struct Csp {
    /// Origins of images served over plain http (https images are allowed wholesale).
    img: Vec<String>,
    media: Vec<String>,
    frame: Vec<String>,
    object: Vec<String>,
}

/// `scheme://host[:port]` of an absolute URL (validated URLs always have one).
fn origin(url: &str) -> Option<String> {
    let origin = url::Url::parse(url).ok()?.origin();
    origin.is_tuple().then(|| origin.ascii_serialization())
}

fn add(list: &mut Vec<String>, source: Option<String>) {
    if let Some(source) = source {
        if !list.contains(&source) {
            list.push(source);
        }
    }
}

impl Csp {
    /// The page shows the image at `url`.
    pub fn image(&mut self, url: &str) {
        if url.starts_with("http:") {
            add(&mut self.img, origin(url));
        }
    }

    /// The page plays the audio or video file at `url`.
    pub fn media(&mut self, url: &str) {
        add(&mut self.media, origin(url));
    }

    /// The page frames `url` (an `<iframe>`).
    pub fn frame(&mut self, url: &str) {
        add(&mut self.frame, origin(url));
    }

    /// The page embeds `url` with `<object>` (a PDF); browsers may show it in a frame of their
    /// own, so the origin is allowed as a frame source too.
    pub fn object(&mut self, url: &str) {
        add(&mut self.object, origin(url));
        add(&mut self.frame, origin(url));
    }

    /// The header value for a page whose only `<style>` element holds `style`.
    pub fn header(&self, style: &str) -> String {
        let mut out = format!(
            "default-src 'none'; style-src {}; img-src https: data:",
            style_hash(style)
        );
        for source in &self.img {
            out.push(' ');
            out.push_str(source);
        }
        for (directive, sources) in [
            ("media-src", &self.media),
            ("frame-src", &self.frame),
            ("object-src", &self.object),
        ] {
            if !sources.is_empty() {
                out.push_str("; ");
                out.push_str(directive);
                for source in sources {
                    out.push(' ');
                    out.push_str(source);
                }
            }
        }
        out.push_str("; form-action 'self'; base-uri 'none'; frame-ancestors 'none'");
        out
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn the_hash_is_the_base64_sha256_of_the_text() {
        // printf 'body{color:red}' | openssl dgst -sha256 -binary | base64
        assert_eq!(
            style_hash("body{color:red}"),
            "'sha256-FcQqt3aNlV7AZnGV4zkQRVeCeJOxbMPnQSx258L803E='"
        );
    }

    #[test]
    fn only_what_the_page_embeds_is_allowed() {
        let mut csp = Csp::default();
        csp.image("https://cdn.example/a.png");
        csp.image("http://old.example:8080/a.png");
        csp.image("http://old.example:8080/b.png");
        csp.frame("https://www.youtube-nocookie.com/embed/abc");
        let header = csp.header("x");
        assert!(header.starts_with("default-src 'none'; style-src 'sha256-"));
        assert!(header.contains("; img-src https: data: http://old.example:8080; frame-src https://www.youtube-nocookie.com; form-action 'self'"));
        assert!(!header.contains("media-src"));
        assert!(header.ends_with("base-uri 'none'; frame-ancestors 'none'"));
    }
}
