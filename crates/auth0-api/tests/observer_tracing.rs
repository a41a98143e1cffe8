//! `tracing` output of the verification entry points (`auth0_api::observe`, "Alongside"):
//! the spans carry their documented fields and never token material. `cargo test observer`.
//!
//! A test binary of its own, with one test: `tracing` caches each callsite's interest for the
//! whole process, so in the shared integration binary a thread-scoped subscriber misses the
//! callsites other test threads registered first; here no other thread runs.

#![allow(clippy::unwrap_used, clippy::expect_used, clippy::panic)]

use std::sync::{Arc, Mutex};

use auth0_api::{ApiClient, ApiClientOptions, ApiClientOptionsBuilder, DpopMode, VerifyRequest};
use auth0_api_dev_tenant::DevTenant;
use auth0_api_dev_tenant::dpop::DpopKey;
use auth0_api_dev_tenant::jwe::{EncryptionKeyPair, JweEncrypter};
use serde_json::json;

const AUD: &str = "https://api.example.com";
const URL: &str = "https://api.example.com/observed";

fn options(tenant: &DevTenant) -> ApiClientOptionsBuilder {
    ApiClientOptions::builder()
        .domain(tenant.domain())
        .audience(AUD)
        .root_ca_pem(tenant.ca_pem())
}

fn client(b: ApiClientOptionsBuilder) -> ApiClient {
    ApiClient::new(b.build().unwrap()).unwrap()
}

/// A `tracing` writer keeping everything formatted, for
/// `observer_tracing_spans_carry_no_token_material`.
#[derive(Clone, Default)]
struct Captured(Arc<Mutex<Vec<u8>>>);

impl Captured {
    fn text(&self) -> String {
        String::from_utf8_lossy(&self.0.lock().unwrap()).into_owned()
    }
}

impl std::io::Write for Captured {
    fn write(&mut self, buf: &[u8]) -> std::io::Result<usize> {
        self.0.lock().unwrap().extend_from_slice(buf);
        Ok(buf.len())
    }

    fn flush(&mut self) -> std::io::Result<()> {
        Ok(())
    }
}

impl<'a> tracing_subscriber::fmt::MakeWriter<'a> for Captured {
    type Writer = Captured;

    fn make_writer(&'a self) -> Self::Writer {
        self.clone()
    }
}

/// Every compact serialization's text, and each of its segments (header, payload, signature,
/// JWE key, IV, ciphertext, tag) long enough to be telling, is absent from `log`.
fn assert_absent(log: &str, what: &str, material: &str) {
    assert!(!log.contains(material), "{what} in the tracing output");
    for segment in material.split('.').filter(|s| s.len() >= 16) {
        assert!(
            !log.contains(segment),
            "a segment of {what} in the tracing output: {segment}"
        );
    }
}

/// With a subscriber listening at DEBUG (span closes included), Bearer, DPoP and JWE
/// verifications, successful and refused, leave their spans with the documented fields (scheme,
/// error code) and no token, proof or signature text.
#[tokio::test]
async fn observer_tracing_spans_carry_no_token_material() {
    use tracing_subscriber::fmt::format::FmtSpan;

    let captured = Captured::default();
    let subscriber = tracing_subscriber::fmt()
        .with_max_level(tracing::Level::DEBUG)
        .with_span_events(FmtSpan::CLOSE)
        .with_ansi(false)
        .with_writer(captured.clone())
        .finish();
    // This test's thread only (a current-thread runtime: the client and the tenant run here).
    let _guard = tracing::subscriber::set_default(subscriber);

    let t = DevTenant::builder().start().await.unwrap();
    let keys = EncryptionKeyPair::generate().unwrap();
    let encrypter = JweEncrypter::from_public_key_pem(keys.public_pem()).unwrap();
    let c = client(options(&t).dpop_mode(DpopMode::Allowed));
    let jwe_client = client(
        options(&t)
            .access_token_decryption_key_pem(keys.private_pem())
            .accept_unencrypted_access_tokens(true),
    );
    let mut material: Vec<(&str, String)> = Vec::new();
    let request = |authorization: String, proof: Option<&str>| {
        let mut pairs = vec![("authorization".to_owned(), authorization)];
        if let Some(proof) = proof {
            pairs.push(("dpop".to_owned(), proof.to_owned()));
        }
        VerifyRequest::from_pairs(pairs).method("GET").url(URL)
    };

    // Bearer: accepted, then refused (a signature from elsewhere).
    let bearer = t.mint().sub("user_1").aud(json!(AUD)).sign();
    c.verify_request(request(format!("Bearer {bearer}"), None))
        .await
        .unwrap();
    let (head, _) = bearer.rsplit_once('.').unwrap();
    let other = t.mint().sub("user_2").aud(json!(AUD)).sign();
    let forged = format!("{head}.{}", other.rsplit_once('.').unwrap().1);
    c.verify_request(request(format!("Bearer {forged}"), None))
        .await
        .unwrap_err();
    c.verify_access_token(&bearer).await.unwrap();
    material.extend([("the Bearer token", bearer), ("the forged token", forged)]);

    // DPoP: accepted, then a proof for another method (refused), and a proof on its own.
    let key = DpopKey::generate();
    let bound = t
        .mint()
        .sub("user_1")
        .aud(json!(AUD))
        .cnf_jkt(key.thumbprint())
        .sign();
    let proof = key.proof("GET", URL, Some(&bound)).sign();
    c.verify_request(request(format!("DPoP {bound}"), Some(&proof)))
        .await
        .unwrap();
    let wrong = key.proof("POST", URL, Some(&bound)).sign();
    c.verify_request(request(format!("DPoP {bound}"), Some(&wrong)))
        .await
        .unwrap_err();
    let lone = key.proof("GET", URL, Some(&bound)).sign();
    c.verify_dpop_proof(&bound, &lone, "GET", URL)
        .await
        .unwrap();
    material.extend([
        ("the DPoP token", bound),
        ("the proof", proof),
        ("the refused proof", wrong),
        ("the lone proof", lone),
    ]);

    // JWE: an encrypted token accepted, and one that does not decrypt.
    let inner = t.mint().sub("user_1").aud(json!(AUD)).sign();
    let encrypted = encrypter.encrypt(inner.as_bytes()).unwrap();
    jwe_client
        .verify_request(request(format!("Bearer {encrypted}"), None))
        .await
        .unwrap();
    let mut broken = encrypted.clone();
    broken.truncate(broken.len() - 4);
    broken.push_str("AAAA");
    jwe_client
        .verify_request(request(format!("Bearer {broken}"), None))
        .await
        .unwrap_err();
    material.extend([
        ("the JWE", encrypted),
        ("the broken JWE", broken),
        ("the JWE's inner token", inner),
    ]);

    let log = captured.text();
    // The spans were there, with their fields...
    for expected in [
        "auth0_api::verify_request{scheme=\"Bearer\"}",
        "auth0_api::verify_request{scheme=\"DPoP\"}",
        "auth0_api::verify_request{error=\"invalid_token\"}",
        "auth0_api::verify_request{error=\"invalid_dpop_proof\"}",
        "auth0_api::verify_access_token",
        "auth0_api::verify_dpop_proof",
        "auth0_api::fetch{document=",
    ] {
        assert!(log.contains(expected), "{expected} missing from:\n{log}");
    }
    // ... and no token material.
    for (what, text) in &material {
        assert_absent(&log, what, text);
    }
    assert_absent(&log, "the JWE private key", keys.private_pem());
}
