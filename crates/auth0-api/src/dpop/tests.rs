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

// --- header --------------------------------------------------------------------------------

#[tokio::test]
async fn undecodable_proofs() {
    let v = verifier();
    let key = TestKey::es256();
    let valid = key.proof(&claims());
    let (header, rest) = valid.split_once('.').unwrap();
    let cases = [
        "not-a-jwt".to_owned(),
        "a.b".to_owned(),
        format!("{valid}.extra"),
        format!("!!!.{rest}"),
        format!("{}.{rest}", b64(b"not json")),
        format!("{}.{rest}", b64(b"[1,2]")),
        format!("{}.{rest}", b64(br#"{"typ":"dpop+jwt","typ":"dpop+jwt"}"#)),
        format!("{header}.{}.{}", b64(&[b'x'; MAX_PROOF_BYTES]), "sig"),
    ];
    for proof in cases {
        assert_eq!(
            refused(&v, &proof).await,
            "Failed to verify DPoP proof",
            "{proof:.60}"
        );
    }
}

#[tokio::test]
async fn typ_must_be_dpop_jwt() {
    let v = verifier();
    let key = TestKey::es256();
    for typ in [
        None,
        Some(json!("jwt")),
        Some(json!("DPOP+JWT")),
        Some(json!(1)),
    ] {
        let header = match typ {
            Some(t) => set(key.header(), "typ", t),
            None => without(key.header(), &["typ"]),
        };
        assert_eq!(
            refused(&v, &key.sign(&header, &claims())).await,
            "Unexpected JWT 'typ' header parameter value"
        );
    }
}

#[tokio::test]
async fn alg_must_be_configured() {
    let v = verifier();
    let key = TestKey::es256();
    for alg in [
        json!("RS256"),
        json!("none"),
        json!("HS256"),
        json!("es256"),
        json!(["ES256"]),
        json!(null),
    ] {
        let header = set(key.header(), "alg", alg);
        assert_eq!(
            refused(&v, &key.sign(&header, &claims())).await,
            "Unsupported algorithm in DPoP proof"
        );
    }
    let header = without(key.header(), &["alg"]);
    assert_eq!(
        refused(&v, &key.sign(&header, &claims())).await,
        "Unsupported algorithm in DPoP proof"
    );
}

#[tokio::test]
async fn jwk_must_be_a_public_key_object() {
    let v = verifier();
    let key = TestKey::es256();
    let header = without(key.header(), &["jwk"]);
    assert_eq!(
        refused(&v, &key.sign(&header, &claims())).await,
        "Missing or invalid jwk in header"
    );
    for jwk in [json!("invalid_jwk"), json!({}), json!(null), json!([1])] {
        let header = set(key.header(), "jwk", jwk);
        assert_eq!(
            refused(&v, &key.sign(&header, &claims())).await,
            "Missing or invalid jwk in header"
        );
    }
    for private in ["d", "p", "q", "dp", "dq", "qi", "k"] {
        let jwk = set(key.jwk.clone(), private, json!("AAAA"));
        let header = set(key.header(), "jwk", jwk);
        assert_eq!(
            refused(&v, &key.sign(&header, &claims())).await,
            "Private key material found in jwk header",
            "{private}"
        );
    }
}

#[tokio::test]
async fn es256_needs_an_ec_p256_key() {
    let v = verifier();
    let key = TestKey::es256();
    let sign_with = |jwk: Value| key.sign(&set(key.header(), "jwk", jwk), &claims());
    assert_eq!(
        refused(&v, &sign_with(json!({"kty": "RSA"}))).await,
        "Only EC keys are supported for DPoP"
    );
    assert_eq!(
        refused(&v, &sign_with(set(key.jwk.clone(), "kty", json!("OKP")))).await,
        "Only EC keys are supported for DPoP"
    );
    assert_eq!(
        refused(&v, &sign_with(set(key.jwk.clone(), "crv", json!("P-384")))).await,
        "Only P-256 curve is supported"
    );
    assert_eq!(
        refused(&v, &sign_with(without(key.jwk.clone(), &["crv"]))).await,
        "Only P-256 curve is supported"
    );
    // A point off the curve, or members that are not coordinates: the reference crashes here.
    let zero = b64(&[0; 32]);
    for jwk in [
        json!({"kty": "EC", "crv": "P-256", "x": zero, "y": zero}),
        without(key.jwk.clone(), &["y"]),
        set(key.jwk.clone(), "x", json!("not base64!")),
        set(key.jwk.clone(), "x", json!(b64(&[1; 31]))),
    ] {
        assert_eq!(
            refused(&v, &sign_with(jwk)).await,
            "Invalid jwk in DPoP proof header"
        );
    }
}

#[tokio::test]
async fn other_configured_algorithms() {
    let v = verifier_with(|b| b.dpop_algorithms([Algorithm::ES256, Algorithm::EdDSA]));
    assert_eq!(v.algs(), "ES256 EdDSA");
    assert_eq!(verifier().algs(), "ES256");

    let ed = TestKey::ed25519();
    let verified = check(&v, &ed.proof(&claims())).await.unwrap();
    assert_eq!(verified.jkt, ed.thumbprint());
    assert!(check(&v, &TestKey::es256().proof(&claims())).await.is_ok());

    // EdDSA is not accepted unless configured.
    assert_eq!(
        refused(&verifier(), &ed.proof(&claims())).await,
        "Unsupported algorithm in DPoP proof"
    );

    let sign_with = |jwk: Value| ed.sign(&set(ed.header(), "jwk", jwk), &claims());
    assert_eq!(
        refused(&v, &sign_with(TestKey::es256().jwk)).await,
        "Only OKP keys are supported for DPoP"
    );
    assert_eq!(
        refused(&v, &sign_with(set(ed.jwk.clone(), "crv", json!("X25519")))).await,
        "Only Ed25519 curve is supported"
    );

    let rsa = verifier_with(|b| b.dpop_algorithms([Algorithm::PS256]));
    let ec = TestKey::es256();
    let header = set(ec.header(), "alg", json!("PS256"));
    assert_eq!(
        refused(&rsa, &ec.sign(&header, &claims())).await,
        "Only RSA keys are supported for DPoP"
    );
    let header = set(
        header,
        "jwk",
        json!({"kty": "RSA", "n": "AQAB", "e": "AQAB"}),
    );
    assert_eq!(
        refused(&rsa, &ec.sign(&header, &claims())).await,
        "Invalid jwk in DPoP proof header"
    );

    let p384 = verifier_with(|b| b.dpop_algorithms([Algorithm::ES384]));
    let header = set(ec.header(), "alg", json!("ES384"));
    assert_eq!(
        refused(&p384, &ec.sign(&header, &claims())).await,
        "Only P-384 curve is supported"
    );
}

// --- JWS decode (authlib's messages) -------------------------------------------------------

#[tokio::test]
async fn crit_is_refused() {
    let v = verifier();
    let key = TestKey::es256();
    let prefix = "JWT signature verification failed: ";
    let header = set(
        set(key.header(), "crit", json!(["exp", "b64"])),
        "exp",
        json!(1),
    );
    assert_eq!(
        refused(&v, &key.sign(&header, &claims())).await,
        format!("{prefix}invalid_crit_header_parameter_name: Invalid Header Parameter Name: exp")
    );
    for crit in [
        json!("exp"),
        json!([1]),
        json!(["a", 2]),
        json!({}),
        json!([]),
    ] {
        let header = set(key.header(), "crit", crit);
        assert_eq!(
            refused(&v, &key.sign(&header, &claims())).await,
            format!("{prefix}invalid_header_parameter_name: Invalid Header Parameter Name: crit")
        );
    }
}

#[tokio::test]
async fn payload_must_be_a_json_object() {
    let v = verifier();
    let key = TestKey::es256();
    let header = key.header();
    let prefix = "JWT signature verification failed: decode_error: ";
    let cases = [
        (b64(b"not json"), "Invalid payload value"),
        (b64(b"{\"a\":1} trailing"), "Invalid payload value"),
        (b64(&[0xff, 0xfe]), "Invalid payload value"),
        (b64(br#"{"jti":"a","jti":"b"}"#), "Invalid payload value"),
        (b64(br#"{"iat":NaN}"#), "Invalid payload value"),
        (b64(b"[1,2]"), "Invalid payload type"),
        (b64(b"\"text\""), "Invalid payload type"),
        (b64(b"42"), "Invalid payload type"),
        ("abcde".to_owned(), "Invalid payload padding"),
        ("ab+/".to_owned(), "Invalid payload padding"),
        (format!("{}=", b64(b"{}")), "Invalid payload padding"),
    ];
    for (payload, message) in cases {
        let proof = key.sign_segments(&header, &payload);
        assert_eq!(
            refused(&v, &proof).await,
            format!("{prefix}{message}"),
            "{payload}"
        );
    }
}

#[tokio::test]
async fn signature_must_verify() {
    let v = verifier();
    let key = TestKey::es256();
    let valid = key.proof(&claims());
    let (input, sig) = valid.rsplit_once('.').unwrap();

    // The reference's own tampering: the last character leaves non-zero trailing bits, which
    // (like Python) decode, so this is a bad signature rather than an encoding error.
    let tampered = format!("{input}.{}12345", &sig[..sig.len() - 5]);
    assert_eq!(
        refused(&v, &tampered).await,
        "JWT signature verification failed: bad_signature: "
    );
    let flipped = format!(
        "{input}.{}{}",
        if sig.starts_with('A') { "B" } else { "A" },
        &sig[1..]
    );
    assert_eq!(
        refused(&v, &flipped).await,
        "JWT signature verification failed: bad_signature: "
    );
    assert_eq!(
        refused(&v, &format!("{input}.")).await,
        "JWT signature verification failed: bad_signature: "
    );

    // Signed by another key than the one in the header.
    let other = TestKey::es256();
    let forged = other.sign(&key.header(), &claims());
    assert_eq!(
        refused(&v, &forged).await,
        "JWT signature verification failed: bad_signature: "
    );

    // Claims changed after signing.
    let (header, _) = input.split_once('.').unwrap();
    let swapped = format!("{header}.{}.{sig}", b64(claims().to_string().as_bytes()));
    assert_eq!(
        refused(&v, &swapped).await,
        "JWT signature verification failed: bad_signature: "
    );

    for bad in ["a", "!!!!", "ab=c"] {
        assert_eq!(
            refused(&v, &format!("{input}.{bad}")).await,
            "JWT signature verification failed: decode_error: Invalid signature padding"
        );
    }
}

// --- claims --------------------------------------------------------------------------------

#[tokio::test]
async fn required_claims_are_listed_in_order() {
    let v = verifier();
    let key = TestKey::es256();
    let cases: [(&[&str], &str); 5] = [
        (&["iat"], "Missing required claim: iat"),
        (&["jti"], "Missing required claim: jti"),
        (&["htu", "iat"], "Missing required claims: iat, htu"),
        (
            &["jti", "ath", "htm"],
            "Missing required claims: ath, htm, jti",
        ),
        (
            &["jti", "htu", "htm", "ath", "iat"],
            "Missing required claims: iat, ath, htm, htu, jti",
        ),
    ];
    for (remove, message) in cases {
        assert_eq!(
            refused(&v, &key.proof(&without(claims(), remove))).await,
            message
        );
    }
    // A null claim is present (and then fails its own check).
    assert_eq!(
        refused(&v, &key.proof(&set(claims(), "jti", json!(null)))).await,
        "jti claim must be a string"
    );
}

#[tokio::test]
async fn jti_must_be_a_non_blank_string() {
    let v = verifier();
    let key = TestKey::es256();
    for jti in [json!(5), json!(["a"]), json!(true)] {
        assert_eq!(
            refused(&v, &key.proof(&set(claims(), "jti", jti))).await,
            "jti claim must be a string"
        );
    }
    for jti in ["", "   ", "\t\n", "\u{a0}\u{2003}", "\u{1f}\u{1c}"] {
        assert_eq!(
            refused(&v, &key.proof(&set(claims(), "jti", json!(jti)))).await,
            "jti claim must not be empty",
            "{jti:?}"
        );
    }
    let custom = check(
        &v,
        &key.proof(&set(claims(), "jti", json!("unique-jti-12345"))),
    )
    .await
    .unwrap();
    assert_eq!(custom.claims.get("jti"), Some(&json!("unique-jti-12345")));
}

#[tokio::test]
async fn iat_window() {
    let v = verifier();
    let key = TestKey::es256();
    let iat = |t: Value| key.proof(&set(claims(), "iat", t));
    for bad in [json!("1700000000"), json!(null), json!(true), json!({})] {
        assert_eq!(
            refused(&v, &iat(bad)).await,
            "Invalid iat claim (must be integer or float)"
        );
    }
    assert_eq!(
        refused(&v, &iat(json!(NOW - 3600))).await,
        "DPoP Proof iat is too old"
    );
    assert_eq!(
        refused(&v, &iat(json!(NOW - 301))).await,
        "DPoP Proof iat is too old"
    );
    assert_eq!(
        refused(&v, &iat(json!(NOW as f64 - 300.5))).await,
        "DPoP Proof iat is too old"
    );
    assert_eq!(
        refused(&v, &iat(json!(-1))).await,
        "DPoP Proof iat is too old"
    );
    assert_eq!(
        refused(&v, &iat(json!(NOW + 3600))).await,
        "DPoP Proof iat is from the future"
    );
    assert_eq!(
        refused(&v, &iat(json!(NOW + 31))).await,
        "DPoP Proof iat is from the future"
    );
    assert_eq!(
        refused(&v, &iat(json!(NOW as f64 + 30.5))).await,
        "DPoP Proof iat is from the future"
    );
    assert_eq!(
        refused(&v, &iat(json!(1e300))).await,
        "DPoP Proof iat is from the future"
    );
    for ok in [
        json!(NOW - 300),
        json!(NOW - 30),
        json!(NOW),
        json!(NOW + 30),
        json!(NOW as f64 + 0.25),
    ] {
        assert!(check(&v, &iat(ok.clone())).await.is_ok(), "{ok}");
    }

    // Configured window.
    let narrow = verifier_with(|b| {
        b.dpop_iat_offset(Duration::from_secs(10))
            .dpop_iat_leeway(Duration::from_secs(0))
    });
    assert_eq!(
        refused(&narrow, &iat(json!(NOW - 11))).await,
        "DPoP Proof iat is too old"
    );
    assert_eq!(
        refused(&narrow, &iat(json!(NOW + 1))).await,
        "DPoP Proof iat is from the future"
    );
    assert!(check(&narrow, &iat(json!(NOW - 10))).await.is_ok());
}

#[tokio::test]
async fn htm_must_match_ignoring_case() {
    let v = verifier();
    let key = TestKey::es256();
    let post = key.proof(&set(claims(), "htm", json!("POST")));
    assert_eq!(refused(&v, &post).await, "DPoP Proof htm mismatch");
    assert_eq!(
        refused(&v, &key.proof(&set(claims(), "htm", json!(1)))).await,
        "DPoP Proof htm mismatch"
    );
    assert_eq!(
        refused(&v, &key.proof(&set(claims(), "htm", json!("GETX")))).await,
        "DPoP Proof htm mismatch"
    );
    assert!(
        check(&v, &key.proof(&set(claims(), "htm", json!("get"))))
            .await
            .is_ok()
    );
    let proof = key.proof(&set(claims(), "htm", json!("Post")));
    assert!(
        v.verify_at(TOKEN, &proof, "pOST", URL, at(NOW))
            .await
            .is_ok()
    );
}

#[tokio::test]
async fn htu_must_match_after_normalisation() {
    let v = verifier();
    let key = TestKey::es256();
    let with_htu = |htu: Value| key.proof(&set(claims(), "htu", htu));
    let run = |proof: String, url: &'static str| {
        let v = &v;
        async move { v.verify_at(TOKEN, &proof, "GET", url, at(NOW)).await }
    };

    for (htu, url) in [
        ("https://API.EXAMPLE.COM/resource", URL),
        ("https://api.example.com:443/resource", URL),
        (
            "https://api.example.com/resource?param1=value1",
            "https://api.example.com/resource?param2=value2",
        ),
        (
            "https://api.example.com/resource#fragment1",
            "https://api.example.com/resource#fragment2",
        ),
        (
            "https://api.example.com/resource/?abc=def#fragment",
            "https://api.example.com/resource/",
        ),
        ("https://api.example.com/a/../resource", URL),
        (
            "https://api.example.com/x%2fy",
            "https://api.example.com/x%2Fy",
        ),
        ("https://user:pw@api.example.com/resource", URL),
    ] {
        assert!(
            run(with_htu(json!(htu)), url).await.is_ok(),
            "{htu} vs {url}"
        );
    }

    for (htu, url) in [
        ("https://api.example.com/wrong-resource", URL),
        ("https://api.example.com/resource/", URL),
        ("http://api.example.com/resource", URL),
        ("https://api.example.com:8443/resource", URL),
        ("https://api.example.com/Resource", URL),
        ("not a url", URL),
        ("data:text/plain,x", URL),
        (URL, "not a url"),
        (URL, "/resource"),
    ] {
        let err = run(with_htu(json!(htu)), url).await.unwrap_err();
        assert_eq!(
            err.description(),
            "DPoP Proof htu mismatch",
            "{htu} vs {url}"
        );
    }
    assert_eq!(
        refused(&v, &with_htu(json!(["x"]))).await,
        "DPoP Proof htu mismatch"
    );
}

#[tokio::test]
async fn ath_must_be_the_token_hash() {
    let v = verifier();
    let key = TestKey::es256();
    let wrong = key.proof(&set(claims(), "ath", json!(ath("wrong_token"))));
    assert_eq!(refused(&v, &wrong).await, "DPoP Proof ath mismatch");
    for bad in [
        json!(1),
        json!(""),
        json!(TOKEN),
        json!(format!("{}=", ath(TOKEN))),
    ] {
        assert_eq!(
            refused(&v, &key.proof(&set(claims(), "ath", bad))).await,
            "DPoP Proof ath mismatch"
        );
    }
    // Same proof, other token.
    let proof = key.proof(&claims());
    let err = v
        .verify_at("other_token", &proof, "GET", URL, at(NOW))
        .await
        .unwrap_err();
    assert_eq!(err.description(), "DPoP Proof ath mismatch");
}

#[tokio::test]
async fn first_failing_check_wins() {
    // Wrong typ and bad signature: typ is reported (header checks come first).
    let v = verifier();
    let key = TestKey::es256();
    let header = set(key.header(), "typ", json!("jwt"));
    let proof = format!("{}AAAA", key.sign(&header, &claims()));
    assert_eq!(
        refused(&v, &proof).await,
        "Unexpected JWT 'typ' header parameter value"
    );
    // Everything wrong in the claims: the missing claim is reported.
    let claims = without(
        json!({"jti": 1, "htm": "POST", "htu": "x", "ath": "y"}),
        &[],
    );
    assert_eq!(
        refused(&v, &key.proof(&claims)).await,
        "Missing required claim: iat"
    );
    // iat before htm before htu before ath.
    let all_bad = json!({"jti": "j", "iat": NOW - 999, "htm": "POST", "htu": "x", "ath": "y"});
    assert_eq!(
        refused(&v, &key.proof(&all_bad)).await,
        "DPoP Proof iat is too old"
    );
    let bad_htm = set(all_bad, "iat", json!(NOW));
    assert_eq!(
        refused(&v, &key.proof(&bad_htm)).await,
        "DPoP Proof htm mismatch"
    );
    let bad_htu = set(bad_htm, "htm", json!("GET"));
    assert_eq!(
        refused(&v, &key.proof(&bad_htu)).await,
        "DPoP Proof htu mismatch"
    );
}

// --- replay --------------------------------------------------------------------------------

#[tokio::test]
async fn a_proof_is_accepted_once() {
    let v = verifier();
    let key = TestKey::es256();
    let proof = key.proof(&claims());
    assert!(check(&v, &proof).await.is_ok());
    assert_eq!(
        refused(&v, &proof).await,
        "DPoP proof has already been used"
    );
    // Same jti, another key: a different proof identity.
    let jti = json!("shared-jti");
    assert!(
        check(&v, &key.proof(&set(claims(), "jti", jti.clone())))
            .await
            .is_ok()
    );
    assert!(
        check(
            &v,
            &TestKey::es256().proof(&set(claims(), "jti", jti.clone()))
        )
        .await
        .is_ok()
    );
    // Same key, same jti, otherwise a new proof: still a replay of the jti.
    let again = key.proof(&set(set(claims(), "jti", jti), "iat", json!(NOW - 1)));
    assert_eq!(
        refused(&v, &again).await,
        "DPoP proof has already been used"
    );
}

#[tokio::test]
async fn failed_proofs_do_not_consume_their_jti() {
    let v = verifier();
    let key = TestKey::es256();
    let claims = claims();
    let wrong_url = key.proof(&set(
        claims.clone(),
        "htu",
        json!("https://api.example.com/other"),
    ));
    assert_eq!(refused(&v, &wrong_url).await, "DPoP Proof htu mismatch");
    assert!(check(&v, &key.proof(&claims)).await.is_ok());
}

#[tokio::test]
async fn replay_protection_can_be_turned_off() {
    let v = verifier_with(|b| b.replay_protection(false));
    let proof = TestKey::es256().proof(&claims());
    assert!(check(&v, &proof).await.is_ok());
    assert!(check(&v, &proof).await.is_ok());
}

#[tokio::test(flavor = "multi_thread", worker_threads = 4)]
async fn fifty_concurrent_uses_of_one_proof_accept_exactly_one() {
    let v = Arc::new(verifier());
    let proof = Arc::new(TestKey::es256().proof(&claims()));
    let barrier = Arc::new(tokio::sync::Barrier::new(50));
    let tasks: Vec<_> = (0..50)
        .map(|_| {
            let (v, proof, barrier) = (Arc::clone(&v), Arc::clone(&proof), Arc::clone(&barrier));
            tokio::spawn(async move {
                barrier.wait().await;
                v.verify_at(TOKEN, &proof, "GET", URL, at(NOW)).await
            })
        })
        .collect();
    let (mut accepted, mut replays) = (0, 0);
    for task in tasks {
        match task.await.unwrap() {
            Ok(_) => accepted += 1,
            Err(e) => {
                assert_eq!(e.description(), "DPoP proof has already been used");
                replays += 1;
            }
        }
    }
    assert_eq!((accepted, replays), (1, 49));
}

/// Records what the verifier asks of its store.
#[derive(Default)]
struct RecordingStore {
    calls: Mutex<Vec<([u8; 32], String, Duration)>>,
}

#[async_trait::async_trait]
impl ReplayStore for RecordingStore {
    async fn check_and_insert(
        &self,
        key: [u8; 32],
        jkt: &str,
        ttl: Duration,
    ) -> Result<bool, ReplayStoreError> {
        self.calls.lock().unwrap().push((key, jkt.to_owned(), ttl));
        Ok(true)
    }
}

struct FailingStore(ReplayStoreError);

#[async_trait::async_trait]
impl ReplayStore for FailingStore {
    async fn check_and_insert(
        &self,
        _: [u8; 32],
        _: &str,
        _: Duration,
    ) -> Result<bool, ReplayStoreError> {
        Err(self.0.clone())
    }
}

#[tokio::test]
async fn custom_store_gets_hashed_key_jkt_and_window_ttl() {
    let store = Arc::new(RecordingStore::default());
    let shared: Arc<dyn ReplayStore> = store.clone();
    let v = verifier_with(|b| b.replay_store(shared));
    let key = TestKey::es256();
    let claims = set(claims(), "jti", json!("abc"));
    check(&v, &key.proof(&claims)).await.unwrap();

    let calls = store.calls.lock().unwrap();
    let (hashed, jkt, ttl) = calls.first().unwrap();
    assert_eq!(jkt, &key.thumbprint());
    assert_eq!(
        hashed.as_slice(),
        sha256(format!("{}\0abc", key.thumbprint()).as_bytes()).as_slice()
    );
    assert_eq!(*ttl, Duration::from_secs(330));
}

#[tokio::test]
async fn custom_store_is_not_used_when_protection_is_off() {
    let store = Arc::new(RecordingStore::default());
    let shared: Arc<dyn ReplayStore> = store.clone();
    let v = verifier_with(|b| b.replay_store(shared).replay_protection(false));
    check(&v, &TestKey::es256().proof(&claims())).await.unwrap();
    assert!(store.calls.lock().unwrap().is_empty());
}

#[tokio::test]
async fn store_failures_fail_closed() {
    let key = TestKey::es256();
    for failure in [
        ReplayStoreError::Full,
        ReplayStoreError::Unavailable("connection refused".into()),
    ] {
        let v = verifier_with(|b| b.replay_store(Arc::new(FailingStore(failure))));
        let err = check(&v, &key.proof(&claims())).await.unwrap_err();
        assert_eq!(err.kind(), &ErrorKind::ReplayStoreUnavailable);
        assert_eq!(err.status_code(), 503);
        assert_eq!(err.description(), "DPoP replay store unavailable");
    }
    let v =
        verifier_with(|b| b.replay_store(Arc::new(FailingStore(ReplayStoreError::PerKeyLimit))));
    assert_eq!(
        refused(&v, &key.proof(&claims())).await,
        "Too many DPoP proofs for this key"
    );
}

#[tokio::test]
async fn per_key_limit_of_the_default_store_shape() {
    let v = verifier_with(|b| b.replay_store(Arc::new(InMemoryReplayStore::new(100, 2))));
    let key = TestKey::es256();
    assert!(check(&v, &key.proof(&claims())).await.is_ok());
    assert!(check(&v, &key.proof(&claims())).await.is_ok());
    assert_eq!(
        refused(&v, &key.proof(&claims())).await,
        "Too many DPoP proofs for this key"
    );
    assert!(check(&v, &TestKey::es256().proof(&claims())).await.is_ok());
}

// --- nonces --------------------------------------------------------------------------------

fn nonce_config() -> NonceConfig {
    NonceConfig::with_secret(&[9; 32]).unwrap()
}

#[tokio::test]
async fn nonce_flow() {
    let v = verifier_with(|b| b.dpop_nonce(nonce_config()));
    let key = TestKey::es256();

    // 1. No nonce: 401 use_dpop_nonce with a fresh nonce to retry with.
    let err = check(&v, &key.proof(&claims())).await.unwrap_err();
    assert_eq!(err.kind(), &ErrorKind::UseDpopNonce);
    assert_eq!(err.status_code(), 401);
    assert_eq!(err.error_code(), "use_dpop_nonce");
    assert_eq!(
        err.description(),
        "Resource server requires nonce in DPoP proof"
    );
    let nonce = err.dpop_nonce().unwrap().to_owned();
    assert!(nonce_config().validate(&nonce, at(NOW)));

    // 2. Retry with it: accepted, with the next nonce.
    let verified = check(&v, &key.proof(&set(claims(), "nonce", json!(nonce))))
        .await
        .unwrap();
    let next = verified.next_nonce.unwrap();
    assert!(nonce_config().validate(&next, at(NOW)));

    // 3. A nonce that is not ours, stale, or not a string.
    let stale = nonce_config().issue(at(NOW - 301));
    let foreign = NonceConfig::with_secret(&[8; 32]).unwrap().issue(at(NOW));
    for bad in [
        json!(stale),
        json!(foreign),
        json!("garbage"),
        json!(""),
        json!(42),
        json!(null),
    ] {
        let err = check(&v, &key.proof(&set(claims(), "nonce", bad.clone())))
            .await
            .unwrap_err();
        assert_eq!(err.kind(), &ErrorKind::UseDpopNonce, "{bad}");
        assert_eq!(err.description(), "DPoP proof nonce is invalid or expired");
        assert!(nonce_config().validate(err.dpop_nonce().unwrap(), at(NOW)));
    }
}

#[tokio::test]
async fn nonce_failures_do_not_consume_the_jti_and_come_after_proof_checks() {
    let v = verifier_with(|b| b.dpop_nonce(nonce_config()));
    let key = TestKey::es256();
    let claims = set(claims(), "jti", json!("retry-me"));
    assert!(check(&v, &key.proof(&claims)).await.is_err());
    let nonce = nonce_config().issue(at(NOW));
    let retry = key.proof(&set(claims.clone(), "nonce", json!(nonce.clone())));
    assert!(check(&v, &retry).await.is_ok());
    assert_eq!(
        refused(&v, &retry).await,
        "DPoP proof has already been used"
    );
    // A bad proof is reported as such, not as a nonce problem.
    let bad = key.proof(&set(set(claims, "ath", json!("x")), "nonce", json!(nonce)));
    assert_eq!(refused(&v, &bad).await, "DPoP Proof ath mismatch");
}

#[test]
fn debug_shows_no_secret() {
    let v = verifier_with(|b| b.dpop_nonce(nonce_config()));
    let dbg = format!("{v:?}");
    assert!(dbg.contains("[redacted]") && dbg.contains("ES256"), "{dbg}");
    assert!(v.issue_nonce().is_some());
    assert!(verifier().issue_nonce().is_none());
}

#[test]
fn replay_key_is_sha256_of_jkt_zero_jti() {
    assert_eq!(replay_key("a", "b").as_slice(), sha256(b"a\0b").as_slice());
    assert_ne!(replay_key("ab", "c"), replay_key("a", "bc"));
}

/// Cross-check with the dev tenant's independently written DPoP client.
#[tokio::test]
async fn proofs_from_the_dev_tenant_client_verify() {
    use auth0_api_dev_tenant::dpop::DpopKey;
    let key = DpopKey::generate();
    let v = verifier_with(|b| b.dpop_nonce(nonce_config()));
    let nonce = nonce_config().issue(at(NOW));
    let proof = key
        .proof("GET", URL, Some(TOKEN))
        .iat(NOW as i64)
        .nonce(nonce)
        .sign();
    let verified = check(&v, &proof).await.unwrap();
    assert_eq!(verified.jkt, key.thumbprint());
    assert_eq!(
        jwk_thumbprint(key.public_jwk().as_object().unwrap()).unwrap(),
        key.thumbprint()
    );
    let post = key.proof("POST", URL, Some(TOKEN)).iat(NOW as i64).sign();
    assert_eq!(refused(&verifier(), &post).await, "DPoP Proof htm mismatch");
}

// --- header cache and prepared proofs -------------------------------------------------------

/// What a check gives, in a form that compares: the claims and thumbprint, or the error's kind,
/// status and description.
async fn outcome(
    v: &DpopVerifier,
    proof: &str,
    url: &str,
) -> std::result::Result<(JsonObject, String), (ErrorKind, u16, String)> {
    match v.verify_at(TOKEN, proof, "GET", url, at(NOW)).await {
        Ok(p) => Ok((p.claims.as_object().clone(), p.jkt)),
        Err(e) => Err((
            e.kind().clone(),
            e.status_code(),
            e.description().to_owned(),
        )),
    }
}

fn header_segment(proof: &str) -> &str {
    proof.split('.').next().unwrap()
}

fn is_kept(v: &DpopVerifier, proof: &str) -> bool {
    v.headers.run_pending_tasks();
    v.headers.contains_key(header_segment(proof))
}

#[tokio::test]
async fn a_kept_header_gives_what_a_fresh_one_gives() {
    let key = TestKey::es256();
    let valid = key.proof(&claims());
    let (input, sig) = valid.rsplit_once('.').unwrap();
    let header = header_segment(&valid);
    let cases = [
        (valid.clone(), URL),
        (valid.clone(), "https://api.example.com/other"),
        (valid.clone(), "not a url"),
        (format!("{input}.AAAA"), URL),
        (format!("{input}.a"), URL),
        (format!("{header}.!!!.{sig}"), URL),
        (format!("{header}.{}.{sig}", b64(b"[1]")), URL),
        (format!("{header}.{}.{sig}", b64(b"{")), URL),
        (key.proof(&without(claims(), &["iat", "jti"])), URL),
        (key.proof(&set(claims(), "jti", json!(" "))), URL),
        (key.proof(&set(claims(), "iat", json!(NOW - 999))), URL),
        (key.proof(&set(claims(), "htm", json!("POST"))), URL),
        (key.proof(&set(claims(), "ath", json!("x"))), URL),
    ];
    let warm = verifier_with(|b| b.replay_protection(false));
    assert!(check(&warm, &valid).await.is_ok());
    assert!(is_kept(&warm, &valid));
    for (proof, url) in &cases {
        let cold = verifier_with(|b| b.replay_protection(false));
        let fresh = outcome(&cold, proof, url).await;
        assert!(is_kept(&warm, proof));
        let kept = outcome(&warm, proof, url).await;
        assert_eq!(kept, fresh, "{proof:.60} {url}");
        // And once more, now that the cold verifier keeps the header too.
        assert_eq!(outcome(&cold, proof, url).await, fresh, "{proof:.60} {url}");
    }
}

#[tokio::test]
async fn the_same_proof_verifies_twice_without_replay_protection() {
    let v = verifier_with(|b| b.replay_protection(false));
    let key = TestKey::es256();
    let proof = key.proof(&claims());
    assert!(!is_kept(&v, &proof));
    let first = outcome(&v, &proof, URL).await.unwrap();
    assert!(is_kept(&v, &proof));
    let second = outcome(&v, &proof, URL).await.unwrap();
    assert_eq!(first, second);
    assert_eq!(second.1, key.thumbprint());
}

#[tokio::test]
async fn a_header_with_crit_is_refused_on_every_use() {
    let v = verifier_with(|b| b.replay_protection(false));
    let key = TestKey::es256();
    let prefix = "JWT signature verification failed: ";
    for (crit, message) in [
        (
            json!(["exp"]),
            "invalid_crit_header_parameter_name: Invalid Header Parameter Name: exp",
        ),
        (
            json!("exp"),
            "invalid_header_parameter_name: Invalid Header Parameter Name: crit",
        ),
    ] {
        let proof = key.sign(&set(key.header(), "crit", crit), &claims());
        let header = header_segment(&proof);
        for _ in 0..3 {
            assert_eq!(refused(&v, &proof).await, format!("{prefix}{message}"));
            // `crit` comes before the payload.
            let broken = format!("{header}.!!!.AAAA");
            assert_eq!(refused(&v, &broken).await, format!("{prefix}{message}"));
        }
    }
    // Header checks still come before `crit`, on every use.
    let typ = set(
        set(key.header(), "crit", json!(["exp"])),
        "typ",
        json!("jwt"),
    );
    let proof = key.sign(&typ, &claims());
    for _ in 0..2 {
        assert_eq!(
            refused(&v, &proof).await,
            "Unexpected JWT 'typ' header parameter value"
        );
    }
}

#[tokio::test]
async fn refused_headers_are_not_kept() {
    let v = verifier();
    let key = TestKey::es256();
    let zero = b64(&[0; 32]);
    let cases = [
        (
            set(key.header(), "typ", json!("jwt")),
            "Unexpected JWT 'typ' header parameter value",
        ),
        (
            set(key.header(), "alg", json!("RS256")),
            "Unsupported algorithm in DPoP proof",
        ),
        (
            set(
                key.header(),
                "jwk",
                json!({"kty": "EC", "crv": "P-256", "x": zero, "y": zero}),
            ),
            "Invalid jwk in DPoP proof header",
        ),
    ];
    for (header, message) in cases {
        let proof = key.sign(&header, &claims());
        for _ in 0..2 {
            assert_eq!(refused(&v, &proof).await, message);
            assert!(!is_kept(&v, &proof), "{message}");
        }
    }
    assert_eq!(v.headers.entry_count(), 0);
}

#[tokio::test]
async fn long_headers_are_checked_every_time_and_not_kept() {
    let v = verifier_with(|b| b.replay_protection(false));
    let key = TestKey::es256();
    let header = set(
        key.header(),
        "kid",
        json!("k".repeat(MAX_CACHED_HEADER_BYTES)),
    );
    let proof = key.sign(&header, &claims());
    assert!(header_segment(&proof).len() > MAX_CACHED_HEADER_BYTES);
    for _ in 0..2 {
        assert!(check(&v, &proof).await.is_ok());
        assert!(!is_kept(&v, &proof));
    }
}

#[tokio::test]
async fn a_prepared_proof_verifies_as_the_proof_does() {
    let v = verifier_with(|b| b.replay_protection(false));
    let key = TestKey::es256();
    let now = nonce::unix_secs(SystemTime::now());
    let proof = key.proof(&set(claims(), "iat", json!(now)));

    let fresh = v.prepare_proof(&proof).unwrap();
    assert!(matches!(fresh.header, ProofHeader::Decoded(_)));
    let first = v
        .verify_prepared(TOKEN, fresh, "GET", URL, None)
        .await
        .unwrap();
    assert_eq!(first.jkt, key.thumbprint());

    let kept = v.prepare_proof(&proof).unwrap();
    assert!(matches!(kept.header, ProofHeader::Checked(_)));
    let second = v
        .verify_prepared(TOKEN, kept, "GET", URL, None)
        .await
        .unwrap();
    assert_eq!(second.claims.as_object(), first.claims.as_object());
    assert_eq!(second.jkt, first.jkt);

    // Arguments are checked as `verify` checks them.
    for (token, method, url, argument) in [
        ("", "GET", URL, "access_token"),
        (TOKEN, "", URL, "http_method/http_url"),
        (TOKEN, "GET", "", "http_method/http_url"),
    ] {
        let prepared = v.prepare_proof(&proof).unwrap();
        let err = v
            .verify_prepared(token, prepared, method, url, None)
            .await
            .unwrap_err();
        assert_eq!(err.kind(), &ErrorKind::MissingRequiredArgument);
        assert!(err.description().contains(argument), "{err:?}");
    }

    // What cannot be prepared is what `verify` refuses first.
    let (header, rest) = proof.split_once('.').unwrap();
    for bad in [
        String::new(),
        "a.b".to_owned(),
        format!("{}.{rest}", b64(b"[1]")),
        format!("{header}.{}.s", "x".repeat(MAX_PROOF_BYTES)),
    ] {
        let err = crate::Error::from(v.prepare_proof(&bad).err().unwrap());
        assert_eq!(err.kind(), &ErrorKind::InvalidDpopProof);
        assert_eq!(err.description(), "Failed to verify DPoP proof");
    }
}

#[tokio::test]
async fn identical_htu_and_url_without_a_comparison_form_do_not_match() {
    let v = verifier();
    let key = TestKey::es256();
    for url in [
        "not a url",
        "/resource",
        "https://",
        "data:text/plain,hi",
        "file:///resource",
        "blob:https://api.example.com/resource",
    ] {
        let proof = key.proof(&set(claims(), "htu", json!(url)));
        let err = v
            .verify_at(TOKEN, &proof, "GET", url, at(NOW))
            .await
            .unwrap_err();
        assert_eq!(err.description(), "DPoP Proof htu mismatch", "{url}");
    }
    // Byte-identical and valid: accepted, whatever its spelling.
    let url = "HTTPS://API.example.com:443/a/../resource?q=1#f";
    let proof = key.proof(&set(claims(), "htu", json!(url)));
    assert!(
        v.verify_at(TOKEN, &proof, "GET", url, at(NOW))
            .await
            .is_ok()
    );
}

proptest::proptest! {
    /// The strict-then-tolerant segment decoder answers as the tolerant decoder alone.
    #[test]
    fn segment_decoding_matches_the_tolerant_decoder(text in "[A-Za-z0-9_+/=.-]{0,12}") {
        proptest::prop_assert_eq!(
            decode_segment(&text).ok(),
            SEGMENT_B64.decode(&text).ok()
        );
    }
}

#[tokio::test]
async fn a_token_digest_from_the_caller_stands_for_hashing_the_token() {
    let v = verifier_with(|b| b.replay_protection(false));
    let key = TestKey::es256();
    let now = nonce::unix_secs(SystemTime::now());
    let proof = key.proof(&set(claims(), "iat", json!(now)));
    let digest: [u8; 32] = sha256(TOKEN.as_bytes()).try_into().unwrap();
    let prepared = v.prepare_proof(&proof).unwrap();
    assert!(
        v.verify_prepared(TOKEN, prepared, "GET", URL, Some(&digest))
            .await
            .is_ok()
    );
    let prepared = v.prepare_proof(&proof).unwrap();
    let wrong = v
        .verify_prepared(TOKEN, prepared, "GET", URL, Some(&[0u8; 32]))
        .await
        .unwrap_err();
    assert_eq!(wrong.description(), "DPoP Proof ath mismatch");
}
