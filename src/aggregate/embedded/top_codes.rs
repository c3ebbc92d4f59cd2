//! A team's most scanned codes, kept as its scans are counted: the `TOP_CODES_KEPT` codes with
//! the most headline scans, ranked by scans then by id. Exact without looking at the team's other
//! codes, because a code's count only grows: every code left out ranks below the list's last,
//! and a code that comes to rank above it takes its place. Counting a scan of a code that ranks
//! below is one comparison.

use compact_str::CompactString;
use serde::{Deserialize, Serialize};

use crate::aggregate::contract::TOP_CODES_KEPT;

#[derive(Debug, Default, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct TopCodes {
    /// (headline scans, code id), best ranked first.
    codes: Vec<(u64, CompactString)>,
}

impl TopCodes {
    /// `code` now has `scans` headline scans: more than when it was last offered, if it was.
    pub fn offer(&mut self, code: &str, scans: u64) {
        if let Some(i) = self.position(code, scans) {
            self.codes[i].0 = scans;
            self.rise(i);
        } else if self.codes.len() < TOP_CODES_KEPT {
            self.codes.push((scans, code.into()));
            self.rise(self.codes.len() - 1);
        } else if let Some(last) = self.codes.last_mut() {
            if ranks_above((scans, code), (last.0, &last.1)) {
                *last = (scans, code.into());
                self.rise(TOP_CODES_KEPT - 1);
            }
        }
    }

    /// The codes and their scans, best ranked first.
    pub fn ranked(&self) -> impl Iterator<Item = (&str, u64)> {
        self.codes.iter().map(|(scans, id)| (id.as_str(), *scans))
    }

    /// Where `code` is in the list. One with fewer scans than the last has none: those in it
    /// had at least as many when they were put there.
    fn position(&self, code: &str, scans: u64) -> Option<usize> {
        match self.codes.last() {
            Some((least, _)) if scans < *least => None,
            _ => self.codes.iter().position(|(_, id)| id == code),
        }
    }

    /// Moves the code at `i` up past those it now ranks above.
    fn rise(&mut self, mut i: usize) {
        while i > 0 {
            let (above, here) = (&self.codes[i - 1], &self.codes[i]);
            if !ranks_above((here.0, &here.1), (above.0, &above.1)) {
                break;
            }
            self.codes.swap(i - 1, i);
            i -= 1;
        }
    }
}

/// More scans rank higher; of as many, the smaller id.
fn ranks_above(a: (u64, &str), b: (u64, &str)) -> bool {
    a.0 > b.0 || (a.0 == b.0 && a.1 < b.1)
}

#[cfg(test)]
mod tests {
    use super::*;

    /// The list against every code's count sorted, as scans of 60 codes (some far more scanned
    /// than others, many tied) come one at a time.
    #[test]
    fn the_list_is_always_the_best_ranked_of_all_codes() {
        let mut counts = vec![0u64; 60];
        let mut top = TopCodes::default();
        let mut seed = 7u64;
        for _ in 0..5_000 {
            seed = seed.wrapping_mul(6_364_136_223_846_793_005).wrapping_add(1);
            let pick = (seed >> 33) as usize;
            let code = if pick % 3 == 0 { pick % 60 } else { pick % 15 };
            counts[code] += 1;
            top.offer(&format!("qr_{code:02}"), counts[code]);
            let mut all: Vec<(u64, String)> = (0..60)
                .filter(|c| counts[*c] > 0)
                .map(|c| (counts[c], format!("qr_{c:02}")))
                .collect();
            all.sort_by(|a, b| b.0.cmp(&a.0).then(a.1.cmp(&b.1)));
            all.truncate(TOP_CODES_KEPT);
            let kept: Vec<(u64, String)> = top.ranked().map(|(id, n)| (n, id.into())).collect();
            assert_eq!(kept, all);
        }
    }

    #[test]
    fn codes_offered_once_with_their_totals_are_ranked_alike() {
        let mut top = TopCodes::default();
        for (i, scans) in [3, 9, 1, 9, 4, 12, 2, 9, 5, 6, 7, 8, 1]
            .into_iter()
            .enumerate()
        {
            top.offer(&format!("qr_{i:02}"), scans);
        }
        let ranked: Vec<(&str, u64)> = top.ranked().collect();
        assert_eq!(ranked.len(), TOP_CODES_KEPT);
        assert_eq!(
            &ranked[..4],
            [("qr_05", 12), ("qr_01", 9), ("qr_03", 9), ("qr_07", 9)]
        );
        assert_eq!(ranked[TOP_CODES_KEPT - 1], ("qr_00", 3));
    }
}
