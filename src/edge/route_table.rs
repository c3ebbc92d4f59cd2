//! The immutable table the edge answers from: displayId -> everything a response needs,
//! precomputed when the table is built so that a request does one hash lookup.
//!
//! Changes land in a small overlay on top of a shared base, so a write costs a copy of the
//! overlay, not of the whole table; the overlay is folded into a new base once it grows.

use std::sync::Arc;

use hashbrown::HashMap;
use hyper::header::HeaderValue;

use crate::model::Qr;
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
        if qr.deleted || !qr.qr_type.is_redirect() {
            return None;
        }
        let location = HeaderValue::from_str(qr.qr_redirect_url.as_deref()?).ok()?;
        Some(Route {
            qr_id: qr.id.as_str().into(),
            team_id: qr.team_id.as_str().into(),
            display_id: qr.display_id.as_str().into(),
            location,
            expires_at: qr.expiry_date,
        })
    }

    pub fn is_expired(&self, now_ms: i64) -> bool {
        self.expires_at.is_some_and(|at| now_ms >= at)
    }
}

type Routes = HashMap<Box<str>, Route>;

#[derive(Debug, Default, Clone)]
pub struct RouteTable {
    base: Arc<Routes>,
    /// Newer than `base`: Some(route) replaces, None removes.
    overlay: HashMap<Box<str>, Option<Route>>,
    generation: u64,
}

impl RouteTable {
    pub fn from_qrs(qrs: impl IntoIterator<Item = Qr>) -> Self {
        let mut base = Routes::new();
        for qr in qrs {
            if let Some(route) = Route::for_qr(&qr) {
                base.insert(qr.display_id.into_boxed_str(), route);
            }
        }
        RouteTable {
            base: Arc::new(base),
            overlay: HashMap::new(),
            generation: 1,
        }
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

    /// Bumped by every change: tells whether a table is newer than another.
    pub fn generation(&self) -> u64 {
        self.generation
    }

    /// A new table with `changes` applied, sharing the base with `self` unless the overlay has
    /// grown past [`FOLD_THRESHOLD`].
    pub fn with_changes(&self, changes: &[QrChange]) -> RouteTable {
        let mut overlay = self.overlay.clone();
        for change in changes {
            let qr = &change.qr;
            if let Some(old) = &change.previous_display_id {
                if *old != qr.display_id {
                    overlay.insert(old.as_str().into(), None);
                }
            }
            overlay.insert(qr.display_id.as_str().into(), Route::for_qr(qr));
        }
        let mut table = RouteTable {
            base: Arc::clone(&self.base),
            overlay,
            generation: self.generation + changes.len() as u64,
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
    use crate::model::QrType;

    fn qr(id: &str, display_id: &str, url: &str) -> Qr {
        Qr {
            id: id.into(),
            display_id: display_id.into(),
            name: "n".into(),
            qr_type: QrType::Web,
            team_id: "team_1".into(),
            org_id: "org_1".into(),
            qr_redirect_url: Some(url.into()),
            metadata: Default::default(),
            settings: Default::default(),
            tags: vec![],
            folder_id: None,
            folder_ids: vec![],
            batch_id: None,
            template_id: None,
            base_url: None,
            deleted: false,
            expiry_date: None,
            created_at: 0,
            created_by: "m".into(),
            updated_at: 0,
            updated_by: "m".into(),
        }
    }

    fn change(qr: Qr, previous: Option<&str>) -> QrChange {
        QrChange {
            qr: Arc::new(qr),
            previous_display_id: previous.map(str::to_owned),
        }
    }

    #[test]
    fn lookups_see_the_base_and_the_overlay() {
        let table = RouteTable::from_qrs([qr("qr_a", "a", "https://a.example/")]);
        assert_eq!(table.lookup("a").unwrap().location, "https://a.example/");
        assert!(table.lookup("b").is_none());

        let next = table.with_changes(&[change(qr("qr_b", "b", "https://b.example/"), None)]);
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
        let next = table.with_changes(&[change(deleted, None), change(renamed, Some("b"))]);
        assert!(next.lookup("a").is_none());
        assert!(next.lookup("b").is_none());
        assert_eq!(next.lookup("b2").unwrap().qr_id.as_ref(), "qr_b");
        assert_eq!(next.len(), 1);
    }

    #[test]
    fn a_large_overlay_is_folded_into_the_base() {
        let mut table = RouteTable::from_qrs([]);
        for i in 0..(FOLD_THRESHOLD + 10) {
            let c = change(
                qr(&format!("qr_{i}"), &format!("d{i}"), "https://x.example/"),
                None,
            );
            table = table.with_changes(&[c]);
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
