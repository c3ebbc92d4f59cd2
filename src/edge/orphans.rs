//! Scans of unknown codes on a team's custom domain are kept as the team's orphan scans, and
//! anyone can make them: a budget per domain bounds what they write. Of each second's orphan
//! scans on a domain the first `edge.orphans_per_second` are recorded in full, then one in
//! `edge.orphans_sample_one_in`; the others are only counted
//! (`qredge_edge_orphan_scans_total{outcome="unrecorded"}`).
//!
//! The budget is a field of the domain's entry in the route table, so its memory is bounded by
//! the custom domains teams configured, not by what clients send; a change to any team's
//! domains builds new entries and so starts every budget afresh. One atomic word per domain:
//! no lock, and nothing at all on a scan of a known code.

use std::sync::atomic::{AtomicU64, Ordering};

/// The configured rate (`edge.orphans_per_second`, `edge.orphans_sample_one_in`).
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct OrphanLimits {
    /// Orphan scans per domain and second recorded in full.
    pub per_second: u32,
    /// Beyond those, one in this many is recorded; 0: none.
    pub sample_one_in: u32,
}

/// What becomes of one orphan scan.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Orphan {
    Recorded,
    Sampled,
    Unrecorded,
}

/// One domain's count of orphan scans in the current second: the second in the high 32 bits,
/// the count in the low 32.
#[derive(Debug, Default)]
pub struct OrphanBudget {
    second_and_count: AtomicU64,
}

impl OrphanBudget {
    /// Counts one orphan scan at `now_ms` and says whether to record it.
    pub fn admit(&self, now_ms: i64, limits: OrphanLimits) -> Orphan {
        let n = self.count_in(now_ms.div_euclid(1000) as u32);
        let beyond = n.saturating_sub(limits.per_second);
        if beyond == 0 {
            Orphan::Recorded
        } else if limits.sample_one_in > 0 && beyond % limits.sample_one_in == 0 {
            Orphan::Sampled
        } else {
            Orphan::Unrecorded
        }
    }

    /// One more scan in `second`; returns the scans of that second so far, this one included.
    fn count_in(&self, second: u32) -> u32 {
        let mut current = self.second_and_count.load(Ordering::Relaxed);
        loop {
            let (seen, count) = ((current >> 32) as u32, current as u32);
            let count = if seen == second {
                count.saturating_add(1)
            } else {
                1
            };
            let next = (u64::from(second) << 32) | u64::from(count);
            match self.second_and_count.compare_exchange_weak(
                current,
                next,
                Ordering::Relaxed,
                Ordering::Relaxed,
            ) {
                Ok(_) => return count,
                Err(actual) => current = actual,
            }
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    const LIMITS: OrphanLimits = OrphanLimits {
        per_second: 3,
        sample_one_in: 4,
    };

    #[test]
    fn a_second_records_its_rate_then_samples() {
        let budget = OrphanBudget::default();
        let outcomes: Vec<Orphan> = (0..12).map(|_| budget.admit(5_000, LIMITS)).collect();
        use Orphan::*;
        assert_eq!(
            outcomes,
            [
                Recorded, Recorded, Recorded, Unrecorded, Unrecorded, Unrecorded, Sampled,
                Unrecorded, Unrecorded, Unrecorded, Sampled, Unrecorded
            ]
        );
        // The next second starts afresh.
        assert_eq!(budget.admit(6_000, LIMITS), Recorded);
    }

    #[test]
    fn without_sampling_nothing_beyond_the_rate_is_recorded() {
        let budget = OrphanBudget::default();
        let limits = OrphanLimits {
            per_second: 1,
            sample_one_in: 0,
        };
        assert_eq!(budget.admit(0, limits), Orphan::Recorded);
        assert!((0..100).all(|_| budget.admit(999, limits) == Orphan::Unrecorded));
    }

    #[test]
    fn concurrent_scans_are_each_counted_once() {
        let budget = std::sync::Arc::new(OrphanBudget::default());
        let limits = OrphanLimits {
            per_second: 1_000,
            sample_one_in: 0,
        };
        let threads: Vec<_> = (0..4)
            .map(|_| {
                let budget = std::sync::Arc::clone(&budget);
                std::thread::spawn(move || {
                    (0..500)
                        .filter(|_| budget.admit(42_000, limits) == Orphan::Recorded)
                        .count()
                })
            })
            .collect();
        let recorded: usize = threads.into_iter().map(|t| t.join().unwrap()).sum();
        assert_eq!(recorded, 1_000);
    }
}
