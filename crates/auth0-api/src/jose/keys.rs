//! JWK (RFC 7517) to verifying key, parsed once; per-algorithm signature checks.
//!
//! Only public parameters are read. RSA moduli must be 2048 to 8192 bits; EC keys must sit on
//! the curve their algorithm names (P-256 for ES256, P-384 for ES384); OKP keys must be Ed25519.
//! A key that does not parse is a typed [`KeyError`], never a panic.

use std::fmt;

use aws_lc_rs::digest;
use aws_lc_rs::signature::{self, ParsedPublicKey, RsaPublicKeyComponents, VerificationAlgorithm};
use serde_json::Value;

use crate::jose::jws::{JsonObject, b64_decode};
use crate::settings::Algorithm;

/// Smallest accepted RSA modulus (bits).
pub const MIN_RSA_BITS: usize = 2048;
/// Largest accepted RSA modulus (bits).
pub const MAX_RSA_BITS: usize = 8192;

/// Why a JWK cannot verify signatures of an algorithm.
#[derive(Debug, Clone, PartialEq, Eq)]
#[non_exhaustive]
pub enum KeyError {
    /// The key type (`kty`) does not fit the algorithm.
    WrongType,
    /// The curve (`crv`) does not fit the algorithm.
    WrongCurve,
    /// A required member is absent or not a base64url string.
    Member(&'static str),
    /// The RSA modulus is outside 2048..=8192 bits.
    RsaSize(usize),
    /// The key material was rejected (for example a point not on the curve).
    Rejected,
}

impl fmt::Display for KeyError {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        match self {
            Self::WrongType => f.write_str("key type does not match the algorithm"),
            Self::WrongCurve => f.write_str("curve does not match the algorithm"),
            Self::Member(m) => write!(f, "missing or invalid '{m}'"),
            Self::RsaSize(bits) => write!(f, "RSA modulus of {bits} bits is outside 2048..8192"),
            Self::Rejected => f.write_str("invalid key material"),
        }
    }
}

impl std::error::Error for KeyError {}

/// The aws-lc algorithm behind `alg`: RSA parameters (an RSA key is built from `n` and `e` with
/// them), or the verifier of an elliptic-curve or Ed25519 point.
enum Verifier {
    Rsa(&'static signature::RsaParameters),
    Point(&'static dyn VerificationAlgorithm),
}

fn verifier(alg: Algorithm) -> Verifier {
    use Verifier::{Point, Rsa};
    match alg {
        Algorithm::RS256 => Rsa(&signature::RSA_PKCS1_2048_8192_SHA256),
        Algorithm::RS384 => Rsa(&signature::RSA_PKCS1_2048_8192_SHA384),
        Algorithm::RS512 => Rsa(&signature::RSA_PKCS1_2048_8192_SHA512),
        Algorithm::PS256 => Rsa(&signature::RSA_PSS_2048_8192_SHA256),
        Algorithm::PS384 => Rsa(&signature::RSA_PSS_2048_8192_SHA384),
        Algorithm::PS512 => Rsa(&signature::RSA_PSS_2048_8192_SHA512),
        Algorithm::ES256 => Point(&signature::ECDSA_P256_SHA256_FIXED),
        Algorithm::ES384 => Point(&signature::ECDSA_P384_SHA384_FIXED),
        Algorithm::EdDSA => Point(&signature::ED25519),
    }
}

fn verification_algorithm(alg: Algorithm) -> &'static dyn VerificationAlgorithm {
    match verifier(alg) {
        Verifier::Rsa(params) => params,
        Verifier::Point(algorithm) => algorithm,
    }
}

/// The digest `alg` signs, for the algorithms that sign a digest (all but EdDSA).
fn message_digest(alg: Algorithm) -> Option<&'static digest::Algorithm> {
    match alg {
        Algorithm::RS256 | Algorithm::PS256 | Algorithm::ES256 => Some(&digest::SHA256),
        Algorithm::RS384 | Algorithm::PS384 | Algorithm::ES384 => Some(&digest::SHA384),
        Algorithm::RS512 | Algorithm::PS512 => Some(&digest::SHA512),
        Algorithm::EdDSA => None,
    }
}

fn rsa_params(alg: Algorithm) -> Option<&'static signature::RsaParameters> {
    match verifier(alg) {
        Verifier::Rsa(params) => Some(params),
        Verifier::Point(_) => None,
    }
}

fn member<'a>(jwk: &'a JsonObject, name: &'static str) -> Result<&'a str, KeyError> {
    jwk.get(name)
        .and_then(Value::as_str)
        .ok_or(KeyError::Member(name))
}

fn b64_member(jwk: &JsonObject, name: &'static str) -> Result<Vec<u8>, KeyError> {
    b64_decode(member(jwk, name)?).map_err(|_| KeyError::Member(name))
}

/// A public key ready to verify one algorithm's signatures.
#[derive(Clone)]
pub struct VerifyingKey {
    alg: Algorithm,
    key: ParsedPublicKey,
}

impl fmt::Debug for VerifyingKey {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.debug_struct("VerifyingKey")
            .field("alg", &self.alg)
            .finish_non_exhaustive()
    }
}

impl VerifyingKey {
    /// Parses a public JWK for `alg`.
    pub fn from_jwk(jwk: &JsonObject, alg: Algorithm) -> Result<Self, KeyError> {
        let kty = member(jwk, "kty").map_err(|_| KeyError::WrongType)?;
        let key = match alg {
            Algorithm::RS256
            | Algorithm::RS384
            | Algorithm::RS512
            | Algorithm::PS256
            | Algorithm::PS384
            | Algorithm::PS512 => {
                if kty != "RSA" {
                    return Err(KeyError::WrongType);
                }
                let n = b64_member(jwk, "n")?;
                let e = b64_member(jwk, "e")?;
                let n = strip_leading_zeros(&n);
                let e = strip_leading_zeros(&e);
                if n.is_empty() {
                    return Err(KeyError::Member("n"));
                }
                if e.is_empty() || e.len() > 8 {
                    return Err(KeyError::Member("e"));
                }
                let bits = n.len() * 8 - n[0].leading_zeros() as usize;
                if !(MIN_RSA_BITS..=MAX_RSA_BITS).contains(&bits) {
                    return Err(KeyError::RsaSize(bits));
                }
                let params = rsa_params(alg).ok_or(KeyError::WrongType)?;
                RsaPublicKeyComponents { n, e }
                    .to_parsed_public_key(params)
                    .map_err(|_| KeyError::Rejected)?
            }
            Algorithm::ES256 | Algorithm::ES384 => {
                if kty != "EC" {
                    return Err(KeyError::WrongType);
                }
                let crv = member(jwk, "crv").map_err(|_| KeyError::Member("crv"))?;
                return Self::from_ec_members(alg, crv, member(jwk, "x"), member(jwk, "y"));
            }
            Algorithm::EdDSA => {
                if kty != "OKP" {
                    return Err(KeyError::WrongType);
                }
                if member(jwk, "crv").map_err(|_| KeyError::Member("crv"))? != "Ed25519" {
                    return Err(KeyError::WrongCurve);
                }
                let x = b64_member(jwk, "x")?;
                if x.len() != 32 {
                    return Err(KeyError::Member("x"));
                }
                ParsedPublicKey::new(verification_algorithm(alg), x)
                    .map_err(|_| KeyError::Rejected)?
            }
        };
        Ok(Self { alg, key })
    }

    /// An ES256 or ES384 key from its JWK members `crv`, `x` and `y` (`kty` checked by the
    /// caller), with the errors [`from_jwk`](Self::from_jwk) gives, in its order.
    pub(crate) fn from_ec_members(
        alg: Algorithm,
        crv: &str,
        x: Result<&str, KeyError>,
        y: Result<&str, KeyError>,
    ) -> Result<Self, KeyError> {
        let (expected_crv, len) = match alg {
            Algorithm::ES256 => ("P-256", 32),
            Algorithm::ES384 => ("P-384", 48),
            _ => return Err(KeyError::WrongType),
        };
        if crv != expected_crv {
            return Err(KeyError::WrongCurve);
        }
        let decode = |text: Result<&str, KeyError>, name| {
            b64_decode(text?).map_err(|_| KeyError::Member(name))
        };
        let x = decode(x, "x")?;
        let y = decode(y, "y")?;
        if x.len() != len {
            return Err(KeyError::Member("x"));
        }
        if y.len() != len {
            return Err(KeyError::Member("y"));
        }
        let mut point = Vec::with_capacity(1 + 2 * len);
        point.push(0x04);
        point.extend_from_slice(&x);
        point.extend_from_slice(&y);
        let key = ParsedPublicKey::new(verification_algorithm(alg), point)
            .map_err(|_| KeyError::Rejected)?;
        Ok(Self { alg, key })
    }

    /// The algorithm this key verifies.
    pub fn algorithm(&self) -> Algorithm {
        self.alg
    }

    /// Checks `signature` over `message`; ECDSA signatures are JOSE's fixed `r || s` form.
    ///
    /// The message is hashed here, in one call, and aws-lc checks the signature of the digest
    /// (`verify_digest_sig`, which refuses a digest of another algorithm than the key's): the
    /// same check as `verify_sig`, without the digest context `EVP_DigestVerify` sets up for
    /// every call (about 1% of an RS256 check, measured on 500 distinct tokens). EdDSA signs
    /// the message itself.
    pub fn verify(&self, message: &[u8], signature: &[u8]) -> bool {
        match message_digest(self.alg) {
            Some(algorithm) => self.verify_digest(&digest::digest(algorithm, message), signature),
            None => self.key.verify_sig(message, signature).is_ok(),
        }
    }

    /// The digest this key's algorithm signs (`None` for EdDSA, which signs the message).
    pub(crate) fn message_digest(&self) -> Option<&'static digest::Algorithm> {
        message_digest(self.alg)
    }

    /// Checks `signature` over the message whose digest is `digest` (false for a digest of
    /// another algorithm than [`message_digest`](Self::message_digest), and for EdDSA).
    pub(crate) fn verify_digest(&self, digest: &digest::Digest, signature: &[u8]) -> bool {
        self.key.verify_digest_sig(digest, signature).is_ok()
    }
}

fn strip_leading_zeros(bytes: &[u8]) -> &[u8] {
    let first = bytes.iter().position(|b| *b != 0).unwrap_or(bytes.len());
    &bytes[first..]
}

/// Key material the unit tests of several modules generate.
#[cfg(test)]
#[allow(clippy::unwrap_used)]
pub(crate) mod test_keys {
    use aws_lc_rs::pkcs8::Document;
    use aws_lc_rs::rand::SystemRandom;
    use aws_lc_rs::signature::{ECDSA_P256_SHA256_FIXED_SIGNING, EcdsaKeyPair};

    /// A fresh P-256 signing key: its PKCS#8 document and the key pair read back from it.
    pub(crate) fn p256() -> (Document, EcdsaKeyPair) {
        let pkcs8 =
            EcdsaKeyPair::generate_pkcs8(&ECDSA_P256_SHA256_FIXED_SIGNING, &SystemRandom::new())
                .unwrap();
        let pair =
            EcdsaKeyPair::from_pkcs8(&ECDSA_P256_SHA256_FIXED_SIGNING, pkcs8.as_ref()).unwrap();
        (pkcs8, pair)
    }
}

#[cfg(test)]
#[allow(clippy::unwrap_used)]
mod tests {
    use super::*;
    use serde_json::json;

    fn obj(v: Value) -> JsonObject {
        v.as_object().cloned().unwrap()
    }

    #[test]
    fn rejects_wrong_types_and_bad_points() {
        let ec = obj(
            json!({"kty":"EC","crv":"P-256","x":"AAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAA","y":"AAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAA"}),
        );
        assert_eq!(
            VerifyingKey::from_jwk(&ec, Algorithm::ES256).unwrap_err(),
            KeyError::Rejected
        );
        assert_eq!(
            VerifyingKey::from_jwk(&ec, Algorithm::RS256).unwrap_err(),
            KeyError::WrongType
        );
        assert_eq!(
            VerifyingKey::from_jwk(&ec, Algorithm::ES384).unwrap_err(),
            KeyError::WrongCurve
        );
        let small = obj(json!({"kty":"RSA","n":"AQAB","e":"AQAB"}));
        assert!(matches!(
            VerifyingKey::from_jwk(&small, Algorithm::RS256).unwrap_err(),
            KeyError::RsaSize(17)
        ));
        let missing = obj(json!({"kty":"RSA","e":"AQAB"}));
        assert_eq!(
            VerifyingKey::from_jwk(&missing, Algorithm::RS256).unwrap_err(),
            KeyError::Member("n")
        );
        assert_eq!(
            VerifyingKey::from_jwk(&obj(json!({})), Algorithm::RS256).unwrap_err(),
            KeyError::WrongType
        );
    }

    /// Every algorithm's signature verifies over its message only, and only with its own
    /// algorithm: the digest handed to aws-lc is the one the key's algorithm signs.
    #[test]
    fn every_algorithm_checks_its_own_signatures() {
        use aws_lc_rs::rand::SystemRandom;
        use aws_lc_rs::rsa::KeySize;
        use aws_lc_rs::signature::{
            ECDSA_P256_SHA256_FIXED_SIGNING, ECDSA_P384_SHA384_FIXED_SIGNING, EcdsaKeyPair,
            Ed25519KeyPair, KeyPair, RsaKeyPair,
        };
        use base64::Engine as _;
        use base64::engine::general_purpose::URL_SAFE_NO_PAD as B64;
        let rng = SystemRandom::new();
        let rsa = RsaKeyPair::generate(KeySize::Rsa2048).unwrap();
        let rsa_jwk = {
            let public = rsa.public_key();
            let c = aws_lc_rs::rsa::PublicKeyComponents::<Vec<u8>>::from(public);
            obj(json!({"kty":"RSA","n":B64.encode(&c.n),"e":B64.encode(&c.e)}))
        };
        let rsa_sign = |padding: &'static dyn aws_lc_rs::signature::RsaEncoding| {
            let mut sig = vec![0; rsa.public_modulus_len()];
            rsa.sign(padding, &rng, b"msg", &mut sig).unwrap();
            sig
        };
        let ec = |signing, crv: &str, half: usize| {
            let pkcs8 = EcdsaKeyPair::generate_pkcs8(signing, &rng).unwrap();
            let pair = EcdsaKeyPair::from_pkcs8(signing, pkcs8.as_ref()).unwrap();
            let point = pair.public_key().as_ref().to_vec();
            let jwk = obj(json!({"kty":"EC","crv":crv,
                "x":B64.encode(&point[1..=half]),"y":B64.encode(&point[1 + half..])}));
            (jwk, pair.sign(&rng, b"msg").unwrap().as_ref().to_vec())
        };
        let ed = Ed25519KeyPair::generate().unwrap();
        let ed_jwk =
            obj(json!({"kty":"OKP","crv":"Ed25519","x":B64.encode(ed.public_key().as_ref())}));
        let (p256, p256_sig) = ec(&ECDSA_P256_SHA256_FIXED_SIGNING, "P-256", 32);
        let (p384, p384_sig) = ec(&ECDSA_P384_SHA384_FIXED_SIGNING, "P-384", 48);
        let cases = [
            (
                Algorithm::RS256,
                &rsa_jwk,
                rsa_sign(&signature::RSA_PKCS1_SHA256),
            ),
            (
                Algorithm::RS384,
                &rsa_jwk,
                rsa_sign(&signature::RSA_PKCS1_SHA384),
            ),
            (
                Algorithm::RS512,
                &rsa_jwk,
                rsa_sign(&signature::RSA_PKCS1_SHA512),
            ),
            (
                Algorithm::PS256,
                &rsa_jwk,
                rsa_sign(&signature::RSA_PSS_SHA256),
            ),
            (
                Algorithm::PS384,
                &rsa_jwk,
                rsa_sign(&signature::RSA_PSS_SHA384),
            ),
            (
                Algorithm::PS512,
                &rsa_jwk,
                rsa_sign(&signature::RSA_PSS_SHA512),
            ),
            (Algorithm::ES256, &p256, p256_sig),
            (Algorithm::ES384, &p384, p384_sig),
            (Algorithm::EdDSA, &ed_jwk, ed.sign(b"msg").as_ref().to_vec()),
        ];
        for (alg, jwk, sig) in &cases {
            let key = VerifyingKey::from_jwk(jwk, *alg).unwrap();
            assert!(key.verify(b"msg", sig), "{alg:?}");
            assert!(!key.verify(b"msg.", sig), "{alg:?}: another message");
            assert!(
                !key.verify(b"msg", &sig[1..]),
                "{alg:?}: a truncated signature"
            );
            for (other, other_jwk, other_sig) in &cases {
                if other != alg && std::ptr::eq(*jwk, *other_jwk) {
                    assert!(!key.verify(b"msg", other_sig), "{alg:?} took {other:?}'s");
                }
            }
        }
    }

    #[test]
    fn ec_key_from_generated_pair_verifies() {
        use aws_lc_rs::signature::KeyPair;
        use base64::Engine as _;
        use base64::engine::general_purpose::URL_SAFE_NO_PAD;
        let (_, pair) = test_keys::p256();
        let point = pair.public_key().as_ref();
        let jwk = obj(
            json!({"kty":"EC","crv":"P-256","x":URL_SAFE_NO_PAD.encode(&point[1..33]),"y":URL_SAFE_NO_PAD.encode(&point[33..])}),
        );
        let key = VerifyingKey::from_jwk(&jwk, Algorithm::ES256).unwrap();
        let sig = pair
            .sign(&aws_lc_rs::rand::SystemRandom::new(), b"msg")
            .unwrap();
        assert!(key.verify(b"msg", sig.as_ref()));
        assert!(!key.verify(b"other", sig.as_ref()));
        assert!(!key.verify(b"msg", b"short"));
    }
}
