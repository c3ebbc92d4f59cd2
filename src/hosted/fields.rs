//! Checks shared by the settings of every type. Each takes the field's path as the user wrote it
//! (`settings.links[2].url`) so that a failure is one sentence naming the field.

use serde::de::DeserializeOwned;
use serde_json::{Map, Value};

use crate::model::{text, validate};

/// Longest title, name or other one-line text.
pub const MAX_TITLE: usize = 200;
/// Longest description, note, terms or other free text.
pub const MAX_TEXT: usize = 5000;
/// Most entries in any list (links, images, phones, sections, items of a section…).
pub const MAX_ITEMS: usize = 100;

/// `settings` as the typed settings `T` (camelCase keys, unknown keys rejected), or a sentence
/// naming the offending field.
pub fn deserialize<T: DeserializeOwned>(settings: &Map<String, Value>) -> Result<T, String> {
    let value = Value::Object(settings.clone());
    serde_path_to_error::deserialize(&value).map_err(|e| {
        let at = match e.path().to_string().as_str() {
            "." => "settings".to_owned(),
            path => format!("settings.{path}"),
        };
        sentence(&at, &e.inner().to_string())
    })
}

/// serde's messages turned into sentences about the field at `at`.
fn sentence(at: &str, message: &str) -> String {
    let quoted = |rest: &str| rest.split('`').next().unwrap_or_default().to_owned();
    let expected = |message: &str| {
        message
            .split_once("expected ")
            .map(|(_, e)| e.trim_start_matches("one of ").replace('`', ""))
    };
    if let Some(rest) = message.strip_prefix("unknown field `") {
        // The path ends at the unknown key itself (serde_path_to_error records it first) or at
        // its parent, depending on where serde noticed; name the key once either way.
        let key = quoted(rest);
        let field = if at.ends_with(&format!(".{key}")) {
            at.to_owned()
        } else {
            format!("{at}.{key}")
        };
        return match expected(message) {
            Some(known) => format!("{field} is not a known setting; expected one of {known}"),
            None => format!("{field} is not a known setting (this type takes no settings)"),
        };
    }
    if let Some(rest) = message.strip_prefix("missing field `") {
        return format!("{at}.{} is required", quoted(rest));
    }
    if let Some(rest) = message.strip_prefix("unknown variant `") {
        let got = quoted(rest);
        let known = expected(message).unwrap_or_default();
        return format!("{at} must be one of {known}, not {got:?}");
    }
    if let Some(rest) = message.strip_prefix("invalid type: ") {
        if let Some((got, want)) = rest.split_once(", expected ") {
            return format!("{at} must be {want}, not {}", got.replace('`', ""));
        }
    }
    format!("{at}: {message}")
}

/// A required one-line text: trimmed, not empty, at most `max` characters, no control or
/// direction characters (`model::text`).
pub fn title(path: &str, value: String, max: usize) -> Result<String, String> {
    let value = text::line(path, &value, max)?;
    if value.is_empty() {
        return Err(format!("{path} must not be empty"));
    }
    Ok(value)
}

/// An optional one-line text; empty means absent.
pub fn opt_title(path: &str, value: Option<String>, max: usize) -> Result<Option<String>, String> {
    match value {
        Some(v) if !v.trim().is_empty() => title(path, v, max).map(Some),
        _ => Ok(None),
    }
}

/// An optional free text (newlines and tabs allowed): trimmed, at most [`MAX_TEXT`] characters,
/// no other control or direction characters; empty means absent.
pub fn opt_text(path: &str, value: Option<String>) -> Result<Option<String>, String> {
    let Some(value) = value else { return Ok(None) };
    let value = text::free(path, &value, MAX_TEXT)?;
    Ok((!value.is_empty()).then_some(value))
}

/// A required absolute http(s) URL, normalised (punycode, percent-encoding).
pub fn url(path: &str, value: &str) -> Result<String, String> {
    if value.trim().is_empty() {
        return Err(format!("{path} must not be empty"));
    }
    validate::redirect_url(path, value)
}

/// An optional URL; empty means absent.
pub fn opt_url(path: &str, value: Option<String>) -> Result<Option<String>, String> {
    match value {
        Some(v) if !v.trim().is_empty() => url(path, &v).map(Some),
        _ => Ok(None),
    }
}

/// A list of `min..=MAX_ITEMS` entries.
pub fn list_len(path: &str, len: usize, min: usize) -> Result<(), String> {
    if len < min {
        return Err(match min {
            1 => format!("{path} must have at least one entry"),
            _ => format!("{path} must have at least {min} entries"),
        });
    }
    if len > MAX_ITEMS {
        return Err(format!("{path} has more than {MAX_ITEMS} entries"));
    }
    Ok(())
}

/// `#rrggbb`.
pub fn is_colour(value: &str) -> bool {
    let b = value.as_bytes();
    b.len() == 7 && b[0] == b'#' && b[1..].iter().all(u8::is_ascii_hexdigit)
}

/// An optional `#rrggbb` colour, lower-cased.
pub fn opt_colour(path: &str, value: Option<String>) -> Result<Option<String>, String> {
    match value {
        Some(v) if !v.trim().is_empty() => {
            let v = v.trim();
            if is_colour(v) {
                Ok(Some(v.to_ascii_lowercase()))
            } else {
                Err(format!("{path} must be a colour like #1a73e8, not {v:?}"))
            }
        }
        _ => Ok(None),
    }
}

/// A plausible e-mail address: `local@domain.tld`, no spaces, quotes or angle brackets.
pub fn email(path: &str, value: &str) -> Result<String, String> {
    let value = value.trim();
    let plausible = value.len() <= 254
        && value.split_once('@').is_some_and(|(local, domain)| {
            !local.is_empty()
                && domain.contains('.')
                && !domain.starts_with('.')
                && !domain.ends_with('.')
                && !domain.contains('@')
        })
        && value
            .chars()
            .all(|c| !c.is_whitespace() && !c.is_control() && !"\"<>()[]\\,;:".contains(c));
    if plausible {
        Ok(value.to_owned())
    } else {
        Err(format!(
            "{path} must be an e-mail address like name@example.com, not {value:?}"
        ))
    }
}

/// A plausible phone number: digits with the usual separators, an optional leading `+`, 3 to 20
/// digits.
pub fn phone(path: &str, value: &str) -> Result<String, String> {
    let value = value.trim();
    let digits = value.bytes().filter(u8::is_ascii_digit).count();
    let body = value.strip_prefix('+').unwrap_or(value);
    let plausible = (3..=20).contains(&digits)
        && value.len() <= 32
        && body
            .bytes()
            .all(|b| b.is_ascii_digit() || matches!(b, b' ' | b'-' | b'.' | b'(' | b')' | b'/'));
    if plausible {
        Ok(value.to_owned())
    } else {
        Err(format!(
            "{path} must be a phone number like +41 44 668 18 00, not {value:?}"
        ))
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn plausible_contacts_pass_and_others_say_why() {
        assert_eq!(
            email("e", " jane.doe+qr@acme.example ").unwrap(),
            "jane.doe+qr@acme.example"
        );
        for bad in [
            "jane",
            "@acme.example",
            "jane@localhost",
            "a b@c.de",
            "<a@b.c>",
        ] {
            assert!(email("settings.emails[0].address", bad)
                .unwrap_err()
                .starts_with("settings.emails[0].address must be an e-mail address"));
        }
        assert!(phone("p", "+1 (555) 010-9999").is_ok());
        assert!(phone("p", "044/668.18.00").is_ok());
        for bad in ["12", "call me", "+1 555 +2", "javascript:1"] {
            assert!(phone("p", bad).is_err(), "{bad}");
        }
    }

    #[test]
    fn colours_are_six_hex_digits() {
        assert_eq!(
            opt_colour("c", Some("#1A73E8".into())).unwrap().as_deref(),
            Some("#1a73e8")
        );
        assert_eq!(opt_colour("c", Some("".into())).unwrap(), None);
        for bad in ["#fff", "red", "#12345g", "#1234567", "1a73e8;x"] {
            assert!(opt_colour("c", Some(bad.into())).is_err(), "{bad}");
        }
    }

    #[test]
    fn texts_are_bounded() {
        assert_eq!(title("t", "  Hi ".into(), 5).unwrap(), "Hi");
        assert!(title("t", "   ".into(), 5).is_err());
        assert!(title("t", "x".repeat(201), MAX_TITLE)
            .unwrap_err()
            .contains("longer than 200"));
        assert!(title("t", "a\nb".into(), 5).is_err());
        assert_eq!(
            opt_text("d", Some("a\r\nb".into())).unwrap().as_deref(),
            Some("a\nb")
        );
        assert!(opt_text("d", Some("x".repeat(5001))).is_err());
        assert_eq!(opt_text("d", Some(" ".into())).unwrap(), None);
    }
}
