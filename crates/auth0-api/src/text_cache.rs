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
//!   16 bits per entry of capacity, at most 2 MiB) and starts it afresh once an eighth of its
//!   bits are set. A first sighting costs one bit; a repeated text is kept on its second use.
//!   A false positive of the bitset (at most 1 in 8) only admits a text early.
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

/// Doorkeeper bits per entry of capacity, and their bounds for the whole cache.
const DOOR_BITS_PER_ENTRY: usize = 16;
const DOOR_MIN_BITS: usize = 1 << 12;
const DOOR_MAX_BITS: usize = 1 << 24;

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

    /// Whether `key` was seen before; marks it seen.
    fn seen_before(&self, key: u64) -> bool {
        // A power of two: `words` has `bits / 64` entries.
        let bit = key as usize & (self.words.len() * 64 - 1);
        let (word, mask) = (&self.words[bit / 64], 1u64 << (bit % 64));
        if word.load(Relaxed) & mask != 0 || word.fetch_or(mask, Relaxed) & mask != 0 {
            return true;
        }
        if self.set.fetch_add(1, Relaxed) + 1 >= self.reset_at {
            // Forget everything: a racing mark may be lost, which only delays an admission.
            self.set.store(0, Relaxed);
            for w in self.words.iter() {
                w.store(0, Relaxed);
            }
        }
        false
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
                .map(|i| Shard {
                    table: RwLock::new(Table::new(
                        max_entries / shards + usize::from(i < max_entries % shards),
                    )),
                    door: Doorkeeper::new(door_bits),
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
        let table = self
            .shard(key)
            .table
            .read()
            .unwrap_or_else(PoisonError::into_inner);
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
        self.shard(key).door.seen_before(key)
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
        let d = Doorkeeper::new(64);
        assert!(!d.seen_before(3));
        assert!(d.seen_before(3));
        assert!(!d.seen_before(5));
        // 64 bits: the eighth new bit resets the set (3 and 5 were two of them).
        for k in 10..16 {
            assert!(!d.seen_before(k));
        }
        assert!(!d.seen_before(3), "forgotten after the reset");
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
