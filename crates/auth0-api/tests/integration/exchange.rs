//! Token exchange against the dev tenant over real HTTPS on loopback: on-behalf-of (and the
//! `act` claim of what it issues), custom exchange profiles, federated connection tokens,
//! `private_key_jwt`, and a misbehaving token endpoint.

#![allow(clippy::unwrap_used, clippy::expect_used, clippy::panic, missing_docs)]

use std::time::Duration;

use auth0_api::__fuzz::MAX_BODY_BYTES;
use auth0_api::act::{current_actor, delegation_chain};
use auth0_api::exchange::{
    ClientAuth, ConnectionTokenRequest, ExchangeProfileRequest, TOKEN_TYPE_ACCESS_TOKEN,
};
use auth0_api::{Algorithm, ApiClient, ApiClientOptions, ApiClientOptionsBuilder, Error};
use auth0_api_dev_tenant::{DevTenant, Endpoint, Fault};
use aws_lc_rs::rand::SystemRandom;
use aws_lc_rs::signature::{ECDSA_P256_SHA256_FIXED_SIGNING, EcdsaKeyPair, KeyPair};
use base64::Engine as _;
use base64::engine::general_purpose::{STANDARD, URL_SAFE_NO_PAD};
use serde_json::{Map, Value, json};

const CLIENT_ID: &str = "mcp-server";
const CLIENT_SECRET: &str = "mcp-secret";
const MCP_API: &str = "https://mcp-server.example.com";
const CALENDAR_API: &str = "https://calendar-api.example.com";
const EXTERNAL_TYPE: &str = "urn:example:external-token";

async fn tenant() -> DevTenant {
    DevTenant::builder()
        .client(CLIENT_ID, CLIENT_SECRET, [MCP_API, CALENDAR_API])
        .connection("google-oauth2", "upstream-google-token")
        .exchange_profile(EXTERNAL_TYPE, |token| {
            (token == "good-external-token").then(|| "user_7".to_owned())
        })
        .start()
        .await
        .expect("the dev tenant starts")
}

fn base(tenant: &DevTenant, audience: &str) -> ApiClientOptionsBuilder {
    ApiClientOptions::builder()
        .domain(tenant.domain())
        .audience(audience)
        .root_ca_pem(tenant.ca_pem())
}

fn api(tenant: &DevTenant) -> ApiClient {
    ApiClient::new(
        base(tenant, MCP_API)
            .client_id(CLIENT_ID)
            .client_secret(CLIENT_SECRET)
            .build()
            .unwrap(),
    )
    .unwrap()
}

fn incoming_token(tenant: &DevTenant) -> String {
    tenant
        .mint()
        .sub("user_42")
        .aud(json!(MCP_API))
        .scope("mcp:use")
        .sign()
}

fn assert_error(e: &Error, code: &str, status: u16) {
    assert_eq!(e.error_code(), code, "{e:?}");
    assert_eq!(e.status_code(), status, "{e:?}");
}

fn basic(id: &str, secret: &str) -> String {
    format!("Basic {}", STANDARD.encode(format!("{id}:{secret}")))
}

#[tokio::test]
async fn on_behalf_of_round_trip_with_act_claim() {
    let tenant = tenant().await;
    let api = api(&tenant);
    let incoming = incoming_token(&tenant);
    api.verify_access_token(&incoming)
        .await
        .expect("the incoming token verifies");

    let result = api
        .get_token_on_behalf_of(
            &incoming,
            CALENDAR_API,
            Some("calendar:read calendar:write"),
        )
        .await
        .expect("the exchange succeeds");
    assert!(!result.access_token.expose().is_empty());
    assert_eq!(result.expires_in, 3600);
    assert_eq!(result.token_type.as_deref(), Some("Bearer"));
    assert_eq!(
        result.issued_token_type.as_deref(),
        Some(TOKEN_TYPE_ACCESS_TOKEN)
    );
    assert!(!format!("{result:?}").contains(result.access_token.expose()));

    let sent = tenant.last_token_request().expect("a token request");
    assert_eq!(
        sent.field("grant_type"),
        Some("urn:ietf:params:oauth:grant-type:token-exchange")
    );
    assert_eq!(sent.field("subject_token"), Some(incoming.as_str()));
    assert_eq!(
        sent.field("subject_token_type"),
        Some(TOKEN_TYPE_ACCESS_TOKEN)
    );
    assert_eq!(
        sent.field("requested_token_type"),
        Some(TOKEN_TYPE_ACCESS_TOKEN)
    );
    assert_eq!(sent.field("audience"), Some(CALENDAR_API));
    assert_eq!(sent.field("scope"), Some("calendar:read calendar:write"));
    assert_eq!(sent.field("client_id"), None);
    assert_eq!(sent.field("client_secret"), None);
    assert_eq!(
        sent.authorization.as_deref(),
        Some(basic(CLIENT_ID, CLIENT_SECRET).as_str())
    );

    // The downstream API verifies the exchanged token and sees who acts for the user.
    let downstream = ApiClient::new(base(&tenant, CALENDAR_API).build().unwrap()).unwrap();
    let claims = downstream
        .verify_access_token(result.access_token.expose())
        .await
        .unwrap();
    assert_eq!(claims.sub(), Some("user_42"));
    assert_eq!(current_actor(&claims).unwrap(), Some(CLIENT_ID));
    assert_eq!(delegation_chain(&claims).unwrap(), [CLIENT_ID]);

    // Without scope: no scope field sent.
    api.get_token_on_behalf_of(&incoming, CALENDAR_API, None)
        .await
        .unwrap();
    assert_eq!(tenant.last_token_request().unwrap().field("scope"), None);
    tenant.stop().await;
}

#[tokio::test]
async fn on_behalf_of_input_errors_make_no_request() {
    let tenant = tenant().await;
    let api = api(&tenant);
    let e = api
        .get_token_on_behalf_of("token", "", None)
        .await
        .unwrap_err();
    assert_error(&e, "invalid_request", 400);
    assert_eq!(
        e.description(),
        "The argument 'audience' is required but was not provided."
    );
    let e = api
        .get_token_on_behalf_of("", CALENDAR_API, None)
        .await
        .unwrap_err();
    assert_eq!(
        e.description(),
        "The argument 'subject_token' is required but was not provided."
    );
    let e = api
        .get_token_on_behalf_of("Bearer abc", CALENDAR_API, None)
        .await
        .unwrap_err();
    assert_error(&e, "get_token_by_exchange_profile_error", 400);

    let public = ApiClient::new(base(&tenant, MCP_API).build().unwrap()).unwrap();
    let e = public
        .get_token_on_behalf_of("token", CALENDAR_API, None)
        .await
        .unwrap_err();
    assert_error(&e, "get_token_by_exchange_profile_error", 400);
    assert!(
        e.description()
            .starts_with("Client credentials are required"),
        "{e}"
    );
    let e = api
        .get_token_by_exchange_profile(
            ExchangeProfileRequest::new("t", "urn:x").extra("Scope", "x"),
        )
        .await
        .unwrap_err();
    assert_eq!(
        e.description(),
        "Parameter 'Scope' is reserved and cannot be overridden"
    );

    assert_eq!(tenant.stats().token, 0);
    assert_eq!(tenant.stats().discovery, 0);
    tenant.stop().await;
}

#[tokio::test]
async fn the_endpoint_error_is_passed_through() {
    let tenant = tenant().await;
    let api = api(&tenant);
    // An audience the client may not get tokens for.
    let e = api
        .get_token_on_behalf_of(&incoming_token(&tenant), "https://other.example.com", None)
        .await
        .unwrap_err();
    assert_error(&e, "invalid_target", 400);

    // A subject token the tenant did not issue.
    let e = api
        .get_token_on_behalf_of("not-a-jwt", CALENDAR_API, None)
        .await
        .unwrap_err();
    assert_error(&e, "invalid_grant", 400);
    assert_eq!(e.description(), "Invalid subject token");

    // A wrong secret.
    let wrong = ApiClient::new(
        base(&tenant, MCP_API)
            .client_id(CLIENT_ID)
            .client_secret("nope")
            .build()
            .unwrap(),
    )
    .unwrap();
    let e = wrong
        .get_token_on_behalf_of(&incoming_token(&tenant), CALENDAR_API, None)
        .await
        .unwrap_err();
    assert_error(&e, "invalid_client", 401);
    assert!(!e.to_string().contains("nope"));
    tenant.stop().await;
}

#[tokio::test]
async fn custom_exchange_profile() {
    let tenant = tenant().await;
    let api = api(&tenant);
    let token = api
        .get_token_by_exchange_profile(
            ExchangeProfileRequest::new("good-external-token", EXTERNAL_TYPE)
                .audience(CALENDAR_API)
                .scope("openid offline_access")
                .extra("device_id", "dev123")
                .extra("roles", vec!["admin", "editor"]),
        )
        .await
        .expect("the exchange succeeds");
    assert!(!token.access_token.expose().is_empty());
    assert!(
        token
            .refresh_token
            .as_ref()
            .is_some_and(|r| !r.expose().is_empty())
    );
    assert_eq!(token.scope.as_deref(), Some("openid offline_access"));
    let sent = tenant.last_token_request().unwrap();
    assert_eq!(sent.field("subject_token_type"), Some(EXTERNAL_TYPE));
    assert_eq!(sent.field("device_id"), Some("dev123"));
    let roles: Vec<&str> = sent
        .form
        .iter()
        .filter(|(k, _)| k == "roles")
        .map(|(_, v)| v.as_str())
        .collect();
    assert_eq!(
        roles,
        ["admin", "editor"],
        "list values repeat the key, in order"
    );
    assert_eq!(sent.field("requested_token_type"), None);
    assert_eq!(sent.field("client_id"), None);

    let e = api
        .get_token_by_exchange_profile(
            ExchangeProfileRequest::new("bad-token", EXTERNAL_TYPE).audience(CALENDAR_API),
        )
        .await
        .unwrap_err();
    assert_error(&e, "invalid_grant", 400);
    tenant.stop().await;
}

#[tokio::test]
async fn federated_connection_token() {
    let tenant = tenant().await;
    let api = api(&tenant);
    let incoming = incoming_token(&tenant);
    let token = api
        .get_access_token_for_connection(
            ConnectionTokenRequest::new("google-oauth2", incoming.as_str())
                .login_hint("user@example.com"),
        )
        .await
        .expect("the connection token is issued");
    assert_eq!(token.access_token.expose(), "upstream-google-token");
    assert_eq!(token.scope, "");
    let sent = tenant.last_token_request().unwrap();
    assert_eq!(sent.field("connection"), Some("google-oauth2"));
    assert_eq!(sent.field("client_id"), Some(CLIENT_ID));
    assert_eq!(sent.field("subject_token"), Some(incoming.as_str()));
    assert_eq!(sent.field("login_hint"), Some("user@example.com"));
    assert_eq!(
        sent.field("grant_type"),
        Some("urn:auth0:params:oauth:grant-type:token-exchange:federated-connection-access-token")
    );
    assert_eq!(
        sent.authorization.as_deref(),
        Some(basic(CLIENT_ID, CLIENT_SECRET).as_str())
    );

    let e = api
        .get_access_token_for_connection(ConnectionTokenRequest::new("unknown", incoming.as_str()))
        .await
        .unwrap_err();
    assert_error(&e, "invalid_request", 400);
    let e = api
        .get_access_token_for_connection(ConnectionTokenRequest::new("", "t"))
        .await
        .unwrap_err();
    assert_eq!(
        e.description(),
        "The argument 'connection' is required but was not provided."
    );
    let e = api
        .get_access_token_for_connection(ConnectionTokenRequest::new("c", ""))
        .await
        .unwrap_err();
    assert_eq!(
        e.description(),
        "The argument 'access_token' is required but was not provided."
    );
    let public = ApiClient::new(base(&tenant, MCP_API).build().unwrap()).unwrap();
    let e = public
        .get_access_token_for_connection(ConnectionTokenRequest::new("c", "t"))
        .await
        .unwrap_err();
    assert_error(&e, "get_access_token_for_connection_error", 400);
    assert_eq!(
        e.description(),
        "You must configure the SDK with a client_id and client_secret to use get_access_token_for_connection."
    );
    tenant.stop().await;
}

#[tokio::test]
async fn private_key_jwt_client_authentication() {
    let pkcs8 =
        EcdsaKeyPair::generate_pkcs8(&ECDSA_P256_SHA256_FIXED_SIGNING, &SystemRandom::new())
            .unwrap();
    let pair = EcdsaKeyPair::from_pkcs8(&ECDSA_P256_SHA256_FIXED_SIGNING, pkcs8.as_ref()).unwrap();
    let point = pair.public_key().as_ref();
    let jwk = json!({
        "kty": "EC", "crv": "P-256",
        "x": URL_SAFE_NO_PAD.encode(&point[1..33]),
        "y": URL_SAFE_NO_PAD.encode(&point[33..65]),
    });
    let tenant = DevTenant::builder()
        .client_with_jwk("jwt-client", jwk, [MCP_API, CALENDAR_API])
        .connection("google-oauth2", "upstream-google-token")
        .start()
        .await
        .unwrap();
    let auth =
        ClientAuth::private_key_jwt(pkcs8.as_ref(), Algorithm::ES256, Some("k1".into())).unwrap();
    let api = ApiClient::new(
        base(&tenant, MCP_API)
            .client_id("jwt-client")
            .client_assertion(auth)
            .build()
            .unwrap(),
    )
    .unwrap();
    let incoming = tenant.mint().sub("user_42").aud(json!(MCP_API)).sign();

    api.get_token_on_behalf_of(&incoming, CALENDAR_API, None)
        .await
        .expect("OBO with private_key_jwt");
    let sent = tenant.last_token_request().unwrap();
    assert_eq!(sent.authorization, None);
    assert_eq!(sent.field("client_id"), Some("jwt-client"));
    assert_eq!(
        sent.field("client_assertion_type"),
        Some("urn:ietf:params:oauth:client-assertion-type:jwt-bearer")
    );

    let token = api
        .get_access_token_for_connection(ConnectionTokenRequest::new(
            "google-oauth2",
            incoming.as_str(),
        ))
        .await
        .expect("connection token with private_key_jwt");
    assert_eq!(token.access_token.expose(), "upstream-google-token");
    let sent = tenant.last_token_request().unwrap();
    assert_eq!(
        sent.form.iter().filter(|(k, _)| k == "client_id").count(),
        1
    );
    tenant.stop().await;
}

#[tokio::test]
async fn a_misbehaving_token_endpoint_gives_gateway_errors() {
    let tenant = tenant().await;
    let api = ApiClient::new(
        base(&tenant, MCP_API)
            .client_id(CLIENT_ID)
            .client_secret(CLIENT_SECRET)
            .token_endpoint_timeout(Duration::from_millis(300))
            .build()
            .unwrap(),
    )
    .unwrap();
    let incoming = incoming_token(&tenant);
    let obo = || api.get_token_on_behalf_of(&incoming, CALENDAR_API, None);

    let body = |status: u16, content_type: &str, body: &[u8]| Fault::Body {
        status,
        content_type: content_type.to_owned(),
        body: body.to_vec(),
    };
    let cases: Vec<(Fault, &str, u16, &str)> = vec![
        (
            body(200, "text/plain", b"not json"),
            "invalid_json",
            502,
            "Token endpoint returned invalid JSON.",
        ),
        (
            body(200, "application/json", b"[1]"),
            "invalid_json",
            502,
            "Token endpoint returned invalid JSON.",
        ),
        (
            body(200, "application/json", br#"{"expires_in":3600}"#),
            "invalid_response",
            502,
            "Missing or invalid access_token in response.",
        ),
        (
            body(
                200,
                "application/json",
                br#"{"access_token":"t","expires_in":-5}"#,
            ),
            "invalid_response",
            502,
            "expires_in cannot be negative.",
        ),
        (
            body(200, "application/json", &vec![b' '; MAX_BODY_BYTES + 1]),
            "invalid_response",
            502,
            "Token endpoint response too large",
        ),
        (
            body(400, "text/plain", b"Bad Request"),
            "token_exchange_error",
            400,
            "Failed to exchange token of type 'urn:ietf:params:oauth:token-type:access_token' for audience 'https://calendar-api.example.com'",
        ),
        (
            Fault::Status(302),
            "token_exchange_error",
            302,
            "Failed to exchange token of type 'urn:ietf:params:oauth:token-type:access_token' for audience 'https://calendar-api.example.com'",
        ),
        (
            Fault::Delay(Duration::from_secs(3)),
            "timeout_error",
            504,
            "Request to token endpoint timed out",
        ),
    ];
    for (fault, code, status, description) in cases {
        tenant.set_fault(Endpoint::Token, Some(fault.clone()));
        let e = obo().await.unwrap_err();
        assert_error(&e, code, status);
        assert_eq!(e.description(), description, "{fault:?}");
    }

    tenant.set_fault(Endpoint::Token, Some(Fault::Close));
    let e = obo().await.unwrap_err();
    assert_error(&e, "network_error", 502);
    assert!(
        e.description().starts_with("Network error occurred: "),
        "{e}"
    );
    assert!(!e.description().contains(&incoming));

    tenant.set_fault(Endpoint::Token, None);
    obo().await.expect("works again");
    tenant.stop().await;
}

#[tokio::test]
async fn discovery_decides_the_token_endpoint() {
    let tenant = tenant().await;
    let incoming = incoming_token(&tenant);

    let overrides = |endpoint: Value| {
        let mut m = Map::new();
        m.insert("token_endpoint".into(), endpoint);
        m
    };

    tenant.set_discovery_overrides(overrides(Value::Null));
    let e = api(&tenant)
        .get_token_on_behalf_of(&incoming, CALENDAR_API, None)
        .await
        .unwrap_err();
    assert_error(&e, "get_token_by_exchange_profile_error", 400);
    assert_eq!(
        e.description(),
        format!(
            "Token endpoint missing in OIDC metadata. Verify your domain configuration and that the OIDC discovery endpoint (https://{}/.well-known/openid-configuration) is accessible",
            tenant.domain()
        )
    );
    let e = api(&tenant)
        .get_access_token_for_connection(ConnectionTokenRequest::new(
            "google-oauth2",
            incoming.as_str(),
        ))
        .await
        .unwrap_err();
    assert_error(&e, "get_access_token_for_connection_error", 400);
    assert!(
        e.description()
            .starts_with("Token endpoint missing in OIDC metadata.")
    );

    let plain = tenant.token_endpoint().replacen("https://", "http://", 1);
    tenant.set_discovery_overrides(overrides(json!(plain)));
    let e = api(&tenant)
        .get_token_on_behalf_of(&incoming, CALENDAR_API, None)
        .await
        .unwrap_err();
    assert_error(&e, "get_token_by_exchange_profile_error", 400);
    assert_eq!(e.description(), "Token endpoint must use https");
    assert_eq!(tenant.stats().token, 0, "no credentials sent in clear");

    tenant.set_discovery_overrides(Map::new());
    tenant.set_fault(Endpoint::Discovery, Some(Fault::Status(500)));
    let e = api(&tenant)
        .get_token_on_behalf_of(&incoming, CALENDAR_API, None)
        .await
        .unwrap_err();
    assert_error(&e, "discovery_error", 502);
    assert!(
        e.description()
            .starts_with("Failed to fetch OIDC discovery metadata: "),
        "{e}"
    );
    tenant.stop().await;
}
