//! Guessing a code's password is slowed down: each client address gets a few attempts per code
//! and window, and then waits. Also bounds how much of the edge's CPU the (deliberately slow)
//! hash can take from one client.

use std::net::IpAddr;
use std::time::{Duration, Instant};

use bytestring::ByteString;
use dashmap::DashMap;

/// Attempts per client address and code in one window.
pub const MAX_ATTEMPTS: u32 = 10;
pub const WINDOW: Duration = Duration::from_secs(600);
/// Tracked (address, code) pairs beyond which the oldest state is dropped wholesale: a flood
/// of addresses cannot grow memory without bound.
const MAX_TRACKED: usize = 100_000;

#[derive(Default)]
pub struct PasswordAttempts {
    windows: DashMap<(IpAddr, ByteString), (Instant, u32)>,
}

impl PasswordAttempts {
    /// Counts an attempt; false when the client has used up this window's attempts.
    pub fn allow(&self, client: IpAddr, qr_id: &ByteString) -> bool {
        if self.windows.len() >= MAX_TRACKED {
            self.windows
                .retain(|_, (start, _)| start.elapsed() < WINDOW);
            if self.windows.len() >= MAX_TRACKED {
                self.windows.clear();
            }
        }
        let mut entry = self
            .windows
            .entry((client, qr_id.clone()))
            .or_insert((Instant::now(), 0));
        let (start, attempts) = &mut *entry;
        if start.elapsed() >= WINDOW {
            *start = Instant::now();
            *attempts = 0;
        }
        *attempts += 1;
        *attempts <= MAX_ATTEMPTS
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn a_client_gets_a_few_attempts_per_code() {
        let attempts = PasswordAttempts::default();
        let (a, b): (IpAddr, IpAddr) = (
            "203.0.113.1".parse().unwrap(),
            "203.0.113.2".parse().unwrap(),
        );
        let code = ByteString::from("qr_1");
        for _ in 0..MAX_ATTEMPTS {
            assert!(attempts.allow(a, &code));
        }
        assert!(!attempts.allow(a, &code));
        assert!(attempts.allow(b, &code), "another client is not held up");
        assert!(attempts.allow(a, &"qr_2".into()), "nor another code");
    }
}
