//! Text a user sets and others read (names, titles, tags, descriptions, a card's fields): trimmed,
//! bounded in characters, and free of what would show something else than it says. Control
//! characters (NUL, BEL, escapes) break logs, CSV exports and the `.vcf`; bidirectional overrides
//! and isolates (U+202E…) make a name read backwards (`gnp.exe` as `exe.png`); line and paragraph
//! separators break a one-line field. Tabs and newlines are allowed in free text only.

/// Characters no user text may hold besides the control characters: the bidirectional
/// embeddings, overrides, isolates and marks, and the Unicode line and paragraph separators.
fn is_deceptive(c: char) -> bool {
    matches!(
        c,
        '\u{202A}'..='\u{202E}'
            | '\u{2066}'..='\u{2069}'
            | '\u{200E}'
            | '\u{200F}'
            | '\u{061C}'
            | '\u{2028}'
            | '\u{2029}'
    )
}

/// One line of text: trimmed, at most `max` characters, no control or deceptive characters.
/// Empty is allowed (the caller decides what empty means). `field` names it in the refusal.
pub fn line(field: &str, value: &str, max: usize) -> Result<String, String> {
    let value = value.trim();
    if value.chars().count() > max {
        return Err(format!("{field} is longer than {max} characters"));
    }
    if let Some(c) = value.chars().find(|&c| c.is_control() || is_deceptive(c)) {
        return Err(format!(
            "{field} must be one line of text without control or direction characters (found U+{:04X})",
            c as u32
        ));
    }
    Ok(value.to_owned())
}

/// A line that must not be empty, such as the name of a team, a member or a key: 1 to `max`
/// characters once trimmed, no control or deceptive characters.
pub fn required_line(field: &str, value: &str, max: usize) -> Result<String, String> {
    let value = value.trim();
    if value.is_empty() || value.chars().count() > max {
        return Err(format!("{field} must be 1 to {max} characters"));
    }
    line(field, value, max)
}

/// Free text (newlines and tabs allowed; CRLF and CR kept as LF): trimmed, at most `max` characters,
/// no other control or deceptive characters.
pub fn free(field: &str, value: &str, max: usize) -> Result<String, String> {
    let value = value.trim().replace("\r\n", "\n").replace('\r', "\n");
    if value.chars().count() > max {
        return Err(format!("{field} is longer than {max} characters"));
    }
    let allowed = |c: char| matches!(c, '\n' | '\t');
    if let Some(c) = value
        .chars()
        .find(|&c| (c.is_control() && !allowed(c)) || is_deceptive(c))
    {
        return Err(format!(
            "{field} must not contain control or direction characters (found U+{:04X})",
            c as u32
        ));
    }
    Ok(value)
}

#[cfg(test)]
mod tests {
    use super::*;
    use proptest::prelude::*;

    #[test]
    fn names_keep_their_letters_and_lose_nothing_else() {
        assert_eq!(line("name", "  Café 🍕 ", 10).unwrap(), "Café 🍕");
        for bad in [
            "a\0b",
            "bell\u{7}",
            "invoice\u{202E}gnp.exe",
            "a\u{2028}b",
            "a\nb",
            "\u{1b}[31m",
        ] {
            let err = line("name", bad, 100).unwrap_err();
            assert!(err.starts_with("name must be one line"), "{bad:?}: {err}");
        }
        assert!(line("name", &"é".repeat(11), 10).is_err());
    }

    #[test]
    fn free_text_keeps_its_lines() {
        assert_eq!(free("note", "a\r\nb\tc\n", 10).unwrap(), "a\nb\tc");
        assert!(free("note", "a\u{202E}b", 10).is_err());
        assert!(free("note", "a\u{0}b", 10).is_err());
        assert_eq!(free("note", "a\rb", 10).unwrap(), "a\nb");
    }

    proptest! {
        /// What is accepted is accepted again unchanged, and holds no control character.
        #[test]
        fn accepted_text_is_stable(value in any::<String>()) {
            if let Ok(kept) = line("f", &value, 1000) {
                prop_assert_eq!(line("f", &kept, 1000), Ok(kept.clone()));
                prop_assert!(!kept.chars().any(|c| c.is_control() || is_deceptive(c)));
            }
            if let Ok(kept) = free("f", &value, 1000) {
                prop_assert_eq!(free("f", &kept, 1000), Ok(kept.clone()));
                prop_assert!(!kept.contains('\r'));
            }
        }
    }
}
