//! A rollup's all-time breakdowns: headline scans per value of each dimension (country, city,
//! device, browser, OS, referrer host), in one table for all six. Counting a scan touches a
//! code's table six times, and the codes a loaded edge counts are mostly cold in the CPU's cache:
//! one table is one allocation to miss instead of six. Values are interned (`Ustr`), so a lookup
//! hashes and compares pointers, never string bytes.
//!
//! Saved as six maps, value -> scans, in `Dimension::ALL`'s order: the checkpoint's layout from
//! before the table was one.

use std::collections::HashMap;
use std::fmt;

use compact_str::CompactString;
use hashbrown::HashTable;
use serde::de::{DeserializeSeed, Deserializer, MapAccess, SeqAccess, Visitor};
use serde::ser::{SerializeMap, SerializeTuple, Serializer};
use serde::{Deserialize, Serialize};
use ustr::Ustr;

use crate::aggregate::rollup::Dimension;

const DIMENSIONS: usize = Dimension::ALL.len();

#[derive(Debug, Default, Clone)]
pub struct Breakdowns {
    table: HashTable<Count>,
}

#[derive(Debug, Clone, Copy)]
struct Count {
    /// The dimension's index in `Dimension::ALL`.
    dimension: u8,
    value: Ustr,
    scans: u64,
}

/// A value's precomputed hash, told apart per dimension (one value, e.g. "", is in several).
fn hash(dimension: u8, value: Ustr) -> u64 {
    value.precomputed_hash() ^ u64::from(dimension).wrapping_mul(0x9e37_79b9_7f4a_7c15)
}

impl Count {
    fn hash(&self) -> u64 {
        hash(self.dimension, self.value)
    }
}

impl Breakdowns {
    /// Adds `scans` to `value` of the dimension at `dimension` in `Dimension::ALL`.
    pub fn add(&mut self, dimension: usize, value: Ustr, scans: u64) {
        let dimension = dimension as u8;
        let found = self.table.entry(
            hash(dimension, value),
            |c| c.dimension == dimension && c.value == value,
            Count::hash,
        );
        let count = found.or_insert(Count {
            dimension,
            value,
            scans: 0,
        });
        count.into_mut().scans += scans;
    }

    /// Adds each value's scans, dimension by dimension (in `Dimension::ALL`'s order).
    pub fn add_all(&mut self, values: &[Ustr; DIMENSIONS]) {
        for (dimension, value) in values.iter().enumerate() {
            self.add(dimension, *value, 1);
        }
    }

    /// Adds `other`'s counts into these.
    pub fn merge(&mut self, other: &Breakdowns) {
        for count in &other.table {
            self.add(count.dimension.into(), count.value, count.scans);
        }
    }

    /// The values of the dimension at `dimension` in `Dimension::ALL`, and their scans.
    pub fn of(&self, dimension: usize) -> impl Iterator<Item = (Ustr, u64)> + '_ {
        self.table
            .iter()
            .filter(move |c| usize::from(c.dimension) == dimension)
            .map(|c| (c.value, c.scans))
    }
}

/// Past this many, the values interned so far are forgotten: cities and referrer hosts have no
/// bound, and most scans' values are among a few hundred (countries, devices, browsers).
const CACHED_VALUES: usize = 1 << 16;

/// The values interned so far, found without the process-wide interner's lock and its table's
/// cold slots (both a visible share of a loaded edge's core).
#[derive(Default)]
pub struct Interner {
    cached: HashMap<CompactString, Ustr, hashbrown::DefaultHashBuilder>,
}

impl Interner {
    /// The process-wide interned `value`, looked up here first.
    pub fn intern(&mut self, value: &str) -> Ustr {
        if let Some(interned) = self.cached.get(value) {
            return *interned;
        }
        if self.cached.len() >= CACHED_VALUES {
            self.cached.clear();
        }
        let interned = Ustr::from(value);
        self.cached.insert(value.into(), interned);
        interned
    }
}

impl Serialize for Breakdowns {
    fn serialize<S: Serializer>(&self, serializer: S) -> Result<S::Ok, S::Error> {
        let mut lengths = [0usize; DIMENSIONS];
        for count in &self.table {
            lengths[usize::from(count.dimension)] += 1;
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
    fn the_cache_gives_the_process_wide_values_and_stays_bounded() {
        let mut interner = Interner::default();
        assert_eq!(interner.intern("Firefox"), Ustr::from("Firefox"));
        for i in 0..=CACHED_VALUES {
            interner.intern(&format!("host-{i}.example"));
        }
        assert!(interner.cached.len() <= CACHED_VALUES);
        assert_eq!(interner.intern("Firefox").as_str(), "Firefox");
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
