//! Pure logic of the Redis back ends (key naming, value encoding, expiries), and their behaviour
//! with no Redis at all. Tests against a real `redis-server` are in `tests/integration/redis.rs`.

use std::time::{Duration, Instant};

use serde_json::json;

use super::*;
use crate::ErrorKind;
use crate::dpop::replay::{ReplayStore, ReplayStoreError};
use crate::fetch::cache::CacheAdapter;

#[test]
fn document_keys_are_prefix_doc_key() {
    assert_eq!(
        doc_key(
            "auth0-api:",
            "auth0-api:jwks:https://t/.well-known/jwks.json"
        ),
        "auth0-api:doc:auth0-api:jwks:https://t/.well-known/jwks.json"
    );
    assert_eq!(doc_key("", "k"), "doc:k");
}

#[test]
fn proof_keys_are_prefix_jti_lower_hex() {
    let mut key = [0u8; 32];
    key[0] = 0xab;
    key[1] = 0x01;
    key[31] = 0xff;
    let k = jti_key("p:", &key);
    assert_eq!(k.len(), "p:jti:".len() + 64);
    assert!(k.starts_with("p:jti:ab01000000"), "{k}");
    assert!(k.ends_with("00ff"), "{k}");
    assert!(
        k["p:jti:".len()..]
            .chars()
            .all(|c| c.is_ascii_digit() || ('a'..='f').contains(&c))
    );
    assert_ne!(jti_key("p:", &[1; 32]), jti_key("p:", &[2; 32]));
}

#[test]
fn scan_pattern_escapes_glob_characters_of_the_prefix() {
    assert_eq!(doc_pattern("auth0-api:"), "auth0-api:doc:*");
    assert_eq!(doc_pattern("a*b?[c]\\:"), "a\\*b\\?\\[c\\]\\\\:doc:*");
    assert_eq!(doc_pattern(""), "doc:*");
}

#[test]
fn expiries_round_up_and_stay_in_range() {
    assert_eq!(px_millis(Duration::from_secs(330)), 330_000);
    assert_eq!(px_millis(Duration::ZERO), 1, "PX 0 is refused by Redis");
    assert_eq!(px_millis(Duration::from_nanos(1)), 1);
    assert_eq!(
        px_millis(Duration::from_micros(1_500)),
        2,
        "never shortened"
    );
    assert_eq!(px_millis(Duration::MAX), MAX_PX_MILLIS);
    assert!(i64::try_from(MAX_PX_MILLIS).is_ok());
}

#[test]
fn values_are_json_text() {
    let doc = json!({"doc": {"issuer": "https://t/", "keys": [1, "two", null]}, "expires_at": 17});
    let text = encode(&doc);
    assert_eq!(
        serde_json::from_str::<serde_json::Value>(&text).unwrap(),
        doc
    );
    assert_eq!(decode(text.as_bytes()), Some(doc));
    assert_eq!(decode(b"not json"), None);
    assert_eq!(decode(&[0xff, 0xfe]), None);
    assert_eq!(decode(b"\"s\""), Some(json!("s")));
}

#[test]
fn set_nx_replies() {
    use ::redis::Value;
    assert_eq!(replay::set_nx_outcome(&Value::Okay), Some(true));
    assert_eq!(
        replay::set_nx_outcome(&Value::SimpleString("OK".into())),
        Some(true)
    );
    assert_eq!(replay::set_nx_outcome(&Value::Nil), Some(false));
    assert_eq!(replay::set_nx_outcome(&Value::Int(1)), None);
}

#[test]
fn debug_never_shows_credentials() {
    let t = RedisTarget::from("redis://user:hunter2@127.0.0.1:6390/3");
    let dbg = format!("{t:?}");
    assert!(!dbg.contains("hunter2") && !dbg.contains("user"), "{dbg}");
    assert!(dbg.contains("127.0.0.1:6390/3"), "{dbg}");
    let dbg = format!("{:?}", RedisTarget::from("redis://:hunter2@[not a url"));
    assert!(!dbg.contains("hunter2"), "{dbg}");
}

/// A port with nothing listening (connections refused).
fn closed_port() -> u16 {
    let l = std::net::TcpListener::bind("127.0.0.1:0").unwrap();
    l.local_addr().unwrap().port()
}

#[tokio::test]
async fn configuration_errors() {
    let err = RedisCache::builder("not a url").build().await.unwrap_err();
    assert_eq!(err.kind(), &ErrorKind::Configuration);
    assert!(err.description().contains("invalid Redis URL"), "{err}");
    let err = RedisReplayStore::builder("http://127.0.0.1/")
        .build()
        .await
        .unwrap_err();
    assert_eq!(err.kind(), &ErrorKind::Configuration);
    let err = RedisCache::builder("redis://127.0.0.1:1")
        .timeout(Duration::ZERO)
        .build()
        .await
        .unwrap_err();
    assert!(
        err.description().contains("timeouts must be positive"),
        "{err}"
    );

    let url = format!("redis://127.0.0.1:{}", closed_port());
    let err = RedisReplayStore::builder(url.as_str())
        .require_available(true)
        .build()
        .await
        .unwrap_err();
    assert_eq!(err.kind(), &ErrorKind::Configuration);
    assert!(err.description().contains("not available"), "{err}");
    let err = RedisCache::builder(&url)
        .require_available(true)
        .build()
        .await
        .unwrap_err();
    assert_eq!(err.kind(), &ErrorKind::Configuration);
}

#[tokio::test]
async fn without_redis_the_cache_serves_its_fallback() {
    let url = format!("redis://127.0.0.1:{}", closed_port());
    let cache = RedisCache::builder(url.as_str())
        .timeout(Duration::from_millis(100))
        .build()
        .await
        .expect("build does not need Redis");
    assert!(!cache.is_redis_available());
    cache
        .set("k", json!({"a": 1}), Some(Duration::from_secs(60)))
        .await;
    assert_eq!(cache.get("k").await, Some(json!({"a": 1})));
    cache.delete("k").await;
    assert_eq!(cache.get("k").await, None);
    cache.set("k2", json!(2), None).await;
    cache.clear().await;
    assert_eq!(cache.get("k2").await, None);

    let no_fallback = RedisCache::builder(url.as_str())
        .fallback_max_entries(0)
        .build()
        .await
        .unwrap();
    no_fallback.set("k", json!(1), None).await;
    assert_eq!(no_fallback.get("k").await, None);
    assert!(format!("{no_fallback:?}").contains("RedisCache"));
}

#[tokio::test]
async fn without_redis_the_replay_store_fails_closed_or_open() {
    let url = format!("redis://127.0.0.1:{}", closed_port());
    let closed = RedisReplayStore::builder(url.as_str())
        .build()
        .await
        .unwrap();
    assert!(!closed.fails_open());
    for _ in 0..3 {
        assert!(matches!(
            closed
                .check_and_insert([1; 32], "jkt", Duration::from_secs(330))
                .await,
            Err(ReplayStoreError::Unavailable(_))
        ));
    }
    let open = RedisReplayStore::builder(url.as_str())
        .fail_open(true)
        .build()
        .await
        .unwrap();
    assert!(open.fails_open());
    let ttl = Duration::from_secs(330);
    assert_eq!(open.check_and_insert([1; 32], "jkt", ttl).await, Ok(true));
    assert_eq!(
        open.check_and_insert([1; 32], "jkt", ttl).await,
        Ok(false),
        "a replay against the same server is still caught"
    );
}

#[tokio::test]
async fn a_silent_server_is_bounded_by_the_timeouts() {
    // Accepts connections (the kernel does, into the backlog) and never answers.
    let silent = std::net::TcpListener::bind("127.0.0.1:0").unwrap();
    let url = format!("redis://{}", silent.local_addr().unwrap());
    let started = Instant::now();
    let store = RedisReplayStore::builder(url.as_str())
        .timeout(Duration::from_millis(100))
        .backoff(Duration::ZERO)
        .build()
        .await
        .unwrap();
    for _ in 0..4 {
        assert!(matches!(
            store
                .check_and_insert([2; 32], "jkt", Duration::from_secs(1))
                .await,
            Err(ReplayStoreError::Unavailable(_))
        ));
    }
    assert!(
        started.elapsed() < Duration::from_secs(3),
        "{:?}",
        started.elapsed()
    );
    drop(silent);
}

#[test]
fn warn_gate_lets_one_through_per_interval() {
    let gate = conn::WarnGate::new(Duration::from_secs(3600));
    assert_eq!(gate.permit(), Some(0));
    assert_eq!(gate.permit(), None);
    assert_eq!(gate.permit(), None);
    let gate = conn::WarnGate::new(Duration::ZERO);
    assert_eq!(gate.permit(), Some(0));
    assert_eq!(gate.permit(), Some(0));
}
