//! Parsed discovery and JWKS documents, kept ready to use and never a reason to stall:
//!
//! - **single flight per URL**: concurrent misses or refreshes of one URL share one fetch,
//!   and a fetch under way for one URL (a slow tenant) never delays another URL's;
//! - **refresh ahead**: past 80% of its TTL an entry is refreshed in the background while
//!   requests keep using it, so steady-state requests never wait on the tenant;
//! - **stale if error**: when a refresh fails, the last good document keeps serving for a
//!   bounded window (default 1 h) with a warning, and failed refreshes back off instead of
//!   piling up;
//! - **refetch on demand**: a request that asks a document for a name it lacks (a JWKS and an
//!   unknown `kid`) refetches it at once when the document came from a regular load (start-up,
//!   TTL or refresh-ahead), then at most once per cooldown while the documents keep coming from
//!   such refetches; a name still missing after one is remembered for the cooldown
//!   ([`MAX_MISSES`] at most), so that it cannot force fetches of its own;
//! - **bounded**: at most `max_entries` documents, least recently used evicted;
//! - **cheap to read**: a hit is a read lock and one hash lookup, no allocation; an entry that
//!   leaves the map is marked retired, so that a reference kept elsewhere
//!   ([`crate::fetch::resolved`]) knows to look again.
//!
//! Documents come through [`DocumentLoader`](crate::fetch::loader::DocumentLoader): the
//! [`CacheAdapter`](crate::fetch::cache::CacheAdapter) first, then the network.

use std::collections::{HashMap, VecDeque};
use std::sync::atomic::{AtomicBool, AtomicU64, Ordering};
use std::sync::{Arc, Mutex, PoisonError, RwLock};
use std::time::{Duration, Instant};

use crate::fetch::loader::{DocumentError, DocumentLoader};
use crate::jose::jws::JsonObject;
use crate::observe::{Cache, Document};

/// Fraction of the TTL after which a background refresh starts.
const REFRESH_AHEAD_AT: f64 = 0.8;
/// Longest pause between two refresh attempts of a document that failed to refresh.
const MAX_RETRY_BACKOFF: Duration = Duration::from_secs(10);
/// Most names remembered as missing (over all URLs of one cache); the oldest goes first.
pub(crate) const MAX_MISSES: usize = 256;
/// Longest name remembered as missing (longer ones are subject to the cooldown only).
const MAX_MISS_NAME: usize = 256;
/// Most fetches one on-demand refetch makes or joins: one that joined a regular refresh already
/// under way may need one of its own.
const MAX_DEMAND_ROUNDS: usize = 2;

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
    /// Whether this entry was fetched on demand ([`DocumentCache::refetch_for`]).
    on_demand: bool,
    /// Milliseconds after `loaded_at` before which no on-demand refetch of this entry starts:
    /// 0 after a regular load, the cooldown after an on-demand one (or a failed attempt).
    demand_after_ms: AtomicU64,
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
            on_demand: false,
            demand_after_ms: AtomicU64::new(0),
        }
    }

    /// An entry fetched on demand: no further on-demand refetch before `cooldown` has passed.
    fn on_demand(mut self, cooldown: Duration) -> Self {
        self.on_demand = true;
        self.demand_after_ms = AtomicU64::new(millis(cooldown));
        self
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
        self.retry_after_ms.store(millis(until), Ordering::Release);
    }

    /// Whether an on-demand refetch of this entry may start at `now`.
    fn demand_allowed(&self, now: Instant) -> bool {
        let since = now.saturating_duration_since(self.loaded_at).as_millis();
        since >= u128::from(self.demand_after_ms.load(Ordering::Acquire))
    }

    /// No on-demand refetch of this entry before `cooldown` from `now` (after a failed one).
    fn hold_demand(&self, now: Instant, cooldown: Duration) {
        let until = now.saturating_duration_since(self.loaded_at) + cooldown;
        self.demand_after_ms.store(millis(until), Ordering::Release);
    }
}

fn millis(d: Duration) -> u64 {
    u64::try_from(d.as_millis()).unwrap_or(u64::MAX)
}

/// A name a document at `url` lacked, as a fetch made after it was asked for showed.
struct Miss {
    url: String,
    name: Box<str>,
    until: Instant,
}

/// What a shared fetch does.
enum Job<'a, T> {
    /// A miss: the adapter first, then the network.
    Load,
    /// A refetch of `seen` from the network; `Some(cooldown)` when on demand.
    Refresh {
        seen: &'a Arc<Entry<T>>,
        on_demand: Option<Duration>,
    },
}

type Parse<T> = Arc<dyn Fn(JsonObject) -> Result<T, DocumentError> + Send + Sync>;

/// Outcome of one shared load, handed to every request that waited for it.
type LoadCell<T> = tokio::sync::OnceCell<Result<Arc<Entry<T>>, DocumentError>>;

/// The maps behind a [`DocumentCache`], shared by its clones.
struct Shared<T> {
    /// Documents by URL. Read on every request: a read lock and one hash lookup.
    map: RwLock<HashMap<String, Arc<Entry<T>>>>,
    /// Fetches under way, one per URL (single flight): concurrent misses and refreshes of one
    /// URL await the same cell; no lock is held across a fetch, so URLs never wait for
    /// each other. A cell leaves the map when its fetch ends (at most one per URL).
    inflight: Mutex<HashMap<String, Arc<LoadCell<T>>>>,
    /// Names documents lacked, remembered for the cooldown ([`MAX_MISSES`] at most).
    misses: Mutex<VecDeque<Miss>>,
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
}

impl<T> Clone for DocumentCache<T> {
    fn clone(&self) -> Self {
        Self {
            kind: self.kind,
            shared: self.shared.clone(),
            loader: self.loader.clone(),
            parse: self.parse.clone(),
            stale_window: self.stale_window,
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
                misses: Mutex::new(VecDeque::new()),
                base: Instant::now(),
                max_entries: max_entries.max(1),
            }),
            loader,
            parse: Arc::new(parse),
            stale_window,
        }
    }

    /// Fetches `url` (the adapter first unless `force`); `Some(cooldown)` marks the entry as
    /// fetched on demand.
    async fn load(
        &self,
        url: &str,
        force: bool,
        on_demand: Option<Duration>,
    ) -> Result<Arc<Entry<T>>, DocumentError> {
        let (doc, ttl) = self.loader.load(self.kind, url, force).await?;
        let entry = Entry::new((self.parse)(doc)?, ttl, self.stale_window);
        Ok(Arc::new(match on_demand {
            Some(cooldown) => entry.on_demand(cooldown),
            None => entry,
        }))
    }

    fn stamp(&self, now: Instant) -> u64 {
        millis(now.saturating_duration_since(self.shared.base))
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
        let lookup = self.lookup(url, now);
        self.loader.observe.cache(
            Cache::Document(Document::from_kind(self.kind)),
            lookup.is_some(),
        );
        if let Some(entry) = lookup {
            if now < entry.fresh_until {
                if now >= entry.refresh_at
                    && !entry.in_backoff(now)
                    && !entry.refreshing.swap(true, Ordering::AcqRel)
                {
                    self.refresh_in_background(url, entry.clone());
                }
                return Ok(entry);
            }
            return Ok(Box::pin(self.refresh(url, &entry)).await.unwrap_or(entry));
        }
        // Boxed, as the refresh above: the fetch's future is several KiB, and a lookup's
        // future (awaited on every verification served by the verified-token cache) stays
        // small without it.
        Box::pin(self.load_once(url)).await
    }

    /// A miss: one load for all concurrent callers, its outcome (success or error) shared.
    async fn load_once(&self, url: &str) -> Result<Arc<Entry<T>>, DocumentError> {
        self.single_flight(url, Job::Load).await
    }

    /// Runs `job` for `url`, or joins the fetch of `url` already under way (whatever its job):
    /// one fetch per URL at a time, its outcome shared; other URLs never wait for it.
    async fn single_flight(
        &self,
        url: &str,
        job: Job<'_, T>,
    ) -> Result<Arc<Entry<T>>, DocumentError> {
        let cell = {
            let mut inflight = self
                .shared
                .inflight
                .lock()
                .unwrap_or_else(PoisonError::into_inner);
            inflight.entry(url.to_owned()).or_default().clone()
        };
        cell.get_or_init(|| async {
            let outcome = self.run(url, job).await;
            // Stored (or failed) before the cell leaves the map, with no await in between: a
            // caller that finds no cell finds the entry.
            let mut inflight = self
                .shared
                .inflight
                .lock()
                .unwrap_or_else(PoisonError::into_inner);
            if inflight.get(url).is_some_and(|c| Arc::ptr_eq(c, &cell)) {
                inflight.remove(url);
            }
            outcome
        })
        .await
        .clone()
    }

    /// The fetch behind [`Self::single_flight`]: skipped when another one answered meanwhile.
    async fn run(&self, url: &str, job: Job<'_, T>) -> Result<Arc<Entry<T>>, DocumentError> {
        let current = self.lookup(url, Instant::now());
        let (seen, on_demand) = match job {
            Job::Load => {
                if let Some(current) = current {
                    return Ok(current);
                }
                let loaded = self.load(url, false, None).await?;
                self.store(url, loaded.clone());
                return Ok(loaded);
            }
            Job::Refresh { seen, on_demand } => (seen, on_demand),
        };
        if let Some(current) = current
            && !Arc::ptr_eq(&current, seen)
        {
            return Ok(current);
        }
        if seen.in_backoff(Instant::now()) {
            // A refresh of `seen` failed after this caller decided to try: no second fetch.
            return Ok(seen.clone());
        }
        match self.load(url, true, on_demand).await {
            Ok(fresh) => {
                self.store(url, fresh.clone());
                Ok(fresh)
            }
            Err(e) => {
                tracing::warn!(kind = self.kind, url, error = %e, "refresh failed; serving the last good document");
                let now = Instant::now();
                seen.back_off(now);
                if let Some(cooldown) = on_demand {
                    seen.hold_demand(now, cooldown);
                }
                Err(e)
            }
        }
    }

    /// One synchronous refresh of `seen` (single flight): the entry that replaced it, or
    /// `None` when the refresh failed or backs off.
    async fn refresh(&self, url: &str, seen: &Arc<Entry<T>>) -> Option<Arc<Entry<T>>> {
        if seen.in_backoff(Instant::now()) {
            return None;
        }
        let job = Job::Refresh {
            seen,
            on_demand: None,
        };
        let fresh = self.single_flight(url, job).await.ok()?;
        (!Arc::ptr_eq(&fresh, seen)).then_some(fresh)
    }

    fn refresh_in_background(&self, url: &str, seen: Arc<Entry<T>>) {
        let Ok(runtime) = tokio::runtime::Handle::try_current() else {
            seen.refreshing.store(false, Ordering::Release);
            return;
        };
        let this = self.clone();
        let url = url.to_owned();
        runtime.spawn(async move {
            if this.refresh(&url, &seen).await.is_none() {
                seen.refreshing.store(false, Ordering::Release);
            }
        });
    }

    /// The entry to use after `seen` (the document at `url`) turned out to lack `name`, as
    /// `has` tells (a key set and an unknown `kid`): the newest entry, refetched first unless
    /// that cannot help or is not allowed yet. A refetch happens (single flight) when the
    /// newest entry came from a regular load, or when it came from an on-demand refetch at
    /// least `cooldown` ago; never for a name remembered as missing, nor while a failed
    /// refresh backs off. A name the refetched document still lacks is remembered as missing
    /// for `cooldown`. So a new key verifies on its first token, and random names cost at most
    /// one fetch per cooldown, plus one after each regular load.
    pub(crate) async fn refetch_for(
        &self,
        url: &str,
        seen: &Arc<Entry<T>>,
        name: &str,
        cooldown: Duration,
        has: impl Fn(&T) -> bool,
    ) -> Arc<Entry<T>> {
        let mut current = seen.clone();
        for _ in 0..MAX_DEMAND_ROUNDS {
            let now = Instant::now();
            if let Some(newest) = self.lookup(url, now) {
                current = newest;
            }
            if has(&current.value)
                || !current.demand_allowed(now)
                || current.in_backoff(now)
                || self.known_missing(url, name, now)
            {
                return current;
            }
            let job = Job::Refresh {
                seen: &current,
                on_demand: Some(cooldown),
            };
            match self.single_flight(url, job).await {
                Ok(fresh) if !Arc::ptr_eq(&fresh, &current) => current = fresh,
                // Failed, or backs off: nothing new was fetched.
                _ => return current,
            }
            if has(&current.value) {
                return current;
            }
            if current.on_demand {
                self.remember_missing(url, name, Instant::now() + cooldown);
                return current;
            }
            // Joined a regular refresh that may have started before `name` was published.
        }
        current
    }

    /// Whether `name` is remembered as missing from the document at `url`.
    fn known_missing(&self, url: &str, name: &str, now: Instant) -> bool {
        let misses = self
            .shared
            .misses
            .lock()
            .unwrap_or_else(PoisonError::into_inner);
        misses
            .iter()
            .any(|m| now < m.until && *m.name == *name && m.url == url)
    }

    /// Remembers that the document at `url` lacks `name`, until `until` (the oldest such
    /// memory goes when [`MAX_MISSES`] are kept; overlong names are not kept).
    fn remember_missing(&self, url: &str, name: &str, until: Instant) {
        if name.len() > MAX_MISS_NAME {
            return;
        }
        let now = Instant::now();
        let mut misses = self
            .shared
            .misses
            .lock()
            .unwrap_or_else(PoisonError::into_inner);
        misses.retain(|m| now < m.until && !(*m.name == *name && m.url == url));
        if misses.len() >= MAX_MISSES {
            misses.pop_front();
        }
        misses.push_back(Miss {
            url: url.to_owned(),
            name: name.into(),
            until,
        });
    }
}
