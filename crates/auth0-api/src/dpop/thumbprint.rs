//! JWK SHA-256 thumbprints (RFC 7638), the value an access token's `cnf.jkt` carries
//! (RFC 9449 section 6.1).
//!
//! The thumbprint hashes the JSON object made of the key type's required public members only,
//! in lexicographic order, without whitespace: `crv`, `kty`, `x`, `y` for EC; `e`, `kty`, `n` for
//! RSA; `crv`, `kty`, `x` for OKP (RFC 8037 section 2). Other members (`kid`, `alg`, `use`, ...)
//! do not change it.
//!
//! ```
//! use auth0_api::dpop::thumbprint::jwk_thumbprint;
//! use serde_json::json;
//!
//! // RFC 8037 appendix A.3.
//! let jwk = json!({"kty": "OKP", "crv": "Ed25519", "x": "11qYAYKxCrfVS_7TyWQHOg7hcvPapiMlrwIaaPcHURo"});
//! let jwk = jwk.as_object().cloned().unwrap_or_default();
//! assert_eq!(jwk_thumbprint(&jwk)?, "kPrK_qmxVWaYVA9wwBF6Iuo3vVzz7TxHCTwXBygrS4k");
//! # Ok::<(), auth0_api::dpop::thumbprint::ThumbprintError>(())
//! ```

use std::fmt::{self, Write as _};

use aws_lc_rs::digest;
use base64::Engine as _;
use base64::engine::general_purpose::URL_SAFE_NO_PAD;
use serde_json::Value;

use crate::jose::jws::JsonObject;

/// Why a JWK has no thumbprint.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
#[non_exhaustive]
pub enum ThumbprintError {
    /// `kty` is absent, not a string, or none of `EC`, `RSA`, `OKP`.
    UnsupportedKeyType,
    /// A required member is absent or not a string.
    Member(&'static str),
}

impl fmt::Display for ThumbprintError {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        match self {
            Self::UnsupportedKeyType => f.write_str("missing or unsupported key type (kty)"),
            Self::Member(m) => write!(f, "missing or non-string JWK member '{m}'"),
        }
    }
}

impl std::error::Error for ThumbprintError {}

/// The RFC 7638 SHA-256 thumbprint of a public JWK, base64url without padding (43 characters).
///
/// # Errors
/// [`ThumbprintError`] when the key type is not EC, RSA or OKP, or a required member is absent
/// or not a string.
pub fn jwk_thumbprint(jwk: &JsonObject) -> Result<String, ThumbprintError> {
    let kty = jwk
        .get("kty")
        .and_then(Value::as_str)
        .ok_or(ThumbprintError::UnsupportedKeyType)?;
    let members: &[&'static str] = match kty {
        "EC" => &["crv", "kty", "x", "y"],
        "RSA" => &["e", "kty", "n"],
        "OKP" => &["crv", "kty", "x"],
        _ => return Err(ThumbprintError::UnsupportedKeyType),
    };
    let mut canonical = String::with_capacity(128);
    canonical.push('{');
    for (i, &name) in members.iter().enumerate() {
        let value = jwk
            .get(name)
            .filter(|v| v.is_string())
            .ok_or(ThumbprintError::Member(name))?;
        if i > 0 {
            canonical.push(',');
        }
        // Member names are plain ASCII; the value is escaped as serde_json writes JSON strings.
        // Writing into a String cannot fail.
        let _ = write!(canonical, "\"{name}\":{value}");
    }
    canonical.push('}');
    Ok(sha256_base64url(canonical.as_bytes()))
}

/// Base64url (no padding) of the SHA-256 digest of `data`: the form of `ath` and of thumbprints.
pub(crate) fn sha256_base64url(data: &[u8]) -> String {
    URL_SAFE_NO_PAD.encode(digest::digest(&digest::SHA256, data))
}

/// Length of the base64url (no padding) form of a SHA-256 digest.
pub(crate) const SHA256_BASE64URL_LEN: usize = 43;

/// [`sha256_base64url`] without allocating: the ASCII bytes of the same text (`None` is not
/// reached: the digest always fits).
pub(crate) fn sha256_base64url_array(data: &[u8]) -> Option<[u8; SHA256_BASE64URL_LEN]> {
    base64url_digest_array(digest::digest(&digest::SHA256, data).as_ref())
}

/// The base64url text of a SHA-256 digest computed elsewhere, as ASCII bytes.
pub(crate) fn base64url_digest_array(digest: &[u8]) -> Option<[u8; SHA256_BASE64URL_LEN]> {
    let mut out = [0u8; SHA256_BASE64URL_LEN];
    let written = URL_SAFE_NO_PAD.encode_slice(digest, &mut out).ok()?;
    (written == SHA256_BASE64URL_LEN).then_some(out)
}

#[cfg(test)]
#[allow(clippy::unwrap_used)]
mod tests {
    use super::*;
    use serde_json::json;

    fn obj(v: Value) -> JsonObject {
        v.as_object().cloned().unwrap()
    }

    /// RFC 7638 section 3.1.
    const RFC7638_N: &str = "0vx7agoebGcQSuuPiLJXZptN9nndrQmbXEps2aiAFbWhM78LhWx4cbbfAAtVT86zwu1RK7aPFFxuhDR1L6tSoc_BJECPebWKRXjBZCiFV4n3oknjhMstn64tZ_2W-5JsGY4Hc5n9yBXArwl93lqt7_RN5w6Cf0h4QyQ5v-65YGjQR0_FDW2QvzqY368QQMicAtaSqzs8KJZgnYb9c7d0zgdAZHzu6qMQvRL5hajrn1n91CbOpbISD08qNLyrdkt-bFTWhAI4vMQFh6WeZu0fM4lFd2NcRwr3XPksINHaQ-G_xBniIqbw0Ls1jF44-csFCur-kEgU8awapJzKnqDKgw";

    #[test]
    fn rfc7638_rsa_vector() {
        let jwk = obj(
            json!({"kty": "RSA", "n": RFC7638_N, "e": "AQAB", "alg": "RS256", "kid": "2011-04-29"}),
        );
        assert_eq!(
            jwk_thumbprint(&jwk).unwrap(),
            "NzbLsXh8uDCcd-6MNwXF4W_7noWXFZAfHkxZsRGC9Xs"
        );
    }

    /// The RFC 7517 appendix A.1 EC key; expected value computed with Python's hashlib/json:
    /// `json.dumps({crv, kty, x, y}, separators=(",", ":"), sort_keys=True)`.
    #[test]
    fn ec_vector() {
        let jwk = obj(json!({
            "kty": "EC", "crv": "P-256", "use": "enc", "kid": "1",
            "x": "MKBCTNIcKUSDii11ySs3526iDZ8AiTo7Tu6KPAqv7D4",
            "y": "4Etl6SRW2YiLUrN5vfvVHuhp7x8PxltmWWlbbM4IFyM"
        }));
        assert_eq!(
            jwk_thumbprint(&jwk).unwrap(),
            "cn-I_WNMClehiVp51i_0VpOENW1upEerA8sEam5hn-s"
        );
    }

    /// RFC 8037 appendix A.3.
    #[test]
    fn okp_vector() {
        let jwk = obj(
            json!({"kty": "OKP", "crv": "Ed25519", "x": "11qYAYKxCrfVS_7TyWQHOg7hcvPapiMlrwIaaPcHURo"}),
        );
        assert_eq!(
            jwk_thumbprint(&jwk).unwrap(),
            "kPrK_qmxVWaYVA9wwBF6Iuo3vVzz7TxHCTwXBygrS4k"
        );
    }

    #[test]
    fn optional_members_do_not_change_it() {
        let plain = obj(json!({"kty": "RSA", "n": RFC7638_N, "e": "AQAB"}));
        let decorated =
            obj(json!({"kty": "RSA", "n": RFC7638_N, "e": "AQAB", "use": "sig", "x5t": "abc"}));
        assert_eq!(jwk_thumbprint(&plain), jwk_thumbprint(&decorated));
    }

    #[test]
    fn strings_are_json_escaped() {
        // Not a real key: checks that values are serialised as JSON strings.
        let jwk = obj(json!({"kty": "OKP", "crv": "a\"b\\c\n", "x": "x"}));
        let expected = sha256_base64url(br#"{"crv":"a\"b\\c\n","kty":"OKP","x":"x"}"#);
        assert_eq!(jwk_thumbprint(&jwk).unwrap(), expected);
    }

    #[test]
    fn refuses_unknown_types_and_bad_members() {
        assert_eq!(
            jwk_thumbprint(&obj(json!({}))),
            Err(ThumbprintError::UnsupportedKeyType)
        );
        assert_eq!(
            jwk_thumbprint(&obj(json!({"kty": "oct", "k": "AA"}))),
            Err(ThumbprintError::UnsupportedKeyType)
        );
        assert_eq!(
            jwk_thumbprint(&obj(json!({"kty": 1}))),
            Err(ThumbprintError::UnsupportedKeyType)
        );
        assert_eq!(
            jwk_thumbprint(&obj(json!({"kty": "EC", "crv": "P-256", "x": "AA"}))),
            Err(ThumbprintError::Member("y"))
        );
        assert_eq!(
            jwk_thumbprint(&obj(json!({"kty": "RSA", "n": "AA", "e": 65537}))),
            Err(ThumbprintError::Member("e"))
        );
        assert!(ThumbprintError::Member("y").to_string().contains("'y'"));
    }

    #[test]
    fn ath_form_without_allocating() {
        for data in [&b""[..], b"test_token", &[0xff; 1000]] {
            let array = sha256_base64url_array(data).unwrap();
            assert_eq!(array.as_slice(), sha256_base64url(data).as_bytes());
        }
    }

    #[test]
    fn ath_form() {
        // base64url(SHA-256("test_token")), as Python's hashlib/base64 compute it.
        assert_eq!(
            sha256_base64url(b"test_token"),
            "zAr5codUO2XaLH4UdkJgIYJsqxZvHgY-0BK4Vf-BllY"
        );
    }
}
