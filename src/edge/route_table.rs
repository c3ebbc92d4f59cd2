//! The immutable table the edge answers from: displayId -> everything a response needs,
//! precomputed when the table is built so that a request does one hash lookup.
//!
//! Changes land in a small overlay on top of a shared base, so a write costs a copy of the
//! overlay, not of the whole table; the overlay is folded into a new base once it grows.

use std::sync::Arc;

use hashbrown::HashMap;
use hyper::header::HeaderValue;

use crate::model::{Qr, RouteRecord};
use crate::store::QrChange;

/// Overlay entries beyond which the next change folds the overlay into a new base.
pub const FOLD_THRESHOLD: usize = 512;

/// What the edge needs to answer one code.
#[derive(Debug, Clone)]
pub struct Route {
    pub qr_id: Arc<str>,
    pub team_id: Arc<str>,
    pub display_id: Arc<str>,
    /// The `Location` header value, validated when the code was saved.
    pub location: HeaderValue,
    pub expires_at: Option<i64>,
}

impl Route {
    /// The route of a live redirect code; None for a deleted code or a type the edge cannot serve.
    pub fn for_qr(qr: &Qr) -> Option<Route> {
        Route::from_record(&qr.display_id, &RouteRecord::for_qr(qr)?)
    }

    /// None when the stored target is not a valid header value (the API never stores one).
    pub fn from_record(display_id: &str, record: &RouteRecord) -> Option<Route> {
        Some(Route {
            qr_id: record.qr_id.as_str().into(),
            team_id: record.team_id.as_str().into(),
            display_id: display_id.into(),
            location: HeaderValue::from_str(&record.location).ok()?,
            expires_at: record.expires_at,
        })
    }

    /// The stored form of this route (for the edge's local snapshot).
    pub fn record(&self) -> RouteRecord {
        RouteRecord {
            qr_id: self.qr_id.to_string(),
            team_id: self.team_id.to_string(),
            location: String::from_utf8_lossy(self.location.as_bytes()).into_owned(),
            expires_at: self.expires_at,
        }
    }

    pub fn is_expired(&self, now_ms: i64) -> bool {
        self.expires_at.is_some_and(|at| now_ms >= at)
    }
}

type Routes = HashMap<Box<str>, Route>;

/// One change to the table: the route now at `display_id`, or None to remove it.
#[derive(Debug, Clone)]
pub struct RouteUpdate {
    pub display_id: Box<str>,
    pub route: Option<Route>,
}

impl RouteUpdate {
    /// What a committed change to a code means for the table: its current displayId gets its
    /// current route (None when deleted), and a displayId it no longer has is removed.
    pub fn from_change(change: &QrChange) -> impl Iterator<Item = RouteUpdate> + '_ {
        let qr = &change.qr;
        let released = change
            .previous_display_id
            .as_deref()
            .filter(|old| *old != qr.display_id)
            .map(|old| RouteUpdate {
                display_id: old.into(),
                route: None,
            });
        released.into_iter().chain(std::iter::once(RouteUpdate {
            display_id: qr.display_id.as_str().into(),
            route: Route::for_qr(qr),
        }))
    }
}

#[derive(Debug, Default, Clone)]
pub struct RouteTable {
    base: Arc<Routes>,
    /// Newer than `base`: Some(route) replaces, None removes.
    overlay: HashMap<Box<str>, Option<Route>>,
    generation: u64,
}

impl RouteTable {
    pub fn from_qrs(qrs: impl IntoIterator<Item = Qr>) -> Self {
        Self::from_routes(qrs.into_iter().filter_map(|qr| {
            let route = Route::for_qr(&qr)?;
            Some((qr.display_id.into_boxed_str(), route))
        }))
    }

    pub fn from_routes(routes: impl IntoIterator<Item = (Box<str>, Route)>) -> Self {
        RouteTable {
            base: Arc::new(routes.into_iter().collect()),
            overlay: HashMap::new(),
            generation: 1,
        }
    }

    /// A table rebuilt from scratch replaces this one: keep the generation moving forward.
    pub fn succeeding(mut self, previous: &RouteTable) -> RouteTable {
        self.generation = previous.generation + 1;
        self
    }

    #[inline]
    pub fn lookup(&self, display_id: &str) -> Option<&Route> {
        if !self.overlay.is_empty() {
            if let Some(entry) = self.overlay.get(display_id) {
                return entry.as_ref();
            }
        }
        self.base.get(display_id)
    }

    /// Live routes in the table.
    pub fn len(&self) -> usize {
        let mut len = self.base.len();
        for (key, entry) in &self.overlay {
            match (self.base.contains_key(key), entry.is_some()) {
                (false, true) => len += 1,
                (true, false) => len -= 1,
                _ => {}
            }
        }
        len
    }

    pub fn is_empty(&self) -> bool {
        self.len() == 0
    }

    /// Every live route, in no particular order.
    pub fn routes(&self) -> impl Iterator<Item = (&str, &Route)> {
        let base = self
            .base
            .iter()
            .filter(|(key, _)| !self.overlay.contains_key(*key));
        let overlay = self
            .overlay
            .iter()
            .filter_map(|(key, entry)| Some((key, entry.as_ref()?)));
        base.chain(overlay)
            .map(|(key, route)| (key.as_ref(), route))
    }

    /// Bumped by every change: tells whether a table is newer than another.
    pub fn generation(&self) -> u64 {
        self.generation
    }

    /// A new table with `updates` applied in order, sharing the base with `self` unless the
    /// overlay has grown past [`FOLD_THRESHOLD`].
    pub fn with_updates(&self, updates: impl IntoIterator<Item = RouteUpdate>) -> RouteTable {
        let mut overlay = self.overlay.clone();
        let mut applied = 0;
        for update in updates {
            overlay.insert(update.display_id, update.route);
            applied += 1;
        }
        let mut table = RouteTable {
            base: Arc::clone(&self.base),
            overlay,
            generation: self.generation + applied,
        };
        if table.overlay.len() > FOLD_THRESHOLD {
            table.fold();
        }
        table
    }

    fn fold(&mut self) {
        let mut base = (*self.base).clone();
        for (key, entry) in self.overlay.drain() {
            match entry {
                Some(route) => base.insert(key, route),
                None => base.remove(&key),
            };
        }
        self.base = Arc::new(base);
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn qr(id: &str, display_id: &str, url: &str) -> Qr {
        Qr::web(id, "team_1", display_id, url)
    }

    fn change(qr: Qr, previous: Option<&str>) -> Vec<RouteUpdate> {
        let change = QrChange {
            qr: Arc::new(qr),
            previous_display_id: previous.map(str::to_owned),
        };
        RouteUpdate::from_change(&change).collect()
    }

    #[test]
    fn lookups_see_the_base_and_the_overlay() {
        let table = RouteTable::from_qrs([qr("qr_a", "a", "https://a.example/")]);
        assert_eq!(table.lookup("a").unwrap().location, "https://a.example/");
        assert!(table.lookup("b").is_none());

        let next = table.with_updates(change(qr("qr_b", "b", "https://b.example/"), None));
        assert_eq!(next.lookup("b").unwrap().qr_id.as_ref(), "qr_b");
        assert!(next.lookup("a").is_some());
        assert!(table.lookup("b").is_none(), "the old table is unchanged");
        assert_eq!(next.len(), 2);
        assert!(next.generation() > table.generation());
    }

    #[test]
    fn deleting_and_renaming_remove_the_old_entry() {
        let table = RouteTable::from_qrs([
            qr("qr_a", "a", "https://a.example/"),
            qr("qr_b", "b", "https://b.example/"),
        ]);
        let mut deleted = qr("qr_a", "a", "https://a.example/");
        deleted.deleted = true;
        let renamed = qr("qr_b", "b2", "https://b.example/");
        let next = table.with_updates(
            change(deleted, None)
                .into_iter()
                .chain(change(renamed, Some("b"))),
        );
        assert!(next.lookup("a").is_none());
        assert!(next.lookup("b").is_none());
        assert_eq!(next.lookup("b2").unwrap().qr_id.as_ref(), "qr_b");
        assert_eq!(next.len(), 1);
        let listed: Vec<&str> = next.routes().map(|(id, _)| id).collect();
        assert_eq!(listed, ["b2"]);
    }

    #[test]
    fn a_large_overlay_is_folded_into_the_base() {
        let mut table = RouteTable::from_qrs([]);
        for i in 0..(FOLD_THRESHOLD + 10) {
            let c = change(
                qr(&format!("qr_{i}"), &format!("d{i}"), "https://x.example/"),
                None,
            );
            table = table.with_updates(c);
        }
        assert!(table.overlay.len() <= FOLD_THRESHOLD);
        assert_eq!(table.len(), FOLD_THRESHOLD + 10);
        assert!(table.lookup("d0").is_some());
        assert!(table.lookup(&format!("d{}", FOLD_THRESHOLD + 9)).is_some());
    }

    #[test]
    fn expiry_is_inclusive_of_the_expiry_instant() {
        let mut q = qr("qr_a", "a", "https://a.example/");
        q.expiry_date = Some(1_000);
        let route = Route::for_qr(&q).unwrap();
        assert!(!route.is_expired(999));
        assert!(route.is_expired(1_000));
    }
}
