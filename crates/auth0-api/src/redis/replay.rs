//! [`RedisReplayStore`]: DPoP proof identifiers recorded in Redis, atomically across a fleet.

use std::fmt;
use std::time::Duration;

use super::conn::{Conn, WarnGate};
use super::{RedisTarget, Settings, jti_key, px_millis};
use crate::Error;
use crate::dpop::replay::{InMemoryReplayStore, ReplayStore, ReplayStoreError};

/// Interval between two fail-open warnings (the ones in between are counted).
const WARN_INTERVAL: Duration = Duration::from_secs(10);

/// A [`ReplayStore`] over Redis: each proof is recorded with `SET prefix+"jti:"+hex(key) 1 NX PX
/// ttl`, one atomic command, so that exactly one server of a fleet accepts a given proof.
///
/// When Redis cannot be reached the store fails closed
/// ([`ReplayStoreError::Unavailable`]: the client answers `503 temporarily_unavailable`), unless
/// built with [`fail_open(true)`](RedisReplayStoreBuilder::fail_open); see the
/// [module docs](super#when-redis-is-unavailable).
///
/// ```no_run
/// use std::sync::Arc;
/// use auth0_api::ApiClientOptions;
/// use auth0_api::redis::RedisReplayStore;
///
/// # async fn f() -> Result<(), auth0_api::Error> {
/// let store = RedisReplayStore::builder("redis://127.0.0.1:6379").build().await?;
/// let options = ApiClientOptions::builder()
///     .domain("your-tenant.auth0.com")
///     .audience("https://api.example.com")
///     .replay_store(Arc::new(store))
///     .build()?;
/// # Ok(()) }
/// ```
pub struct RedisReplayStore {
    conn: Conn,
    prefix: String,
    /// Per-server protection while Redis is down, when failing open.
    fail_open: Option<InMemoryReplayStore>,
    warn: WarnGate,
}

/// Builds a [`RedisReplayStore`]; see [`RedisReplayStore::builder`].
#[derive(Debug)]
#[must_use = "a builder does nothing until `build()`"]
pub struct RedisReplayStoreBuilder {
    target: RedisTarget,
    settings: Settings,
    fail_open: bool,
}

impl RedisReplayStore {
    /// A builder for a store at `target`: a URL, a [`redis::Client`] or a
    /// [`ConnectionManager`](::redis::aio::ConnectionManager).
    pub fn builder(target: impl Into<RedisTarget>) -> RedisReplayStoreBuilder {
        RedisReplayStoreBuilder {
            target: target.into(),
            settings: Settings::default(),
            fail_open: false,
        }
    }

    /// The key prefix.
    pub fn prefix(&self) -> &str {
        &self.prefix
    }

    /// Whether the store accepts proofs (checked per server only) while Redis is unavailable.
    pub fn fails_open(&self) -> bool {
        self.fail_open.is_some()
    }

    /// Whether the last operation reached Redis (`true` before the first one).
    pub fn is_redis_available(&self) -> bool {
        self.conn.is_available()
    }
}

impl RedisReplayStoreBuilder {
    /// The key prefix (default [`DEFAULT_PREFIX`](super::DEFAULT_PREFIX)); proofs live under
    /// `prefix + "jti:"`. Every server of one API must use the same.
    pub fn prefix(mut self, prefix: impl Into<String>) -> Self {
        self.settings.prefix = prefix.into();
        self
    }

    /// What happens when Redis cannot record a proof (default `false`).
    ///
    /// - `false` (fail closed): the proof is refused with [`ReplayStoreError::Unavailable`], and
    ///   the client answers `503 temporarily_unavailable`.
    /// - `true` (fail open): a warning is logged (at most one per 10 s, with the number left
    ///   out) and the proof is checked against an in-process
    ///   [`InMemoryReplayStore`] only: replays against the same server are still refused,
    ///   replays against another server during the outage are not.
    pub fn fail_open(mut self, fail_open: bool) -> Self {
        self.fail_open = fail_open;
        self
    }

    timeout_setters!();

    /// After a failure, how long checks fail (or, failing open, fall back) without trying Redis
    /// (default [`DEFAULT_BACKOFF`](super::DEFAULT_BACKOFF); zero: try every time).
    pub fn backoff(mut self, backoff: Duration) -> Self {
        self.settings.backoff = backoff;
        self
    }

    /// Whether [`build`](Self::build) fails when Redis does not answer a `PING` (default false:
    /// the store starts, and fails closed or open until Redis answers).
    pub fn require_available(mut self, required: bool) -> Self {
        self.settings.require_available = required;
        self
    }

    /// Builds the store and tries one `PING` (see the [module docs](super#starting-without-redis)).
    ///
    /// # Errors
    /// A configuration error ([`ErrorKind::Configuration`](crate::ErrorKind::Configuration)) for
    /// an invalid URL or a zero timeout, or when Redis does not answer and
    /// [`require_available`](Self::require_available) is set.
    pub async fn build(self) -> Result<RedisReplayStore, Error> {
        let conn = Conn::new(self.target.0, &self.settings, "RedisReplayStore")?;
        if let Err(e) = conn.ping().await {
            if self.settings.require_available {
                return Err(Error::configuration(format!(
                    "RedisReplayStore: Redis at {} is not available: {e}",
                    conn.describe()
                )));
            }
            tracing::warn!(
                redis = %conn.describe(),
                error = %e,
                fail_open = self.fail_open,
                "DPoP replay store starting without Redis"
            );
        }
        Ok(RedisReplayStore {
            conn,
            prefix: self.settings.prefix,
            fail_open: self.fail_open.then(InMemoryReplayStore::default),
            warn: WarnGate::new(WARN_INTERVAL),
        })
    }
}

impl fmt::Debug for RedisReplayStore {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.debug_struct("RedisReplayStore")
            .field("conn", &self.conn)
            .field("prefix", &self.prefix)
            .field("fail_open", &self.fail_open.is_some())
            .finish()
    }
}

/// What `SET ... NX` answered: `Some(true)` recorded, `Some(false)` already there.
pub(super) fn set_nx_outcome(reply: &::redis::Value) -> Option<bool> {
    match reply {
        ::redis::Value::Okay => Some(true),
        ::redis::Value::SimpleString(s) if s == "OK" => Some(true),
        ::redis::Value::Nil => Some(false),
        _ => None,
    }
}

#[async_trait::async_trait]
impl ReplayStore for RedisReplayStore {
    async fn check_and_insert(
        &self,
        key: [u8; 32],
        jkt: &str,
        ttl: Duration,
    ) -> Result<bool, ReplayStoreError> {
        let redis_key = jti_key(&self.prefix, &key);
        let reply = self
            .conn
            .run(|mut c| async move {
                ::redis::cmd("SET")
                    .arg(&redis_key)
                    .arg(1)
                    .arg("NX")
                    .arg("PX")
                    .arg(px_millis(ttl))
                    .query_async::<::redis::Value>(&mut c)
                    .await
            })
            .await;
        let error = match reply {
            Ok(value) => match set_nx_outcome(&value) {
                Some(new) => return Ok(new),
                None => "unexpected reply to SET NX".to_owned(),
            },
            Err(e) => e.to_string(),
        };
        let Some(local) = &self.fail_open else {
            return Err(ReplayStoreError::Unavailable(error));
        };
        match self.warn.permit() {
            Some(suppressed) => tracing::warn!(
                redis = %self.conn.describe(),
                error = %error,
                suppressed,
                "DPoP replay store unavailable; failing open: proofs are checked by this server only"
            ),
            None => tracing::debug!(
                redis = %self.conn.describe(),
                error = %error,
                "DPoP replay store unavailable; failing open"
            ),
        }
        local.check_and_insert(key, jkt, ttl).await
    }
}
