//! Parsed discovery and JWKS documents, kept ready to use and never a reason to stall:
//!
//! - **single flight**: concurrent misses for one URL share one load;
//! - **refresh ahead**: past 80% of its TTL an entry is refreshed in the background while
//!   requests keep using it, so steady-state requests never wait on the tenant;
//! - **stale if error**: when a refresh fails, the last good document keeps serving for a
//!   bounded window (default 1 h) with a warning, and failed refreshes back off instead of
//!   piling up;
//! - **bounded**: at most `max_entries` documents, least recently used evicted;
//! - **cheap to read**: a hit is a read lock and one hash lookup, no allocation; an entry that
//!   leaves the map is marked retired, so that a reference kept elsewhere
//!   ([`crate::fetch::resolved`]) knows to look again.
//!
//! Documents come through [`DocumentLoader`](crate::fetch::loader::DocumentLoader): the
//! [`CacheAdapter`](crate::fetch::cache::CacheAdapter) first, then the network.

use std::collections::HashMap;
use std::sync::atomic::{AtomicBool, AtomicU64, Ordering};
use std::sync::{Arc, Mutex, PoisonError, RwLock};
use std::time::{Duration, Instant};

use crate::fetch::loader::{DocumentError, DocumentLoader};
use crate::jose::jws::JsonObject;

/// Fraction of the TTL after which a background refresh starts.
const REFRESH_AHEAD_AT: f64 = 0.8;
/// Longest pause between two refresh attempts of a document that failed to refresh.
const MAX_RETRY_BACKOFF: Duration = Duration::from_secs(10);

/// A parsed document and its clock.
pub(crate) struct Entry<T> {
    pub(crate) value: T,
    pub(crate) loaded_at: Instant,
    fresh_until: Instant,
    refresh_at: Instant,
    stale_until: Instant,
    backoff: Duration,
    refreshing: AtomicBool,
    /// Set once the entry has left the map (replaced by a newer load, or evicted): holders of
    /// a remembered reference (see [`crate::fetch::resolved`]) must look the URL up again.
    retired: AtomicBool,
    /// When the entry was last used, in milliseconds since the cache's creation (for LRU).
    last_used: AtomicU64,
    /// Milliseconds after `loaded_at` before which no new refresh is tried (after a failure).
    retry_after_ms: AtomicU64,
}

impl<T> Entry<T> {
    pub(crate) fn new(value: T, ttl: Duration, stale_window: Duration) -> Self {
        let now = Instant::now();
        Self {
            value,
            loaded_at: now,
            fresh_until: now + ttl,
            refresh_at: now + ttl.mul_f64(REFRESH_AHEAD_AT),
            stale_until: now + ttl + stale_window,
            backoff: ttl.min(MAX_RETRY_BACKOFF),
            refreshing: AtomicBool::new(false),
            retired: AtomicBool::new(false),
            last_used: AtomicU64::new(0),
            retry_after_ms: AtomicU64::new(0),
        }
    }

    /// Whether a lookup at `now` would answer this entry as it is, with nothing to do: still
    /// in the map and not yet due for a refresh.
    pub(crate) fn is_current(&self, now: Instant) -> bool {
        now < self.refresh_at && !self.retired.load(Ordering::Relaxed)
    }

    fn retire(&self) {
        self.retired.store(true, Ordering::Relaxed);
    }

    fn in_backoff(&self, now: Instant) -> bool {
        let since = now.saturating_duration_since(self.loaded_at).as_millis();
        since < u128::from(self.retry_after_ms.load(Ordering::Acquire))
    }

    fn back_off(&self, now: Instant) {
        let until = now.saturating_duration_since(self.loaded_at) + self.backoff;
        let ms = u64::try_from(until.as_millis()).unwrap_or(u64::MAX);
        self.retry_after_ms.store(ms, Ordering::Release);
    }
}

type Parse<T> = Arc<dyn Fn(JsonObject) -> Result<T, DocumentError> + Send + Sync>;

/// Outcome of one shared load, handed to every request that waited for it.
type LoadCell<T> = tokio::sync::OnceCell<Result<Arc<Entry<T>>, DocumentError>>;

/// The maps behind a [`DocumentCache`], shared by its clones.
struct Shared<T> {
    /// Documents by URL. Read on every request: a read lock and one hash lookup.
    map: RwLock<HashMap<String, Arc<Entry<T>>>>,
    /// Loads under way, one per URL (single flight): concurrent misses await the same cell.
    inflight: Mutex<HashMap<String, Arc<LoadCell<T>>>>,
    /// Origin of the entries' `last_used` stamps.
    base: Instant,
    max_entries: usize,
}

/// Parsed documents of one kind (discovery or JWKS), keyed by URL.
pub(crate) struct DocumentCache<T> {
    kind: &'static str,
    shared: Arc<Shared<T>>,
    loader: DocumentLoader,
    parse: Parse<T>,
    stale_window: Duration,
    refresh_lock: Arc<tokio::sync::Mutex<()>>,
}

impl<T> Clone for DocumentCache<T> {
    fn clone(&self) -> Self {
        Self {
            kind: self.kind,
            shared: self.shared.clone(),
            loader: self.loader.clone(),
            parse: self.parse.clone(),
            stale_window: self.stale_window,
            refresh_lock: self.refresh_lock.clone(),
        }
    }
}

impl<T: Send + Sync + 'static> DocumentCache<T> {
    pub(crate) fn new(
        kind: &'static str,
        loader: DocumentLoader,
        max_entries: usize,
        stale_window: Duration,
        parse: impl Fn(JsonObject) -> Result<T, DocumentError> + Send + Sync + 'static,
    ) -> Self {
        Self {
            kind,
            shared: Arc::new(Shared {
                map: RwLock::new(HashMap::new()),
                inflight: Mutex::new(HashMap::new()),
                base: Instant::now(),
                max_entries: max_entries.max(1),
            }),
            loader,
            parse: Arc::new(parse),
            stale_window,
            refresh_lock: Arc::new(tokio::sync::Mutex::new(())),
        }
    }

    async fn load(&self, url: &str, force: bool) -> Result<Arc<Entry<T>>, DocumentError> {
        let (doc, ttl) = self.loader.load(self.kind, url, force).await?;
        Ok(Arc::new(Entry::new(
            (self.parse)(doc)?,
            ttl,
            self.stale_window,
        )))
    }

    fn stamp(&self, now: Instant) -> u64 {
        u64::try_from(now.saturating_duration_since(self.shared.base).as_millis())
            .unwrap_or(u64::MAX)
    }

    /// The live entry for `url` (not past its stale window), marked as used.
    fn lookup(&self, url: &str, now: Instant) -> Option<Arc<Entry<T>>> {
        let map = self
            .shared
            .map
            .read()
            .unwrap_or_else(PoisonError::into_inner);
        let entry = map.get(url).filter(|e| now < e.stale_until)?.clone();
        drop(map);
        self.touch(&entry, now);
        Some(entry)
    }

    /// Marks `entry` as used at `now` (for LRU eviction), as a lookup does.
    pub(crate) fn touch(&self, entry: &Entry<T>, now: Instant) {
        // Written only when it changes (once per millisecond at most), so that threads reading
        // the same entry do not bounce its cache line on every request.
        let stamp = self.stamp(now);
        if entry.last_used.load(Ordering::Relaxed) != stamp {
            entry.last_used.store(stamp, Ordering::Relaxed);
        }
    }

    /// Stores an entry, then evicts expired entries and, beyond the bound, the least recently
    /// used ones (a scan of at most `max_entries + 1` entries; stores are rare).
    fn store(&self, url: &str, entry: Arc<Entry<T>>) {
        let now = Instant::now();
        entry.last_used.store(self.stamp(now), Ordering::Relaxed);
        let mut map = self
            .shared
            .map
            .write()
            .unwrap_or_else(PoisonError::into_inner);
        if let Some(replaced) = map.insert(url.to_owned(), entry) {
            replaced.retire();
        }
        if map.len() > self.shared.max_entries {
            map.retain(|_, e| {
                let live = now < e.stale_until;
                if !live {
                    e.retire();
                }
                live
            });
        }
        while map.len() > self.shared.max_entries {
            let oldest = map
                .iter()
                .min_by_key(|(_, e)| e.last_used.load(Ordering::Relaxed))
                .map(|(k, _)| k.clone());
            match oldest.and_then(|k| map.remove(&k)) {
                Some(evicted) => evicted.retire(),
                None => break,
            }
        }
    }

    /// The document at `url`: fresh from the cache, refreshed when stale, loaded on a miss.
    pub(crate) async fn get(&self, url: &str) -> Result<Arc<Entry<T>>, DocumentError> {
        let now = Instant::now();
        if let Some(entry) = self.lookup(url, now) {
            if now < entry.fresh_until {
                if now >= entry.refresh_at && !entry.refreshing.swap(true, Ordering::AcqRel) {
                    self.refresh_in_background(url, entry.clone());
                }
                return Ok(entry);
            }
            return Ok(self.refresh(url, &entry).await.unwrap_or(entry));
        }
        self.load_once(url).await
    }

    /// A miss: one load for all concurrent callers, its outcome (success or error) shared.
    async fn load_once(&self, url: &str) -> Result<Arc<Entry<T>>, DocumentError> {
        let cell = {
            let mut inflight = self
                .shared
                .inflight
                .lock()
                .unwrap_or_else(PoisonError::into_inner);
            inflight.entry(url.to_owned()).or_default().clone()
        };
        let outcome = cell
            .get_or_init(|| async {
                let loaded = self.load(url, false).await;
                if let Ok(entry) = &loaded {
                    self.store(url, entry.clone());
                }
                loaded
            })
            .await
            .clone();
        let mut inflight = self
            .shared
            .inflight
            .lock()
            .unwrap_or_else(PoisonError::into_inner);
        if inflight.get(url).is_some_and(|c| Arc::ptr_eq(c, &cell)) {
            inflight.remove(url);
        }
        outcome
    }
    /// Refetches `url` if `seen` is older than `min_age` (one fetch for all concurrent callers;
    /// none while a failed refresh backs off). Answers the newest entry, or `seen`.
    pub(crate) async fn refresh_if_older(
        &self,
        url: &str,
        seen: &Arc<Entry<T>>,
        min_age: Duration,
    ) -> Arc<Entry<T>> {
        if seen.loaded_at.elapsed() < min_age {
            return seen.clone();
        }
        self.refresh(url, seen)
            .await
            .unwrap_or_else(|| seen.clone())
    }

    /// One synchronous refresh of `seen` (single flight); `None` when it failed or backs off.
    async fn refresh(&self, url: &str, seen: &Arc<Entry<T>>) -> Option<Arc<Entry<T>>> {
        if seen.in_backoff(Instant::now()) {
            return None;
        }
        let _guard = self.refresh_lock.lock().await;
        if let Some(current) = self.lookup(url, Instant::now())
            && !Arc::ptr_eq(&current, seen)
        {
            return Some(current);
        }
        if seen.in_backoff(Instant::now()) {
            return None;
        }
        match self.load(url, true).await {
            Ok(fresh) => {
                self.store(url, fresh.clone());
                Some(fresh)
            }
            Err(e) => {
                tracing::warn!(kind = self.kind, url, error = %e, "refresh failed; serving the last good document");
                seen.back_off(Instant::now());
                None
            }
        }
    }

    fn refresh_in_background(&self, url: &str, seen: Arc<Entry<T>>) {
        let Ok(runtime) = tokio::runtime::Handle::try_current() else {
            seen.refreshing.store(false, Ordering::Release);
            return;
        };
        let this = self.clone();
        let url = url.to_owned();
        runtime.spawn(async move {
            match this.load(&url, true).await {
                Ok(fresh) => this.store(&url, fresh),
                Err(e) => {
                    tracing::warn!(kind = this.kind, url, error = %e, "background refresh failed");
                    seen.back_off(Instant::now());
                    seen.refreshing.store(false, Ordering::Release);
                }
            }
        });
    }
}
