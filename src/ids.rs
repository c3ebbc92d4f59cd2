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

/// A displayId for a code created without one: 7 characters, 62^7 ≈ 3.5e12 possibilities, never
/// a reserved one (`metrics` and `healthz` have 7 letters too).
pub fn new_display_id() -> String {
    loop {
        let id = random_alphanumeric(7);
        if crate::model::validate::display_id(&id).is_ok() {
            return id;
        }
    }
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

/// Ids for the codes of one bulk import, of `new_id`'s shape (`qr_` and 20 characters of
/// [0-9A-Za-z]): 10 random characters shared by the import, then a counter. As unique as
/// `new_id`'s, and in key order: the embedded store then appends each batch to its B-trees
/// instead of rewriting pages all over them (random ids made a 1M-code import write its 1.1 GB
/// file six times over).
pub struct SequentialIds {
    prefix: String,
    next: u64,
}

impl SequentialIds {
    const COUNTER_LEN: usize = 10;

    pub fn new(prefix: &str) -> Self {
        Self {
            prefix: format!("{prefix}_{}", random_alphanumeric(20 - Self::COUNTER_LEN)),
            next: 0,
        }
    }

    /// The next id; each sorts after the previous one (the alphabet is in ASCII order).
    pub fn next_id(&mut self) -> String {
        let mut id = String::with_capacity(self.prefix.len() + Self::COUNTER_LEN);
        id.push_str(&self.prefix);
        let mut digits = [b'0'; Self::COUNTER_LEN];
        let mut n = self.next;
        for digit in digits.iter_mut().rev() {
            *digit = ALPHABET[(n % ALPHABET.len() as u64) as usize];
            n /= ALPHABET.len() as u64;
        }
        self.next += 1;
        id.push_str(std::str::from_utf8(&digits).expect("ASCII digits"));
        id
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
    fn sequential_ids_have_new_ids_shape_and_sort_in_order() {
        let mut ids = SequentialIds::new("qr");
        let all: Vec<String> = (0..200).map(|_| ids.next_id()).collect();
        assert!(all.iter().all(|id| id.len() == new_id("qr").len()));
        assert!(
            all[0].starts_with("qr_") && all[0][3..].bytes().all(|b| b.is_ascii_alphanumeric())
        );
        assert!(all.windows(2).all(|w| w[0] < w[1]), "{all:?}");
        assert_ne!(all[0][..13], SequentialIds::new("qr").next_id()[..13]);
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
