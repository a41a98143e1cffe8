//! Fleet mode: Redis back ends for the discovery/JWKS document cache ([`RedisCache`]) and for
//! DPoP replay protection ([`RedisReplayStore`]), behind the crate feature `redis`.
//!
//! A single server keeps both in memory. Servers that share traffic behind a load balancer need
//! them shared: otherwise a DPoP proof accepted by one server can be replayed against another
//! (RFC 9449 section 11.1), and every server fetches discovery and JWKS documents on its own.
//!
//! ```no_run
//! use std::sync::Arc;
//! use std::time::Duration;
//! use auth0_api::{ApiClient, ApiClientOptions};
//! use auth0_api::redis::{RedisCache, RedisReplayStore};
//!
//! # async fn fleet() -> Result<(), auth0_api::Error> {
//! let url = "redis://redis.internal:6379/0";
//! let cache = RedisCache::builder(url)
//!     .prefix("orders-api:")
//!     .timeout(Duration::from_millis(300))
//!     .fallback_max_entries(200)
//!     .build()
//!     .await?;
//! let replay = RedisReplayStore::builder(url)
//!     .prefix("orders-api:")
//!     .fail_open(false) // the default: a proof that cannot be recorded is refused (503)
//!     .build()
//!     .await?;
//! let client = ApiClient::new(
//!     ApiClientOptions::builder()
//!         .domain("your-tenant.auth0.com")
//!         .audience("https://api.example.com")
//!         .cache_adapter(Arc::new(cache))
//!         .replay_store(Arc::new(replay))
//!         .build()?,
//! )?;
//! # Ok(()) }
//! ```
//!
//! # Keys and values
//!
//! | what | key | value | expiry |
//! |---|---|---|---|
//! | a document | `prefix + "doc:" + key` | the JSON text of the document | the cache TTL (`PX`) |
//! | a DPoP proof | `prefix + "jti:" + hex(SHA-256(jkt ‖ 0x00 ‖ jti))` | `1` | the proof window (`PX`) |
//!
//! The prefix defaults to [`DEFAULT_PREFIX`]. Proofs are recorded with `SET key 1 NX PX ttl`: one
//! atomic command, so when several servers see the same proof at once exactly one of them
//! records it. [`CacheAdapter::clear`](crate::fetch::cache::CacheAdapter::clear) removes only the
//! cache's own keys (`prefix + "doc:*"`, found with `SCAN` and deleted in bounded batches); it
//! never flushes the database and never touches recorded proofs.
//!
//! # When Redis is unavailable
//!
//! Every operation is bounded: connecting by the connection timeout, waiting for an answer by the
//! response timeout ([`DEFAULT_TIMEOUT`] each; [`RedisCacheBuilder::timeout`]). After a failure,
//! Redis is left alone for a short back-off ([`DEFAULT_BACKOFF`]) during which operations fail at
//! once instead of queueing; then the next operation tries again. The `redis` crate's connection
//! manager reconnects by itself, and a connection that keeps timing out is replaced, so a Redis
//! that comes back (restarted, failed over) is used again without restarting the clients.
//!
//! - **The cache falls back to memory.** Every write goes to Redis and to a bounded in-process
//!   [`InMemoryCache`](crate::fetch::cache::InMemoryCache) (documents read from Redis are copied there
//!   too); a read that cannot reach Redis is answered from it, and a miss there makes the client
//!   fetch the document from the tenant. Verification keeps working through an outage.
//! - **The replay store fails closed.** A proof that cannot be recorded is refused:
//!   [`ReplayStoreError::Unavailable`](crate::dpop::replay::ReplayStoreError::Unavailable), which
//!   the client answers with `503 temporarily_unavailable` ("DPoP replay store unavailable").
//!   Never a silent accept. With [`RedisReplayStoreBuilder::fail_open`] the store instead logs a
//!   warning and falls back to a per-server
//!   [`InMemoryReplayStore`](crate::dpop::replay::InMemoryReplayStore): a proof replayed against
//!   the same server is still refused, one replayed against another server during the outage is
//!   not. Choose this only where availability matters more than replay protection.
//!
//! # Starting without Redis
//!
//! `build()` fails only on a configuration error (an invalid URL, a zero timeout). It does not
//! need Redis to be up: it tries one `PING` (bounded by the timeouts) to warm the connection,
//! logs a warning if that fails, and leaves the reconnecting to the connection manager. Servers
//! can therefore start during a Redis outage and serve with the fallbacks above. Call
//! `.require_available(true)` to make `build()` fail with a configuration error instead when
//! Redis does not answer.
//!
//! # Limits
//!
//! Redis's memory bounds the store: configure `maxmemory` with a `volatile-*` policy or leave room
//! for `proofs per second × 330 s` keys of about 100 bytes. Unlike the in-memory store, the Redis
//! store does not bound the live proofs of one key (each needs a valid access token bound to that
//! key). Connections use the URL's settings: `rediss://` needs the `redis` crate's TLS features,
//! which this crate does not enable.

/// Builder setters that store their value in the field of the same name of the builder's
/// connection settings (`self.settings`), each with its doc comment.
macro_rules! settings_setters {
    ($($(#[$doc:meta])* $name:ident: $ty:ty;)*) => {$(
        $(#[$doc])*
        pub fn $name(mut self, value: $ty) -> Self {
            self.settings.$name = value;
            self
        }
    )*};
}

/// The timeout setters both builders share (they configure the same connection settings).
macro_rules! timeout_setters {
    () => {
        /// Sets both the connection timeout and the response timeout (default
        /// [`DEFAULT_TIMEOUT`](super::DEFAULT_TIMEOUT) each). An operation takes at most their sum.
        pub fn timeout(mut self, timeout: Duration) -> Self {
            self.settings.connection_timeout = timeout;
            self.settings.response_timeout = timeout;
            self
        }

        settings_setters! {
            /// How long connecting to Redis may take (default
            /// [`DEFAULT_TIMEOUT`](super::DEFAULT_TIMEOUT)).
            connection_timeout: Duration;
            /// How long Redis may take to answer a command (default
            /// [`DEFAULT_TIMEOUT`](super::DEFAULT_TIMEOUT)).
            response_timeout: Duration;
        }
    };
}

mod cache;
mod conn;
mod replay;

use std::fmt;
use std::time::Duration;

pub use cache::{RedisCache, RedisCacheBuilder};
pub use replay::{RedisReplayStore, RedisReplayStoreBuilder};

/// Default key prefix: `auth0-api:`.
pub const DEFAULT_PREFIX: &str = "auth0-api:";

/// Default connection timeout and default response timeout (500 ms each).
pub const DEFAULT_TIMEOUT: Duration = Duration::from_millis(500);

/// Default pause after a failure before Redis is tried again (1 s).
pub const DEFAULT_BACKOFF: Duration = Duration::from_secs(1);

/// Default bound of the cache's in-process fallback (200 documents: the default client keeps 100
/// discovery and 100 JWKS documents).
pub const DEFAULT_FALLBACK_MAX_ENTRIES: usize = 200;

/// Documents' namespace under the prefix.
const DOC_NAMESPACE: &str = "doc:";
/// Proofs' namespace under the prefix.
const JTI_NAMESPACE: &str = "jti:";

/// Where to find Redis: a URL (`redis://[user:password@]host[:port][/db]`,
/// `redis+unix:///path`), a [`redis::Client`], or an existing
/// [`ConnectionManager`](::redis::aio::ConnectionManager) to share one connection between the
/// cache, the replay store and the application.
///
/// With a connection manager, its own connection settings apply; this crate still bounds each
/// operation by the configured timeouts, but cannot replace a connection that keeps timing out.
///
/// ```
/// use auth0_api::redis::RedisTarget;
/// let target = RedisTarget::from("redis://:secret@127.0.0.1:6379/0");
/// assert!(!format!("{target:?}").contains("secret"), "Debug never shows a password");
/// ```
#[derive(Clone)]
pub struct RedisTarget(Target);

#[derive(Clone)]
enum Target {
    Url(String),
    Client(::redis::Client),
    Manager(::redis::aio::ConnectionManager),
}

impl From<&str> for RedisTarget {
    fn from(url: &str) -> Self {
        Self(Target::Url(url.to_owned()))
    }
}

impl From<String> for RedisTarget {
    fn from(url: String) -> Self {
        Self(Target::Url(url))
    }
}

impl From<&String> for RedisTarget {
    fn from(url: &String) -> Self {
        Self(Target::Url(url.clone()))
    }
}

impl From<::redis::Client> for RedisTarget {
    fn from(client: ::redis::Client) -> Self {
        Self(Target::Client(client))
    }
}

impl From<::redis::aio::ConnectionManager> for RedisTarget {
    fn from(manager: ::redis::aio::ConnectionManager) -> Self {
        Self(Target::Manager(manager))
    }
}

impl fmt::Debug for RedisTarget {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        match &self.0 {
            // A URL may carry a password: show only where it points, when it parses.
            Target::Url(url) => match ::redis::Client::open(url.as_str()) {
                Ok(client) => write!(f, "RedisTarget({})", describe_client(&client)),
                Err(_) => f.write_str("RedisTarget(<invalid URL>)"),
            },
            Target::Client(client) => write!(f, "RedisTarget({})", describe_client(client)),
            Target::Manager(_) => f.write_str("RedisTarget(<connection manager>)"),
        }
    }
}

/// `host:port/db` (or the socket path): never credentials.
fn describe_client(client: &::redis::Client) -> String {
    let info = client.get_connection_info();
    format!("{}/{}", info.addr(), info.redis_settings().db())
}

/// Settings common to both builders.
#[derive(Debug, Clone)]
struct Settings {
    prefix: String,
    connection_timeout: Duration,
    response_timeout: Duration,
    backoff: Duration,
    require_available: bool,
}

impl Default for Settings {
    fn default() -> Self {
        Self {
            prefix: DEFAULT_PREFIX.to_owned(),
            connection_timeout: DEFAULT_TIMEOUT,
            response_timeout: DEFAULT_TIMEOUT,
            backoff: DEFAULT_BACKOFF,
            require_available: false,
        }
    }
}

/// `prefix + "doc:" + key`: where the cache keeps the document `key`.
fn doc_key(prefix: &str, key: &str) -> String {
    let mut out = String::with_capacity(prefix.len() + DOC_NAMESPACE.len() + key.len());
    out.push_str(prefix);
    out.push_str(DOC_NAMESPACE);
    out.push_str(key);
    out
}

/// `prefix + "jti:" + lower-case hex of key`: where the replay store records a proof.
fn jti_key(prefix: &str, key: &[u8; 32]) -> String {
    const HEX: &[u8; 16] = b"0123456789abcdef";
    let mut out = String::with_capacity(prefix.len() + JTI_NAMESPACE.len() + 64);
    out.push_str(prefix);
    out.push_str(JTI_NAMESPACE);
    for byte in key {
        out.push(char::from(HEX[usize::from(byte >> 4)]));
        out.push(char::from(HEX[usize::from(byte & 0x0f)]));
    }
    out
}

/// The `SCAN MATCH` pattern of every document key: the prefix with glob characters escaped, so
/// that a prefix such as `a*` matches only itself.
fn doc_pattern(prefix: &str) -> String {
    let mut out = String::with_capacity(prefix.len() * 2 + DOC_NAMESPACE.len() + 1);
    for c in prefix.chars().chain(DOC_NAMESPACE.chars()) {
        if matches!(c, '*' | '?' | '[' | ']' | '\\') {
            out.push('\\');
        }
        out.push(c);
    }
    out.push('*');
    out
}

/// Longest expiry sent to Redis (about 100 years): `PX` overflows past `i64` milliseconds.
const MAX_PX_MILLIS: u64 = 100 * 365 * 24 * 3600 * 1000;

/// A TTL as `PX` milliseconds: rounded up (a TTL is never shortened), at least 1 (Redis refuses
/// 0), at most [`MAX_PX_MILLIS`].
fn px_millis(ttl: Duration) -> u64 {
    let millis = ttl.as_nanos().div_ceil(1_000_000);
    u64::try_from(millis)
        .unwrap_or(MAX_PX_MILLIS)
        .clamp(1, MAX_PX_MILLIS)
}

/// A document as stored: its JSON text.
fn encode(value: &serde_json::Value) -> String {
    value.to_string()
}

/// A stored document; `None` for bytes that are not JSON (written by something else).
fn decode(bytes: &[u8]) -> Option<serde_json::Value> {
    serde_json::from_slice(bytes).ok()
}

#[cfg(test)]
#[allow(clippy::unwrap_used, clippy::expect_used, clippy::panic)]
mod tests;
