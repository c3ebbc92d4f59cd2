//! The edge's hosted pages as it serves them: rendered (by `hosted`) once, kept as bytes with
//! their Content-Security-Policy header.

use std::sync::{Arc, LazyLock};

use bytes::Bytes;
use hyper::header::HeaderValue;

use crate::hosted::{self, Hosted};

/// A page ready to send.
#[derive(Debug)]
pub struct Page {
    pub html: Bytes,
    pub content_security_policy: HeaderValue,
    /// A file the page links to (a contact card), served at `/{displayId}/{file name}`.
    pub download: Option<Download>,
}

#[derive(Debug)]
pub struct Download {
    pub file_name: Box<str>,
    pub content_type: HeaderValue,
    pub body: Bytes,
}

impl Page {
    pub fn new(hosted: Hosted) -> Result<Page, String> {
        let header = |text: &str| HeaderValue::from_str(text).map_err(|e| format!("{text:?}: {e}"));
        Ok(Page {
            html: hosted.html.into(),
            content_security_policy: header(&hosted.csp)?,
            download: match hosted.download {
                Some(d) => Some(Download {
                    file_name: d.file_name.into(),
                    content_type: header(d.content_type)?,
                    body: d.body.into(),
                }),
                None => None,
            },
        })
    }

    /// The fixed pages have no user text that could fail to be a header.
    fn fixed(hosted: Hosted) -> Arc<Page> {
        Arc::new(Page::new(hosted).expect("a fixed page's policy is a valid header"))
    }

    pub fn not_found(brand: Option<&str>) -> Arc<Page> {
        Page::fixed(hosted::not_found_page(brand))
    }

    pub fn expired(brand: Option<&str>) -> Arc<Page> {
        Page::fixed(hosted::expired_page(brand))
    }

    pub fn password(display_id: &str, title: &str, brand: Option<&str>, wrong: bool) -> Page {
        Page::new(hosted::password_page(display_id, title, brand, wrong))
            .expect("the password page's policy is a valid header")
    }
}

/// The platform domain's pages, in the default colour.
pub static NOT_FOUND: LazyLock<Arc<Page>> = LazyLock::new(|| Page::not_found(None));
pub static EXPIRED: LazyLock<Arc<Page>> = LazyLock::new(|| Page::expired(None));
