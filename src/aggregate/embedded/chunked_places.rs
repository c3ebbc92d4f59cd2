//! A team's event places: the same list as a code's (`EventPlaces`), kept in chunks of at most
//! `CHUNK` events, so that a team with millions of events never copies them all to grow (a
//! copy of tens of megabytes under the analytics' write lock, and as many fresh pages). It is
//! checkpointed as the bare list.

use serde::ser::SerializeSeq;
use serde::{Deserialize, Deserializer, Serialize, Serializer};

use super::event_log::Position;
use super::event_places::EventPlaces;

/// Events a chunk is begun with room for; a late event put in its place may grow one past it.
const CHUNK: usize = 4096;

/// Sorted by scan time within and across chunks: every event of a chunk is at or after every
/// event of the chunks before it. No chunk is empty.
#[derive(Debug, Default, Clone)]
pub struct ChunkedPlaces {
    chunks: Vec<EventPlaces>,
}

impl ChunkedPlaces {
    /// Keeps where the event of `time` is, in time order: at the end, or (a late event) in the
    /// chunk that holds its time.
    pub fn note(&mut self, time: i64, at: Position) {
        // Scans mostly arrive in time order: they go in the last chunk without a search of the
        // chunks (a cache miss at each step, as for a code's list).
        let late = self
            .chunks
            .last()
            .is_some_and(|chunk| chunk.last().is_some_and(|(last, _)| last > time));
        if late {
            let later = self
                .chunks
                .partition_point(|chunk| chunk.last().is_some_and(|(last, _)| last <= time));
            self.chunks[later].note(time, at);
            return;
        }
        match self.chunks.last_mut() {
            Some(chunk) if chunk.len() < CHUNK => chunk.note(time, at),
            _ => {
                let mut chunk = EventPlaces::with_capacity(CHUNK);
                chunk.note(time, at);
                self.chunks.push(chunk);
            }
        }
    }

    /// The places of a list sorted by time, chunked.
    pub fn of_sorted(places: Vec<(i64, Position)>) -> Self {
        let chunks = places
            .chunks(CHUNK)
            .map(|chunk| EventPlaces::from_sorted(chunk.to_vec()));
        ChunkedPlaces {
            chunks: chunks.collect(),
        }
    }

    /// Forgets where the events in the segments `gone` were (removed by retention, or lost).
    pub fn forget_in(&mut self, gone: &impl Fn(u32) -> bool) {
        for chunk in &mut self.chunks {
            chunk.forget_in(gone);
        }
        self.chunks.retain(|chunk| !chunk.is_empty());
    }

    /// As `EventPlaces::before`: the events with `start <= scanTime <= end`, newest first, older
    /// than `before`, at most `limit`.
    pub fn before(
        &self,
        start: i64,
        end: i64,
        before: Option<(i64, Position)>,
        limit: usize,
    ) -> Vec<(i64, Position)> {
        // The chunks that begin at or before the page's newest possible event.
        let mut upto = self
            .chunks
            .partition_point(|chunk| chunk.first().is_some_and(|(first, _)| first <= end));
        if let Some(before) = before {
            upto = upto.min(
                self.chunks
                    .partition_point(|chunk| chunk.first().is_some_and(|first| first < before)),
            );
        }
        let mut page = Vec::new();
        for chunk in self.chunks[..upto].iter().rev() {
            if page.len() == limit || chunk.last().is_some_and(|(last, _)| last < start) {
                break;
            }
            page.extend(chunk.before(start, end, before, limit - page.len()));
        }
        page
    }

    fn len(&self) -> usize {
        self.chunks.iter().map(EventPlaces::len).sum()
    }
}

impl Serialize for ChunkedPlaces {
    fn serialize<S: Serializer>(&self, serializer: S) -> Result<S::Ok, S::Error> {
        let mut list = serializer.serialize_seq(Some(self.len()))?;
        for chunk in &self.chunks {
            for place in chunk.iter() {
                list.serialize_element(place)?;
            }
        }
        list.end()
    }
}

impl<'de> Deserialize<'de> for ChunkedPlaces {
    fn deserialize<D: Deserializer<'de>>(deserializer: D) -> Result<Self, D::Error> {
        Vec::deserialize(deserializer).map(ChunkedPlaces::of_sorted)
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn at(offset: u32) -> Position {
        Position { segment: 1, offset }
    }

    /// The same events as one plain list and chunked, in the order `times` come.
    fn both(times: &[i64]) -> (EventPlaces, ChunkedPlaces) {
        let (mut plain, mut chunked) = (EventPlaces::default(), ChunkedPlaces::default());
        for (i, &time) in times.iter().enumerate() {
            plain.note(time, at(i as u32));
            chunked.note(time, at(i as u32));
        }
        (plain, chunked)
    }

    #[test]
    fn chunked_places_page_as_one_plain_list_across_chunk_ends() {
        // Three chunks and more in time order (many events to a millisecond), late events put in
        // the first and the last chunk, and one at a chunk's end time.
        let mut times: Vec<i64> = (0..3 * CHUNK as i64 + 100).map(|i| i / 3).collect();
        times.extend([5, 2 * CHUNK as i64 / 3, -1, CHUNK as i64 / 3 - 1]);
        let (plain, chunked) = both(&times);
        assert!(chunked.chunks.len() >= 4, "{}", chunked.chunks.len());
        let last = times.len() as i64;
        // Ranges across chunk ends; the first chunk's last millisecond begins the fourth.
        let ranges = [
            (i64::MIN, i64::MAX),
            (0, 10),
            (CHUNK as i64 / 3 - 2, CHUNK as i64),
            (CHUNK as i64 / 3, CHUNK as i64),
            (last, last + 5),
        ];
        for (start, end) in ranges {
            for limit in [1, 7, CHUNK + 3, usize::MAX] {
                let mut before = None;
                loop {
                    let expected = plain.before(start, end, before, limit);
                    assert_eq!(
                        chunked.before(start, end, before, limit),
                        expected,
                        "{start}..{end} {limit} {before:?}"
                    );
                    match expected.last() {
                        Some(last) if expected.len() == limit => before = Some(*last),
                        _ => break,
                    }
                }
            }
        }
    }

    #[test]
    fn chunked_places_are_written_as_the_bare_list_and_read_back() {
        let times: Vec<i64> = (0..CHUNK as i64 + 10)
            .rev()
            .step_by(2)
            .chain(0..CHUNK as i64)
            .collect();
        let (plain, chunked) = both(&times);
        let bytes = postcard::to_stdvec(&chunked).unwrap();
        assert_eq!(bytes, postcard::to_stdvec(&plain).unwrap());
        let read: ChunkedPlaces = postcard::from_bytes(&bytes).unwrap();
        let everything = |c: &ChunkedPlaces| c.before(i64::MIN, i64::MAX, None, usize::MAX);
        assert_eq!(everything(&read), everything(&chunked));
        let mut forgetting = read;
        forgetting.forget_in(&|segment| segment == 1);
        assert!(forgetting.chunks.is_empty());
    }
}
