//! One Redis connection shared by the operations of a cache or a replay store: each operation
//! bounded in time, a back-off after a failure, and the replacement of a connection that keeps
//! timing out (a peer that vanished without closing the socket).

use std::fmt;
use std::future::Future;
use std::sync::atomic::{AtomicBool, AtomicU32, AtomicU64, Ordering};
use std::sync::{Mutex, PoisonError};
use std::time::{Duration, Instant};

use ::redis::aio::{ConnectionManager, ConnectionManagerConfig};
use ::redis::{Client, RedisError};

use super::{Settings, Target, describe_client};
use crate::Error;

/// Consecutive timeouts after which a connection built here is replaced by a new one.
const REPLACE_AFTER_TIMEOUTS: u32 = 3;

/// First pause between the connection manager's own reconnection attempts; it makes one retry
/// per attempt, and the next operation after a failure starts a new attempt.
const RECONNECT_MIN_DELAY: Duration = Duration::from_millis(50);

/// A Redis connection with bounded operations.
pub(super) struct Conn {
    manager: Mutex<ConnectionManager>,
    /// How to build a new connection manager (absent when the user gave one).
    rebuild: Option<(Client, ConnectionManagerConfig)>,
    /// Bound of one operation as a whole: connecting, sending, waiting for the answer.
    deadline: Duration,
    backoff: Duration,
    epoch: Instant,
    /// Milliseconds after `epoch` before which operations fail without trying Redis.
    retry_at: AtomicU64,
    /// Consecutive timeouts.
    timeouts: AtomicU32,
    /// Whether the last operation failed (for logging the transitions only).
    down: AtomicBool,
    /// Where Redis is, for logs (never credentials).
    describe: String,
}

/// Why an operation did not complete.
#[derive(Debug)]
pub(super) enum ConnError {
    /// Redis failed recently; not tried again before the back-off ends.
    Backoff,
    /// No answer within the deadline.
    Timeout(Duration),
    /// Redis (or the connection to it) reported an error.
    Redis(RedisError),
}

impl fmt::Display for ConnError {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        match self {
            Self::Backoff => f.write_str("Redis failed recently; waiting before the next attempt"),
            Self::Timeout(d) => write!(f, "no answer from Redis within {} ms", d.as_millis()),
            Self::Redis(e) => write!(f, "Redis error: {e}"),
        }
    }
}

impl Conn {
    /// Sets up the connection (lazily: nothing is sent here). `what` names the user in errors.
    pub(super) fn new(target: Target, settings: &Settings, what: &str) -> Result<Self, Error> {
        if settings.connection_timeout.is_zero() || settings.response_timeout.is_zero() {
            return Err(Error::configuration(format!(
                "{what}: the Redis connection and response timeouts must be positive"
            )));
        }
        if tokio::runtime::Handle::try_current().is_err() {
            return Err(Error::configuration(format!(
                "{what}: must be built inside a Tokio runtime"
            )));
        }
        let config = ConnectionManagerConfig::new()
            .set_connection_timeout(Some(settings.connection_timeout))
            .set_response_timeout(Some(settings.response_timeout))
            .set_number_of_retries(1)
            .set_min_delay(RECONNECT_MIN_DELAY)
            .set_max_delay(settings.connection_timeout);
        let (manager, rebuild, describe) = match target {
            Target::Url(url) => {
                let client = Client::open(url.as_str()).map_err(|e| {
                    Error::configuration(format!("{what}: invalid Redis URL ({e})")).with_source(e)
                })?;
                Self::lazy(client, config, what)?
            }
            Target::Client(client) => Self::lazy(client, config, what)?,
            Target::Manager(manager) => (manager, None, "<connection manager>".to_owned()),
        };
        Ok(Self {
            manager: Mutex::new(manager),
            rebuild,
            deadline: settings
                .connection_timeout
                .saturating_add(settings.response_timeout),
            backoff: settings.backoff,
            epoch: Instant::now(),
            retry_at: AtomicU64::new(0),
            timeouts: AtomicU32::new(0),
            down: AtomicBool::new(false),
            describe,
        })
    }

    #[allow(clippy::type_complexity)]
    fn lazy(
        client: Client,
        config: ConnectionManagerConfig,
        what: &str,
    ) -> Result<
        (
            ConnectionManager,
            Option<(Client, ConnectionManagerConfig)>,
            String,
        ),
        Error,
    > {
        let describe = describe_client(&client);
        let manager = ConnectionManager::new_lazy_with_config(client.clone(), config.clone())
            .map_err(|e| {
                Error::configuration(format!("{what}: cannot set up the Redis connection ({e})"))
                    .with_source(e)
            })?;
        Ok((manager, Some((client, config)), describe))
    }

    /// Where Redis is (for `Debug` and logs).
    pub(super) fn describe(&self) -> &str {
        &self.describe
    }

    /// Whether the last operation reached Redis (true before the first one).
    pub(super) fn is_available(&self) -> bool {
        !self.down.load(Ordering::Relaxed)
    }

    /// `PING`, for `build()`.
    pub(super) async fn ping(&self) -> Result<(), ConnError> {
        self.run(|mut c| async move { ::redis::cmd("PING").query_async::<()>(&mut c).await })
            .await
    }

    /// A builder's connection ([`new`](Self::new)) and one [`ping`](Self::ping): when Redis does
    /// not answer, a configuration error if `settings.require_available`, else the connection
    /// with the `PING` error for the builder's warning.
    pub(super) async fn start(
        target: Target,
        settings: &Settings,
        what: &str,
    ) -> Result<(Self, Option<ConnError>), Error> {
        let conn = Self::new(target, settings, what)?;
        match conn.ping().await {
            Ok(()) => Ok((conn, None)),
            Err(e) if settings.require_available => Err(Error::configuration(format!(
                "{what}: Redis at {} is not available: {e}",
                conn.describe()
            ))),
            Err(e) => Ok((conn, Some(e))),
        }
    }

    /// Runs `op` on the connection, within the deadline, unless Redis is in its back-off.
    pub(super) async fn run<T, F, Fut>(&self, op: F) -> Result<T, ConnError>
    where
        F: FnOnce(ConnectionManager) -> Fut,
        Fut: Future<Output = Result<T, RedisError>>,
    {
        if self.now_millis() < self.retry_at.load(Ordering::Relaxed) {
            return Err(ConnError::Backoff);
        }
        let manager = self
            .manager
            .lock()
            .unwrap_or_else(PoisonError::into_inner)
            .clone();
        let error = match tokio::time::timeout(self.deadline, op(manager)).await {
            Ok(Ok(value)) => {
                self.succeeded();
                return Ok(value);
            }
            Ok(Err(e)) => {
                let timed_out = e.is_timeout();
                (ConnError::Redis(e), timed_out)
            }
            Err(_) => (ConnError::Timeout(self.deadline), true),
        };
        self.failed(&error.0, error.1);
        Err(error.0)
    }

    fn now_millis(&self) -> u64 {
        u64::try_from(self.epoch.elapsed().as_millis()).unwrap_or(u64::MAX)
    }

    fn succeeded(&self) {
        self.timeouts.store(0, Ordering::Relaxed);
        if self.down.swap(false, Ordering::Relaxed) {
            tracing::info!(redis = %self.describe, "Redis is reachable again");
        }
    }

    fn failed(&self, error: &ConnError, timed_out: bool) {
        if !self.backoff.is_zero() {
            let backoff = u64::try_from(self.backoff.as_millis()).unwrap_or(u64::MAX);
            self.retry_at
                .store(self.now_millis().saturating_add(backoff), Ordering::Relaxed);
        }
        if !self.down.swap(true, Ordering::Relaxed) {
            tracing::warn!(redis = %self.describe, error = %error, "Redis is unavailable");
        }
        if !timed_out {
            self.timeouts.store(0, Ordering::Relaxed);
            return;
        }
        let count = self
            .timeouts
            .fetch_add(1, Ordering::Relaxed)
            .saturating_add(1);
        if count < REPLACE_AFTER_TIMEOUTS {
            return;
        }
        self.timeouts.store(0, Ordering::Relaxed);
        // The connection manager reconnects when a connection is dropped or refused, not when
        // one stays open without answering: start from a new one.
        if let Some((client, config)) = &self.rebuild
            && tokio::runtime::Handle::try_current().is_ok()
        {
            match ConnectionManager::new_lazy_with_config(client.clone(), config.clone()) {
                Ok(fresh) => {
                    *self.manager.lock().unwrap_or_else(PoisonError::into_inner) = fresh;
                    tracing::debug!(redis = %self.describe, "replaced a Redis connection that kept timing out");
                }
                Err(e) => {
                    tracing::debug!(redis = %self.describe, error = %e, "cannot replace the Redis connection");
                }
            }
        }
    }
}

debug_fields!(Conn, |this| {
    redis: this.describe,
    deadline: this.deadline,
    backoff: this.backoff,
    available: this.is_available(),
});

/// At most one warning per interval, counting the ones left out.
pub(super) struct WarnGate {
    epoch: Instant,
    interval_millis: u64,
    /// Milliseconds after `epoch` of the last warning plus one (0: none yet).
    last: AtomicU64,
    suppressed: AtomicU64,
}

impl WarnGate {
    pub(super) fn new(interval: Duration) -> Self {
        Self {
            epoch: Instant::now(),
            interval_millis: u64::try_from(interval.as_millis()).unwrap_or(u64::MAX),
            last: AtomicU64::new(0),
            suppressed: AtomicU64::new(0),
        }
    }

    /// `Some(number of warnings left out since the last one)` when a warning may be logged now.
    pub(super) fn permit(&self) -> Option<u64> {
        let now = u64::try_from(self.epoch.elapsed().as_millis())
            .unwrap_or(u64::MAX)
            .saturating_add(1);
        let last = self.last.load(Ordering::Relaxed);
        let due = last == 0 || now.saturating_sub(last) >= self.interval_millis;
        if due
            && self
                .last
                .compare_exchange(last, now, Ordering::Relaxed, Ordering::Relaxed)
                .is_ok()
        {
            Some(self.suppressed.swap(0, Ordering::Relaxed))
        } else {
            self.suppressed.fetch_add(1, Ordering::Relaxed);
            None
        }
    }
}
