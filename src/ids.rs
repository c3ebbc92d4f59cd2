//! Identifiers and secrets. IDs are opaque strings; secrets are random and shown once.

use std::sync::atomic::{AtomicU64, Ordering};

const ALPHABET: &[u8] = b"0123456789ABCDEFGHIJKLMNOPQRSTUVWXYZabcdefghijklmnopqrstuvwxyz";

fn random_bytes<const N: usize>() -> [u8; N] {
    let mut bytes = [0u8; N];
    // The OS generator failing is not something a server can recover from.
    getrandom::fill(&mut bytes).expect("the operating system's random generator failed");
    bytes
}

/// `len` random characters of [0-9A-Za-z] (62 symbols; the tiny modulo bias is irrelevant for
/// identifiers, and secrets below use the full byte range).
pub fn random_alphanumeric(len: usize) -> String {
    let mut out = String::with_capacity(len);
    while out.len() < len {
        for byte in random_bytes::<32>() {
            if out.len() == len {
                break;
            }
            // Rejection sampling keeps the distribution uniform.
            if (byte as usize) < ALPHABET.len() * 4 {
                out.push(ALPHABET[byte as usize % ALPHABET.len()] as char);
            }
        }
    }
    out
}

/// A new opaque id such as `qr_3kTg9...` (20 random characters after the prefix).
pub fn new_id(prefix: &str) -> String {
    format!("{prefix}_{}", random_alphanumeric(20))
}

/// A client secret with 256 bits of entropy.
pub fn new_secret() -> String {
    format!("qsk_{}", hex::encode(random_bytes::<32>()))
}

/// A displayId for a code created without one: 7 characters, 62^7 ≈ 3.5e12 possibilities.
pub fn new_display_id() -> String {
    random_alphanumeric(7)
}

/// Unique scan event ids without a syscall per scan: a random per-process prefix and a counter.
pub struct EventIds {
    prefix: u64,
    counter: AtomicU64,
}

impl EventIds {
    pub fn new() -> Self {
        Self {
            prefix: u64::from_le_bytes(random_bytes::<8>()),
            counter: AtomicU64::new(0),
        }
    }

    pub fn next(&self) -> u128 {
        let n = self.counter.fetch_add(1, Ordering::Relaxed);
        ((self.prefix as u128) << 64) | n as u128
    }
}

impl Default for EventIds {
    fn default() -> Self {
        Self::new()
    }
}

/// An event id as it appears on the wire: 32 lower-case hex digits.
pub fn format_event_id(id: u128) -> String {
    format!("{id:032x}")
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn ids_have_the_promised_shape() {
        let id = new_id("qr");
        assert!(id.starts_with("qr_") && id.len() == 23);
        assert!(id[3..].bytes().all(|b| b.is_ascii_alphanumeric()));
        assert_ne!(new_id("qr"), new_id("qr"));
        assert_eq!(new_secret().len(), 4 + 64);
    }

    #[test]
    fn event_ids_are_unique_within_and_across_generators() {
        let a = EventIds::new();
        let b = EventIds::new();
        let first = a.next();
        assert_ne!(first, a.next());
        assert_ne!(first, b.next());
        assert_eq!(format_event_id(first).len(), 32);
    }
}
