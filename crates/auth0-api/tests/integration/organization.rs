//! Auth0 Organizations (`auth0_api::organization`): tokens required to belong to an
//! organization, fixed or resolved per request. `cargo test organization`.

use auth0_api::error::{OrganizationClaim, TokenError};
use auth0_api::organization::OrganizationResolver;
use auth0_api::{ApiClient, ErrorKind, VerifyRequest};
use auth0_api_dev_tenant::DevTenant;
use serde_json::{Value, json};

use super::{AUD, client, options};

async fn tenant_with_organizations() -> DevTenant {
    DevTenant::builder()
        .client("cid", "csecret", [AUD])
        .organization("org_acme123", "acme")
        .organization("org_globex9", "globex")
        .start()
        .await
        .unwrap()
}

/// A client-credentials token from the tenant's token endpoint for `organization`.
async fn organization_token(t: &DevTenant, organization: &str) -> String {
    let http = reqwest::Client::builder()
        .tls_certs_merge([reqwest::Certificate::from_pem(t.ca_pem().as_bytes()).unwrap()])
        .build()
        .unwrap();
    let response = http
        .post(t.token_endpoint())
        .basic_auth("cid", Some("csecret"))
        .form(&[
            ("grant_type", "client_credentials"),
            ("audience", AUD),
            ("organization", organization),
        ])
        .send()
        .await
        .unwrap();
    assert_eq!(response.status(), 200);
    let body: Value = response.json().await.unwrap();
    body["access_token"].as_str().unwrap().to_owned()
}

async fn refused(c: &ApiClient, token: &str) -> auth0_api::Error {
    c.verify_access_token(token).await.unwrap_err()
}

#[tokio::test]
async fn organization_by_id_from_the_token_endpoint() {
    let t = tenant_with_organizations().await;
    let acme = organization_token(&t, "org_acme123").await;
    let globex = organization_token(&t, "globex").await;
    let c = client(options(&t).organization("org_acme123"));

    let claims = c.verify_access_token(&acme).await.unwrap();
    assert_eq!(claims.org_id(), Some("org_acme123"));
    assert_eq!(claims.org_name(), Some("acme"));

    let e = refused(&c, &globex).await;
    assert_eq!((e.status_code(), e.error_code()), (401, "invalid_token"));
    assert_eq!(
        e.token_error(),
        Some(&TokenError::OrganizationMismatch(OrganizationClaim::Id))
    );
    assert_eq!(
        e.description(),
        "Organization ID (org_id) claim does not match an accepted organization"
    );
    // The description names neither organization.
    assert!(!e.description().contains("globex") && !e.description().contains("acme"));

    // A token of no organization.
    let plain = t.mint().aud(json!(AUD)).sign();
    let e = refused(&c, &plain).await;
    assert_eq!(
        e.description(),
        "Organization ID (org_id) claim must be a string present in the access token"
    );
}

#[tokio::test]
async fn organization_by_name_is_lower_cased_and_wrong_types_are_refused() {
    let t = tenant_with_organizations().await;
    let c = client(options(&t).organization("ACME"));
    let acme = organization_token(&t, "org_acme123").await;
    assert_eq!(
        c.verify_access_token(&acme).await.unwrap().org_name(),
        Some("acme")
    );

    for bad in [
        json!(7),
        json!(["acme"]),
        json!({"name": "acme"}),
        json!(null),
    ] {
        let token = t
            .mint()
            .aud(json!(AUD))
            .claim("org_name", bad.clone())
            .sign();
        let e = refused(&c, &token).await;
        assert_eq!(
            e.token_error(),
            Some(&TokenError::OrganizationMissing(OrganizationClaim::Name)),
            "{bad}"
        );
    }
    // Names are compared as Auth0 stores them: a mixed-case claim is not lower-cased.
    let shouting = t
        .mint()
        .aud(json!(AUD))
        .claim("org_name", json!("ACME"))
        .sign();
    assert_eq!(
        refused(&c, &shouting).await.token_error(),
        Some(&TokenError::OrganizationMismatch(OrganizationClaim::Name))
    );

    // Several accepted, IDs and names mixed: any one will do.
    let either = client(options(&t).organization("org_globex9").organization("acme"));
    either.verify_access_token(&acme).await.unwrap();
    let other = t
        .mint()
        .aud(json!(AUD))
        .claim("org_id", json!("org_x"))
        .sign();
    assert_eq!(
        refused(&either, &other).await.description(),
        "Organization (org_id or org_name) claim does not match an accepted organization"
    );
}

#[tokio::test]
async fn organization_resolver_reads_the_request() {
    let t = tenant_with_organizations().await;
    let c = client(
        options(&t).organization_resolver(OrganizationResolver::from_fn(|ctx| {
            match ctx.header("host") {
                Some("down.api.example.com") => Err("directory unavailable"),
                Some(host) => Ok(vec![host.split('.').next().unwrap_or_default().to_owned()]),
                None => Ok(vec![]),
            }
        })),
    );
    let acme = organization_token(&t, "acme").await;
    let request = |host: &str| {
        VerifyRequest::from_pairs([
            ("authorization", format!("Bearer {acme}").as_str()),
            ("host", host),
        ])
        .method("GET")
        .url(format!("https://{host}/orders"))
    };

    let ok = c
        .verify_request(request("acme.api.example.com"))
        .await
        .unwrap();
    assert_eq!(ok.org_id(), Some("org_acme123"));
    // Twice: the verified-token cache does not skip the organization check.
    c.verify_request(request("acme.api.example.com"))
        .await
        .unwrap();
    c.verify_request(request("acme.api.example.com"))
        .await
        .unwrap();

    let e = c
        .verify_request(request("globex.api.example.com"))
        .await
        .unwrap_err();
    assert_eq!((e.status_code(), e.error_code()), (401, "invalid_token"));
    assert_eq!(
        e.www_authenticate(),
        Some(
            "Bearer error=\"invalid_token\", error_description=\"Organization Name (org_name) claim does not match an accepted organization\", DPoP algs=\"ES256\""
        )
    );

    // A failing resolver is the server's problem: 500, no challenge.
    let e = c
        .verify_request(request("down.api.example.com"))
        .await
        .unwrap_err();
    assert_eq!(*e.kind(), ErrorKind::OrganizationResolver);
    assert_eq!(
        (e.status_code(), e.error_code()),
        (500, "organization_resolver_error")
    );
    assert_eq!(e.www_authenticate(), None);

    // No organization accepted for the request: refused.
    let e = c.verify_access_token(&acme).await.unwrap_err();
    assert_eq!(
        e.token_error(),
        Some(&TokenError::OrganizationMismatch(OrganizationClaim::Either))
    );
}

#[tokio::test]
async fn organization_configuration_is_checked_at_build() {
    let t = tenant_with_organizations().await;
    let e = options(&t).organization(" ").build().unwrap_err();
    assert_eq!(e.description(), "organization must be a non-empty string");
    let e = options(&t)
        .organization("org_a")
        .organization_resolver(OrganizationResolver::from_fn(|_| {
            Ok::<_, std::convert::Infallible>(vec![])
        }))
        .build()
        .unwrap_err();
    assert_eq!(e.error_code(), "invalid_configuration");
}
