//! verify_access_token: the reference's cases and the stricter checks.

use auth0_api::{Algorithm, VerifyOptions};
use serde_json::json;

use crate::{AUD, client, fail, options, tenant};

#[tokio::test]
async fn reference_cases() {
    let t = tenant().await;
    let c = client(options(&t));

    // success, with act preserved
    let token = t
        .mint()
        .sub("user_123")
        .aud(json!(AUD))
        .act(json!({"sub": "mcp_server_client_id"}))
        .sign();
    let claims = c.verify_access_token(&token).await.expect("valid token");
    assert_eq!(claims.sub(), Some("user_123"));
    assert_eq!(
        claims.act().and_then(|a| a["sub"].as_str()),
        Some("mcp_server_client_id")
    );
    assert_eq!(
        auth0_api::act::current_actor(&claims).unwrap(),
        Some("mcp_server_client_id")
    );

    let cases: Vec<(String, &str)> = vec![
        (
            t.mint().aud(json!(AUD)).remove_claim("iss").sign(),
            "Token missing 'iss' claim",
        ),
        (
            t.mint()
                .aud(json!(AUD))
                .issuer("https://other-tenant.example.com/")
                .sign(),
            "Token issuer does not match the discovery issuer",
        ),
        (
            t.mint().remove_claim("aud").sign(),
            "Audience mismatch (single aud)",
        ),
        (
            t.mint().aud(json!("wrong")).sign(),
            "Audience mismatch (single aud)",
        ),
        (
            t.mint().aud(json!(["a", "b"])).sign(),
            "Audience mismatch (not in token's aud array)",
        ),
        (
            t.mint().aud(json!(AUD)).remove_claim("iat").sign(),
            "Missing 'iat' claim in token",
        ),
        (
            t.mint().aud(json!(AUD)).remove_claim("exp").sign(),
            "Token is expired",
        ),
        (
            t.mint().aud(json!(AUD)).expired().sign(),
            "Token is expired",
        ),
        (
            "invalid-token".to_owned(),
            "Failed to parse token header: Invalid token format: expected 3 segments, got 1",
        ),
        (
            t.mint().aud(json!(AUD)).sign_with_hs256(b"secret"),
            "Symmetric algorithm 'HS256' is not supported. Only asymmetric algorithms (e.g., RS256) are allowed.",
        ),
        (
            t.mint().aud(json!(AUD)).remove_header("kid").sign(),
            "Token header missing 'kid' claim",
        ),
        (
            t.mint().aud(json!(AUD)).kid("unknown-kid").sign(),
            "No matching key found in JWKS",
        ),
    ];
    for (token, want) in cases {
        let e = fail(&c, &token).await;
        assert_eq!(e.description(), want);
        assert_eq!(e.error_code(), "invalid_token");
        assert_eq!(e.status_code(), 401);
    }
    let e = c.verify_access_token("").await.unwrap_err();
    assert_eq!(e.error_code(), "invalid_request");
    assert!(e.description().contains("access_token"));

    // aud array containing the audience, and required claims
    let token = t.mint().aud(json!(["x", AUD])).scope("read").sign();
    assert!(c.verify_access_token(&token).await.is_ok());
    let opts = VerifyOptions::default()
        .require_claim("scope")
        .require_claim("org_id");
    let e = c.verify_access_token_with(&token, &opts).await.unwrap_err();
    assert_eq!(e.description(), "Missing required claim: org_id");
}

#[tokio::test]
async fn signature_failures_use_authlib_texts() {
    let t = tenant().await;
    let c = client(options(&t));
    let good = t.mint().aud(json!(AUD)).sign();
    let mut parts: Vec<&str> = good.split('.').collect();
    let other = t.mint().aud(json!(AUD)).sub("someone-else").sign();
    let other_sig = other.rsplit('.').next().unwrap().to_owned();
    parts[2] = &other_sig;
    let e = fail(&c, &parts.join(".")).await;
    assert_eq!(
        e.description(),
        "Signature verification failed: bad_signature: "
    );
    let e = fail(
        &c,
        &t.mint()
            .aud(json!(AUD))
            .header("alg", json!("RS384"))
            .sign(),
    )
    .await;
    assert_eq!(
        e.description(),
        "Signature verification failed: unsupported_algorithm: "
    );
    let e = fail(&c, &t.mint().aud(json!(AUD)).unsigned_none()).await;
    assert!(
        e.description()
            .starts_with("Signature verification failed:"),
        "{e}"
    );
    let e = fail(&c, &t.mint().aud(json!(AUD)).remove_header("alg").sign()).await;
    assert_eq!(
        e.description(),
        "Signature verification failed: missing_algorithm: "
    );
}

#[tokio::test]
async fn stricter_than_the_reference() {
    let t = tenant().await;
    let c = client(options(&t));
    let ok = || t.mint().aud(json!(AUD));

    // nbf in the future, and leeway
    let e = fail(&c, &ok().claim("nbf", json!(4_000_000_000u64)).sign()).await;
    assert_eq!(e.description(), "Token is not yet valid (nbf)");
    let soon = ok().claim("nbf", json!(now() + 5)).sign();
    assert!(c.verify_access_token(&soon).await.is_err());
    let lenient = crate::client(options(&t).clock_leeway(std::time::Duration::from_secs(30)));
    assert!(lenient.verify_access_token(&soon).await.is_ok());
    let just_expired = ok().claim("exp", json!(now() - 5)).sign();
    assert!(lenient.verify_access_token(&just_expired).await.is_ok());

    // crit refused, even naming a registered header
    let e = fail(
        &c,
        &ok()
            .header("crit", json!(["exp"]))
            .header("exp", json!(1))
            .sign(),
    )
    .await;
    assert_eq!(
        e.description(),
        "Signature verification failed: invalid_crit_header_parameter_name: Invalid Header Parameter Name: exp"
    );

    // key material and URLs in the token header are never used
    let attacker = r#"{"kty":"RSA","n":"AQAB","e":"AQAB"}"#;
    for (name, value) in [
        ("jku", json!("https://attacker.example.com/jwks.json")),
        ("x5u", json!("https://attacker.example.com/cert.pem")),
        ("jwk", serde_json::from_str(attacker).unwrap()),
        ("x5c", json!(["MIIB"])),
    ] {
        let token = ok().header(name, value).sign();
        assert!(
            c.verify_access_token(&token).await.is_ok(),
            "{name} is ignored, the JWKS key is used"
        );
    }

    // not-finite or non-numeric times
    let e = fail(&c, &ok().claim("exp", json!("never")).sign()).await;
    assert_eq!(e.description(), "Invalid 'exp' claim (must be a number)");
    let raw_nan = t.mint().raw(
        br#"{"alg":"RS256","kid":"x"}"#,
        format!(
            r#"{{"iss":"{}","aud":"{AUD}","iat":1,"exp":NaN}}"#,
            t.issuer()
        )
        .as_bytes(),
    );
    let e = fail(&c, &raw_nan).await;
    assert!(
        e.description()
            .starts_with("Failed to parse token payload: "),
        "{e}"
    );

    // header or payload that is not a JSON object
    let header_array = t.mint().raw(b"[1]", br#"{"a":1}"#);
    assert_eq!(
        fail(&c, &header_array).await.description(),
        "Failed to parse token header: segment is not a JSON object"
    );
    let payload_array = t.mint().raw(br#"{"alg":"RS256"}"#, b"[1]");
    assert_eq!(
        fail(&c, &payload_array).await.description(),
        "Failed to parse token payload: segment is not a JSON object"
    );

    // duplicate names in the JWS header
    let dup = t
        .mint()
        .raw(br#"{"alg":"RS256","alg":"none"}"#, br#"{"a":1}"#);
    assert_eq!(
        fail(&c, &dup).await.description(),
        "Failed to parse token header: duplicate member name 'alg'"
    );

    // oversized token
    let big = ok().claim("pad", json!("x".repeat(20_000))).sign();
    assert_eq!(
        fail(&c, &big).await.description(),
        "Failed to parse token header: token is larger than 16384 bytes"
    );

    // non-canonical base64url (padding)
    let token = ok().sign();
    let (h, rest) = token.split_once('.').unwrap();
    let padded = format!("{h}=.{rest}");
    assert!(
        fail(&c, &padded)
            .await
            .description()
            .starts_with("Failed to parse token header")
    );
}

#[tokio::test]
async fn small_rsa_keys_and_other_algorithms() {
    let t = tenant().await;
    let c = client(options(&t));
    // An RSA key under 2048 bits in the JWKS is refused.
    if let Ok(kid) = t.add_key_with_bits(1024) {
        let token = t.mint().aud(json!(AUD)).signing_kid(kid).sign();
        let e = fail(&c, &token).await;
        assert!(e.description().contains("RSA modulus of 1024 bits"), "{e}");
    }
    // A client allowing RS256 and PS256 still refuses a token whose alg is not allowed.
    let c2 = client(options(&t).algorithms([Algorithm::PS256]));
    let e = fail(&c2, &t.mint().aud(json!(AUD)).sign()).await;
    assert_eq!(
        e.description(),
        "Signature verification failed: unsupported_algorithm: "
    );
}

#[tokio::test]
async fn several_audiences() {
    let t = tenant().await;
    let c = client(options(&t).audience("https://second.example.com"));
    assert!(
        c.verify_access_token(&t.mint().aud(json!("https://second.example.com")).sign())
            .await
            .is_ok()
    );
    assert!(
        c.verify_access_token(&t.mint().aud(json!(AUD)).sign())
            .await
            .is_ok()
    );
    assert!(
        c.verify_access_token(&t.mint().aud(json!("https://third.example.com")).sign())
            .await
            .is_err()
    );
}

/// The reasons as values: an application can `match` on why a token was refused.
#[tokio::test]
async fn typed_reasons() {
    use auth0_api::error::{Reason, TokenError, TokenPart};
    let t = tenant().await;
    let c = client(options(&t));
    let good = t.mint().aud(json!(AUD)).sign();
    let other = t.mint().aud(json!(AUD)).sub("someone-else").sign();
    let (signed, _) = good.rsplit_once('.').unwrap();
    let (_, other_sig) = other.rsplit_once('.').unwrap();
    let cases: Vec<(String, Reason)> = vec![
        (
            t.mint().aud(json!(AUD)).expired().sign(),
            Reason::Token(TokenError::Expired),
        ),
        (
            t.mint().aud(json!("wrong")).sign(),
            Reason::Token(TokenError::AudienceMismatch { array: false }),
        ),
        (
            t.mint().aud(json!(["a", "b"])).sign(),
            Reason::Token(TokenError::AudienceMismatch { array: true }),
        ),
        (
            t.mint().aud(json!(AUD)).kid("unknown-kid").sign(),
            Reason::Token(TokenError::UnknownKey),
        ),
        (
            t.mint().aud(json!(AUD)).remove_header("kid").sign(),
            Reason::Token(TokenError::MissingKid),
        ),
        (
            format!("{signed}.{other_sig}"),
            Reason::Token(TokenError::BadSignature),
        ),
        (
            t.mint().aud(json!(AUD)).remove_claim("iss").sign(),
            Reason::Token(TokenError::MissingIssuer),
        ),
        (
            t.mint().aud(json!(AUD)).sign_with_hs256(b"secret"),
            Reason::Token(TokenError::SymmetricAlgorithm("HS256".to_owned())),
        ),
    ];
    for (token, reason) in cases {
        let e = fail(&c, &token).await;
        assert_eq!(e.reason(), &reason, "{e}");
        assert_eq!(e.description(), reason_text(&reason));
    }
    let e = fail(&c, "invalid-token").await;
    match e.reason() {
        Reason::Token(TokenError::Malformed {
            part: TokenPart::Header,
            ..
        }) => {}
        other => panic!("{other:?}"),
    }
    // The same reasons after a token with the same header verified.
    c.verify_access_token(&good).await.unwrap();
    let e = fail(&c, &format!("{signed}.{other_sig}")).await;
    assert_eq!(e.token_error(), Some(&TokenError::BadSignature));
}

fn reason_text(reason: &auth0_api::error::Reason) -> String {
    match reason {
        auth0_api::error::Reason::Token(e) => e.to_string(),
        _ => String::new(),
    }
}

fn now() -> i64 {
    std::time::SystemTime::now()
        .duration_since(std::time::UNIX_EPOCH)
        .unwrap()
        .as_secs() as i64
}
