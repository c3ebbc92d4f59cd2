//! Members' dashboard passwords: argon2id (the `argon2` crate's defaults, OWASP's minimum:
//! 19 MiB, 2 passes) with a random salt, stored as a PHC string on the member. Hashing takes
//! tens of milliseconds of CPU by design, so callers run it off the async workers.

use std::sync::LazyLock;

use argon2::password_hash::SaltString;
use argon2::{Argon2, PasswordHash, PasswordHasher, PasswordVerifier};

pub const MIN_LEN: usize = 10;
/// Longer passwords only cost hashing time.
pub const MAX_LEN: usize = 256;

/// What a sign-in with an unknown email is checked against, so that it costs what a wrong
/// password costs and timing tells no one which emails exist.
static NO_MEMBER_HASH: LazyLock<String> = LazyLock::new(|| hash("no member has this password"));

/// Why `password` cannot be a new password (None: it can).
pub fn refusal(password: &str, confirmation: &str) -> Option<String> {
    let chars = password.chars().count();
    if chars < MIN_LEN {
        Some(format!("password must be at least {MIN_LEN} characters"))
    } else if chars > MAX_LEN {
        Some(format!("password must be at most {MAX_LEN} characters"))
    } else if password != confirmation {
        Some("the two passwords differ".into())
    } else {
        None
    }
}

/// The PHC string of `password` under a fresh random salt.
pub fn hash(password: &str) -> String {
    let mut salt = [0u8; 16];
    getrandom::fill(&mut salt).expect("the operating system's random generator failed");
    let salt = SaltString::encode_b64(&salt).expect("16 bytes make a valid salt");
    Argon2::default()
        .hash_password(password.as_bytes(), &salt)
        .expect("argon2 hashes any password within MAX_LEN")
        .to_string()
}

/// Whether `password` is the one `stored` hashes; None (no such member, or no password set)
/// spends the same time and is false.
pub fn verify(password: &str, stored: Option<&str>) -> bool {
    let phc = stored.unwrap_or(&NO_MEMBER_HASH);
    let matches = PasswordHash::new(phc).is_ok_and(|parsed| {
        Argon2::default()
            .verify_password(password.as_bytes(), &parsed)
            .is_ok()
    });
    matches && stored.is_some()
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn a_password_verifies_against_its_own_salted_hash_only() {
        let stored = hash("correct horse battery");
        assert!(stored.starts_with("$argon2id$"), "{stored}");
        assert_ne!(
            stored,
            hash("correct horse battery"),
            "a fresh salt each time"
        );
        assert!(verify("correct horse battery", Some(&stored)));
        assert!(!verify("correct horse batterY", Some(&stored)));
        assert!(!verify("no member has this password", None));
        assert!(refusal("short", "short").is_some());
        assert!(refusal("long enough!", "long enough?").is_some());
        assert!(refusal("long enough!", "long enough!").is_none());
    }
}
