//! Fleet mode (feature `redis`): two clients sharing one Redis for documents and DPoP replay
//! protection, against real `redis-server` processes that each test starts on a free loopback
//! port and kills at the end (also on failure: [`RedisServer`]'s `Drop`).
//!
//! Needs `redis-server` on the `PATH` (`.ci/run` installs Debian's `redis-server`).

use std::process::{Child, Command, Stdio};
use std::sync::Arc;
use std::sync::atomic::{AtomicUsize, Ordering};
use std::time::{Duration, Instant};

use auth0_api::cache::CacheAdapter;
use auth0_api::dpop::ReplayStore;
use auth0_api::redis::{RedisCache, RedisReplayStore};
use auth0_api::{ApiClient, Error, ErrorKind, VerifyRequest};
use auth0_api_dev_tenant::DevTenant;
use auth0_api_dev_tenant::dpop::DpopKey;
use serde_json::json;
use tokio::io::{AsyncReadExt, AsyncWriteExt};
use tracing::instrument::WithSubscriber;

use crate::{AUD, client, options};

/// The URL the proofs are made for.
const URL: &str = "https://api.example.com/orders";

/// Redis timeouts of the stores under test: short, so that outages are quick to observe.
const TIMEOUT: Duration = Duration::from_millis(200);
const BACKOFF: Duration = Duration::from_millis(200);

/// How long a test waits for recovery after Redis is back.
const RECOVERY: Duration = Duration::from_secs(15);

// --- a redis-server of our own ------------------------------------------------------------------

/// A `redis-server` on a loopback port, killed on drop.
struct RedisServer {
    port: u16,
    child: Option<Child>,
}

impl RedisServer {
    /// Starts one on a free port (a few tries: the port is picked before the server binds it).
    async fn start() -> Self {
        for _ in 0..5 {
            if let Some(server) = Self::try_start(free_port()).await {
                return server;
            }
        }
        panic!("redis-server did not start")
    }

    async fn try_start(port: u16) -> Option<Self> {
        let child = Command::new("redis-server")
            .args(["--port", &port.to_string()])
            .args(["--save", "", "--appendonly", "no", "--bind", "127.0.0.1"])
            .stdin(Stdio::null())
            .stdout(Stdio::null())
            .stderr(Stdio::null())
            .spawn()
            .unwrap_or_else(|e| {
                panic!(
                    "cannot run redis-server ({e}): install it (apt-get install -y redis-server)"
                )
            });
        let mut server = Self {
            port,
            child: Some(child),
        };
        for _ in 0..200 {
            if let Some(child) = server.child.as_mut()
                && let Ok(Some(_exited)) = child.try_wait()
            {
                server.child = None;
                return None;
            }
            if ping(port).await {
                return Some(server);
            }
            tokio::time::sleep(Duration::from_millis(25)).await;
        }
        None
    }

    fn url(&self) -> String {
        format!("redis://127.0.0.1:{}", self.port)
    }

    /// Kills the server (as a crash would: no shutdown handshake).
    fn stop(&mut self) {
        if let Some(mut child) = self.child.take() {
            let _ = child.kill();
            let _ = child.wait();
        }
    }

    /// Stops and starts it again on the same port, empty.
    async fn restart(&mut self) {
        self.stop();
        for _ in 0..20 {
            if let Some(mut fresh) = Self::try_start(self.port).await {
                self.child = fresh.child.take();
                return;
            }
            tokio::time::sleep(Duration::from_millis(100)).await;
        }
        panic!("redis-server did not restart on port {}", self.port)
    }

    /// Freezes (`SIGSTOP`) or thaws (`SIGCONT`) the process: connections stay open, nothing
    /// answers.
    fn signal(&self, signal: &str) {
        let pid = self.child.as_ref().expect("running").id();
        let status = Command::new("kill")
            .args([signal, &pid.to_string()])
            .status()
            .expect("kill runs");
        assert!(status.success());
    }
}

impl Drop for RedisServer {
    fn drop(&mut self) {
        self.stop();
    }
}

fn free_port() -> u16 {
    let listener = std::net::TcpListener::bind("127.0.0.1:0").expect("a free port");
    listener.local_addr().expect("bound").port()
}

/// Whether a Redis answers `PING` on `port`.
async fn ping(port: u16) -> bool {
    let attempt = async {
        let mut stream = tokio::net::TcpStream::connect(("127.0.0.1", port))
            .await
            .ok()?;
        stream.write_all(b"PING\r\n").await.ok()?;
        let mut buf = [0u8; 7];
        stream.read_exact(&mut buf).await.ok()?;
        Some(&buf == b"+PONG\r\n")
    };
    tokio::time::timeout(Duration::from_millis(500), attempt)
        .await
        .ok()
        .flatten()
        .unwrap_or(false)
}

/// A plain connection for looking at what the stores wrote.
async fn inspect(redis: &RedisServer) -> ::redis::aio::MultiplexedConnection {
    ::redis::Client::open(redis.url())
        .unwrap()
        .get_multiplexed_async_connection()
        .await
        .unwrap()
}

async fn all_keys(con: &mut ::redis::aio::MultiplexedConnection) -> Vec<String> {
    let mut keys: Vec<String> = ::redis::cmd("KEYS")
        .arg("*")
        .query_async(con)
        .await
        .unwrap();
    keys.sort();
    keys
}

// --- clients of one fleet -----------------------------------------------------------------------

async fn cache(redis: &RedisServer) -> Arc<RedisCache> {
    Arc::new(
        RedisCache::builder(redis.url())
            .timeout(TIMEOUT)
            .backoff(BACKOFF)
            .build()
            .await
            .unwrap(),
    )
}

async fn store(redis: &RedisServer, fail_open: bool) -> Arc<RedisReplayStore> {
    Arc::new(
        RedisReplayStore::builder(redis.url())
            .timeout(TIMEOUT)
            .backoff(BACKOFF)
            .fail_open(fail_open)
            .build()
            .await
            .unwrap(),
    )
}

/// One server of the fleet: its own client, cache adapter and replay store, sharing `redis`.
struct Server {
    client: ApiClient,
    cache: Arc<RedisCache>,
    store: Arc<RedisReplayStore>,
}

async fn server(t: &DevTenant, redis: &RedisServer, fail_open: bool) -> Server {
    let cache = cache(redis).await;
    let store = store(redis, fail_open).await;
    let client = client(
        options(t)
            .cache_adapter(cache.clone())
            .replay_store(store.clone()),
    );
    Server {
        client,
        cache,
        store,
    }
}

/// A DPoP key and an access token bound to it.
fn bound(t: &DevTenant) -> (DpopKey, String) {
    let key = DpopKey::generate();
    let token = t.mint().aud(json!(AUD)).cnf_jkt(key.thumbprint()).sign();
    (key, token)
}

fn proof(key: &DpopKey, token: &str) -> String {
    key.proof("GET", URL, Some(token)).sign()
}

/// `GET URL` with `Authorization: DPoP token` and the proof.
async fn present(client: &ApiClient, token: &str, proof: &str) -> Result<(), Error> {
    client
        .verify_request(
            VerifyRequest::from_pairs([
                ("authorization", format!("DPoP {token}")),
                ("dpop", proof.to_owned()),
            ])
            .method("GET")
            .url(URL),
        )
        .await
        .map(|_| ())
}

fn assert_replay(e: &Error) {
    assert_eq!(e.status_code(), 400, "{e:?}");
    assert_eq!(e.error_code(), "invalid_dpop_proof");
    assert_eq!(e.description(), "DPoP proof has already been used");
}

fn assert_fails_closed(e: &Error) {
    assert_eq!(e.kind(), &ErrorKind::ReplayStoreUnavailable, "{e:?}");
    assert_eq!(e.status_code(), 503);
    assert_eq!(e.error_code(), "temporarily_unavailable");
    assert_eq!(e.description(), "DPoP replay store unavailable");
}

/// Counts the warnings of the `auth0_api::redis` module.
#[derive(Clone, Default)]
struct RedisWarnings(Arc<AtomicUsize>);

impl RedisWarnings {
    fn count(&self) -> usize {
        self.0.load(Ordering::SeqCst)
    }
}

impl tracing::Subscriber for RedisWarnings {
    fn enabled(&self, _: &tracing::Metadata<'_>) -> bool {
        true
    }
    fn new_span(&self, _: &tracing::span::Attributes<'_>) -> tracing::span::Id {
        tracing::span::Id::from_u64(1)
    }
    fn record(&self, _: &tracing::span::Id, _: &tracing::span::Record<'_>) {}
    fn record_follows_from(&self, _: &tracing::span::Id, _: &tracing::span::Id) {}
    fn event(&self, event: &tracing::Event<'_>) {
        let meta = event.metadata();
        if *meta.level() == tracing::Level::WARN && meta.target().starts_with("auth0_api::redis") {
            self.0.fetch_add(1, Ordering::SeqCst);
        }
    }
    fn enter(&self, _: &tracing::span::Id) {}
    fn exit(&self, _: &tracing::span::Id) {}
}

// --- tests --------------------------------------------------------------------------------------

#[tokio::test]
async fn a_proof_accepted_by_one_server_is_refused_by_the_other_and_documents_are_shared() {
    let redis = RedisServer::start().await;
    let t = crate::tenant().await;
    let a = server(&t, &redis, false).await;
    let b = server(&t, &redis, false).await;
    let (key, token) = bound(&t);

    let first = proof(&key, &token);
    present(&a.client, &token, &first).await.unwrap();
    let s = t.stats();
    assert_eq!((s.discovery, s.jwks), (1, 1));

    assert_replay(&present(&b.client, &token, &first).await.unwrap_err());
    let s = t.stats();
    assert_eq!(
        (s.discovery, s.jwks),
        (1, 1),
        "the second server verified with the documents the first stored in Redis"
    );

    let second = proof(&key, &token);
    present(&b.client, &token, &second).await.unwrap();
    assert_replay(&present(&a.client, &token, &second).await.unwrap_err());
    assert_replay(&present(&b.client, &token, &second).await.unwrap_err());

    // What is in Redis: two documents as JSON text, two proofs as `1`, all with an expiry.
    let mut con = inspect(&redis).await;
    let keys = all_keys(&mut con).await;
    assert_eq!(keys.len(), 4, "{keys:?}");
    let docs: Vec<_> = keys
        .iter()
        .filter(|k| k.starts_with("auth0-api:doc:"))
        .collect();
    assert_eq!(docs.len(), 2, "{keys:?}");
    for k in &docs {
        let text: String = ::redis::cmd("GET")
            .arg(k)
            .query_async(&mut con)
            .await
            .unwrap();
        let value: serde_json::Value = serde_json::from_str(&text).unwrap();
        assert!(value.is_object(), "{text}");
        let pttl: i64 = ::redis::cmd("PTTL")
            .arg(k)
            .query_async(&mut con)
            .await
            .unwrap();
        assert!(pttl > 0 && pttl <= 600_000, "{pttl}");
    }
    let jtis: Vec<_> = keys
        .iter()
        .filter(|k| k.starts_with("auth0-api:jti:"))
        .collect();
    assert_eq!(jtis.len(), 2, "{keys:?}");
    for k in &jtis {
        let hex = &k["auth0-api:jti:".len()..];
        assert_eq!(hex.len(), 64);
        assert!(
            hex.chars()
                .all(|c| c.is_ascii_hexdigit() && !c.is_ascii_uppercase())
        );
        let value: String = ::redis::cmd("GET")
            .arg(k)
            .query_async(&mut con)
            .await
            .unwrap();
        assert_eq!(value, "1");
        let pttl: i64 = ::redis::cmd("PTTL")
            .arg(k)
            .query_async(&mut con)
            .await
            .unwrap();
        assert!(
            pttl > 300_000 && pttl <= 330_000,
            "the proof window: {pttl}"
        );
    }
    assert!(a.cache.is_redis_available() && b.store.is_redis_available());
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn fifty_concurrent_replays_over_two_servers_one_is_accepted() {
    let redis = RedisServer::start().await;
    let t = crate::tenant().await;
    let a = server(&t, &redis, false).await;
    let b = server(&t, &redis, false).await;
    let (key, token) = bound(&t);
    // Warm both servers' documents so that the race is on the replay store alone.
    present(&a.client, &token, &proof(&key, &token))
        .await
        .unwrap();
    present(&b.client, &token, &proof(&key, &token))
        .await
        .unwrap();

    let contested = proof(&key, &token);
    let barrier = Arc::new(tokio::sync::Barrier::new(50));
    let tasks: Vec<_> = (0..50)
        .map(|i| {
            let client = if i % 2 == 0 {
                a.client.clone()
            } else {
                b.client.clone()
            };
            let (token, contested, barrier) = (token.clone(), contested.clone(), barrier.clone());
            tokio::spawn(async move {
                barrier.wait().await;
                present(&client, &token, &contested).await
            })
        })
        .collect();
    let mut accepted = 0;
    for task in tasks {
        match task.await.unwrap() {
            Ok(()) => accepted += 1,
            Err(e) => assert_replay(&e),
        }
    }
    assert_eq!(accepted, 1);
}

#[tokio::test]
async fn outage_caches_fall_back_replay_fails_closed_then_recovers_on_restart() {
    let mut redis = RedisServer::start().await;
    let t = crate::tenant().await;
    let a = server(&t, &redis, false).await;
    let b = server(&t, &redis, false).await;
    let (key, token) = bound(&t);
    let plain = t.mint().aud(json!(AUD)).sign();
    present(&a.client, &token, &proof(&key, &token))
        .await
        .unwrap();
    present(&b.client, &token, &proof(&key, &token))
        .await
        .unwrap();
    let before = t.stats();
    assert_eq!((before.discovery, before.jwks), (1, 1));

    redis.stop();

    // The replay store fails closed, promptly, on both servers; never a silent accept.
    for s in [&a, &b] {
        for _ in 0..3 {
            let started = Instant::now();
            let e = present(&s.client, &token, &proof(&key, &token))
                .await
                .unwrap_err();
            assert_fails_closed(&e);
            assert!(
                started.elapsed() < Duration::from_secs(2),
                "{:?}",
                started.elapsed()
            );
        }
        assert!(!s.store.is_redis_available());
    }

    // The cache keeps working: a new client sharing A's adapter loads the documents from its
    // in-process fallback (no fetch), ...
    let c = client(options(&t).cache_adapter(a.cache.clone()));
    c.verify_access_token(&plain).await.unwrap();
    assert_eq!(t.stats(), before, "served by the fallback");
    a.cache
        .set(
            "outage",
            json!({"written": "during the outage"}),
            Some(Duration::from_secs(60)),
        )
        .await;
    assert_eq!(
        a.cache.get("outage").await,
        Some(json!({"written": "during the outage"}))
    );
    assert!(!a.cache.is_redis_available());
    // ... and a server starting during the outage starts, and fetches from the tenant.
    let late = cache(&redis).await;
    let d = client(options(&t).cache_adapter(late.clone()));
    d.verify_access_token(&plain).await.unwrap();
    assert_eq!(t.stats().discovery, before.discovery + 1);
    assert!(!late.is_redis_available());

    // Redis comes back (empty) on the same port: the same clients recover.
    redis.restart().await;
    let deadline = Instant::now() + RECOVERY;
    let accepted = loop {
        let p = proof(&key, &token);
        match present(&a.client, &token, &p).await {
            Ok(()) => break p,
            Err(e) => {
                assert_fails_closed(&e);
                assert!(Instant::now() < deadline, "A did not recover");
                tokio::time::sleep(Duration::from_millis(100)).await;
            }
        }
    };
    loop {
        match present(&b.client, &token, &accepted).await {
            Ok(()) => panic!("a replay was accepted after recovery"),
            Err(e) if e.status_code() == 503 => {
                assert!(Instant::now() < deadline, "B did not recover");
                tokio::time::sleep(Duration::from_millis(100)).await;
            }
            Err(e) => {
                assert_replay(&e);
                break;
            }
        }
    }
    // Documents written through one server's adapter reach the other's through Redis again
    // (B's fallback never held this key).
    loop {
        a.cache
            .set("after", json!(2), Some(Duration::from_secs(60)))
            .await;
        if b.cache.get("after").await == Some(json!(2)) {
            break;
        }
        assert!(Instant::now() < deadline, "the caches did not recover");
        tokio::time::sleep(Duration::from_millis(100)).await;
    }
    assert!(a.cache.is_redis_available() && b.cache.is_redis_available());
    assert!(a.store.is_redis_available() && b.store.is_redis_available());
}

#[tokio::test]
async fn failing_open_accepts_with_a_warning_and_still_catches_local_replays() {
    let mut redis = RedisServer::start().await;
    let t = crate::tenant().await;
    let a = server(&t, &redis, true).await;
    let b = server(&t, &redis, true).await;
    assert!(a.store.fails_open());
    let (key, token) = bound(&t);
    present(&a.client, &token, &proof(&key, &token))
        .await
        .unwrap();
    present(&b.client, &token, &proof(&key, &token))
        .await
        .unwrap();

    redis.stop();

    let warnings = RedisWarnings::default();
    let p = proof(&key, &token);
    present(&a.client, &token, &p)
        .with_subscriber(warnings.clone())
        .await
        .expect("failing open: accepted");
    assert!(warnings.count() >= 1, "a warning was logged");
    assert!(!a.store.is_redis_available());
    // The server that saw the proof still refuses it; another server does not know it (the
    // documented cost of failing open).
    assert_replay(&present(&a.client, &token, &p).await.unwrap_err());
    present(&b.client, &token, &p).await.unwrap();

    redis.restart().await;
    // Back to fleet-wide protection: a proof accepted by A is refused by B.
    let deadline = Instant::now() + RECOVERY;
    loop {
        let p = proof(&key, &token);
        present(&a.client, &token, &p).await.unwrap();
        // B refusing a proof it never saw means both reached Redis (B failing open would not
        // know it).
        if let Err(e) = present(&b.client, &token, &p).await {
            assert_replay(&e);
            assert!(a.store.is_redis_available() && b.store.is_redis_available());
            break;
        }
        assert!(Instant::now() < deadline, "no recovery");
        tokio::time::sleep(Duration::from_millis(100)).await;
    }
}

#[tokio::test]
async fn a_frozen_redis_is_bounded_by_the_timeouts() {
    let redis = RedisServer::start().await;
    let t = crate::tenant().await;
    let a = server(&t, &redis, false).await;
    let (key, token) = bound(&t);
    present(&a.client, &token, &proof(&key, &token))
        .await
        .unwrap();
    a.cache
        .set("k", json!("kept"), Some(Duration::from_secs(60)))
        .await;

    redis.signal("-STOP");
    for _ in 0..4 {
        let started = Instant::now();
        let e = present(&a.client, &token, &proof(&key, &token))
            .await
            .unwrap_err();
        assert_fails_closed(&e);
        let started_get = Instant::now();
        assert_eq!(a.cache.get("k").await, Some(json!("kept")));
        assert!(started_get.elapsed() < Duration::from_secs(1));
        assert!(
            started.elapsed() < Duration::from_secs(2),
            "{:?}",
            started.elapsed()
        );
        tokio::time::sleep(BACKOFF).await;
    }
    redis.signal("-CONT");

    let deadline = Instant::now() + RECOVERY;
    loop {
        match present(&a.client, &token, &proof(&key, &token)).await {
            Ok(()) => break,
            Err(e) => {
                assert_fails_closed(&e);
                assert!(Instant::now() < deadline, "no recovery");
                tokio::time::sleep(Duration::from_millis(100)).await;
            }
        }
    }
}

#[tokio::test]
async fn clear_removes_only_this_caches_documents_in_bounded_batches() {
    let redis = RedisServer::start().await;
    // Glob characters in the prefix must match only themselves.
    let prefix = "app*[1]:";
    let cache = RedisCache::builder(redis.url())
        .prefix(prefix)
        .build()
        .await
        .unwrap();
    assert_eq!(cache.prefix(), prefix);
    let store = RedisReplayStore::builder(redis.url())
        .prefix(prefix)
        .build()
        .await
        .unwrap();
    assert!(
        store
            .check_and_insert([9; 32], "jkt", Duration::from_secs(60))
            .await
            .unwrap()
    );
    let mut con = inspect(&redis).await;
    for other in ["appX1:doc:k", "other:doc:k", "app*[1]:mine"] {
        let _: () = ::redis::cmd("SET")
            .arg(other)
            .arg("x")
            .query_async(&mut con)
            .await
            .unwrap();
    }
    // More than one SCAN round's worth, with and without expiry.
    for i in 0..1_200 {
        let ttl = (i % 2 == 0).then_some(Duration::from_secs(600));
        cache.set(&format!("k{i}"), json!(i), ttl).await;
    }
    let ttl_less: i64 = ::redis::cmd("PTTL")
        .arg("app*[1]:doc:k1")
        .query_async(&mut con)
        .await
        .unwrap();
    assert_eq!(ttl_less, -1, "no TTL: kept until cleared or evicted");
    let text: String = ::redis::cmd("GET")
        .arg("app*[1]:doc:k7")
        .query_async(&mut con)
        .await
        .unwrap();
    assert_eq!(text, "7");
    assert_eq!(all_keys(&mut con).await.len(), 1_200 + 4);

    cache.clear().await;

    let left = all_keys(&mut con).await;
    assert_eq!(left.len(), 4, "{left:?}");
    assert!(
        left.iter().all(|k| !k.starts_with("app*[1]:doc:")),
        "{left:?}"
    );
    assert!(
        left.iter().any(|k| k.starts_with("app*[1]:jti:")),
        "proofs stay"
    );
    assert_eq!(cache.get("k0").await, None);
    // Not a flush: the rest of the database is still there, and the cache still works.
    cache.set("again", json!(true), None).await;
    assert_eq!(cache.get("again").await, Some(json!(true)));
}

#[tokio::test]
async fn documents_read_from_redis_are_kept_for_an_outage() {
    let mut redis = RedisServer::start().await;
    let writer = cache(&redis).await;
    let reader = cache(&redis).await;
    writer
        .set("shared", json!({"v": 1}), Some(Duration::from_secs(60)))
        .await;
    assert_eq!(reader.get("shared").await, Some(json!({"v": 1})));
    // A miss in Redis is a miss, even if the fallback held a copy.
    writer.delete("shared").await;
    writer.set("gone", json!(0), None).await;
    let mut con = inspect(&redis).await;
    let _: () = ::redis::cmd("DEL")
        .arg("auth0-api:doc:gone")
        .query_async(&mut con)
        .await
        .unwrap();
    assert_eq!(writer.get("gone").await, None);
    assert_eq!(reader.get("shared").await, None);

    writer
        .set("shared", json!({"v": 2}), Some(Duration::from_secs(60)))
        .await;
    assert_eq!(reader.get("shared").await, Some(json!({"v": 2})));
    redis.stop();
    assert_eq!(
        reader.get("shared").await,
        Some(json!({"v": 2})),
        "copied to the reader's fallback when read"
    );
    assert_eq!(reader.get("never").await, None);
}
