//! Unique visitors, counted the way Redis's HyperLogLog counts them (`PFADD`/`PFCOUNT`, Redis 5 and
//! later): the same hash (MurmurHash64A), the same 16384 registers and the same estimator, so the
//! embedded store answers what the Redis rollups answer for the same visitors, to the visitor.
//! About 0.81% standard error; exact in practice for small counts.
//!
//! Registers are kept sparse (a sorted list of the ones that are set) until that would take more
//! than a dense array: a code scanned by a few visitors a day costs a few bytes a day.

use serde::{Deserialize, Serialize};

use super::prefetch::{prefetch, prefetch_slice};

const P: u32 = 14;
const REGISTERS: usize = 1 << P;
/// Hash bits left for the run of zeros after the register index.
const Q: usize = 64 - P as usize;
const SEED: u64 = 0xadc8_3b19;
const ALPHA_INF: f64 = 0.721_347_520_444_481_7;
/// Past this many set registers the dense array is smaller than the sparse list.
const SPARSE_MAX: usize = REGISTERS / 4;

#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub enum VisitorSketch {
    /// (register, value), sorted by register, values > 0.
    Sparse(Vec<(u16, u8)>),
    Dense(Box<[u8]>),
}

impl Default for VisitorSketch {
    fn default() -> Self {
        VisitorSketch::Sparse(Vec::new())
    }
}

impl VisitorSketch {
    /// Adds a visitor (the bytes Redis would be given to `PFADD`).
    pub fn add(&mut self, visitor: &[u8]) {
        let (register, value) = register_and_value(visitor);
        self.raise(register, value);
    }

    /// Starts loading what `add(visitor)` reads: the sorted list (its first lines), or the
    /// visitor's register.
    pub fn prefetch(&self, visitor: &[u8]) {
        match self {
            VisitorSketch::Sparse(set) => prefetch_slice(set),
            VisitorSketch::Dense(registers) => {
                let (register, _) = register_and_value(visitor);
                prefetch(&registers[usize::from(register)]);
            }
        }
    }

    /// Sets `register` to `value` when that is higher (adding an element and merging sketches
    /// both come down to this).
    fn raise(&mut self, register: u16, value: u8) {
        match self {
            VisitorSketch::Dense(registers) => {
                let r = &mut registers[usize::from(register)];
                *r = (*r).max(value);
            }
            VisitorSketch::Sparse(set) => {
                match set.binary_search_by_key(&register, |(r, _)| *r) {
                    Ok(i) => set[i].1 = set[i].1.max(value),
                    Err(i) => set.insert(i, (register, value)),
                }
                if set.len() > SPARSE_MAX {
                    *self = VisitorSketch::Dense(self.registers().into_boxed_slice());
                }
            }
        }
    }

    /// Every register, set or not.
    fn registers(&self) -> Vec<u8> {
        match self {
            VisitorSketch::Dense(registers) => registers.to_vec(),
            VisitorSketch::Sparse(set) => {
                let mut registers = vec![0; REGISTERS];
                for &(r, v) in set {
                    registers[usize::from(r)] = v;
                }
                registers
            }
        }
    }

    /// Adds every visitor of `other` (a union, as `PFCOUNT` of several keys counts).
    pub fn merge(&mut self, other: &VisitorSketch) {
        match other {
            VisitorSketch::Sparse(set) => set.iter().for_each(|&(r, v)| self.raise(r, v)),
            VisitorSketch::Dense(registers) => {
                for (r, &v) in registers.iter().enumerate().filter(|(_, v)| **v > 0) {
                    self.raise(r as u16, v);
                }
            }
        }
    }

    /// The estimated number of distinct visitors, as `PFCOUNT` reports it.
    pub fn count(&self) -> u64 {
        let mut histogram = [0u32; Q + 2];
        match self {
            VisitorSketch::Dense(registers) => {
                registers
                    .iter()
                    .for_each(|&v| histogram[usize::from(v)] += 1);
            }
            VisitorSketch::Sparse(set) => {
                histogram[0] = (REGISTERS - set.len()) as u32;
                set.iter()
                    .for_each(|&(_, v)| histogram[usize::from(v)] += 1);
            }
        }
        estimate(&histogram)
    }
}

/// Which register a visitor sets, and to what: Redis's `hllPatLen`.
fn register_and_value(visitor: &[u8]) -> (u16, u8) {
    let hash = murmur_hash_64a(visitor, SEED);
    let register = (hash & (REGISTERS as u64 - 1)) as u16;
    let rest = (hash >> P) | (1 << Q);
    (register, rest.trailing_zeros() as u8 + 1)
}

/// Ertl's estimator over the register histogram ("New cardinality estimation algorithms for
/// HyperLogLog sketches", arXiv:1702.01284), as Redis's `hllCount` computes it.
fn estimate(histogram: &[u32; Q + 2]) -> u64 {
    let m = REGISTERS as f64;
    let mut z = m * tau((m - f64::from(histogram[Q + 1])) / m);
    for &n in histogram[1..=Q].iter().rev() {
        z += f64::from(n);
        z *= 0.5;
    }
    z += m * sigma(f64::from(histogram[0]) / m);
    (ALPHA_INF * m * m / z).round() as u64
}

fn sigma(mut x: f64) -> f64 {
    if x == 1.0 {
        return f64::INFINITY;
    }
    let (mut y, mut z) = (1.0, x);
    loop {
        x *= x;
        let before = z;
        z += x * y;
        y += y;
        if z == before {
            return z;
        }
    }
}

fn tau(mut x: f64) -> f64 {
    if x == 0.0 || x == 1.0 {
        return 0.0;
    }
    let (mut y, mut z) = (1.0, 1.0 - x);
    loop {
        x = x.sqrt();
        let before = z;
        y *= 0.5;
        z -= (1.0 - x).powi(2) * y;
        if z == before {
            return z / 3.0;
        }
    }
}

/// Austin Appleby's MurmurHash64A, the hash Redis's HyperLogLog uses.
fn murmur_hash_64a(key: &[u8], seed: u64) -> u64 {
    const M: u64 = 0xc6a4_a793_5bd1_e995;
    const R: u32 = 47;
    let mut h = seed ^ (key.len() as u64).wrapping_mul(M);
    let mut blocks = key.chunks_exact(8);
    for block in &mut blocks {
        let mut k = u64::from_le_bytes(block.try_into().expect("8 bytes"));
        k = k.wrapping_mul(M);
        k ^= k >> R;
        k = k.wrapping_mul(M);
        h ^= k;
        h = h.wrapping_mul(M);
    }
    let tail = blocks.remainder();
    if !tail.is_empty() {
        for (i, &byte) in tail.iter().enumerate() {
            h ^= u64::from(byte) << (8 * i);
        }
        h = h.wrapping_mul(M);
    }
    h ^= h >> R;
    h = h.wrapping_mul(M);
    h ^= h >> R;
    h
}

#[cfg(test)]
mod tests {
    use super::*;

    fn sketch_of(visitors: impl IntoIterator<Item = String>) -> VisitorSketch {
        let mut sketch = VisitorSketch::default();
        visitors.into_iter().for_each(|v| sketch.add(v.as_bytes()));
        sketch
    }

    #[test]
    fn small_counts_are_exact_and_repeats_count_once() {
        assert_eq!(VisitorSketch::default().count(), 0);
        let sketch = sketch_of((0..50).chain(0..50).map(|i| format!("visitor-{i}")));
        assert_eq!(sketch.count(), 50);
    }

    #[test]
    fn large_counts_are_within_the_standard_error_and_dense_agrees_with_sparse() {
        let sketch = sketch_of((0..100_000).map(|i| format!("v{i}")));
        assert!(matches!(sketch, VisitorSketch::Dense(_)));
        let count = sketch.count() as f64;
        assert!((count - 100_000.0).abs() < 100_000.0 * 0.03, "{count}");
        let sparse = sketch_of((0..3000).map(|i| format!("v{i}")));
        let dense = VisitorSketch::Dense(sparse.registers().into_boxed_slice());
        assert!(matches!(sparse, VisitorSketch::Sparse(_)));
        assert_eq!(sparse.count(), dense.count());
    }

    #[test]
    fn a_merge_counts_the_union() {
        let mut a = sketch_of((0..300).map(|i| format!("v{i}")));
        let b = sketch_of((200..500).map(|i| format!("v{i}")));
        a.merge(&b);
        assert_eq!(a, sketch_of((0..500).map(|i| format!("v{i}"))));
    }
}
