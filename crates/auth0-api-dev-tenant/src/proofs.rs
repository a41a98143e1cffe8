//! Server-side checks of DPoP proofs at the token endpoint and of JWS
//! signatures under client-registered JWKs.

use aws_lc_rs::signature::{
    ECDSA_P256_SHA256_FIXED, RSA_PKCS1_2048_8192_SHA256, RsaPublicKeyComponents, UnparsedPublicKey,
};
use serde_json::{Map, Value};

use crate::dpop::ec_thumbprint;
use crate::jwt::{b64d, parse_jws};

/// Largest accepted distance between a proof's `iat` and now, in seconds.
pub(crate) const PROOF_IAT_WINDOW_SECS: u64 = 300;

/// Checks an ES256 signature under an EC P-256 public JWK.
pub(crate) fn verify_es256(jwk: &Value, msg: &[u8], sig: &[u8]) -> bool {
    let Some((x, y)) = ec_p256_coordinates(jwk) else {
        return false;
    };
    let mut point = Vec::with_capacity(65);
    point.push(0x04);
    point.extend_from_slice(&x);
    point.extend_from_slice(&y);
    sig.len() == 64
        && UnparsedPublicKey::new(&ECDSA_P256_SHA256_FIXED, point)
            .verify(msg, sig)
            .is_ok()
}

/// Checks an RS256 signature under an RSA public JWK (2048 bits or more).
pub(crate) fn verify_rs256(jwk: &Value, msg: &[u8], sig: &[u8]) -> bool {
    if jwk.get("kty").and_then(Value::as_str) != Some("RSA") {
        return false;
    }
    let member = |name: &str| jwk.get(name).and_then(Value::as_str).and_then(b64d);
    let (Some(n), Some(e)) = (member("n"), member("e")) else {
        return false;
    };
    RsaPublicKeyComponents { n: &n, e: &e }
        .verify(&RSA_PKCS1_2048_8192_SHA256, msg, sig)
        .is_ok()
}

/// The 32-byte x and y of a public EC P-256 JWK (no private `d`).
fn ec_p256_coordinates(jwk: &Value) -> Option<(Vec<u8>, Vec<u8>)> {
    let obj = jwk.as_object()?;
    if obj.get("kty")?.as_str()? != "EC"
        || obj.get("crv")?.as_str()? != "P-256"
        || obj.contains_key("d")
    {
        return None;
    }
    let x = b64d(obj.get("x")?.as_str()?)?;
    let y = b64d(obj.get("y")?.as_str()?)?;
    (x.len() == 32 && y.len() == 32).then_some((x, y))
}

/// Claim `name` as `read` reads it: `None` when it is absent or of another type.
fn claim<'a, T>(
    claims: &'a Map<String, Value>,
    name: &str,
    read: fn(&'a Value) -> Option<T>,
) -> Option<T> {
    claims.get(name).and_then(read)
}

/// Compares an `htu` claim with the endpoint URL, ignoring query and fragment
/// (RFC 9449 section 4.3) and normalizing scheme, host and default port.
fn htu_matches(htu: &str, endpoint: &str) -> bool {
    let (Ok(mut claimed), Ok(mut expected)) = (url::Url::parse(htu), url::Url::parse(endpoint))
    else {
        return false;
    };
    for u in [&mut claimed, &mut expected] {
        u.set_query(None);
        u.set_fragment(None);
    }
    claimed == expected
}

/// Verifies a DPoP proof sent to the token endpoint (RFC 9449 section 4.3):
/// `typ` `dpop+jwt`, `alg` ES256, a public P-256 `jwk`, a valid signature,
/// `htm` POST, `htu` the token endpoint, `iat` within 300 s, a `jti`.
/// Returns the RFC 7638 thumbprint of the proof key, or why it is invalid.
pub(crate) fn verify_token_endpoint_proof(
    proof: &str,
    token_endpoint: &str,
    now: i64,
) -> Result<String, &'static str> {
    let jws =
        parse_jws(proof).ok_or("DPoP proof is not a JWS with JSON object header and claims")?;
    if jws.header.get("typ").and_then(Value::as_str) != Some("dpop+jwt") {
        return Err("DPoP proof typ must be dpop+jwt");
    }
    if jws.header.get("alg").and_then(Value::as_str) != Some("ES256") {
        return Err("DPoP proof alg must be ES256");
    }
    let jwk = jws.header.get("jwk").ok_or("DPoP proof has no jwk")?;
    let (x, y) = match (
        jwk.get("x").and_then(Value::as_str),
        jwk.get("y").and_then(Value::as_str),
    ) {
        (Some(x), Some(y)) if ec_p256_coordinates(jwk).is_some() => (x, y),
        _ => return Err("DPoP proof jwk must be a public EC P-256 key"),
    };
    if !verify_es256(jwk, jws.signing_input.as_bytes(), &jws.signature) {
        return Err("DPoP proof signature is invalid");
    }
    if claim(&jws.claims, "htm", Value::as_str) != Some("POST") {
        return Err("DPoP proof htm must be POST");
    }
    let htu = claim(&jws.claims, "htu", Value::as_str).ok_or("DPoP proof has no htu")?;
    if !htu_matches(htu, token_endpoint) {
        return Err("DPoP proof htu does not match the token endpoint");
    }
    let iat = claim(&jws.claims, "iat", Value::as_i64).ok_or("DPoP proof has no integer iat")?;
    if now.abs_diff(iat) > PROOF_IAT_WINDOW_SECS {
        return Err("DPoP proof iat is outside the acceptable window");
    }
    match claim(&jws.claims, "jti", Value::as_str) {
        Some(jti) if !jti.is_empty() => {}
        _ => return Err("DPoP proof has no jti"),
    }
    Ok(ec_thumbprint("P-256", x, y))
}

#[cfg(test)]
#[allow(clippy::unwrap_used, clippy::expect_used)]
mod tests {
    use super::*;
    use crate::dpop::DpopKey;
    use serde_json::json;

    const EP: &str = "https://127.0.0.1:4443/oauth/token";

    #[test]
    fn accepts_good_proof_and_rejects_bad_ones() {
        let key = DpopKey::generate();
        let now = crate::now();
        let good = key.proof("POST", EP, None).sign();
        assert_eq!(
            verify_token_endpoint_proof(&good, EP, now),
            Ok(key.thumbprint())
        );
        let with_query = key.proof("POST", &format!("{EP}?x=1#f"), None).sign();
        assert!(verify_token_endpoint_proof(&with_query, EP, now).is_ok());

        let cases = [
            key.proof("GET", EP, None).sign(),
            key.proof("POST", "https://127.0.0.1:4443/other", None)
                .sign(),
            key.proof("POST", EP, None).iat(now - 301).sign(),
            key.proof("POST", EP, None).iat(i64::MIN).sign(),
            key.proof("POST", EP, None)
                .claim("iat", json!(1.5e300))
                .sign(),
            key.proof("POST", EP, None).remove_claim("jti").sign(),
            key.proof("POST", EP, None).typ("JWT").sign(),
            key.proof("POST", EP, None).remove_header("jwk").sign(),
            key.proof("POST", EP, None)
                .header("alg", json!("RS256"))
                .sign(),
            key.proof("POST", EP, None)
                .header("jwk", DpopKey::generate().public_jwk())
                .sign(),
            "not-a-jwt".to_owned(),
        ];
        for case in cases {
            assert!(
                verify_token_endpoint_proof(&case, EP, now).is_err(),
                "{case}"
            );
        }
    }
}
