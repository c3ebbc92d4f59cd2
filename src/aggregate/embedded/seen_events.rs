//! Which event ids are already stored, so that a replayed scan is counted once. An edge's event
//! ids are a per-process prefix and a counter (`ids::EventIds`), and scans arrive nearly in
//! counter order, so each prefix's ids are kept as ranges: a handful of numbers per edge process,
//! however many scans it made. Ids of any other shape are kept one by one.

use std::collections::{HashMap, HashSet};

use rangemap::RangeInclusiveSet;
use serde::{Deserialize, Serialize};

#[derive(Default, Serialize, Deserialize)]
pub struct SeenEvents {
    counters_by_prefix: HashMap<u64, RangeInclusiveSet<u64>>,
    others: HashSet<String>,
}

impl SeenEvents {
    pub fn contains(&self, event_id: &str) -> bool {
        match split(event_id) {
            Some((prefix, counter)) => self
                .counters_by_prefix
                .get(&prefix)
                .is_some_and(|seen| seen.contains(&counter)),
            None => self.others.contains(event_id),
        }
    }

    pub fn insert(&mut self, event_id: &str) {
        match split(event_id) {
            Some((prefix, counter)) => self
                .counters_by_prefix
                .entry(prefix)
                .or_default()
                .insert(counter..=counter),
            None => {
                self.others.insert(event_id.to_owned());
            }
        }
    }
}

/// An id of `EventIds`' shape (32 hex digits) as its prefix and counter.
fn split(event_id: &str) -> Option<(u64, u64)> {
    if event_id.len() != 32 {
        return None;
    }
    let id = u128::from_str_radix(event_id, 16).ok()?;
    Some(((id >> 64) as u64, id as u64))
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn ids_are_remembered_in_any_order_and_runs_take_one_range() {
        let mut seen = SeenEvents::default();
        let id = |counter: u64| format!("{:032x}", (7u128 << 64) | u128::from(counter));
        for counter in (0..1000).filter(|c| c % 10 != 3) {
            seen.insert(&id(counter));
        }
        assert!(seen.contains(&id(0)) && seen.contains(&id(999)));
        assert!(!seen.contains(&id(503)) && !seen.contains(&id(1000)));
        // The gaps, filled late (a replayed spool), join the runs into one.
        for counter in (3..1000).step_by(10) {
            seen.insert(&id(counter));
        }
        assert!(seen.contains(&id(503)));
        assert_eq!(seen.counters_by_prefix[&7].iter().count(), 1);
        // Another process's counter is another id.
        assert!(!seen.contains(&format!("{:032x}", (8u128 << 64) | 5)));
        seen.insert("not-hex");
        assert!(seen.contains("not-hex") && !seen.contains("other"));
    }
}
