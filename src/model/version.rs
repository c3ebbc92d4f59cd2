//! Record versions: the store counts the writes of every record (`version`, 0 for a record stored
//! before versions existed), and the API shows the count as the record's strong ETag (`"7"`), so
//! that a client can make a change conditional on the version it read (`If-Match`).

/// A new record's version: its first write.
pub const FIRST_VERSION: u64 = 1;

/// A record whose writes the store counts.
pub trait Versioned {
    fn version(&self) -> u64;
    fn set_version(&mut self, version: u64);
}

macro_rules! versioned {
    ($($record:ty),*) => {$(
        impl Versioned for $record {
            fn version(&self) -> u64 {
                self.version
            }
            fn set_version(&mut self, version: u64) {
                self.version = version;
            }
        }
    )*};
}

versioned!(
    super::Qr,
    super::Team,
    super::Member,
    super::Credential,
    super::template::Template
);

/// The ETag of a record at `version`: strong, the number quoted.
pub fn etag(version: u64) -> String {
    format!("\"{version}\"")
}

/// An `If-Match` precondition (RFC 9110 13.1.1): any current record (`*`), or one whose ETag is
/// among these. A weak or foreign entity tag matches nothing (If-Match compares strongly).
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum IfMatch {
    Any,
    OneOf(Vec<u64>),
}

impl IfMatch {
    /// The header's value: `*`, or a comma-separated list of entity tags (`"7"`, `W/"7"`).
    pub fn parse(value: &str) -> Result<Self, String> {
        let value = value.trim();
        if value == "*" {
            return Ok(Self::Any);
        }
        let mut versions = Vec::new();
        for tag in value.split(',').map(str::trim).filter(|t| !t.is_empty()) {
            let (weak, quoted) = match tag.strip_prefix("W/") {
                Some(rest) => (true, rest),
                None => (false, tag),
            };
            let opaque = quoted
                .strip_prefix('"')
                .and_then(|t| t.strip_suffix('"'))
                .filter(|t| !t.contains('"'))
                .ok_or_else(|| {
                    format!("If-Match {value:?} must be * or a list of quoted ETags like \"7\"")
                })?;
            if let (false, Ok(version)) = (weak, opaque.parse::<u64>()) {
                versions.push(version);
            }
        }
        Ok(Self::OneOf(versions))
    }

    /// Whether a record at `version` meets the precondition.
    pub fn admits(&self, version: u64) -> bool {
        match self {
            Self::Any => true,
            Self::OneOf(versions) => versions.contains(&version),
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn if_match_takes_a_star_or_a_list_of_strong_etags() {
        assert_eq!(IfMatch::parse("*"), Ok(IfMatch::Any));
        let list = IfMatch::parse(r#""3", W/"4" , "x", "5""#).unwrap();
        assert_eq!(list, IfMatch::OneOf(vec![3, 5]));
        assert!(list.admits(5) && !list.admits(4));
        assert!(IfMatch::parse("3").is_err(), "unquoted");
        assert!(IfMatch::parse(r#""3"#).is_err(), "unterminated");
        assert_eq!(etag(7), r#""7""#);
        assert!(IfMatch::parse(&etag(7)).unwrap().admits(7));
    }
}
