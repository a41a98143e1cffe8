//! Encrypted access tokens (JWE, Auth0's access token encryption): the dev tenant encrypts
//! the tokens it issues for an API to the API's public key; the library decrypts them with the
//! private key and verifies the inner token over HTTPS. `cargo test jwe`.

use std::sync::atomic::{AtomicUsize, Ordering};
use std::sync::{Arc, OnceLock};

use auth0_api::error::TokenError;
use auth0_api::observe::{Cache, CacheLookup, Observer};
use auth0_api::{ApiClient, DpopMode, VerifyRequest};
use auth0_api_dev_tenant::DevTenant;
use auth0_api_dev_tenant::dpop::DpopKey;
use auth0_api_dev_tenant::jwe::{EncryptionKeyPair, JweEncrypter};
use serde_json::{Value, json};

use crate::{AUD, client, options};

const GENERIC: &str = "Access token could not be decrypted";

/// One key pair for the API, one for a stranger (RSA generation is slow in debug builds).
fn pairs() -> &'static (EncryptionKeyPair, EncryptionKeyPair) {
    static PAIRS: OnceLock<(EncryptionKeyPair, EncryptionKeyPair)> = OnceLock::new();
    PAIRS.get_or_init(|| {
        (
            EncryptionKeyPair::generate().unwrap(),
            EncryptionKeyPair::generate().unwrap(),
        )
    })
}

fn encrypter() -> JweEncrypter {
    JweEncrypter::from_public_key_pem(pairs().0.public_pem()).unwrap()
}

async fn encrypting_tenant() -> DevTenant {
    DevTenant::builder()
        .client("cid", "csecret", [AUD])
        .encrypt_access_tokens(AUD, pairs().0.public_pem())
        .start()
        .await
        .unwrap()
}

fn decrypting(t: &DevTenant) -> ApiClient {
    client(options(t).access_token_decryption_key_pem(pairs().0.private_pem()))
}

async fn client_credentials(t: &DevTenant) -> String {
    let http = reqwest::Client::builder()
        .tls_certs_merge([reqwest::Certificate::from_pem(t.ca_pem().as_bytes()).unwrap()])
        .build()
        .unwrap();
    let body: Value = http
        .post(t.token_endpoint())
        .basic_auth("cid", Some("csecret"))
        .form(&[("grant_type", "client_credentials"), ("audience", AUD)])
        .send()
        .await
        .unwrap()
        .json()
        .await
        .unwrap();
    body["access_token"].as_str().unwrap().to_owned()
}

fn generic(e: &auth0_api::Error) {
    assert_eq!((e.status_code(), e.error_code()), (401, "invalid_token"));
    assert_eq!(e.token_error(), Some(&TokenError::Undecryptable));
    assert_eq!(e.description(), GENERIC);
}

#[derive(Default)]
struct Lookups(AtomicUsize, AtomicUsize);

impl Observer for Lookups {
    fn cache(&self, event: &CacheLookup) {
        if event.cache == Cache::VerifiedToken {
            let counter = if event.hit { &self.0 } else { &self.1 };
            counter.fetch_add(1, Ordering::Relaxed);
        }
    }
}

#[tokio::test]
async fn jwe_round_trip_through_the_token_endpoint() {
    let t = encrypting_tenant().await;
    let token = client_credentials(&t).await;
    assert_eq!(token.split('.').count(), 5, "the tenant encrypts");
    let lookups = Arc::new(Lookups::default());
    let c = client(
        options(&t)
            .access_token_decryption_key_pem(pairs().0.private_pem())
            .observer(lookups.clone()),
    );
    for _ in 0..3 {
        let claims = c.verify_access_token(&token).await.unwrap();
        assert_eq!(claims.sub(), Some("cid@clients"));
        assert_eq!(claims.get("gty"), Some(&json!("client-credentials")));
    }
    // Cached by the token as presented (stored on its second sighting, hit on the third).
    assert_eq!(lookups.0.load(Ordering::Relaxed), 1);
    // A tampered copy of the cached token is not a hit: it is decrypted, and fails.
    let mut tampered: Vec<&str> = token.split('.').collect();
    let tag = format!("{}A", &tampered[4][..tampered[4].len() - 1]);
    let tag = if tag == tampered[4] {
        format!("{}B", &tampered[4][..tampered[4].len() - 1])
    } else {
        tag
    };
    tampered[4] = &tag;
    generic(
        &c.verify_access_token(&tampered.join("."))
            .await
            .unwrap_err(),
    );
    // verify_request, Bearer.
    let req = VerifyRequest::from_pairs([("authorization", format!("Bearer {token}"))]);
    assert!(c.verify_request(req).await.is_ok());

    // Without the key: the reference's answer for a token that is not three segments.
    let plain_client = client(options(&t));
    let e = plain_client.verify_access_token(&token).await.unwrap_err();
    assert_eq!((e.status_code(), e.error_code()), (401, "invalid_token"));
    assert_eq!(
        e.description(),
        "Failed to parse token header: Invalid token format: expected 3 segments, got 5"
    );
    // With another API's key: the one generic answer.
    let stranger = client(options(&t).access_token_decryption_key_pem(pairs().1.private_pem()));
    generic(&stranger.verify_access_token(&token).await.unwrap_err());
}

#[tokio::test]
async fn jwe_inner_token_is_verified_as_usual() {
    let t = encrypting_tenant().await;
    let c = decrypting(&t);
    let e = encrypter();
    // The inner token's own failures keep their usual answers.
    let expired = t.mint().aud(json!(AUD)).expired().sign_encrypted(&e);
    let err = c.verify_access_token(&expired).await.unwrap_err();
    assert_eq!(err.token_error(), Some(&TokenError::Expired));
    let other_aud = t
        .mint()
        .aud(json!("https://other.example.com"))
        .sign_encrypted(&e);
    let err = c.verify_access_token(&other_aud).await.unwrap_err();
    assert!(matches!(
        err.token_error(),
        Some(TokenError::AudienceMismatch { .. })
    ));
    let forged = t.mint().aud(json!(AUD)).sign_with_hs256(b"secret");
    let err = c
        .verify_access_token(&e.encrypt(forged.as_bytes()).unwrap())
        .await
        .unwrap_err();
    assert!(matches!(
        err.token_error(),
        Some(TokenError::SymmetricAlgorithm(_))
    ));
    let unsigned = t.mint().aud(json!(AUD)).unsigned_none();
    let err = c
        .verify_access_token(&e.encrypt(unsigned.as_bytes()).unwrap())
        .await
        .unwrap_err();
    assert_eq!(err.error_code(), "invalid_token");
    // A JWE inside a JWE is not a JWS.
    let inner = t.mint().aud(json!(AUD)).sign_encrypted(&e);
    let err = c
        .verify_access_token(&e.encrypt(inner.as_bytes()).unwrap())
        .await
        .unwrap_err();
    assert!(matches!(
        err.token_error(),
        Some(TokenError::Malformed { .. })
    ));

    // A plain JWS while a key is set: refused, unless accepted on purpose.
    let plain = t.mint().aud(json!(AUD)).sign();
    let err = c.verify_access_token(&plain).await.unwrap_err();
    assert_eq!(err.token_error(), Some(&TokenError::NotEncrypted));
    assert_eq!(err.description(), "Access token must be encrypted (JWE)");
    assert_eq!(err.status_code(), 401);
    let migrating = client(
        options(&t)
            .access_token_decryption_key_pem(pairs().0.private_pem())
            .accept_unencrypted_access_tokens(true),
    );
    migrating.verify_access_token(&plain).await.unwrap();
    migrating
        .verify_access_token(&t.mint().aud(json!(AUD)).sign_encrypted(&e))
        .await
        .unwrap();
}

#[tokio::test]
async fn jwe_attacks_get_one_generic_answer() {
    let t = encrypting_tenant().await;
    let c = decrypting(&t);
    let e = encrypter();
    let inner = t.mint().aud(json!(AUD)).sign();
    let with_header = |header: Value| {
        let Value::Object(map) = header else {
            unreachable!()
        };
        e.encrypt_with_header(&map, inner.as_bytes()).unwrap()
    };
    let good = e.encrypt(inner.as_bytes()).unwrap();
    let segments: Vec<&str> = good.split('.').collect();
    let replace = |i: usize, value: &str| {
        let mut s = segments.clone();
        s[i] = value;
        s.join(".")
    };
    let short_tag = &segments[4][..segments[4].len() - 2];
    let short_iv = &segments[2][..segments[2].len() - 2];
    let mut ciphertext = segments[3].to_owned().into_bytes();
    ciphertext[0] = if ciphertext[0] == b'A' { b'B' } else { b'A' };
    let ciphertext = String::from_utf8(ciphertext).unwrap();
    let other_key = JweEncrypter::from_public_key_pem(pairs().1.public_pem()).unwrap();
    let attacks: Vec<(&str, String)> = vec![
        (
            "alg RSA1_5",
            with_header(json!({"alg": "RSA1_5", "enc": "A256GCM"})),
        ),
        (
            "alg dir",
            with_header(json!({"alg": "dir", "enc": "A256GCM"})),
        ),
        (
            "alg none",
            with_header(json!({"alg": "none", "enc": "A256GCM"})),
        ),
        (
            "enc A128GCM",
            with_header(json!({"alg": "RSA-OAEP-256", "enc": "A128GCM"})),
        ),
        (
            "zip",
            with_header(json!({"alg": "RSA-OAEP-256", "enc": "A256GCM", "zip": "DEF"})),
        ),
        (
            "crit",
            with_header(json!({"alg": "RSA-OAEP-256", "enc": "A256GCM", "crit": ["x"], "x": 1})),
        ),
        (
            "jku in the header is never fetched",
            with_header(json!({"alg": "RSA1_5", "enc": "A256GCM", "jku": "https://127.0.0.1:9/k"})),
        ),
        ("four parts", segments[..4].join(".")),
        ("six parts", format!("{good}.AAAA")),
        ("bad base64", replace(1, "*")),
        ("truncated tag", replace(4, short_tag)),
        ("short IV", replace(2, short_iv)),
        ("tampered ciphertext", replace(3, &ciphertext)),
        ("tampered AAD", replace(0, &good_header_reencoded())),
        ("wrong key", other_key.encrypt(inner.as_bytes()).unwrap()),
    ];
    for (what, token) in &attacks {
        let err = c.verify_access_token(token).await.unwrap_err();
        generic(&err);
        // The same answer through verify_request, with the challenge naming nothing more.
        let req = VerifyRequest::from_pairs([("authorization", format!("Bearer {token}"))]);
        let err = c.verify_request(req).await.unwrap_err();
        generic(&err);
        assert_eq!(
            err.www_authenticate(),
            Some(
                r#"Bearer error="invalid_token", error_description="Access token could not be decrypted", DPoP algs="ES256""#
            ),
            "{what}"
        );
    }
    // Nothing was fetched for any of them: refused before discovery.
    assert_eq!((t.stats().discovery, t.stats().jwks), (0, 0));
    c.verify_access_token(&good).await.unwrap();
}

/// Auth0's header written with a space: the same JSON, another AAD.
fn good_header_reencoded() -> String {
    use base64::Engine as _;
    base64::engine::general_purpose::URL_SAFE_NO_PAD
        .encode(br#"{"alg":"RSA-OAEP-256", "enc":"A256GCM","cty":"JWT"}"#)
}

#[tokio::test]
async fn jwe_with_dpop_binds_the_encrypted_token() {
    let t = encrypting_tenant().await;
    let c = client(
        options(&t)
            .dpop_mode(DpopMode::Required)
            .access_token_decryption_key_pem(pairs().0.private_pem()),
    );
    let key = DpopKey::generate();
    let token = t
        .mint()
        .aud(json!(AUD))
        .cnf_jkt(key.thumbprint())
        .sign_encrypted(&encrypter());
    let url = "https://api.example.com/r";
    // `ath` is the hash of the token as presented: the JWE.
    let proof = key.proof("GET", url, Some(&token)).sign();
    let req =
        VerifyRequest::from_pairs([("authorization", format!("DPoP {token}")), ("dpop", proof)])
            .method("GET")
            .url(url);
    let verified = c.verify_request(req).await.unwrap();
    assert!(verified.proof.is_some());
}

#[test]
fn jwe_decryption_key_is_checked_at_build() {
    for bad in [
        "",
        "garbage",
        "-----BEGIN PRIVATE KEY-----\nAAAA\n-----END PRIVATE KEY-----\n",
    ] {
        let e = auth0_api::ApiClientOptions::builder()
            .domain("tenant.example.com")
            .audience(AUD)
            .access_token_decryption_key_pem(bad)
            .build()
            .unwrap_err();
        assert_eq!(e.error_code(), "invalid_configuration");
        assert!(
            e.description()
                .starts_with("Invalid access token decryption key")
        );
    }
    // A public key is not a private key.
    let e = auth0_api::ApiClientOptions::builder()
        .domain("tenant.example.com")
        .audience(AUD)
        .access_token_decryption_key_pem(pairs().0.public_pem())
        .build()
        .unwrap_err();
    assert_eq!(e.error_code(), "invalid_configuration");
}
