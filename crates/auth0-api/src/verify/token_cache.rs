//! The verified-token cache: a token -> its verified claims, until the token's `exp` (plus the
//! leeway, and at most 24 hours) or until its signing key leaves the JWKS, whichever comes
//! first.
//!
//! A hit costs a short keyed hash, one read-locked probe and a comparison of the token's bytes
//! instead of a signature check, so an API seeing the same token many times (the common case: a
//! client reuses its token until it expires) pays the RSA price once.
//!
//! The map is a [`TextCache`] (lookup by a keyed hash, exact constant-time match, admission on
//! the second sighting, sharded CLOCK with a bounded hand: see [`crate::text_cache`]), keyed by
//! the token's length and its last 32 bytes (the end of its signature). Its bound is
//! `max_entries` tokens (the option `verified_token_cache_size`). Each entry holds the token's
//! text (at most [`MAX_TOKEN_BYTES`](crate::jws::MAX_TOKEN_BYTES)), its payload text and claims
//! index, `kid` and `jwks_uri`: about 1.6 KB for an 800-byte Auth0 token, 16 MB for the
//! default 10,000.
//!
//! DPoP requests still check their proof every time; only the access-token part is cached,
//! with the token's SHA-256 when a DPoP request verified it (the proof's `ath` is checked
//! against it, so a reused token is not hashed again).

use std::sync::Arc;
use std::time::Duration;

use aws_lc_rs::digest;

use crate::claims::Claims;
use crate::fetch::document_cache::Entry;
use crate::fetch::jwks::KeySet;
use crate::text_cache::{Keyed, TextCache};

/// Longest time an entry is kept, whatever the token's `exp`.
const MAX_ENTRY_LIFETIME: Duration = Duration::from_secs(24 * 3600);

/// Bytes at the end of a token that its lookup key hashes.
const KEYED_TAIL: usize = 32;

/// What a hit needs to be trusted again.
pub(crate) struct CachedToken {
    pub(crate) claims: Claims,
    /// `exp` + leeway (at most 24 hours from when it was checked), in seconds since the epoch.
    pub(crate) valid_until: f64,
    pub(crate) jwks_uri: String,
    pub(crate) kid: String,
    /// The key set the token was verified with.
    pub(crate) keys: Arc<Entry<KeySet>>,
    /// The token's SHA-256 (DPoP's `ath`), when its verification computed it: a DPoP request
    /// served from the cache then does not hash the token again.
    pub(crate) sha256: Option<[u8; 32]>,
    /// Not yet expired when checked (an expired entry is not stored).
    live: bool,
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
        let valid_until = valid_until.min(now + MAX_ENTRY_LIFETIME.as_secs_f64());
        Self {
            claims,
            valid_until,
            jwks_uri,
            kid,
            keys,
            sha256: None,
            live: valid_until > now,
        }
    }
}

/// Bounded map of verified tokens.
pub(crate) struct TokenCache(TextCache<CachedToken>);

impl TokenCache {
    pub(crate) fn new(max_entries: usize) -> Self {
        Self(TextCache::new(max_entries, Keyed::Tail(KEYED_TAIL)))
    }

    /// SHA-256 of a token (DPoP's `ath`).
    pub(crate) fn sha256(token: &str) -> [u8; 32] {
        let mut out = [0u8; 32];
        out.copy_from_slice(digest::digest(&digest::SHA256, token.as_bytes()).as_ref());
        out
    }

    /// The lookup key of a token: a keyed hash of its length and last bytes.
    pub(crate) fn key(&self, token: &str) -> u64 {
        self.0.key(token)
    }

    /// The entry of exactly this token, if cached.
    pub(crate) fn get(&self, key: &u64, token: &str) -> Option<Arc<CachedToken>> {
        self.0.get(*key, token)
    }

    /// Whether a token about to be verified should be cached if it verifies: it was seen before.
    pub(crate) fn admits(&self, key: &u64) -> bool {
        self.0.admits(*key)
    }

    /// Caches a verified token, unless it has already expired.
    pub(crate) fn insert(&self, key: u64, token: &str, entry: CachedToken) {
        if entry.live {
            self.0.insert(key, token, Arc::new(entry));
        }
    }

    pub(crate) fn remove(&self, key: &u64) {
        self.0.remove(*key);
    }
}
