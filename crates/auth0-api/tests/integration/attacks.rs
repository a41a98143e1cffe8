//! The attack catalogue of `docs/SECURITY.md`: one test per attack that no other test pins.
//! Attacks already pinned elsewhere (plain `alg: none`, `HS256` with a guessed secret, `jku` and
//! friends on a genuine token, `crit: ["exp"]`, oversized tokens and headers, a duplicate `alg`,
//! an array as header or payload, `NaN` times, a proof with `d`, a proof signed by another key,
//! a proof for another token, a tenant outside the list, discovery issuer confusion, a JWKS key
//! of the wrong type, a 1024-bit key) are listed in `docs/SECURITY.md` with their tests.
//!
//! Each test says why the attack matters, citing RFC 8725 (JWT Best Current Practices) or
//! RFC 9449 (DPoP).

use std::time::{Duration, SystemTime, UNIX_EPOCH};

use auth0_api::__fuzz::jws::{self, DecodeError};
use auth0_api::__fuzz::keys::{KeyError, VerifyingKey};
use auth0_api::act::{current_actor, delegation_chain};
use auth0_api::{__fuzz, Algorithm, ApiClient, ApiClientOptions, DpopMode};
use auth0_api_dev_tenant::dpop::DpopKey;
use auth0_api_dev_tenant::{Endpoint, Fault};
use aws_lc_rs::rand::SystemRandom;
use aws_lc_rs::signature::{ECDSA_P256_SHA256_FIXED_SIGNING, EcdsaKeyPair, KeyPair as _};
use base64::Engine as _;
use base64::engine::general_purpose::URL_SAFE_NO_PAD;
use serde_json::{Map, Value, json};

use crate::{AUD, client, fail, options, tenant};

const URL: &str = "https://api.example.com/resource";
const TOKEN: &str = "access-token";

fn b64(bytes: impl AsRef<[u8]>) -> String {
    URL_SAFE_NO_PAD.encode(bytes)
}

fn now() -> i64 {
    SystemTime::now()
        .duration_since(UNIX_EPOCH)
        .map(|d| d.as_secs() as i64)
        .unwrap_or(0)
}

/// A client whose tenant (`127.0.0.1:9`, the discard port) is never reached: for proof checks.
fn offline() -> ApiClient {
    client(
        ApiClientOptions::builder()
            .domain("127.0.0.1:9")
            .audience(AUD)
            .http_timeout(Duration::from_millis(500)),
    )
}

/// The description of a proof `verify_dpop_proof` refuses (GET URL, TOKEN).
async fn proof_refused(c: &ApiClient, proof: &str) -> String {
    match c.verify_dpop_proof(TOKEN, proof, "GET", URL).await {
        Ok(v) => panic!("expected a refusal, got {:?}", v.claims),
        Err(e) => {
            assert_eq!(
                (e.status_code(), e.error_code()),
                (400, "invalid_dpop_proof")
            );
            e.description().to_owned()
        }
    }
}

/// A P-256 key that signs any header and payload bytes, for proofs no builder would make.
struct RawEcKey {
    pair: EcdsaKeyPair,
    jwk: Value,
}

impl RawEcKey {
    fn new() -> Self {
        let pair = EcdsaKeyPair::generate(&ECDSA_P256_SHA256_FIXED_SIGNING).unwrap();
        let p = pair.public_key().as_ref().to_vec();
        let jwk = json!({"kty": "EC", "crv": "P-256", "x": b64(&p[1..33]), "y": b64(&p[33..])});
        Self { pair, jwk }
    }

    fn sign(&self, header: &[u8], payload: &[u8]) -> String {
        let input = format!("{}.{}", b64(header), b64(payload));
        let sig = self
            .pair
            .sign(&SystemRandom::new(), input.as_bytes())
            .unwrap();
        format!("{input}.{}", b64(sig.as_ref()))
    }

    fn claims(&self) -> Value {
        let ath = b64(aws_lc_rs::digest::digest(
            &aws_lc_rs::digest::SHA256,
            TOKEN.as_bytes(),
        ));
        json!({"jti": format!("jti-{}", now()), "htm": "GET", "htu": URL, "iat": now(), "ath": ath})
    }
}

/// The active signing key's public JWK as the tenant publishes it.
fn active_jwk(t: &auth0_api_dev_tenant::DevTenant) -> Value {
    let kid = t.active_kid();
    t.jwks()["keys"]
        .as_array()
        .unwrap()
        .iter()
        .find(|k| k["kid"] == json!(kid))
        .cloned()
        .unwrap()
}

/// A JWK for an RSA "key" whose modulus has exactly `bits` bits (odd, top bit set).
fn rsa_jwk_with_bits(kid: &str, bits: usize) -> Value {
    let len = bits.div_ceil(8);
    let mut n = vec![0xa7u8; len];
    let top_bits = bits - (len - 1) * 8;
    n[0] = (1u8 << (top_bits - 1)) | (0xa7 >> (9 - top_bits).min(7));
    n[len - 1] |= 1;
    json!({"kid": kid, "kty": "RSA", "n": b64(&n), "e": "AQAB"})
}

/// RFC 8725 section 2.1 and 3.1: an unsecured JWS (`alg: none`) must never verify. Algorithm
/// names are case-sensitive (RFC 7515 section 4.1.1), so `None`, `NONE` and `nOnE` are not
/// aliases of anything; all of them are refused as unsupported algorithms, with or without a
/// signature, for access tokens and for DPoP proofs. (`none` in lower case alone is pinned by
/// `access_token::signature_failures_use_authlib_texts` and
/// `request::verify_dpop_proof_fail_invalid_alg`.)
#[tokio::test]
async fn alg_none_in_any_case_is_refused() {
    let t = tenant().await;
    let c = client(options(&t));
    let claims = t.mint().aud(json!(AUD));
    let payload = serde_json::to_vec(claims.claims_json()).unwrap();
    for alg in ["none", "None", "NONE", "nOnE", "none "] {
        let header = json!({"alg": alg, "typ": "JWT", "kid": t.active_kid()});
        let header_bytes = serde_json::to_vec(&header).unwrap();
        // Unsigned, as RFC 7519 section 6.1 writes it (empty signature) ...
        let unsigned = format!("{}.{}.", b64(&header_bytes), b64(&payload));
        // ... and carrying a genuine RS256 signature over the same bytes.
        let signed = t.mint().raw(&header_bytes, &payload);
        for token in [unsigned, signed] {
            assert_eq!(
                fail(&c, &token).await.description(),
                "Signature verification failed: unsupported_algorithm: ",
                "{alg:?}"
            );
        }
    }
    let key = RawEcKey::new();
    for alg in ["None", "NONE", "nOnE"] {
        let header = json!({"typ": "dpop+jwt", "alg": alg, "jwk": key.jwk});
        let proof = key.sign(
            header.to_string().as_bytes(),
            key.claims().to_string().as_bytes(),
        );
        let unsigned = format!("{}.", proof.rsplit_once('.').unwrap().0);
        for p in [proof, unsigned] {
            assert_eq!(
                proof_refused(&offline(), &p).await,
                "Unsupported algorithm in DPoP proof"
            );
        }
    }
}

/// RFC 8725 section 2.1 (algorithm confusion): a verifier that lets the token choose HMAC can be
/// made to use the RSA *public* key as the HMAC secret, and anyone can sign with that. Every
/// form of the published key an implementation might pass as "the key" is tried as the
/// secret; `HS*` is refused before any network call, and a lower-case `hs256` (not an algorithm
/// at all) is refused as unsupported. (`HS256` with an unrelated secret is pinned by
/// `access_token::reference_cases`.)
#[tokio::test]
async fn hs256_keyed_with_the_rsa_public_key_is_refused() {
    let t = tenant().await;
    let c = client(options(&t));
    let jwk = active_jwk(&t);
    let n = jwk["n"].as_str().unwrap().to_owned();
    let secrets: Vec<Vec<u8>> = vec![
        n.as_bytes().to_vec(),
        URL_SAFE_NO_PAD.decode(&n).unwrap(),
        jwk.to_string().into_bytes(),
        t.jwks().to_string().into_bytes(),
    ];
    for secret in &secrets {
        let token = t.mint().aud(json!(AUD)).sign_with_hs256(secret);
        assert_eq!(
            fail(&c, &token).await.description(),
            "Symmetric algorithm 'HS256' is not supported. Only asymmetric algorithms (e.g., RS256) are allowed."
        );
    }
    assert_eq!(t.stats().discovery, 0, "refused before any fetch");
    assert_eq!(t.stats().jwks, 0);

    // `hs256`, `Hs256`, `HS256 `: not names of any algorithm this library knows.
    let payload = serde_json::to_vec(t.mint().aud(json!(AUD)).claims_json()).unwrap();
    for alg in ["hs256", "Hs256", " HS256"] {
        let header = json!({"alg": alg, "kid": t.active_kid()}).to_string();
        let input = format!("{}.{}", b64(&header), b64(&payload));
        let key = aws_lc_rs::hmac::Key::new(aws_lc_rs::hmac::HMAC_SHA256, n.as_bytes());
        let tag = aws_lc_rs::hmac::sign(&key, input.as_bytes());
        let token = format!("{input}.{}", b64(tag.as_ref()));
        assert_eq!(
            fail(&c, &token).await.description(),
            "Signature verification failed: unsupported_algorithm: ",
            "{alg:?}"
        );
    }
}

/// RFC 8725 section 3.10: `kid` is attacker-controlled and must not be used as a path, a query
/// or anything but an opaque lookup key. Paths, very long, Unicode, embedded NUL (truncation),
/// case variants and non-string values never match a published key, and a flood of them costs
/// at most one JWKS refetch per cooldown.
#[tokio::test]
async fn odd_kid_values_are_opaque_misses() {
    let t = tenant().await;
    let c = client(options(&t));
    let active = t.active_kid();
    let misses: Vec<Value> = vec![
        json!("../../etc/passwd"),
        json!("/dev/stdin"),
        json!("file:///etc/passwd"),
        json!("' OR '1'='1"),
        json!("k".repeat(8_000)),
        json!("ключ-🔑-\u{202e}"),
        json!("\u{0}"),
        json!(format!("{active}\u{0}")),
        json!(format!("{active}\u{0}junk")),
        json!(active.to_uppercase()),
        json!(format!(" {active}")),
        json!(7),
        json!(1e300),
        json!(true),
        json!([active.clone()]),
        json!({"kid": active.clone()}),
    ];
    for kid in misses {
        let token = t.mint().aud(json!(AUD)).header("kid", kid.clone()).sign();
        assert_eq!(
            fail(&c, &token).await.description(),
            "No matching key found in JWKS",
            "{kid}"
        );
    }
    // Falsy kids count as missing, as in the reference.
    for kid in [
        json!(""),
        json!(0),
        json!(false),
        json!([]),
        json!({}),
        Value::Null,
    ] {
        let token = t.mint().aud(json!(AUD)).header("kid", kid.clone()).sign();
        assert_eq!(
            fail(&c, &token).await.description(),
            "Token header missing 'kid' claim",
            "{kid}"
        );
    }
    assert!(
        t.stats().jwks <= 2,
        "unknown kids forced {} JWKS fetches",
        t.stats().jwks
    );
    // The genuine kid still works.
    c.verify_access_token(&t.mint().aud(json!(AUD)).sign())
        .await
        .unwrap();
}

/// RFC 8725 section 3.10 and RFC 7515 sections 4.1.2 to 4.1.6: `jku`, `x5u`, `jwk` and `x5c` in
/// an access token's header name key material chosen by whoever made the token. They are never
/// fetched nor used: an attacker who runs a server of their own and signs with its key (header
/// pointing there, `iss` naming our tenant) gets "no matching key", and their server sees no
/// request. (A genuine token carrying these headers is pinned by
/// `access_token::stricter_than_the_reference`.)
#[tokio::test]
async fn keys_named_in_a_token_header_are_never_fetched_or_used() {
    let t = tenant().await;
    let attacker = tenant().await;
    let c = client(options(&t).root_ca_pem(attacker.ca_pem()));
    let attacker_jwk = active_jwk(&attacker);
    let forged = |kid: &str| {
        attacker
            .mint()
            .issuer(t.issuer())
            .aud(json!(AUD))
            .header("kid", json!(kid))
            .header("jku", json!(attacker.jwks_uri()))
            .header("x5u", json!(attacker.discovery_url()))
            .header("jwk", attacker_jwk.clone())
            .header(
                "x5c",
                json!(["MIIBIjANBgkqhkiG9w0BAQEFAAOCAQ8AMIIBCgKCAQEA"]),
            )
            .sign()
    };
    attacker.reset_stats();
    assert_eq!(
        fail(&c, &forged(&attacker.active_kid()))
            .await
            .description(),
        "No matching key found in JWKS"
    );
    // Naming our key's kid instead: our key is used, and the signature does not verify.
    assert_eq!(
        fail(&c, &forged(&t.active_kid())).await.description(),
        "Signature verification failed: bad_signature: "
    );
    assert_eq!(
        (attacker.stats().discovery, attacker.stats().jwks),
        (0, 0),
        "nothing fetched from the attacker's server"
    );
}

/// RFC 7515 section 4.1.11: a `crit` header lists extensions the verifier must understand or
/// reject the token; this library understands none, so every `crit` is refused, whatever its
/// shape. The dangerous one is RFC 7797's `b64: false` (unencoded payload), which changes what
/// the signature covers. (`crit: ["exp"]` is pinned by `access_token::stricter_than_the_reference`,
/// DPoP proofs by the unit test `dpop::tests::crit_is_refused`.)
#[tokio::test]
async fn crit_in_any_shape_is_refused() {
    let t = tenant().await;
    let c = client(options(&t));
    let named = |name: &str| {
        format!(
            "Signature verification failed: invalid_crit_header_parameter_name: Invalid Header Parameter Name: {name}"
        )
    };
    let bare = "Signature verification failed: invalid_header_parameter_name: Invalid Header Parameter Name: crit";
    // (crit, an extra header member, the description)
    type Case = (Value, Option<(&'static str, Value)>, String);
    let cases: Vec<Case> = vec![
        (json!(["b64"]), Some(("b64", json!(false))), named("b64")),
        (json!(["x-unknown"]), None, named("x-unknown")),
        (json!([]), None, named("")),
        (json!("b64"), Some(("b64", json!(false))), bare.to_owned()),
        (json!([1]), None, bare.to_owned()),
        (json!(null), None, bare.to_owned()),
    ];
    for (crit, extra, want) in cases {
        let mut b = t.mint().aud(json!(AUD)).header("crit", crit.clone());
        if let Some((k, v)) = extra {
            b = b.header(k, v);
        }
        assert_eq!(fail(&c, &b.sign()).await.description(), want, "{crit}");
    }
}

/// Resource exhaustion through the tenant's documents: a JWKS over the 1 MiB body cap, a JWKS
/// nested a million levels deep (serde_json's recursion limit answers, not the stack), and a
/// JWKS with more than 100 keys (only the first 100 are read, so a huge key set cannot cost a
/// key parse per member). Discovery over the cap is pinned by `misbehaving::discovery_failures`.
#[tokio::test]
async fn oversized_and_deeply_nested_documents_are_refused() {
    let t = tenant().await;
    let token = t.mint().aud(json!(AUD)).sign();
    let body = |body: Vec<u8>| {
        Some(Fault::Body {
            status: 200,
            content_type: "application/json".into(),
            body,
        })
    };
    let mut huge = br#"{"keys":[],"pad":""#.to_vec();
    huge.extend(std::iter::repeat_n(b'x', 1024 * 1024));
    huge.extend(br#""}"#);
    t.set_fault(Endpoint::Jwks, body(huge));
    assert_eq!(
        fail(&client(options(&t)), &token).await.description(),
        "Failed to fetch JWKS: response body exceeds 1048576 bytes"
    );

    let depth = 500_000;
    let mut deep = br#"{"keys":"#.to_vec();
    deep.extend(std::iter::repeat_n(b'[', depth));
    deep.extend(std::iter::repeat_n(b']', depth));
    deep.push(b'}');
    t.set_fault(Endpoint::Jwks, body(deep.clone()));
    assert!(
        fail(&client(options(&t)), &token)
            .await
            .description()
            .starts_with("Failed to fetch JWKS: invalid JSON: "),
    );
    t.set_fault(Endpoint::Jwks, None);
    t.set_fault(Endpoint::Discovery, body(deep));
    assert!(
        fail(&client(options(&t)), &token)
            .await
            .description()
            .starts_with("Failed to fetch OIDC discovery metadata: invalid JSON: "),
    );
    t.set_fault(Endpoint::Discovery, None);

    let junk =
        |i: usize| json!({"kid": format!("junk-{i}"), "kty": "RSA", "n": "AQAB", "e": "AQAB"});
    let mut keys: Vec<Value> = (0..100).map(junk).collect();
    keys.push(active_jwk(&t));
    let late = serde_json::to_vec(&json!({ "keys": keys })).unwrap();
    t.set_fault(Endpoint::Jwks, body(late));
    assert_eq!(
        fail(&client(options(&t)), &token).await.description(),
        "No matching key found in JWKS",
        "the 101st key is never read"
    );
    let mut keys: Vec<Value> = vec![active_jwk(&t)];
    keys.extend((0..5_000).map(junk));
    let early = serde_json::to_vec(&json!({ "keys": keys })).unwrap();
    t.set_fault(Endpoint::Jwks, body(early));
    client(options(&t))
        .verify_access_token(&token)
        .await
        .unwrap();
}

/// RFC 8725 section 3.2 and RFC 7515 section 4: a JSON object with a name twice is read
/// differently by different parsers (first wins, last wins), so a token could mean one thing
/// to whoever checked it and another to whoever uses it. Duplicates are refused in the access
/// token's payload and in a DPoP proof's header and payload. (A duplicate `alg` in an access
/// token's header is pinned by `access_token::stricter_than_the_reference`.)
#[tokio::test]
async fn duplicate_names_in_payloads_and_proofs_are_refused() {
    let t = tenant().await;
    let c = client(options(&t));
    let header = format!(r#"{{"alg":"RS256","kid":"{}"}}"#, t.active_kid());
    let exp = now() + 600;
    for (claims, name) in [
        (
            format!(
                r#"{{"iss":"{0}","iss":"https://evil.example.com/","aud":"{AUD}","iat":1,"exp":{exp}}}"#,
                t.issuer()
            ),
            "iss",
        ),
        (
            format!(
                r#"{{"iss":"{0}","aud":"{AUD}","sub":"user","sub":"admin","iat":1,"exp":{exp}}}"#,
                t.issuer()
            ),
            "sub",
        ),
    ] {
        let token = t.mint().raw(header.as_bytes(), claims.as_bytes());
        assert_eq!(
            fail(&c, &token).await.description(),
            format!("Failed to parse token payload: duplicate member name '{name}'")
        );
    }

    let key = RawEcKey::new();
    let other = RawEcKey::new();
    // Two jwk members: one that signed, one that a careless reader might thumbprint.
    let header = format!(
        r#"{{"typ":"dpop+jwt","alg":"ES256","jwk":{},"jwk":{}}}"#,
        key.jwk, other.jwk
    );
    let proof = key.sign(header.as_bytes(), key.claims().to_string().as_bytes());
    assert_eq!(
        proof_refused(&offline(), &proof).await,
        "Failed to verify DPoP proof"
    );
    let header = json!({"typ": "dpop+jwt", "alg": "ES256", "jwk": key.jwk}).to_string();
    let claims = key.claims().to_string();
    let payload = format!(
        r#"{},"htu":"https://evil.example.com/"}}"#,
        &claims[..claims.len() - 1]
    );
    let proof = key.sign(header.as_bytes(), payload.as_bytes());
    assert_eq!(
        proof_refused(&offline(), &proof).await,
        "JWT signature verification failed: decode_error: Invalid payload value"
    );
}

/// RFC 8725 section 3.9 and RFC 7519 section 2 (NumericDate): times are JSON numbers. `NaN`,
/// `Infinity` and `1e309` are not JSON (serde_json refuses the last as out of range), a
/// negative `exp` is long past, and numbers in strings or other types are refused. A huge but
/// finite `exp` is the issuer's choice and is accepted, without overflowing the verified-token
/// cache's clock. (`NaN` and a string `exp` are pinned by `access_token::stricter_than_the_reference`;
/// DPoP `iat` by the unit test `dpop::tests::iat_window`.)
#[tokio::test]
async fn non_finite_negative_and_mistyped_times() {
    let t = tenant().await;
    let c = client(options(&t));
    let header = format!(r#"{{"alg":"RS256","kid":"{}"}}"#, t.active_kid());
    // The token's claims with `name` set to the raw JSON text `raw`.
    let with = |name: &str, raw: &str| {
        let mut members = vec![
            ("iss", format!("\"{}\"", t.issuer())),
            ("aud", format!("\"{AUD}\"")),
            ("iat", "1".to_owned()),
            ("exp", (now() + 600).to_string()),
        ];
        members.retain(|(n, _)| *n != name);
        members.push((name, raw.to_owned()));
        let members: Vec<String> = members
            .iter()
            .map(|(n, v)| format!("\"{n}\":{v}"))
            .collect();
        format!("{{{}}}", members.join(","))
    };
    for (name, raw) in [
        ("exp", "Infinity"),
        ("exp", "-Infinity"),
        ("exp", "1e309"),
        ("nbf", "-1e309"),
        ("iat", "NaN"),
    ] {
        let token = t.mint().raw(header.as_bytes(), with(name, raw).as_bytes());
        assert!(
            fail(&c, &token)
                .await
                .description()
                .starts_with("Failed to parse token payload: "),
            "{name}={raw}"
        );
    }
    let ok = || t.mint().aud(json!(AUD));
    for (name, value, want) in [
        ("exp", json!(-1), "Token is expired"),
        ("exp", json!(-1e308), "Token is expired"),
        ("exp", json!(true), "Invalid 'exp' claim (must be a number)"),
        (
            "exp",
            json!([4_000_000_000u64]),
            "Invalid 'exp' claim (must be a number)",
        ),
        ("iat", json!("1"), "Invalid 'iat' claim (must be a number)"),
        ("nbf", json!({}), "Invalid 'nbf' claim (must be a number)"),
        ("nbf", json!(1e308), "Token is not yet valid (nbf)"),
    ] {
        let token = ok().claim(name, value.clone()).sign();
        assert_eq!(fail(&c, &token).await.description(), want, "{name}={value}");
    }
    for exp in [json!(f64::MAX), json!(u64::MAX)] {
        let token = ok().claim("exp", exp).sign();
        c.verify_access_token(&token).await.unwrap();
        c.verify_access_token(&token).await.unwrap();
    }
}

/// RFC 9449 section 4.3 (check 9) and section 11.7 (untrusted `htu`): `htu` is compared with
/// the request URL after WHATWG URL normalisation, so look-alike hosts (Cyrillic `а`, Greek
/// `ο`), hosts that only end or begin like ours, userinfo tricks and a trailing dot never match;
/// spellings that the URL Standard maps to the very same host (full-width letters,
/// percent-escapes in the host, IDNA upper case) do.
#[tokio::test]
async fn confusable_and_idna_hosts_in_htu() {
    let c = offline();
    let key = DpopKey::generate();
    let proof = |htu: &str| key.proof("GET", htu, Some(TOKEN)).sign();
    for htu in [
        "https://\u{430}pi.example.com/resource",
        "https://api.ex\u{3bf}mple.com/resource",
        "https://xn--pi-6kc.example.com/resource",
        "https://api.example.com.evil.example/resource",
        "https://evil-api.example.com/resource",
        "https://api.example.com@evil.example/resource",
        "https://api.example.com%2f@evil.example/resource",
        "https://api.example.com./resource",
        "https://api.example.com:444/resource",
        "https://api.example.com/resource/",
    ] {
        assert_eq!(
            proof_refused(&c, &proof(htu)).await,
            "DPoP Proof htu mismatch",
            "{htu}"
        );
    }
    for htu in [
        "https://\u{ff41}\u{ff50}\u{ff49}.example.com/resource",
        "https://%61pi.example.com/resource",
        "https://API.Example.COM/resource",
        "https://evil.example@api.example.com/resource",
    ] {
        c.verify_dpop_proof(TOKEN, &proof(htu), "GET", URL)
            .await
            .unwrap_or_else(|e| panic!("{htu}: {e}"));
    }
    // The look-alike host is its punycode form, and matches only that.
    c.verify_dpop_proof(
        TOKEN,
        &proof("https://\u{430}pi.example.com/resource"),
        "GET",
        "https://xn--pi-6kc.example.com/resource",
    )
    .await
    .unwrap();
}

/// RFC 9449 section 4.3 (check 7): the proof's `jwk` must be a public key. A proof that carries
/// private members shows a client leaking its key; RFC 7518 section 6 names them (`d` for EC
/// and OKP, `p`, `q`, `dp`, `dq`, `qi`, `oth` for RSA, `k` for symmetric keys). (`d` is pinned by
/// `request::verify_dpop_proof_fail_private_key_in_jwk`.)
#[tokio::test]
async fn proof_with_any_private_member_is_refused() {
    let c = offline();
    let key = DpopKey::generate();
    for member in ["p", "q", "dp", "dq", "qi", "oth", "k"] {
        let mut jwk = key.public_jwk();
        jwk[member] = json!(b64([7u8; 32]));
        let proof = key.proof("GET", URL, Some(TOKEN)).header("jwk", jwk).sign();
        assert_eq!(
            proof_refused(&c, &proof).await,
            "Private key material found in jwk header",
            "{member}"
        );
    }
}

/// RFC 7517 section 4.5: `kid` values should be unique within a JWK Set, and when they are not
/// the choice must not be the token's. The first member with the token's `kid` is the only
/// one tried: a second member under the same `kid` (say, one slipped into the set) never
/// verifies a token, and the genuine key keeps working. (The unit test
/// `jwks::tests::parses_members_and_keeps_first_duplicate` pins the parser.)
#[tokio::test]
async fn jwks_with_duplicate_kids_uses_the_first_member_only() {
    let t = tenant().await;
    let active = t.active_kid();
    let second = t.add_key();
    let second_jwk = t.jwks()["keys"]
        .as_array()
        .unwrap()
        .iter()
        .find(|k| k["kid"] == json!(second))
        .cloned()
        .unwrap();
    t.retire_key(&second);
    let mut impostor = second_jwk;
    impostor["kid"] = json!(active);
    t.publish_raw_jwk(impostor);
    let c = client(options(&t));
    let by_second = t
        .mint()
        .aud(json!(AUD))
        .signing_kid(second)
        .kid(active.clone())
        .sign();
    assert_eq!(
        fail(&c, &by_second).await.description(),
        "Signature verification failed: bad_signature: "
    );
    c.verify_access_token(&t.mint().aud(json!(AUD)).sign())
        .await
        .unwrap();
}

/// RFC 8725 section 3.5 and NIST SP 800-131A: RSA keys under 2048 bits are too weak to trust,
/// and moduli over 8192 bits cost a verifier disproportionate time per signature. Both bounds
/// are enforced when the JWKS is parsed, to the bit. (A real 1024-bit key is pinned by
/// `access_token::small_rsa_keys_and_other_algorithms`.)
#[tokio::test]
async fn rsa_moduli_outside_2048_to_8192_bits_are_refused() {
    let t = tenant().await;
    t.publish_raw_jwk(rsa_jwk_with_bits("rsa-2047", 2047));
    t.publish_raw_jwk(rsa_jwk_with_bits("rsa-8193", 8193));
    t.publish_raw_jwk(rsa_jwk_with_bits("rsa-16384", 16384));
    let c = client(options(&t));
    for (kid, bits) in [("rsa-2047", 2047), ("rsa-8193", 8193), ("rsa-16384", 16384)] {
        let token = t.mint().aud(json!(AUD)).kid(kid).sign();
        assert_eq!(
            fail(&c, &token).await.description(),
            format!(
                "Signature verification failed: invalid_key: RSA modulus of {bits} bits is outside 2048..8192"
            )
        );
    }
    // The bounds themselves are accepted (the key parses; these moduli sign nothing).
    for bits in [2048, 8192] {
        let jwk = rsa_jwk_with_bits("edge", bits);
        let result = VerifyingKey::from_jwk(jwk.as_object().unwrap(), Algorithm::RS256);
        assert!(
            !matches!(result, Err(KeyError::RsaSize(_))),
            "{bits}: {result:?}"
        );
    }
}

/// RFC 8693 section 4.1: `act` nests one level per delegation. An attacker-made structure may
/// be arbitrarily deep; reading it must never recurse without bound. JSON deeper than
/// serde_json's recursion limit (128) is a clean parse error, however deep (10 000 levels here,
/// built iteratively); a token that deep is also over the 16 KiB cap; a delegation chain that
/// parses is walked iteratively and returned whole; and a 10 000-level `act` value
/// built in memory is walked without recursion too.
#[tokio::test]
async fn very_deep_act_chains_are_clean_errors() {
    let nested_text = |depth: usize| {
        let mut s = String::with_capacity(depth * 20);
        for i in 0..depth {
            s.push_str(&format!(r#"{{"sub":"actor{i}","act":"#));
        }
        s.push_str(r#"{"sub":"last"}"#);
        s.push_str(&"}".repeat(depth));
        s
    };
    let deep = format!(r#"{{"act":{}}}"#, nested_text(10_000));
    assert!(matches!(
        jws::parse_object(deep.as_bytes()),
        Err(DecodeError::Json(_))
    ));

    let t = tenant().await;
    let c = client(options(&t));
    let header = format!(r#"{{"alg":"RS256","kid":"{}"}}"#, t.active_kid());
    let payload = |depth: usize| {
        format!(
            r#"{{"iss":"{}","aud":"{AUD}","iat":1,"exp":{},"sub":"user","act":{}}}"#,
            t.issuer(),
            now() + 600,
            nested_text(depth)
        )
    };
    let too_big = t.mint().raw(header.as_bytes(), payload(10_000).as_bytes());
    assert_eq!(
        fail(&c, &too_big).await.description(),
        "Failed to parse token header: token is larger than 16384 bytes"
    );
    let too_deep = t.mint().raw(header.as_bytes(), payload(400).as_bytes());
    assert!(too_deep.len() < 16 * 1024);
    assert!(
        fail(&c, &too_deep)
            .await
            .description()
            .starts_with("Failed to parse token payload: "),
    );
    let deep_but_parsable = t.mint().raw(header.as_bytes(), payload(100).as_bytes());
    let claims = c.verify_access_token(&deep_but_parsable).await.unwrap();
    assert_eq!(current_actor(&claims).unwrap(), Some("actor0"));
    // A token that verifies has its whole chain returned (issue #14: it used to be refused
    // past 32 actors).
    assert_eq!(delegation_chain(&claims).unwrap().len(), 101);

    // 10 000 levels in memory, built and torn down iteratively.
    let mut act = json!({"sub": "last"});
    for i in (0..10_000).rev() {
        let mut level = Map::new();
        level.insert("sub".into(), json!(format!("actor{i}")));
        level.insert("act".into(), act);
        act = Value::Object(level);
    }
    let mut top = Map::new();
    top.insert("act".into(), act);
    let claims = __fuzz::claims(top);
    assert_eq!(current_actor(&claims).unwrap(), Some("actor0"));
    assert_eq!(
        delegation_chain(&claims).unwrap_err().description(),
        "Invalid act claim: delegation chain too deep"
    );
    let mut next = claims.into_object().remove("act");
    while let Some(Value::Object(mut level)) = next {
        next = level.remove("act");
    }
}

/// RFC 8725 sections 2.8 and 3.11 (cross-JWT confusion, explicit typing): a DPoP proof is not
/// an access token and an access token is not a proof. A proof presented as a Bearer token has
/// no issuer and no tenant signature; a genuine access token presented as a proof fails on its
/// `typ` (and has no `jwk`). And a proof's `jwk` is never a key for access tokens.
#[tokio::test]
async fn proofs_and_access_tokens_are_not_interchangeable() {
    let t = tenant().await;
    let c = client(options(&t).dpop_mode(DpopMode::Allowed));
    let key = DpopKey::generate();
    let proof = key.proof("GET", URL, Some(TOKEN)).sign();
    assert_eq!(
        fail(&c, &proof).await.description(),
        "Token missing 'iss' claim"
    );
    // A proof dressed with the tenant's issuer, audience and times is still signed by its own
    // key, named by its `jwk`, which is not in the JWKS.
    let dressed = key
        .proof("GET", URL, Some(TOKEN))
        .header("kid", json!(t.active_kid()))
        .claim("iss", json!(t.issuer()))
        .claim("aud", json!(AUD))
        .claim("exp", json!(now() + 600))
        .sign();
    assert_eq!(
        fail(&c, &dressed).await.description(),
        "Signature verification failed: unsupported_algorithm: "
    );
    let access_token = t.mint().aud(json!(AUD)).sign();
    assert_eq!(
        proof_refused(&offline(), &access_token).await,
        "Unexpected JWT 'typ' header parameter value"
    );
    let retyped = t
        .mint()
        .aud(json!(AUD))
        .header("typ", json!("dpop+jwt"))
        .sign();
    assert_eq!(
        proof_refused(&offline(), &retyped).await,
        "Unsupported algorithm in DPoP proof"
    );
    let with_jwk = t
        .mint()
        .aud(json!(AUD))
        .header("typ", json!("dpop+jwt"))
        .header("alg", json!("ES256"))
        .header("jwk", key.public_jwk())
        .sign();
    assert_eq!(
        proof_refused(&offline(), &with_jwk).await,
        "JWT signature verification failed: bad_signature: "
    );
}

/// RFC 8725 section 3.10 and OIDC Discovery section 3: the key set is trusted because TLS
/// authenticates where it comes from. A discovery document (from a misconfigured or
/// compromised tenant, or served from a cache that was written by one) that points
/// `jwks_uri` at plain `http` would let anyone on the path substitute keys; it is refused
/// before anything is fetched from it.
#[tokio::test]
async fn a_jwks_uri_over_plain_http_is_refused() {
    let t = tenant().await;
    let mut overrides = Map::new();
    overrides.insert(
        "jwks_uri".into(),
        json!(t.jwks_uri().replacen("https://", "http://", 1)),
    );
    t.set_discovery_overrides(overrides);
    let token = t.mint().aud(json!(AUD)).sign();
    assert_eq!(
        fail(&client(options(&t)), &token).await.description(),
        "Failed to fetch JWKS: jwks_uri must use https"
    );
    assert_eq!(t.stats().jwks, 0);
}
