//! The immutable table the edge answers from: route key (`displayId`, or `domain/displayId` on
//! a custom domain) -> everything a response needs, precomputed when the table is built so that
//! a request does one hash lookup; and the custom domains.
//!
//! The routes are sharded packed bases with small overlays of newer changes (see
//! `route_shards`): a write costs a copy of one shard's overlay, not of the whole table.

use std::borrow::Cow;
use std::sync::Arc;

use super::domains::{Domain, DomainTable};
use super::request_target::{normalised_host, RequestTarget, KEY_CAPACITY};
use super::route::Route;
use super::route_shards::{RouteShards, RouteShardsBuilder};
use crate::model::Qr;

/// One change to the table: the route now at `key`, or None to remove it.
#[derive(Debug, Clone)]
pub struct RouteUpdate {
    pub key: Box<str>,
    pub route: Option<Route>,
}

#[derive(Debug, Default, Clone)]
pub struct RouteTable {
    routes: RouteShards,
    domains: Arc<DomainTable>,
    generation: u64,
}

impl RouteTable {
    /// The table of `qrs` with no custom domains and no team colours (tests, benchmarks).
    pub fn from_qrs(qrs: impl IntoIterator<Item = Qr>) -> Self {
        let qrs: Vec<Qr> = qrs.into_iter().collect();
        let mut builder = RouteShardsBuilder::with_capacity(qrs.len());
        for qr in qrs {
            if let Some(route) = Route::for_qr(&qr, None) {
                builder.push(&qr.route_key(), route);
            }
        }
        Self::from_shards(builder.finish())
    }

    pub fn from_shards(routes: RouteShards) -> Self {
        RouteTable {
            routes,
            domains: Arc::default(),
            generation: 1,
        }
    }

    /// This table with `domains` as its custom domains.
    pub fn with_domains(&self, domains: DomainTable) -> RouteTable {
        RouteTable {
            routes: self.routes.clone(),
            domains: Arc::new(domains),
            generation: self.generation + 1,
        }
    }

    pub fn domains(&self) -> &DomainTable {
        &self.domains
    }

    /// A table rebuilt from scratch replaces this one: keep the generation moving forward.
    pub fn succeeding(mut self, previous: &RouteTable) -> RouteTable {
        self.generation = previous.generation + 1;
        self
    }

    /// The route at `key` (reference counts, no allocation).
    #[inline]
    pub fn lookup(&self, key: &str) -> Option<Cow<'_, Route>> {
        self.routes.lookup(key)
    }

    /// The custom domain a request's host is (None: the platform's own), and the route its
    /// path names in that domain's code space. No allocation: the key is built on the stack.
    #[inline]
    pub fn resolve(
        &self,
        target: &RequestTarget,
    ) -> (Option<&Arc<Domain>>, Option<Cow<'_, Route>>) {
        let host = normalised_host(target.host);
        let domain = self.domains.get(&host);
        let route = match domain {
            None => self.lookup(target.display_id),
            Some(domain) => {
                let mut buffer = [0u8; KEY_CAPACITY];
                target
                    .route_key(Some(&domain.name), &mut buffer)
                    .and_then(|key| self.lookup(key))
            }
        };
        (domain, route)
    }

    /// Live routes in the table.
    pub fn len(&self) -> usize {
        self.routes.len()
    }

    pub fn is_empty(&self) -> bool {
        self.len() == 0
    }

    /// Every live route, in no particular order.
    pub fn routes(&self) -> impl Iterator<Item = (&str, Cow<'_, Route>)> {
        self.routes.routes()
    }

    /// The live routes that are more than a plain redirect (rules, limits, pages...): a walk of
    /// those alone, not of every code.
    pub fn whole_routes(&self) -> impl Iterator<Item = (&str, &Route)> {
        self.routes.whole_routes()
    }

    /// Bumped by every change: tells whether a table is newer than another.
    pub fn generation(&self) -> u64 {
        self.generation
    }

    /// A new table with `updates` applied in order, sharing with `self` every shard they do not
    /// touch.
    pub fn with_updates(&self, updates: impl IntoIterator<Item = RouteUpdate>) -> RouteTable {
        let updates: Vec<(Box<str>, Option<Route>)> = updates
            .into_iter()
            .map(|update| (update.key, update.route))
            .collect();
        RouteTable {
            generation: self.generation + updates.len() as u64,
            routes: self.routes.with_updates(updates),
            domains: Arc::clone(&self.domains),
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::edge::route_shards::FOLD_THRESHOLD;

    fn qr(id: &str, display_id: &str, url: &str) -> Qr {
        Qr::web(id, "team_1", display_id, url)
    }

    /// What a change of `qr` (whose key was `previous`) does to the table.
    fn change(qr: Qr, previous: Option<&str>) -> Vec<RouteUpdate> {
        let key = qr.route_key();
        let released = previous.filter(|old| *old != key).map(|old| RouteUpdate {
            key: old.into(),
            route: None,
        });
        let route = Route::for_qr(&qr, None);
        released
            .into_iter()
            .chain([RouteUpdate {
                key: key.into(),
                route,
            }])
            .collect()
    }

    #[test]
    fn lookups_see_the_base_and_the_overlay() {
        let table = RouteTable::from_qrs([qr("qr_a", "a", "https://a.example/")]);
        assert!(matches!(&table.lookup("a").unwrap().answer,
            crate::edge::route::Answer::Redirect(l) if l == "https://a.example/"));
        assert!(table.lookup("b").is_none());

        let next = table.with_updates(change(qr("qr_b", "b", "https://b.example/"), None));
        assert_eq!(next.lookup("b").unwrap().qr_id, "qr_b");
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
        assert_eq!(next.lookup("b2").unwrap().qr_id, "qr_b");
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
        assert!(table.routes.overlay_len() <= FOLD_THRESHOLD);
        assert_eq!(table.len(), FOLD_THRESHOLD + 10);
        assert!(table.lookup("d0").is_some());
        assert!(table.lookup(&format!("d{}", FOLD_THRESHOLD + 9)).is_some());
    }

    #[test]
    fn expiry_is_inclusive_of_the_expiry_instant() {
        let mut q = qr("qr_a", "a", "https://a.example/");
        q.expiry_date = Some(1_000);
        let route = Route::for_qr(&q, None).unwrap();
        assert!(!route.is_expired(999));
        assert!(route.is_expired(1_000));
    }
}
