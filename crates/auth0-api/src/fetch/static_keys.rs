//! Keys given in the options (a JWKS, JWKs, PEM public keys or certificates) instead of
//! discovery and a fetched JWKS: verification with no network at all.
//!
//! The configured inputs become one key set, parsed and checked when the options are built
//! (every member public, with a `kid`, usable with an allowed algorithm); the verifier then
//! answers each allowed issuer with a discovery entry naming that issuer and this key set,
//! entries that never expire, are never refreshed and never refetched (an unknown `kid` is
//! `No matching key found in JWKS` at once).

use std::collections::HashMap;
use std::sync::Arc;
use std::time::Duration;

use base64::Engine as _;
use base64::engine::general_purpose::URL_SAFE_NO_PAD;
use rustls_pki_types::pem::PemObject;
use rustls_pki_types::{CertificateDer, SubjectPublicKeyInfoDer};
use serde_json::{Map, Value, json};

use crate::domains::normalize_domain;
use crate::fetch::discovery::Discovery;
use crate::fetch::document_cache::Entry;
use crate::fetch::jwks::{KeySet, MAX_KEYS};
use crate::settings::Algorithm;

/// How long a static entry is current: long enough never to matter, short enough that no
/// `Instant` arithmetic can overflow.
const FOREVER: Duration = Duration::from_secs(100 * 365 * 24 * 3600);

/// Most bytes of one static key input (a JWKS of [`MAX_KEYS`] 8192-bit keys fits).
const MAX_INPUT_BYTES: usize = 512 * 1024;

/// The label standing for the key set's `jwks_uri` (never fetched).
const STATIC_JWKS_URI: &str = "static:jwks";

/// One key input, as the builder received it.
#[derive(Clone)]
pub(crate) enum StaticKeyInput {
    /// A JWKS document (`{"keys": [...]}`).
    Jwks(Vec<u8>),
    /// One JWK.
    Jwk(Vec<u8>),
    /// A PEM public key (`PUBLIC KEY`) or certificate (`CERTIFICATE`), with the `kid` tokens
    /// name it by.
    Pem { kid: String, pem: Vec<u8> },
}

/// The configured keys as JWK objects, checked; the error is a configuration message.
pub(crate) fn collect_jwks(
    inputs: &[StaticKeyInput],
    algorithms: &[Algorithm],
) -> Result<Map<String, Value>, String> {
    let mut members = Vec::new();
    for input in inputs {
        match input {
            StaticKeyInput::Jwks(text) => {
                let doc = json_object(text, "static JWKS")?;
                let keys = doc
                    .get("keys")
                    .and_then(Value::as_array)
                    .ok_or("static JWKS has no 'keys' array")?;
                members.extend(keys.iter().cloned());
            }
            StaticKeyInput::Jwk(text) => {
                members.push(Value::Object(json_object(text, "static JWK")?));
            }
            StaticKeyInput::Pem { kid, pem } => members.push(pem_to_jwk(kid, pem)?),
        }
    }
    if members.is_empty() {
        return Err("static keys: no key given".to_owned());
    }
    if members.len() > MAX_KEYS {
        return Err(format!("static keys: more than {MAX_KEYS} keys"));
    }
    let mut kids = Vec::with_capacity(members.len());
    for member in &members {
        let jwk = member
            .as_object()
            .ok_or("static key is not a JSON object")?;
        let kid = jwk
            .get("kid")
            .and_then(Value::as_str)
            .filter(|k| !k.is_empty())
            .ok_or("static key has no 'kid'")?;
        if let Some(private) = ["d", "p", "q", "dp", "dq", "qi", "oth", "k"]
            .into_iter()
            .find(|m| jwk.contains_key(*m))
        {
            return Err(format!(
                "static key '{kid}' has the private member '{private}': give the public key"
            ));
        }
        if kids.contains(&kid) {
            return Err(format!("static key '{kid}' is given twice"));
        }
        kids.push(kid);
    }
    let mut doc = Map::new();
    doc.insert("keys".into(), Value::Array(members));
    let set = KeySet::parse(&doc, algorithms).map_err(|e| e.to_string())?;
    for entry in set.entries() {
        if let Some(why) = entry.unusable() {
            let kid = entry.kid.as_deref().unwrap_or_default();
            return Err(format!(
                "static key '{kid}' cannot verify the allowed algorithms: {why}"
            ));
        }
    }
    Ok(doc)
}

fn json_object(text: &[u8], what: &str) -> Result<Map<String, Value>, String> {
    if text.len() > MAX_INPUT_BYTES {
        return Err(format!("{what} is larger than {MAX_INPUT_BYTES} bytes"));
    }
    match serde_json::from_slice(text) {
        Ok(Value::Object(map)) => Ok(map),
        Ok(_) => Err(format!("{what} is not a JSON object")),
        Err(e) => Err(format!("{what} is not JSON: {e}")),
    }
}

/// A PEM public key or certificate as a public JWK (RSA, or EC P-256).
fn pem_to_jwk(kid: &str, pem: &[u8]) -> Result<Value, String> {
    if kid.is_empty() {
        return Err("static PEM key needs a non-empty kid".to_owned());
    }
    if pem.len() > MAX_INPUT_BYTES {
        return Err(format!(
            "static PEM key '{kid}' is larger than {MAX_INPUT_BYTES} bytes"
        ));
    }
    let spki = match SubjectPublicKeyInfoDer::from_pem_slice(pem) {
        Ok(spki) => spki.as_ref().to_vec(),
        Err(_) => {
            let cert = CertificateDer::from_pem_slice(pem).map_err(|_| {
                format!("static PEM key '{kid}' is neither a PUBLIC KEY nor a CERTIFICATE")
            })?;
            let parsed = webpki::EndEntityCert::try_from(&cert)
                .map_err(|e| format!("static PEM certificate '{kid}' cannot be read: {e}"))?;
            parsed.subject_public_key_info().as_ref().to_vec()
        }
    };
    spki_to_jwk(kid, &spki)
        .ok_or_else(|| format!("static PEM key '{kid}' is not an RSA or EC P-256 public key"))
}

/// The DER prefix of an EC P-256 SubjectPublicKeyInfo (id-ecPublicKey, prime256v1), followed
/// by the 65-byte uncompressed point.
const P256_SPKI_PREFIX: [u8; 26] = [
    0x30, 0x59, 0x30, 0x13, 0x06, 0x07, 0x2a, 0x86, 0x48, 0xce, 0x3d, 0x02, 0x01, 0x06, 0x08, 0x2a,
    0x86, 0x48, 0xce, 0x3d, 0x03, 0x01, 0x07, 0x03, 0x42, 0x00,
];

fn spki_to_jwk(kid: &str, spki: &[u8]) -> Option<Value> {
    if let Some(point) = spki.strip_prefix(&P256_SPKI_PREFIX[..])
        && point.len() == 65
        && point[0] == 0x04
    {
        return Some(json!({
            "kty": "EC",
            "crv": "P-256",
            "kid": kid,
            "x": URL_SAFE_NO_PAD.encode(&point[1..33]),
            "y": URL_SAFE_NO_PAD.encode(&point[33..]),
        }));
    }
    let rsa = aws_lc_rs::rsa::PublicKey::from_der(spki).ok()?;
    Some(json!({
        "kty": "RSA",
        "kid": kid,
        "n": URL_SAFE_NO_PAD.encode(rsa.modulus().big_endian_without_leading_zero()),
        "e": URL_SAFE_NO_PAD.encode(rsa.exponent().big_endian_without_leading_zero()),
    }))
}

/// An issuer's discovery entry and its key set.
pub(crate) type IssuerKeys = (Arc<Entry<Arc<Discovery>>>, Arc<Entry<KeySet>>);

/// The static key set and, for each allowed issuer, the discovery entry that names it.
pub(crate) struct StaticKeys {
    keys: Arc<Entry<KeySet>>,
    discoveries: HashMap<String, Arc<Entry<Arc<Discovery>>>>,
}

impl StaticKeys {
    /// The key set of `jwks` (checked by [`collect_jwks`]) for each of `issuers` (normalised).
    pub(crate) fn new(
        jwks: &Map<String, Value>,
        algorithms: &[Algorithm],
        issuers: &[&str],
    ) -> Self {
        // Checked when the options were built: a failure here leaves an empty set, whose every
        // lookup is an unknown key.
        let set = KeySet::parse(jwks, algorithms).unwrap_or_else(|_| KeySet::none());
        let discoveries = issuers
            .iter()
            .map(|issuer| {
                let discovery = Discovery {
                    issuer: (*issuer).to_owned(),
                    jwks_uri: Some(STATIC_JWKS_URI.to_owned()),
                    token_endpoint: None,
                    normalized_issuer: normalize_domain(issuer),
                };
                (
                    (*issuer).to_owned(),
                    Arc::new(Entry::new(Arc::new(discovery), FOREVER, Duration::ZERO)),
                )
            })
            .collect();
        Self {
            keys: Arc::new(Entry::new(set, FOREVER, Duration::ZERO)),
            discoveries,
        }
    }

    /// The discovery entry and key set for `issuer`, if it is allowed.
    pub(crate) fn for_issuer(&self, issuer: &str) -> Option<IssuerKeys> {
        let discovery = self.discoveries.get(issuer)?;
        Some((discovery.clone(), self.keys.clone()))
    }

    /// Whether `kid` is still a member (always, once it was: static keys do not rotate).
    pub(crate) fn has(&self, kid: &str) -> bool {
        self.keys.value.find(kid).is_some()
    }
}

#[cfg(test)]
#[allow(clippy::unwrap_used)]
mod tests {
    use super::*;

    fn rsa_jwk(kid: &str) -> Value {
        // A 2048-bit modulus (any odd 256-byte value with the top bit set parses).
        let mut n = vec![0xc3u8; 256];
        n[255] = 0x01;
        json!({"kty": "RSA", "kid": kid, "n": URL_SAFE_NO_PAD.encode(&n), "e": "AQAB"})
    }

    fn check(inputs: &[StaticKeyInput]) -> Result<Map<String, Value>, String> {
        collect_jwks(inputs, &[Algorithm::RS256])
    }

    #[test]
    fn static_keys_refuse_what_cannot_be_used() {
        let jwk = |v: Value| StaticKeyInput::Jwk(v.to_string().into_bytes());
        assert!(check(&[jwk(rsa_jwk("a"))]).is_ok());
        assert_eq!(check(&[]).unwrap_err(), "static keys: no key given");
        let mut private = rsa_jwk("p");
        private["d"] = json!("AQAB");
        assert!(
            check(&[jwk(private)])
                .unwrap_err()
                .contains("private member 'd'")
        );
        let mut no_kid = rsa_jwk("x");
        no_kid.as_object_mut().unwrap().remove("kid");
        assert_eq!(
            check(&[jwk(no_kid)]).unwrap_err(),
            "static key has no 'kid'"
        );
        assert!(
            check(&[jwk(rsa_jwk("a")), jwk(rsa_jwk("a"))])
                .unwrap_err()
                .contains("given twice")
        );
        let ec = json!({"kty": "EC", "crv": "P-256", "kid": "e", "x": "AA", "y": "AA"});
        assert!(check(&[jwk(ec)]).unwrap_err().contains("cannot verify"));
        assert!(
            check(&[StaticKeyInput::Jwks(b"[]".to_vec())])
                .unwrap_err()
                .contains("not a JSON object")
        );
        assert!(
            check(&[StaticKeyInput::Jwks(b"{}".to_vec())])
                .unwrap_err()
                .contains("'keys'")
        );
        let pem = StaticKeyInput::Pem {
            kid: "k".into(),
            pem: b"-----BEGIN PUBLIC KEY-----\nAAAA\n-----END PUBLIC KEY-----\n".to_vec(),
        };
        assert!(
            check(&[pem])
                .unwrap_err()
                .contains("not an RSA or EC P-256")
        );
        let garbage = StaticKeyInput::Pem {
            kid: "k".into(),
            pem: b"hello".to_vec(),
        };
        assert!(check(&[garbage]).unwrap_err().contains("neither"));
        let big = StaticKeyInput::Jwks(vec![b' '; MAX_INPUT_BYTES + 1]);
        assert!(check(&[big]).unwrap_err().contains("larger than"));
    }

    #[test]
    fn p256_spki_becomes_an_ec_jwk() {
        let mut spki = P256_SPKI_PREFIX.to_vec();
        spki.push(0x04);
        spki.extend([1u8; 32]);
        spki.extend([2u8; 32]);
        let jwk = spki_to_jwk("e", &spki).unwrap();
        assert_eq!(jwk["crv"], "P-256");
        assert_eq!(jwk["x"], URL_SAFE_NO_PAD.encode([1u8; 32]));
        assert_eq!(jwk["y"], URL_SAFE_NO_PAD.encode([2u8; 32]));
    }
}
