//! DPoP proof replay detection (RFC 9449 section 11.1).
//!
//! A proof is a bearer credential for its time window: whoever captures it can send it again
//! with the same method and URL. The verifier therefore remembers every accepted proof for as long
//! as its `iat` could still be accepted (`dpop_iat_offset + dpop_iat_leeway`, 330 s by default)
//! and refuses a second use. Proofs are identified by their key thumbprint and `jti` together,
//! so that one client cannot burn another's `jti`s, and stores never hold client-chosen strings
//! as keys: a shared store gets `SHA-256(jkt || 0x00 || jti)`, the in-process store keyed 64-bit
//! digests (see [`InMemoryReplayStore`]).
//!
//! [`InMemoryReplayStore`] is the default: bounded in total size and per key, and failing closed
//! when full. A fleet of servers behind a load balancer needs a shared store (Redis or similar):
//! implement [`ReplayStore`] over it, with an atomic "insert if absent, with expiry" such as
//! Redis `SET key 1 NX PX ttl`.
//!
//! ```
//! use std::time::Duration;
//! use auth0_api::dpop::replay::{InMemoryReplayStore, ReplayStore};
//!
//! # async fn demo() -> Result<(), auth0_api::dpop::replay::ReplayStoreError> {
//! let store = InMemoryReplayStore::default();
//! let key = [7u8; 32];
//! assert!(store.check_and_insert(key, "jkt", Duration::from_secs(330)).await?);
//! assert!(!store.check_and_insert(key, "jkt", Duration::from_secs(330)).await?, "a replay");
//! # Ok(()) }
//! ```

use std::cmp::Reverse;
use std::collections::hash_map::Entry;
use std::collections::{BinaryHeap, VecDeque};
use std::fmt;
use std::hash::{BuildHasher, RandomState};

use crate::digest_map::DigestMap;
use std::sync::{Mutex, PoisonError};
use std::time::{Duration, Instant};

use aws_lc_rs::digest;

/// Where proof identifiers are remembered until their proof window closes.
///
/// Implementations must make [`check_and_insert`](Self::check_and_insert) atomic: when several
/// requests present the same proof at once, exactly one may see `Ok(true)`.
#[async_trait::async_trait]
pub trait ReplayStore: Send + Sync + 'static {
    /// Records `key` (the SHA-256 of the proof key's thumbprint `jkt`, a zero byte and the
    /// proof's `jti`) for `ttl`. Returns `Ok(true)` if it was new, `Ok(false)` if it is still
    /// remembered (a replay).
    ///
    /// `jkt` is given so that a store can bound the live proofs of one key.
    ///
    /// # Errors
    /// [`ReplayStoreError`] when the proof cannot be recorded; the verifier then refuses it.
    async fn check_and_insert(
        &self,
        key: [u8; 32],
        jkt: &str,
        ttl: Duration,
    ) -> Result<bool, ReplayStoreError>;
}

/// Why a [`ReplayStore`] could not record a proof. The verifier fails closed on every one.
#[derive(Debug, Clone, PartialEq, Eq)]
#[non_exhaustive]
pub enum ReplayStoreError {
    /// The store holds as many live proofs as it may.
    Full,
    /// The proof's key has as many live proofs as one key may have.
    PerKeyLimit,
    /// The store could not be reached or failed (the text is for logs, never sent to clients).
    Unavailable(String),
}

impl fmt::Display for ReplayStoreError {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        match self {
            Self::Full => f.write_str("DPoP replay store is full"),
            Self::PerKeyLimit => f.write_str("too many live DPoP proofs for one key"),
            Self::Unavailable(why) => write!(f, "DPoP replay store unavailable: {why}"),
        }
    }
}

impl std::error::Error for ReplayStoreError {}

/// Default bound on remembered proofs ([`InMemoryReplayStore::default`]): proofs stay for the
/// proof window (330 s by default), so this admits about 3,000 new proofs per second sustained,
/// in about 58 MB when full (about 60 bytes a proof, measured, and no more while it grows;
/// nothing is allocated before use).
/// A store that is full refuses proofs (503) until some expire.
pub const DEFAULT_MAX_ENTRIES: usize = 1_000_000;
/// Default bound on live proofs per key thumbprint ([`InMemoryReplayStore::default`]): about 300
/// requests per second sustained for one DPoP key, a tenth of the store.
pub const DEFAULT_MAX_PER_KEY: usize = 100_000;

/// Expired entries dropped per call in the normal case; a call that hits a bound purges all.
const PURGE_BATCH: usize = 128;

/// How many tables the proofs are split into (by digest). A table that fills up is rehashed
/// into one twice its size while the lock is held: one table of a million proofs took 22 ms
/// to grow (measured), a 64th of it a 64th of that.
const PROOF_TABLES: usize = 64;

/// The in-process [`ReplayStore`]: one lock, bounded in total and per key, expired entries
/// purged a few at a time on each call (and all at once before refusing for lack of room).
///
/// Proofs and keys are remembered by 64-bit digests under a key drawn at random for each store
/// (SipHash, as the standard hash maps use): small entries, and no way for a client to choose
/// colliding digests. A new proof whose digest met a live one by chance (probability about
/// 5 x 10^-14 with a million live proofs) would look like a replay: a refusal, never an
/// acceptance.
///
/// Expiries are kept in the order proofs were recorded, which is their expiry order when every
/// proof gets the same lifetime (as the verifier gives them): recording a proof appends to a
/// queue and purging takes from its front, whatever the store's size. A proof given an earlier
/// expiry than the last one recorded (a store shared by verifiers with other proof windows)
/// waits in a small heap instead, so entries still leave in expiry order.
///
/// It protects one process only; servers that share traffic need a shared store.
pub struct InMemoryReplayStore {
    max_entries: usize,
    max_per_key: usize,
    digests: RandomState,
    /// Times are kept as nanoseconds since this instant.
    epoch: Instant,
    state: Mutex<State>,
}

struct State {
    /// Proof digest -> expiry, in [`PROOF_TABLES`] tables (see [`State::table`]).
    tables: Box<[DigestMap<u64>]>,
    /// Proofs in all the tables.
    entries: usize,
    /// Expiries in recording order, each not earlier than the one before it.
    queue: VecDeque<Expiry>,
    /// Expiries recorded after a later one (see the type's doc).
    early: BinaryHeap<Reverse<Expiry>>,
    /// Queued expiries per key-thumbprint digest. An expiry whose proof was recorded again
    /// (after it had expired, before it was purged) still counts until it is purged: purging
    /// everything before refusing a proof for the per-key bound makes the count exact there.
    per_key: DigestMap<usize>,
}

/// When a recorded proof expires (nanoseconds since the store's epoch), ordered by that time.
#[derive(Clone, Copy, PartialEq, Eq, PartialOrd, Ord)]
struct Expiry {
    at: u64,
    proof: u64,
    key: u64,
}

impl State {
    fn new() -> Self {
        Self {
            tables: (0..PROOF_TABLES).map(|_| DigestMap::default()).collect(),
            entries: 0,
            queue: VecDeque::new(),
            early: BinaryHeap::new(),
            per_key: DigestMap::default(),
        }
    }

    /// The table of `proof`, chosen by bits of its digest that the table's own hashing does
    /// not use (it takes the low bits for the slot and the top seven for the tag).
    fn table(&mut self, proof: u64) -> &mut DigestMap<u64> {
        let index = (proof >> 32) as usize % PROOF_TABLES;
        &mut self.tables[index]
    }

    /// Records `proof` (not remembered, or remembered and expired) until `at`.
    fn insert(&mut self, proof: u64, key: u64, at: u64) {
        if self.table(proof).insert(proof, at).is_none() {
            self.entries += 1;
        }
        self.queue_expiry(Expiry { at, proof, key });
    }

    fn queue_expiry(&mut self, expiry: Expiry) {
        *self.per_key.entry(expiry.key).or_insert(0) += 1;
        if self.queue.back().is_some_and(|last| last.at > expiry.at) {
            self.early.push(Reverse(expiry));
        } else {
            self.queue.push_back(expiry);
        }
    }

    /// The earliest queued expiry, if it is not after `now`, taken off its queue.
    fn pop_expired(&mut self, now: u64) -> Option<Expiry> {
        let (from_queue, next) = match (self.queue.front(), self.early.peek()) {
            (Some(q), Some(Reverse(e))) if e.at < q.at => (false, *e),
            (Some(q), _) => (true, *q),
            (None, Some(Reverse(e))) => (false, *e),
            (None, None) => return None,
        };
        if next.at > now {
            return None;
        }
        if from_queue {
            self.queue.pop_front();
        } else {
            self.early.pop();
        }
        Some(next)
    }

    /// Drops up to `limit` expired entries, oldest first.
    fn purge(&mut self, now: u64, limit: usize) {
        for _ in 0..limit {
            let Some(expiry) = self.pop_expired(now) else {
                return;
            };
            // The entry may have been recorded again since (a later expiry): it stays.
            if let Entry::Occupied(entry) = self.table(expiry.proof).entry(expiry.proof)
                && *entry.get() == expiry.at
            {
                entry.remove();
                self.entries -= 1;
            }
            if let Entry::Occupied(mut count) = self.per_key.entry(expiry.key) {
                *count.get_mut() = count.get().saturating_sub(1);
                if *count.get() == 0 {
                    count.remove();
                }
            }
        }
    }

    fn live_for(&self, key: u64) -> usize {
        self.per_key.get(&key).copied().unwrap_or(0)
    }
}

impl InMemoryReplayStore {
    /// A store that remembers at most `max_entries` proofs in total and `max_per_key` live
    /// proofs per key thumbprint. A bound of zero refuses every proof.
    pub fn new(max_entries: usize, max_per_key: usize) -> Self {
        Self {
            max_entries,
            max_per_key,
            digests: RandomState::new(),
            epoch: Instant::now(),
            state: Mutex::new(State::new()),
        }
    }

    /// How many proofs are remembered now (expired ones not yet purged included).
    pub fn len(&self) -> usize {
        self.lock().entries
    }

    /// Whether no proof is remembered.
    pub fn is_empty(&self) -> bool {
        self.len() == 0
    }

    fn lock(&self) -> std::sync::MutexGuard<'_, State> {
        // Nothing in the critical sections can panic half-way, so a poisoned state is still
        // consistent.
        self.state.lock().unwrap_or_else(PoisonError::into_inner)
    }

    fn key_digest(&self, jkt: &str) -> u64 {
        self.digests.hash_one(jkt)
    }

    /// [`ReplayStore::check_and_insert`] at the instant `now`.
    fn check_and_insert_at(
        &self,
        key: [u8; 32],
        jkt: &str,
        ttl: Duration,
        now: Instant,
    ) -> Result<bool, ReplayStoreError> {
        let proof = self.digests.hash_one(key);
        self.record(proof, self.key_digest(jkt), ttl, now)
    }

    /// Records the proof digest `proof` of the key digest `key` until `now + ttl`.
    fn record(
        &self,
        proof: u64,
        key: u64,
        ttl: Duration,
        now: Instant,
    ) -> Result<bool, ReplayStoreError> {
        let now =
            u64::try_from(now.saturating_duration_since(self.epoch).as_nanos()).unwrap_or(u64::MAX);
        let expires = u64::try_from(ttl.as_nanos())
            .ok()
            .and_then(|ttl| now.checked_add(ttl))
            .ok_or_else(|| {
                ReplayStoreError::Unavailable("proof lifetime out of range".to_owned())
            })?;
        let mut state = self.lock();
        let state = &mut *state;
        state.purge(now, PURGE_BATCH);
        let room = state.entries < self.max_entries && state.live_for(key) < self.max_per_key;
        // One probe of a table in the usual case: a new proof, or a replay.
        match state.table(proof).entry(proof) {
            Entry::Occupied(entry) if *entry.get() > now => return Ok(false),
            Entry::Occupied(mut entry) if room => *entry.get_mut() = expires,
            Entry::Vacant(entry) if room => {
                entry.insert(expires);
                state.entries += 1;
            }
            _ => {
                // At a bound: purge every expired entry (the proof's own old one included)
                // before refusing.
                state.purge(now, usize::MAX);
                if state.entries >= self.max_entries {
                    return Err(ReplayStoreError::Full);
                }
                if state.live_for(key) >= self.max_per_key {
                    return Err(ReplayStoreError::PerKeyLimit);
                }
                state.insert(proof, key, expires);
                return Ok(true);
            }
        }
        state.queue_expiry(Expiry {
            at: expires,
            proof,
            key,
        });
        Ok(true)
    }
}

impl Default for InMemoryReplayStore {
    /// [`DEFAULT_MAX_ENTRIES`] proofs in total, [`DEFAULT_MAX_PER_KEY`] per key.
    fn default() -> Self {
        Self::new(DEFAULT_MAX_ENTRIES, DEFAULT_MAX_PER_KEY)
    }
}

impl fmt::Debug for InMemoryReplayStore {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.debug_struct("InMemoryReplayStore")
            .field("max_entries", &self.max_entries)
            .field("max_per_key", &self.max_per_key)
            .field("len", &self.len())
            .finish()
    }
}

#[async_trait::async_trait]
impl ReplayStore for InMemoryReplayStore {
    async fn check_and_insert(
        &self,
        key: [u8; 32],
        jkt: &str,
        ttl: Duration,
    ) -> Result<bool, ReplayStoreError> {
        self.check_and_insert_at(key, jkt, ttl, Instant::now())
    }
}

/// `SHA-256(jkt || 0x00 || jti)`: the replay-store key of a proof.
pub(crate) fn replay_key(jkt: &str, jti: &str) -> [u8; 32] {
    let mut ctx = digest::Context::new(&digest::SHA256);
    ctx.update(jkt.as_bytes());
    ctx.update(&[0]);
    ctx.update(jti.as_bytes());
    let mut key = [0u8; 32];
    for (out, byte) in key.iter_mut().zip(ctx.finish().as_ref()) {
        *out = *byte;
    }
    key
}

#[cfg(test)]
#[allow(clippy::unwrap_used)]
mod tests {
    use super::*;
    use std::collections::HashMap;
    use std::sync::Arc;

    const TTL: Duration = Duration::from_secs(330);

    fn key(n: u32) -> [u8; 32] {
        let mut k = [0u8; 32];
        k[..4].copy_from_slice(&n.to_be_bytes());
        k
    }

    #[test]
    fn new_then_replay_then_expiry() {
        let store = InMemoryReplayStore::default();
        let t0 = Instant::now();
        assert_eq!(store.check_and_insert_at(key(1), "a", TTL, t0), Ok(true));
        assert_eq!(store.check_and_insert_at(key(1), "a", TTL, t0), Ok(false));
        assert_eq!(
            store.check_and_insert_at(key(1), "a", TTL, t0 + TTL - Duration::from_millis(1)),
            Ok(false)
        );
        // Once the window is closed the proof would be refused on its iat anyway; the key is
        // forgotten and may be recorded again.
        assert_eq!(
            store.check_and_insert_at(key(1), "a", TTL, t0 + TTL),
            Ok(true)
        );
        assert_eq!(store.len(), 1);
        assert_eq!(store.lock().live_for(store.key_digest("a")), 1);
    }

    #[test]
    fn full_store_fails_closed_until_entries_expire() {
        let store = InMemoryReplayStore::new(3, 10);
        let t0 = Instant::now();
        for n in 0..3 {
            assert_eq!(
                store.check_and_insert_at(key(n), &format!("k{n}"), TTL, t0),
                Ok(true)
            );
        }
        assert_eq!(
            store.check_and_insert_at(key(9), "k9", TTL, t0),
            Err(ReplayStoreError::Full)
        );
        // A replay is still recognised as one when full.
        assert_eq!(store.check_and_insert_at(key(0), "k0", TTL, t0), Ok(false));
        assert_eq!(
            store.check_and_insert_at(key(9), "k9", TTL, t0 + TTL),
            Ok(true)
        );
        assert_eq!(store.len(), 1);
        assert!(
            store.lock().per_key.len() == 1,
            "counters of purged keys are dropped"
        );
    }

    #[test]
    fn per_key_limit() {
        let store = InMemoryReplayStore::new(100, 2);
        let t0 = Instant::now();
        assert_eq!(store.check_and_insert_at(key(1), "a", TTL, t0), Ok(true));
        assert_eq!(store.check_and_insert_at(key(2), "a", TTL, t0), Ok(true));
        assert_eq!(
            store.check_and_insert_at(key(3), "a", TTL, t0),
            Err(ReplayStoreError::PerKeyLimit)
        );
        assert_eq!(
            store.check_and_insert_at(key(4), "b", TTL, t0),
            Ok(true),
            "other keys unaffected"
        );
        assert_eq!(
            store.check_and_insert_at(key(3), "a", TTL, t0 + TTL),
            Ok(true)
        );
    }

    #[test]
    fn purge_is_incremental_and_mixed_ttls_work() {
        let store = InMemoryReplayStore::new(10_000, 10_000);
        let t0 = Instant::now();
        for n in 0..1_000 {
            assert_eq!(
                store.check_and_insert_at(key(n), "a", Duration::from_secs(1), t0),
                Ok(true)
            );
        }
        assert_eq!(
            store.check_and_insert_at(key(5_000), "a", TTL, t0),
            Ok(true)
        );
        let later = t0 + Duration::from_secs(2);
        assert_eq!(
            store.check_and_insert_at(key(5_001), "a", TTL, later),
            Ok(true)
        );
        assert_eq!(
            store.len(),
            1_001 - PURGE_BATCH + 1,
            "one batch purged per call"
        );
        assert_eq!(
            store.check_and_insert_at(key(5_000), "a", TTL, later),
            Ok(false)
        );
        for n in 0..20 {
            let _ = store.check_and_insert_at(key(6_000 + n), "a", TTL, later);
        }
        assert_eq!(store.len(), 22);
        assert_eq!(store.lock().live_for(store.key_digest("a")), 22);
    }

    /// A proof given an earlier expiry than the last one recorded (another proof window on a
    /// shared store) still leaves in expiry order, and a later one is not purged early.
    #[test]
    fn an_earlier_expiry_after_a_later_one_is_purged_on_time() {
        let store = InMemoryReplayStore::new(10, 10);
        let t0 = Instant::now();
        assert_eq!(store.check_and_insert_at(key(1), "a", TTL, t0), Ok(true));
        let short = Duration::from_secs(1);
        assert_eq!(store.check_and_insert_at(key(2), "a", short, t0), Ok(true));
        assert_eq!(store.check_and_insert_at(key(2), "a", TTL, t0), Ok(false));
        let later = t0 + Duration::from_secs(2);
        assert_eq!(store.check_and_insert_at(key(3), "a", TTL, later), Ok(true));
        assert_eq!(
            store.len(),
            2,
            "the short-lived proof is gone, the others stay"
        );
        assert_eq!(
            store.check_and_insert_at(key(1), "a", TTL, later),
            Ok(false)
        );
        assert_eq!(store.check_and_insert_at(key(2), "a", TTL, later), Ok(true));
        assert_eq!(store.lock().live_for(store.key_digest("a")), 3);
    }

    /// A proof found expired before the purge reached it is recorded again at once; its old
    /// expiry, still queued, neither removes the new entry nor leaves a count behind.
    #[test]
    fn an_expired_proof_not_yet_purged_is_recorded_again() {
        let store = InMemoryReplayStore::new(1_000, 1_000);
        let t0 = Instant::now();
        let short = Duration::from_secs(1);
        for n in 0..200 {
            assert_eq!(store.check_and_insert_at(key(n), "a", short, t0), Ok(true));
        }
        let later = t0 + Duration::from_secs(2);
        // The first batch is purged; key 199's entry is still there, expired.
        assert_eq!(
            store.check_and_insert_at(key(199), "a", short, later),
            Ok(true)
        );
        assert_eq!(store.len(), 200 - PURGE_BATCH);
        assert_eq!(
            store.check_and_insert_at(key(199), "a", short, later),
            Ok(false)
        );
        // The next call purges the rest, key 199's old expiry included.
        assert_eq!(
            store.check_and_insert_at(key(500), "a", short, later),
            Ok(true)
        );
        assert_eq!(store.len(), 2);
        assert_eq!(
            store.check_and_insert_at(key(199), "a", short, later),
            Ok(false)
        );
        assert_eq!(store.lock().live_for(store.key_digest("a")), 2);
        let much_later = later + Duration::from_secs(2);
        assert_eq!(
            store.check_and_insert_at(key(501), "a", short, much_later),
            Ok(true)
        );
        assert_eq!(store.len(), 1);
        assert_eq!(store.lock().live_for(store.key_digest("a")), 1);
        let state = store.lock();
        assert_eq!(state.queue.len() + state.early.len(), 1);
    }

    /// Proofs spread over every table, and the count of all of them follows inserts and
    /// purges.
    #[test]
    fn proofs_spread_over_the_tables_and_are_counted() {
        let store = InMemoryReplayStore::new(100_000, 100_000);
        let small = InMemoryReplayStore::new(10_000, 10_000);
        let t0 = Instant::now();
        for n in 0..10_000 {
            assert_eq!(store.check_and_insert_at(key(n), "a", TTL, t0), Ok(true));
        }
        {
            let state = store.lock();
            assert_eq!(state.entries, 10_000);
            assert_eq!(state.tables.iter().map(HashMap::len).sum::<usize>(), 10_000);
            assert!(
                state.tables.iter().all(|t| t.len() > 50),
                "every table holds some: {:?}",
                state.tables.iter().map(HashMap::len).collect::<Vec<_>>()
            );
        }
        assert_eq!(store.check_and_insert_at(key(7), "a", TTL, t0), Ok(false));
        // Past the window, each call purges a batch: after enough calls only the new remain.
        let later = t0 + TTL;
        for n in 0..10_000 {
            assert_eq!(small.check_and_insert_at(key(n), "a", TTL, t0), Ok(true));
        }
        for n in 0..100 {
            assert_eq!(
                small.check_and_insert_at(key(20_000 + n), "a", TTL, later),
                Ok(true)
            );
        }
        let state = small.lock();
        assert_eq!(state.entries, 100);
        assert_eq!(state.tables.iter().map(HashMap::len).sum::<usize>(), 100);
    }

    /// What the store must answer, from the whole history: a proof is a replay while an
    /// accepted use of it has not expired; a new proof is refused when the live proofs (all,
    /// then its key's) are at their bound.
    struct Model {
        accepted: HashMap<u32, (Instant, u32)>,
    }

    impl Model {
        fn answer(
            &mut self,
            proof: u32,
            key: u32,
            ttl: Duration,
            now: Instant,
            (max_entries, max_per_key): (usize, usize),
        ) -> Result<bool, ReplayStoreError> {
            self.accepted.retain(|_, (expires, _)| *expires > now);
            if self.accepted.contains_key(&proof) {
                return Ok(false);
            }
            if self.accepted.len() >= max_entries {
                return Err(ReplayStoreError::Full);
            }
            if self.accepted.values().filter(|(_, k)| *k == key).count() >= max_per_key {
                return Err(ReplayStoreError::PerKeyLimit);
            }
            self.accepted.insert(proof, (now + ttl, key));
            Ok(true)
        }
    }

    proptest::proptest! {
        /// Any sequence of proofs, proof windows and clock steps gets the model's answers, and
        /// the store never holds fewer entries than the live proofs.
        #[test]
        fn answers_as_the_model_does(
            bounds in (1usize..8, 1usize..5),
            calls in proptest::collection::vec(
                // Clock steps in half seconds, so that calls land on expiry instants too.
                (0u32..24, proptest::sample::select(vec![1u64, 3, 330]), 0u64..4),
                1..300,
            ),
        ) {
            let store = InMemoryReplayStore::new(bounds.0, bounds.1);
            let mut model = Model { accepted: HashMap::new() };
            let mut now = Instant::now();
            for (proof, ttl_secs, half_seconds) in calls {
                now += Duration::from_millis(500 * half_seconds);
                let ttl = Duration::from_secs(ttl_secs);
                // A proof's key is part of its identity (`SHA-256(jkt || 0 || jti)`).
                let jkt = format!("k{}", proof % 4);
                let got = store.check_and_insert_at(key(proof), &jkt, ttl, now);
                let want = model.answer(proof, proof % 4, ttl, now, bounds);
                proptest::prop_assert_eq!(got, want, "proof {} at {:?}", proof, now);
                proptest::prop_assert!(store.len() >= model.accepted.len());
            }
        }
    }

    #[test]
    fn zero_bounds_refuse_everything_and_huge_ttl_fails_closed() {
        let t0 = Instant::now();
        assert_eq!(
            InMemoryReplayStore::new(0, 5).check_and_insert_at(key(1), "a", TTL, t0),
            Err(ReplayStoreError::Full)
        );
        assert_eq!(
            InMemoryReplayStore::new(5, 0).check_and_insert_at(key(1), "a", TTL, t0),
            Err(ReplayStoreError::PerKeyLimit)
        );
        assert!(matches!(
            InMemoryReplayStore::default().check_and_insert_at(key(1), "a", Duration::MAX, t0),
            Err(ReplayStoreError::Unavailable(_))
        ));
    }

    #[test]
    fn proofs_by_jkt_and_jti() {
        let store = InMemoryReplayStore::new(100, 2);
        let t0 = Instant::now();
        assert_eq!(
            store.check_and_insert_at(replay_key("a", "1"), "a", TTL, t0),
            Ok(true)
        );
        assert_eq!(
            store.check_and_insert_at(replay_key("a", "1"), "a", TTL, t0),
            Ok(false),
            "a replay"
        );
        assert_eq!(
            store.check_and_insert_at(replay_key("b", "1"), "b", TTL, t0),
            Ok(true),
            "another key's jti is its own"
        );
        assert_eq!(
            store.check_and_insert_at(replay_key("a1", ""), "a1", TTL, t0),
            Ok(true),
            "the pair is not the concatenation"
        );
        assert_eq!(
            store.check_and_insert_at(replay_key("a", "2"), "a", TTL, t0),
            Ok(true)
        );
        assert_eq!(
            store.check_and_insert_at(replay_key("a", "3"), "a", TTL, t0),
            Err(ReplayStoreError::PerKeyLimit)
        );
        assert_eq!(
            store.check_and_insert_at(replay_key("a", "3"), "a", TTL, t0 + TTL),
            Ok(true)
        );
    }

    /// One client at a few requests per second must not run into the per-key bound within a
    /// proof window (the old default, 1,000, refused a client above about 3 per second).
    #[test]
    fn the_default_store_takes_a_busy_client() {
        let store = InMemoryReplayStore::default();
        let t0 = Instant::now();
        for n in 0..5_000 {
            assert_eq!(
                store.check_and_insert_at(replay_key("busy", &n.to_string()), "busy", TTL, t0),
                Ok(true)
            );
        }
        assert_eq!(store.len(), 5_000);
    }

    #[test]
    fn digests_differ_between_stores() {
        let (one, two) = (
            InMemoryReplayStore::default(),
            InMemoryReplayStore::default(),
        );
        assert_ne!(one.key_digest("jkt"), two.key_digest("jkt"));
    }

    #[test]
    fn display_and_debug() {
        assert_eq!(
            ReplayStoreError::Full.to_string(),
            "DPoP replay store is full"
        );
        assert!(
            ReplayStoreError::Unavailable("down".into())
                .to_string()
                .ends_with("down")
        );
        let dbg = format!("{:?}", InMemoryReplayStore::default());
        assert!(
            dbg.contains("max_entries: 1000000") && dbg.contains("max_per_key: 100000"),
            "{dbg}"
        );
    }

    #[tokio::test(flavor = "multi_thread", worker_threads = 4)]
    async fn exactly_one_of_fifty_concurrent_inserts_wins() {
        let store = Arc::new(InMemoryReplayStore::default());
        let barrier = Arc::new(tokio::sync::Barrier::new(50));
        let tasks: Vec<_> = (0..50)
            .map(|_| {
                let store = Arc::clone(&store);
                let barrier = Arc::clone(&barrier);
                tokio::spawn(async move {
                    barrier.wait().await;
                    store.check_and_insert(key(42), "jkt", TTL).await
                })
            })
            .collect();
        let mut wins = 0;
        for task in tasks {
            if task.await.unwrap().unwrap() {
                wins += 1;
            }
        }
        assert_eq!(wins, 1);
        assert_eq!(store.len(), 1);
    }

    #[tokio::test]
    async fn usable_as_a_trait_object() {
        let store: Arc<dyn ReplayStore> = Arc::new(InMemoryReplayStore::new(10, 10));
        assert_eq!(store.check_and_insert(key(1), "a", TTL).await, Ok(true));
        assert_eq!(store.check_and_insert(key(1), "a", TTL).await, Ok(false));
    }
}
