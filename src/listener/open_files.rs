//! Connections are file descriptors: a process that runs out of them can accept no client and
//! open no file, so the edge would stop with the API. At start the soft limit on open files is
//! raised to the hard one (the soft default, often 1024, is far below the edge's cap), and the
//! connection caps of the listeners are lowered, if need be, to fit under it with room to spare
//! for everything else.

use rustix::process::{getrlimit, setrlimit, Resource, Rlimit};

/// Open files kept for everything but client connections: the stores, the event log and its
/// reads, the spool, GeoIP copies, TLS certificate reads, Redis and Kafka connections, the
/// runtime. `qredge serve` on the embedded store holds 16 of them at rest.
pub const RESERVED_FILES: u64 = 256;

/// Linux's ceiling for a process's open files (`fs.nr_open`) when the hard limit is unlimited.
const NR_OPEN: u64 = 1 << 20;

/// Raises the soft limit on open files to the hard limit; returns the soft limit in force.
pub fn raise_open_files_limit() -> u64 {
    let limit = getrlimit(Resource::Nofile);
    let hard = limit.maximum.unwrap_or(NR_OPEN);
    let soft = limit.current.unwrap_or(NR_OPEN);
    if soft >= hard {
        return soft;
    }
    let raised = Rlimit {
        current: Some(hard),
        maximum: limit.maximum,
    };
    match setrlimit(Resource::Nofile, raised) {
        Ok(()) => {
            tracing::debug!(from = soft, to = hard, "raised the open files limit");
            hard
        }
        Err(e) => {
            tracing::warn!(soft, hard, error = %e, "cannot raise the open files limit");
            soft
        }
    }
}

/// Lowers the named connection caps in proportion until their sum and `RESERVED_FILES` fit in
/// `open_files`, with a warning naming the new values; returns whether any was lowered.
pub fn fit_connection_caps(open_files: u64, caps: &mut [(&str, &mut usize)]) -> bool {
    let available = open_files
        .saturating_sub(RESERVED_FILES)
        .max(caps.len() as u64);
    let total: u64 = caps.iter().map(|(_, cap)| **cap as u64).sum();
    if total <= available {
        return false;
    }
    for (_, cap) in caps.iter_mut() {
        let share = (**cap as u128 * available as u128 / total as u128) as usize;
        **cap = share.max(1);
    }
    let lowered: Vec<String> = caps
        .iter()
        .map(|(name, cap)| format!("{name} = {cap}"))
        .collect();
    tracing::warn!(
        open_files,
        reserved = RESERVED_FILES,
        "the open files limit (ulimit -n) cannot hold the configured connections: lowered to {}",
        lowered.join(", ")
    );
    true
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn caps_that_fit_are_kept() {
        let (mut edge, mut api) = (10_000, 1_024);
        let mut caps = [("edge", &mut edge), ("api", &mut api)];
        assert!(!fit_connection_caps(1 << 20, &mut caps));
        assert_eq!((edge, api), (10_000, 1_024));
    }

    #[test]
    fn caps_that_do_not_fit_shrink_in_proportion() {
        let (mut edge, mut api) = (10_000, 1_000);
        let mut caps = [("edge", &mut edge), ("api", &mut api)];
        assert!(fit_connection_caps(1_024, &mut caps));
        assert!(edge as u64 + api as u64 + RESERVED_FILES <= 1_024);
        assert_eq!((edge, api), (698, 69));
        // However small the limit, each listener keeps a slot.
        let (mut edge, mut api) = (10_000, 1_000);
        let mut caps = [("edge", &mut edge), ("api", &mut api)];
        fit_connection_caps(64, &mut caps);
        assert_eq!((edge, api), (1, 1));
    }

    #[test]
    fn the_soft_limit_ends_at_the_hard_one() {
        let raised = raise_open_files_limit();
        let limit = getrlimit(Resource::Nofile);
        assert_eq!(limit.current.unwrap_or(NR_OPEN), raised);
        assert_eq!(limit.current, limit.maximum.or(limit.current));
    }
}
