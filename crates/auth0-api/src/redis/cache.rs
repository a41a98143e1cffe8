//! [`RedisCache`]: discovery and JWKS documents in Redis, with an in-process fallback.

use std::fmt;
use std::time::Duration;

use async_trait::async_trait;
use serde_json::Value;

use super::conn::{Conn, WarnGate};
use super::{
    DEFAULT_FALLBACK_MAX_ENTRIES, RedisTarget, Settings, decode, doc_key, doc_pattern, encode,
    px_millis,
};
use crate::Error;
use crate::fetch::cache::{CacheAdapter, InMemoryCache};

/// Keys asked for per `SCAN` round of [`CacheAdapter::clear`] (and so at most deleted per `DEL`,
/// as Redis returns about that many).
const SCAN_COUNT: usize = 500;
/// Most `SCAN` rounds of one [`CacheAdapter::clear`] (a bound on its work: 5 million keys
/// examined at [`SCAN_COUNT`] per round).
const MAX_SCAN_ROUNDS: usize = 10_000;
/// Keys per `DEL` command.
const DEL_BATCH: usize = 500;
/// Interval between two warnings about the same kind of failure.
const WARN_INTERVAL: Duration = Duration::from_secs(10);

/// A [`CacheAdapter`] over Redis, shared by the servers of a fleet, falling back to a bounded
/// in-process cache when Redis cannot be reached (see the [module docs](super)).
///
/// Documents are stored as JSON text under `prefix + "doc:" + key` with the TTL as `PX`.
/// Writes go to Redis and to the fallback; reads go to Redis (a hit is copied to the fallback
/// with its remaining TTL, a miss is a miss) and, when Redis fails, to the fallback.
///
/// ```no_run
/// use std::sync::Arc;
/// use auth0_api::ApiClientOptions;
/// use auth0_api::redis::RedisCache;
///
/// # async fn f() -> Result<(), auth0_api::Error> {
/// let cache = RedisCache::builder("redis://127.0.0.1:6379").build().await?;
/// let options = ApiClientOptions::builder()
///     .domain("your-tenant.auth0.com")
///     .audience("https://api.example.com")
///     .cache_adapter(Arc::new(cache))
///     .build()?;
/// # Ok(()) }
/// ```
pub struct RedisCache {
    conn: Conn,
    prefix: String,
    fallback: InMemoryCache,
    warn: WarnGate,
}

/// Builds a [`RedisCache`]; see [`RedisCache::builder`].
#[derive(Debug)]
#[must_use = "a builder does nothing until `build()`"]
pub struct RedisCacheBuilder {
    target: RedisTarget,
    settings: Settings,
    fallback_max_entries: usize,
}

impl RedisCache {
    /// A builder for a cache at `target`: a URL, a [`redis::Client`] or a
    /// [`ConnectionManager`](::redis::aio::ConnectionManager).
    pub fn builder(target: impl Into<RedisTarget>) -> RedisCacheBuilder {
        RedisCacheBuilder {
            target: target.into(),
            settings: Settings::default(),
            fallback_max_entries: DEFAULT_FALLBACK_MAX_ENTRIES,
        }
    }

    /// The key prefix.
    pub fn prefix(&self) -> &str {
        &self.prefix
    }

    /// Whether the last operation reached Redis (`true` before the first one).
    pub fn is_redis_available(&self) -> bool {
        self.conn.is_available()
    }

    fn warn_failure(&self, operation: &str, error: &dyn fmt::Display) {
        match self.warn.permit() {
            Some(suppressed) => tracing::warn!(
                redis = %self.conn.describe(),
                operation,
                error = %error,
                suppressed,
                "Redis cache unavailable; using the in-process fallback"
            ),
            None => tracing::debug!(
                redis = %self.conn.describe(),
                operation,
                error = %error,
                "Redis cache unavailable; using the in-process fallback"
            ),
        }
    }
}

impl RedisCacheBuilder {
    /// The key prefix (default [`DEFAULT_PREFIX`](super::DEFAULT_PREFIX)); documents live under
    /// `prefix + "doc:"`. Give each application sharing a Redis database its own.
    pub fn prefix(mut self, prefix: impl Into<String>) -> Self {
        self.settings.prefix = prefix.into();
        self
    }

    timeout_setters!();

    settings_setters! {
        /// After a failure, how long operations use the fallback without trying Redis (default
        /// [`DEFAULT_BACKOFF`](super::DEFAULT_BACKOFF); zero: try every time).
        backoff: Duration;
    }

    /// Most documents kept by the in-process fallback (default
    /// [`DEFAULT_FALLBACK_MAX_ENTRIES`]; 0 disables it: while Redis is down, every load fetches
    /// from the tenant).
    pub fn fallback_max_entries(mut self, max_entries: usize) -> Self {
        self.fallback_max_entries = max_entries;
        self
    }

    settings_setters! {
        /// Whether [`build`](Self::build) fails when Redis does not answer a `PING` (default
        /// false: the cache starts on its fallback and connects when Redis comes up).
        require_available: bool;
    }

    /// Builds the cache and tries one `PING` (see the [module docs](super#starting-without-redis)).
    ///
    /// # Errors
    /// A configuration error ([`ErrorKind::Configuration`](crate::ErrorKind::Configuration)) for
    /// an invalid URL or a zero timeout, or when Redis does not answer and
    /// [`require_available`](Self::require_available) is set.
    pub async fn build(self) -> Result<RedisCache, Error> {
        let (conn, unavailable) = Conn::start(self.target.0, &self.settings, "RedisCache").await?;
        if let Some(e) = unavailable {
            tracing::warn!(redis = %conn.describe(), error = %e, "Redis cache starting without Redis; using the in-process fallback until it answers");
        }
        Ok(RedisCache {
            conn,
            prefix: self.settings.prefix,
            fallback: InMemoryCache::new(self.fallback_max_entries),
            warn: WarnGate::new(WARN_INTERVAL),
        })
    }
}

debug_fields!(RedisCache, |this| {
    conn: this.conn,
    prefix: this.prefix,
    fallback: this.fallback,
});

#[async_trait]
impl CacheAdapter for RedisCache {
    async fn get(&self, key: &str) -> Option<Value> {
        let redis_key = doc_key(&self.prefix, key);
        let reply = self
            .conn
            .run(|mut c| async move {
                ::redis::pipe()
                    .cmd("GET")
                    .arg(&redis_key)
                    .cmd("PTTL")
                    .arg(&redis_key)
                    .query_async::<(Option<Vec<u8>>, i64)>(&mut c)
                    .await
            })
            .await;
        match reply {
            Ok((Some(bytes), pttl)) => {
                let Some(value) = decode(&bytes) else {
                    tracing::debug!(key, "Redis cache entry is not JSON; treated as a miss");
                    return None;
                };
                // Keep a copy for outages, with what is left of its lifetime.
                let ttl = u64::try_from(pttl).ok().map(Duration::from_millis);
                if ttl.is_some_and(|t| !t.is_zero()) || pttl == -1 {
                    self.fallback.set(key, value.clone(), ttl).await;
                }
                Some(value)
            }
            // Redis is the source of truth while it answers: a fallback copy may be stale.
            Ok((None, _)) => None,
            Err(e) => {
                self.warn_failure("get", &e);
                self.fallback.get(key).await
            }
        }
    }

    async fn set(&self, key: &str, value: Value, ttl: Option<Duration>) {
        let redis_key = doc_key(&self.prefix, key);
        let text = encode(&value);
        self.fallback.set(key, value, ttl).await;
        let reply = self
            .conn
            .run(|mut c| async move {
                let mut cmd = ::redis::cmd("SET");
                cmd.arg(&redis_key).arg(text);
                if let Some(ttl) = ttl {
                    cmd.arg("PX").arg(px_millis(ttl));
                }
                cmd.query_async::<()>(&mut c).await
            })
            .await;
        if let Err(e) = reply {
            self.warn_failure("set", &e);
        }
    }

    async fn delete(&self, key: &str) {
        let redis_key = doc_key(&self.prefix, key);
        self.fallback.delete(key).await;
        let reply = self
            .conn
            .run(|mut c| async move {
                ::redis::cmd("DEL")
                    .arg(&redis_key)
                    .query_async::<()>(&mut c)
                    .await
            })
            .await;
        if let Err(e) = reply {
            self.warn_failure("delete", &e);
        }
    }

    /// Removes this cache's documents (`prefix + "doc:*"`) from Redis and the fallback; keys of
    /// other applications and recorded DPoP proofs stay.
    async fn clear(&self) {
        self.fallback.clear().await;
        let pattern = doc_pattern(&self.prefix);
        let mut cursor: u64 = 0;
        for _ in 0..MAX_SCAN_ROUNDS {
            let pattern = pattern.as_str();
            let reply = self
                .conn
                .run(|mut c| async move {
                    let (next, keys) = ::redis::cmd("SCAN")
                        .arg(cursor)
                        .arg("MATCH")
                        .arg(pattern)
                        .arg("COUNT")
                        .arg(SCAN_COUNT)
                        .query_async::<(u64, Vec<Vec<u8>>)>(&mut c)
                        .await?;
                    for batch in keys.chunks(DEL_BATCH) {
                        ::redis::cmd("DEL")
                            .arg(batch)
                            .query_async::<()>(&mut c)
                            .await?;
                    }
                    Ok(next)
                })
                .await;
            match reply {
                Ok(0) => return,
                Ok(next) => cursor = next,
                Err(e) => {
                    self.warn_failure("clear", &e);
                    return;
                }
            }
        }
        tracing::warn!(
            redis = %self.conn.describe(),
            rounds = MAX_SCAN_ROUNDS,
            "Redis cache clear stopped after its bound of SCAN rounds; some documents remain until they expire"
        );
    }
}
