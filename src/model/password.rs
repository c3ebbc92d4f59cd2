//! Passwords of protected codes, stored as salted PBKDF2-SHA256: a code's password is chosen by a
//! person and may be weak, so a fast hash would give it away to anyone who reads the store.

use sha2::Sha256;
use subtle::ConstantTimeEq;

/// Enough to make guessing slow, few enough that an unlock costs the edge ~10 ms of one core.
const ITERATIONS: u32 = 20_000;

/// `pbkdf2-sha256$ITERATIONS$SALT_HEX$HASH_HEX`.
pub fn hash(password: &str, salt: [u8; 16]) -> String {
    let mut out = [0u8; 32];
    pbkdf2::pbkdf2_hmac::<Sha256>(password.as_bytes(), &salt, ITERATIONS, &mut out);
    format!(
        "pbkdf2-sha256${ITERATIONS}${}${}",
        hex::encode(salt),
        hex::encode(out)
    )
}

/// Whether `password` is the one `stored` was made from (false for a malformed `stored`).
pub fn verify(password: &str, stored: &str) -> bool {
    let mut parts = stored.split('$');
    let (Some("pbkdf2-sha256"), Some(iterations), Some(salt), Some(expected), None) = (
        parts.next(),
        parts.next(),
        parts.next(),
        parts.next(),
        parts.next(),
    ) else {
        return false;
    };
    let (Ok(iterations), Ok(salt), Ok(expected)) = (
        iterations.parse::<u32>(),
        hex::decode(salt),
        hex::decode(expected),
    ) else {
        return false;
    };
    if !(1..=1_000_000).contains(&iterations) || expected.len() != 32 {
        return false;
    }
    let mut out = [0u8; 32];
    pbkdf2::pbkdf2_hmac::<Sha256>(password.as_bytes(), &salt, iterations, &mut out);
    out.ct_eq(&expected).into()
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn only_the_right_password_verifies() {
        let stored = hash("correct horse", [1; 16]);
        assert!(verify("correct horse", &stored));
        assert!(!verify("correct hors", &stored));
        assert!(!verify("correct horse", "plain text"));
        assert_ne!(stored, hash("correct horse", [2; 16]), "salted");
    }
}
