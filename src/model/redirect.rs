//! How a code redirects, whatever its type: the redirect-behaviour keys of `settings` (rules,
//! A/B split, status code, query forwarding, expiry and max-scan fallbacks, password). Pure:
//! parsed and validated here when a code is saved; the edge compiles the same structure.
//! Documented in docs/redirects.md.

use serde::{Deserialize, Serialize};
use serde_json::{Map, Value};

use super::validate;

/// The keys of `settings` this module owns; every other key belongs to the code's type.
pub const BEHAVIOUR_KEYS: &[&str] = &[
    "rules",
    "abSplit",
    "redirectStatus",
    "forwardQuery",
    "expiredUrl",
    "maxScans",
    "maxScansUrl",
    "password",
    "passwordHash",
];

const MAX_RULES: usize = 50;
const MAX_VARIANTS: usize = 10;
const MAX_RULE_VALUES: usize = 300;

fn yes() -> bool {
    true
}

fn is_true(value: &bool) -> bool {
    *value
}

/// The redirect behaviour of one code, as stored in its settings.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
#[serde(rename_all = "camelCase", deny_unknown_fields)]
pub struct Behaviour {
    /// Evaluated in order; the first that matches decides the target.
    #[serde(default, skip_serializing_if = "Vec::is_empty")]
    pub rules: Vec<Rule>,
    /// Weighted targets; a visitor keeps seeing the same one.
    #[serde(default, skip_serializing_if = "Vec::is_empty")]
    pub ab_split: Vec<Variant>,
    /// 301, 302 (default), 307 or 308.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub redirect_status: Option<u16>,
    /// The scan's query string is appended to the target (default on).
    #[serde(default = "yes", skip_serializing_if = "is_true")]
    pub forward_query: bool,
    /// Where an expired code (`expiryDate` passed) sends a scan; default: a 410 page.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub expired_url: Option<String>,
    /// Counted scans after which the code stops answering with its target.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub max_scans: Option<u64>,
    /// Where a scan goes once `maxScans` is reached; default: a 410 page.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub max_scans_url: Option<String>,
    /// Only in a request: replaced by `passwordHash` before the code is stored.
    #[serde(default, skip_serializing)]
    pub password: Option<String>,
    /// `pbkdf2-sha256$ITERATIONS$SALT_HEX$HASH_HEX` of the code's password.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub password_hash: Option<String>,
}

/// One rule: every condition it names must hold (an empty list does not constrain).
#[derive(Debug, Clone, Default, PartialEq, Serialize, Deserialize)]
#[serde(rename_all = "camelCase", deny_unknown_fields)]
pub struct Rule {
    pub url: String,
    /// "mobile", "tablet", "desktop".
    #[serde(default, skip_serializing_if = "Vec::is_empty")]
    pub devices: Vec<String>,
    /// "ios", "android", "windows", "macos", "linux", "chromeos".
    #[serde(default, skip_serializing_if = "Vec::is_empty")]
    pub os: Vec<String>,
    /// ISO 3166-1 alpha-2 codes, upper case.
    #[serde(default, skip_serializing_if = "Vec::is_empty")]
    pub countries: Vec<String>,
    /// Primary language subtags ("de", "en"), matched against the visitor's preferred language.
    #[serde(default, skip_serializing_if = "Vec::is_empty")]
    pub languages: Vec<String>,
    /// Epoch ms from which the rule applies.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub start_at: Option<i64>,
    /// Epoch ms from which it no longer applies.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub end_at: Option<i64>,
    /// "mon" … "sun", in `timeZone`.
    #[serde(default, skip_serializing_if = "Vec::is_empty")]
    pub weekdays: Vec<String>,
    /// "HH:MM" local time in `timeZone`, from inclusive; may wrap past midnight.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub from_time: Option<String>,
    /// "HH:MM", exclusive.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub to_time: Option<String>,
    /// IANA zone of `weekdays` and the times; UTC by default.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub time_zone: Option<String>,
}

#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
#[serde(rename_all = "camelCase", deny_unknown_fields)]
pub struct Variant {
    pub url: String,
    /// Relative weight, 1 to 1000.
    pub weight: u32,
}

pub const DEVICES: &[&str] = &["mobile", "tablet", "desktop"];
pub const OPERATING_SYSTEMS: &[&str] = &["ios", "android", "windows", "macos", "linux", "chromeos"];
pub const WEEKDAYS: &[&str] = &["mon", "tue", "wed", "thu", "fri", "sat", "sun"];

/// Splits a code's settings into its behaviour keys and the rest (the type's content).
pub fn split_settings(settings: &Map<String, Value>) -> (Map<String, Value>, Map<String, Value>) {
    settings
        .iter()
        .map(|(k, v)| (k.clone(), v.clone()))
        .partition(|(k, _)| BEHAVIOUR_KEYS.contains(&k.as_str()))
}

/// What a code without behaviour keys gets: the same as `Behaviour::read` of empty settings.
impl Default for Behaviour {
    fn default() -> Self {
        Behaviour {
            rules: Vec::new(),
            ab_split: Vec::new(),
            redirect_status: None,
            forward_query: true,
            expired_url: None,
            max_scans: None,
            max_scans_url: None,
            password: None,
            password_hash: None,
        }
    }
}

impl Behaviour {
    /// Reads the behaviour keys of `settings` (others are ignored) without validating them.
    pub fn read(settings: &Map<String, Value>) -> Result<Behaviour, String> {
        let (behaviour, _) = split_settings(settings);
        serde_json::from_value(Value::Object(behaviour)).map_err(|e| format!("settings: {e}"))
    }

    /// Whether the edge needs anything beyond a plain redirect to the type's target.
    pub fn is_plain(&self) -> bool {
        *self == Behaviour::default()
    }

    /// Validates and normalises: URLs checked and canonicalised, a given `password` replaced by
    /// its hash (`previous_hash` is kept when the request names no new password).
    pub fn validated(
        mut self,
        previous_hash: Option<String>,
        salt: [u8; 16],
    ) -> Result<Behaviour, String> {
        if self.rules.len() > MAX_RULES {
            return Err(format!("settings.rules: at most {MAX_RULES} rules"));
        }
        for (i, rule) in self.rules.iter_mut().enumerate() {
            rule.validate(&format!("settings.rules[{i}]"))?;
        }
        if self.ab_split.len() > MAX_VARIANTS {
            return Err(format!("settings.abSplit: at most {MAX_VARIANTS} variants"));
        }
        if self.ab_split.len() == 1 {
            return Err("settings.abSplit needs at least two variants".into());
        }
        for (i, variant) in self.ab_split.iter_mut().enumerate() {
            let field = format!("settings.abSplit[{i}]");
            variant.url = validate::redirect_url(&format!("{field}.url"), &variant.url)?;
            if !(1..=1000).contains(&variant.weight) {
                return Err(format!("{field}.weight must be 1 to 1000"));
            }
        }
        if let Some(status) = self.redirect_status {
            if !matches!(status, 301 | 302 | 307 | 308) {
                return Err(format!(
                    "settings.redirectStatus must be 301, 302, 307 or 308, not {status}"
                ));
            }
        }
        for (field, url) in [
            ("settings.expiredUrl", &mut self.expired_url),
            ("settings.maxScansUrl", &mut self.max_scans_url),
        ] {
            if let Some(value) = url {
                *value = validate::redirect_url(field, value)?;
            }
        }
        if self.max_scans == Some(0) {
            return Err("settings.maxScans must be at least 1".into());
        }
        if self.max_scans_url.is_some() && self.max_scans.is_none() {
            return Err("settings.maxScansUrl needs settings.maxScans".into());
        }
        match self.password.take() {
            Some(password) if password.is_empty() => self.password_hash = None,
            Some(password) => {
                if password.chars().count() > 200 {
                    return Err("settings.password is longer than 200 characters".into());
                }
                self.password_hash = Some(super::password::hash(&password, salt));
            }
            // A hash can only come from us: a request naming one keeps the stored one.
            None => self.password_hash = previous_hash,
        }
        Ok(self)
    }

    /// Writes the behaviour back into `settings` (replacing its behaviour keys).
    pub fn store_into(&self, settings: &mut Map<String, Value>) {
        settings.retain(|k, _| !BEHAVIOUR_KEYS.contains(&k.as_str()));
        if let Value::Object(keys) = serde_json::to_value(self).expect("behaviour serialises") {
            settings.extend(keys);
        }
    }
}

impl Rule {
    fn validate(&mut self, field: &str) -> Result<(), String> {
        self.url = validate::redirect_url(&format!("{field}.url"), &self.url)?;
        let lists = [
            ("devices", &mut self.devices, Some(DEVICES)),
            ("os", &mut self.os, Some(OPERATING_SYSTEMS)),
            ("weekdays", &mut self.weekdays, Some(WEEKDAYS)),
            ("countries", &mut self.countries, None),
            ("languages", &mut self.languages, None),
        ];
        for (name, values, allowed) in lists {
            if values.len() > MAX_RULE_VALUES {
                return Err(format!("{field}.{name}: at most {MAX_RULE_VALUES} values"));
            }
            for value in values.iter_mut() {
                *value = value.trim().to_ascii_lowercase();
                let ok = match (name, allowed) {
                    (_, Some(allowed)) => allowed.contains(&value.as_str()),
                    ("countries", _) => {
                        value.len() == 2 && value.bytes().all(|b| b.is_ascii_alphabetic())
                    }
                    _ => {
                        (2..=8).contains(&value.len())
                            && value.bytes().all(|b| b.is_ascii_alphabetic())
                    }
                };
                if !ok {
                    let expected = match (name, allowed) {
                        (_, Some(allowed)) => format!("one of {}", allowed.join(", ")),
                        ("countries", _) => "an ISO 3166-1 alpha-2 code like \"DE\"".into(),
                        _ => "a primary language subtag like \"de\"".into(),
                    };
                    return Err(format!("{field}.{name}: {value:?} is not {expected}"));
                }
            }
        }
        for country in &mut self.countries {
            *country = country.to_ascii_uppercase();
        }
        if let (Some(start), Some(end)) = (self.start_at, self.end_at) {
            if start >= end {
                return Err(format!("{field}: startAt must be before endAt"));
            }
        }
        for (name, time) in [("fromTime", &self.from_time), ("toTime", &self.to_time)] {
            if let Some(time) = time {
                if minutes_of_day(time).is_none() {
                    return Err(format!("{field}.{name} must be \"HH:MM\" (00:00 to 23:59)"));
                }
            }
        }
        if self.from_time.is_some() != self.to_time.is_some() {
            return Err(format!("{field}: fromTime and toTime go together"));
        }
        if let Some(zone) = &self.time_zone {
            if zone.parse::<chrono_tz::Tz>().is_err() {
                return Err(format!(
                    "{field}.timeZone {zone:?} is not an IANA time zone"
                ));
            }
        }
        Ok(())
    }
}

/// "HH:MM" as minutes after midnight.
pub fn minutes_of_day(time: &str) -> Option<u16> {
    let (h, m) = time.split_once(':')?;
    if h.len() != 2 || m.len() != 2 {
        return None;
    }
    let (h, m): (u16, u16) = (h.parse().ok()?, m.parse().ok()?);
    (h < 24 && m < 60).then_some(h * 60 + m)
}

#[cfg(test)]
mod tests {
    use super::*;

    fn parse(json: &str) -> Result<Behaviour, String> {
        let settings: Map<String, Value> = serde_json::from_str(json).unwrap();
        Behaviour::read(&settings)?.validated(None, [7; 16])
    }

    #[test]
    fn a_full_behaviour_round_trips_through_settings() {
        let behaviour = parse(
            r#"{"rules": [{"url": "https://de.example", "countries": ["de"], "devices": ["mobile"],
                 "weekdays": ["Mon"], "fromTime": "09:00", "toTime": "17:30", "timeZone": "Europe/Berlin"}],
                "abSplit": [{"url": "https://a.example", "weight": 1}, {"url": "https://b.example", "weight": 3}],
                "redirectStatus": 301, "forwardQuery": false, "maxScans": 5, "password": "s3cret",
                "title": "ignored: not a behaviour key"}"#,
        )
        .unwrap();
        assert_eq!(behaviour.rules[0].countries, ["DE"]);
        assert_eq!(behaviour.rules[0].weekdays, ["mon"]);
        assert_eq!(behaviour.rules[0].url, "https://de.example/");
        assert!(behaviour.password.is_none());
        let hash = behaviour.password_hash.clone().unwrap();
        assert!(super::super::password::verify("s3cret", &hash));

        let mut settings = Map::new();
        settings.insert("title".into(), "kept".into());
        behaviour.store_into(&mut settings);
        assert_eq!(settings["title"], "kept");
        assert!(settings.get("password").is_none());
        assert_eq!(Behaviour::read(&settings).unwrap(), behaviour);
    }

    #[test]
    fn an_update_without_a_password_keeps_the_stored_hash() {
        let settings: Map<String, Value> = serde_json::from_str(r#"{"maxScans": 3}"#).unwrap();
        let kept = Behaviour::read(&settings)
            .unwrap()
            .validated(Some("pbkdf2-sha256$1$00$00".into()), [0; 16])
            .unwrap();
        assert_eq!(kept.password_hash.as_deref(), Some("pbkdf2-sha256$1$00$00"));
        let cleared: Map<String, Value> = serde_json::from_str(r#"{"password": ""}"#).unwrap();
        let cleared = Behaviour::read(&cleared)
            .unwrap()
            .validated(Some("x".into()), [0; 16])
            .unwrap();
        assert!(cleared.password_hash.is_none());
    }

    #[test]
    fn only_settings_without_behaviour_are_plain() {
        assert_eq!(Behaviour::read(&Map::new()).unwrap(), Behaviour::default());
        assert!(Behaviour::default().is_plain());
        let no_forwarding: Map<String, Value> =
            serde_json::from_str(r#"{"forwardQuery": false}"#).unwrap();
        assert!(!Behaviour::read(&no_forwarding).unwrap().is_plain());
    }

    #[test]
    fn mistakes_are_named() {
        for (json, expected) in [
            (r#"{"redirectStatus": 303}"#, "301, 302, 307 or 308"),
            (r#"{"redirectStatus": "301"}"#, "settings"),
            (
                r#"{"rules": [{"url": "javascript:alert(1)"}]}"#,
                "settings.rules[0].url",
            ),
            (
                r#"{"rules": [{"url": "https://a.example", "devices": ["phone"]}]}"#,
                "devices",
            ),
            (
                r#"{"rules": [{"url": "https://a.example", "countries": ["Germany"]}]}"#,
                "ISO 3166",
            ),
            (
                r#"{"rules": [{"url": "https://a.example", "fromTime": "25:00", "toTime": "01:00"}]}"#,
                "HH:MM",
            ),
            (
                r#"{"rules": [{"url": "https://a.example", "timeZone": "Mars/Base"}]}"#,
                "IANA",
            ),
            (
                r#"{"rules": [{"url": "https://a.example", "colour": "red"}]}"#,
                "colour",
            ),
            (
                r#"{"abSplit": [{"url": "https://a.example", "weight": 1}]}"#,
                "two variants",
            ),
            (
                r#"{"abSplit": [{"url": "https://a.example", "weight": 0}, {"url": "https://b.example", "weight": 1}]}"#,
                "weight",
            ),
            (r#"{"maxScans": 0}"#, "at least 1"),
            (
                r#"{"maxScansUrl": "https://a.example"}"#,
                "needs settings.maxScans",
            ),
        ] {
            let err = parse(json).unwrap_err();
            assert!(err.contains(expected), "{json}: {err}");
        }
    }
}
