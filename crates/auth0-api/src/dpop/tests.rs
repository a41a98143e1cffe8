//! End-to-end checks of [`DpopVerifier::verify`] with proofs signed here by aws-lc-rs. The
//! expected values (`ath`, thumbprints, replay keys) are computed in the tests, independently of
//! the code under test.

#![allow(clippy::unwrap_used, clippy::expect_used, clippy::panic)]

use std::sync::atomic::{AtomicU64, Ordering};
use std::sync::{Arc, Mutex};
use std::time::{Duration, SystemTime, UNIX_EPOCH};

use aws_lc_rs::digest;
use aws_lc_rs::rand::SystemRandom;
use aws_lc_rs::signature::{
    ECDSA_P256_SHA256_FIXED_SIGNING, EcdsaKeyPair, Ed25519KeyPair, KeyPair as _,
};
use base64::Engine as _;
use base64::engine::general_purpose::URL_SAFE_NO_PAD;
use serde_json::{Value, json};

use super::payload::{SEGMENT_B64, decode_segment};
use super::proof_header::{MAX_CACHED_HEADER_BYTES, ProofHeader};
use super::replay::replay_key;
use super::*;
use crate::error::{ErrorKind, Result};
use crate::jose::jws::{JsonObject, MAX_PROOF_BYTES};
use crate::options::{ApiClientOptions, ApiClientOptionsBuilder};
use crate::settings::Algorithm;

const TOKEN: &str = "test_token";
const URL: &str = "https://api.example.com/resource";
const NOW: u64 = 1_700_000_000;

fn b64(bytes: &[u8]) -> String {
    URL_SAFE_NO_PAD.encode(bytes)
}

fn sha256(data: &[u8]) -> Vec<u8> {
    digest::digest(&digest::SHA256, data).as_ref().to_vec()
}

fn at(secs: u64) -> SystemTime {
    UNIX_EPOCH + Duration::from_secs(secs)
}

fn unique_jti() -> String {
    static NEXT: AtomicU64 = AtomicU64::new(0);
    format!("jti-{}", NEXT.fetch_add(1, Ordering::Relaxed))
}

enum Signer {
    Ec(EcdsaKeyPair),
    Ed(Ed25519KeyPair),
}

/// A client key that signs proofs.
struct TestKey {
    signer: Signer,
    alg: &'static str,
    jwk: Value,
}

impl TestKey {
    fn es256() -> Self {
        let rng = SystemRandom::new();
        let pkcs8 = EcdsaKeyPair::generate_pkcs8(&ECDSA_P256_SHA256_FIXED_SIGNING, &rng).unwrap();
        let pair =
            EcdsaKeyPair::from_pkcs8(&ECDSA_P256_SHA256_FIXED_SIGNING, pkcs8.as_ref()).unwrap();
        let point = pair.public_key().as_ref().to_vec();
        assert_eq!((point.len(), point[0]), (65, 4));
        let jwk =
            json!({"kty": "EC", "crv": "P-256", "x": b64(&point[1..33]), "y": b64(&point[33..])});
        Self {
            signer: Signer::Ec(pair),
            alg: "ES256",
            jwk,
        }
    }

    fn ed25519() -> Self {
        let pair = Ed25519KeyPair::generate().unwrap();
        let jwk = json!({"kty": "OKP", "crv": "Ed25519", "x": b64(pair.public_key().as_ref())});
        Self {
            signer: Signer::Ed(pair),
            alg: "EdDSA",
            jwk,
        }
    }

    fn header(&self) -> Value {
        json!({"typ": "dpop+jwt", "alg": self.alg, "jwk": self.jwk})
    }

    /// Signs `header` and an already-encoded payload segment.
    fn sign_segments(&self, header: &Value, payload_b64: &str) -> String {
        let input = format!("{}.{payload_b64}", b64(header.to_string().as_bytes()));
        let sig = match &self.signer {
            Signer::Ec(pair) => pair
                .sign(&SystemRandom::new(), input.as_bytes())
                .unwrap()
                .as_ref()
                .to_vec(),
            Signer::Ed(pair) => pair.sign(input.as_bytes()).as_ref().to_vec(),
        };
        format!("{input}.{}", b64(&sig))
    }

    fn sign(&self, header: &Value, claims: &Value) -> String {
        self.sign_segments(header, &b64(claims.to_string().as_bytes()))
    }

    fn proof(&self, claims: &Value) -> String {
        self.sign(&self.header(), claims)
    }

    /// RFC 7638 thumbprint, computed here by hand.
    fn thumbprint(&self) -> String {
        let j = &self.jwk;
        let canonical = match self.alg {
            "ES256" => format!(
                r#"{{"crv":"P-256","kty":"EC","x":{},"y":{}}}"#,
                j["x"], j["y"]
            ),
            _ => format!(r#"{{"crv":"Ed25519","kty":"OKP","x":{}}}"#, j["x"]),
        };
        b64(&sha256(canonical.as_bytes()))
    }
}

fn ath(token: &str) -> String {
    b64(&sha256(token.as_bytes()))
}

/// Valid claims for `GET URL` with `TOKEN` at `NOW`.
fn claims() -> Value {
    json!({"jti": unique_jti(), "htm": "GET", "htu": URL, "iat": NOW, "ath": ath(TOKEN)})
}

fn set(mut v: Value, name: &str, value: Value) -> Value {
    v.as_object_mut().unwrap().insert(name.to_owned(), value);
    v
}

fn without(mut v: Value, names: &[&str]) -> Value {
    for name in names {
        v.as_object_mut().unwrap().remove(*name);
    }
    v
}

fn verifier_with(
    configure: impl FnOnce(ApiClientOptionsBuilder) -> ApiClientOptionsBuilder,
) -> DpopVerifier {
    let builder = ApiClientOptions::builder()
        .domain("auth0.local")
        .audience("my-audience");
    DpopVerifier::new(configure(builder).build().unwrap().dpop_settings())
}

fn verifier() -> DpopVerifier {
    verifier_with(|b| b)
}

async fn check(v: &DpopVerifier, proof: &str) -> Result<VerifiedProof> {
    v.verify_at(TOKEN, proof, "GET", URL, at(NOW)).await
}

/// The description of an `invalid_dpop_proof` error.
async fn refused(v: &DpopVerifier, proof: &str) -> String {
    let err = check(v, proof).await.expect_err("proof accepted");
    assert_eq!(err.error_code(), "invalid_dpop_proof", "{err:?}");
    assert_eq!(err.status_code(), 400);
    err.description().to_owned()
}

// --- success -------------------------------------------------------------------------------

#[tokio::test]
async fn valid_proof_is_accepted() {
    let key = TestKey::es256();
    let claims = claims();
    let verified = check(&verifier(), &key.proof(&claims)).await.unwrap();
    assert_eq!(verified.claims.as_object(), claims.as_object().unwrap());
    assert_eq!(verified.jkt, key.thumbprint());
    assert_eq!(verified.next_nonce, None);
}

#[tokio::test]
async fn verify_uses_the_system_clock() {
    let key = TestKey::es256();
    let now = nonce::unix_secs(SystemTime::now());
    let proof = key.proof(&set(claims(), "iat", json!(now)));
    assert!(verifier().verify(TOKEN, &proof, "GET", URL).await.is_ok());
    let old = key.proof(&set(claims(), "iat", json!(now - 3600)));
    let err = verifier()
        .verify(TOKEN, &old, "GET", URL)
        .await
        .unwrap_err();
    assert_eq!(err.description(), "DPoP Proof iat is too old");
}

#[tokio::test]
async fn extra_header_members_and_claims_are_allowed() {
    let key = TestKey::es256();
    let header = set(key.header(), "kid", json!("k1"));
    let claims = set(claims(), "custom", json!({"a": [1, 2]}));
    let verified = check(&verifier(), &key.sign(&header, &claims))
        .await
        .unwrap();
    assert_eq!(verified.claims.get("custom"), Some(&json!({"a": [1, 2]})));
}

// --- arguments -----------------------------------------------------------------------------

#[tokio::test]
async fn missing_arguments() {
    let v = verifier();
    let proof = TestKey::es256().proof(&claims());
    let cases = [
        ("", TOKEN, "GET", URL, "dpop_proof"),
        (proof.as_str(), "", "GET", URL, "access_token"),
        (proof.as_str(), TOKEN, "", URL, "http_method/http_url"),
        (proof.as_str(), TOKEN, "GET", "", "http_method/http_url"),
        ("", "", "", "", "dpop_proof"),
    ];
    for (proof, token, method, url, argument) in cases {
        let err = v
            .verify_at(token, proof, method, url, at(NOW))
            .await
            .unwrap_err();
        assert_eq!(err.kind(), &ErrorKind::MissingRequiredArgument);
        assert_eq!(err.status_code(), 400);
        assert_eq!(
            err.description(),
            format!("The argument '{argument}' is required but was not provided.")
        );
    }
}

mod payload;
mod proof_header;
mod replay;
