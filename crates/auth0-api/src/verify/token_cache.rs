//! The verified-token cache: SHA-256 of a token -> its verified claims, until the token's `exp`
//! or until its signing key leaves the JWKS, whichever comes first.
//!
//! A hit costs a hash and two map lookups instead of a signature check, so an API seeing the
//! same token many times (the common case: a client reuses its token until it expires) pays the
//! RSA price once. Entries are keyed by a cryptographic hash, so two tokens can never share an
//! entry; the cache is bounded (LRU). DPoP requests still check their proof every time; only
//! the access-token part is cached.

use std::sync::Arc;
use std::time::{Duration, Instant};

use aws_lc_rs::digest;

use crate::claims::Claims;
use crate::fetch::document_cache::Entry;
use crate::fetch::jwks::KeySet;

/// Longest time an entry is kept, whatever the token's `exp`.
const MAX_ENTRY_LIFETIME: Duration = Duration::from_secs(24 * 3600);

/// What a hit needs to be trusted again.
pub(crate) struct CachedToken {
    pub(crate) claims: Claims,
    /// `exp` + leeway, in seconds since the epoch.
    pub(crate) valid_until: f64,
    pub(crate) jwks_uri: String,
    pub(crate) kid: String,
    /// The key set the token was verified with.
    pub(crate) keys: Arc<Entry<KeySet>>,
    lifetime: Duration,
}

impl CachedToken {
    pub(crate) fn new(
        claims: Claims,
        valid_until: f64,
        now: f64,
        jwks_uri: String,
        kid: String,
        keys: Arc<Entry<KeySet>>,
    ) -> Self {
        let secs = (valid_until - now).clamp(0.0, MAX_ENTRY_LIFETIME.as_secs_f64());
        Self {
            claims,
            valid_until,
            jwks_uri,
            kid,
            keys,
            lifetime: Duration::from_secs_f64(secs),
        }
    }
}

struct TokenExpiry;

impl moka::Expiry<[u8; 32], Arc<CachedToken>> for TokenExpiry {
    fn expire_after_create(
        &self,
        _k: &[u8; 32],
        v: &Arc<CachedToken>,
        _at: Instant,
    ) -> Option<Duration> {
        Some(v.lifetime)
    }
}

/// Bounded map of verified tokens.
pub(crate) struct TokenCache {
    cache: moka::sync::Cache<[u8; 32], Arc<CachedToken>>,
}

impl TokenCache {
    pub(crate) fn new(max_entries: usize) -> Self {
        Self {
            cache: moka::sync::Cache::builder()
                .max_capacity(max_entries as u64)
                .eviction_policy(moka::policy::EvictionPolicy::lru())
                .expire_after(TokenExpiry)
                .build(),
        }
    }

    /// The cache key of a token.
    pub(crate) fn key(token: &str) -> [u8; 32] {
        let mut out = [0u8; 32];
        out.copy_from_slice(digest::digest(&digest::SHA256, token.as_bytes()).as_ref());
        out
    }

    pub(crate) fn get(&self, key: &[u8; 32]) -> Option<Arc<CachedToken>> {
        self.cache.get(key)
    }

    pub(crate) fn insert(&self, key: [u8; 32], entry: CachedToken) {
        if !entry.lifetime.is_zero() {
            self.cache.insert(key, Arc::new(entry));
        }
    }

    pub(crate) fn remove(&self, key: &[u8; 32]) {
        self.cache.invalidate(key);
    }
}
