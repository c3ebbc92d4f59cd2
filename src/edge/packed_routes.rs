//! The bulk of the route table, packed: every plain redirect (a WEB code with no rules, expiry
//! fallbacks, limits or password) as a 32-byte entry whose strings (route key, code id,
//! redirect target) sit in one shared text buffer, found through an index of 4-byte entry
//! numbers. A lookup hands out the route with its strings as slices of that buffer: reference
//! counts, no copy and no allocation. Codes that need more stay whole [`Route`]s beside it.
//!
//! Why: a `HashMap<Box<str>, Route>` cost ~480 bytes and four allocations per code, so 10M codes
//! needed ~5 GB; packed they need ~100 bytes each.

use bytes::Bytes;
use bytestring::ByteString;
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

/// Where a packed route's strings are in the text buffer: its key, its code id and its
/// redirect target, one after the other.
#[derive(Debug, Clone, Copy)]
struct Packed {
    start: u64,
    key_len: u16,
    qr_id_len: u16,
    location_len: u32,
    /// Index into the team ids.
    team: u32,
    /// `i64::MIN`: none.
    expires_at: i64,
    status: StatusCode,
    forward_query: bool,
}

/// Whether a route's strings fit a packed entry's lengths (and its expiry the `None` marker).
fn fits(key: &str, qr_id: &str, expires_at: Option<i64>) -> bool {
    key.len() <= usize::from(u16::MAX) && qr_id.len() <= 255 && expires_at != Some(i64::MIN)
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

/// The key of the route in `slot`.
fn key_of<'a>(
    slot: Slot,
    text: &'a str,
    packed: &[Packed],
    whole: &'a [(Box<str>, Route)],
) -> &'a str {
    match slot.target() {
        Target::Packed(i) => {
            let p = &packed[i];
            &text[p.start as usize..p.start as usize + usize::from(p.key_len)]
        }
        Target::Whole(i) => &whole[i].0,
    }
}

#[derive(Default)]
pub struct PackedRoutes {
    text: ByteString,
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
        let hash = self.hasher.hash_one(key);
        let slot = self.index.find(hash, |slot| self.key_of(*slot) == key)?;
        Some(self.route_of(*slot))
    }

    pub fn contains_key(&self, key: &str) -> bool {
        let hash = self.hasher.hash_one(key);
        self.index
            .find(hash, |slot| self.key_of(*slot) == key)
            .is_some()
    }

    /// Every route with its key, in no particular order.
    pub fn iter(&self) -> impl Iterator<Item = (&str, Route)> + '_ {
        self.index
            .iter()
            .map(|slot| (self.key_of(*slot), self.route_of(*slot)))
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

    fn key_of(&self, slot: Slot) -> &str {
        key_of(slot, &self.text, &self.packed, &self.whole)
    }

    #[inline]
    fn route_of(&self, slot: Slot) -> Route {
        let p = match slot.target() {
            Target::Whole(i) => return self.whole[i].1.clone(),
            Target::Packed(i) => &self.packed[i],
        };
        let key_end = p.start as usize + usize::from(p.key_len);
        let qr_id_end = key_end + usize::from(p.qr_id_len);
        let location_end = qr_id_end + p.location_len as usize;
        let key = &self.text[p.start as usize..key_end];
        let location = self.text.as_bytes().slice(qr_id_end..location_end);
        Route {
            qr_id: self.text.slice_ref(&self.text[key_end..qr_id_end]),
            team_id: self.teams[p.team as usize].clone(),
            display_id: self.text.slice_ref(display_id_of(key)),
            expires_at: (p.expires_at != i64::MIN).then_some(p.expires_at),
            // Checked when it was packed (it came from a header value): checked again it is a
            // scan of a few dozen bytes, which keeps this free of `unsafe`.
            answer: Answer::Redirect(
                HeaderValue::from_maybe_shared(location)
                    .unwrap_or_else(|_| HeaderValue::from_static("/")),
            ),
            status: p.status,
            forward_query: p.forward_query,
            extras: None,
        }
    }
}

/// Packs routes one by one, so a table of millions never exists twice in memory.
#[derive(Default)]
pub struct PackedRoutesBuilder {
    text: Vec<u8>,
    packed: Vec<Packed>,
    whole: Vec<(Box<str>, Route)>,
    teams: Vec<ByteString>,
    team_numbers: hashbrown::HashMap<ByteString, u32>,
    /// Every pushed key's slot, in order: a later route under a key replaces the earlier one.
    slots: Vec<Slot>,
}

impl PackedRoutesBuilder {
    pub fn with_capacity(routes: usize) -> Self {
        Self {
            text: Vec::with_capacity(routes * 64),
            packed: Vec::with_capacity(routes),
            slots: Vec::with_capacity(routes),
            ..Self::default()
        }
    }

    /// Packs the route of a plain redirect's record directly, without compiling a [`Route`] first
    /// (a third of an edge's start with 10M codes); false, packing nothing, for any other record.
    /// What it packs is what `push(key, Route::from_record(key, record))` would.
    pub fn push_plain_record(&mut self, key: &str, record: &RouteRecord) -> bool {
        let plain = record.qr_type == QrType::Web
            && record.settings.is_empty()
            && fits(key, &record.qr_id, record.expires_at)
            && is_header_value(&record.location);
        if !plain {
            return false;
        }
        let team = self.team_number(&record.team_id);
        self.push_packed(key, &record.qr_id, &record.location, team, |packed| {
            packed.expires_at = record.expires_at.unwrap_or(i64::MIN);
        });
        true
    }

    pub fn push(&mut self, key: &str, route: Route) {
        let location = route
            .plain_location()
            .and_then(|location| std::str::from_utf8(location.as_bytes()).ok())
            .filter(|_| fits(key, &route.qr_id, route.expires_at));
        let Some(location) = location else {
            self.slots.push(Slot::whole(self.whole.len()));
            self.whole.push((key.into(), route));
            return;
        };
        let team = self.team_number(&route.team_id);
        self.push_packed(key, &route.qr_id, location, team, |packed| {
            packed.expires_at = route.expires_at.unwrap_or(i64::MIN);
            packed.status = route.status;
            packed.forward_query = route.forward_query;
        });
    }

    fn team_number(&mut self, team_id: &str) -> u32 {
        if let Some(n) = self.team_numbers.get(team_id) {
            return *n;
        }
        let n = self.teams.len() as u32;
        let shared = shared_team_id(team_id);
        self.teams.push(shared.clone());
        self.team_numbers.insert(shared, n);
        n
    }

    /// Appends a packed route with a plain redirect's defaults, then lets `set` change them.
    fn push_packed(
        &mut self,
        key: &str,
        qr_id: &str,
        location: &str,
        team: u32,
        set: impl FnOnce(&mut Packed),
    ) {
        let start = self.text.len() as u64;
        self.text.extend_from_slice(key.as_bytes());
        self.text.extend_from_slice(qr_id.as_bytes());
        self.text.extend_from_slice(location.as_bytes());
        let mut packed = Packed {
            start,
            key_len: key.len() as u16,
            qr_id_len: qr_id.len() as u16,
            location_len: location.len() as u32,
            team,
            expires_at: i64::MIN,
            status: StatusCode::FOUND,
            forward_query: Behaviour::default().forward_query,
        };
        set(&mut packed);
        self.slots.push(Slot::packed(self.packed.len()));
        self.packed.push(packed);
    }

    /// Capacity reserved up front and never written costs no resident memory: no shrinking
    /// (which would copy the buffers).
    pub fn finish(self) -> PackedRoutes {
        // Only whole `&str`s were appended: the buffer is UTF-8.
        let text = ByteString::try_from(Bytes::from(self.text))
            .expect("the packed text is made of strings");
        let hasher = DefaultHashBuilder::default();
        let mut index = HashTable::with_capacity(self.slots.len());
        let key = |slot: Slot| key_of(slot, &text, &self.packed, &self.whole);
        for slot in self.slots {
            let hash = hasher.hash_one(key(slot));
            let entry = index.entry(
                hash,
                |other: &Slot| key(*other) == key(slot),
                |other: &Slot| hasher.hash_one(key(*other)),
            );
            match entry {
                hashbrown::hash_table::Entry::Occupied(mut entry) => *entry.get_mut() = slot,
                hashbrown::hash_table::Entry::Vacant(entry) => {
                    entry.insert(slot);
                }
            }
        }
        PackedRoutes {
            text,
            packed: self.packed,
            whole: self.whole,
            teams: self.teams,
            index,
            hasher,
        }
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
        builder.push("l", limited);
        builder.push("a", plain("qr_old", "team_1", "a", "https://old.example/"));
        builder.push("a", plain("qr_new", "team_1", "a", "https://new.example/"));
        let routes = builder.finish();
        assert_eq!(routes.len(), 2);
        assert_eq!(&*routes.get("a").unwrap().qr_id, "qr_new");
        let whole: Vec<_> = routes.whole_routes().map(|(key, _)| key).collect();
        assert_eq!(whole, ["l"]);
        let l = routes.get("l").unwrap();
        assert_eq!(l.extras.as_ref().and_then(|e| e.max_scans), Some(5));
    }
}
