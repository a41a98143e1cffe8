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
//! Bounded: at most [`MAX_ISSUERS`] pairs (one per configured domain at most); a new issuer
//! takes a free slot or one whose pair is no longer current, never evicts a live one, so many
//! issuers cannot make the memory churn.

use std::sync::Arc;
use std::time::Instant;

use arc_swap::ArcSwap;

use crate::fetch::discovery::Discovery;
use crate::fetch::document_cache::Entry;
use crate::fetch::jwks::KeySet;

/// Most issuers remembered.
pub(crate) const MAX_ISSUERS: usize = 16;

/// An issuer's discovery document and key set, as the caches held them.
pub(crate) struct Resolved {
    pub(crate) discovery: Arc<Entry<Arc<Discovery>>>,
    pub(crate) keys: Arc<Entry<KeySet>>,
}

impl Resolved {
    /// The issuer tokens must carry, verbatim.
    fn issuer(&self) -> &str {
        &self.discovery.value.issuer
    }

    fn is_current(&self, now: Instant) -> bool {
        self.discovery.is_current(now) && self.keys.is_current(now)
    }
}

/// The remembered issuers of one client (copy on write: written once per issuer and refresh).
pub(crate) struct ResolvedIssuers {
    slots: ArcSwap<Vec<Arc<Resolved>>>,
    capacity: usize,
}

impl ResolvedIssuers {
    /// Room for `capacity` issuers (at most [`MAX_ISSUERS`]; 0 remembers nothing).
    pub(crate) fn new(capacity: usize) -> Self {
        Self {
            slots: ArcSwap::from_pointee(Vec::new()),
            capacity: capacity.min(MAX_ISSUERS),
        }
    }

    /// Runs `f` on the current pair of `issuer`, if one is remembered; `None` otherwise.
    pub(crate) fn with<R>(
        &self,
        issuer: &str,
        now: Instant,
        f: impl FnOnce(&Resolved) -> R,
    ) -> Option<R> {
        if self.capacity == 0 {
            return None;
        }
        let slots = self.slots.load();
        let found = slots
            .iter()
            .find(|r| r.issuer() == issuer)
            .filter(|r| r.is_current(now))?;
        Some(f(found))
    }

    /// Remembers the pair a full resolution ended with (nothing is written when it is already
    /// remembered, or when every slot holds another issuer's current pair).
    pub(crate) fn remember(
        &self,
        discovery: &Arc<Entry<Arc<Discovery>>>,
        keys: &Arc<Entry<KeySet>>,
    ) {
        if self.capacity == 0 || discovery.value.issuer.is_empty() {
            return;
        }
        let same =
            |r: &Resolved| Arc::ptr_eq(&r.discovery, discovery) && Arc::ptr_eq(&r.keys, keys);
        if self.slots.load().iter().any(|r| same(r)) {
            return;
        }
        let now = Instant::now();
        let pair = Arc::new(Resolved {
            discovery: discovery.clone(),
            keys: keys.clone(),
        });
        self.slots.rcu(|slots| {
            let mut next: Vec<Arc<Resolved>> = slots.as_ref().clone();
            let issuer = pair.issuer();
            if let Some(slot) = next.iter_mut().find(|r| r.issuer() == issuer) {
                *slot = pair.clone();
            } else if next.len() < self.capacity {
                next.push(pair.clone());
            } else if let Some(slot) = next.iter_mut().find(|r| !r.is_current(now)) {
                *slot = pair.clone();
            }
            next
        });
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
            Arc::new(Entry::new(KeySet::empty(), ttl, Duration::ZERO)),
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
    }
}
