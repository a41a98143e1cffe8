//! Discovery/JWKS caching: TTL from max-age, per-issuer entries, single flight, key rotation.

use std::sync::Arc;
use std::time::Duration;

use auth0_api::cache::{CacheAdapter, InMemoryCache};
use auth0_api_dev_tenant::DevTenant;
use serde_json::json;

use crate::{AUD, client, options};

#[tokio::test]
async fn hundred_concurrent_cold_verifications_fetch_once() {
    let t = crate::tenant().await;
    let c = client(options(&t));
    let token = t.mint().aud(json!(AUD)).sign();
    let tasks: Vec<_> = (0..100)
        .map(|_| {
            let (c, token) = (c.clone(), token.clone());
            tokio::spawn(async move { c.verify_access_token(&token).await.is_ok() })
        })
        .collect();
    for task in tasks {
        assert!(task.await.unwrap());
    }
    let s = t.stats();
    assert_eq!((s.discovery, s.jwks), (1, 1), "single-flight loading");
}

#[tokio::test]
async fn ttl_follows_max_age_and_is_at_least_one_second() {
    let t = DevTenant::builder()
        .client("cid", "s", [AUD])
        .max_age(Some(1))
        .start()
        .await
        .unwrap();
    let c = client(options(&t));
    let token = t.mint().aud(json!(AUD)).sign();
    for _ in 0..20 {
        c.verify_access_token(&token).await.unwrap();
    }
    assert_eq!(t.stats().discovery, 1);
    tokio::time::sleep(Duration::from_millis(1300)).await;
    c.verify_access_token(&token).await.unwrap();
    assert_eq!(t.stats().discovery, 2, "refetched after max-age");

    // max-age=0 is clamped to 1 s: no fetch per request.
    let t0 = DevTenant::builder()
        .client("cid", "s", [AUD])
        .max_age(Some(0))
        .start()
        .await
        .unwrap();
    let c0 = client(options(&t0));
    let token = t0.mint().aud(json!(AUD)).sign();
    for _ in 0..50 {
        c0.verify_access_token(&token).await.unwrap();
    }
    assert!(
        t0.stats().discovery <= 2,
        "max-age=0 does not cause a fetch per request"
    );

    // The configured TTL caps a longer max-age.
    let t2 = DevTenant::builder()
        .client("cid", "s", [AUD])
        .max_age(Some(3600))
        .start()
        .await
        .unwrap();
    let c2 = client(options(&t2).cache_ttl(Duration::from_secs(1)));
    let token = t2.mint().aud(json!(AUD)).sign();
    c2.verify_access_token(&token).await.unwrap();
    tokio::time::sleep(Duration::from_millis(1300)).await;
    c2.verify_access_token(&token).await.unwrap();
    assert_eq!(t2.stats().discovery, 2);
}

#[tokio::test]
async fn shared_adapter_saves_fetches_across_clients() {
    let t = crate::tenant().await;
    let adapter: Arc<dyn CacheAdapter> = Arc::new(InMemoryCache::new(10));
    let c1 = client(options(&t).cache_adapter(adapter.clone()));
    let c2 = client(options(&t).cache_adapter(adapter.clone()));
    let token = t.mint().aud(json!(AUD)).sign();
    c1.verify_access_token(&token).await.unwrap();
    c2.verify_access_token(&token).await.unwrap();
    let s = t.stats();
    assert_eq!(
        (s.discovery, s.jwks),
        (1, 1),
        "the second client reads the adapter"
    );
    adapter.clear().await;
}

#[tokio::test]
async fn key_rotation_and_random_kids() {
    let t = crate::tenant().await;
    let c = client(options(&t).jwks_refresh_cooldown(Duration::from_millis(200)));
    c.verify_access_token(&t.mint().aud(json!(AUD)).sign())
        .await
        .unwrap();
    assert_eq!(t.stats().jwks, 1);

    // A new key becomes active: its first token verifies at once (one refetch).
    let kid = t.add_key();
    t.activate_key(&kid);
    tokio::time::sleep(Duration::from_millis(250)).await;
    c.verify_access_token(&t.mint().aud(json!(AUD)).sign())
        .await
        .unwrap();
    assert_eq!(t.stats().jwks, 2);

    // A flood of random kids costs at most one fetch per cooldown.
    let tasks: Vec<_> = (0..50)
        .map(|i| {
            let c = c.clone();
            let token = t.mint().aud(json!(AUD)).kid(format!("random-{i}")).sign();
            tokio::spawn(async move { c.verify_access_token(&token).await.is_err() })
        })
        .collect();
    for task in tasks {
        assert!(task.await.unwrap());
    }
    assert!(t.stats().jwks <= 3, "jwks fetched {} times", t.stats().jwks);
}

#[tokio::test]
async fn lru_bound_on_issuers() {
    let tenants = [
        crate::tenant().await,
        crate::tenant().await,
        crate::tenant().await,
    ];
    let mut b = auth0_api::ApiClientOptions::builder()
        .domains(tenants.iter().map(|t| t.domain().to_owned()))
        .audience(AUD)
        .cache_max_entries(2);
    for t in &tenants {
        b = b.root_ca_pem(t.ca_pem());
    }
    let c = client(b);
    for round in 0..2 {
        for t in &tenants {
            c.verify_access_token(&t.mint().aud(json!(AUD)).sign())
                .await
                .unwrap();
        }
        let _ = round;
    }
    let discoveries: u64 = tenants.iter().map(|t| t.stats().discovery).sum();
    assert!(
        discoveries > 3,
        "with 2 entries and 3 issuers some documents were evicted"
    );
}
