//! The header checks, the checked-header cache and prepared proofs.

#![allow(clippy::unwrap_used, clippy::expect_used, clippy::panic)]

use std::time::SystemTime;

use super::*;

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
    v.headers.contains(header_segment(proof))
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
    // A header is kept from its second sighting.
    assert!(check(&warm, &valid).await.is_ok());
    assert!(!is_kept(&warm, &valid));
    assert!(check(&warm, &valid).await.is_ok());
    assert!(is_kept(&warm, &valid));
    for (proof, url) in &cases {
        let cold = verifier_with(|b| b.replay_protection(false));
        let fresh = outcome(&cold, proof, url).await;
        assert!(is_kept(&warm, proof));
        let kept = outcome(&warm, proof, url).await;
        assert_eq!(kept, fresh, "{proof:.60} {url}");
        // And twice more: the cold verifier keeps the header from its second sighting (when
        // the header passed its checks: every case here shares the valid one's).
        assert_eq!(outcome(&cold, proof, url).await, fresh, "{proof:.60} {url}");
        assert!(is_kept(&cold, proof));
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
    assert!(!is_kept(&v, &proof), "kept from the second sighting");
    let second = outcome(&v, &proof, URL).await.unwrap();
    assert!(is_kept(&v, &proof));
    let third = outcome(&v, &proof, URL).await.unwrap();
    assert_eq!(first, second);
    assert_eq!(second, third);
    assert_eq!(third.1, key.thumbprint());
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
    assert_eq!(v.headers.len(), 0);
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

    // The usual ES256 header passes its checks on the fast path, as it is prepared.
    let fresh = v.prepare_proof(&proof).unwrap();
    assert!(matches!(fresh.header, ProofHeader::Fresh(_)));
    let first = v
        .verify_prepared(TOKEN, fresh, "GET", URL, None, SystemTime::now())
        .await
        .unwrap();
    assert_eq!(first.jkt, key.thumbprint());
    // Kept from its second sighting.
    let again = v.prepare_proof(&proof).unwrap();
    assert!(matches!(again.header, ProofHeader::Fresh(_)));
    v.verify_prepared(TOKEN, again, "GET", URL, None, SystemTime::now())
        .await
        .unwrap();

    let kept = v.prepare_proof(&proof).unwrap();
    assert!(matches!(kept.header, ProofHeader::Checked(_)));
    let second = v
        .verify_prepared(TOKEN, kept, "GET", URL, None, SystemTime::now())
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
            .verify_prepared(token, prepared, method, url, None, SystemTime::now())
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
        v.verify_prepared(
            TOKEN,
            prepared,
            "GET",
            URL,
            Some(&digest),
            SystemTime::now()
        )
        .await
        .is_ok()
    );
    let prepared = v.prepare_proof(&proof).unwrap();
    let wrong = v
        .verify_prepared(
            TOKEN,
            prepared,
            "GET",
            URL,
            Some(&[0u8; 32]),
            SystemTime::now(),
        )
        .await
        .unwrap_err();
    assert_eq!(wrong.description(), "DPoP Proof ath mismatch");
}
