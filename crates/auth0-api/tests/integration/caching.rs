//! Discovery/JWKS caching: TTL from max-age, per-issuer entries, single flight, key rotation.

use std::sync::Arc;
use std::time::Duration;

use auth0_api::ApiClientOptions;
use auth0_api::cache::{CacheAdapter, InMemoryCache};
use auth0_api_dev_tenant::DevTenant;
use serde_json::json;

use crate::{AUD, client, options};

/// Publishes a new signing key, makes it the active one and retires the one that was: answers
/// the retired key's `kid`.
fn rotate_and_retire(t: &DevTenant) -> String {
    let old = t.active_kid();
    let new = t.add_key();
    t.activate_key(&new);
    t.retire_key(&old);
    old
}

/// A dev tenant whose discovery and JWKS answers say `max-age=1`.
async fn tenant_with_one_second_documents() -> DevTenant {
    DevTenant::builder()
        .client("cid", "s", [AUD])
        .max_age(Some(1))
        .start()
        .await
        .unwrap()
}

/// A fresh token of `t`'s active key verifies with `c`.
async fn fresh_token_verifies(c: &auth0_api::ApiClient, t: &DevTenant) {
    c.verify_access_token(&t.mint().aud(json!(AUD)).sign())
        .await
        .unwrap();
}

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

/// The cold start of `benches/fleet.rs`, as an assertion: 1 000 concurrent verifications on a
/// fresh client, spread over two worker threads, make one discovery and one JWKS request.
#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn thousand_concurrent_cold_verifications_fetch_once() {
    let t = crate::tenant().await;
    let c = client(options(&t).verified_token_cache(false));
    let token: Arc<str> = Arc::from(t.mint().aud(json!(AUD)).sign());
    let tasks: Vec<_> = (0..1_000)
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

/// The same across issuers (multiple custom domains): 1 000 concurrent cold verifications
/// round-robin over several tenants make one discovery and one JWKS request per tenant.
#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn concurrent_cold_verifications_fetch_once_per_issuer() {
    let mut tenants = Vec::new();
    for _ in 0..5 {
        tenants.push(crate::tenant().await);
    }
    let mut b = ApiClientOptions::builder()
        .domains(tenants.iter().map(|t| t.domain().to_owned()))
        .audience(AUD)
        .verified_token_cache(false);
    for t in &tenants {
        b = b.root_ca_pem(t.ca_pem());
    }
    let c = client(b);
    let tokens: Vec<Arc<str>> = tenants
        .iter()
        .map(|t| Arc::from(t.mint().aud(json!(AUD)).sign()))
        .collect();
    let tasks: Vec<_> = (0..1_000)
        .map(|i| {
            let (c, token) = (c.clone(), tokens[i % tokens.len()].clone());
            tokio::spawn(async move { c.verify_access_token(&token).await.is_ok() })
        })
        .collect();
    for task in tasks {
        assert!(task.await.unwrap());
    }
    for t in &tenants {
        let s = t.stats();
        assert_eq!(
            (s.discovery, s.jwks),
            (1, 1),
            "single-flight loading per issuer ({})",
            t.issuer()
        );
    }
}

#[tokio::test]
async fn ttl_follows_max_age_and_is_at_least_one_second() {
    let t = tenant_with_one_second_documents().await;
    let c = client(options(&t).verified_token_cache(false));
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
    let c0 = client(options(&t0).verified_token_cache(false));
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
    let c2 = client(
        options(&t2)
            .cache_ttl(Duration::from_secs(1))
            .verified_token_cache(false),
    );
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

/// A client remembers the discovery document and key set an issuer resolved to (the fast path of
/// a fresh verification); a key set refreshed since (here on an unknown `kid`, by a token that
/// then fails) replaces them at once: a token signed by a key the new set no longer has is
/// refused, never served from the remembered one, and one signed by the new key verifies
/// without another fetch.
#[tokio::test]
async fn a_refreshed_key_set_replaces_the_remembered_one() {
    let t = crate::tenant().await;
    let c = client(
        options(&t)
            .verified_token_cache(false)
            .jwks_refresh_cooldown(Duration::from_millis(100)),
    );
    for _ in 0..3 {
        fresh_token_verifies(&c, &t).await;
    }
    let old_kid = rotate_and_retire(&t);
    tokio::time::sleep(Duration::from_millis(150)).await;
    let unknown = t.mint().aud(json!(AUD)).kid("not-published").sign();
    let e = c.verify_access_token(&unknown).await.unwrap_err();
    assert_eq!(e.description(), "No matching key found in JWKS");
    assert_eq!(t.stats().jwks, 2, "the unknown kid refetched the key set");
    let by_old_key = t.mint().aud(json!(AUD)).signing_kid(&old_kid).sign();
    let e = c.verify_access_token(&by_old_key).await.unwrap_err();
    assert_eq!(e.description(), "No matching key found in JWKS");
    for _ in 0..3 {
        fresh_token_verifies(&c, &t).await;
    }
    let s = t.stats();
    assert_eq!((s.discovery, s.jwks), (1, 2), "{s:?}");
}

/// Past the documents' TTL (here 1 s) the remembered pair is no longer used: verifications go
/// through the caches again, which refresh once, and a key retired meanwhile is refused.
#[tokio::test]
async fn the_remembered_key_set_expires_with_its_cache_entry() {
    let t = tenant_with_one_second_documents().await;
    let c = client(options(&t).verified_token_cache(false));
    fresh_token_verifies(&c, &t).await;
    let old_kid = rotate_and_retire(&t);
    tokio::time::sleep(Duration::from_millis(1200)).await;
    let by_old_key = t.mint().aud(json!(AUD)).signing_kid(&old_kid).sign();
    let e = c.verify_access_token(&by_old_key).await.unwrap_err();
    assert_eq!(e.description(), "No matching key found in JWKS");
    fresh_token_verifies(&c, &t).await;
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
        .cache_max_entries(2)
        .verified_token_cache(false);
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

#[tokio::test]
async fn verified_token_cache_skips_the_signature_but_not_the_checks() {
    let t = crate::tenant().await;
    let c = client(options(&t));
    let token = t.mint().aud(json!(AUD)).scope("read").sign();
    let first = c.verify_access_token(&token).await.unwrap();
    let again = c.verify_access_token(&token).await.unwrap();
    assert_eq!(first, again);
    // Required claims are still checked on a hit.
    let opts = auth0_api::VerifyOptions::default().require_claim("org_id");
    let e = c.verify_access_token_with(&token, &opts).await.unwrap_err();
    assert_eq!(e.description(), "Missing required claim: org_id");
    // A token about to expire leaves the cache with its exp.
    let short = t.mint().aud(json!(AUD)).expires_in(1).sign();
    c.verify_access_token(&short).await.unwrap();
    tokio::time::sleep(Duration::from_millis(2100)).await;
    assert_eq!(
        c.verify_access_token(&short)
            .await
            .unwrap_err()
            .description(),
        "Token is expired"
    );
}

#[tokio::test]
async fn a_retired_key_invalidates_cached_tokens() {
    let t = tenant_with_one_second_documents().await;
    let c = client(options(&t).stale_if_error(Duration::from_secs(60)));
    let token = t.mint().aud(json!(AUD)).sign();
    c.verify_access_token(&token).await.unwrap();
    rotate_and_retire(&t);
    tokio::time::sleep(Duration::from_millis(1200)).await;
    // The JWKS is refreshed (stale entry) and no longer has the key: the cached token is refused.
    let e = c.verify_access_token(&token).await.unwrap_err();
    assert_eq!(e.description(), "No matching key found in JWKS");
}

#[tokio::test]
async fn outage_serves_stale_documents_then_fails_clearly() {
    use auth0_api_dev_tenant::{Endpoint, Fault};
    let t = tenant_with_one_second_documents().await;
    let c = client(
        options(&t)
            .stale_if_error(Duration::from_secs(2))
            .verified_token_cache(false),
    );
    let token = t.mint().aud(json!(AUD)).sign();
    c.verify_access_token(&token).await.unwrap();
    t.set_fault(Endpoint::Discovery, Some(Fault::Status(503)));
    t.set_fault(Endpoint::Jwks, Some(Fault::Status(503)));
    tokio::time::sleep(Duration::from_millis(1200)).await;
    // Past the TTL, inside the stale window: still verifies, without a fetch per request.
    t.reset_stats();
    for _ in 0..20 {
        c.verify_access_token(&token).await.unwrap();
    }
    assert!(
        t.stats().discovery <= 2,
        "failed refreshes back off: {:?}",
        t.stats()
    );
    // Past the stale window: a clear error.
    tokio::time::sleep(Duration::from_millis(2200)).await;
    let e = c.verify_access_token(&token).await.unwrap_err();
    assert!(
        e.description()
            .starts_with("Failed to fetch OIDC discovery metadata"),
        "{e}"
    );
    // Tenant back: recovery.
    t.set_fault(Endpoint::Discovery, None);
    t.set_fault(Endpoint::Jwks, None);
    c.verify_access_token(&token).await.unwrap();
}

#[tokio::test]
async fn refresh_ahead_keeps_requests_off_the_network() {
    use auth0_api_dev_tenant::{Endpoint, Fault};
    let t = DevTenant::builder()
        .client("cid", "s", [AUD])
        .max_age(Some(2))
        .start()
        .await
        .unwrap();
    let c = client(options(&t).verified_token_cache(false));
    let token = t.mint().aud(json!(AUD)).sign();
    c.verify_access_token(&token).await.unwrap();
    // Slow tenant from now on: requests must not wait for it while documents are fresh.
    t.set_fault(
        Endpoint::Discovery,
        Some(Fault::Delay(Duration::from_millis(700))),
    );
    t.set_fault(
        Endpoint::Jwks,
        Some(Fault::Delay(Duration::from_millis(700))),
    );
    tokio::time::sleep(Duration::from_millis(1700)).await; // past 80% of the TTL
    let started = std::time::Instant::now();
    for _ in 0..10 {
        c.verify_access_token(&token).await.unwrap();
    }
    assert!(
        started.elapsed() < Duration::from_millis(500),
        "served from cache while refreshing"
    );
    tokio::time::sleep(Duration::from_millis(1000)).await;
    assert!(
        t.stats().discovery >= 2,
        "a background refresh happened: {:?}",
        t.stats()
    );
}

#[tokio::test]
async fn a_slow_tenant_sees_one_in_flight_fetch() {
    use auth0_api_dev_tenant::{Endpoint, Fault};
    let t = crate::tenant().await;
    t.set_fault(
        Endpoint::Discovery,
        Some(Fault::Delay(Duration::from_millis(600))),
    );
    let c = client(options(&t).http_timeout(Duration::from_millis(300)));
    let token = t.mint().aud(json!(AUD)).sign();
    let tasks: Vec<_> = (0..50)
        .map(|_| {
            let (c, token) = (c.clone(), token.clone());
            tokio::spawn(async move { c.verify_access_token(&token).await })
        })
        .collect();
    for task in tasks {
        let e = task.await.unwrap().unwrap_err();
        assert_eq!(
            e.description(),
            "Failed to fetch OIDC discovery metadata: request timed out"
        );
    }
    assert_eq!(
        t.stats().discovery,
        1,
        "no pile-up beyond the one in-flight fetch"
    );
}

/// A token with a `kid` the tenant never published, signed by its active key.
fn token_with_kid(t: &DevTenant, kid: &str) -> String {
    t.mint().aud(json!(AUD)).kid(kid).sign()
}

/// Publishes a new key and makes it the active one (the old one stays published).
fn publish_and_activate(t: &DevTenant) {
    let kid = t.add_key();
    t.activate_key(&kid);
}

/// Key rotation one second after start-up: the key set was loaded a moment ago, yet a token
/// signed by a key published since verifies on its first request (one refetch), with the
/// default 30 s cooldown.
#[tokio::test]
async fn a_new_key_verifies_on_its_first_token_right_after_start_up() {
    let t = crate::tenant().await;
    let c = client(options(&t).verified_token_cache(false));
    fresh_token_verifies(&c, &t).await;
    assert_eq!(t.stats().jwks, 1);
    tokio::time::sleep(Duration::from_secs(1)).await;
    publish_and_activate(&t);
    fresh_token_verifies(&c, &t).await;
    assert_eq!(t.stats().jwks, 2, "one refetch for the new key");
    fresh_token_verifies(&c, &t).await;
    assert_eq!(t.stats().jwks, 2, "a known key: no fetch");
}

/// Key rotation right after a regular load (here past the TTL of 1 s, then refresh-ahead),
/// even though an unknown `kid` refetched the key set less than a cooldown (30 s) before: the
/// cooldown applies only between refetches caused by unknown kids.
#[tokio::test]
async fn a_new_key_verifies_on_its_first_token_right_after_a_regular_refresh() {
    let t = tenant_with_one_second_documents().await;
    let c = client(options(&t).verified_token_cache(false));
    fresh_token_verifies(&c, &t).await;
    let e = c
        .verify_access_token(&token_with_kid(&t, "never-published"))
        .await
        .unwrap_err();
    assert_eq!(e.description(), "No matching key found in JWKS");
    assert_eq!(t.stats().jwks, 2, "the unknown kid refetched the key set");

    // Past the TTL: a regular (synchronous) refresh.
    tokio::time::sleep(Duration::from_millis(1200)).await;
    fresh_token_verifies(&c, &t).await;
    assert_eq!(t.stats().jwks, 3, "refreshed past the TTL");
    publish_and_activate(&t);
    fresh_token_verifies(&c, &t).await;
    assert_eq!(t.stats().jwks, 4, "one refetch for the new key");

    // Past 80% of the TTL: a regular refresh ahead, in the background.
    tokio::time::sleep(Duration::from_millis(850)).await;
    fresh_token_verifies(&c, &t).await;
    tokio::time::sleep(Duration::from_millis(100)).await;
    assert_eq!(t.stats().jwks, 5, "refreshed ahead of expiry");
    publish_and_activate(&t);
    fresh_token_verifies(&c, &t).await;
    assert_eq!(t.stats().jwks, 6, "one refetch for the new key");
}

/// Random kids, concurrent then one after the other, cost one fetch per cooldown (30 s by
/// default): the first refetches, the others find the refetched set within its cooldown.
#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_flood_of_random_kids_costs_one_fetch_per_cooldown() {
    let t = crate::tenant().await;
    let c = client(options(&t).verified_token_cache(false));
    fresh_token_verifies(&c, &t).await;
    let tokens: Vec<String> = (0..200)
        .map(|i| token_with_kid(&t, &format!("random-{i}")))
        .collect();
    let tasks: Vec<_> = tokens[..100]
        .iter()
        .map(|token| {
            let (c, token) = (c.clone(), token.clone());
            tokio::spawn(async move { c.verify_access_token(&token).await.is_err() })
        })
        .collect();
    for task in tasks {
        assert!(task.await.unwrap());
    }
    for token in &tokens[100..] {
        assert!(c.verify_access_token(token).await.is_err());
    }
    fresh_token_verifies(&c, &t).await;
    let s = t.stats();
    assert_eq!((s.discovery, s.jwks), (1, 2), "{s:?}");
}

/// A kid that a refetch showed missing is remembered for the cooldown: after a regular load
/// it does not refetch again (a new random kid does, once).
#[tokio::test]
async fn a_missing_kid_is_remembered_across_regular_loads() {
    let t = tenant_with_one_second_documents().await;
    let c = client(options(&t).verified_token_cache(false));
    let stuck = token_with_kid(&t, "retired-long-ago");
    fresh_token_verifies(&c, &t).await;
    assert!(c.verify_access_token(&stuck).await.is_err());
    assert_eq!(t.stats().jwks, 2, "the first unknown kid refetched");
    tokio::time::sleep(Duration::from_millis(1200)).await;
    fresh_token_verifies(&c, &t).await;
    assert_eq!(t.stats().jwks, 3, "regular refresh past the TTL");
    for _ in 0..10 {
        assert!(c.verify_access_token(&stuck).await.is_err());
    }
    assert_eq!(t.stats().jwks, 3, "the remembered kid does not refetch");
    assert!(
        c.verify_access_token(&token_with_kid(&t, "another"))
            .await
            .is_err()
    );
    assert!(c.verify_access_token(&stuck).await.is_err());
    assert_eq!(
        t.stats().jwks,
        4,
        "a new kid refetches once after a regular load"
    );
}

/// `max-age=0` (TTL clamped to 1 s): a new key verifies on its first token, right after
/// start-up and right after a regular refresh; under a steady stream of random kids and a
/// remembered one, the key set is fetched at most once more per regular load (never per
/// request), and the remembered kid costs nothing.
#[tokio::test]
async fn max_age_zero_rotation_at_once_and_random_kids_bounded() {
    let t = DevTenant::builder()
        .client("cid", "s", [AUD])
        .max_age(Some(0))
        .start()
        .await
        .unwrap();
    let c = client(options(&t).verified_token_cache(false));
    fresh_token_verifies(&c, &t).await;
    publish_and_activate(&t);
    fresh_token_verifies(&c, &t).await;
    assert_eq!(t.stats().jwks, 2, "one refetch for the new key");
    tokio::time::sleep(Duration::from_millis(1100)).await;
    fresh_token_verifies(&c, &t).await;
    assert_eq!(t.stats().jwks, 3, "regular refresh past the TTL");
    publish_and_activate(&t);
    fresh_token_verifies(&c, &t).await;
    assert_eq!(t.stats().jwks, 4, "one refetch for the new key");

    tokio::time::sleep(Duration::from_millis(1100)).await;
    t.reset_stats();
    let stuck = token_with_kid(&t, "retired-long-ago");
    let mut requests = 0u64;
    let started = std::time::Instant::now();
    let mut i = 0;
    while started.elapsed() < Duration::from_millis(2500) {
        fresh_token_verifies(&c, &t).await;
        assert!(
            c.verify_access_token(&token_with_kid(&t, &format!("random-{i}")))
                .await
                .is_err()
        );
        assert!(c.verify_access_token(&stuck).await.is_err());
        requests += 3;
        i += 1;
        tokio::time::sleep(Duration::from_millis(20)).await;
    }
    let s = t.stats();
    assert!(s.discovery >= 2, "regular loads happened: {s:?}");
    assert!(
        s.jwks <= 2 * s.discovery + 2,
        "at most one extra fetch per regular load: {s:?} over {requests} requests"
    );
    assert!(requests > 10 * s.jwks, "{s:?} over {requests} requests");
}

/// Several refreshes of one URL at once (past the TTL, on a slow tenant) share one fetch.
#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn concurrent_refreshes_of_one_url_share_one_fetch() {
    use auth0_api_dev_tenant::{Endpoint, Fault};
    let t = tenant_with_one_second_documents().await;
    let c = client(options(&t).verified_token_cache(false));
    let token: Arc<str> = Arc::from(t.mint().aud(json!(AUD)).sign());
    c.verify_access_token(&token).await.unwrap();
    tokio::time::sleep(Duration::from_millis(1200)).await;
    for endpoint in [Endpoint::Discovery, Endpoint::Jwks] {
        t.set_fault(endpoint, Some(Fault::Delay(Duration::from_millis(300))));
    }
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
    assert_eq!((s.discovery, s.jwks), (2, 2), "one refresh of each: {s:?}");
}

/// A multi-domain client of a slow tenant and a healthy one.
async fn slow_and_healthy(max_age: Option<u64>) -> (DevTenant, DevTenant, auth0_api::ApiClient) {
    let mut tenants = Vec::new();
    for _ in 0..2 {
        tenants.push(
            DevTenant::builder()
                .client("cid", "s", [AUD])
                .max_age(max_age)
                .start()
                .await
                .unwrap(),
        );
    }
    let mut b = ApiClientOptions::builder()
        .domains(tenants.iter().map(|t| t.domain().to_owned()))
        .audience(AUD)
        .verified_token_cache(false);
    for t in &tenants {
        b = b.root_ca_pem(t.ca_pem());
    }
    let c = client(b);
    let healthy = tenants.pop().unwrap();
    let slow = tenants.pop().unwrap();
    (slow, healthy, c)
}

const SLOW: Duration = Duration::from_millis(1500);

/// Starts verifying a token of the slow tenant, gives its fetch time to start, then times a
/// verification of the healthy tenant's: it must not wait for the slow fetch.
async fn healthy_does_not_wait(
    c: &auth0_api::ApiClient,
    slow_token: String,
    healthy: &DevTenant,
) -> tokio::task::JoinHandle<bool> {
    let slow = {
        let c = c.clone();
        tokio::spawn(async move { c.verify_access_token(&slow_token).await.is_ok() })
    };
    tokio::time::sleep(Duration::from_millis(100)).await;
    let started = std::time::Instant::now();
    fresh_token_verifies(c, healthy).await;
    let took = started.elapsed();
    assert!(
        took < Duration::from_millis(700),
        "the healthy issuer waited {took:?}"
    );
    assert!(!slow.is_finished(), "the slow fetch is still under way");
    slow
}

/// First loads: a slow tenant's cold discovery does not delay another issuer's.
#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_slow_issuers_first_load_never_stalls_another_issuer() {
    use auth0_api_dev_tenant::{Endpoint, Fault};
    let (slow, healthy, c) = slow_and_healthy(None).await;
    slow.set_fault(Endpoint::Discovery, Some(Fault::Delay(SLOW)));
    let token = slow.mint().aud(json!(AUD)).sign();
    let pending = healthy_does_not_wait(&c, token, &healthy).await;
    assert!(
        pending.await.unwrap(),
        "the slow issuer verifies in the end"
    );
}

/// Refreshes past the TTL: a slow tenant's synchronous refresh does not delay another
/// issuer's.
#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_slow_issuers_refresh_never_stalls_another_issuer() {
    use auth0_api_dev_tenant::{Endpoint, Fault};
    let (slow, healthy, c) = slow_and_healthy(Some(1)).await;
    fresh_token_verifies(&c, &slow).await;
    fresh_token_verifies(&c, &healthy).await;
    for endpoint in [Endpoint::Discovery, Endpoint::Jwks] {
        slow.set_fault(endpoint, Some(Fault::Delay(SLOW)));
    }
    tokio::time::sleep(Duration::from_millis(1200)).await;
    let token = slow.mint().aud(json!(AUD)).sign();
    let pending = healthy_does_not_wait(&c, token, &healthy).await;
    assert!(
        pending.await.unwrap(),
        "the slow issuer verifies in the end"
    );
    assert_eq!(healthy.stats().discovery, 2, "the healthy issuer refreshed");
}

/// Key rotation: a slow tenant's refetch on an unknown kid does not delay another issuer's.
#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_slow_issuers_key_refetch_never_stalls_another_issuer() {
    use auth0_api_dev_tenant::{Endpoint, Fault};
    let (slow, healthy, c) = slow_and_healthy(None).await;
    fresh_token_verifies(&c, &slow).await;
    fresh_token_verifies(&c, &healthy).await;
    slow.set_fault(Endpoint::Jwks, Some(Fault::Delay(SLOW)));
    publish_and_activate(&slow);
    publish_and_activate(&healthy);
    let token = slow.mint().aud(json!(AUD)).sign();
    let pending = healthy_does_not_wait(&c, token, &healthy).await;
    assert_eq!(healthy.stats().jwks, 2, "the healthy issuer refetched");
    assert!(
        pending.await.unwrap(),
        "the slow issuer verifies in the end"
    );
    assert_eq!(slow.stats().jwks, 2);
}

/// A refetch on an unknown kid that fails is not retried per request, and the key set in use
/// keeps serving its known keys.
#[tokio::test]
async fn a_failed_key_refetch_is_not_retried_per_request() {
    use auth0_api_dev_tenant::{Endpoint, Fault};
    let t = crate::tenant().await;
    let c = client(options(&t).verified_token_cache(false));
    fresh_token_verifies(&c, &t).await;
    t.set_fault(Endpoint::Jwks, Some(Fault::Status(503)));
    for i in 0..20 {
        let e = c
            .verify_access_token(&token_with_kid(&t, &format!("random-{i}")))
            .await
            .unwrap_err();
        assert_eq!(e.description(), "No matching key found in JWKS");
    }
    assert_eq!(t.stats().jwks, 2, "one failed refetch");
    fresh_token_verifies(&c, &t).await;
    assert_eq!(t.stats().jwks, 2, "the key set in use keeps serving");
}

/// `warm_up` loads every configured domain's documents once (then reads the caches), fails
/// with the tenant's error while it is down, and a token after it needs no fetch.
#[tokio::test]
async fn warm_up_loads_every_domain_then_costs_nothing() {
    let a = crate::tenant().await;
    let b = crate::tenant().await;
    a.set_fault(
        auth0_api_dev_tenant::Endpoint::Jwks,
        Some(auth0_api_dev_tenant::Fault::Status(503)),
    );
    let c = client(
        ApiClientOptions::builder()
            .domains([a.domain(), b.domain()])
            .audience(AUD)
            .root_ca_pem(a.ca_pem())
            .root_ca_pem(b.ca_pem()),
    );
    let err = c.warm_up().await.unwrap_err();
    assert_eq!(
        (err.error_code(), err.description()),
        (
            "invalid_token",
            "Failed to fetch JWKS: unexpected HTTP status 503"
        ),
        "the error a token would get"
    );
    a.set_fault(auth0_api_dev_tenant::Endpoint::Jwks, None);
    c.warm_up().await.unwrap();
    c.warm_up().await.unwrap();
    for t in [&a, &b] {
        fresh_token_verifies(&c, t).await;
        let s = t.stats();
        assert_eq!(s.discovery, 1, "discovery loaded once");
    }
    assert_eq!(b.stats().jwks, 1);
    // Static keys: nothing to load.
    let offline = client(options(&a).static_jwks(a.jwks().to_string()));
    offline.warm_up().await.unwrap();
}
