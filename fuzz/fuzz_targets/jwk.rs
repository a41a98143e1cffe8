//! JWK -> verifying key (`VerifyingKey::from_jwk`, every algorithm) and RFC 7638 thumbprints
//! (`jwk_thumbprint`) on arbitrary JSON objects and on near-valid keys with arbitrary members.
//! Keys that parse then check an arbitrary signature without panicking.
#![no_main]

use auth0_api::Algorithm;
use auth0_api::dpop::thumbprint::jwk_thumbprint;
use auth0_api::__fuzz::keys::{KeyError, MAX_RSA_BITS, MIN_RSA_BITS, VerifyingKey};
use base64::Engine as _;
use base64::engine::general_purpose::URL_SAFE_NO_PAD;
use libfuzzer_sys::arbitrary::{self, Arbitrary};
use libfuzzer_sys::fuzz_target;
use serde_json::{Map, Value, json};

#[derive(Arbitrary, Debug)]
enum Jwk<'a> {
    /// Any bytes, used when they are a JSON object.
    Raw(&'a [u8]),
    /// `kty`/`crv` from the usual values, members from arbitrary bytes.
    Members {
        kty: u8,
        crv: u8,
        x: Option<&'a [u8]>,
        y: Option<&'a [u8]>,
        n: Option<&'a [u8]>,
        e: Option<&'a [u8]>,
        /// Member names set to arbitrary strings (not necessarily base64url).
        text: Vec<(u8, &'a str)>,
        /// Bits of `n` forced on: makes moduli of the boundary sizes.
        n_len: Option<u16>,
    },
}

#[derive(Arbitrary, Debug)]
struct Input<'a> {
    jwk: Jwk<'a>,
    message: &'a [u8],
    signature: &'a [u8],
}

const KTY: [&str; 6] = ["RSA", "EC", "OKP", "oct", "rsa", ""];
const CRV: [&str; 6] = ["P-256", "P-384", "Ed25519", "P-521", "X25519", "p-256"];
const NAMES: [&str; 9] = ["kty", "crv", "x", "y", "n", "e", "alg", "kid", "d"];

fn b64(bytes: &[u8]) -> Value {
    json!(URL_SAFE_NO_PAD.encode(bytes))
}

fn object(jwk: &Jwk<'_>) -> Option<Map<String, Value>> {
    match jwk {
        Jwk::Raw(bytes) => serde_json::from_slice::<Value>(bytes)
            .ok()?
            .as_object()
            .cloned(),
        Jwk::Members {
            kty,
            crv,
            x,
            y,
            n,
            e,
            text,
            n_len,
        } => {
            let mut m = Map::new();
            m.insert("kty".into(), json!(KTY[usize::from(*kty) % KTY.len()]));
            m.insert("crv".into(), json!(CRV[usize::from(*crv) % CRV.len()]));
            for (name, bytes) in [("x", x), ("y", y), ("e", e)] {
                if let Some(b) = bytes {
                    m.insert(name.into(), b64(b));
                }
            }
            let modulus = match (n, n_len) {
                (_, Some(len)) => {
                    // A modulus of exactly `len` bytes (up to 1100: past the 8192-bit cap).
                    let len = usize::from(*len) % 1100 + 1;
                    let mut bytes = vec![0xa5u8; len];
                    bytes[0] = 0x80 | bytes[0];
                    bytes[len - 1] |= 1;
                    Some(bytes)
                }
                (Some(b), None) => Some(b.to_vec()),
                (None, None) => None,
            };
            if let Some(b) = modulus {
                m.insert("n".into(), b64(&b));
            }
            for (name, value) in text {
                m.insert(NAMES[usize::from(*name) % NAMES.len()].into(), json!(value));
            }
            Some(m)
        }
    }
}

fuzz_target!(|input: Input<'_>| {
    let Some(jwk) = object(&input.jwk) else {
        return;
    };
    for alg in Algorithm::ALL {
        match VerifyingKey::from_jwk(&jwk, alg) {
            Ok(key) => {
                assert_eq!(key.algorithm(), alg);
                let _ = key.verify(input.message, input.signature);
            }
            Err(KeyError::RsaSize(bits)) => {
                assert!(!(MIN_RSA_BITS..=MAX_RSA_BITS).contains(&bits));
            }
            Err(e) => assert!(!e.to_string().is_empty()),
        }
    }
    if let Ok(jkt) = jwk_thumbprint(&jwk) {
        assert_eq!(jkt.len(), 43);
        assert!(
            jkt.bytes()
                .all(|b| b.is_ascii_alphanumeric() || b == b'-' || b == b'_')
        );
    }
});
