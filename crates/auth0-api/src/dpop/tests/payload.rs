//! The JWS decode of the payload and signature, the claim checks and server nonces.

#![allow(clippy::unwrap_used, clippy::expect_used, clippy::panic)]

use super::*;

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
