//! The places a database version has already decoded, by the offset of their record.
//!
//! A City database's many networks point to far fewer records (every address of one city and
//! provider shares one), and decoding a record, a map of names in eight languages and more, cost
//! more than finding it. So each record is decoded once, and its names are then shared by every
//! scan located there.

use std::collections::HashMap;
use std::sync::Mutex;

use super::Location;

/// Records kept decoded. Past this the cache starts again: memory stays bounded whatever the
/// traffic, and the common places come back at once.
const CAPACITY: usize = 100_000;

#[derive(Default)]
pub(super) struct Places {
    /// Only the enricher's one thread uses it at a time: the lock is uncontended.
    by_offset: Mutex<HashMap<usize, Location, hashbrown::DefaultHashBuilder>>,
}

impl Places {
    /// The place of the record at `offset`, decoded by `decode` the first time.
    pub(super) fn get_or_decode(
        &self,
        offset: usize,
        decode: impl FnOnce() -> Option<Location>,
    ) -> Option<Location> {
        if let Some(place) = self.lock().get(&offset) {
            return Some(place.clone());
        }
        let place = decode()?;
        let mut by_offset = self.lock();
        if by_offset.len() >= CAPACITY {
            by_offset.clear();
        }
        by_offset.insert(offset, place.clone());
        Some(place)
    }

    fn lock(
        &self,
    ) -> std::sync::MutexGuard<'_, HashMap<usize, Location, hashbrown::DefaultHashBuilder>> {
        self.by_offset.lock().unwrap_or_else(|e| e.into_inner())
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn berlin() -> Option<Location> {
        Some(Location {
            country: "DE".into(),
            city: "Berlin".into(),
        })
    }

    #[test]
    fn a_record_is_decoded_once_and_a_record_without_a_place_is_not_kept() {
        let places = Places::default();
        assert_eq!(places.get_or_decode(7, berlin), berlin());
        let again = places.get_or_decode(7, || panic!("decoded twice"));
        assert_eq!(again, berlin());
        assert_eq!(places.get_or_decode(9, || None), None);
        assert_eq!(places.get_or_decode(9, berlin), berlin());
    }
}
