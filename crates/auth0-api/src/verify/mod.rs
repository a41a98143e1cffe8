//! Access-token verification: decoding, the checks in the reference's order, and the caches
//! of what passed them. [`TokenVerifier::verify`] is the list of checks, top to bottom.

mod checks;
mod decode;
mod keys_in_use;
#[cfg(test)]
mod tests;
pub(crate) mod token_cache;

use std::collections::HashMap;
use std::sync::{Arc, OnceLock};
use std::time::{Duration, Instant};

pub(crate) use checks::{ClaimRules, check_claims, kid, unverified_issuer};
pub(crate) use decode::{Expected, Texts, decode};

use crate::claims::Claims;
use crate::clock::unix_now;
use crate::domains::DomainsMode;
use crate::error::TokenError;
use crate::error::{Error, Result};
use crate::fetch::discovery::{DiscoveryCache, discovery_url};
use crate::fetch::jwks::JwksCache;
use crate::fetch::resolved::ResolvedIssuers;
use crate::fetch::static_keys::StaticKeys;
use crate::jose::jwe::{self, JweDecrypter};
use crate::jose::jws::MAX_TOKEN_BYTES;
use crate::observe::{Cache, Document, Observe};
use crate::settings::Algorithm;
use keys_in_use::{KeysInUse, PendingEntry};
use token_cache::{CachedToken, TokenCache};

/// The request context a domains resolver may read, and where the caller wants the token's
/// SHA-256 (DPoP's `ath`) if the verification computes it on the way.
#[derive(Clone, Copy, Default)]
pub(crate) struct RequestContext<'r> {
    pub(crate) url: Option<&'r str>,
    pub(crate) headers: Option<&'r http::HeaderMap>,
    /// Set to `SHA-256(token)` when the signature check hashed the token's signing input with
    /// SHA-256: the same hash, carried on over `.` and the signature (one pass over the token
    /// instead of two). Left empty otherwise (a cached token, an encrypted one, another digest).
    pub(crate) token_digest: Option<&'r OnceLock<[u8; 32]>>,
}

/// Verifies access tokens: owns the discovery and key-set caches it reads, the issuers resolved
/// before and the verified-token cache.
pub(crate) struct TokenVerifier {
    domains: DomainsMode,
    audiences: Vec<String>,
    algorithms: Vec<Algorithm>,
    leeway: Duration,
    jwks_refresh_cooldown: Duration,
    discovery: DiscoveryCache,
    jwks: JwksCache,
    tokens: Option<TokenCache>,
    observe: Observe,
    /// Keys given in the options: every issuer's key set, never fetched.
    static_keys: Option<StaticKeys>,
    /// Discovery URL of the configured domain (single-domain mode), computed once.
    single_discovery_url: String,
    /// The configured domain as an issuer URL (single-domain mode).
    single_issuer: String,
    /// Discovery URL of each allowed issuer (static `domains` list), computed once: a token's
    /// issuer is checked and its URL found with one hash lookup, however long the list.
    list_discovery_urls: HashMap<String, String>,
    /// Issuers resolved before, with the discovery and JWKS entries they resolved to.
    resolved: ResolvedIssuers,
    /// Encrypted access tokens: the key, and whether plain tokens still pass.
    decryption_key: Option<Arc<JweDecrypter>>,
    accept_unencrypted: bool,
}

/// The settings a [`TokenVerifier`] reads.
pub(crate) struct VerifySettings {
    /// The configured domain as an issuer URL (single-domain mode).
    pub(crate) domain: Option<String>,
    pub(crate) domains: DomainsMode,
    pub(crate) audiences: Vec<String>,
    pub(crate) algorithms: Vec<Algorithm>,
    pub(crate) leeway: Duration,
    pub(crate) jwks_refresh_cooldown: Duration,
    /// The verified-token cache's size, when it is on.
    pub(crate) token_cache_size: Option<usize>,
    /// Told of cache lookups.
    pub(crate) observe: Observe,
    /// Keys given in the options (instead of discovery and a fetched JWKS).
    pub(crate) static_jwks: Option<serde_json::Map<String, serde_json::Value>>,
    /// The API's key for encrypted access tokens (JWE).
    pub(crate) decryption_key: Option<Arc<JweDecrypter>>,
    /// Whether plain tokens are accepted when a decryption key is set.
    pub(crate) accept_unencrypted: bool,
}

impl TokenVerifier {
    /// A verifier with `settings`, reading documents through `discovery` and `jwks`.
    pub(crate) fn new(
        settings: VerifySettings,
        discovery: DiscoveryCache,
        jwks: JwksCache,
    ) -> Self {
        let list_discovery_urls = match &settings.domains {
            DomainsMode::List(allowed) => allowed
                .iter()
                .map(|issuer| (issuer.clone(), discovery_url(issuer)))
                .collect(),
            _ => HashMap::new(),
        };
        let resolved = ResolvedIssuers::new(match &settings.domains {
            DomainsMode::Single => 1,
            DomainsMode::List(allowed) => allowed.len(),
            DomainsMode::Resolver(_) => 0,
        });
        let static_keys = settings.static_jwks.as_ref().map(|jwks| {
            let issuers: Vec<&str> = match &settings.domains {
                DomainsMode::List(allowed) => allowed.iter().map(String::as_str).collect(),
                _ => settings.domain.as_deref().into_iter().collect(),
            };
            StaticKeys::new(jwks, &settings.algorithms, &issuers)
        });
        Self {
            static_keys,
            single_discovery_url: settings
                .domain
                .as_deref()
                .map(discovery_url)
                .unwrap_or_default(),
            single_issuer: settings.domain.clone().unwrap_or_default(),
            list_discovery_urls,
            resolved,
            domains: settings.domains,
            audiences: settings.audiences,
            algorithms: settings.algorithms,
            leeway: settings.leeway,
            jwks_refresh_cooldown: settings.jwks_refresh_cooldown,
            discovery,
            jwks,
            tokens: settings.token_cache_size.map(TokenCache::new),
            observe: settings.observe,
            decryption_key: settings.decryption_key,
            accept_unencrypted: settings.accept_unencrypted,
        }
    }

    /// Verifies `token`: every check, in the reference's order.
    pub(crate) async fn verify(
        &self,
        token: &str,
        required: &[String],
        request: RequestContext<'_>,
    ) -> Result<Claims> {
        if token.is_empty() {
            return Err(Error::missing_argument("access_token"));
        }
        // 0. A token verified before, while it is unexpired and its key still published (a
        //    token over the size cap was never verified: it is refused by `decode`, unhashed).
        let cache = self
            .token_cache()
            .filter(|_| token.len() <= MAX_TOKEN_BYTES);
        let cache_key = cache.map(|c| c.key(token));
        if let (Some(cache), Some(key)) = (cache, &cache_key) {
            if let Some(hit) = cache.get(key, token) {
                if self.still_valid(&hit).await {
                    self.observe.cache(Cache::VerifiedToken, true);
                    checks::check_required(&hit.claims, required)?;
                    // The hash of exactly this token (the cache matched it byte for byte).
                    if let (Some(slot), Some(sha256)) = (request.token_digest, hit.sha256) {
                        let _ = slot.set(sha256);
                    }
                    return Ok(hit.claims.clone());
                }
                cache.remove(key);
            }
            self.observe.cache(Cache::VerifiedToken, false);
        }

        // 0b. An encrypted token (JWE): decrypted here, its inner JWS verified below. The
        //     cache above is keyed by the token as presented (the JWE), so a hit skips the
        //     decryption; a JWE always decrypts to the same inner token.
        let presented = token;
        let inner;
        let token = match &self.decryption_key {
            None => token,
            // Three segments: a plain JWS, refused unless accepted on purpose.
            Some(_) if jwe::is_compact_jws(token) => {
                if !self.accept_unencrypted {
                    return Err(TokenError::NotEncrypted.into());
                }
                token
            }
            // Anything else is taken for a JWE: every failure is the one generic answer.
            Some(key) => {
                inner = key
                    .decrypt(token)
                    .map_err(|jwe::Undecryptable| TokenError::Undecryptable)?;
                inner.as_str()
            }
        };

        // 1. Split and decode; the header checks (malformed header, `HS*` refused); the
        //    payload (malformed payload), with `aud` and the required claims settled.
        let mut texts = Texts::default();
        let expected = Expected {
            audiences: &self.audiences,
            required,
        };
        let decoded = decode(token, &mut texts, expected)?;
        let kid = checks::kid(&decoded.header);
        // The token's hash rides on the signature check only when the signed text is the token
        // as presented (not a JWE's inner token), from its first byte to its last.
        let segments = &decoded.segments;
        let token_digest = request.token_digest.filter(|_| {
            std::ptr::eq(token, presented)
                && segments.signing_input.as_ptr() == token.as_ptr()
                && segments.signing_input.len() + 1 + segments.signature.len() == token.len()
        });
        // Kept only from a token's second sighting (its first costs no insert).
        let caching = matches!((cache, &cache_key), (Some(c), Some(k)) if c.admits(k));

        // 2. The key: the unverified issuer (allowed domains), its discovery document (issuer,
        //    jwks_uri), the key set, the `kid` and its key. Read lock-free for an issuer
        //    resolved before (same answers); otherwise through the caches.
        // 3. Then the signature and the claims (`finish`).
        let pending = match self.with_remembered_keys(&decoded, &kid, |keys| {
            self.finish(&decoded, keys, caching, token_digest)
        }) {
            Some(done) => done?,
            None => {
                // Boxed: the full path (loads, refreshes, a resolver) is rare, and its future,
                // held inline, would make every verification's future several KiB that each
                // call moves (see `fetch::document_cache::DocumentCache::get`).
                let (discovery, keys) =
                    Box::pin(self.resolve_keys(&decoded, &kid, request)).await?;
                let keys = KeysInUse::find(&discovery, &keys, kid.clone()?)?;
                if !matches!(self.domains, DomainsMode::Resolver(_)) {
                    self.resolved.remember(keys.discovery_entry, keys.keys);
                }
                self.finish(&decoded, &keys, caching, token_digest)?
            }
        };

        // 4. Verified: keep the claims.
        let index = decoded.claims_index();
        drop(decoded);
        let claims = Claims::from_verified_text(texts.take_payload(), index);
        if let (Some(cache), Some(key), Some(pending)) = (cache, cache_key, pending)
            && let Some(exp) = claims.exp()
        {
            // Kept with the token's hash when the signature check computed it (then the
            // token is the one presented: see `token_digest` above).
            let sha256 = token_digest.and_then(|slot| slot.get().copied());
            cache.insert(
                key,
                presented,
                pending.entry(claims.clone(), exp + self.leeway.as_secs_f64(), sha256),
            );
        }
        Ok(claims)
    }

    /// The verified-token cache, unless a resolver may answer differently per request.
    fn token_cache(&self) -> Option<&TokenCache> {
        match self.domains {
            DomainsMode::Resolver(_) => None,
            _ => self.tokens.as_ref(),
        }
    }

    /// The checks once the key is known: signature, then claims. Answers, when the
    /// verified-token cache is on, what its entry needs (kept small: it is moved twice).
    fn finish(
        &self,
        decoded: &decode::Decoded<'_>,
        keys: &KeysInUse<'_>,
        caching: bool,
        token_digest: Option<&OnceLock<[u8; 32]>>,
    ) -> Result<Option<PendingEntry>> {
        checks::check_signature(decoded, keys.key, &self.algorithms, token_digest)?;
        let now = unix_now() as f64;
        check_claims(
            &decoded.payload,
            &ClaimRules {
                discovery_issuer: keys.issuer,
                leeway_secs: self.leeway.as_secs_f64(),
                now,
            },
        )?;
        // Owned only when it is cached.
        Ok(caching.then(|| keys.pending(now)))
    }

    /// Whether a cached verification still holds: not expired, and its key still published.
    async fn still_valid(&self, hit: &CachedToken) -> bool {
        if (unix_now() as f64) >= hit.valid_until {
            return false;
        }
        if let Some(fixed) = &self.static_keys {
            return fixed.has(&hit.kid);
        }
        match self.jwks.get(&hit.jwks_uri).await {
            Ok(current) => {
                Arc::ptr_eq(&current, &hit.keys) || current.value.find(&hit.kid).is_some()
            }
            Err(_) => false,
        }
    }

    /// Runs `f` with the key of an issuer resolved before, while its discovery and JWKS entries
    /// are current and its key set has the token's `kid`; `None` sends the token down the full
    /// path (which gives the same answers, and the errors).
    fn with_remembered_keys<R>(
        &self,
        decoded: &decode::Decoded<'_>,
        kid: &Result<Option<&str>, crate::error::TokenError>,
        f: impl FnOnce(&KeysInUse<'_>) -> R,
    ) -> Option<R> {
        if matches!(self.domains, DomainsMode::Resolver(_)) {
            return None;
        }
        let iss = checks::issuer_text(&decoded.payload)?;
        let kid = kid.as_ref().ok().copied().flatten()?;
        let now = Instant::now();
        self.resolved
            .with(iss, now, |pair| {
                let keys = KeysInUse::remembered(pair, kid)?;
                self.discovery.touch(&pair.discovery, now);
                self.jwks.touch(&pair.keys, now);
                self.observe
                    .cache(Cache::Document(Document::Discovery), true);
                self.observe.cache(Cache::Document(Document::Jwks), true);
                Some(f(&keys))
            })
            .flatten()
    }
}
