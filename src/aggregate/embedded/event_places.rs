//! Where the events of a code (or of a whole team) are in the log, by scan time: the index a
//! page of detailed events is read by, newest first.

use serde::{Deserialize, Serialize};

use super::event_log::Position;
use crate::aggregate::prefetch::prefetch_last;

/// The scan time and log position of each event, sorted by time (events mostly arrive in that
/// order; a replay is put in its place). Checkpointed as the bare list.
#[derive(Debug, Default, Clone, Serialize, Deserialize)]
#[serde(transparent)]
pub struct EventPlaces(Vec<(i64, Position)>);

impl EventPlaces {
    /// Keeps where the event of `time` is, in time order.
    pub fn note(&mut self, time: i64, at: Position) {
        // Scans mostly arrive in time order: a binary search of a busy code's events misses the
        // cache at every step, and was a visible share of a loaded edge's core.
        if self.0.last().is_none_or(|(last, _)| *last <= time) {
            self.0.push((time, at));
            return;
        }
        let place = self.0.partition_point(|(t, _)| *t <= time);
        self.0.insert(place, (time, at));
    }

    /// Starts loading the place the next event is noted at.
    pub fn prefetch(&self) {
        prefetch_last(&self.0);
    }

    /// A list already sorted by time (and log order within one millisecond).
    pub fn from_sorted(places: Vec<(i64, Position)>) -> Self {
        EventPlaces(places)
    }

    /// An empty list with room for `events`.
    pub fn with_capacity(events: usize) -> Self {
        EventPlaces(Vec::with_capacity(events))
    }

    pub fn len(&self) -> usize {
        self.0.len()
    }

    pub fn is_empty(&self) -> bool {
        self.0.is_empty()
    }

    /// The oldest and the newest event's time and place.
    pub fn first(&self) -> Option<(i64, Position)> {
        self.0.first().copied()
    }

    pub fn last(&self) -> Option<(i64, Position)> {
        self.0.last().copied()
    }

    /// Every event's time and place, oldest first.
    pub fn iter(&self) -> impl Iterator<Item = &(i64, Position)> {
        self.0.iter()
    }

    /// Forgets where the events in the segments `gone` were (removed by retention, or lost).
    pub fn forget_in(&mut self, gone: &impl Fn(u32) -> bool) {
        self.0.retain(|(_, at)| !gone(at.segment));
    }

    /// The times and places of the events with `start <= scanTime <= end`, newest first, older
    /// than `before` (the time and place a page ended at: events of one millisecond are in log
    /// order), at most `limit`.
    pub fn before(
        &self,
        start: i64,
        end: i64,
        before: Option<(i64, Position)>,
        limit: usize,
    ) -> Vec<(i64, Position)> {
        let events = &self.0;
        let from = events.partition_point(|(time, _)| *time < start);
        let mut to = events.partition_point(|(time, _)| *time <= end);
        if let Some(before) = before {
            to = to.min(events.partition_point(|event| *event < before));
        }
        events[from..to.max(from)]
            .iter()
            .rev()
            .take(limit)
            .copied()
            .collect()
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn at(offset: u32) -> Position {
        Position { segment: 1, offset }
    }

    fn offsets(found: Vec<(i64, Position)>) -> Vec<u32> {
        found.iter().map(|(_, p)| p.offset).collect()
    }

    #[test]
    fn events_are_found_by_scan_time_whatever_order_they_came_in() {
        let mut places = EventPlaces::default();
        for (i, time) in [30, 10, 20, 40].into_iter().enumerate() {
            places.note(time, at(i as u32));
        }
        let page = |start, end, before, limit| offsets(places.before(start, end, before, limit));
        assert_eq!(page(10, 30, None, 10), [0, 2, 1]);
        assert_eq!(page(0, 100, None, 2), [3, 0]);
        assert!(page(31, 39, None, 10).is_empty());
        assert!(page(50, 0, None, 10).is_empty());
        // A page starts past the time and place the previous one ended at.
        assert_eq!(page(0, 100, Some((30, at(0))), 10), [2, 1]);
    }

    #[test]
    fn forgotten_segments_take_their_events_out() {
        let mut places = EventPlaces::default();
        places.note(10, at(1));
        places.note(
            20,
            Position {
                segment: 2,
                offset: 0,
            },
        );
        places.forget_in(&|segment| segment == 1);
        assert_eq!(offsets(places.before(0, 100, None, 10)), [0]);
        assert_eq!(places.len(), 1);
    }
}
