//! Static keys (`ApiClientOptionsBuilder::static_jwks` / `static_jwk` / `static_key_pem`):
//! verification with keys from the options, with no discovery and no network at all.
//! `cargo test static_keys`.

use auth0_api::error::TokenError;
use auth0_api::{ApiClientOptions, ApiClientOptionsBuilder, DomainsResolver};
use serde_json::json;

use super::{AUD, client, tenant};

/// Options for `domain` with no trusted root for the tenant's TLS: a fetch could not even
/// connect, so every success below is network-free.
fn offline(domain: &str) -> ApiClientOptionsBuilder {
    ApiClientOptions::builder().domain(domain).audience(AUD)
}

#[tokio::test]
async fn static_keys_jwks_verify_with_no_fetch_even_with_the_tenant_gone() {
    let t = tenant().await;
    let c = client(offline(t.domain()).static_jwks(t.jwks().to_string()));
    let first = t.mint().sub("user_1").aud(json!(AUD)).sign();
    let second = t.mint().sub("user_2").aud(json!(AUD)).sign();
    let unknown = t.mint().aud(json!(AUD)).kid("not-published").sign();

    assert_eq!(
        c.verify_access_token(&first).await.unwrap().sub(),
        Some("user_1")
    );
    // Seen again and again: the verified-token cache works with static keys.
    for _ in 0..3 {
        c.verify_access_token(&first).await.unwrap();
    }
    // An unknown kid is refused at once: nothing to refetch.
    let e = c.verify_access_token(&unknown).await.unwrap_err();
    assert_eq!(e.token_error(), Some(&TokenError::UnknownKey));
    let stats = t.stats();
    assert_eq!((stats.discovery, stats.jwks), (0, 0));

    t.stop().await;
    assert_eq!(
        c.verify_access_token(&second).await.unwrap().sub(),
        Some("user_2")
    );
    // Another issuer is still refused, as the discovery check would.
    let foreign = t
        .mint()
        .aud(json!(AUD))
        .issuer("https://elsewhere.example.com/")
        .sign();
    let e = c.verify_access_token(&foreign).await.unwrap_err();
    assert_eq!(e.token_error(), Some(&TokenError::DiscoveryIssuerMismatch));
}

#[tokio::test]
async fn static_keys_from_a_jwk_a_pem_public_key_and_a_certificate() {
    let t = tenant().await;
    let kid = t.active_kid();
    let token = t.mint().sub("user_1").aud(json!(AUD)).sign();
    let jwk = t.jwks()["keys"]
        .as_array()
        .unwrap()
        .iter()
        .find(|k| k["kid"] == kid.as_str())
        .cloned()
        .unwrap();

    let by_jwk = client(offline(t.domain()).static_jwk(jwk.to_string()));
    by_jwk.verify_access_token(&token).await.unwrap();

    let pem = t.public_key_pem(&kid).unwrap();
    assert!(pem.starts_with("-----BEGIN PUBLIC KEY-----"));
    let by_pem = client(offline(t.domain()).static_key_pem(kid.clone(), &pem));
    by_pem.verify_access_token(&token).await.unwrap();

    let cert = t.signing_certificate_pem(&kid).unwrap();
    assert!(cert.starts_with("-----BEGIN CERTIFICATE-----"));
    let by_cert = client(offline(t.domain()).static_key_pem(kid.clone(), &cert));
    by_cert.verify_access_token(&token).await.unwrap();

    // The PEM's kid is what tokens must name.
    let misnamed = client(offline(t.domain()).static_key_pem("other-kid", &pem));
    let e = misnamed.verify_access_token(&token).await.unwrap_err();
    assert_eq!(e.token_error(), Some(&TokenError::UnknownKey));

    // A token signed by another key under a static kid: a bad signature, never a fetch.
    let rotated = t.add_key();
    let forged = t
        .mint()
        .aud(json!(AUD))
        .signing_kid(rotated)
        .kid(kid)
        .sign();
    let e = by_pem.verify_access_token(&forged).await.unwrap_err();
    assert_eq!(e.token_error(), Some(&TokenError::BadSignature));
    assert_eq!((t.stats().discovery, t.stats().jwks), (0, 0));
}

#[tokio::test]
async fn static_keys_serve_a_static_list_of_domains() {
    let a = tenant().await;
    let b = tenant().await;
    let mut keys = a.jwks()["keys"].as_array().unwrap().clone();
    keys.extend(b.jwks()["keys"].as_array().unwrap().iter().cloned());
    let c = client(
        ApiClientOptions::builder()
            .domains([a.domain(), b.domain()])
            .audience(AUD)
            .static_jwks(json!({ "keys": keys }).to_string()),
    );
    for t in [&a, &b] {
        let token = t.mint().aud(json!(AUD)).sign();
        c.verify_access_token(&token).await.unwrap();
    }
    let foreign = a
        .mint()
        .aud(json!(AUD))
        .issuer("https://elsewhere.example.com/")
        .sign();
    let e = c.verify_access_token(&foreign).await.unwrap_err();
    assert_eq!(e.token_error(), Some(&TokenError::IssuerNotAllowed));
}

#[tokio::test]
async fn static_keys_bad_configurations_fail_at_build() {
    let t = tenant().await;
    let description = |b: ApiClientOptionsBuilder| {
        let e = b.build().unwrap_err();
        assert_eq!(
            (e.status_code(), e.error_code()),
            (500, "invalid_configuration")
        );
        e.description().to_owned()
    };
    assert!(description(offline(t.domain()).static_jwks("not json")).contains("not JSON"));
    assert!(
        description(offline(t.domain()).static_key_pem("k", "-----BEGIN X-----"))
            .contains("neither a PUBLIC KEY nor a CERTIFICATE")
    );
    let mut private = t.jwks()["keys"][0].clone();
    private["d"] = json!("AQAB");
    assert!(
        description(offline(t.domain()).static_jwk(private.to_string()))
            .contains("private member 'd'")
    );
    let resolver = DomainsResolver::from_fn(|_| Ok::<_, std::convert::Infallible>(vec![]));
    assert_eq!(
        description(
            ApiClientOptions::builder()
                .domains_resolver(resolver)
                .audience(AUD)
                .static_jwks(t.jwks().to_string())
        ),
        "static keys need 'domain' or a 'domains' list, not a resolver"
    );
}
