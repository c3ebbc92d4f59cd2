//! APP_DOWNLOAD: iPhones go to the App Store, Android phones to Google Play, everything else to
//! the fallback URL or, without one, to a page with both store buttons.

use serde::Deserialize;
use serde_json::{Map, Value};

use super::fields::{self, MAX_TITLE};
use super::layout::{accent, Page};
use super::{Hosted, PageContext};

/// Validated APP_DOWNLOAD settings (field names are the JSON keys in camelCase).
#[derive(Debug, Clone, PartialEq, Deserialize)]
#[serde(rename_all = "camelCase", deny_unknown_fields)]
pub struct AppDownload {
    pub ios_url: Option<String>,
    pub android_url: Option<String>,
    /// Where other devices go; without it they get the store-buttons page.
    pub fallback_url: Option<String>,
    pub app_name: Option<String>,
    pub title: Option<String>,
    pub description: Option<String>,
    pub icon_url: Option<String>,
    pub accent_color: Option<String>,
}

/// The kind of device a scan comes from, as far as app stores care.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Platform {
    Ios,
    Android,
    Other,
}

/// What a scan of an APP_DOWNLOAD code gets.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum AppTarget<'a> {
    /// A redirect to this URL.
    Redirect(&'a str),
    /// The hosted store-buttons page ([`super::render`]).
    Page,
}

fn contains(haystack: &[u8], needle: &[u8]) -> bool {
    haystack.windows(needle.len()).any(|w| w == needle)
}

/// The platform of a User-Agent header by a cheap byte search: `iPhone`, `iPad`, `iPod` or
/// `like Mac OS X` mean iOS, `Android` Android. (iPads in desktop mode send a Mac user agent
/// and count as Other.)
pub fn platform_of(user_agent: &[u8]) -> Platform {
    if [&b"iPhone"[..], b"iPad", b"iPod", b"like Mac OS X"]
        .iter()
        .any(|n| contains(user_agent, n))
    {
        Platform::Ios
    } else if contains(user_agent, b"Android") {
        Platform::Android
    } else {
        Platform::Other
    }
}

pub(super) fn parse(settings: &Map<String, Value>) -> Result<AppDownload, String> {
    let s: AppDownload = fields::deserialize(settings)?;
    let app = AppDownload {
        ios_url: fields::opt_url("settings.iosUrl", s.ios_url)?,
        android_url: fields::opt_url("settings.androidUrl", s.android_url)?,
        fallback_url: fields::opt_url("settings.fallbackUrl", s.fallback_url)?,
        app_name: fields::opt_title("settings.appName", s.app_name, MAX_TITLE)?,
        title: fields::opt_title("settings.title", s.title, MAX_TITLE)?,
        description: fields::opt_text("settings.description", s.description)?,
        icon_url: fields::opt_url("settings.iconUrl", s.icon_url)?,
        accent_color: fields::opt_colour("settings.accentColor", s.accent_color)?,
    };
    if app.ios_url.is_none() && app.android_url.is_none() {
        return Err("settings.iosUrl or settings.androidUrl is required".into());
    }
    Ok(app)
}

impl AppDownload {
    /// Where a scan from `os` goes: its store when the code has one, else the fallback URL,
    /// else the store-buttons page.
    pub fn choose(&self, os: Platform) -> AppTarget<'_> {
        let store = match os {
            Platform::Ios => self.ios_url.as_deref(),
            Platform::Android => self.android_url.as_deref(),
            Platform::Other => None,
        };
        match store.or(self.fallback_url.as_deref()) {
            Some(url) => AppTarget::Redirect(url),
            None => AppTarget::Page,
        }
    }

    /// The store-buttons page; `None` when a fallback URL means it is never shown.
    pub(super) fn render(&self, ctx: &PageContext) -> Option<Hosted> {
        if self.fallback_url.is_some() {
            return None;
        }
        let name = self.app_name.as_deref();
        let title = self.title.as_deref().or(name).unwrap_or(ctx.title);
        let mut page = Page::new(
            title,
            accent(self.accent_color.as_deref(), ctx.brand_colour),
        );
        page.intro(self.icon_url.as_deref(), title, self.description.as_deref());
        if let Some(url) = &self.ios_url {
            page.button(url, "Download on the App Store", false);
        }
        if let Some(url) = &self.android_url {
            page.button(url, "Get it on Google Play", false);
        }
        page.body.push_str("</div>");
        Some(page.finish())
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    const IPHONE: &str = "Mozilla/5.0 (iPhone; CPU iPhone OS 17_4 like Mac OS X) AppleWebKit/605.1.15 (KHTML, like Gecko) Version/17.4 Mobile/15E148 Safari/604.1";
    const IPAD: &str = "Mozilla/5.0 (iPad; CPU OS 16_6 like Mac OS X) AppleWebKit/605.1.15 (KHTML, like Gecko) CriOS/120.0.6099.119 Mobile/15E148 Safari/604.1";
    const IOS_APP: &str =
        "Mozilla/5.0 (CPU OS 17_0 like Mac OS X) AppleWebKit/605.1.15 (KHTML, like Gecko) Mobile";
    const ANDROID: &str = "Mozilla/5.0 (Linux; Android 14; Pixel 8) AppleWebKit/537.36 (KHTML, like Gecko) Chrome/124.0.6367.82 Mobile Safari/537.36";
    const SAMSUNG: &str = "Mozilla/5.0 (Linux; Android 13; SAMSUNG SM-S918B) AppleWebKit/537.36 (KHTML, like Gecko) SamsungBrowser/24.0 Chrome/117.0.0.0 Mobile Safari/537.36";
    const MAC: &str = "Mozilla/5.0 (Macintosh; Intel Mac OS X 10_15_7) AppleWebKit/605.1.15 (KHTML, like Gecko) Version/17.4 Safari/605.1.15";
    const WINDOWS: &str = "Mozilla/5.0 (Windows NT 10.0; Win64; x64) AppleWebKit/537.36 (KHTML, like Gecko) Chrome/124.0.0.0 Safari/537.36 Edg/124.0.2478.67";
    const LINUX_FIREFOX: &str =
        "Mozilla/5.0 (X11; Linux x86_64; rv:125.0) Gecko/20100101 Firefox/125.0";

    #[test]
    fn phones_are_told_apart_by_their_user_agent() {
        for (ua, want) in [
            (IPHONE, Platform::Ios),
            (IPAD, Platform::Ios),
            (IOS_APP, Platform::Ios),
            (ANDROID, Platform::Android),
            (SAMSUNG, Platform::Android),
            (MAC, Platform::Other),
            (WINDOWS, Platform::Other),
            (LINUX_FIREFOX, Platform::Other),
            ("", Platform::Other),
        ] {
            assert_eq!(platform_of(ua.as_bytes()), want, "{ua}");
        }
    }

    fn settings(json: &str) -> Map<String, Value> {
        serde_json::from_str(json).unwrap()
    }

    #[test]
    fn each_platform_gets_its_store_or_the_fallback() {
        let app = parse(&settings(
            r#"{"iosUrl": "https://apps.apple.com/app/id123", "androidUrl": "https://play.google.com/store/apps/details?id=com.acme",
                "appName": "Acme"}"#,
        ))
        .unwrap();
        assert_eq!(
            app.choose(Platform::Ios),
            AppTarget::Redirect("https://apps.apple.com/app/id123")
        );
        assert_eq!(
            app.choose(Platform::Android),
            AppTarget::Redirect("https://play.google.com/store/apps/details?id=com.acme")
        );
        assert_eq!(app.choose(Platform::Other), AppTarget::Page);

        let ios_only = parse(&settings(
            r#"{"iosUrl": "https://apps.apple.com/app/id123", "fallbackUrl": "https://acme.example/app"}"#,
        ))
        .unwrap();
        assert_eq!(
            ios_only.choose(Platform::Android),
            AppTarget::Redirect("https://acme.example/app")
        );
        assert!(parse(&settings(r#"{"appName": "Acme"}"#))
            .unwrap_err()
            .contains("settings.iosUrl or settings.androidUrl is required"));
    }
}
