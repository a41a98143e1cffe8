//! A misbehaving tenant: each failure a typed error, never a panic.

use std::time::Duration;

use auth0_api_dev_tenant::{Endpoint, Fault};
use serde_json::json;

use crate::{AUD, client, fail, options, tenant};

fn body(status: u16, content_type: &str, body: &[u8]) -> Option<Fault> {
    Some(Fault::Body {
        status,
        content_type: content_type.into(),
        body: body.to_vec(),
    })
}

#[tokio::test]
async fn discovery_failures() {
    let t = tenant().await;
    let token = t.mint().aud(json!(AUD)).sign();
    let cases: Vec<(Option<Fault>, &str)> = vec![
        (
            body(200, "application/json", b"not json"),
            "Failed to fetch OIDC discovery metadata: invalid JSON: ",
        ),
        (
            body(200, "application/json", b"[]"),
            "Failed to fetch OIDC discovery metadata: response is not a JSON object",
        ),
        (
            Some(Fault::Status(404)),
            "Failed to fetch OIDC discovery metadata: unexpected HTTP status 404",
        ),
        (
            body(200, "application/json", &vec![b' '; 2 * 1024 * 1024]),
            "Failed to fetch OIDC discovery metadata: response body exceeds 1048576 bytes",
        ),
        (
            Some(Fault::Close),
            "Failed to fetch OIDC discovery metadata: network error",
        ),
    ];
    for (fault, want) in cases {
        t.set_fault(Endpoint::Discovery, fault);
        let e = fail(&client(options(&t)), &token).await;
        assert!(
            e.description().starts_with(want),
            "{} !~ {want}",
            e.description()
        );
        assert_eq!(e.status_code(), 401);
    }
    t.set_fault(
        Endpoint::Discovery,
        Some(Fault::Delay(Duration::from_millis(800))),
    );
    let slow = client(options(&t).http_timeout(Duration::from_millis(200)));
    let e = fail(&slow, &token).await;
    assert_eq!(
        e.description(),
        "Failed to fetch OIDC discovery metadata: request timed out"
    );
}

#[tokio::test]
async fn jwks_failures() {
    let t = tenant().await;
    let token = t.mint().aud(json!(AUD)).sign();
    let cases: Vec<(Option<Fault>, &str)> = vec![
        (
            body(200, "application/json", br#"{"nokeys":[]}"#),
            "Failed to fetch JWKS: JWKS has no 'keys' array",
        ),
        (
            body(200, "application/json", b"[]"),
            "Failed to fetch JWKS: response is not a JSON object",
        ),
        (
            body(200, "application/json", br#"{"keys":[1,"x",{"kid":null}]}"#),
            "No matching key found in JWKS",
        ),
        (
            Some(Fault::Status(500)),
            "Failed to fetch JWKS: unexpected HTTP status 500",
        ),
    ];
    for (fault, want) in cases {
        t.set_fault(Endpoint::Jwks, fault);
        let e = fail(&client(options(&t)), &token).await;
        assert!(
            e.description().starts_with(want),
            "{} !~ {want}",
            e.description()
        );
    }
}

#[tokio::test]
async fn jwks_with_hostile_keys() {
    let t = tenant().await;
    // wrong key type for the algorithm, and an EC point off the curve, under kids tokens name
    t.publish_raw_jwk(json!({"kid":"ec-key","kty":"EC","crv":"P-256","x":"AAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAA","y":"AAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAA"}));
    t.publish_raw_jwk(json!({"kid":"bad-n","kty":"RSA","n":"!!!","e":"AQAB"}));
    let c = client(options(&t));
    let e = fail(&c, &t.mint().aud(json!(AUD)).kid("ec-key").sign()).await;
    assert!(
        e.description()
            .starts_with("Signature verification failed: invalid_key"),
        "{e}"
    );
    let e = fail(&c, &t.mint().aud(json!(AUD)).kid("bad-n").sign()).await;
    assert!(
        e.description()
            .starts_with("Signature verification failed: invalid_key"),
        "{e}"
    );
}
