//! Multiple custom domains: static lists, resolvers, per-issuer discovery.

use auth0_api::{ApiClientOptions, BoxError, DomainsResolver, ResolverContext, VerifyOptions};
use serde_json::json;

use crate::{AUD, client, fail, tenant};

#[tokio::test]
async fn static_list_accepts_each_tenant_and_refuses_others() {
    let (a, b, outsider) = (tenant().await, tenant().await, tenant().await);
    let c = client(
        ApiClientOptions::builder()
            .domains([a.domain(), b.domain()])
            .audience(AUD)
            .root_ca_pem(a.ca_pem())
            .root_ca_pem(b.ca_pem())
            .root_ca_pem(outsider.ca_pem()),
    );
    for t in [&a, &b] {
        let claims = c
            .verify_access_token(&t.mint().aud(json!(AUD)).sign())
            .await
            .unwrap();
        assert_eq!(claims.iss(), Some(t.issuer()));
        assert_eq!(
            t.stats().discovery,
            1,
            "discovery fetched from the token's own issuer"
        );
    }
    outsider.reset_stats();
    let e = fail(&c, &outsider.mint().aud(json!(AUD)).sign()).await;
    assert_eq!(
        e.description(),
        "Token issuer is not in the list of allowed domains"
    );
    assert_eq!(
        outsider.stats().discovery,
        0,
        "nothing fetched from a tenant outside the list"
    );
}

#[tokio::test]
async fn resolvers_sync_async_and_failing() {
    let t = tenant().await;
    let allowed = t.domain().to_owned();
    let seen = std::sync::Arc::new(std::sync::Mutex::new(None::<ResolverContext>));
    let seen2 = seen.clone();
    let resolver = DomainsResolver::from_async(move |ctx: ResolverContext| {
        let allowed = allowed.clone();
        let seen = seen2.clone();
        async move {
            *seen.lock().unwrap() = Some(ctx);
            Ok::<_, BoxError>(vec![allowed])
        }
    });
    let c = client(
        ApiClientOptions::builder()
            .domains_resolver(resolver)
            .audience(AUD)
            .root_ca_pem(t.ca_pem()),
    );
    let mut headers = http::HeaderMap::new();
    headers.insert("host", "api.brand.com".parse().unwrap());
    let opts = VerifyOptions::default()
        .request_url("https://api.brand.com/data")
        .request_headers(headers);
    c.verify_access_token_with(&t.mint().aud(json!(AUD)).sign(), &opts)
        .await
        .unwrap();
    let ctx = seen.lock().unwrap().clone().unwrap();
    assert_eq!(ctx.unverified_iss, t.issuer());
    assert_eq!(
        ctx.request_url.as_deref(),
        Some("https://api.brand.com/data")
    );
    assert_eq!(ctx.header("host"), Some("api.brand.com"));

    let refusing = client(
        ApiClientOptions::builder()
            .domains_resolver(DomainsResolver::from_fn(|_| {
                Ok::<_, BoxError>(vec!["other.example.com".into()])
            }))
            .audience(AUD)
            .root_ca_pem(t.ca_pem()),
    );
    let e = fail(&refusing, &t.mint().aud(json!(AUD)).sign()).await;
    assert_eq!(
        e.description(),
        "Token issuer is not in the list of allowed domains"
    );

    let failing = client(
        ApiClientOptions::builder()
            .domains_resolver(DomainsResolver::from_async(|_| async {
                Err::<Vec<String>, BoxError>("Database connection failed".into())
            }))
            .audience(AUD)
            .root_ca_pem(t.ca_pem()),
    );
    let e = fail(&failing, &t.mint().aud(json!(AUD)).sign()).await;
    assert_eq!(e.status_code(), 500);
    assert_eq!(e.error_code(), "domains_resolver_error");
    assert_eq!(
        e.description(),
        "Domains resolver function failed: Database connection failed"
    );
}

#[tokio::test]
async fn issuer_confusion_and_discovery_fields() {
    let t = tenant().await;
    let c = client(
        ApiClientOptions::builder()
            .domains([t.domain()])
            .audience(AUD)
            .root_ca_pem(t.ca_pem()),
    );
    let token = t.mint().aud(json!(AUD)).sign();

    let set = |k: &str, v: serde_json::Value| {
        let mut m = serde_json::Map::new();
        m.insert(k.to_owned(), v);
        t.set_discovery_overrides(m);
    };
    let fresh = || {
        client(
            ApiClientOptions::builder()
                .domains([t.domain()])
                .audience(AUD)
                .root_ca_pem(t.ca_pem()),
        )
    };
    assert!(c.verify_access_token(&token).await.is_ok());

    set("issuer", json!("https://evil.example.com/"));
    assert_eq!(
        fail(&fresh(), &token).await.description(),
        "Token issuer does not match the discovery issuer"
    );
    set("issuer", json!("http://evil.example.com"));
    assert_eq!(
        fail(&fresh(), &token).await.description(),
        "Invalid discovery issuer format: invalid domain URL (https required)"
    );
    set("issuer", serde_json::Value::Null);
    assert_eq!(
        fail(&fresh(), &token).await.description(),
        "Discovery metadata missing 'issuer' field"
    );
    set("issuer", json!(t.issuer()));
    set("jwks_uri", serde_json::Value::Null);
    assert_eq!(
        fail(&fresh(), &token).await.description(),
        "Discovery metadata missing 'jwks_uri' field"
    );

    // The discovery issuer spelled differently (upper case) normalises equal, but the verified
    // token's `iss` must equal it exactly.
    let lt = auth0_api_dev_tenant::DevTenant::builder()
        .host("localhost")
        .start()
        .await
        .unwrap();
    let mut m = serde_json::Map::new();
    m.insert(
        "issuer".into(),
        json!(lt.issuer().replace("localhost", "LOCALHOST")),
    );
    lt.set_discovery_overrides(m);
    let lc = client(
        ApiClientOptions::builder()
            .domains([lt.domain()])
            .audience(AUD)
            .root_ca_pem(lt.ca_pem()),
    );
    assert_eq!(
        fail(&lc, &lt.mint().aud(json!(AUD)).sign())
            .await
            .description(),
        "Verified Token issuer does not match the discovery issuer"
    );

    let malformed = t
        .mint()
        .aud(json!(AUD))
        .issuer("https://a.example.com/path")
        .sign();
    assert_eq!(
        fail(&c, &malformed).await.description(),
        "Invalid token issuer format: invalid domain URL (path/query/fragment are not allowed)"
    );
}
