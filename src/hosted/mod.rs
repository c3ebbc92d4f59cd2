//! Typed, validated settings for every QR type, and the pages the edge serves for them.
//!
//! Pure: no I/O. [`parse`] turns a code's `settings` (the redirect-behaviour keys already taken
//! out by the caller) into a [`Content`]; [`render`] turns that into a [`Hosted`] page with its
//! exact Content-Security-Policy, once per change of the code (the edge keeps the bytes). A few
//! types decide per scan instead: [`MultiLocale::choose`] and [`AppDownload::choose`].
//!
//! Pages are small HTML5 documents without any JavaScript; all user text is escaped with
//! [`escape()`]; the CSS sits in one `<style>` element allowed by its hash. The settings of each
//! type are documented in docs/qr-types.md.

/// `write!` into a `String`, which cannot fail.
macro_rules! w {
    ($out:expr, $($arg:tt)*) => {{
        use std::fmt::Write as _;
        let _ = write!($out, $($arg)*);
    }};
}

mod app_download;
mod coupon;
pub mod csp;
mod escape;
mod fields;
mod fixed;
mod gallery;
mod layout;
mod link_list;
mod menu;
mod multi_locale;
mod pdf;
mod social_bio;
#[cfg(test)]
mod tests;
mod vcard;
mod vcf;
mod video;

use serde_json::{Map, Value};

use crate::model::QrType;

pub use app_download::{platform_of, AppDownload, AppTarget, Platform};
pub use coupon::Coupon;
pub use escape::{escape, Escaped};
pub use fields::{MAX_ITEMS, MAX_TEXT, MAX_TITLE};
pub use fixed::{expired_page, not_found_page, password_page};
pub use gallery::{Gallery, GalleryImage};
pub use layout::DEFAULT_ACCENT;
pub use link_list::{Link, LinkList};
pub use menu::{Menu, MenuItem, MenuSection};
pub use multi_locale::{Locale, MultiLocale};
pub use pdf::Pdf;
pub use social_bio::{Network, SocialBio, SocialLink};
pub use vcard::{Address, Email, EmailKind, Phone, PhoneKind, Vcard, VCARD_FILE_NAME};
pub use video::{Video, VideoSource};

/// A code's validated content: what its scans get.
#[derive(Debug, Clone, PartialEq)]
pub enum Content {
    /// WEB and SHORT_LINK: a plain redirect to `qrRedirectUrl` (no settings).
    Redirect,
    Pdf(Pdf),
    Vcard(Vcard),
    MultiLocale(MultiLocale),
    AppDownload(AppDownload),
    LinkList(LinkList),
    CouponCode(Coupon),
    ImageGallery(Gallery),
    SocialBio(SocialBio),
    VideoPreview(Video),
    RestaurantMenu(Menu),
}

/// The typed content of a code of `qr_type` with these settings, or one sentence naming the
/// field that is wrong (`settings.links[2].url must use http or https, not javascript:`).
/// Unknown keys are rejected, so the caller removes the redirect-behaviour keys first.
pub fn parse(qr_type: QrType, settings: &Map<String, Value>) -> Result<Content, String> {
    Ok(match qr_type {
        QrType::Web | QrType::ShortLink => {
            if let Some(key) = settings.keys().next() {
                return Err(format!(
                    "settings.{key} is not a known setting; {} codes take no settings",
                    qr_type.as_str()
                ));
            }
            Content::Redirect
        }
        QrType::Pdf => Content::Pdf(pdf::parse(settings)?),
        QrType::Vcard => Content::Vcard(vcard::parse(settings)?),
        QrType::MultiLocale => Content::MultiLocale(multi_locale::parse(settings)?),
        QrType::AppDownload => Content::AppDownload(app_download::parse(settings)?),
        QrType::LinkList => Content::LinkList(link_list::parse(settings)?),
        QrType::CouponCode => Content::CouponCode(coupon::parse(settings)?),
        QrType::ImageGallery => Content::ImageGallery(gallery::parse(settings)?),
        QrType::SocialBio => Content::SocialBio(social_bio::parse(settings)?),
        QrType::VideoPreview => Content::VideoPreview(video::parse(settings)?),
        QrType::RestaurantMenu => Content::RestaurantMenu(menu::parse(settings)?),
    })
}

/// What a page needs to know about the code beyond its settings.
#[derive(Debug, Clone, Copy)]
pub struct PageContext<'a> {
    /// The code's displayId: the page is served at `/{display_id}`.
    pub display_id: &'a str,
    /// The code's name, the page title when the settings give none.
    pub title: &'a str,
    /// The team's colour (`#rrggbb`), the accent unless the settings name their own; anything
    /// else is ignored.
    pub brand_colour: Option<&'a str>,
    /// The code has a password: the page is only ever served unlocked, so a file it offers is
    /// embedded in it (a `data:` link) rather than linked, since a link to the file would meet
    /// the password form again.
    pub protected: bool,
}

/// A rendered page and the headers it must be served with.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Hosted {
    /// The document (`text/html; charset=utf-8`).
    pub html: String,
    /// The exact `Content-Security-Policy` header value for this page.
    pub csp: String,
    /// A file the page links to, served at `/{display_id}/{file_name}`.
    pub download: Option<Download>,
}

/// A file served beside a page (the VCARD's `.vcf`).
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Download {
    pub file_name: String,
    pub content_type: &'static str,
    pub body: Vec<u8>,
}

/// The page a scan of this content gets, or `None` when scans are redirected instead (WEB,
/// SHORT_LINK, MULTI_LOCALE, and APP_DOWNLOAD with a fallback URL).
pub fn render(content: &Content, ctx: &PageContext) -> Option<Hosted> {
    match content {
        Content::Redirect | Content::MultiLocale(_) => None,
        Content::AppDownload(c) => c.render(ctx),
        Content::Pdf(c) => Some(c.render(ctx)),
        Content::Vcard(c) => Some(c.render(ctx)),
        Content::LinkList(c) => Some(c.render(ctx)),
        Content::CouponCode(c) => Some(c.render(ctx)),
        Content::ImageGallery(c) => Some(c.render(ctx)),
        Content::SocialBio(c) => Some(c.render(ctx)),
        Content::VideoPreview(c) => Some(c.render(ctx)),
        Content::RestaurantMenu(c) => Some(c.render(ctx)),
    }
}
