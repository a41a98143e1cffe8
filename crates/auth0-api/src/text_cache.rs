//! A bounded, sharded map from a text (an access token, a DPoP proof's header segment) to what
//! checking it produced, for the texts that come back: the verified-token cache
//! ([`crate::verify::token_cache`]) and the proof-header cache ([`crate::dpop`]).
//!
//! - **Lookup**: entries are found by a keyed 64-bit hash (SipHash-1-3 with a per-cache random
//!   key) of the text's length and its bytes ([`Keyed`]: the last `n` of them, or all), and a
//!   hit is only a hit when the stored text is byte for byte the presented one (compared in
//!   constant time), so two texts can never share an entry; a collision only costs a miss.
//! - **Admission on the second sighting**: most texts seen only once are not worth an insert
//!   (and an eviction). A text is kept when it passed its checks and was seen before: each
//!   shard keeps a small bitset of the keys of texts that reached their checks (a doorkeeper;
//!   32 bits per entry of capacity, at most 4 MiB) and starts it afresh once an eighth of its
//!   bits are set, marking the keys of the texts it keeps again. A first sighting sets two
//!   bits of one 64-bit word (a blocked Bloom filter: one load and one atomic OR, as one bit
//!   costs); a text is taken for one seen before when both of its bits are set, so a repeated
//!   text is kept on its second use. A false positive of the bitset only admits a text early,
//!   but each costs an insert and, in a full cache, an eviction: with two bits it is about
//!   1.5% at the fullest (the unit test measures it), under 1% on average over a reset's
//!   cycle, where one bit per text gave up to 12.5%, and a stream of distinct tokens paid an
//!   insert for about one in twelve.
//! - **A text never seen is not looked up**: every kept text's bits are set (marked when it
//!   was admitted, and again at each reset), so a clear bit proves the text absent and the
//!   lookup stops there, without the shard's lock or its index: a distinct token costs one
//!   load of a word of the bitset, not a locked probe of a table whose lines other tokens'
//!   traffic has evicted. (A lookup racing with a reset may find a kept text's bit cleared:
//!   it misses once, which is what a miss costs, never a wrong answer.) Shards whose bitset is
//!   too small to hold their entries' bits twice over (caches above a million entries, see
//!   `DOOR_MAX_BITS`) always look up.
//! - **Bound**: at most `max_entries` texts, split over 16 shards (one when `max_entries` < 64)
//!   and evicted by CLOCK (second chance): a text used since the hand last passed stays. The
//!   hand looks at [`MAX_HAND_STEPS`] slots at most per insert; when each was used since it
//!   last passed, the newcomer is not admitted. That makes the cache scan-resistant: more
//!   distinct texts cycling than a shard holds keep the kept ones kept (hits for all but the
//!   overflow) instead of each insert evicting the text asked for next (no hit at all, as plain
//!   LRU or CLOCK give). Entries that stop being used lose their mark on the hand's next pass
//!   and make room then. Memory: the texts themselves (each capped by its caller) and their
//!   entries, plus the doorkeeper.

use std::collections::HashMap;
use std::hash::{BuildHasher, Hasher, RandomState};
use std::sync::atomic::{AtomicBool, AtomicU64, AtomicUsize, Ordering::Relaxed};
use std::sync::{Arc, PoisonError, RwLock};

use aws_lc_rs::constant_time;

use crate::digest_map::DigestMap;

/// Shards of a cache of at least [`SHARDED_FROM`] entries.
const SHARDS: usize = 16;
const SHARDED_FROM: usize = 64;

/// Doorkeeper bits per entry of capacity (a text sets two), and their bounds for the whole
/// cache.
const DOOR_BITS_PER_ENTRY: usize = 32;
const DOOR_MIN_BITS: usize = 1 << 12;
const DOOR_MAX_BITS: usize = 1 << 25;

/// Most slots an insert's CLOCK hand looks at before it gives up and does not admit the
/// newcomer.
const MAX_HAND_STEPS: usize = 8;

/// A bounded map from a text to what checking it produced (see the module).
pub(crate) struct TextCache<V> {
    hasher: RandomState,
    keyed: Keyed,
    shards: Box<[Shard<V>]>,
}

/// Which bytes of a text its lookup key hashes (with its length).
#[derive(Debug, Clone, Copy)]
pub(crate) enum Keyed {
    /// The last `n` bytes: enough for texts whose ends differ (a token ends with its
    /// signature), and the same cost however long the text.
    Tail(usize),
    /// Every byte.
    Whole,
}

struct Shard<V> {
    table: RwLock<Table<Arc<V>>>,
    door: Doorkeeper,
    /// Whether a clear doorkeeper bit proves a text absent (see the module).
    filters: bool,
}

/// One shard's entries: an index from lookup key to slot, and the slots the CLOCK hand sweeps.
struct Table<V> {
    /// The lookup keys are keyed hashes already: the index uses them as they are.
    index: DigestMap<usize>,
    slots: Vec<Option<Slot<V>>>,
    /// Slots emptied by [`Table::remove`], filled first.
    free: Vec<usize>,
    capacity: usize,
    hand: usize,
}

struct Slot<V> {
    key: u64,
    text: Box<str>,
    entry: V,
    /// Used since the hand last passed (set by hits under the read lock).
    referenced: AtomicBool,
}

/// Keys of texts seen (probably) since the last reset.
struct Doorkeeper {
    words: Box<[AtomicU64]>,
    set: AtomicUsize,
    reset_at: usize,
}

impl Doorkeeper {
    fn new(bits: usize) -> Self {
        let words = bits.next_power_of_two().div_ceil(64).max(1);
        Self {
            words: (0..words).map(|_| AtomicU64::new(0)).collect(),
            set: AtomicUsize::new(0),
            reset_at: (words * 64 / 8).max(1),
        }
    }

    /// The word of `key`'s bits and their mask: two distinct bits of one word (a blocked Bloom
    /// filter), so that a key is taken for one seen before only when both are set.
    fn bits(&self, key: u64) -> (&AtomicU64, u64) {
        // A power of two: `words` has `bits / 64` entries. The word comes from bits 6 and up
        // of the key, the two positions from bits 0-5 and 48-53 (the second never the first).
        let word = (key >> 6) as usize & (self.words.len() - 1);
        let first = key % 64;
        let second = (first + 1 + (key >> 48) % 63) % 64;
        (&self.words[word], (1u64 << first) | (1u64 << second))
    }

    /// Whether both of `key`'s bits are set (without setting them).
    fn marked(&self, key: u64) -> bool {
        let (word, mask) = self.bits(key);
        word.load(Relaxed) & mask == mask
    }

    /// Sets `key`'s bits: `Err` when both were set already, `Ok(true)` when the set is due
    /// for a reset.
    fn mark(&self, key: u64) -> Result<bool, ()> {
        let (word, mask) = self.bits(key);
        if word.load(Relaxed) & mask == mask {
            return Err(());
        }
        let new = (mask & !word.fetch_or(mask, Relaxed)).count_ones() as usize;
        if new == 0 {
            return Err(());
        }
        Ok(self.set.fetch_add(new, Relaxed) + new >= self.reset_at)
    }

    /// Whether `key` was seen before; marks it seen. Forgets everything when an eighth of the
    /// bits are set, then marks `kept` (the keys of the kept texts) again.
    fn seen_before(&self, key: u64, kept: impl FnOnce(&mut dyn FnMut(u64))) -> bool {
        match self.mark(key) {
            Err(()) => true,
            Ok(false) => false,
            Ok(true) => {
                // A racing mark may be lost, which only delays an admission.
                self.set.store(0, Relaxed);
                for w in self.words.iter() {
                    w.store(0, Relaxed);
                }
                kept(&mut |k| {
                    // Never a reset from here: the caller sized the set for its entries.
                    let _ = self.mark(k);
                });
                false
            }
        }
    }
}

impl<V> TextCache<V> {
    /// Room for `max_entries` texts (0 keeps none).
    pub(crate) fn new(max_entries: usize, keyed: Keyed) -> Self {
        let shards = if max_entries >= SHARDED_FROM {
            SHARDS
        } else {
            1
        };
        let door_bits = max_entries
            .saturating_mul(DOOR_BITS_PER_ENTRY)
            .clamp(DOOR_MIN_BITS, DOOR_MAX_BITS)
            .next_power_of_two()
            / shards;
        Self {
            hasher: RandomState::new(),
            keyed,
            shards: (0..shards)
                .map(|i| {
                    let capacity = max_entries / shards + usize::from(i < max_entries % shards);
                    let door = Doorkeeper::new(door_bits);
                    Shard {
                        table: RwLock::new(Table::new(capacity)),
                        // Room for the kept texts' bits (two each) and as many new ones
                        // before a reset.
                        filters: capacity.saturating_mul(4) <= door.reset_at,
                        door,
                    }
                })
                .collect(),
        }
    }

    /// The lookup key of a text: a keyed hash of its length and its bytes (see [`Keyed`]).
    pub(crate) fn key(&self, text: &str) -> u64 {
        let bytes = text.as_bytes();
        let hashed = match self.keyed {
            Keyed::Tail(n) => &bytes[bytes.len().saturating_sub(n)..],
            Keyed::Whole => bytes,
        };
        let mut h = self.hasher.build_hasher();
        h.write_usize(bytes.len());
        h.write(hashed);
        h.finish()
    }

    fn shard(&self, key: u64) -> &Shard<V> {
        // Bits the index's probing (low bits) and tags (top bits) leave alone.
        &self.shards[(key >> 32) as usize % self.shards.len()]
    }

    /// The entry of exactly this text, if kept (compared in constant time).
    pub(crate) fn get(&self, key: u64, text: &str) -> Option<Arc<V>> {
        let shard = self.shard(key);
        if shard.filters && !shard.door.marked(key) {
            return None;
        }
        let table = shard.table.read().unwrap_or_else(PoisonError::into_inner);
        let slot = table.slots.get(*table.index.get(&key)?)?.as_ref()?;
        constant_time::verify_slices_are_equal(slot.text.as_bytes(), text.as_bytes()).ok()?;
        if !slot.referenced.load(Relaxed) {
            slot.referenced.store(true, Relaxed);
        }
        Some(Arc::clone(&slot.entry))
    }

    /// Whether a text that just passed its checks should be kept: it was seen before. Marks
    /// it seen.
    pub(crate) fn admits(&self, key: u64) -> bool {
        let shard = self.shard(key);
        shard.door.seen_before(key, |mark| {
            let table = shard.table.read().unwrap_or_else(PoisonError::into_inner);
            for &k in table.index.keys() {
                mark(k);
            }
        })
    }

    /// Keeps `entry` for `text` (`key` is its [`key`](Self::key)), evicting by CLOCK when the
    /// shard is full, or not at all when every slot the hand looks at was used since it
    /// last passed.
    pub(crate) fn insert(&self, key: u64, text: &str, entry: Arc<V>) {
        // Admitted on its second sighting, just checked: it counts as used, so that a full
        // table of texts in use does not evict one of them for it (see MAX_HAND_STEPS).
        let slot = Slot {
            key,
            text: text.into(),
            entry,
            referenced: AtomicBool::new(true),
        };
        let evicted = self
            .shard(key)
            .table
            .write()
            .unwrap_or_else(PoisonError::into_inner)
            .insert(slot);
        drop(evicted);
    }

    /// Forgets the text of `key`.
    pub(crate) fn remove(&self, key: u64) {
        let removed = self
            .shard(key)
            .table
            .write()
            .unwrap_or_else(PoisonError::into_inner)
            .remove(&key);
        drop(removed);
    }

    /// Whether exactly `text` is kept.
    #[cfg(test)]
    pub(crate) fn contains(&self, text: &str) -> bool {
        self.get(self.key(text), text).is_some()
    }

    /// How many texts are kept.
    #[cfg(test)]
    pub(crate) fn len(&self) -> usize {
        self.shards
            .iter()
            .map(|s| {
                s.table
                    .read()
                    .unwrap_or_else(PoisonError::into_inner)
                    .index
                    .len()
            })
            .sum()
    }
}

impl<V> Table<V> {
    fn new(capacity: usize) -> Self {
        Self {
            index: HashMap::default(),
            slots: Vec::new(),
            free: Vec::new(),
            capacity,
            hand: 0,
        }
    }

    /// Takes the entry of `key` out, leaving its slot free.
    fn remove(&mut self, key: &u64) -> Option<Slot<V>> {
        let i = self.index.remove(key)?;
        let removed = self.slots.get_mut(i).and_then(Option::take);
        if removed.is_some() {
            self.free.push(i);
        }
        removed
    }

    /// Stores `slot`, answering what it displaced (dropped by the caller, outside the lock).
    fn insert(&mut self, slot: Slot<V>) -> Option<Slot<V>> {
        if self.capacity == 0 {
            return Some(slot);
        }
        if let Some(&i) = self.index.get(&slot.key) {
            return self.slots.get_mut(i).and_then(|s| s.replace(slot));
        }
        if let Some(i) = self.free.pop() {
            self.index.insert(slot.key, i);
            self.slots[i] = Some(slot);
            return None;
        }
        if self.slots.len() < self.capacity {
            self.index.insert(slot.key, self.slots.len());
            self.slots.push(Some(slot));
            return None;
        }
        // CLOCK with a bounded hand: the first of the next MAX_HAND_STEPS slots that is empty
        // or was not used since the hand last passed (clearing the marks on the way); if there
        // is none, the newcomer is not admitted.
        let len = self.slots.len();
        let mut found = None;
        for _ in 0..MAX_HAND_STEPS.min(len) {
            let i = self.hand % len;
            self.hand = (i + 1) % len;
            match &self.slots[i] {
                Some(s) if s.referenced.swap(false, Relaxed) => {}
                _ => {
                    found = Some(i);
                    break;
                }
            }
        }
        let Some(victim) = found else {
            return Some(slot);
        };
        let key = slot.key;
        let old = self.slots[victim].replace(slot);
        if let Some(o) = &old {
            self.index.remove(&o.key);
        }
        self.index.insert(key, victim);
        old
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn keys(t: &Table<()>) -> Vec<u64> {
        let mut k: Vec<u64> = t.slots.iter().flatten().map(|s| s.key).collect();
        k.sort_unstable();
        k
    }

    #[test]
    fn doorkeeper_admits_the_second_sighting_and_forgets() {
        // One word (64 bits, reset at 8 set). Small keys set bits `k` and `k + 1`.
        let d = Doorkeeper::new(64);
        let none = |_: &mut dyn FnMut(u64)| {};
        assert!(!d.seen_before(0, none));
        assert!(d.seen_before(0, none));
        assert!(!d.seen_before(2, none));
        assert!(!d.seen_before(4, none));
        // The eighth bit set resets the set, then the kept keys (here 40) are marked again.
        assert!(!d.seen_before(6, |mark| mark(40)));
        assert!(d.marked(40), "a kept key is marked again");
        assert!(!d.marked(6) && !d.marked(2));
        assert!(!d.seen_before(0, none), "forgotten after the reset");
        // One of its two bits set (by 0) is not a sighting.
        assert!(!d.marked(1));
        assert!(!d.seen_before(1, none));
        assert!(d.seen_before(1, none));
    }

    /// Two bits per key: texts that were never seen are rarely taken for seen ones, even with
    /// the bitset as full as it gets before a reset (an eighth of its bits set).
    #[test]
    fn doorkeeper_false_sightings_are_rare() {
        let bits = 1 << 14;
        let d = Doorkeeper::new(bits);
        let hasher = RandomState::new();
        let key = |i: u64| hasher.hash_one(i);
        let mut i = 0;
        // Fill to just below the reset.
        while d.set.load(Relaxed) + 2 < d.reset_at {
            d.seen_before(key(i), |_| {});
            i += 1;
        }
        let trials: usize = 20_000;
        let false_sightings = (0..trials)
            .filter(|&j| d.marked(key(1 << 40 | j as u64)))
            .count();
        // One bit per key would give an eighth (2,500); two in one word about 1.5% (300).
        assert!(
            false_sightings < trials / 25,
            "{false_sightings} of {trials}"
        );
    }

    /// A text never seen is not looked up (its bit is clear), and a kept text stays found
    /// across every reset of the doorkeeper, however many distinct texts pass.
    #[test]
    fn kept_texts_survive_resets_and_unseen_texts_skip_the_table() {
        // One shard (below SHARDED_FROM), holding all the kept texts.
        let c = TextCache::new(50, Keyed::Whole);
        assert!(c.shards.iter().all(|s| s.filters));
        let kept: Vec<String> = (0..50).map(|i| format!("kept-{i}")).collect();
        for t in &kept {
            let key = c.key(t);
            c.admits(key);
            assert!(c.admits(key));
            c.insert(key, t, Arc::new(()));
        }
        // A text whose bit is clear (the first such of a few candidates) is absent.
        let stranger = (0..)
            .map(|i| format!("never-seen-{i}"))
            .find(|t| !c.shard(c.key(t)).door.marked(c.key(t)))
            .unwrap();
        assert!(!c.contains(&stranger));
        for i in 0..20_000 {
            let t = format!("passing-{i}");
            c.admits(c.key(&t));
            if i % 1_000 == 0 {
                assert!(kept.iter().all(|t| c.contains(t)), "after {i} texts");
            }
        }
        assert!(kept.iter().all(|t| c.contains(t)));
        assert_eq!(c.len(), 50);
        // Too large a cache for its bitset: every lookup goes to the table.
        let big = TextCache::<()>::new(4_000_000, Keyed::Whole);
        assert!(big.shards.iter().all(|s| !s.filters));
    }

    #[test]
    fn lookup_keys_depend_on_the_keyed_bytes_and_length() {
        let tail = TextCache::<()>::new(100, Keyed::Tail(32));
        let whole = TextCache::<()>::new(100, Keyed::Whole);
        let a = "x".repeat(100);
        for c in [&tail, &whole] {
            assert_eq!(c.key(&a), c.key(&a.clone()));
            assert_ne!(c.key(&a), c.key(&"x".repeat(101)));
            assert_ne!(c.key(&a), c.key(&format!("{}y", "x".repeat(99))));
            assert_eq!(c.key(""), c.key(""));
        }
        // Only the whole text tells texts apart that end alike.
        let b = format!("y{}", "x".repeat(99));
        assert_eq!(tail.key(&a), tail.key(&b));
        assert_ne!(whole.key(&a), whole.key(&b));
    }

    #[test]
    fn a_hit_needs_the_same_text_and_an_admission_the_second_sighting() {
        let c = TextCache::new(100, Keyed::Tail(4));
        let (a, b) = ("aaaa-same", "bbbb-same");
        let key = c.key(a);
        assert_eq!(key, c.key(b), "same tail and length");
        assert!(!c.admits(key));
        assert!(c.admits(key));
        c.insert(key, a, Arc::new(1));
        assert_eq!(c.get(key, a).as_deref(), Some(&1));
        assert!(c.get(key, b).is_none(), "another text never hits");
        assert!(c.contains(a) && !c.contains(b));
        assert_eq!(c.len(), 1);
        c.remove(key);
        assert!(!c.contains(a));
        assert_eq!(c.len(), 0);
    }

    #[test]
    fn shards_split_the_capacity_exactly() {
        for n in [0, 1, 63, 64, 100, 10_000] {
            let c = TextCache::<()>::new(n, Keyed::Whole);
            let total: usize = c
                .shards
                .iter()
                .map(|s| s.table.read().unwrap().capacity)
                .sum();
            assert_eq!(total, n);
        }
    }

    fn make(key: u64) -> Slot<()> {
        Slot {
            key,
            text: key.to_string().into(),
            entry: (),
            referenced: AtomicBool::new(false),
        }
    }

    #[test]
    fn clock_keeps_the_bound_and_gives_used_entries_a_second_chance() {
        {
            let t = &mut Table::new(3);
            for k in 1..=3 {
                assert!(t.insert(make(k)).is_none());
            }
            // 1 used: 2 goes first.
            t.slots[0].as_ref().unwrap().referenced.store(true, Relaxed);
            assert_eq!(t.insert(make(4)).unwrap().key, 2);
            assert_eq!(keys(t), [1, 3, 4]);
            assert_eq!(t.insert(make(5)).unwrap().key, 3);
            // 1's mark was cleared on the way: it goes next.
            assert_eq!(t.insert(make(6)).unwrap().key, 1);
            assert_eq!(keys(t), [4, 5, 6]);
            assert_eq!(t.index.len(), 3);
            // The same key again replaces its entry.
            assert_eq!(t.insert(make(5)).unwrap().key, 5);
            assert_eq!(keys(t), [4, 5, 6]);
        }
        let mut t = Table::new(0);
        assert!(t.insert(make(1)).is_some());
        assert!(t.slots.is_empty());
    }

    #[test]
    fn clock_is_scan_resistant_and_reuses_removed_slots() {
        let n = 32;
        let t = &mut Table::new(n);
        for k in 0..n as u64 {
            assert!(t.insert(make(k)).is_none());
        }
        // Every entry used since the hand passed: a newcomer is refused, nothing is evicted,
        // and the hand clears MAX_HAND_STEPS marks.
        for s in t.slots.iter().flatten() {
            s.referenced.store(true, Relaxed);
        }
        for k in 100..100 + (n / MAX_HAND_STEPS) as u64 {
            assert_eq!(t.insert(make(k)).unwrap().key, k);
        }
        assert_eq!(keys(t), (0..n as u64).collect::<Vec<_>>());
        // Once the hand has gone round, the first slot it cleared (not used since) goes.
        assert_eq!(t.insert(make(200)).unwrap().key, 0);
        // A cyclic pattern over more tokens than the table holds keeps most of them cached.
        let t = &mut Table::new(n);
        let (mut hits, mut lookups) = (0, 0);
        for round in 0..50 {
            for k in 0..(n as u64 + 4) {
                let hit = t
                    .index
                    .get(&k)
                    .and_then(|&i| t.slots[i].as_ref())
                    .map(|s| s.referenced.store(true, Relaxed))
                    .is_some();
                if round > 0 {
                    lookups += 1;
                    hits += usize::from(hit);
                }
                if !hit {
                    // As `TextCache::insert` stores them: used.
                    let slot = make(k);
                    slot.referenced.store(true, Relaxed);
                    drop(t.insert(slot));
                }
            }
        }
        assert!(hits * 100 >= lookups * 80, "{hits} hits of {lookups}");
        // A removed entry's slot is used by the next insert, however full the table.
        let removed = t
            .remove(&t.slots[5].as_ref().unwrap().key.clone())
            .unwrap()
            .key;
        assert!(t.insert(make(999)).is_none());
        assert_eq!(t.index.get(&999), Some(&5));
        assert!(!keys(t).contains(&removed));
    }
}
