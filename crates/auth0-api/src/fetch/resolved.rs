//! Issuers already resolved to their discovery and JWKS entries.
//!
//! Verifying a token from an issuer seen before would normalise its `iss`, then look the
//! discovery document and the key set up in their caches: two read locks, two hash lookups and
//! two reference-count round trips on lines every request thread shares. After a successful
//! resolution the client remembers, per issuer, the two entries it used; a later token whose
//! `iss` is byte for byte the discovery document's `issuer` borrows them directly, lock-free and
//! without writing to shared memory.
//!
//! A remembered pair is used only while both entries are **current**: still the ones their
//! caches hold (not replaced by a refresh, not evicted) and not yet due for refresh-ahead. In
//! every other case the caller takes the full path, which refreshes, reloads or fails exactly
//! as without this memory, and remembers the pair it ends with. So the answers, the errors and
//! the refresh schedule are those of the full path; only its cost differs.
//!
//! Layout: a fixed table of slots, one atomic pointer each (`arc-swap`), written one slot at a
//! time. One issuer (single domain): one slot, no hashing. A static list of `n` issuers: room
//! for `n` of them (at most [`MAX_ISSUERS`]) in `2n` slots rounded up to a power of two (8
//! bytes each: at most 64 KiB), an issuer living in one of the [`MAX_PROBES`] slots after its
//! hash; a lookup is one hash and at most [`MAX_PROBES`] lock-free loads, whatever `n`.
//!
//! Reads: a verification of a remembered issuer's token reads the issuer's record and what it
//! points to directly, never a pointer found behind another pointer. The record holds copies
//! of the discovery document's `issuer` and of the key set's members that have a `kid` (the
//! keys themselves are shared, not copied), so matching the token's `iss` and `kid` and
//! reaching the key take one step from the record (the two entries' freshness is read in the
//! same step), instead of the chains record -> entry -> document -> issuer text and record ->
//! entry -> member list -> `kid` text -> key list -> key. When many issuers take turns, each
//! issuer's memory has left the CPU's caches by its next token, and each step of a chain is a
//! memory access of its own, waited for in turn (about 0.1 µs each on the machine of
//! `docs/PERFORMANCE.md`); accesses of the same step overlap.
//!
//! Bounded: at most `n` pairs; a new issuer takes a free slot or one whose pair is no longer
//! current, never evicts a live one, so many issuers cannot make the memory churn. When it
//! finds no such slot among its own (beyond the capacity, or, rarely in a long list, when its
//! [`MAX_PROBES`] slots are all taken) nothing is written and nothing is allocated: its tokens
//! take the full path, as they would without this memory.

use std::hash::BuildHasher;
use std::sync::Arc;
use std::sync::atomic::{AtomicUsize, Ordering};
use std::time::Instant;

use arc_swap::ArcSwapOption;
use smallvec::SmallVec;

use crate::fetch::discovery::Discovery;
use crate::fetch::document_cache::Entry;
use crate::fetch::jwks::{JwkEntry, KeySet, find_member};

/// Most issuers remembered (a longer static list still verifies; the issuers beyond take the
/// full path).
pub(crate) const MAX_ISSUERS: usize = 4096;
/// Slots an issuer may live in, from the one its hash names.
pub(crate) const MAX_PROBES: usize = 16;

/// An issuer's discovery document and key set, as the caches held them, with copies of what a
/// verification reads from them (see "Reads" in the module doc).
pub(crate) struct Resolved {
    pub(crate) discovery: Arc<Entry<Arc<Discovery>>>,
    pub(crate) keys: Arc<Entry<KeySet>>,
    /// The discovery document's `issuer`.
    issuer: Box<str>,
    /// The key set's members that have a `kid`, in document order (clones: the keys are
    /// shared; at most [`MAX_KEYS`](crate::fetch::jwks::MAX_KEYS), two of them inline).
    members: SmallVec<[JwkEntry; 2]>,
}

impl Resolved {
    fn new(discovery: &Arc<Entry<Arc<Discovery>>>, keys: &Arc<Entry<KeySet>>) -> Self {
        Self {
            issuer: discovery.value.issuer.as_str().into(),
            members: keys
                .value
                .entries()
                .iter()
                .filter(|e| e.kid.is_some())
                .cloned()
                .collect(),
            discovery: discovery.clone(),
            keys: keys.clone(),
        }
    }

    /// The issuer tokens must carry, verbatim (the discovery document's).
    pub(crate) fn issuer(&self) -> &str {
        &self.issuer
    }

    /// The key set's first member whose `kid` is `kid`: the answer of [`KeySet::find`].
    pub(crate) fn find(&self, kid: &str) -> Option<&JwkEntry> {
        find_member(&self.members, kid)
    }

    fn is_current(&self, now: Instant) -> bool {
        self.discovery.is_current(now) && self.keys.is_current(now)
    }
}

/// The remembered issuers of one client: a fixed table of slots, each written on its own
/// (once per issuer and refresh).
pub(crate) struct ResolvedIssuers {
    /// Empty (remembers nothing), one slot, or a power of two of them.
    slots: Box<[ArcSwapOption<Resolved>]>,
    /// Most slots in use at once.
    capacity: usize,
    /// Slots in use (they are never emptied again).
    occupied: AtomicUsize,
    hasher: std::collections::hash_map::RandomState,
}

impl ResolvedIssuers {
    /// Room for `capacity` issuers (at most [`MAX_ISSUERS`]; 0 remembers nothing).
    pub(crate) fn new(capacity: usize) -> Self {
        let capacity = capacity.min(MAX_ISSUERS);
        let len = if capacity <= 1 {
            capacity
        } else {
            (capacity * 2).next_power_of_two()
        };
        Self {
            slots: (0..len).map(|_| ArcSwapOption::empty()).collect(),
            capacity,
            occupied: AtomicUsize::new(0),
            hasher: std::collections::hash_map::RandomState::new(),
        }
    }

    /// The slots `issuer` may live in, in order (none when nothing is remembered).
    fn probes(&self, issuer: &str) -> impl Iterator<Item = &ArcSwapOption<Resolved>> {
        let len = self.slots.len();
        let home = if len <= 1 {
            0
        } else {
            // Truncation is fine: only the low bits select a slot.
            self.hasher.hash_one(issuer) as usize & (len - 1)
        };
        (0..len.min(MAX_PROBES))
            .filter_map(move |i| self.slots.get((home + i) & len.wrapping_sub(1)))
    }

    /// Runs `f` on the current pair of `issuer`, if one is remembered; `None` otherwise.
    pub(crate) fn with<R>(
        &self,
        issuer: &str,
        now: Instant,
        f: impl FnOnce(&Resolved) -> R,
    ) -> Option<R> {
        for slot in self.probes(issuer) {
            let guard = slot.load();
            if let Some(found) = guard.as_ref().filter(|r| r.issuer() == issuer) {
                return found.is_current(now).then(|| f(found));
            }
        }
        None
    }

    /// Remembers the pair a full resolution ended with, in the issuer's own slot, else a free
    /// one (while fewer than `capacity` are in use), else one whose pair is no longer current.
    /// Nothing is written (or allocated) when it is already remembered, or when no such slot
    /// is found (every slot it may use holds another issuer's current pair), or when another
    /// thread wrote that slot meanwhile (a later verification remembers it).
    pub(crate) fn remember(
        &self,
        discovery: &Arc<Entry<Arc<Discovery>>>,
        keys: &Arc<Entry<KeySet>>,
    ) {
        let issuer = discovery.value.issuer.as_str();
        if issuer.is_empty() {
            return;
        }
        let now = Instant::now();
        let mut own = None;
        let mut free = None;
        let mut stale = None;
        for slot in self.probes(issuer) {
            let guard = slot.load();
            match guard.as_ref() {
                Some(r) if r.issuer() == issuer => {
                    if Arc::ptr_eq(&r.discovery, discovery) && Arc::ptr_eq(&r.keys, keys) {
                        return;
                    }
                    own = Some((slot, guard));
                    break;
                }
                Some(r) => {
                    if stale.is_none() && !r.is_current(now) {
                        stale = Some((slot, guard));
                    }
                }
                None => {
                    if free.is_none() {
                        free = Some((slot, guard));
                    }
                }
            }
        }
        let claims_free = own.is_none()
            && free.is_some()
            && self
                .occupied
                .fetch_update(Ordering::AcqRel, Ordering::Acquire, |n| {
                    (n < self.capacity).then_some(n + 1)
                })
                .is_ok();
        let target = match (own, claims_free) {
            (Some(own), _) => own,
            (None, true) => match free {
                Some(free) => free,
                None => return,
            },
            (None, false) => match stale {
                Some(stale) => stale,
                None => return,
            },
        };
        let (slot, expected) = target;
        let pair = Arc::new(Resolved::new(discovery, keys));
        let was_free = expected.is_none();
        let previous = slot.compare_and_swap(&expected, Some(pair));
        let swapped = match (previous.as_ref(), expected.as_ref()) {
            (Some(p), Some(e)) => Arc::ptr_eq(p, e),
            (None, None) => true,
            _ => false,
        };
        if was_free && !swapped {
            // The free slot was taken meanwhile: it is counted by whoever took it.
            self.occupied.fetch_sub(1, Ordering::AcqRel);
        }
    }
}

#[cfg(test)]
#[allow(clippy::unwrap_used)]
mod tests {
    use std::time::Duration;

    use super::*;
    use crate::domains::normalize_domain;

    fn assert_send_sync<T: Send + Sync>() {}

    /// A discovery entry for `issuer` and a key-set entry, both fresh for `ttl`.
    fn pair(issuer: &str, ttl: Duration) -> (Arc<Entry<Arc<Discovery>>>, Arc<Entry<KeySet>>) {
        let discovery = Discovery {
            issuer: issuer.to_owned(),
            jwks_uri: Some(format!("{issuer}.well-known/jwks.json")),
            token_endpoint: None,
            normalized_issuer: normalize_domain(issuer),
        };
        (
            Arc::new(Entry::new(Arc::new(discovery), ttl, Duration::ZERO)),
            Arc::new(Entry::new(KeySet::none(), ttl, Duration::ZERO)),
        )
    }

    fn found(memory: &ResolvedIssuers, issuer: &str) -> bool {
        memory.with(issuer, Instant::now(), |_| ()).is_some()
    }

    #[test]
    fn remembers_current_pairs_within_its_bound() {
        const HOUR: Duration = Duration::from_secs(3600);
        let memory = ResolvedIssuers::new(2);
        let (a, b, c) = (
            "https://a.example/",
            "https://b.example/",
            "https://c.example/",
        );
        let (da, ka) = pair(a, HOUR);
        memory.remember(&da, &ka);
        memory.remember(&da, &ka);
        let (db, kb) = pair(b, HOUR);
        memory.remember(&db, &kb);
        assert!(found(&memory, a) && found(&memory, b));
        assert!(
            !found(&memory, "https://a.example"),
            "byte for byte, not normalised"
        );
        // Full of current pairs: a third issuer is not remembered, and evicts nobody.
        let (dc, kc) = pair(c, HOUR);
        memory.remember(&dc, &kc);
        assert!(found(&memory, a) && found(&memory, b) && !found(&memory, c));
        // A newer pair for a remembered issuer replaces its slot.
        let (da2, ka2) = pair(a, HOUR);
        memory.remember(&da2, &ka2);
        let same = memory.with(a, Instant::now(), |r| Arc::ptr_eq(&r.keys, &ka2));
        assert_eq!(same, Some(true));
        // A pair due for refresh is not used, and its slot goes to the next issuer.
        let (db_due, kb_due) = pair(b, Duration::ZERO);
        memory.remember(&db_due, &kb_due);
        assert!(!found(&memory, b));
        memory.remember(&dc, &kc);
        assert!(found(&memory, c) && found(&memory, a));
    }

    #[test]
    fn the_record_answers_as_the_key_set() {
        use crate::settings::Algorithm;
        // The example key of RFC 7517, appendix A.1.
        let (x, y) = (
            "f83OJ3D2xF1Bg8vub9tLe1gHMzV76e8Tus9uPHvRVEU",
            "x_FEzRu9m36HLN_tue659LNpXW6pCyStikYjKIWI5a0",
        );
        // A member without `kid`, a duplicate `kid` (the first wins), unusable members.
        let doc = serde_json::json!({"keys":[
            {"kty":"EC","crv":"P-256","x":x,"y":y},
            {"kid":"a","kty":"RSA","n":"AQAB","e":"AQAB"},
            {"kid":"a","kty":"EC","crv":"P-256","x":x,"y":y},
            {"kid":"b","kty":"EC","crv":"P-256","x":x,"y":y},
            {"kid":"c","kty":"oct"}
        ]});
        let algorithms = [Algorithm::RS256, Algorithm::ES256];
        let set = KeySet::parse(doc.as_object().unwrap(), &algorithms).unwrap();
        let hour = Duration::from_secs(3600);
        let (discovery, _) = pair("https://a.example/", hour);
        let keys = Arc::new(Entry::new(set, hour, Duration::ZERO));
        let record = Resolved::new(&discovery, &keys);
        assert_eq!(record.issuer(), "https://a.example/");
        for kid in ["a", "b", "c", "", "zzz"] {
            assert_eq!(
                format!("{:?}", record.find(kid)),
                format!("{:?}", keys.value.find(kid)),
                "kid {kid:?}"
            );
        }
        assert!(
            record
                .find("a")
                .unwrap()
                .verifier(Algorithm::ES256)
                .is_err()
        );
        assert!(record.find("b").unwrap().verifier(Algorithm::ES256).is_ok());
    }

    #[test]
    fn remembers_nothing_without_room_or_issuer() {
        let memory = ResolvedIssuers::new(0);
        let (d, k) = pair("https://a.example/", Duration::from_secs(60));
        memory.remember(&d, &k);
        assert!(!found(&memory, "https://a.example/"));
        let memory = ResolvedIssuers::new(1);
        let (d, k) = pair("", Duration::from_secs(60));
        memory.remember(&d, &k);
        assert!(!found(&memory, ""));
    }

    #[test]
    fn the_guard_may_live_in_a_send_future() {
        assert_send_sync::<arc_swap::Guard<Arc<Vec<Arc<Resolved>>>>>();
        assert_send_sync::<arc_swap::Guard<Option<Arc<Resolved>>>>();
    }

    /// The slots' contents, to tell whether anything was written.
    fn snapshot(memory: &ResolvedIssuers) -> Vec<Option<Arc<Resolved>>> {
        memory.slots.iter().map(|s| s.load_full()).collect()
    }

    fn same_slots(a: &[Option<Arc<Resolved>>], b: &[Option<Arc<Resolved>>]) -> bool {
        a.len() == b.len()
            && a.iter().zip(b).all(|(x, y)| match (x, y) {
                (Some(x), Some(y)) => Arc::ptr_eq(x, y),
                (None, None) => true,
                _ => false,
            })
    }

    /// Beyond its capacity, with every slot holding a current pair, remembering another issuer
    /// writes nothing and allocates nothing (no pair is built: the entries are not cloned),
    /// however often it is asked.
    #[test]
    fn nothing_is_written_or_allocated_beyond_capacity() {
        const HOUR: Duration = Duration::from_secs(3600);
        for capacity in [1, 2, 16] {
            let memory = ResolvedIssuers::new(capacity);
            let kept: Vec<_> = (0..capacity)
                .map(|i| pair(&format!("https://kept{i}.example/"), HOUR))
                .collect();
            for (d, k) in &kept {
                memory.remember(d, k);
            }
            for i in 0..capacity {
                assert!(found(&memory, &format!("https://kept{i}.example/")));
            }
            let before = snapshot(&memory);
            let (d, k) = pair("https://one-too-many.example/", HOUR);
            for _ in 0..100 {
                memory.remember(&d, &k);
            }
            assert!(same_slots(&before, &snapshot(&memory)), "nothing written");
            assert_eq!(
                (Arc::strong_count(&d), Arc::strong_count(&k)),
                (1, 1),
                "no pair built"
            );
            assert!(!found(&memory, "https://one-too-many.example/"));
            // Remembering a remembered pair writes nothing either.
            let (d0, k0) = &kept[0];
            memory.remember(d0, k0);
            assert!(same_slots(&before, &snapshot(&memory)));
        }
    }

    /// A static list of any length (here 1 000 issuers) is remembered (all but a rare issuer
    /// whose slots are all taken), and looked up in a bounded number of lock-free loads; the
    /// table stays within 2 slots (of 8 bytes) per issuer, and [`MAX_ISSUERS`] bounds it.
    #[test]
    fn a_long_list_is_remembered_lock_free() {
        assert_eq!(std::mem::size_of::<ArcSwapOption<Resolved>>(), 8);
        const HOUR: Duration = Duration::from_secs(3600);
        let n = 1_000;
        let memory = ResolvedIssuers::new(n);
        assert_eq!(memory.slots.len(), 2048);
        let pairs: Vec<_> = (0..n)
            .map(|i| pair(&format!("https://tenant{i}.example/"), HOUR))
            .collect();
        for (d, k) in &pairs {
            memory.remember(d, k);
        }
        let mut remembered = 0;
        for (i, (d, k)) in pairs.iter().enumerate() {
            let issuer = format!("https://tenant{i}.example/");
            let hit = memory.with(&issuer, Instant::now(), |r| {
                Arc::ptr_eq(&r.discovery, d) && Arc::ptr_eq(&r.keys, k)
            });
            assert_ne!(hit, Some(false), "never another issuer's pair");
            remembered += usize::from(hit == Some(true));
        }
        assert!(remembered >= n - n / 100, "{remembered} of {n} remembered");
        assert_eq!(memory.occupied.load(Ordering::Relaxed), remembered);
        assert!(!found(&memory, "https://not-listed.example/"));
        // The bound holds for any list.
        assert_eq!(ResolvedIssuers::new(1_000_000).capacity, MAX_ISSUERS);
        assert_eq!(ResolvedIssuers::new(1_000_000).slots.len(), 2 * MAX_ISSUERS);
    }
}
