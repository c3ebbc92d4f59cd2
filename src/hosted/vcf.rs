//! The vCard 3.0 file (RFC 2426) of a VCARD code: CRLF line endings, text values escaped as
//! RFC 6350 §3.4 says (`\\`, `\,`, `\;`, `\n`), lines folded at 75 octets without splitting a
//! UTF-8 character.

use super::vcard::{EmailKind, PhoneKind, Vcard};

/// Longest line in octets, CRLF not counted (RFC 6350 §3.2).
const MAX_LINE: usize = 75;

/// `value` as a vCard text value.
fn text(value: &str) -> String {
    let mut out = String::with_capacity(value.len() + 8);
    let mut chars = value.chars().peekable();
    while let Some(c) = chars.next() {
        match c {
            '\\' => out.push_str("\\\\"),
            ',' => out.push_str("\\,"),
            ';' => out.push_str("\\;"),
            '\r' => {
                if chars.peek() == Some(&'\n') {
                    chars.next();
                }
                out.push_str("\\n");
            }
            '\n' => out.push_str("\\n"),
            c => out.push(c),
        }
    }
    out
}

/// Appends `line` folded to [`MAX_LINE`] octets, each physical line ended by CRLF; continuation
/// lines start with a space.
fn push_folded(out: &mut String, line: &str) {
    let mut rest = line;
    let mut limit = MAX_LINE;
    loop {
        if rest.len() <= limit {
            out.push_str(rest);
            out.push_str("\r\n");
            return;
        }
        let mut cut = limit;
        while !rest.is_char_boundary(cut) {
            cut -= 1;
        }
        out.push_str(&rest[..cut]);
        out.push_str("\r\n ");
        rest = &rest[cut..];
        limit = MAX_LINE - 1;
    }
}

/// The `.vcf` file of a contact.
pub fn vcard_file(card: &Vcard) -> String {
    let mut out = String::with_capacity(512);
    let mut line = |l: String| push_folded(&mut out, &l);
    line("BEGIN:VCARD".into());
    line("VERSION:3.0".into());
    let first = card.first_name.as_deref().unwrap_or("");
    let last = card.last_name.as_deref().unwrap_or("");
    line(format!("N:{};{};;;", text(last), text(first)));
    line(format!("FN:{}", text(&card.full_name())));
    if let Some(org) = &card.organization {
        line(format!("ORG:{}", text(org)));
    }
    if let Some(title) = &card.job_title {
        line(format!("TITLE:{}", text(title)));
    }
    for phone in &card.phones {
        let kind = match phone.kind {
            PhoneKind::Mobile => "CELL,VOICE",
            PhoneKind::Work => "WORK,VOICE",
            PhoneKind::Home => "HOME,VOICE",
            PhoneKind::Fax => "WORK,FAX",
            PhoneKind::Other => "VOICE",
        };
        line(format!("TEL;TYPE={kind}:{}", text(&phone.number)));
    }
    for email in &card.emails {
        let kind = match email.kind {
            EmailKind::Work => "INTERNET,WORK",
            EmailKind::Home => "INTERNET,HOME",
            EmailKind::Other => "INTERNET",
        };
        line(format!("EMAIL;TYPE={kind}:{}", text(&email.address)));
    }
    if let Some(url) = &card.website {
        // A URI value: not text-escaped (a validated URL has no CR, LF or spaces).
        line(format!("URL:{url}"));
    }
    if let Some(a) = &card.address {
        let part = |p: &Option<String>| text(p.as_deref().unwrap_or(""));
        line(format!(
            "ADR;TYPE=WORK:;;{};{};{};{};{}",
            part(&a.street),
            part(&a.city),
            part(&a.region),
            part(&a.postal_code),
            part(&a.country)
        ));
    }
    if let Some(note) = &card.note {
        line(format!("NOTE:{}", text(note)));
    }
    if let Some(url) = &card.photo_url {
        line(format!("PHOTO;VALUE=URI:{url}"));
    }
    line("END:VCARD".into());
    out
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn text_values_escape_the_separators() {
        assert_eq!(text(r"a\b,c;d"), r"a\\b\,c\;d");
        assert_eq!(text("one\r\ntwo\nthree\rfour"), r"one\ntwo\nthree\nfour");
    }

    #[test]
    fn long_lines_fold_at_75_octets_between_characters() {
        let mut out = String::new();
        let line = format!("NOTE:{}", "é".repeat(100));
        push_folded(&mut out, &line);
        for physical in out.split_terminator("\r\n") {
            assert!(physical.len() <= 75, "{} octets", physical.len());
        }
        assert_eq!(out.replace("\r\n ", ""), format!("{line}\r\n"));
    }
}
