//! A rollup's all-time breakdowns: headline scans per value of each dimension (country, city,
//! device, browser, OS, referrer host), in one table for all six. Counting a scan touches a
//! code's table six times, and the codes a loaded edge counts are mostly cold in the CPU's cache:
//! one table is one allocation to miss instead of six, and the aggregator asks for the six slots a
//! scan will touch a few scans ahead (`prefetch`), which needs their addresses: an open-addressing
//! table of its own rather than a map that keeps them private. Values are interned (`Ustr`), so a
//! lookup hashes and compares pointers, never string bytes.
//!
//! Saved as six maps, value -> scans, in `Dimension::ALL`'s order: the checkpoint's layout from
//! before the table was one.

use std::collections::HashMap;
use std::fmt;

use compact_str::CompactString;
use serde::de::{DeserializeSeed, Deserializer, MapAccess, SeqAccess, Visitor};
use serde::ser::{SerializeMap, SerializeTuple, Serializer};
use serde::{Deserialize, Serialize};
use ustr::Ustr;

use crate::aggregate::prefetch::prefetch;
use crate::aggregate::rollup::Dimension;

const DIMENSIONS: usize = Dimension::ALL.len();

/// The fewest slots of a table that holds anything.
const MIN_SLOTS: usize = 8;

/// Linear probing, at most three quarters full (a value is found within a line or two).
#[derive(Debug, Default, Clone)]
pub struct Breakdowns {
    /// Empty, or a power of two long.
    slots: Vec<Count>,
    used: usize,
}

/// 16 bytes, four to a cache line: the dimension is kept in the top byte of the scans.
#[derive(Debug, Default, Clone, Copy)]
struct Count {
    value: Ustr,
    /// The dimension's index in `Dimension::ALL` (top byte) and the scans (the rest: 2^56 of one
    /// value is more than any code or team will see).
    dimension_and_scans: u64,
}

const SCANS: u64 = (1 << 56) - 1;

impl Count {
    fn new(dimension: u8, value: Ustr) -> Self {
        Count {
            value,
            dimension_and_scans: u64::from(dimension) << 56,
        }
    }

    fn dimension(&self) -> u8 {
        (self.dimension_and_scans >> 56) as u8
    }

    fn scans(&self) -> u64 {
        self.dimension_and_scans & SCANS
    }

    /// A slot with no scans is free.
    fn is_free(&self) -> bool {
        self.scans() == 0
    }
}

/// Where a value's probe starts in a table of `len` slots (a power of two): the high bits of a
/// multiplicative hash of the value's precomputed hash, told apart per dimension (one value,
/// e.g. "", is in several).
fn home(dimension: u8, value: Ustr, len: usize) -> usize {
    let hash = value.precomputed_hash() ^ u64::from(dimension);
    (hash.wrapping_mul(0x9e37_79b9_7f4a_7c15) >> (64 - len.trailing_zeros())) as usize
}

impl Breakdowns {
    /// Adds `scans` to `value` of the dimension at `dimension` in `Dimension::ALL`.
    pub fn add(&mut self, dimension: usize, value: Ustr, scans: u64) {
        if scans == 0 {
            return;
        }
        if 4 * (self.used + 1) > 3 * self.slots.len() {
            self.grow();
        }
        let dimension = dimension as u8;
        let slot = self.find(dimension, value);
        let count = &mut self.slots[slot];
        if count.is_free() {
            *count = Count::new(dimension, value);
            self.used += 1;
        }
        count.dimension_and_scans += scans.min(SCANS - count.scans());
    }

    /// Adds each value's scans, dimension by dimension (in `Dimension::ALL`'s order).
    pub fn add_all(&mut self, values: &[Ustr; DIMENSIONS]) {
        for (dimension, value) in values.iter().enumerate() {
            self.add(dimension, *value, 1);
        }
    }

    /// Starts loading the slots that `add_all(values)` starts its probes at.
    pub fn prefetch(&self, values: &[Ustr; DIMENSIONS]) {
        if self.slots.is_empty() {
            return;
        }
        for (dimension, value) in values.iter().enumerate() {
            prefetch(&self.slots[home(dimension as u8, *value, self.slots.len())]);
        }
    }

    /// The slot that holds `value` of `dimension`, or the free one it goes in (there is one: the
    /// table is never full).
    fn find(&self, dimension: u8, value: Ustr) -> usize {
        let mask = self.slots.len() - 1;
        let mut slot = home(dimension, value, self.slots.len());
        loop {
            let count = &self.slots[slot];
            if count.is_free() || (count.dimension() == dimension && count.value == value) {
                return slot;
            }
            slot = (slot + 1) & mask;
        }
    }

    /// Twice the slots (or the first ones), every count moved to its place in them.
    fn grow(&mut self) {
        let len = (2 * self.slots.len()).max(MIN_SLOTS);
        let empty = Breakdowns {
            slots: vec![Count::default(); len],
            used: 0,
        };
        let old = std::mem::replace(self, empty);
        self.merge(&old);
    }

    /// The counts held (the slots that are not free).
    fn counts(&self) -> impl Iterator<Item = &Count> {
        self.slots.iter().filter(|c| !c.is_free())
    }

    /// Adds `other`'s counts into these.
    pub fn merge(&mut self, other: &Breakdowns) {
        for count in other.counts() {
            self.add(count.dimension().into(), count.value, count.scans());
        }
    }

    /// The values of the dimension at `dimension` in `Dimension::ALL`, and their scans.
    pub fn of(&self, dimension: usize) -> impl Iterator<Item = (Ustr, u64)> + '_ {
        self.counts()
            .filter(move |c| usize::from(c.dimension()) == dimension)
            .map(|c| (c.value, c.scans()))
    }
}

/// Past this many, the values interned so far are forgotten: cities and referrer hosts have no
/// bound, and most scans' values are among a few hundred (countries, devices, browsers).
const CACHED_VALUES: usize = 1 << 16;

type Cached = HashMap<CompactString, Ustr, hashbrown::DefaultHashBuilder>;

/// The values interned so far, found without the process-wide interner's lock and its table's
/// cold slots (both a visible share of a loaded edge's core).
#[derive(Default)]
pub struct Interner {
    cached: Cached,
    /// Each dimension's value in the scan before: scans in a row mostly share their device,
    /// browser and OS (a comparison instead of a hash and a lookup).
    last: [Ustr; DIMENSIONS],
}

impl Interner {
    /// The process-wide interned `value` of the dimension at `dimension` in `Dimension::ALL`.
    pub fn intern_in(&mut self, dimension: usize, value: &str) -> Ustr {
        let last = &mut self.last[dimension];
        if last.as_str() != value {
            *last = Self::intern(&mut self.cached, value);
        }
        *last
    }

    /// The process-wide interned `value`, looked up in `cached` first.
    fn intern(cached: &mut Cached, value: &str) -> Ustr {
        if let Some(interned) = cached.get(value) {
            return *interned;
        }
        if cached.len() >= CACHED_VALUES {
            cached.clear();
        }
        let interned = Ustr::from(value);
        cached.insert(value.into(), interned);
        interned
    }
}

impl Serialize for Breakdowns {
    fn serialize<S: Serializer>(&self, serializer: S) -> Result<S::Ok, S::Error> {
        let mut lengths = [0usize; DIMENSIONS];
        for count in self.counts() {
            lengths[usize::from(count.dimension())] += 1;
        }
        let mut maps = serializer.serialize_tuple(DIMENSIONS)?;
        for (dimension, length) in lengths.into_iter().enumerate() {
            maps.serialize_element(&Map(self, dimension, length))?;
        }
        maps.end()
    }
}

/// One dimension's values as a map, value -> scans.
struct Map<'a>(&'a Breakdowns, usize, usize);

impl Serialize for Map<'_> {
    fn serialize<S: Serializer>(&self, serializer: S) -> Result<S::Ok, S::Error> {
        let Map(breakdowns, dimension, length) = *self;
        let mut map = serializer.serialize_map(Some(length))?;
        for (value, scans) in breakdowns.of(dimension) {
            map.serialize_entry(&value, &scans)?;
        }
        map.end()
    }
}

impl<'de> Deserialize<'de> for Breakdowns {
    fn deserialize<D: Deserializer<'de>>(deserializer: D) -> Result<Self, D::Error> {
        deserializer.deserialize_tuple(DIMENSIONS, SixMaps)
    }
}

struct SixMaps;

impl<'de> Visitor<'de> for SixMaps {
    type Value = Breakdowns;

    fn expecting(&self, f: &mut fmt::Formatter) -> fmt::Result {
        write!(f, "{DIMENSIONS} maps of value to scans")
    }

    fn visit_seq<A: SeqAccess<'de>>(self, mut maps: A) -> Result<Breakdowns, A::Error> {
        let mut breakdowns = Breakdowns::default();
        for dimension in 0..DIMENSIONS {
            let into = SavedMap {
                into: &mut breakdowns,
                dimension,
            };
            maps.next_element_seed(into)?
                .ok_or_else(|| serde::de::Error::invalid_length(dimension, &self))?;
        }
        Ok(breakdowns)
    }
}

/// One dimension's saved map, each value added to the table as it is read (no map of its own
/// in between).
struct SavedMap<'a> {
    into: &'a mut Breakdowns,
    dimension: usize,
}

impl<'de> DeserializeSeed<'de> for SavedMap<'_> {
    type Value = ();

    fn deserialize<D: Deserializer<'de>>(self, deserializer: D) -> Result<(), D::Error> {
        deserializer.deserialize_map(self)
    }
}

impl<'de> Visitor<'de> for SavedMap<'_> {
    type Value = ();

    fn expecting(&self, f: &mut fmt::Formatter) -> fmt::Result {
        f.write_str("a map of value to scans")
    }

    fn visit_map<A: MapAccess<'de>>(self, mut map: A) -> Result<(), A::Error> {
        while let Some((value, scans)) = map.next_entry::<Ustr, u64>()? {
            self.into.add(self.dimension, value, scans);
        }
        Ok(())
    }
}

#[cfg(test)]
mod tests {
    use std::collections::HashMap;

    use super::*;

    #[test]
    fn one_value_in_two_dimensions_is_counted_apart() {
        let mut b = Breakdowns::default();
        let values = ["DE", "Berlin", "mobile", "Safari", "iOS", ""].map(Ustr::from);
        b.add_all(&values);
        b.add_all(&values);
        b.add(1, Ustr::from("DE"), 1);
        let mut other = Breakdowns::default();
        other.add(0, Ustr::from("DE"), 5);
        b.merge(&other);
        let of = |d| {
            let mut v: Vec<(String, u64)> = b.of(d).map(|(s, n)| (s.to_string(), n)).collect();
            v.sort();
            v
        };
        assert_eq!(of(0), vec![("DE".into(), 7)]);
        assert_eq!(of(1), vec![("Berlin".into(), 2), ("DE".into(), 1)]);
        assert_eq!(of(5), vec![("".into(), 2)]);
    }

    #[test]
    fn thousands_of_values_are_each_counted_as_the_table_grows() {
        let mut b = Breakdowns::default();
        for i in 0..3000u64 {
            for dimension in [1, 5] {
                b.add(dimension, Ustr::from(&format!("v{i}")), i + 1);
            }
        }
        b.add(1, Ustr::from("v7"), 10);
        b.add(1, Ustr::from("v8"), 0);
        let cities: HashMap<String, u64> = b.of(1).map(|(v, n)| (v.to_string(), n)).collect();
        assert_eq!(cities.len(), 3000);
        for i in 0..3000u64 {
            let added = if i == 7 { 10 } else { 0 };
            assert_eq!(cities[&format!("v{i}")], i + 1 + added, "v{i}");
        }
        assert_eq!((b.of(5).count(), b.of(0).count()), (3000, 0));
        let read: Breakdowns = postcard::from_bytes(&postcard::to_stdvec(&b).unwrap()).unwrap();
        let read_cities: HashMap<String, u64> =
            read.of(1).map(|(v, n)| (v.to_string(), n)).collect();
        assert_eq!(read_cities, cities);
    }

    #[test]
    fn a_count_stops_at_its_most_and_keeps_its_dimension() {
        let mut b = Breakdowns::default();
        b.add(5, Ustr::from("x"), SCANS - 1);
        b.add(5, Ustr::from("x"), 7);
        assert_eq!(b.of(5).collect::<Vec<_>>(), vec![(Ustr::from("x"), SCANS)]);
        assert_eq!(b.of(0).count(), 0);
    }

    #[test]
    fn the_cache_gives_the_process_wide_values_and_stays_bounded() {
        let mut interner = Interner::default();
        assert_eq!(interner.intern_in(3, "Firefox"), Ustr::from("Firefox"));
        for i in 0..=CACHED_VALUES {
            interner.intern_in(5, &format!("host-{i}.example"));
        }
        assert!(interner.cached.len() <= CACHED_VALUES);
        assert_eq!(interner.intern_in(3, "Firefox").as_str(), "Firefox");
        // A dimension's last value is its own: the same text in another is that text too.
        assert_eq!(interner.intern_in(2, "").as_str(), "");
        assert_eq!(interner.intern_in(2, "mobile").as_str(), "mobile");
        assert_eq!(interner.intern_in(4, "Firefox").as_str(), "Firefox");
        assert_eq!(interner.intern_in(3, "Chrome").as_str(), "Chrome");
        assert_eq!(interner.intern_in(3, "Safari").as_str(), "Safari");
    }

    #[test]
    fn saved_as_six_maps_as_before() {
        let mut b = Breakdowns::default();
        b.add(0, Ustr::from("FR"), 3);
        b.add(3, Ustr::from("Chrome"), 2);
        let mut before: [HashMap<String, u64>; DIMENSIONS] = Default::default();
        before[0].insert("FR".into(), 3);
        before[3].insert("Chrome".into(), 2);
        let bytes = postcard::to_stdvec(&b).unwrap();
        assert_eq!(bytes, postcard::to_stdvec(&before).unwrap());
        let read: Breakdowns = postcard::from_bytes(&bytes).unwrap();
        let chrome: Vec<_> = read.of(3).collect();
        assert_eq!(chrome, vec![(Ustr::from("Chrome"), 2)]);
        assert_eq!(read.of(1).count(), 0);
    }
}
