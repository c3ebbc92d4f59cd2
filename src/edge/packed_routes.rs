//! The bulk of the route table, packed: every plain redirect (a WEB code with no rules, expiry
//! fallbacks, limits or password) as a 16-byte entry whose strings (route key, code id,
//! redirect target) sit in a shared text buffer, found through an index of 4-byte entry
//! numbers. A lookup hands out the route with its strings as slices of that buffer: reference
//! counts, no copy and no allocation. Codes that need more stay whole [`Route`]s beside it.
//!
//! Why: a `HashMap<Box<str>, Route>` cost ~480 bytes and four allocations per code, so 10M codes
//! needed ~5 GB; packed they need ~85 bytes each (their strings, ~60, and 25 of entry and index).

use bytes::Bytes;
use bytestring::ByteString;
use hashbrown::hash_table::Entry;
use hashbrown::{DefaultHashBuilder, HashTable};
use hyper::header::HeaderValue;
use hyper::StatusCode;
use std::hash::BuildHasher;

use super::route::{shared_team_id, Answer, Route};
use crate::model::redirect::Behaviour;
use crate::model::{display_id_of, QrType, RouteRecord};

/// What `HeaderValue::from_str` accepts, checked without making one.
fn is_header_value(text: &str) -> bool {
    text.bytes().all(|b| (b >= 0x20 && b != 0x7f) || b == b'\t')
}

/// The text is kept in chunks of 64 MiB, each allocated at its full size (but the first, for
/// small tables): it grows without being copied (a doubling buffer would hold the old and the
/// new one at once, twice the text, while it moves) and without reserving for a guessed size.
/// A packed entry's start has 40 bits: 2^14 chunks, 1 TiB of text.
#[cfg(not(test))]
const CHUNK_BITS: u32 = 26;
/// Small in the tests, so that they cross chunks.
#[cfg(test)]
const CHUNK_BITS: u32 = 8;
const CHUNK: usize = 1 << CHUNK_BITS;
/// The first chunk's capacity at least: it grows to `CHUNK` as a `Vec` does.
const FIRST_CHUNK: usize = if CHUNK < 1 << 16 { CHUNK } else { 1 << 16 };
/// Text a route is expected to take at most (key, code id and target are ~60 bytes for most):
/// the first chunk is reserved for this much of the routes a builder is sized for, so that it
/// rarely grows (each doubling copies it and leaves the old block to the allocator). Reserved
/// and never written, it costs no resident memory.
const TEXT_PER_ROUTE: usize = 256;

/// A packed route's expiry follows its redirect target as 16 hex digits.
const EXPIRY_DIGITS: usize = 16;

/// In `Packed::status`, beside the status code (which takes 10 bits).
const FORWARD_QUERY: u16 = 1 << 15;
const EXPIRES: u16 = 1 << 14;
const STATUS_BITS: u16 = 0x3ff;

/// Where a packed route's strings are in the text: its key, its code id and its redirect target
/// (and expiry, if any), one after the other in one chunk; and its team, status and flags.
/// 16 bytes: with 10M codes every byte here is 10 MB.
#[derive(Debug, Clone, Copy)]
struct Packed {
    /// Bits 0..32 of where the strings start in the text (`start_high` holds bits 32..40): the
    /// chunk is `start >> CHUNK_BITS`.
    start_low: u32,
    /// Index into the team ids.
    team: u32,
    location_len: u16,
    key_len: u16,
    qr_id_len: u8,
    start_high: u8,
    /// The status code, with the `FORWARD_QUERY` and `EXPIRES` flags.
    status: u16,
}

impl Packed {
    fn start(&self) -> u64 {
        (u64::from(self.start_high) << 32) | u64::from(self.start_low)
    }

    /// The chunk and the offset in it where the strings start.
    fn place(&self) -> (usize, usize) {
        let start = self.start();
        (
            (start >> CHUNK_BITS) as usize,
            (start as usize) & (CHUNK - 1),
        )
    }

    fn has(&self, flag: u16) -> bool {
        self.status & flag != 0
    }
}

/// Whether a route fits a packed entry: its strings the entry's lengths, and all of its text
/// one chunk.
fn fits(key: &str, qr_id: &str, location: &str) -> bool {
    key.len() <= usize::from(u16::MAX)
        && qr_id.len() <= usize::from(u8::MAX)
        && location.len() <= usize::from(u16::MAX)
        && key.len() + qr_id.len() + location.len() + EXPIRY_DIGITS <= CHUNK
}

/// One entry of the index: a packed route's number, or a whole one's with the top bit set
/// (4 bytes where an enum would take 8).
#[derive(Debug, Clone, Copy)]
struct Slot(u32);

const WHOLE: u32 = 1 << 31;

impl Slot {
    fn packed(n: usize) -> Slot {
        Slot(n as u32)
    }

    fn whole(n: usize) -> Slot {
        Slot(n as u32 | WHOLE)
    }

    fn target(self) -> Target {
        if self.0 & WHOLE == 0 {
            Target::Packed(self.0 as usize)
        } else {
            Target::Whole((self.0 & !WHOLE) as usize)
        }
    }
}

enum Target {
    Packed(usize),
    Whole(usize),
}

/// The key of the route in `slot`, as bytes (what the index hashes and compares).
fn key_of<'a, T: AsRef<[u8]>>(
    slot: Slot,
    chunks: &'a [T],
    packed: &[Packed],
    whole: &'a [(Box<str>, Route)],
) -> &'a [u8] {
    match slot.target() {
        Target::Packed(i) => {
            let p = &packed[i];
            let (chunk, at) = p.place();
            &chunks[chunk].as_ref()[at..at + usize::from(p.key_len)]
        }
        Target::Whole(i) => whole[i].0.as_bytes(),
    }
}

#[derive(Default)]
pub struct PackedRoutes {
    chunks: Vec<ByteString>,
    packed: Vec<Packed>,
    whole: Vec<(Box<str>, Route)>,
    teams: Vec<ByteString>,
    index: HashTable<Slot>,
    hasher: DefaultHashBuilder,
}

impl std::fmt::Debug for PackedRoutes {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("PackedRoutes")
            .field("routes", &self.index.len())
            .finish()
    }
}

impl PackedRoutes {
    pub fn len(&self) -> usize {
        self.index.len()
    }

    pub fn is_empty(&self) -> bool {
        self.index.is_empty()
    }

    #[inline]
    pub fn get(&self, key: &str) -> Option<Route> {
        self.get_hashed(self.hasher.hash_one(key.as_bytes()), key)
    }

    /// The route at `key`, whose hash by this table's hasher is `hash` (already computed by the
    /// caller, which shares the hasher: see `route_shards`).
    #[inline]
    pub fn get_hashed(&self, hash: u64, key: &str) -> Option<Route> {
        let slot = self.find(hash, key)?;
        Some(self.route_of(slot))
    }

    pub fn contains_key(&self, key: &str) -> bool {
        self.find(self.hasher.hash_one(key.as_bytes()), key)
            .is_some()
    }

    #[inline]
    fn find(&self, hash: u64, key: &str) -> Option<Slot> {
        let key = key.as_bytes();
        self.index
            .find(hash, |slot| self.key_of(*slot) == key)
            .copied()
    }

    /// Every route with its key, in no particular order.
    pub fn iter(&self) -> impl Iterator<Item = (&str, Route)> + '_ {
        self.index
            .iter()
            .map(|slot| (self.key_str(*slot), self.route_of(*slot)))
    }

    /// The routes kept whole: those with rules, limits, pages and the like.
    pub fn whole_routes(&self) -> impl Iterator<Item = (&str, &Route)> + '_ {
        self.index.iter().filter_map(|slot| match slot.target() {
            Target::Whole(i) => {
                let (key, route) = &self.whole[i];
                Some((key.as_ref(), route))
            }
            Target::Packed(_) => None,
        })
    }

    fn key_of(&self, slot: Slot) -> &[u8] {
        key_of(slot, &self.chunks, &self.packed, &self.whole)
    }

    fn key_str(&self, slot: Slot) -> &str {
        match slot.target() {
            Target::Packed(i) => {
                let p = &self.packed[i];
                let (chunk, at) = p.place();
                &self.chunks[chunk][at..at + usize::from(p.key_len)]
            }
            Target::Whole(i) => &self.whole[i].0,
        }
    }

    #[inline]
    fn route_of(&self, slot: Slot) -> Route {
        let p = match slot.target() {
            Target::Whole(i) => return self.whole[i].1.clone(),
            Target::Packed(i) => &self.packed[i],
        };
        let (chunk, start) = p.place();
        let text = &self.chunks[chunk];
        let key_end = start + usize::from(p.key_len);
        let qr_id_end = key_end + usize::from(p.qr_id_len);
        let location_end = qr_id_end + usize::from(p.location_len);
        let key = &text[start..key_end];
        let location = text.as_bytes().slice(qr_id_end..location_end);
        // Written by `push_packed` from an i64's bits: it reads back.
        let expires_at = p.has(EXPIRES).then(|| {
            let digits = &text[location_end..location_end + EXPIRY_DIGITS];
            u64::from_str_radix(digits, 16).unwrap_or_default() as i64
        });
        Route {
            qr_id: text.slice_ref(&text[key_end..qr_id_end]),
            team_id: self.teams[p.team as usize].clone(),
            display_id: text.slice_ref(display_id_of(key)),
            expires_at,
            // Checked when it was packed (it came from a header value): checked again it is a
            // scan of a few dozen bytes, which keeps this free of `unsafe`.
            answer: Answer::Redirect(
                HeaderValue::from_maybe_shared(location)
                    .unwrap_or_else(|_| HeaderValue::from_static("/")),
            ),
            status: StatusCode::from_u16(p.status & STATUS_BITS).unwrap_or(StatusCode::FOUND),
            forward_query: p.has(FORWARD_QUERY),
            extras: None,
        }
    }
}

/// Packs routes one by one, so a table of millions never exists twice in memory: each route's
/// text is appended to the last chunk as it comes. Keys are indexed when the table is finished:
/// the routes of one table's shards come interleaved, and indexing each as it came touched every
/// shard's index at random (a third of a 10M-code start); indexed a shard at a time, its index
/// stays in the CPU's cache.
#[derive(Default)]
pub struct PackedRoutesBuilder {
    /// Each allocated at `CHUNK` bytes and never grown past it (so never moved).
    chunks: Vec<Vec<u8>>,
    packed: Vec<Packed>,
    whole: Vec<(Box<str>, Route)>,
    teams: Vec<ByteString>,
    team_numbers: hashbrown::HashMap<ByteString, u32>,
    /// For each whole route, how many packed ones were pushed before it: with it `finish` indexes
    /// the routes in the order they came, so a later route under a key replaces an earlier one.
    whole_after: Vec<u32>,
    hasher: DefaultHashBuilder,
    /// The first chunk's capacity (0: `FIRST_CHUNK`).
    first_chunk: usize,
}

impl PackedRoutesBuilder {
    /// A builder for about `routes` routes, hashing keys with `hasher` (the shards of one table
    /// share theirs): their entries are reserved (capacity never written costs no resident
    /// memory).
    pub fn with_hasher(hasher: DefaultHashBuilder, routes: usize) -> Self {
        let first_chunk = routes
            .saturating_mul(TEXT_PER_ROUTE)
            .clamp(FIRST_CHUNK, CHUNK);
        Self {
            first_chunk,
            packed: Vec::with_capacity(routes),
            hasher,
            ..Self::default()
        }
    }

    /// Packs the route of a plain redirect's record directly, without compiling a [`Route`] first
    /// (a third of an edge's start with 10M codes); false, packing nothing, for any other record.
    /// What it packs is what `push(key, Route::from_record(key, record))` would.
    pub fn push_plain_record(&mut self, key: &str, record: &RouteRecord) -> bool {
        let plain = record.qr_type == QrType::Web
            && record.settings.is_empty()
            && fits(key, &record.qr_id, &record.location)
            && is_header_value(&record.location);
        if !plain {
            return false;
        }
        let team = self.team_number(&record.team_id);
        let behaviour = Behaviour::default();
        let status = StatusCode::FOUND.as_u16() | flag(behaviour.forward_query, FORWARD_QUERY);
        self.push_packed(
            key,
            [&record.qr_id, &record.location],
            team,
            status,
            record.expires_at,
        );
        true
    }

    pub fn push(&mut self, key: &str, route: Route) {
        let location = route
            .plain_location()
            .and_then(|location| std::str::from_utf8(location.as_bytes()).ok())
            .filter(|location| fits(key, &route.qr_id, location));
        let Some(location) = location else {
            self.whole.push((key.into(), route));
            self.whole_after.push(self.packed.len() as u32);
            return;
        };
        let team = self.team_number(&route.team_id);
        let status = route.status.as_u16() | flag(route.forward_query, FORWARD_QUERY);
        self.push_packed(
            key,
            [&route.qr_id, location],
            team,
            status,
            route.expires_at,
        );
    }

    fn team_number(&mut self, team_id: &str) -> u32 {
        // Most tables are one team's, or come team by team (an import): the newest team is
        // checked before the map's hashing.
        if self.teams.last().is_some_and(|newest| &**newest == team_id) {
            return self.teams.len() as u32 - 1;
        }
        if let Some(n) = self.team_numbers.get(team_id) {
            return *n;
        }
        let n = self.teams.len() as u32;
        let shared = shared_team_id(team_id);
        self.teams.push(shared.clone());
        self.team_numbers.insert(shared, n);
        n
    }

    /// Appends a packed route: its key, code id and location (and expiry) to the text, and its
    /// entry.
    fn push_packed(
        &mut self,
        key: &str,
        [qr_id, location]: [&str; 2],
        team: u32,
        status: u16,
        expires_at: Option<i64>,
    ) {
        let expiry = expires_at.map(|at| format!("{:016x}", at as u64));
        let status = status | flag(expiry.is_some(), EXPIRES);
        let texts = [key, qr_id, location, expiry.as_deref().unwrap_or("")];
        let start = self.reserve(texts.iter().map(|t| t.len()).sum());
        let chunk = self.chunks.last_mut().expect("reserve made a chunk");
        for text in texts {
            chunk.extend_from_slice(text.as_bytes());
        }
        self.packed.push(Packed {
            start_low: start as u32,
            start_high: (start >> 32) as u8,
            team,
            location_len: location.len() as u16,
            key_len: key.len() as u16,
            qr_id_len: qr_id.len() as u8,
            status,
        });
    }

    /// Where `len` more bytes of text go: at the end of the last chunk, or at the start of a new
    /// one when they do not fit in it (`fits` keeps a route's text far below a chunk).
    fn reserve(&mut self, len: usize) -> u64 {
        let full = self
            .chunks
            .last()
            .is_none_or(|chunk| chunk.len() + len > CHUNK);
        if full {
            let capacity = if self.chunks.is_empty() {
                self.first_chunk.max(FIRST_CHUNK)
            } else {
                CHUNK
            };
            self.chunks.push(Vec::with_capacity(capacity));
        }
        let chunk = self.chunks.len() - 1;
        ((chunk as u64) << CHUNK_BITS) + self.chunks[chunk].len() as u64
    }

    /// Every route's key indexed, in the order they were pushed: a later route under a key
    /// replaces the earlier one.
    fn index(&self) -> HashTable<Slot> {
        let mut index = HashTable::with_capacity(self.packed.len() + self.whole.len());
        let key = |slot: Slot| key_of(slot, &self.chunks, &self.packed, &self.whole);
        let mut insert = |slot: Slot| {
            let entry = index.entry(
                self.hasher.hash_one(key(slot)),
                |other| key(*other) == key(slot),
                |other| self.hasher.hash_one(key(*other)),
            );
            match entry {
                Entry::Occupied(mut entry) => *entry.get_mut() = slot,
                Entry::Vacant(entry) => {
                    entry.insert(slot);
                }
            }
        };
        let mut whole = self.whole_after.iter().enumerate().peekable();
        for n in 0..self.packed.len() {
            while let Some((w, _)) = whole.next_if(|(_, after)| **after as usize <= n) {
                insert(Slot::whole(w));
            }
            insert(Slot::packed(n));
        }
        whole.for_each(|(w, _)| insert(Slot::whole(w)));
        index
    }

    pub fn finish(self) -> PackedRoutes {
        let index = self.index();
        // Only whole `&str`s were appended: every chunk is UTF-8.
        let chunks = self
            .chunks
            .into_iter()
            .map(|chunk| {
                ByteString::try_from(Bytes::from(chunk))
                    .expect("the packed text is made of strings")
            })
            .collect();
        PackedRoutes {
            chunks,
            packed: self.packed,
            whole: self.whole,
            teams: self.teams,
            index,
            hasher: self.hasher,
        }
    }
}

fn flag(set: bool, flag: u16) -> u16 {
    if set {
        flag
    } else {
        0
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::model::Qr;

    fn plain(id: &str, team: &str, display_id: &str, url: &str) -> Route {
        let mut qr = Qr::web(id, team, display_id, url);
        qr.expiry_date = Some(1_700_000_000_000);
        Route::for_qr(&qr, None).unwrap()
    }

    fn fields(route: &Route) -> (String, String, String, Option<i64>, String, u16, bool) {
        let Answer::Redirect(location) = &route.answer else {
            panic!("not a redirect: {route:?}");
        };
        (
            route.qr_id.to_string(),
            route.team_id.to_string(),
            route.display_id.to_string(),
            route.expires_at,
            location.to_str().unwrap().to_owned(),
            route.status.as_u16(),
            route.forward_query,
        )
    }

    #[test]
    fn a_packed_route_reads_back_as_it_was_pushed() {
        let a = plain("qr_a", "team_1", "a", "https://a.example/x?y=1");
        let b = plain("qr_b", "team_2", "b", "https://b.example/");
        let on_domain = plain("qr_c", "team_1", "c", "https://c.example/");
        assert_eq!(a.expires_at, Some(1_700_000_000_000));
        let mut builder = PackedRoutesBuilder::default();
        builder.push("a", a.clone());
        builder.push("b", b.clone());
        builder.push("qr.acme.test/c", on_domain.clone());
        let routes = builder.finish();
        assert_eq!(routes.len(), 3);
        assert_eq!(fields(&routes.get("a").unwrap()), fields(&a));
        assert_eq!(fields(&routes.get("b").unwrap()), fields(&b));
        let c = routes.get("qr.acme.test/c").unwrap();
        assert_eq!(fields(&c), fields(&on_domain));
        assert_eq!(&*c.display_id, "c");
        assert!(routes.get("c").is_none() && routes.get("").is_none());
        assert!(routes.contains_key("b") && !routes.contains_key("bb"));
        let mut keys: Vec<_> = routes.iter().map(|(key, _)| key.to_owned()).collect();
        keys.sort();
        assert_eq!(keys, ["a", "b", "qr.acme.test/c"]);
        assert_eq!(routes.whole_routes().count(), 0);
    }

    #[test]
    fn a_plain_record_packs_as_its_compiled_route_does_and_others_are_refused() {
        let mut qr = Qr::web("qr_p", "team_9", "p", "https://p.example/?a=1");
        qr.expiry_date = Some(1_800_000_000_000);
        let record = RouteRecord::for_qr(&qr, None).unwrap();
        let mut direct = PackedRoutesBuilder::default();
        assert!(direct.push_plain_record("p", &record));
        let mut compiled = PackedRoutesBuilder::default();
        compiled.push("p", Route::from_record("p", &record).unwrap());
        let (direct, compiled) = (direct.finish(), compiled.finish());
        let route = direct.get("p").unwrap();
        assert_eq!(fields(&route), fields(&compiled.get("p").unwrap()));
        assert_eq!(route.expires_at, Some(1_800_000_000_000));

        let mut builder = PackedRoutesBuilder::default();
        let mut with_rules = record.clone();
        with_rules
            .settings
            .insert("redirectStatus".into(), 301.into());
        assert!(!builder.push_plain_record("r", &with_rules));
        let mut bad_header = record.clone();
        bad_header.location = "https://x.example/\n".into();
        assert!(!builder.push_plain_record("b", &bad_header));
        let mut hosted = record;
        hosted.qr_type = QrType::Pdf;
        assert!(!builder.push_plain_record("h", &hosted));
        assert!(builder.finish().is_empty());
    }

    #[test]
    fn routes_beyond_a_plain_redirect_stay_whole_and_a_later_push_replaces_an_earlier_one() {
        let mut limited = Qr::web("qr_l", "team_1", "l", "https://l.example/");
        limited.settings.insert("maxScans".into(), 5.into());
        let limited = Route::for_qr(&limited, None).unwrap();
        assert!(limited.extras.is_some());
        let mut builder = PackedRoutesBuilder::default();
        builder.push("l", limited.clone());
        builder.push("a", plain("qr_old", "team_1", "a", "https://old.example/"));
        builder.push("a", plain("qr_new", "team_1", "a", "https://new.example/"));
        // Across the two kinds too, the later push is the one kept.
        builder.push("b", limited.clone());
        builder.push("b", plain("qr_b", "team_1", "b", "https://b.example/"));
        builder.push("c", plain("qr_c", "team_1", "c", "https://c.example/"));
        builder.push("c", limited.clone());
        let routes = builder.finish();
        assert_eq!(routes.len(), 4);
        assert_eq!(&*routes.get("a").unwrap().qr_id, "qr_new");
        assert_eq!(&*routes.get("b").unwrap().qr_id, "qr_b");
        let mut whole: Vec<_> = routes.whole_routes().map(|(key, _)| key).collect();
        whole.sort();
        assert_eq!(whole, ["c", "l"]);
        let l = routes.get("l").unwrap();
        assert_eq!(l.extras.as_ref().and_then(|e| e.max_scans), Some(5));
    }

    #[test]
    fn routes_across_many_chunks_read_back_with_their_expiries_and_entries_take_16_bytes() {
        assert_eq!(std::mem::size_of::<Packed>(), 16);
        let expiries = [
            None,
            Some(0),
            Some(-1),
            Some(i64::MIN),
            Some(i64::MAX),
            Some(1_700_000_000_123),
        ];
        let routes: Vec<(String, Route)> = (0..500)
            .map(|n| {
                let key = format!("code{n}");
                let mut qr = Qr::web(
                    &format!("qr_{n}"),
                    "team_1",
                    &key,
                    &format!("https://e.example/{n}"),
                );
                qr.expiry_date = expiries[n % expiries.len()];
                let route = Route::for_qr(&qr, None).unwrap();
                (key, route)
            })
            .collect();
        let mut builder = PackedRoutesBuilder::with_hasher(DefaultHashBuilder::default(), 10);
        for (key, route) in &routes {
            builder.push(key, route.clone());
        }
        // Text longer than a chunk cannot be packed: it stays whole, and still answers.
        let long = plain(
            "qr_long",
            "team_1",
            "long",
            &format!("https://e.example/{}", "x".repeat(CHUNK)),
        );
        builder.push("long", long.clone());
        let table = builder.finish();
        assert!(table.chunks.len() > 50, "{} chunks", table.chunks.len());
        assert_eq!(table.len(), 501);
        for (key, route) in &routes {
            assert_eq!(fields(&table.get(key).unwrap()), fields(route), "{key}");
        }
        assert_eq!(fields(&table.get("long").unwrap()), fields(&long));
        let whole: Vec<_> = table.whole_routes().map(|(key, _)| key).collect();
        assert_eq!(whole, ["long"]);
    }
}
