//! Observability: an [`Observer`] sees what the client does, for metrics, logs and alerts.
//!
//! Install one with [`ApiClientOptionsBuilder::observer`](crate::ApiClientOptionsBuilder::observer).
//! Every method has an empty default, so an observer implements only what it counts; every event
//! is a `#[non_exhaustive]` value, so new fields and new methods are not breaking changes. The
//! events carry no token material: no token, proof, claim value or secret, only outcomes, typed
//! reasons, URLs of the tenant's documents and durations.
//!
//! | method | when |
//! |---|---|
//! | [`verification`](Observer::verification) | each `verify_request`, `verify_access_token(_with)` and `verify_dpop_proof`, with its outcome (the typed [`Reason`](crate::error::Reason) on failure) and latency |
//! | [`fetch`](Observer::fetch) | each discovery or JWKS load from the network (or from the [`CacheAdapter`](crate::cache::CacheAdapter)), with its outcome and latency |
//! | [`cache`](Observer::cache) | each lookup of the verified-token cache and of the in-process document caches: hit or miss |
//! | [`replay_rejected`](Observer::replay_rejected) | a DPoP proof refused because its `jti` was seen before |
//! | [`nonce_challenge`](Observer::nonce_challenge) | a `401 use_dpop_nonce` answer (a proof without a valid server nonce) |
//!
//! Methods are called on the verifying task, synchronously: keep them cheap (an atomic add, a
//! histogram observation) and never block. With no observer installed nothing is measured and
//! nothing is called.
//!
//! Alongside, the client opens `tracing` spans at debug level, never with token material (the
//! verification spans only when a subscriber listens at that level: otherwise not even a
//! disabled span is made):
//!
//! | span | fields |
//! |---|---|
//! | `auth0_api::verify_request` | `scheme` (`Bearer` or `DPoP`) on success, `error` (the OAuth error code, e.g. `invalid_token`) on failure |
//! | `auth0_api::verify_access_token`, `auth0_api::verify_dpop_proof` | `error` on failure |
//! | `auth0_api::fetch` | `document` (`discovery` or `jwks`) and `url` (the tenant's document URL) |
//!
//! The fields are recorded when the verification ends, so a subscriber sees them on the span's
//! close (with `tracing_subscriber::fmt`, `with_span_events(FmtSpan::CLOSE)`).
//!
//! ```
//! use std::sync::atomic::{AtomicU64, Ordering};
//! use std::sync::Arc;
//! use auth0_api::observe::{Observer, Verification};
//! use auth0_api::ApiClientOptions;
//!
//! #[derive(Default)]
//! struct Counts {
//!     ok: AtomicU64,
//!     refused: AtomicU64,
//! }
//!
//! impl Observer for Counts {
//!     fn verification(&self, event: &Verification<'_>) {
//!         let counter = if event.error.is_none() { &self.ok } else { &self.refused };
//!         counter.fetch_add(1, Ordering::Relaxed);
//!     }
//! }
//!
//! let counts = Arc::new(Counts::default());
//! let options = ApiClientOptions::builder()
//!     .domain("your-tenant.auth0.com")
//!     .audience("https://api.example.com")
//!     .observer(counts.clone())
//!     .build()?;
//! # let _ = options;
//! # Ok::<(), auth0_api::Error>(())
//! ```

use std::sync::Arc;
use std::time::{Duration, Instant};

use crate::challenge::AuthScheme;
use crate::error::{Error, ErrorKind, ProofError, Reason};

/// Sees verifications, document fetches, cache lookups, replay rejections and nonce challenges.
///
/// Every method has an empty default. See the [module docs](self).
pub trait Observer: Send + Sync + 'static {
    /// A verification finished (`verify_request`, `verify_access_token(_with)` or
    /// `verify_dpop_proof`).
    fn verification(&self, event: &Verification<'_>) {
        let _ = event;
    }

    /// A discovery document or key set was loaded (not read from the in-process cache).
    fn fetch(&self, event: &Fetch<'_>) {
        let _ = event;
    }

    /// A cache was looked up.
    fn cache(&self, event: &CacheLookup) {
        let _ = event;
    }

    /// A DPoP proof was refused as a replay (its `jti` was seen before).
    fn replay_rejected(&self) {}

    /// A request was answered `401 use_dpop_nonce`: the client must retry with the fresh nonce.
    fn nonce_challenge(&self) {}
}

/// Which public entry point a [`Verification`] was.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
#[non_exhaustive]
pub enum EntryPoint {
    /// [`ApiClient::verify_request`](crate::ApiClient::verify_request).
    Request,
    /// [`ApiClient::verify_access_token`](crate::ApiClient::verify_access_token) or
    /// [`verify_access_token_with`](crate::ApiClient::verify_access_token_with).
    AccessToken,
    /// [`ApiClient::verify_dpop_proof`](crate::ApiClient::verify_dpop_proof).
    DpopProof,
}

impl EntryPoint {
    /// A short label: `request`, `access_token`, `dpop_proof`.
    pub fn as_str(self) -> &'static str {
        match self {
            Self::Request => "request",
            Self::AccessToken => "access_token",
            Self::DpopProof => "dpop_proof",
        }
    }
}

/// A finished verification.
#[derive(Debug, Clone, Copy)]
#[non_exhaustive]
pub struct Verification<'a> {
    /// The entry point.
    pub entry: EntryPoint,
    /// The scheme of a successful `verify_request` (`None` otherwise).
    pub scheme: Option<AuthScheme>,
    /// Why it failed (`None`: it passed). Its [`reason`](Error::reason) is typed; its
    /// [`error_code`](Error::error_code) and [`status_code`](Error::status_code) are the answer.
    pub error: Option<&'a Error>,
    /// How long it took, the network included.
    pub elapsed: Duration,
}

impl<'a> Verification<'a> {
    /// `"ok"`, or the failure's OAuth error code (`invalid_token`, `invalid_dpop_proof`, ...):
    /// a label of bounded cardinality for metrics.
    pub fn outcome(&self) -> &'a str {
        match self.error {
            None => "ok",
            Some(e) => e.error_code(),
        }
    }
}

/// Which tenant document a [`Fetch`] or a [`CacheLookup`] concerns.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash)]
#[non_exhaustive]
pub enum Document {
    /// The OpenID discovery document.
    Discovery,
    /// The key set (JWKS).
    Jwks,
}

impl Document {
    /// `discovery` or `jwks`.
    pub fn as_str(self) -> &'static str {
        match self {
            Self::Discovery => "discovery",
            Self::Jwks => "jwks",
        }
    }

    pub(crate) fn from_kind(kind: &str) -> Self {
        if kind == "jwks" {
            Self::Jwks
        } else {
            Self::Discovery
        }
    }
}

/// Where a loaded document came from.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
#[non_exhaustive]
pub enum Source {
    /// The tenant, over HTTPS.
    Network,
    /// The [`CacheAdapter`](crate::cache::CacheAdapter) (for example Redis), still fresh there.
    Adapter,
}

/// A document load.
#[derive(Debug, Clone, Copy)]
#[non_exhaustive]
pub struct Fetch<'a> {
    /// Which document.
    pub document: Document,
    /// Its URL (the tenant's, never a token's).
    pub url: &'a str,
    /// Where it came from (a failure is always [`Source::Network`]).
    pub source: Source,
    /// Why it failed (`None`: loaded).
    pub error: Option<&'a (dyn std::error::Error + 'static)>,
    /// How long it took.
    pub elapsed: Duration,
}

/// Which cache a [`CacheLookup`] looked in.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash)]
#[non_exhaustive]
pub enum Cache {
    /// The verified-token cache (`verified_token_cache`).
    VerifiedToken,
    /// The in-process cache of parsed discovery documents or key sets. An issuer resolved
    /// before is read lock-free from both at once: that counts as a hit of each.
    Document(Document),
}

impl Cache {
    /// `verified_token`, `discovery` or `jwks`.
    pub fn as_str(self) -> &'static str {
        match self {
            Self::VerifiedToken => "verified_token",
            Self::Document(d) => d.as_str(),
        }
    }
}

/// A cache lookup.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
#[non_exhaustive]
pub struct CacheLookup {
    /// Which cache.
    pub cache: Cache,
    /// Whether it held a usable entry.
    pub hit: bool,
}

/// The client's handle on its observer: every call is a no-op without one.
#[derive(Clone, Default)]
pub(crate) struct Observe(Option<Arc<dyn Observer>>);

impl Observe {
    pub(crate) fn new(observer: Option<Arc<dyn Observer>>) -> Self {
        Self(observer)
    }

    /// The start of something to time: read the clock only when someone is watching.
    #[inline]
    pub(crate) fn start(&self) -> Option<Instant> {
        self.0.as_ref().map(|_| Instant::now())
    }

    #[inline]
    pub(crate) fn cache(&self, cache: Cache, hit: bool) {
        if let Some(o) = &self.0 {
            o.cache(&CacheLookup { cache, hit });
        }
    }

    pub(crate) fn fetch(
        &self,
        started: Option<Instant>,
        document: Document,
        url: &str,
        source: Source,
        error: Option<&(dyn std::error::Error + 'static)>,
    ) {
        if let (Some(o), Some(started)) = (&self.0, started) {
            o.fetch(&Fetch {
                document,
                url,
                source,
                error,
                elapsed: started.elapsed(),
            });
        }
    }

    /// Reports a finished verification, and the replay rejection or nonce challenge it was.
    pub(crate) fn verification(
        &self,
        started: Option<Instant>,
        entry: EntryPoint,
        scheme: Option<AuthScheme>,
        error: Option<&Error>,
    ) {
        let (Some(o), Some(started)) = (&self.0, started) else {
            return;
        };
        o.verification(&Verification {
            entry,
            scheme,
            error,
            elapsed: started.elapsed(),
        });
        if let Some(e) = error {
            if matches!(e.reason(), Reason::Proof(ProofError::Replayed)) {
                o.replay_rejected();
            }
            if *e.kind() == ErrorKind::UseDpopNonce {
                o.nonce_challenge();
            }
        }
    }
}

impl std::fmt::Debug for Observe {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.write_str(if self.0.is_some() { "Observer" } else { "None" })
    }
}
