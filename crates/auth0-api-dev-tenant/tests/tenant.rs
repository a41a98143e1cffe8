//! End-to-end tests of the dev tenant over real HTTPS.
#![allow(clippy::unwrap_used, clippy::expect_used, clippy::panic, missing_docs)]

use std::time::{Duration, Instant};

use auth0_api_dev_tenant::dpop::{DpopKey, access_token_hash, ec_thumbprint};
use auth0_api_dev_tenant::{DevTenant, Endpoint, Fault, Stats};
use aws_lc_rs::signature::{
    ECDSA_P256_SHA256_FIXED, RSA_PKCS1_1024_8192_SHA256_FOR_LEGACY_USE_ONLY,
    RSA_PKCS1_2048_8192_SHA256, RsaPublicKeyComponents, UnparsedPublicKey,
};
use base64::Engine as _;
use base64::engine::general_purpose::{STANDARD, URL_SAFE_NO_PAD};
use reqwest::StatusCode;
use serde_json::{Map, Value, json};

const CAL: &str = "https://calendar-api.example.com";
const MCP: &str = "https://mcp.example.com";
const OBO: &str = "urn:ietf:params:oauth:grant-type:token-exchange";
const AT: &str = "urn:ietf:params:oauth:token-type:access_token";
const FED_GRANT: &str =
    "urn:auth0:params:oauth:grant-type:token-exchange:federated-connection-access-token";
const FED_TYPE: &str = "http://auth0.com/oauth/token-type/federated-connection-access-token";

async fn tenant() -> DevTenant {
    DevTenant::builder()
        .client("mcp-server", "mcp-secret", [CAL, MCP])
        .client("odd-client", "s3cr:t+&=é", [CAL])
        .max_age(Some(600))
        .connection("google-oauth2", "upstream-google-token")
        .exchange_profile("urn:acme:legacy-token", |t: &str| {
            t.strip_prefix("legacy:").map(str::to_owned)
        })
        .start()
        .await
        .unwrap()
}

fn http(t: &DevTenant) -> reqwest::Client {
    let ca = reqwest::Certificate::from_pem(t.ca_pem().as_bytes()).unwrap();
    reqwest::Client::builder()
        .tls_certs_only([ca])
        .timeout(Duration::from_secs(5))
        .build()
        .unwrap()
}

fn b64json(part: &str) -> Value {
    serde_json::from_slice(&URL_SAFE_NO_PAD.decode(part).unwrap()).unwrap()
}

/// (header, claims) of a compact JWS, without verification.
fn decode(token: &str) -> (Value, Value) {
    let parts: Vec<&str> = token.split('.').collect();
    assert_eq!(parts.len(), 3, "{token}");
    (b64json(parts[0]), b64json(parts[1]))
}

/// RS256 verification against a JWKS, written against aws-lc-rs only.
fn verifies_with(jwks: &Value, token: &str) -> bool {
    let (header, _) = decode(token);
    let kid = header["kid"].as_str().unwrap();
    let Some(jwk) = jwks["keys"]
        .as_array()
        .unwrap()
        .iter()
        .find(|k| k["kid"] == kid)
    else {
        return false;
    };
    let n = URL_SAFE_NO_PAD.decode(jwk["n"].as_str().unwrap()).unwrap();
    let e = URL_SAFE_NO_PAD.decode(jwk["e"].as_str().unwrap()).unwrap();
    let (input, sig) = token.rsplit_once('.').unwrap();
    let sig = URL_SAFE_NO_PAD.decode(sig).unwrap();
    let alg = if n.len() < 256 {
        &RSA_PKCS1_1024_8192_SHA256_FOR_LEGACY_USE_ONLY
    } else {
        &RSA_PKCS1_2048_8192_SHA256
    };
    RsaPublicKeyComponents { n: &n, e: &e }
        .verify(alg, input.as_bytes(), &sig)
        .is_ok()
}

async fn get_json(
    client: &reqwest::Client,
    url: &str,
) -> (StatusCode, reqwest::header::HeaderMap, Value) {
    let resp = client.get(url).send().await.unwrap();
    let status = resp.status();
    let headers = resp.headers().clone();
    (status, headers, resp.json().await.unwrap())
}

async fn post_token(
    t: &DevTenant,
    basic: Option<(&str, &str)>,
    form: &[(&str, &str)],
    dpop: Option<&str>,
) -> (StatusCode, Value) {
    let mut req = http(t).post(t.token_endpoint()).form(form);
    if let Some((id, secret)) = basic {
        req = req.basic_auth(id, Some(secret));
    }
    if let Some(proof) = dpop {
        req = req.header("DPoP", proof);
    }
    let resp = req.send().await.unwrap();
    let status = resp.status();
    (status, resp.json().await.unwrap())
}

const MCP_AUTH: Option<(&str, &str)> = Some(("mcp-server", "mcp-secret"));

#[tokio::test]
async fn discovery_and_jwks_over_tls() {
    let t = tenant().await;
    assert!(t.issuer().starts_with("https://127.0.0.1:"));
    assert!(t.issuer().ends_with('/'));
    assert_eq!(t.issuer(), format!("https://{}/", t.domain()));
    assert_eq!(std::fs::read_to_string(t.ca_path()).unwrap(), t.ca_pem());

    let c = http(&t);
    let (status, headers, doc) = get_json(&c, &t.discovery_url()).await;
    assert_eq!(status, StatusCode::OK);
    assert_eq!(headers["cache-control"], "public, max-age=600");
    assert_eq!(doc["issuer"], t.issuer());
    assert_eq!(doc["jwks_uri"], t.jwks_uri());
    assert_eq!(doc["token_endpoint"], t.token_endpoint());
    assert_eq!(
        doc["id_token_signing_alg_values_supported"],
        json!(["RS256"])
    );
    assert_eq!(doc["dpop_signing_alg_values_supported"], json!(["ES256"]));
    for member in [
        "authorization_endpoint",
        "response_types_supported",
        "subject_types_supported",
        "grant_types_supported",
        "token_endpoint_auth_methods_supported",
    ] {
        assert!(doc.get(member).is_some(), "{member}");
    }

    let (status, headers, jwks) = get_json(&c, t.jwks_uri()).await;
    assert_eq!(status, StatusCode::OK);
    assert_eq!(headers["cache-control"], "public, max-age=600");
    let keys = jwks["keys"].as_array().unwrap();
    assert_eq!(keys.len(), 1);
    assert_eq!(keys[0]["kid"], t.active_kid());
    assert_eq!(keys[0]["kty"], "RSA");
    assert_eq!(keys[0]["use"], "sig");
    assert_eq!(keys[0]["alg"], "RS256");
    assert_eq!(keys[0]["e"], "AQAB");
    assert_eq!(
        URL_SAFE_NO_PAD
            .decode(keys[0]["n"].as_str().unwrap())
            .unwrap()
            .len(),
        256
    );

    assert_eq!(
        t.stats(),
        Stats {
            discovery: 1,
            jwks: 1,
            token: 0
        }
    );
    t.reset_stats();
    assert_eq!(t.stats(), Stats::default());

    // A client that does not trust the throwaway CA cannot connect.
    let untrusting = reqwest::Client::builder()
        .tls_certs_only([])
        .build()
        .unwrap();
    assert!(untrusting.get(t.jwks_uri()).send().await.is_err());

    // Unknown paths and wrong methods answer JSON errors.
    let resp = c.get(format!("{}nope", t.issuer())).send().await.unwrap();
    assert_eq!(resp.status(), StatusCode::NOT_FOUND);
    assert_eq!(resp.json::<Value>().await.unwrap()["error"], "not_found");
    let resp = c.get(t.token_endpoint()).send().await.unwrap();
    assert_eq!(resp.status(), StatusCode::METHOD_NOT_ALLOWED);
    assert!(resp.json::<Value>().await.unwrap()["error"].is_string());
}

#[tokio::test]
async fn localhost_host_and_no_cache_header() {
    let t = DevTenant::builder()
        .host("localhost")
        .start()
        .await
        .unwrap();
    assert!(t.issuer().starts_with("https://localhost:"));
    let (status, headers, doc) = get_json(&http(&t), &t.discovery_url()).await;
    assert_eq!(status, StatusCode::OK);
    assert!(headers.get("cache-control").is_none());
    assert_eq!(doc["issuer"], t.issuer());
    // Default audience of minted tokens without registered clients.
    let (_, claims) = decode(&t.mint().sign());
    assert_eq!(claims["aud"], "https://api.example.com");
}

#[tokio::test]
async fn client_credentials_basic_and_post() {
    let t = tenant().await;
    let (status, body) = post_token(
        &t,
        MCP_AUTH,
        &[
            ("grant_type", "client_credentials"),
            ("audience", CAL),
            ("scope", "read:events"),
        ],
        None,
    )
    .await;
    assert_eq!(status, StatusCode::OK, "{body}");
    assert_eq!(body["token_type"], "Bearer");
    assert_eq!(body["expires_in"], 3600);
    assert_eq!(body["scope"], "read:events");
    let token = body["access_token"].as_str().unwrap();
    assert!(verifies_with(&t.jwks(), token));
    let (header, claims) = decode(token);
    assert_eq!(header["alg"], "RS256");
    assert_eq!(header["kid"], t.active_kid());
    assert_eq!(claims["iss"], t.issuer());
    assert_eq!(claims["sub"], "mcp-server@clients");
    assert_eq!(claims["aud"], CAL);
    assert_eq!(claims["azp"], "mcp-server");
    assert_eq!(claims["gty"], "client-credentials");
    assert_eq!(claims["scope"], "read:events");
    assert_eq!(
        claims["exp"].as_i64().unwrap() - claims["iat"].as_i64().unwrap(),
        3600
    );
    assert!(claims["jti"].is_string());

    let record = t.last_token_request().unwrap();
    assert_eq!(
        record.form,
        vec![
            ("grant_type".to_owned(), "client_credentials".to_owned()),
            ("audience".to_owned(), CAL.to_owned()),
            ("scope".to_owned(), "read:events".to_owned()),
        ]
    );
    assert_eq!(
        record.authorization.as_deref(),
        Some(format!("Basic {}", STANDARD.encode("mcp-server:mcp-secret")).as_str())
    );
    assert_eq!(record.dpop, None);

    // client_secret_post, with openid scope: aud becomes [aud, userinfo].
    let (status, body) = post_token(
        &t,
        None,
        &[
            ("grant_type", "client_credentials"),
            ("client_id", "mcp-server"),
            ("client_secret", "mcp-secret"),
            ("audience", MCP),
            ("scope", "openid read"),
        ],
        None,
    )
    .await;
    assert_eq!(status, StatusCode::OK, "{body}");
    let (_, claims) = decode(body["access_token"].as_str().unwrap());
    assert_eq!(
        claims["aud"],
        json!([MCP, format!("{}userinfo", t.issuer())])
    );
    assert_eq!(t.stats().token, 2);

    // Basic credentials are form-urlencoded before base64 (RFC 6749 2.3.1).
    let encoded = STANDARD.encode("odd-client:s3cr%3At%2B%26%3D%C3%A9");
    let resp = http(&t)
        .post(t.token_endpoint())
        .header("Authorization", format!("Basic {encoded}"))
        .form(&[("grant_type", "client_credentials"), ("audience", CAL)])
        .send()
        .await
        .unwrap();
    assert_eq!(resp.status(), StatusCode::OK);
}

#[tokio::test]
async fn bad_requests_get_oauth_errors() {
    let t = tenant().await;
    let cc = [("grant_type", "client_credentials"), ("audience", CAL)];

    let (status, body) = post_token(&t, Some(("mcp-server", "wrong")), &cc, None).await;
    assert_eq!(status, StatusCode::UNAUTHORIZED);
    assert_eq!(body["error"], "invalid_client");
    assert!(body["error_description"].is_string());

    let (status, body) = post_token(&t, Some(("nobody", "mcp-secret")), &cc, None).await;
    assert_eq!(
        (status, body["error"].as_str()),
        (StatusCode::UNAUTHORIZED, Some("invalid_client"))
    );

    let (status, body) = post_token(&t, None, &cc, None).await;
    assert_eq!(
        (status, body["error"].as_str()),
        (StatusCode::UNAUTHORIZED, Some("invalid_client"))
    );

    let (status, body) = post_token(&t, MCP_AUTH, &[("grant_type", "password")], None).await;
    assert_eq!(
        (status, body["error"].as_str()),
        (StatusCode::BAD_REQUEST, Some("unsupported_grant_type"))
    );

    let (status, body) = post_token(&t, MCP_AUTH, &[("audience", CAL)], None).await;
    assert_eq!(
        (status, body["error"].as_str()),
        (StatusCode::BAD_REQUEST, Some("invalid_request"))
    );

    let (status, body) = post_token(
        &t,
        MCP_AUTH,
        &[
            ("grant_type", "client_credentials"),
            ("audience", "https://other.example.com"),
        ],
        None,
    )
    .await;
    assert_eq!(
        (status, body["error"].as_str()),
        (StatusCode::FORBIDDEN, Some("access_denied"))
    );

    let (status, body) = post_token(
        &t,
        MCP_AUTH,
        &[
            ("grant_type", "client_credentials"),
            ("grant_type", "client_credentials"),
            ("audience", CAL),
        ],
        None,
    )
    .await;
    assert_eq!(
        (status, body["error"].as_str()),
        (StatusCode::BAD_REQUEST, Some("invalid_request"))
    );

    let c = http(&t);
    // Not a form.
    let resp = c
        .post(t.token_endpoint())
        .basic_auth("mcp-server", Some("mcp-secret"))
        .json(&json!({"grant_type": "client_credentials"}))
        .send()
        .await
        .unwrap();
    assert_eq!(resp.status(), StatusCode::BAD_REQUEST);
    assert_eq!(
        resp.json::<Value>().await.unwrap()["error"],
        "invalid_request"
    );
    // Too large.
    let resp = c
        .post(t.token_endpoint())
        .header("content-type", "application/x-www-form-urlencoded")
        .body(vec![b'a'; 70 * 1024])
        .send()
        .await
        .unwrap();
    assert_eq!(resp.status(), StatusCode::BAD_REQUEST);
    assert_eq!(
        resp.json::<Value>().await.unwrap()["error"],
        "invalid_request"
    );
    // Garbage Authorization and binary body.
    let resp = c
        .post(t.token_endpoint())
        .header("authorization", "Basic !!!")
        .header("content-type", "application/x-www-form-urlencoded")
        .body(vec![0xff, 0x00, b'=', b'&', 0xfe])
        .send()
        .await
        .unwrap();
    assert_eq!(resp.status(), StatusCode::UNAUTHORIZED);
    assert_eq!(
        resp.json::<Value>().await.unwrap()["error"],
        "invalid_client"
    );
}

#[tokio::test]
async fn on_behalf_of_exchange_nests_act() {
    let t = tenant().await;
    let subject = t
        .mint()
        .sub("user_42")
        .aud(json!(MCP))
        .act(json!({"sub": "first-agent"}))
        .sign();
    let (status, body) = post_token(
        &t,
        MCP_AUTH,
        &[
            ("grant_type", OBO),
            ("subject_token", &subject),
            ("subject_token_type", AT),
            ("audience", CAL),
            ("scope", "read:events"),
        ],
        None,
    )
    .await;
    assert_eq!(status, StatusCode::OK, "{body}");
    assert_eq!(body["issued_token_type"], AT);
    assert_eq!(body["token_type"], "Bearer");
    assert_eq!(body["expires_in"], 3600);
    assert_eq!(body["scope"], "read:events");
    let token = body["access_token"].as_str().unwrap();
    assert!(verifies_with(&t.jwks(), token));
    let (_, claims) = decode(token);
    assert_eq!(claims["sub"], "user_42");
    assert_eq!(claims["aud"], CAL);
    assert_eq!(claims["azp"], "mcp-server");
    assert_eq!(claims["scope"], "read:events");
    assert_eq!(
        claims["act"],
        json!({"sub": "mcp-server", "act": {"sub": "first-agent"}})
    );

    // Without a previous actor, act is just the client.
    let plain = t.mint().sub("user_7").sign();
    let (status, body) = post_token(
        &t,
        MCP_AUTH,
        &[
            ("grant_type", OBO),
            ("subject_token", &plain),
            ("subject_token_type", AT),
            ("audience", CAL),
        ],
        None,
    )
    .await;
    assert_eq!(status, StatusCode::OK, "{body}");
    assert!(body.get("scope").is_none());
    let (_, claims) = decode(body["access_token"].as_str().unwrap());
    assert_eq!(claims["act"], json!({"sub": "mcp-server"}));
    assert!(claims.get("scope").is_none());

    // Bad subject tokens are invalid_grant.
    for bad in [
        t.mint().expired().sign(),
        t.mint().issuer("https://evil.example.com/").sign(),
        t.mint().sign_with_hs256(b"secret"),
        t.mint().unsigned_none(),
        "not.a.jwt".to_owned(),
    ] {
        let (status, body) = post_token(
            &t,
            MCP_AUTH,
            &[
                ("grant_type", OBO),
                ("subject_token", &bad),
                ("subject_token_type", AT),
                ("audience", CAL),
            ],
            None,
        )
        .await;
        assert_eq!(
            (status, body["error"].as_str()),
            (StatusCode::BAD_REQUEST, Some("invalid_grant")),
            "{bad}"
        );
    }

    let cases: [(&[(&str, &str)], &str); 4] = [
        (
            &[
                ("grant_type", OBO),
                ("subject_token", &plain),
                ("audience", CAL),
            ],
            "invalid_request",
        ),
        (
            &[
                ("grant_type", OBO),
                ("subject_token", &plain),
                ("subject_token_type", AT),
            ],
            "invalid_request",
        ),
        (
            &[
                ("grant_type", OBO),
                ("subject_token", &plain),
                ("subject_token_type", AT),
                ("audience", "https://x.example.com"),
            ],
            "invalid_target",
        ),
        (
            &[
                ("grant_type", OBO),
                ("subject_token", &plain),
                ("subject_token_type", "urn:unknown"),
                ("audience", CAL),
            ],
            "invalid_request",
        ),
    ];
    for (form, error) in cases {
        let (status, body) = post_token(&t, MCP_AUTH, form, None).await;
        assert_eq!(
            (status, body["error"].as_str()),
            (StatusCode::BAD_REQUEST, Some(error)),
            "{form:?}"
        );
    }
}

#[tokio::test]
async fn custom_exchange_profile_and_federated_connection() {
    let t = tenant().await;
    let legacy = "urn:acme:legacy-token";
    let (status, body) = post_token(
        &t,
        MCP_AUTH,
        &[
            ("grant_type", OBO),
            ("subject_token", "legacy:alice"),
            ("subject_token_type", legacy),
            ("audience", CAL),
            ("scope", "openid offline_access"),
        ],
        None,
    )
    .await;
    assert_eq!(status, StatusCode::OK, "{body}");
    let (_, claims) = decode(body["access_token"].as_str().unwrap());
    assert_eq!(claims["sub"], "alice");
    assert!(claims.get("act").is_none());
    let refresh = body["refresh_token"].as_str().unwrap().to_owned();

    let (status, body) = post_token(
        &t,
        MCP_AUTH,
        &[
            ("grant_type", OBO),
            ("subject_token", "bogus"),
            ("subject_token_type", legacy),
            ("audience", CAL),
        ],
        None,
    )
    .await;
    assert_eq!(
        (status, body["error"].as_str()),
        (StatusCode::BAD_REQUEST, Some("invalid_grant"))
    );

    // Federated connection token from an access token...
    let subject = t.mint().sub("user_42").aud(json!(MCP)).sign();
    let fed = |subject_token: String,
               subject_type: &'static str,
               connection: &'static str,
               requested: &'static str| {
        vec![
            ("grant_type", FED_GRANT.to_owned()),
            ("subject_token", subject_token),
            ("subject_token_type", subject_type.to_owned()),
            ("requested_token_type", requested.to_owned()),
            ("connection", connection.to_owned()),
            ("login_hint", "user@example.com".to_owned()),
        ]
    };
    let send = |form: Vec<(&'static str, String)>| {
        let t = &t;
        async move {
            let form: Vec<(&str, &str)> = form.iter().map(|(k, v)| (*k, v.as_str())).collect();
            post_token(t, MCP_AUTH, &form, None).await
        }
    };
    let (status, body) = send(fed(subject.clone(), AT, "google-oauth2", FED_TYPE)).await;
    assert_eq!(status, StatusCode::OK, "{body}");
    assert_eq!(
        body,
        json!({
            "access_token": "upstream-google-token",
            "expires_in": 3600,
            "scope": "",
            "token_type": "Bearer",
            "issued_token_type": FED_TYPE,
        })
    );
    assert_eq!(
        t.last_token_request().unwrap().field("login_hint"),
        Some("user@example.com")
    );
    // ... and from a refresh token issued by the tenant.
    let form = fed(
        refresh,
        "urn:ietf:params:oauth:token-type:refresh_token",
        "google-oauth2",
        FED_TYPE,
    );
    let (status, body) = send(form).await;
    assert_eq!(status, StatusCode::OK, "{body}");

    let (status, body) = send(fed(subject.clone(), AT, "github", FED_TYPE)).await;
    assert_eq!(
        (status, body["error"].as_str()),
        (StatusCode::BAD_REQUEST, Some("invalid_request"))
    );
    let (status, body) = send(fed(subject.clone(), AT, "google-oauth2", AT)).await;
    assert_eq!(
        (status, body["error"].as_str()),
        (StatusCode::BAD_REQUEST, Some("invalid_request"))
    );
    let (status, body) = send(fed(
        t.mint().expired().sign(),
        AT,
        "google-oauth2",
        FED_TYPE,
    ))
    .await;
    assert_eq!(
        (status, body["error"].as_str()),
        (StatusCode::BAD_REQUEST, Some("invalid_grant"))
    );
}

#[tokio::test]
async fn dpop_bound_token_gets_cnf_jkt() {
    let t = tenant().await;
    let key = DpopKey::generate();
    let proof = key.proof("POST", t.token_endpoint(), None).sign();
    let cc = [("grant_type", "client_credentials"), ("audience", CAL)];
    let (status, body) = post_token(&t, MCP_AUTH, &cc, Some(&proof)).await;
    assert_eq!(status, StatusCode::OK, "{body}");
    assert_eq!(body["token_type"], "DPoP");
    let (_, claims) = decode(body["access_token"].as_str().unwrap());
    assert_eq!(claims["cnf"], json!({"jkt": key.thumbprint()}));
    assert_eq!(
        t.last_token_request().unwrap().dpop.as_deref(),
        Some(proof.as_str())
    );

    // OBO exchange with a proof is bound too.
    let subject = t.mint().sign();
    let proof = key.proof("POST", t.token_endpoint(), None).sign();
    let (status, body) = post_token(
        &t,
        MCP_AUTH,
        &[
            ("grant_type", OBO),
            ("subject_token", &subject),
            ("subject_token_type", AT),
            ("audience", CAL),
        ],
        Some(&proof),
    )
    .await;
    assert_eq!(status, StatusCode::OK, "{body}");
    assert_eq!(body["token_type"], "DPoP");
    assert_eq!(
        decode(body["access_token"].as_str().unwrap()).1["cnf"]["jkt"],
        key.thumbprint()
    );

    for bad in [
        key.proof("POST", "https://127.0.0.1:1/oauth/token", None)
            .sign(),
        key.proof("GET", t.token_endpoint(), None).sign(),
        key.proof("POST", t.token_endpoint(), None).iat(0).sign(),
        key.proof("POST", t.token_endpoint(), None)
            .typ("JWT")
            .sign(),
        "garbage".to_owned(),
    ] {
        let (status, body) = post_token(&t, MCP_AUTH, &cc, Some(&bad)).await;
        assert_eq!(
            (status, body["error"].as_str()),
            (StatusCode::BAD_REQUEST, Some("invalid_dpop_proof")),
            "{bad}"
        );
    }
}

#[tokio::test]
async fn private_key_jwt_client() {
    let client_key = DpopKey::generate();
    let t = DevTenant::builder()
        .client_with_jwk("jwt-client", client_key.public_jwk(), [CAL])
        .start()
        .await
        .unwrap();
    let now = std::time::SystemTime::now()
        .duration_since(std::time::UNIX_EPOCH)
        .unwrap()
        .as_secs() as i64;
    let assertion = |aud: &str, exp: i64| {
        client_key
            .proof("POST", "unused", None)
            .typ("JWT")
            .remove_header("jwk")
            .remove_claim("htm")
            .remove_claim("htu")
            .claim("iss", json!("jwt-client"))
            .claim("sub", json!("jwt-client"))
            .claim("aud", json!(aud))
            .claim("exp", json!(exp))
            .sign()
    };
    let jwt_bearer = "urn:ietf:params:oauth:client-assertion-type:jwt-bearer";
    let good = assertion(t.issuer(), now + 60);
    let (status, body) = post_token(
        &t,
        None,
        &[
            ("grant_type", "client_credentials"),
            ("audience", CAL),
            ("client_assertion_type", jwt_bearer),
            ("client_assertion", &good),
        ],
        None,
    )
    .await;
    assert_eq!(status, StatusCode::OK, "{body}");
    assert_eq!(
        decode(body["access_token"].as_str().unwrap()).1["sub"],
        "jwt-client@clients"
    );

    for bad in [
        assertion("https://elsewhere.example.com/", now + 60),
        assertion(t.token_endpoint(), now - 10),
        DpopKey::generate()
            .proof("POST", "unused", None)
            .claim("iss", json!("jwt-client"))
            .claim("sub", json!("jwt-client"))
            .claim("aud", json!(t.issuer()))
            .claim("exp", json!(now + 60))
            .sign(),
    ] {
        let (status, body) = post_token(
            &t,
            None,
            &[
                ("grant_type", "client_credentials"),
                ("audience", CAL),
                ("client_assertion_type", jwt_bearer),
                ("client_assertion", &bad),
            ],
            None,
        )
        .await;
        assert_eq!(
            (status, body["error"].as_str()),
            (StatusCode::UNAUTHORIZED, Some("invalid_client"))
        );
    }
}

#[tokio::test]
async fn faults_are_injected_and_cleared() {
    let t = tenant().await;
    let c = http(&t);

    t.set_fault(Endpoint::Jwks, Some(Fault::Status(404)));
    let resp = c.get(t.jwks_uri()).send().await.unwrap();
    assert_eq!(resp.status(), StatusCode::NOT_FOUND);
    assert!(resp.bytes().await.unwrap().is_empty());

    t.set_fault(
        Endpoint::Discovery,
        Some(Fault::Body {
            status: 200,
            content_type: "text/plain".into(),
            body: b"not json".to_vec(),
        }),
    );
    let resp = c.get(t.discovery_url()).send().await.unwrap();
    assert_eq!(resp.status(), StatusCode::OK);
    assert_eq!(resp.headers()["content-type"], "text/plain");
    assert_eq!(&resp.bytes().await.unwrap()[..], b"not json");

    t.set_fault(
        Endpoint::Jwks,
        Some(Fault::Delay(Duration::from_millis(300))),
    );
    let start = Instant::now();
    let (status, _, jwks) = get_json(&c, t.jwks_uri()).await;
    assert!(start.elapsed() >= Duration::from_millis(300));
    assert_eq!(status, StatusCode::OK);
    assert_eq!(jwks["keys"].as_array().unwrap().len(), 1);

    t.set_fault(Endpoint::Token, Some(Fault::Close));
    let result = c
        .post(t.token_endpoint())
        .form(&[("grant_type", "client_credentials")])
        .send()
        .await;
    assert!(result.is_err(), "{result:?}");
    // The request was still counted and recorded.
    assert_eq!(
        t.last_token_request().unwrap().field("grant_type"),
        Some("client_credentials")
    );

    t.set_fault(Endpoint::Jwks, None);
    t.set_fault(Endpoint::Discovery, None);
    t.set_fault(Endpoint::Token, None);
    let (status, _, doc) = get_json(&c, &t.discovery_url()).await;
    assert_eq!(status, StatusCode::OK);
    assert_eq!(doc["issuer"], t.issuer());
    let (status, _) = post_token(
        &t,
        MCP_AUTH,
        &[("grant_type", "client_credentials"), ("audience", CAL)],
        None,
    )
    .await;
    assert_eq!(status, StatusCode::OK);
    assert_eq!(
        t.stats(),
        Stats {
            discovery: 2,
            jwks: 2,
            token: 2
        }
    );
}

#[tokio::test]
async fn discovery_overrides() {
    let t = tenant().await;
    let mut overrides = Map::new();
    overrides.insert("jwks_uri".into(), Value::Null);
    overrides.insert("issuer".into(), json!("https://evil.example.com/"));
    t.set_discovery_overrides(overrides);
    let (_, _, doc) = get_json(&http(&t), &t.discovery_url()).await;
    assert!(doc.get("jwks_uri").is_none());
    assert_eq!(doc["issuer"], "https://evil.example.com/");
    assert_eq!(doc["token_endpoint"], t.token_endpoint());
    t.set_discovery_overrides(Map::new());
    assert_eq!(t.discovery_document()["jwks_uri"], t.jwks_uri());
}

#[tokio::test]
async fn key_rotation_is_visible_in_jwks() {
    let t = tenant().await;
    let c = http(&t);
    let first = t.active_kid();
    let second = t.add_key();
    assert_ne!(first, second);
    assert_eq!(t.active_kid(), first);
    let kids = |jwks: &Value| -> Vec<String> {
        jwks["keys"]
            .as_array()
            .unwrap()
            .iter()
            .map(|k| k["kid"].as_str().unwrap().to_owned())
            .collect()
    };
    let (_, _, jwks) = get_json(&c, t.jwks_uri()).await;
    assert_eq!(kids(&jwks), vec![first.clone(), second.clone()]);

    let pending = t.mint();
    assert!(t.activate_key(&second));
    assert!(!t.activate_key("no-such-kid"));
    // A builder made before the rotation keeps its key and header kid.
    let earlier = pending.sign();
    assert_eq!(decode(&earlier).0["kid"], first);
    assert!(verifies_with(&jwks, &earlier));
    let token = t.mint().sign();
    assert_eq!(decode(&token).0["kid"], second);
    assert!(verifies_with(&jwks, &token));
    let old = t.mint().signing_kid(&first).sign();
    assert_eq!(decode(&old).0["kid"], first);
    assert!(verifies_with(&jwks, &old));

    assert!(t.retire_key(&first));
    let (_, _, jwks) = get_json(&c, t.jwks_uri()).await;
    assert_eq!(kids(&jwks), vec![second.clone()]);
    assert!(!verifies_with(&jwks, &old));
    // A token signed by a retired key is no longer accepted as a subject token.
    let (status, body) = post_token(
        &t,
        MCP_AUTH,
        &[
            ("grant_type", OBO),
            ("subject_token", &old),
            ("subject_token_type", AT),
            ("audience", CAL),
        ],
        None,
    )
    .await;
    assert_eq!(
        (status, body["error"].as_str()),
        (StatusCode::BAD_REQUEST, Some("invalid_grant"))
    );

    t.publish_raw_jwk(json!({"kty": "oct", "kid": "attack", "k": "c2VjcmV0"}));
    let (_, _, jwks) = get_json(&c, t.jwks_uri()).await;
    assert_eq!(kids(&jwks), vec![second.clone(), "attack".to_owned()]);

    // An undersized (1024-bit) key that still signs correctly.
    let small = t.add_key_with_bits(1024).unwrap();
    let token = t.mint().signing_kid(&small).sign();
    let jwks = t.jwks();
    let jwk = jwks["keys"]
        .as_array()
        .unwrap()
        .iter()
        .find(|k| k["kid"] == small)
        .unwrap();
    assert_eq!(
        URL_SAFE_NO_PAD
            .decode(jwk["n"].as_str().unwrap())
            .unwrap()
            .len(),
        128
    );
    assert!(verifies_with(&jwks, &token));
    assert!(t.add_key_with_bits(1000).is_err());
}

#[tokio::test]
async fn minting_variants() {
    let t = tenant().await;
    let jwks = t.jwks();
    let token = t
        .mint()
        .sub("u")
        .aud(json!([CAL, MCP]))
        .claim("scope", json!("a b"))
        .remove_claim("exp")
        .header("typ", json!("at+jwt"))
        .cnf_jkt("thumb")
        .sign();
    let (header, claims) = decode(&token);
    assert_eq!(header["typ"], "at+jwt");
    assert_eq!(claims["aud"], json!([CAL, MCP]));
    assert_eq!(claims["cnf"], json!({"jkt": "thumb"}));
    assert!(claims.get("exp").is_none());
    assert_eq!(claims["iss"], t.issuer());
    assert!(verifies_with(&jwks, &token));

    let (header, _) = decode(&t.mint().remove_header("kid").kid("other").sign());
    assert_eq!(header["kid"], "other");
    let (header, _) = decode(&t.mint().remove_header("kid").sign());
    assert!(header.get("kid").is_none());

    let none = t.mint().unsigned_none();
    assert!(none.ends_with('.'));
    assert_eq!(decode(&none).0["alg"], "none");

    let hs = t.mint().sign_with_hs256(b"k");
    assert_eq!(decode(&hs).0["alg"], "HS256");
    let (input, sig) = hs.rsplit_once('.').unwrap();
    let key = aws_lc_rs::hmac::Key::new(aws_lc_rs::hmac::HMAC_SHA256, b"k");
    aws_lc_rs::hmac::verify(
        &key,
        input.as_bytes(),
        &URL_SAFE_NO_PAD.decode(sig).unwrap(),
    )
    .unwrap();

    let raw = t
        .mint()
        .raw(br#"{"alg":"RS256","kid":"x","alg":"none"}"#, b"[1,2]");
    let parts: Vec<&str> = raw.split('.').collect();
    assert_eq!(URL_SAFE_NO_PAD.decode(parts[1]).unwrap(), b"[1,2]");
    let header_text = String::from_utf8(URL_SAFE_NO_PAD.decode(parts[0]).unwrap()).unwrap();
    assert_eq!(header_text, r#"{"alg":"RS256","kid":"x","alg":"none"}"#);

    let (_, claims) = decode(&t.mint().expired().sign());
    assert_eq!(
        claims["exp"].as_i64().unwrap() - claims["iat"].as_i64().unwrap(),
        3600
    );
    let now = std::time::SystemTime::now()
        .duration_since(std::time::UNIX_EPOCH)
        .unwrap()
        .as_secs() as i64;
    assert!(claims["exp"].as_i64().unwrap() < now);
}

#[test]
fn thumbprint_and_ath_match_independent_vectors() {
    // Computed with Python's hashlib/json from the RFC 7517 A.1 EC key.
    assert_eq!(
        ec_thumbprint(
            "P-256",
            "f83OJ3D2xF1Bg8vub9tLe1gHMzV76e8Tus9uPHvRVEU",
            "x_FEzRu9m36HLN_tue659LNpXW6pCyStikYjKIWI5a0"
        ),
        "oKIywvGUpTVTyxMQ3bwIIeQUudfr_CkLMjCE19ECD-U"
    );
    assert_eq!(
        access_token_hash("access-token-123"),
        "mM63-bjbemsf_U6XcvDT45REiKNDxFWiyIm1HBIU6Zc"
    );
}

#[test]
fn dpop_proof_shape_and_signature() {
    let key = DpopKey::generate();
    let jwk = key.public_jwk();
    assert_eq!(jwk["kty"], "EC");
    assert_eq!(jwk["crv"], "P-256");
    assert_eq!(
        key.thumbprint(),
        ec_thumbprint(
            "P-256",
            jwk["x"].as_str().unwrap(),
            jwk["y"].as_str().unwrap()
        )
    );
    let proof = key
        .proof("GET", "https://api.example.com/x", Some("access-token-123"))
        .nonce("n-1")
        .sign();
    let (header, claims) = decode(&proof);
    assert_eq!(
        header,
        json!({"typ": "dpop+jwt", "alg": "ES256", "jwk": jwk})
    );
    assert_eq!(claims["htm"], "GET");
    assert_eq!(claims["htu"], "https://api.example.com/x");
    assert_eq!(claims["ath"], "mM63-bjbemsf_U6XcvDT45REiKNDxFWiyIm1HBIU6Zc");
    assert_eq!(claims["nonce"], "n-1");
    assert_eq!(claims["jti"].as_str().unwrap().len(), 36);
    assert!(claims["iat"].is_i64());

    let mut point = vec![0x04];
    point.extend(URL_SAFE_NO_PAD.decode(jwk["x"].as_str().unwrap()).unwrap());
    point.extend(URL_SAFE_NO_PAD.decode(jwk["y"].as_str().unwrap()).unwrap());
    let (input, sig) = proof.rsplit_once('.').unwrap();
    UnparsedPublicKey::new(&ECDSA_P256_SHA256_FIXED, point)
        .verify(input.as_bytes(), &URL_SAFE_NO_PAD.decode(sig).unwrap())
        .unwrap();

    // Two proofs differ in jti.
    let other = decode(&key.proof("GET", "https://api.example.com/x", None).sign()).1;
    assert_ne!(other["jti"], claims["jti"]);
    assert!(other.get("ath").is_none());

    // PKCS#8 round trip keeps the key.
    let back = DpopKey::from_pkcs8_pem(&key.to_pkcs8_pem().unwrap()).unwrap();
    assert_eq!(back.thumbprint(), key.thumbprint());
    let back = DpopKey::from_pkcs8_der(&key.to_pkcs8_der().unwrap()).unwrap();
    assert_eq!(back.public_jwk(), jwk);
}

#[tokio::test]
async fn stop_closes_the_listener() {
    let t = tenant().await;
    let c = http(&t);
    assert!(
        c.get(t.jwks_uri())
            .send()
            .await
            .unwrap()
            .status()
            .is_success()
    );
    let ca_path = t.ca_path().to_owned();
    t.stop().await;
    t.stop().await; // idempotent
    let fresh = http(&t);
    assert!(fresh.get(t.jwks_uri()).send().await.is_err());
    drop(t);
    assert!(!ca_path.exists());
}

#[tokio::test]
async fn resource_parameter_and_user_authentication_claims() {
    let t = tenant().await;
    // RFC 8707: `resource` names the API as `audience` does.
    let (status, body) = post_token(
        &t,
        MCP_AUTH,
        &[("grant_type", "client_credentials"), ("resource", CAL)],
        None,
    )
    .await;
    assert_eq!(status, StatusCode::OK, "{body}");
    let (_, claims) = decode(body["access_token"].as_str().unwrap());
    assert_eq!(claims["aud"], CAL);
    assert!(claims.get("acr").is_none() && claims.get("auth_time").is_none());
    // Both, naming the same API: fine; naming two: invalid_target.
    let (status, _) = post_token(
        &t,
        MCP_AUTH,
        &[
            ("grant_type", "client_credentials"),
            ("resource", CAL),
            ("audience", CAL),
        ],
        None,
    )
    .await;
    assert_eq!(status, StatusCode::OK);
    let (status, body) = post_token(
        &t,
        MCP_AUTH,
        &[
            ("grant_type", "client_credentials"),
            ("resource", CAL),
            ("audience", MCP),
        ],
        None,
    )
    .await;
    assert_eq!(status, StatusCode::BAD_REQUEST);
    assert_eq!(body["error"], "invalid_target");
    // A resource the client may not use is refused like an audience.
    let (status, body) = post_token(
        &t,
        MCP_AUTH,
        &[
            ("grant_type", "client_credentials"),
            ("resource", "https://other.example.com"),
        ],
        None,
    )
    .await;
    assert_eq!(status, StatusCode::FORBIDDEN, "{body}");

    // acr / auth_time per token request.
    let (status, body) = post_token(
        &t,
        MCP_AUTH,
        &[
            ("grant_type", "client_credentials"),
            ("audience", MCP),
            (
                "acr",
                "http://schemas.openid.net/pape/policies/2007/06/multi-factor",
            ),
            ("auth_time", "1700000000"),
        ],
        None,
    )
    .await;
    assert_eq!(status, StatusCode::OK, "{body}");
    let (_, claims) = decode(body["access_token"].as_str().unwrap());
    assert_eq!(
        claims["acr"],
        "http://schemas.openid.net/pape/policies/2007/06/multi-factor"
    );
    assert_eq!(claims["auth_time"], 1_700_000_000);
    let (status, body) = post_token(
        &t,
        MCP_AUTH,
        &[
            ("grant_type", "client_credentials"),
            ("audience", MCP),
            ("auth_time", "yesterday"),
        ],
        None,
    )
    .await;
    assert_eq!(status, StatusCode::BAD_REQUEST);
    assert_eq!(body["error"], "invalid_request");

    // On-behalf-of keeps the user's authentication claims, with `resource` as the target.
    let subject = t
        .mint()
        .sub("user_42")
        .aud(json!(MCP))
        .acr("mfa")
        .authenticated_secs_ago(30)
        .sign();
    let (_, subject_claims) = decode(&subject);
    let (status, body) = post_token(
        &t,
        MCP_AUTH,
        &[
            ("grant_type", OBO),
            ("subject_token", &subject),
            ("subject_token_type", AT),
            ("resource", CAL),
        ],
        None,
    )
    .await;
    assert_eq!(status, StatusCode::OK, "{body}");
    let (_, claims) = decode(body["access_token"].as_str().unwrap());
    assert_eq!(claims["aud"], CAL);
    assert_eq!(claims["acr"], "mfa");
    assert_eq!(claims["auth_time"], subject_claims["auth_time"]);
    assert_eq!(claims["act"], json!({"sub": "mcp-server"}));
    t.stop().await;
}
