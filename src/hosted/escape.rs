//! HTML escaping: every piece of user text and every URL goes through [`escape`] on its way into
//! a page, in element content and in attribute values alike.

use std::fmt;

/// `s` made safe for HTML text and for double- or single-quoted attribute values: `& < > " '`
/// become character references. Displays without allocating (`write!(out, "{}", escape(s))`);
/// `.to_string()` when a `String` is wanted.
pub fn escape(s: &str) -> Escaped<'_> {
    Escaped(s)
}

/// The value of [`escape`]: writes the escaped text when displayed.
#[derive(Debug, Clone, Copy)]
pub struct Escaped<'a>(&'a str);

impl fmt::Display for Escaped<'_> {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        let s = self.0;
        let mut start = 0;
        for (i, b) in s.bytes().enumerate() {
            let entity = match b {
                b'&' => "&amp;",
                b'<' => "&lt;",
                b'>' => "&gt;",
                b'"' => "&quot;",
                b'\'' => "&#39;",
                _ => continue,
            };
            f.write_str(&s[start..i])?;
            f.write_str(entity)?;
            start = i + 1;
        }
        f.write_str(&s[start..])
    }
}

#[cfg(test)]
mod tests {
    use super::escape;

    #[test]
    fn the_five_special_characters_become_references() {
        assert_eq!(
            escape(r#"<a href="x" title='y'>Tom & Jerry</a>"#).to_string(),
            "&lt;a href=&quot;x&quot; title=&#39;y&#39;&gt;Tom &amp; Jerry&lt;/a&gt;"
        );
        assert_eq!(escape("Grüße, 東京").to_string(), "Grüße, 東京");
        assert_eq!(escape("").to_string(), "");
    }
}
