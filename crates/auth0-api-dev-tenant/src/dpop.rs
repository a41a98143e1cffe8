//! A standalone DPoP (RFC 9449) client helper: an ES256 key and proofs.
//!
//! ```
//! use auth0_api_dev_tenant::dpop::DpopKey;
//!
//! let key = DpopKey::generate();
//! let proof = key
//!     .proof("GET", "https://api.example.com/x", Some("access-token"))
//!     .sign();
//! assert_eq!(proof.split('.').count(), 3);
//! assert_eq!(key.thumbprint().len(), 43);
//! ```

use aws_lc_rs::signature::{ECDSA_P256_SHA256_FIXED_SIGNING, EcdsaKeyPair, KeyPair as _};
use base64::Engine as _;
use base64::engine::general_purpose::STANDARD;
use serde_json::{Map, Value, json};

use crate::Error;
use crate::jwt::{b64e, infallible};

/// An ES256 (P-256) DPoP key pair.
pub struct DpopKey {
    pair: EcdsaKeyPair,
    x: String,
    y: String,
}

impl std::fmt::Debug for DpopKey {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("DpopKey")
            .field("thumbprint", &self.thumbprint())
            .finish()
    }
}

impl DpopKey {
    /// Generates a fresh P-256 key.
    ///
    /// # Panics
    /// If the system RNG fails (see [`try_generate`](Self::try_generate)).
    pub fn generate() -> Self {
        infallible(Self::try_generate())
    }

    /// Generates a fresh P-256 key.
    ///
    /// # Errors
    /// [`Error::Crypto`] if key generation fails.
    pub fn try_generate() -> Result<Self, Error> {
        let pair = EcdsaKeyPair::generate(&ECDSA_P256_SHA256_FIXED_SIGNING)
            .map_err(|_| Error::Crypto("P-256 key generation failed".into()))?;
        Self::from_pair(pair)
    }

    fn from_pair(pair: EcdsaKeyPair) -> Result<Self, Error> {
        let point = pair.public_key().as_ref();
        if point.len() != 65 || point[0] != 0x04 {
            return Err(Error::InvalidKey(
                "unexpected P-256 public key encoding".into(),
            ));
        }
        Ok(DpopKey {
            x: b64e(&point[1..33]),
            y: b64e(&point[33..65]),
            pair,
        })
    }

    /// Loads a PKCS#8 (v1 or v2) DER P-256 private key.
    ///
    /// # Errors
    /// [`Error::InvalidKey`] if the bytes are not a P-256 PKCS#8 key.
    pub fn from_pkcs8_der(der: &[u8]) -> Result<Self, Error> {
        let pair = EcdsaKeyPair::from_pkcs8(&ECDSA_P256_SHA256_FIXED_SIGNING, der)
            .map_err(|e| Error::InvalidKey(format!("not a P-256 PKCS#8 key: {e}")))?;
        Self::from_pair(pair)
    }

    /// The private key as PKCS#8 v1 DER.
    ///
    /// # Errors
    /// [`Error::Crypto`] if serialization fails.
    pub fn to_pkcs8_der(&self) -> Result<Vec<u8>, Error> {
        let doc = self
            .pair
            .to_pkcs8v1()
            .map_err(|_| Error::Crypto("PKCS#8 serialization failed".into()))?;
        Ok(doc.as_ref().to_vec())
    }

    /// The private key as a `-----BEGIN PRIVATE KEY-----` PEM document.
    ///
    /// # Errors
    /// [`Error::Crypto`] if serialization fails.
    pub fn to_pkcs8_pem(&self) -> Result<String, Error> {
        let b64 = STANDARD.encode(self.to_pkcs8_der()?);
        let mut pem = String::from("-----BEGIN PRIVATE KEY-----\n");
        for chunk in b64.as_bytes().chunks(64) {
            pem.push_str(&String::from_utf8_lossy(chunk));
            pem.push('\n');
        }
        pem.push_str("-----END PRIVATE KEY-----\n");
        Ok(pem)
    }

    /// Loads a `-----BEGIN PRIVATE KEY-----` PEM document.
    ///
    /// # Errors
    /// [`Error::InvalidKey`] if there is no such block or it is not a P-256 key.
    pub fn from_pkcs8_pem(pem: &str) -> Result<Self, Error> {
        const BEGIN: &str = "-----BEGIN PRIVATE KEY-----";
        const END: &str = "-----END PRIVATE KEY-----";
        let start = pem
            .find(BEGIN)
            .ok_or_else(|| Error::InvalidKey("no PRIVATE KEY PEM block".into()))?
            + BEGIN.len();
        let len = pem[start..]
            .find(END)
            .ok_or_else(|| Error::InvalidKey("unterminated PEM block".into()))?;
        let b64: String = pem[start..start + len]
            .chars()
            .filter(|c| !c.is_whitespace())
            .collect();
        let der = STANDARD
            .decode(b64)
            .map_err(|e| Error::InvalidKey(format!("bad PEM base64: {e}")))?;
        Self::from_pkcs8_der(&der)
    }

    /// The public JWK `{"kty":"EC","crv":"P-256","x":..,"y":..}`.
    pub fn public_jwk(&self) -> Value {
        json!({ "kty": "EC", "crv": "P-256", "x": self.x, "y": self.y })
    }

    /// The RFC 7638 SHA-256 JWK thumbprint (the `cnf.jkt` of bound tokens).
    pub fn thumbprint(&self) -> String {
        ec_thumbprint("P-256", &self.x, &self.y)
    }

    /// Starts a proof for `htm` `htu`; with `access_token`, `ath` is set to
    /// its base64url SHA-256 hash.
    pub fn proof(&self, htm: &str, htu: &str, access_token: Option<&str>) -> ProofBuilder<'_> {
        let mut header = Map::new();
        header.insert("typ".into(), json!("dpop+jwt"));
        header.insert("alg".into(), json!("ES256"));
        header.insert("jwk".into(), self.public_jwk());
        let mut claims = Map::new();
        claims.insert("jti".into(), json!(infallible(crate::random_uuid())));
        claims.insert("htm".into(), json!(htm));
        claims.insert("htu".into(), json!(htu));
        claims.insert("iat".into(), json!(crate::now()));
        if let Some(token) = access_token {
            claims.insert("ath".into(), json!(access_token_hash(token)));
        }
        ProofBuilder {
            key: self,
            header,
            claims,
        }
    }

    /// Signs `input` ES256 (fixed-size r||s signature).
    fn sign_bytes(&self, input: &[u8]) -> Result<Vec<u8>, Error> {
        let rng = aws_lc_rs::rand::SystemRandom::new();
        let sig = self
            .pair
            .sign(&rng, input)
            .map_err(|_| Error::Crypto("ES256 signing failed".into()))?;
        Ok(sig.as_ref().to_vec())
    }
}

/// A DPoP proof under construction; see [`DpopKey::proof`].
#[must_use = "a ProofBuilder does nothing until signed"]
#[derive(Debug)]
pub struct ProofBuilder<'a> {
    key: &'a DpopKey,
    header: Map<String, Value>,
    claims: Map<String, Value>,
}

impl ProofBuilder<'_> {
    /// Sets `iat`.
    pub fn iat(self, iat: i64) -> Self {
        self.claim("iat", json!(iat))
    }

    /// Sets `jti`.
    pub fn jti(self, jti: impl Into<String>) -> Self {
        self.claim("jti", Value::String(jti.into()))
    }

    /// Sets `nonce` (a server-provided DPoP nonce).
    pub fn nonce(self, nonce: impl Into<String>) -> Self {
        self.claim("nonce", Value::String(nonce.into()))
    }

    jws_member_setters! {
        /// Sets any claim.
        claim,
        /// Removes a claim (e.g. `"ath"`).
        remove_claim => claims;
        /// Sets any header member.
        header,
        /// Removes a header member (e.g. `"jwk"`).
        remove_header => header;
    }

    /// Sets the header `typ` (default `dpop+jwt`).
    pub fn typ(self, typ: impl Into<String>) -> Self {
        self.header("typ", Value::String(typ.into()))
    }

    /// Signs the proof ES256 with the key, whatever the header `alg` says.
    ///
    /// # Errors
    /// [`Error::Crypto`] if signing fails.
    pub fn try_sign(&self) -> Result<String, Error> {
        let header = serde_json::to_vec(&self.header).map_err(|e| Error::Crypto(e.to_string()))?;
        let claims = serde_json::to_vec(&self.claims).map_err(|e| Error::Crypto(e.to_string()))?;
        let input = format!("{}.{}", b64e(&header), b64e(&claims));
        let sig = self.key.sign_bytes(input.as_bytes())?;
        Ok(format!("{input}.{}", b64e(&sig)))
    }

    /// Signs the proof: a compact JWS.
    ///
    /// # Panics
    /// If [`try_sign`](Self::try_sign) fails (only on a crypto failure).
    pub fn sign(&self) -> String {
        infallible(self.try_sign())
    }
}

/// `ath`: base64url SHA-256 of the access token's ASCII bytes.
pub fn access_token_hash(access_token: &str) -> String {
    b64e(aws_lc_rs::digest::digest(&aws_lc_rs::digest::SHA256, access_token.as_bytes()).as_ref())
}

/// RFC 7638 thumbprint of an EC public key given by its JWK members.
pub fn ec_thumbprint(crv: &str, x: &str, y: &str) -> String {
    let canonical = json!({ "crv": crv, "kty": "EC", "x": x, "y": y });
    thumbprint_of_canonical(&canonical)
}

/// RFC 7638 SHA-256 thumbprint of a public JWK (`EC`, `RSA` or `OKP`), from
/// its required members in lexicographic order; `None` if a member is
/// missing or not a string, or the key type is unknown.
pub fn jwk_thumbprint(jwk: &Value) -> Option<String> {
    let member = |name: &str| jwk.get(name).and_then(Value::as_str);
    let canonical = match member("kty")? {
        "EC" => json!({ "crv": member("crv")?, "kty": "EC", "x": member("x")?, "y": member("y")? }),
        "RSA" => json!({ "e": member("e")?, "kty": "RSA", "n": member("n")? }),
        "OKP" => json!({ "crv": member("crv")?, "kty": "OKP", "x": member("x")? }),
        _ => return None,
    };
    Some(thumbprint_of_canonical(&canonical))
}

/// SHA-256 over the compact JSON of `canonical`. Callers insert the members
/// in lexicographic order, so the text is canonical whether `serde_json`
/// sorts keys (its default) or keeps insertion order (`preserve_order`).
fn thumbprint_of_canonical(canonical: &Value) -> String {
    let text = canonical.to_string();
    b64e(aws_lc_rs::digest::digest(&aws_lc_rs::digest::SHA256, text.as_bytes()).as_ref())
}

#[cfg(test)]
#[allow(clippy::unwrap_used, clippy::expect_used)]
mod tests {
    use super::*;

    #[test]
    fn rfc7638_rsa_example() {
        // RFC 7638 section 3.1.
        let jwk = json!({
            "kty": "RSA",
            "n": "0vx7agoebGcQSuuPiLJXZptN9nndrQmbXEps2aiAFbWhM78LhWx4cbbfAAtVT86zwu1RK7aPFFxuhDR1L6tSoc_BJECPebWKRXjBZCiFV4n3oknjhMstn64tZ_2W-5JsGY4Hc5n9yBXArwl93lqt7_RN5w6Cf0h4QyQ5v-65YGjQR0_FDW2QvzqY368QQMicAtaSqzs8KJZgnYb9c7d0zgdAZHzu6qMQvRL5hajrn1n91CbOpbISD08qNLyrdkt-bFTWhAI4vMQFh6WeZu0fM4lFd2NcRwr3XPksINHaQ-G_xBniIqbw0Ls1jF44-csFCur-kEgU8awapJzKnqDKgw",
            "e": "AQAB",
            "alg": "RS256",
            "kid": "2011-04-29"
        });
        assert_eq!(
            jwk_thumbprint(&jwk).unwrap(),
            "NzbLsXh8uDCcd-6MNwXF4W_7noWXFZAfHkxZsRGC9Xs"
        );
    }

    #[test]
    fn pem_round_trip() {
        let key = DpopKey::generate();
        let pem = key.to_pkcs8_pem().unwrap();
        assert!(pem.starts_with("-----BEGIN PRIVATE KEY-----\n"));
        let back = DpopKey::from_pkcs8_pem(&pem).unwrap();
        assert_eq!(back.public_jwk(), key.public_jwk());
        assert!(DpopKey::from_pkcs8_pem("nothing").is_err());
        assert_eq!(jwk_thumbprint(&key.public_jwk()).unwrap(), key.thumbprint());
    }
}
