//! Where discovery and JWKS documents are kept: the [`CacheAdapter`] trait and its in-memory
//! default ([`InMemoryCache`], TTL per entry + LRU bound).
//!
//! The adapter stores JSON documents, so a shared store (Redis, memcached) can hold them for a
//! fleet. Above it, the client keeps the *parsed* documents (verifying keys ready to use) in its
//! own bounded cache, so the adapter is consulted only when a document is loaded or refreshed.
//!
//! ```
//! use std::time::Duration;
//! use auth0_api::cache::{CacheAdapter, InMemoryCache};
//! # tokio_test();
//! # fn tokio_test() { tokio::runtime::Builder::new_current_thread().enable_all().build().unwrap().block_on(async {
//! let cache = InMemoryCache::new(100);
//! cache.set("k", serde_json::json!({"a": 1}), Some(Duration::from_secs(60))).await;
//! assert_eq!(cache.get("k").await, Some(serde_json::json!({"a": 1})));
//! # }) }
//! ```

use std::time::{Duration, Instant};

use async_trait::async_trait;
use serde_json::Value;

/// A store of JSON documents with per-entry TTL. Implementations must be cheap to share
/// (`Arc<dyn CacheAdapter>`) and safe under concurrency. Failures are the adapter's to handle
/// (log and behave as a miss): the client then fetches from the tenant.
#[async_trait]
pub trait CacheAdapter: Send + Sync + 'static {
    /// The value stored under `key`, if present and not expired.
    async fn get(&self, key: &str) -> Option<Value>;
    /// Stores `value` under `key` for `ttl` (`None`: until evicted).
    async fn set(&self, key: &str, value: Value, ttl: Option<Duration>);
    /// Removes `key`.
    async fn delete(&self, key: &str);
    /// Removes everything.
    async fn clear(&self);
}

#[derive(Clone)]
struct Entry {
    value: Value,
    ttl: Option<Duration>,
}

struct EntryExpiry;

impl moka::Expiry<String, Entry> for EntryExpiry {
    fn expire_after_create(
        &self,
        _key: &String,
        value: &Entry,
        _created_at: Instant,
    ) -> Option<Duration> {
        value.ttl
    }
    fn expire_after_update(
        &self,
        _key: &String,
        value: &Entry,
        _updated_at: Instant,
        _duration_until_expiry: Option<Duration>,
    ) -> Option<Duration> {
        value.ttl
    }
}

/// The default adapter: in memory, each entry with its own TTL, least recently used entries
/// evicted beyond `max_entries`.
pub struct InMemoryCache {
    cache: moka::future::Cache<String, Entry>,
}

impl InMemoryCache {
    /// A cache holding at most `max_entries` documents.
    pub fn new(max_entries: usize) -> Self {
        Self {
            cache: moka::future::Cache::builder()
                .max_capacity(max_entries as u64)
                .eviction_policy(moka::policy::EvictionPolicy::lru())
                .expire_after(EntryExpiry)
                .build(),
        }
    }

    /// Number of live entries (after pending maintenance).
    pub async fn len(&self) -> u64 {
        self.cache.run_pending_tasks().await;
        self.cache.entry_count()
    }

    /// Whether the cache holds nothing.
    pub async fn is_empty(&self) -> bool {
        self.len().await == 0
    }
}

impl std::fmt::Debug for InMemoryCache {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("InMemoryCache")
            .field("entries", &self.cache.entry_count())
            .finish()
    }
}

#[async_trait]
impl CacheAdapter for InMemoryCache {
    async fn get(&self, key: &str) -> Option<Value> {
        self.cache.get(key).await.map(|e| e.value)
    }
    async fn set(&self, key: &str, value: Value, ttl: Option<Duration>) {
        self.cache
            .insert(key.to_owned(), Entry { value, ttl })
            .await;
        // Writes are rare (a load per document and TTL): enforce the bound right away.
        self.cache.run_pending_tasks().await;
    }
    async fn delete(&self, key: &str) {
        self.cache.invalidate(key).await;
    }
    async fn clear(&self) {
        self.cache.invalidate_all();
        self.cache.run_pending_tasks().await;
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use serde_json::json;

    #[tokio::test]
    async fn ttl_expires_entries() {
        let c = InMemoryCache::new(10);
        c.set("a", json!(1), Some(Duration::from_millis(50))).await;
        c.set("b", json!(2), None).await;
        assert_eq!(c.get("a").await, Some(json!(1)));
        tokio::time::sleep(Duration::from_millis(120)).await;
        assert_eq!(c.get("a").await, None);
        assert_eq!(c.get("b").await, Some(json!(2)));
        c.delete("b").await;
        assert_eq!(c.get("b").await, None);
    }

    #[tokio::test]
    async fn lru_bound_holds() {
        let c = InMemoryCache::new(3);
        for i in 0..10 {
            c.set(&format!("k{i}"), json!(i), None).await;
        }
        assert_eq!(c.len().await, 3);
        assert_eq!(c.get("k9").await, Some(json!(9)), "most recent kept");
        assert_eq!(c.get("k0").await, None, "least recent evicted");
        c.clear().await;
        assert!(c.is_empty().await);
    }
}
