//! Unit tests of the decoding, the checks and the known headers.
#![allow(clippy::unwrap_used)]

use std::borrow::Cow;

use serde_json::{Value, json};

use super::checks::*;
use super::decode::*;
use crate::error::{Result, TokenError};
use crate::jose::json_view;

const NONE: Expected<'static> = Expected {
    audiences: &[],
    required: &[],
};

/// Runs `f` on the payload view of `v`'s JSON text.
fn view<R>(v: &Value, expected: Expected<'_>, f: impl FnOnce(&Payload<'_>) -> R) -> R {
    let text = v.to_string();
    let mut p = Payload::new(expected);
    json_view::walk_object(&text, &mut p).unwrap();
    f(&p)
}

/// The claim checks of `v` with `leeway` seconds, for audience `aud` and required claims.
fn check(v: &Value, aud: &[String], req: &[String], leeway: f64) -> Result<()> {
    let expected = Expected {
        audiences: aud,
        required: req,
    };
    let rules = ClaimRules {
        discovery_issuer: "https://t/",
        leeway_secs: leeway,
        now: 1000.0,
    };
    view(v, expected, |p| check_claims(p, &rules))
}

fn issuer(v: Value) -> Result<String> {
    view(&v, NONE, |p| unverified_issuer(p).map(Cow::into_owned))
}

#[test]
fn claim_checks_in_reference_order() {
    let aud = vec!["api".to_owned()];
    let req = vec!["scope".to_owned()];
    let ok = json!({"iss":"https://t/","aud":"api","exp":2000,"iat":900,"scope":"x"});
    assert!(check(&ok, &aud, &req, 0.0).is_ok());
    let case = |patch: Value| {
        let mut v = ok.clone();
        for (k, val) in patch.as_object().unwrap() {
            if val.is_null() {
                v.as_object_mut().unwrap().remove(k);
            } else {
                v[k] = val.clone();
            }
        }
        check(&v, &aud, &req, 0.0)
            .unwrap_err()
            .description()
            .to_owned()
    };
    assert_eq!(
        case(json!({"iss":"https://T/"})),
        "Verified Token issuer does not match the discovery issuer"
    );
    assert_eq!(
        case(json!({"aud":"other"})),
        "Audience mismatch (single aud)"
    );
    assert_eq!(case(json!({"aud":null})), "Audience mismatch (single aud)");
    assert_eq!(
        case(json!({"aud":["a","b"]})),
        "Audience mismatch (not in token's aud array)"
    );
    assert_eq!(case(json!({"exp":null})), "Token is expired");
    assert_eq!(case(json!({"exp":1000})), "Token is expired");
    assert_eq!(
        case(json!({"exp":"2000"})),
        "Invalid 'exp' claim (must be a number)"
    );
    assert_eq!(case(json!({"iat":null})), "Missing 'iat' claim in token");
    assert_eq!(
        case(json!({"iat":"x"})),
        "Invalid 'iat' claim (must be a number)"
    );
    assert_eq!(case(json!({"nbf":1001})), "Token is not yet valid (nbf)");
    assert_eq!(case(json!({"scope":null})), "Missing required claim: scope");
    let mut array_ok = ok.clone();
    array_ok["aud"] = json!(["x", "api"]);
    assert!(check(&array_ok, &aud, &req, 0.0).is_ok());
}

#[test]
fn leeway_widens_exp_and_nbf() {
    let aud = vec!["api".to_owned()];
    let p = json!({"iss":"https://t/","aud":"api","exp":995,"iat":900,"nbf":1005});
    assert!(check(&p, &aud, &[], 0.0).is_err());
    assert!(check(&p, &aud, &[], 10.0).is_ok());
}

#[test]
fn decode_refuses_hs_and_reports_reference_texts() {
    let h = |v: Value| {
        use base64::Engine as _;
        base64::engine::general_purpose::URL_SAFE_NO_PAD.encode(v.to_string())
    };
    let t = format!("{}.{}.sig", h(json!({"alg":"HS256"})), h(json!({})));
    assert_eq!(
        decode(&t, &mut Texts::default(), NONE)
            .err()
            .unwrap()
            .description(),
        "Symmetric algorithm 'HS256' is not supported. Only asymmetric algorithms (e.g., RS256) are allowed."
    );
    assert_eq!(
        decode("invalid-token", &mut Texts::default(), NONE)
            .err()
            .unwrap()
            .description(),
        "Failed to parse token header: Invalid token format: expected 3 segments, got 1"
    );
    let t = format!("{}.{}.sig", h(json!({"alg":"RS256"})), "bm90IGpzb24");
    assert!(
        decode(&t, &mut Texts::default(), NONE)
            .err()
            .unwrap()
            .description()
            .starts_with("Failed to parse token payload: ")
    );
    assert!(issuer(json!({"iss":""})).is_err());
    assert_eq!(
        issuer(json!({"iss":123})).unwrap_err().description(),
        "Invalid token issuer format: domain must be a non-empty string"
    );
    assert_eq!(
        issuer(json!({"iss":"https://T.com"})).unwrap(),
        "https://t.com/"
    );
}

/// The claims of a verified token answer every getter as the full map does.
#[test]
fn verified_claims_match_the_full_map() {
    use crate::claims::Claims;
    use base64::Engine as _;
    let b64 = |v: &str| base64::engine::general_purpose::URL_SAFE_NO_PAD.encode(v);
    let header = b64(&json!({"alg":"RS256","kid":"k"}).to_string());
    for payload in [
        json!({"iss":"https://t/","sub":"a\"b","azp":5,"scope":"x y","exp":1.5,"iat":2,
               "nbf":true,"cnf":{"jkt":"k"},"aud":["a"],"permissions":["p"]}),
        json!({"sub":"plain","scope":"\u{e9} \u{fc}","iss":"https://T/","exp":"soon"}),
        json!({"sub":null,"scope":["a"],"iss":{"x":1},"azp":"\u{1F600}"}),
        json!({}),
        json!({"cnf":{"jkt":"a\"b"}}),
        json!({"cnf":{"jkt":""}}),
        json!({"cnf":{"jkt":5,"x":[]}}),
        json!({"cnf":{"x":1}}),
        json!({"cnf":{}}),
        json!({"cnf":"x"}),
        json!({"cnf":[]}),
        json!({"cnf":[0]}),
        json!({"cnf":0}),
        json!({"cnf":null}),
    ]
    .into_iter()
    .map(|p| p.to_string())
    .chain([r#"{"cnf":{"jkt":"a","jkt":"b"}}"#.to_owned()])
    {
        let token = format!("{header}.{}.sig", b64(&payload));
        let payload: Value = serde_json::from_str(&payload).unwrap();
        let mut texts = Texts::default();
        let decoded = decode(&token, &mut texts, NONE).unwrap();
        let index = decoded.claims_index();
        let lazy = Claims::from_verified_text(texts.take_payload(), index);
        let eager = Claims::from_object(payload.as_object().cloned().unwrap());
        assert_eq!(lazy.iss(), eager.iss(), "{payload}");
        assert_eq!(lazy.sub(), eager.sub(), "{payload}");
        assert_eq!(lazy.azp(), eager.azp(), "{payload}");
        assert_eq!(lazy.scope(), eager.scope(), "{payload}");
        assert_eq!(lazy.exp(), eager.exp(), "{payload}");
        assert_eq!(lazy.iat(), eager.iat(), "{payload}");
        assert_eq!(lazy.nbf(), eager.nbf(), "{payload}");
        assert_eq!(lazy.cnf(), eager.cnf(), "{payload}");
        assert_eq!(lazy.confirmation(), eager.confirmation(), "{payload}");
        assert_eq!(lazy.aud(), eager.aud(), "{payload}");
        assert!(lazy.permissions().eq(eager.permissions()), "{payload}");
        assert_eq!(lazy.as_object(), eager.as_object(), "{payload}");
        assert_eq!(lazy, eager);
        assert_eq!(
            serde_json::to_value(&lazy).unwrap(),
            serde_json::to_value(&eager).unwrap()
        );
        assert_eq!(lazy.clone().into_object(), *eager.as_object());
    }
}

/// The header checks' outcome: `alg`, `kid` and `crit` resolved for the checks that read them.
#[test]
fn header_checks_resolve_alg_kid_and_crit() {
    fn checked(text: &str) -> CheckedHeader<'_> {
        check_header(text).unwrap()
    }
    let plain = checked(r#"{"alg":"RS256","typ":"at+jwt","kid":"k1"}"#);
    assert_eq!(plain.alg, HeaderAlg::Known(crate::Algorithm::RS256));
    assert_eq!(plain.kid, Kid::Named(Cow::Borrowed("k1")));
    assert_eq!(plain.crit, None);
    assert_eq!(checked(r#"{"kid":"k"}"#).alg, HeaderAlg::Missing);
    assert_eq!(checked(r#"{"alg":"none"}"#).alg, HeaderAlg::Unknown);
    assert_eq!(checked(r#"{"alg":5}"#).alg, HeaderAlg::Unknown);
    assert_eq!(checked(r#"{"kid":5}"#).kid, Kid::NotString);
    for falsy in [r#"{"kid":""}"#, r#"{"kid":0}"#, r#"{"kid":null}"#, "{}"] {
        assert_eq!(checked(falsy).kid, Kid::Missing, "{falsy}");
    }
    assert_eq!(
        checked(r#"{"crit":["b64","x"]}"#).crit,
        Some(TokenError::CriticalHeader("b64".to_owned()))
    );
    assert_eq!(
        checked(r#"{"crit":5}"#).crit,
        Some(TokenError::InvalidCriticalHeader)
    );
    assert_eq!(
        check_header(r#"{"alg":"HS512"}"#),
        Err(TokenError::SymmetricAlgorithm("HS512".to_owned()))
    );
    assert!(matches!(
        check_header(r#"{"alg":"RS256","alg":"RS256"}"#),
        Err(TokenError::Malformed {
            part: crate::error::TokenPart::Header,
            ..
        })
    ));
}

/// An RS256 signature check asked for the token's hash stores `SHA-256(token)` (the `ath` of
/// DPoP), computed on the way; a signature that fails stores nothing; without a slot the check
/// is the same.
#[test]
fn the_signature_check_hands_over_the_tokens_sha256() {
    use std::sync::OnceLock;

    use aws_lc_rs::digest;
    use aws_lc_rs::rand::SystemRandom;
    use aws_lc_rs::rsa::{KeySize, PublicKeyComponents};
    use aws_lc_rs::signature::{KeyPair, RSA_PKCS1_SHA256, RsaKeyPair};
    use base64::Engine as _;
    use base64::engine::general_purpose::URL_SAFE_NO_PAD as B64;

    use crate::fetch::jwks::KeySet;
    use crate::settings::Algorithm;

    let pair = RsaKeyPair::generate(KeySize::Rsa2048).unwrap();
    let public = PublicKeyComponents::<Vec<u8>>::from(pair.public_key());
    let jwks = json!({"keys":[{"kid":"k","kty":"RSA","n":B64.encode(&public.n),"e":B64.encode(&public.e)}]});
    let keys = KeySet::parse(jwks.as_object().unwrap(), &[Algorithm::RS256]).unwrap();
    let input = format!(
        "{}.{}",
        B64.encode(r#"{"alg":"RS256","kid":"k"}"#),
        B64.encode(r#"{"iss":"https://t/"}"#)
    );
    let mut signature = vec![0; pair.public_modulus_len()];
    pair.sign(
        &RSA_PKCS1_SHA256,
        &SystemRandom::new(),
        input.as_bytes(),
        &mut signature,
    )
    .unwrap();
    let token = format!("{input}.{}", B64.encode(&signature));
    let check = |token: &str, slot: Option<&OnceLock<[u8; 32]>>| {
        let mut texts = Texts::default();
        let decoded = decode(token, &mut texts, NONE).unwrap();
        check_signature(&decoded, &keys.entries()[0], &[Algorithm::RS256], slot)
    };

    let slot = OnceLock::new();
    check(&token, Some(&slot)).unwrap();
    let expected = digest::digest(&digest::SHA256, token.as_bytes());
    assert_eq!(slot.get().map(|d| &d[..]), Some(expected.as_ref()));
    check(&token, None).unwrap();

    let mut tampered = signature.clone();
    tampered[10] ^= 1;
    let forged = format!("{input}.{}", B64.encode(&tampered));
    let slot = OnceLock::new();
    assert!(check(&forged, Some(&slot)).is_err());
    assert!(
        slot.get().is_none(),
        "nothing stored for a signature that fails"
    );
}
