//! Access-token checks (RFC 9068, RFC 8725), in auth0-api-python's order and with its texts,
//! plus the stricter checks it lacks (`nbf`, `crit`, finite times, size caps).
//!
//! The network-free part lives here: decoding, the unverified issuer, the signature against a
//! key already found, and the claims. [`crate::client`] strings them together with discovery and
//! the key set.

use serde_json::Value;

use crate::domains::normalize_domain;
use crate::error::{Error, Result};
use crate::jwks::JwkEntry;
use crate::jws::{self, JsonObject, MAX_TOKEN_BYTES, Segments};
use crate::options::Algorithm;

/// A token split and decoded, not yet verified.
pub(crate) struct Decoded<'a> {
    pub(crate) segments: Segments<'a>,
    pub(crate) header: JsonObject,
    pub(crate) payload: JsonObject,
}

/// Python's truthiness of a JSON value (the reference tests claims with `if not x`).
pub(crate) fn truthy(v: Option<&Value>) -> bool {
    match v {
        None | Some(Value::Null) | Some(Value::Bool(false)) => false,
        Some(Value::String(s)) => !s.is_empty(),
        Some(Value::Number(n)) => n.as_f64().is_some_and(|f| f != 0.0),
        Some(Value::Array(a)) => !a.is_empty(),
        Some(Value::Object(o)) => !o.is_empty(),
        Some(Value::Bool(true)) => true,
    }
}

/// Splits and decodes the token; refuses symmetric algorithms before anything else.
pub(crate) fn decode(token: &str) -> Result<Decoded<'_>> {
    let header_err =
        |e: jws::DecodeError| Error::invalid_token(format!("Failed to parse token header: {e}"));
    let segments = jws::split(token, MAX_TOKEN_BYTES).map_err(header_err)?;
    let header = jws::decode_object(segments.header).map_err(header_err)?;
    if let Some(alg) = header.get("alg").and_then(Value::as_str)
        && alg.starts_with("HS")
    {
        return Err(Error::invalid_token(format!(
            "Symmetric algorithm '{alg}' is not supported. Only asymmetric algorithms (e.g., RS256) are allowed."
        )));
    }
    let payload = jws::decode_object(segments.payload)
        .map_err(|e| Error::invalid_token(format!("Failed to parse token payload: {e}")))?;
    Ok(Decoded {
        segments,
        header,
        payload,
    })
}

/// The token's `iss`, normalised to `https://host/`, before any network call.
pub(crate) fn unverified_issuer(payload: &JsonObject) -> Result<String> {
    let iss = payload.get("iss");
    if !truthy(iss) {
        return Err(Error::invalid_token("Token missing 'iss' claim"));
    }
    let text = iss.and_then(Value::as_str).unwrap_or_default();
    normalize_domain(text)
        .map_err(|e| Error::invalid_token(format!("Invalid token issuer format: {e}")))
}

/// The `kid` to look up (the reference requires a truthy one).
pub(crate) fn kid(header: &JsonObject) -> Result<&str> {
    let kid = header.get("kid");
    if !truthy(kid) {
        return Err(Error::invalid_token("Token header missing 'kid' claim"));
    }
    // A non-string kid never matches a JWKS member.
    Ok(kid.and_then(Value::as_str).unwrap_or("\u{0}non-string kid"))
}

fn sig_err(detail: impl std::fmt::Display) -> Error {
    Error::invalid_token(format!("Signature verification failed: {detail}"))
}

/// The signature check, with authlib's order and error names (`crit`, signature encoding,
/// algorithm, key, signature).
pub(crate) fn check_signature(
    decoded: &Decoded<'_>,
    key: &JwkEntry,
    allowed: &[Algorithm],
) -> Result<()> {
    if let Some(crit) = decoded.header.get("crit") {
        // RFC 7515 section 4.1.11: we understand no extension, so any `crit` is refused.
        let first = crit
            .as_array()
            .filter(|a| a.iter().all(Value::is_string))
            .map(|a| a.first().and_then(Value::as_str).unwrap_or_default());
        return Err(match first {
            Some(name) => sig_err(format!(
                "invalid_crit_header_parameter_name: Invalid Header Parameter Name: {name}"
            )),
            None => sig_err("invalid_header_parameter_name: Invalid Header Parameter Name: crit"),
        });
    }
    let signature = jws::b64_decode(decoded.segments.signature)
        .map_err(|_| sig_err("decode_error: Invalid signature padding"))?;
    let Some(alg_value) = decoded.header.get("alg") else {
        return Err(sig_err("missing_algorithm: "));
    };
    let alg = alg_value
        .as_str()
        .and_then(Algorithm::from_name)
        .filter(|a| allowed.contains(a))
        .ok_or_else(|| sig_err("unsupported_algorithm: "))?;
    let verifier = key
        .verifier(alg)
        .map_err(|e| sig_err(format!("invalid_key: {e}")))?;
    if verifier.verify(decoded.segments.signing_input.as_bytes(), &signature) {
        Ok(())
    } else {
        Err(sig_err("bad_signature: "))
    }
}

/// What the claims must satisfy.
pub(crate) struct ClaimRules<'a> {
    pub(crate) discovery_issuer: &'a str,
    pub(crate) audiences: &'a [String],
    pub(crate) leeway_secs: f64,
    pub(crate) now: f64,
    pub(crate) required: &'a [String],
}

fn time_claim(payload: &JsonObject, name: &str) -> Result<Option<f64>> {
    match payload.get(name) {
        None => Ok(None),
        Some(v) => v
            .as_f64()
            .filter(|t| t.is_finite())
            .map(Some)
            .ok_or_else(|| {
                Error::invalid_token(format!("Invalid '{name}' claim (must be a number)"))
            }),
    }
}

/// The claim checks after the signature: `iss`, `aud`, `exp`, `iat`, `nbf`, required claims.
pub(crate) fn check_claims(payload: &JsonObject, rules: &ClaimRules<'_>) -> Result<()> {
    if payload.get("iss").and_then(Value::as_str) != Some(rules.discovery_issuer) {
        return Err(Error::invalid_token(
            "Verified Token issuer does not match the discovery issuer",
        ));
    }
    match payload.get("aud") {
        Some(Value::Array(list)) => {
            if !list
                .iter()
                .filter_map(Value::as_str)
                .any(|a| rules.audiences.iter().any(|want| want == a))
            {
                return Err(Error::invalid_token(
                    "Audience mismatch (not in token's aud array)",
                ));
            }
        }
        other => {
            let single = other.and_then(Value::as_str);
            if !single.is_some_and(|a| rules.audiences.iter().any(|want| want == a)) {
                return Err(Error::invalid_token("Audience mismatch (single aud)"));
            }
        }
    }
    match time_claim(payload, "exp")? {
        Some(exp) if rules.now < exp + rules.leeway_secs => {}
        _ => return Err(Error::invalid_token("Token is expired")),
    }
    if time_claim(payload, "iat")?.is_none() {
        return Err(Error::invalid_token("Missing 'iat' claim in token"));
    }
    if let Some(nbf) = time_claim(payload, "nbf")?
        && rules.now + rules.leeway_secs < nbf
    {
        return Err(Error::invalid_token("Token is not yet valid (nbf)"));
    }
    for claim in rules.required {
        if !payload.contains_key(claim) {
            return Err(Error::invalid_token(format!(
                "Missing required claim: {claim}"
            )));
        }
    }
    Ok(())
}

#[cfg(test)]
#[allow(clippy::unwrap_used)]
mod tests {
    use super::*;
    use serde_json::json;

    fn obj(v: Value) -> JsonObject {
        v.as_object().cloned().unwrap()
    }

    fn rules<'a>(aud: &'a [String], req: &'a [String]) -> ClaimRules<'a> {
        ClaimRules {
            discovery_issuer: "https://t/",
            audiences: aud,
            leeway_secs: 0.0,
            now: 1000.0,
            required: req,
        }
    }

    #[test]
    fn claim_checks_in_reference_order() {
        let aud = vec!["api".to_owned()];
        let req = vec!["scope".to_owned()];
        let ok = json!({"iss":"https://t/","aud":"api","exp":2000,"iat":900,"scope":"x"});
        assert!(check_claims(&obj(ok.clone()), &rules(&aud, &req)).is_ok());
        let case = |patch: Value| {
            let mut v = ok.clone();
            for (k, val) in patch.as_object().unwrap() {
                if val.is_null() {
                    v.as_object_mut().unwrap().remove(k);
                } else {
                    v[k] = val.clone();
                }
            }
            check_claims(&obj(v), &rules(&aud, &req))
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
        assert!(check_claims(&obj(array_ok), &rules(&aud, &req)).is_ok());
    }

    #[test]
    fn leeway_widens_exp_and_nbf() {
        let aud = vec!["api".to_owned()];
        let p = obj(json!({"iss":"https://t/","aud":"api","exp":995,"iat":900,"nbf":1005}));
        let mut r = rules(&aud, &[]);
        assert!(check_claims(&p, &r).is_err());
        r.leeway_secs = 10.0;
        assert!(check_claims(&p, &r).is_ok());
    }

    #[test]
    fn decode_refuses_hs_and_reports_reference_texts() {
        let h = |v: Value| {
            use base64::Engine as _;
            base64::engine::general_purpose::URL_SAFE_NO_PAD.encode(v.to_string())
        };
        let t = format!("{}.{}.sig", h(json!({"alg":"HS256"})), h(json!({})));
        assert_eq!(
            decode(&t).err().unwrap().description(),
            "Symmetric algorithm 'HS256' is not supported. Only asymmetric algorithms (e.g., RS256) are allowed."
        );
        assert_eq!(
            decode("invalid-token").err().unwrap().description(),
            "Failed to parse token header: Invalid token format: expected 3 segments, got 1"
        );
        let t = format!("{}.{}.sig", h(json!({"alg":"RS256"})), "bm90IGpzb24");
        assert!(
            decode(&t)
                .err()
                .unwrap()
                .description()
                .starts_with("Failed to parse token payload: ")
        );
        assert!(unverified_issuer(&obj(json!({"iss":""}))).is_err());
        assert_eq!(
            unverified_issuer(&obj(json!({"iss":123})))
                .unwrap_err()
                .description(),
            "Invalid token issuer format: domain must be a non-empty string"
        );
        assert_eq!(
            unverified_issuer(&obj(json!({"iss":"https://T.com"}))).unwrap(),
            "https://t.com/"
        );
    }
}
