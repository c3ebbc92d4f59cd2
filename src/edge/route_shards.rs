//! The routes of the edge's table, split by the hash of their key into shards, each a packed
//! base (see `packed_routes`) with a small overlay of newer changes on top.
//!
//! Why shards: a change lands in its shard's overlay, and an overlay that grows past
//! [`FOLD_THRESHOLD`] is folded into a new base for that shard alone. Folding one packed table of
//! every route instead cost, with 10M codes, ~16 s of CPU every 512 changes (changes waiting
//! meanwhile) and a second copy of the whole table while it was built (peak RSS 0.97 -> 1.84 GB).
//! A shard holds at most [`SHARD_ROUTES`] routes when built, so a fold copies that many and
//! briefly holds that much twice.
//!
//! One hasher serves every shard: a lookup hashes its key once, picks the shard from bits of the
//! hash the shard's own index does not use, and finds the key in that shard with the same hash.

use std::borrow::Cow;
use std::hash::BuildHasher;
use std::sync::Arc;

use hashbrown::{DefaultHashBuilder, HashMap};

use super::packed_routes::{PackedRoutes, PackedRoutesBuilder};
use super::route::Route;
use crate::model::RouteRecord;

/// Overlay entries in one shard beyond which the next change folds that shard's overlay into
/// a new base for it.
#[cfg(not(test))]
pub const FOLD_THRESHOLD: usize = 512;
/// Small in the tests, so that they fold and split shards.
#[cfg(test)]
pub const FOLD_THRESHOLD: usize = 8;

/// At most this many routes a shard holds when built (at least half as many, but in a table of
/// fewer): what a fold copies, ~40 000 routes at 10M codes (256 shards), tens of milliseconds.
/// Shards cost no memory of their own: the ~2 MB each that 256 shards once cost was the
/// allocator's transparent huge pages (see `mimalloc` in Cargo.toml), now not used.
#[cfg(not(test))]
pub const SHARD_ROUTES: usize = 1 << 16;
#[cfg(test)]
pub const SHARD_ROUTES: usize = 64;

/// At most this many shards (so each shard's base is big enough to be worth its own index).
const MAX_SHARDS: usize = 1 << 12;

/// The shard is chosen by the hash's bits from here up: the packed index uses the low bits for
/// its buckets and the top seven as tags, so these are unrelated to a key's place in its shard.
const SHARD_SHIFT: u32 = 32;

/// Newer than a shard's base: Some(route) replaces, None removes.
type Overlay = HashMap<Box<str>, Option<Route>>;

#[derive(Debug, Default, Clone)]
struct Shard {
    base: Arc<PackedRoutes>,
    overlay: Arc<Overlay>,
}

#[derive(Debug, Clone)]
pub struct RouteShards {
    /// A power of two of them.
    shards: Vec<Shard>,
    hasher: DefaultHashBuilder,
}

impl Default for RouteShards {
    fn default() -> Self {
        RouteShardsBuilder::with_capacity(0).finish()
    }
}

/// How many shards `routes` routes get: a power of two.
fn shard_count(routes: usize) -> usize {
    (routes / SHARD_ROUTES)
        .next_power_of_two()
        .clamp(1, MAX_SHARDS)
}

fn shard_of(hash: u64, shards: usize) -> usize {
    (hash >> SHARD_SHIFT) as usize & (shards - 1)
}

impl RouteShards {
    fn hash(&self, key: &str) -> u64 {
        self.hasher.hash_one(key.as_bytes())
    }

    fn shard(&self, key: &str) -> (u64, &Shard) {
        let hash = self.hash(key);
        (hash, &self.shards[shard_of(hash, self.shards.len())])
    }

    /// The route at `key`: borrowed from its shard's overlay, or made from the packed base
    /// (reference counts, no allocation).
    #[inline]
    pub fn lookup(&self, key: &str) -> Option<Cow<'_, Route>> {
        let (hash, shard) = self.shard(key);
        if !shard.overlay.is_empty() {
            if let Some(entry) = shard.overlay.get(key) {
                return entry.as_ref().map(Cow::Borrowed);
            }
        }
        shard.base.get_hashed(hash, key).map(Cow::Owned)
    }

    /// Live routes.
    pub fn len(&self) -> usize {
        self.shards.iter().map(Shard::len).sum()
    }

    pub fn is_empty(&self) -> bool {
        self.len() == 0
    }

    /// Every live route, in no particular order.
    pub fn routes(&self) -> impl Iterator<Item = (&str, Cow<'_, Route>)> {
        self.shards.iter().flat_map(Shard::routes)
    }

    /// The live routes that are more than a plain redirect (rules, limits, pages...).
    pub fn whole_routes(&self) -> impl Iterator<Item = (&str, &Route)> {
        self.shards.iter().flat_map(Shard::whole_routes)
    }

    /// Entries waiting in overlays, over every shard (tests, metrics).
    pub fn overlay_len(&self) -> usize {
        self.shards.iter().map(|shard| shard.overlay.len()).sum()
    }

    /// These routes with `updates` applied in order; shards no update touches are shared with
    /// `self`. If an overlay has grown past [`FOLD_THRESHOLD`], the fullest is folded: one fold
    /// a call, so that a change waits for one shard's fold at most and only one shard is held
    /// twice at a time (changes spread evenly bring every shard to its threshold together).
    pub fn with_updates(
        &self,
        updates: impl IntoIterator<Item = (Box<str>, Option<Route>)>,
    ) -> Self {
        let mut next = self.clone();
        for (key, route) in updates {
            let n = shard_of(next.hash(&key), next.shards.len());
            Arc::make_mut(&mut next.shards[n].overlay).insert(key, route);
        }
        let fullest = (0..next.shards.len()).max_by_key(|n| next.shards[*n].overlay.len());
        if let Some(n) = fullest.filter(|n| next.shards[*n].overlay.len() > FOLD_THRESHOLD) {
            if next.shards[n].base.len() > 4 * SHARD_ROUTES && next.shards.len() < MAX_SHARDS {
                // Grown by creates far past its size: split every shard once.
                return next.rebuilt();
            }
            next.fold(n);
        }
        next
    }

    /// Shard `n` with its overlay folded into a new base.
    fn fold(&mut self, n: usize) {
        let shard = &self.shards[n];
        let mut builder = PackedRoutesBuilder::with_hasher(
            self.hasher.clone(),
            shard.base.len() + shard.overlay.len(),
        );
        for (key, route) in shard.routes() {
            builder.push(key, route.into_owned());
        }
        self.shards[n] = Shard {
            base: Arc::new(builder.finish()),
            overlay: Arc::default(),
        };
    }

    /// Every route afresh, in as many shards as their number now calls for.
    fn rebuilt(&self) -> Self {
        let mut builder = RouteShardsBuilder::with_capacity(self.len());
        for (key, route) in self.routes() {
            builder.push(key, route.into_owned());
        }
        builder.finish()
    }
}

impl Shard {
    fn len(&self) -> usize {
        let mut len = self.base.len();
        for (key, entry) in self.overlay.iter() {
            match (self.base.contains_key(key), entry.is_some()) {
                (false, true) => len += 1,
                (true, false) => len -= 1,
                _ => {}
            }
        }
        len
    }

    fn routes(&self) -> impl Iterator<Item = (&str, Cow<'_, Route>)> {
        let base = self
            .base
            .iter()
            .filter(|(key, _)| !self.overlay.contains_key(*key))
            .map(|(key, route)| (key, Cow::Owned(route)));
        let overlay = self
            .overlay
            .iter()
            .filter_map(|(key, entry)| Some((key.as_ref(), Cow::Borrowed(entry.as_ref()?))));
        base.chain(overlay)
    }

    fn whole_routes(&self) -> impl Iterator<Item = (&str, &Route)> {
        let base = self
            .base
            .whole_routes()
            .filter(|(key, _)| !self.overlay.contains_key(*key));
        let overlay = self
            .overlay
            .iter()
            .filter_map(|(key, entry)| Some((key.as_ref(), entry.as_ref()?)))
            .filter(|(_, route)| route.plain_location().is_none());
        base.chain(overlay)
    }
}

/// Packs routes into their shards one by one (the table never exists twice in memory).
pub struct RouteShardsBuilder {
    shards: Vec<PackedRoutesBuilder>,
    hasher: DefaultHashBuilder,
}

impl RouteShardsBuilder {
    /// A builder for about `routes` routes, sharded for that many.
    pub fn with_capacity(routes: usize) -> Self {
        let count = shard_count(routes);
        let hasher = DefaultHashBuilder::default();
        // Keys spread over the shards unevenly by a few hundred at most: a sixteenth more
        // spares most shards a doubling of their index while the table is built.
        let each = routes / count + routes / count / 16;
        let shards = (0..count)
            .map(|_| PackedRoutesBuilder::with_hasher(hasher.clone(), each))
            .collect();
        Self { shards, hasher }
    }

    fn shard(&mut self, key: &str) -> &mut PackedRoutesBuilder {
        let hash = self.hasher.hash_one(key.as_bytes());
        let count = self.shards.len();
        &mut self.shards[shard_of(hash, count)]
    }

    /// See [`PackedRoutesBuilder::push_plain_record`].
    pub fn push_plain_record(&mut self, key: &str, record: &RouteRecord) -> bool {
        self.shard(key).push_plain_record(key, record)
    }

    /// A later route under a key replaces an earlier one.
    pub fn push(&mut self, key: &str, route: Route) {
        self.shard(key).push(key, route);
    }

    pub fn finish(self) -> RouteShards {
        let shards = self
            .shards
            .into_iter()
            .map(|builder| Shard {
                base: Arc::new(builder.finish()),
                overlay: Arc::default(),
            })
            .collect();
        RouteShards {
            shards,
            hasher: self.hasher,
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::model::Qr;
    use std::collections::HashMap as Model;

    fn route(n: usize, version: usize) -> Route {
        let qr = Qr::web(
            &format!("qr_{n}"),
            "team_1",
            &format!("k{n}"),
            &format!("https://x.example/{version}"),
        );
        Route::for_qr(&qr, None).unwrap()
    }

    fn location(route: &Route) -> String {
        String::from_utf8(route.plain_location().unwrap().as_bytes().to_vec()).unwrap()
    }

    fn built(routes: usize) -> RouteShards {
        let mut builder = RouteShardsBuilder::with_capacity(routes);
        for n in 0..routes {
            builder.push(&format!("k{n}"), route(n, 0));
        }
        builder.finish()
    }

    fn assert_holds(table: &RouteShards, model: &Model<String, String>, keys: usize) {
        assert_eq!(table.len(), model.len());
        for n in 0..keys {
            let key = format!("k{n}");
            let found = table.lookup(&key).map(|r| location(&r));
            assert_eq!(found.as_ref(), model.get(&key), "{key}");
        }
        let mut listed: Vec<String> = table.routes().map(|(k, _)| k.to_owned()).collect();
        listed.sort();
        let mut expected: Vec<String> = model.keys().cloned().collect();
        expected.sort();
        assert_eq!(listed, expected);
    }

    #[test]
    fn every_change_reads_back_as_a_map_holds_it_through_folds_and_splits() {
        let mut table = built(300);
        assert_eq!(table.shards.len(), 4, "300 routes at up to 64 a shard");
        let mut model: Model<String, String> = (0..300)
            .map(|n| (format!("k{n}"), "https://x.example/0".to_owned()))
            .collect();
        // A walk over 3000 keys: creates (the table grows past a split), updates and deletes.
        let mut seed = 7u64;
        for step in 1..6000 {
            seed = seed
                .wrapping_mul(6364136223846793005)
                .wrapping_add(1442695040888963407);
            let n = (seed >> 33) as usize % 3000;
            let key = format!("k{n}");
            let change = if (seed >> 20) % 5 == 0 {
                None
            } else {
                Some(route(n, step))
            };
            match &change {
                Some(r) => model.insert(key.clone(), location(r)),
                None => model.remove(&key),
            };
            table = table.with_updates([(key.into_boxed_str(), change)]);
        }
        assert!(table.shards.len() > 4, "the growth split the shards");
        assert!(table.overlay_len() <= table.shards.len() * FOLD_THRESHOLD);
        assert_holds(&table, &model, 3000);
    }

    #[test]
    fn a_fold_rebuilds_its_own_shard_and_shares_the_others() {
        let table = built(1000);
        let before = table.clone();
        let mut next = table;
        for version in 0..=FOLD_THRESHOLD {
            // One key changed over and over: its overlay entry is replaced, never grows.
            next = next.with_updates([("k5".into(), Some(route(5, version + 1)))]);
        }
        let hash = next.hash("k5");
        let home = shard_of(hash, next.shards.len());
        let shared = (0..next.shards.len())
            .filter(|n| Arc::ptr_eq(&next.shards[*n].base, &before.shards[*n].base))
            .count();
        assert_eq!(
            shared,
            next.shards.len(),
            "one key never grows an overlay past one entry"
        );
        assert_eq!(next.shards[home].overlay.len(), 1);

        // New keys of that shard: with k5's entry, the overlay passes the threshold at the
        // FOLD_THRESHOLD-th and folds; the other shards keep their bases.
        let mut keys = (1000..200_000).map(|n| format!("k{n}"));
        let mut folding = next.clone();
        let mut added = 0;
        while Arc::ptr_eq(&folding.shards[home].base, &next.shards[home].base) {
            let key = keys.next().unwrap();
            if shard_of(folding.hash(&key), folding.shards.len()) == home {
                folding = folding.with_updates([(key.into_boxed_str(), Some(route(1, 1)))]);
                added += 1;
            }
        }
        assert_eq!(added, FOLD_THRESHOLD);
        for n in 0..folding.shards.len() {
            let same = Arc::ptr_eq(&folding.shards[n].base, &next.shards[n].base);
            assert_eq!(same, n != home, "shard {n}");
        }
        assert!(folding.shards[home].overlay.is_empty());
        assert_eq!(folding.len(), 1000 + added);
        assert_eq!(
            location(&folding.lookup("k5").unwrap()),
            format!("https://x.example/{}", FOLD_THRESHOLD + 1)
        );
    }
}
