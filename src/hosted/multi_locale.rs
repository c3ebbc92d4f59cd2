//! MULTI_LOCALE: one URL per language; each scan is redirected to the URL of the language the
//! phone prefers (its Accept-Language header), else to the default.

use std::collections::BTreeMap;

use serde::Deserialize;
use serde_json::{Map, Value};

use super::fields;

/// The settings as written: `{"urls": {"en": url, "de-CH": url}, "defaultLocale": "en"}` or
/// `"defaultUrl": url` instead of `defaultLocale`.
#[derive(Deserialize)]
#[serde(rename_all = "camelCase", deny_unknown_fields)]
struct Settings {
    urls: BTreeMap<String, String>,
    default_url: Option<String>,
    default_locale: Option<String>,
}

/// One language tag and its URL.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Locale {
    pub tag: String,
    pub url: String,
}

/// Validated MULTI_LOCALE settings.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct MultiLocale {
    /// Ordered by tag; tags are unique ignoring ASCII case.
    pub locales: Vec<Locale>,
    /// Where a phone goes whose languages match none of the tags.
    pub default_url: String,
}

/// `en`, `de-CH`, `zh-Hant-TW`, `sr-Latn`: a primary subtag of 2 to 8 letters and subtags of 1 to 8
/// letters or digits.
fn is_language_tag(tag: &str) -> bool {
    let mut parts = tag.split('-');
    let primary = parts.next().unwrap_or_default();
    (2..=8).contains(&primary.len())
        && primary.bytes().all(|b| b.is_ascii_alphabetic())
        && parts.all(|p| (1..=8).contains(&p.len()) && p.bytes().all(|b| b.is_ascii_alphanumeric()))
}

pub(super) fn parse(settings: &Map<String, Value>) -> Result<MultiLocale, String> {
    let s: Settings = fields::deserialize(settings)?;
    fields::list_len("settings.urls", s.urls.len(), 1)?;
    let mut locales: Vec<Locale> = Vec::with_capacity(s.urls.len());
    for (tag, url) in s.urls {
        let path = format!("settings.urls.{tag}");
        if !is_language_tag(&tag) {
            return Err(format!(
                "{path}: {tag:?} is not a language tag like en, de or de-CH"
            ));
        }
        if locales.iter().any(|l| l.tag.eq_ignore_ascii_case(&tag)) {
            return Err(format!("{path}: language {tag:?} is listed twice"));
        }
        let url = fields::url(&path, &url)?;
        locales.push(Locale { tag, url });
    }
    let default_url = match (s.default_url, s.default_locale) {
        (Some(_), Some(_)) => {
            return Err("settings.defaultUrl and settings.defaultLocale cannot both be set".into())
        }
        (Some(url), None) => fields::url("settings.defaultUrl", &url)?,
        (None, Some(tag)) => locales
            .iter()
            .find(|l| l.tag.eq_ignore_ascii_case(&tag))
            .map(|l| l.url.clone())
            .ok_or_else(|| {
                format!(
                    "settings.defaultLocale {tag:?} must be one of the languages in settings.urls"
                )
            })?,
        (None, None) => {
            return Err("settings.defaultUrl or settings.defaultLocale is required".into())
        }
    };
    Ok(MultiLocale {
        locales,
        default_url,
    })
}

/// The quality of an Accept-Language entry's parameters in thousandths (`q=0.8` → 800), `None`
/// when malformed. No `q` means 1.
fn quality(params: &[u8]) -> Option<u16> {
    let mut q = 1000;
    for param in params.split(|&b| b == b';') {
        let param = param.trim_ascii();
        let Some(value) = param
            .strip_prefix(b"q=")
            .or_else(|| param.strip_prefix(b"Q="))
        else {
            continue;
        };
        let (int, frac) = match value.iter().position(|&b| b == b'.') {
            Some(dot) => (&value[..dot], &value[dot + 1..]),
            None => (value, &b""[..]),
        };
        if int.len() != 1 || frac.len() > 3 || !frac.iter().all(u8::is_ascii_digit) {
            return None;
        }
        let mut thousandths = 0u16;
        for i in 0..3 {
            thousandths = thousandths * 10 + frac.get(i).map_or(0, |d| (d - b'0') as u16);
        }
        q = match int[0] {
            b'0' => thousandths,
            b'1' if thousandths == 0 => 1000,
            _ => return None,
        };
    }
    Some(q)
}

impl MultiLocale {
    /// The URL of the configured tag equal to `range` (ASCII case ignored).
    fn exact(&self, range: &[u8]) -> Option<&str> {
        self.locales
            .iter()
            .find(|l| l.tag.as_bytes().eq_ignore_ascii_case(range))
            .map(|l| l.url.as_str())
    }

    /// RFC 4647 lookup for one range: the range itself, then shorter and shorter prefixes
    /// (`de-CH-1996` → `de-CH` → `de`, dropping a trailing singleton); failing those, a tag of
    /// the same primary language (`de` or `de-AT` → `de-CH`), so a German phone is not sent to
    /// the English default only because its region differs.
    fn lookup(&self, range: &[u8]) -> Option<&str> {
        let mut prefix = range;
        loop {
            if let Some(url) = self.exact(prefix) {
                return Some(url);
            }
            let Some(dash) = prefix.iter().rposition(|&b| b == b'-') else {
                break;
            };
            prefix = &prefix[..dash];
            if prefix.len() >= 2 && prefix[prefix.len() - 2] == b'-' {
                prefix = &prefix[..prefix.len() - 2];
            }
        }
        let primary = range.split(|&b| b == b'-').next().unwrap_or_default();
        self.locales
            .iter()
            .find(|l| {
                l.tag
                    .split('-')
                    .next()
                    .is_some_and(|p| p.as_bytes().eq_ignore_ascii_case(primary))
            })
            .map(|l| l.url.as_str())
    }

    /// The URL for a scan with this Accept-Language header: the matching tag of the range with
    /// the highest quality (`q=0` excluded, equal qualities in header order, `*` ignored), else
    /// the default. Allocates nothing.
    pub fn choose(&self, accept_language: Option<&[u8]>) -> &str {
        let mut best: Option<(u16, &str)> = None;
        for entry in accept_language.unwrap_or_default().split(|&b| b == b',') {
            let (range, params) = match entry.iter().position(|&b| b == b';') {
                Some(semi) => (&entry[..semi], &entry[semi..]),
                None => (entry, &b""[..]),
            };
            let range = range.trim_ascii();
            if range.is_empty() || range == b"*" {
                continue;
            }
            let Some(q) = quality(params) else { continue };
            if q == 0 || best.is_some_and(|(best_q, _)| q <= best_q) {
                continue;
            }
            if let Some(url) = self.lookup(range) {
                best = Some((q, url));
            }
        }
        best.map_or(self.default_url.as_str(), |(_, url)| url)
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn settings(json: &str) -> Map<String, Value> {
        serde_json::from_str(json).unwrap()
    }

    fn sample() -> MultiLocale {
        parse(&settings(
            r#"{"urls": {"en": "https://acme.example/en", "de": "https://acme.example/de",
                         "de-CH": "https://acme.example/ch", "fr": "https://acme.example/fr",
                         "pt-BR": "https://acme.example/br"},
                "defaultLocale": "en"}"#,
        ))
        .unwrap()
    }

    #[test]
    fn the_best_language_of_the_header_wins() {
        let m = sample();
        let table: &[(Option<&str>, &str)] = &[
            (None, "en"),
            (Some(""), "en"),
            (Some("de-CH"), "ch"),
            (Some("de-ch"), "ch"),
            (Some("de-AT"), "de"),
            (Some("de-CH-1996"), "ch"),
            (Some("fr-CA,fr;q=0.9,en;q=0.8"), "fr"),
            (Some("ja,en;q=0.5"), "en"),
            (Some("ja, it"), "en"),
            (Some("en;q=0.5, fr;q=0.9"), "fr"),
            (Some("fr;q=0.8, de;q=0.8"), "fr"),
            (Some("de;q=0.8, fr;q=0.8"), "de"),
            (Some("fr;q=0, de;q=0.1"), "de"),
            (Some("fr;q=0"), "en"),
            (Some("*, fr;q=0.5"), "fr"),
            (Some("pt"), "br"),
            (Some("pt-PT, en;q=0.9"), "br"),
            (Some("fr;q=2, de"), "de"),
            (Some("fr;q=abc, de;q=0.001"), "de"),
            (Some("de-CH;q=1.0, de;q=1.000"), "ch"),
            (Some("zh-Hant-TW,zh;q=0.9,en-US;q=0.8,en;q=0.7"), "en"),
            (Some(" ,;;, de-x-private "), "de"),
        ];
        for (header, want) in table {
            let got = m.choose(header.map(str::as_bytes));
            assert!(got.ends_with(want), "{header:?}: {got}");
        }
    }

    #[test]
    fn the_default_is_a_url_or_one_of_the_languages() {
        let m = parse(&settings(
            r#"{"urls": {"en": "https://a.example/en"}, "defaultUrl": "https://a.example/"}"#,
        ))
        .unwrap();
        assert_eq!(m.choose(Some(b"es")), "https://a.example/");
        for (json, message) in [
            (
                r#"{"urls": {"en": "https://a.example/"}}"#,
                "settings.defaultUrl or settings.defaultLocale is required",
            ),
            (
                r#"{"urls": {"en": "https://a.example/"}, "defaultLocale": "de"}"#,
                "settings.defaultLocale \"de\" must be one of",
            ),
            (
                r#"{"urls": {}, "defaultUrl": "https://a.example/"}"#,
                "settings.urls must have at least one entry",
            ),
            (
                r#"{"urls": {"en_US": "https://a.example/"}, "defaultUrl": "https://a.example/"}"#,
                "settings.urls.en_US: \"en_US\" is not a language tag",
            ),
            (
                r#"{"urls": {"en": "javascript:alert(1)"}, "defaultLocale": "en"}"#,
                "settings.urls.en must use http or https",
            ),
            (
                r#"{"urls": {"en": "https://a.example/", "EN": "https://b.example/"}, "defaultLocale": "en"}"#,
                "listed twice",
            ),
        ] {
            let err = parse(&settings(json)).unwrap_err();
            assert!(err.contains(message), "{json}: {err}");
        }
    }
}
