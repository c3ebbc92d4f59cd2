//! User-agent parsing with woothee, cached: phones repeat the same few thousand strings.

use std::sync::Arc;

use bytestring::ByteString;
use dashmap::DashMap;

/// What a scan's user agent says about the device.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct UserAgentInfo {
    /// "mobile", "tablet", "desktop", "bot" or "other".
    pub device: &'static str,
    pub browser: ByteString,
    pub os: ByteString,
    pub bot: bool,
    /// The user agent itself, shared by every scan that sends it.
    pub user_agent: ByteString,
}

/// Link-preview fetchers and crawlers woothee does not know as such.
const BOT_MARKERS: &[&str] = &[
    "bot",
    "crawler",
    "spider",
    "facebookexternalhit",
    "facebookcatalog",
    "whatsapp",
    "slack",
    "telegram",
    "discord",
    "skypeuripreview",
    "embedly",
    "preview",
    "curl/",
    "wget/",
    "python-requests",
    "go-http-client",
];

/// Parses one user agent (uncached).
pub fn parse(user_agent: &str) -> UserAgentInfo {
    let lower = user_agent.to_ascii_lowercase();
    let marked_bot = BOT_MARKERS.iter().any(|m| lower.contains(m));
    let Some(result) = woothee::parser::Parser::new().parse(user_agent) else {
        return UserAgentInfo {
            device: if marked_bot { "bot" } else { "other" },
            browser: ByteString::new(),
            os: ByteString::new(),
            bot: marked_bot,
            user_agent: user_agent.into(),
        };
    };
    let bot = marked_bot || result.category == "crawler";
    let os = normalise_os(result.os);
    let device = if bot {
        "bot"
    } else {
        match result.category {
            "smartphone" | "mobilephone" if result.os == "iPad" => "tablet",
            "smartphone" | "mobilephone" => "mobile",
            "pc" => "desktop",
            _ => "other",
        }
    };
    UserAgentInfo {
        device,
        browser: known(result.name).into(),
        os: os.into(),
        bot,
        user_agent: user_agent.into(),
    }
}

fn known(value: &str) -> &str {
    if value == "UNKNOWN" {
        ""
    } else {
        value
    }
}

/// Names as analytics users know them ("iOS", "macOS", "Windows").
fn normalise_os(os: &str) -> &str {
    match os {
        "iPhone" | "iPad" | "iPod" => "iOS",
        "Mac OSX" | "Mac OS" => "macOS",
        os if os.starts_with("Windows") => "Windows",
        os => known(os),
    }
}

/// A bounded concurrent cache of parsed user agents.
pub struct UserAgentCache {
    /// foldhash (randomly seeded, like std's SipHash) hashes a 130-byte user agent several times
    /// faster: SipHash was visible in the loaded edge's profile.
    /// Keyed by the info's own `user_agent`, so a string is kept once.
    entries: DashMap<ByteString, Arc<UserAgentInfo>, hashbrown::DefaultHashBuilder>,
    capacity: usize,
    hits: metrics::Counter,
    misses: metrics::Counter,
}

impl UserAgentCache {
    pub fn new(capacity: usize) -> Self {
        Self {
            entries: DashMap::with_hasher(Default::default()),
            capacity,
            hits: metrics::counter!("qredge_user_agent_cache_total", "result" => "hit"),
            misses: metrics::counter!("qredge_user_agent_cache_total", "result" => "miss"),
        }
    }

    pub fn get(&self, user_agent: &str) -> Arc<UserAgentInfo> {
        if let Some(hit) = self.entries.get(user_agent) {
            self.hits.increment(1);
            return Arc::clone(&hit);
        }
        self.misses.increment(1);
        let info = Arc::new(parse(user_agent));
        // Beyond capacity start again: a flood of unique strings cannot grow memory without bound,
        // and the common strings come back within moments.
        if self.entries.len() >= self.capacity {
            self.entries.clear();
        }
        self.entries
            .insert(info.user_agent.clone(), Arc::clone(&info));
        info
    }

    pub fn len(&self) -> usize {
        self.entries.len()
    }

    pub fn is_empty(&self) -> bool {
        self.entries.is_empty()
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    const IPHONE: &str = "Mozilla/5.0 (iPhone; CPU iPhone OS 17_0 like Mac OS X) AppleWebKit/605.1.15 (KHTML, like Gecko) Version/17.0 Mobile/15E148 Safari/604.1";
    const ANDROID_CHROME: &str = "Mozilla/5.0 (Linux; Android 14; Pixel 8) AppleWebKit/537.36 (KHTML, like Gecko) Chrome/120.0.0.0 Mobile Safari/537.36";
    const MAC_SAFARI: &str = "Mozilla/5.0 (Macintosh; Intel Mac OS X 10_15_7) AppleWebKit/605.1.15 (KHTML, like Gecko) Version/17.0 Safari/605.1.15";

    #[test]
    fn phones_and_desktops_are_told_apart() {
        let iphone = parse(IPHONE);
        assert_eq!(
            (iphone.device, &*iphone.browser, &*iphone.os),
            ("mobile", "Safari", "iOS")
        );
        let android = parse(ANDROID_CHROME);
        assert_eq!((android.device, &*android.os), ("mobile", "Android"));
        assert_eq!(android.browser, "Chrome");
        let mac = parse(MAC_SAFARI);
        assert_eq!((mac.device, &*mac.os), ("desktop", "macOS"));
        assert!(!mac.bot && !iphone.bot);
    }

    #[test]
    fn crawlers_and_link_previews_are_bots() {
        for ua in [
            "Mozilla/5.0 (compatible; Googlebot/2.1; +http://www.google.com/bot.html)",
            "Slackbot-LinkExpanding 1.0 (+https://api.slack.com/robots)",
            "WhatsApp/2.23.20.0",
            "facebookexternalhit/1.1 (+http://www.facebook.com/externalhit_uatext.php)",
            "curl/8.5.0",
        ] {
            let info = parse(ua);
            assert!(info.bot, "{ua}");
            assert_eq!(info.device, "bot", "{ua}");
        }
    }

    #[test]
    fn the_cache_returns_the_same_parse_and_stays_bounded() {
        let cache = UserAgentCache::new(2);
        assert_eq!(*cache.get(IPHONE), parse(IPHONE));
        assert!(Arc::ptr_eq(&cache.get(IPHONE), &cache.get(IPHONE)));
        cache.get(ANDROID_CHROME);
        cache.get(MAC_SAFARI);
        assert!(cache.len() <= 2);
    }
}
