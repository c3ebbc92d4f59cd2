//! Guessing a code's password is slowed down: each client gets a few attempts per code and
//! window, and then waits. Also bounds how much of the edge's CPU the (deliberately slow) hash
//! can take from one client.
//!
//! A client is an IPv4 address or an IPv6 /64: one subscriber's network, in which a client can
//! pick a new address for every attempt. When the table is full, expired windows go first and
//! then the oldest ones, so a flood of new clients cannot wipe the count of one that is guessing.

use std::net::{IpAddr, Ipv6Addr};
use std::time::{Duration, Instant};

use bytestring::ByteString;
use dashmap::DashMap;

/// Attempts per client and code in one window.
pub const MAX_ATTEMPTS: u32 = 10;
pub const WINDOW: Duration = Duration::from_secs(600);
/// Tracked (client, code) pairs: memory stays bounded whatever the number of addresses.
const MAX_TRACKED: usize = 100_000;

pub struct PasswordAttempts {
    /// (client, code) -> when its window started, attempts in it.
    windows: DashMap<(IpAddr, ByteString), (Instant, u32)>,
    capacity: usize,
}

impl Default for PasswordAttempts {
    fn default() -> Self {
        Self::with_capacity(MAX_TRACKED)
    }
}

/// The part of an address that is one client: an IPv4 address (also when written IPv4-mapped),
/// or the /64 network of an IPv6 one.
fn client_of(address: IpAddr) -> IpAddr {
    match address {
        IpAddr::V4(_) => address,
        IpAddr::V6(v6) => match v6.to_ipv4_mapped() {
            Some(v4) => IpAddr::V4(v4),
            None => IpAddr::V6(Ipv6Addr::from(u128::from(v6) & !(u64::MAX as u128))),
        },
    }
}

impl PasswordAttempts {
    fn with_capacity(capacity: usize) -> Self {
        Self {
            windows: DashMap::new(),
            capacity,
        }
    }

    /// Counts an attempt; false when the client has used up this window's attempts.
    pub fn allow(&self, client: IpAddr, qr_id: &ByteString) -> bool {
        self.allow_at(client, qr_id, Instant::now())
    }

    fn allow_at(&self, client: IpAddr, qr_id: &ByteString, now: Instant) -> bool {
        let key = (client_of(client), qr_id.clone());
        if self.windows.len() >= self.capacity && !self.windows.contains_key(&key) {
            self.make_room(now);
        }
        let mut entry = self.windows.entry(key).or_insert((now, 0));
        let (start, attempts) = &mut *entry;
        if now.saturating_duration_since(*start) >= WINDOW {
            *start = now;
            *attempts = 0;
        }
        *attempts += 1;
        *attempts <= MAX_ATTEMPTS
    }

    /// Drops the expired windows and, if that is not enough, the oldest eighth of the table (a
    /// batch, so that the sort is paid once per many new clients, not for each).
    fn make_room(&self, now: Instant) {
        self.windows
            .retain(|_, (start, _)| now.saturating_duration_since(*start) < WINDOW);
        let target = self.capacity - (self.capacity / 8).max(1);
        let excess = self.windows.len().saturating_sub(target);
        if excess == 0 {
            return;
        }
        let mut starts: Vec<Instant> = self.windows.iter().map(|e| e.value().0).collect();
        let (_, newest_evicted, _) = starts.select_nth_unstable(excess - 1);
        let cutoff = *newest_evicted;
        self.windows.retain(|_, (start, _)| *start > cutoff);
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

    #[test]
    fn an_ipv6_client_is_its_64_network() {
        let attempts = PasswordAttempts::default();
        let code = ByteString::from("qr_1");
        // Every attempt from a new address of one /64.
        for i in 0..MAX_ATTEMPTS {
            let address: IpAddr = format!("2001:db8:1:2::{:x}", i + 1).parse().unwrap();
            assert!(attempts.allow(address, &code), "attempt {i}");
        }
        let another_in_it: IpAddr = "2001:db8:1:2:ffff:ffff:ffff:ffff".parse().unwrap();
        assert!(
            !attempts.allow(another_in_it, &code),
            "the /64 has used them up"
        );
        let next_network: IpAddr = "2001:db8:1:3::1".parse().unwrap();
        assert!(
            attempts.allow(next_network, &code),
            "another /64 is another client"
        );

        let v4: IpAddr = "203.0.113.9".parse().unwrap();
        let mapped: IpAddr = "::ffff:203.0.113.9".parse().unwrap();
        for _ in 0..MAX_ATTEMPTS {
            assert!(attempts.allow(v4, &code));
        }
        assert!(
            !attempts.allow(mapped, &code),
            "IPv4-mapped is the IPv4 client"
        );
    }

    #[test]
    fn a_full_table_forgets_the_oldest_windows_not_everything() {
        let attempts = PasswordAttempts::with_capacity(8);
        let start = Instant::now();
        let at = |ms: u64| start + Duration::from_millis(ms);
        let guesser: IpAddr = "203.0.113.1".parse().unwrap();
        let code = |i: u64| ByteString::from(format!("qr_{i}"));
        // Eight windows, the oldest first; the guesser is held up on the newest.
        for i in 0..7 {
            assert!(attempts.allow_at(guesser, &code(i), at(i)));
        }
        for _ in 0..MAX_ATTEMPTS {
            assert!(attempts.allow_at(guesser, &code(7), at(7)));
        }
        assert!(!attempts.allow_at(guesser, &code(7), at(8)));
        // A new client arrives at a full table: the oldest window goes, and only that.
        let newcomer: IpAddr = "198.51.100.1".parse().unwrap();
        assert!(attempts.allow_at(newcomer, &code(0), at(9)));
        assert_eq!(attempts.windows.len(), 8);
        assert!(!attempts.windows.contains_key(&(guesser, code(0))));
        assert!(
            !attempts.allow_at(guesser, &code(7), at(10)),
            "the guesser is still held up"
        );
        // Once their windows are over, the old entries go and nothing live does.
        let later = at(6) + WINDOW;
        assert!(attempts.allow_at(newcomer, &code(99), later));
        assert_eq!(attempts.windows.len(), 3, "code 7's, the newcomer's two");
        assert!(!attempts.allow_at(guesser, &code(7), later));
    }
}
