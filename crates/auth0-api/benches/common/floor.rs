//! The floor: the least work a correct verifier of the benches' tokens does, written as plainly
//! and as leanly as the same crates allow, so that the paired runs can show how far the
//! library is from it, and not only from the bare signature check.
//!
//! What it does, for an RS256 token of a known issuer: split the three segments; strict
//! base64url into stack buffers; a validating JSON pass over the header (`alg` must be
//! `RS256`, `kid` the issuer's) and the payload (`iss`, `aud`, `exp`, `iat`, `nbf`: every
//! other member is skipped by serde, still validated); the issuer's key (one comparison for a
//! single issuer, a hash lookup for a list); the signature, as the library checks it (SHA-256
//! of the signing input, then aws-lc's check of that digest); the claims as the library checks
//! them (`iss` known, `aud` holding the audience, `exp` and `nbf` against the clock with the
//! library's 60 s leeway, `iat` present).
//!
//! For DPoP ([`Floor::verify_dpop`]), the token as above with its `cnf.jkt`, and the proof:
//! the same decoding, `typ`, `alg` (ES256), the `jwk`'s type and curve, its thumbprint against
//! `cnf.jkt`, `htm`, `htu` (byte for byte), `iat` in the default window, `ath`, the key
//! imported from the `jwk` (every time: no cache), the signature, and the proof never seen
//! before (a keyed hash of the thumbprint and `jti` in a set, under a lock).
//!
//! What it leaves out, and a real verifier cannot: every error detail (it answers a `bool`),
//! key sets and their refreshes, caches, required claims, escaped strings in the claims it
//! reads (serde's borrowed `&str` refuses them), more than [`MAX_AUD`] audiences, and any limit
//! beyond its buffers. So a library at the floor's ratio does no more than this.

use std::collections::{HashMap, HashSet};
use std::fmt;
use std::hash::{BuildHasher, RandomState};
use std::io::Write as _;
use std::mem::MaybeUninit;
use std::sync::Mutex;
use std::time::{SystemTime, UNIX_EPOCH};

use aws_lc_rs::digest;
use aws_lc_rs::signature::{ECDSA_P256_SHA256_FIXED, ParsedPublicKey};
use base64_simd::{Out, URL_SAFE_NO_PAD};
use serde::Deserialize;
use serde::de::{self, Deserializer, SeqAccess, Visitor};

/// Most audiences the floor reads from an `aud` array.
pub const MAX_AUD: usize = 4;
/// The library's default clock leeway.
const LEEWAY_SECS: f64 = 60.0;
/// The library's default DPoP proof window: `iat` at most this old, and at most
/// [`PROOF_LEEWAY_SECS`] ahead.
const PROOF_MAX_AGE_SECS: f64 = 300.0;
const PROOF_LEEWAY_SECS: f64 = 30.0;
/// Proofs remembered before the replay set starts afresh (a bench runs fewer).
const MAX_PROOFS: usize = 1 << 20;

/// An issuer's `kid` and key, as the floor holds them.
struct IssuerKey {
    kid: String,
    key: ParsedPublicKey,
}

/// The floor verifier of one audience and its issuers (see the module).
pub struct Floor {
    audience: String,
    /// A single issuer is matched by one comparison, a list by a hash lookup.
    single: Option<(String, IssuerKey)>,
    many: HashMap<String, IssuerKey>,
    /// Keyed hashes of the `(jkt, jti)` of the proofs accepted (DPoP).
    seen: Mutex<HashSet<u64>>,
    hasher: RandomState,
}

#[derive(Deserialize)]
struct Header<'a> {
    alg: &'a str,
    kid: &'a str,
}

#[derive(Deserialize)]
struct Payload<'a> {
    iss: &'a str,
    #[serde(borrow)]
    aud: Aud<'a>,
    exp: f64,
    iat: f64,
    nbf: Option<f64>,
    #[serde(borrow)]
    cnf: Option<Cnf<'a>>,
}

#[derive(Deserialize)]
struct Cnf<'a> {
    jkt: &'a str,
}

#[derive(Deserialize)]
struct ProofHeader<'a> {
    typ: &'a str,
    alg: &'a str,
    #[serde(borrow)]
    jwk: Jwk<'a>,
}

#[derive(Deserialize)]
struct Jwk<'a> {
    kty: &'a str,
    crv: &'a str,
    x: &'a str,
    y: &'a str,
}

#[derive(Deserialize)]
struct ProofPayload<'a> {
    jti: &'a str,
    htm: &'a str,
    htu: &'a str,
    iat: f64,
    ath: &'a str,
}

/// The segments of a compact JWS, decoded into stack buffers.
struct Decoded<'b> {
    signing_input: &'b str,
    header: &'b [u8],
    payload: &'b [u8],
    signature: &'b [u8],
}

/// Stack buffers for one token's segments, left uninitialised (as the library's header buffer
/// is): zeroing 3.5 KiB on every verification would be work no verifier needs.
struct Buffers {
    header: [MaybeUninit<u8>; 512],
    payload: [MaybeUninit<u8>; 2048],
    signature: [MaybeUninit<u8>; 1024],
}

impl Buffers {
    fn new() -> Self {
        Self {
            header: [MaybeUninit::uninit(); 512],
            payload: [MaybeUninit::uninit(); 2048],
            signature: [MaybeUninit::uninit(); 1024],
        }
    }

    /// Splits `token` into its three segments and decodes them (strict base64url).
    fn decode<'b>(&'b mut self, token: &'b str) -> Option<Decoded<'b>> {
        let mut parts = token.splitn(3, '.');
        let (Some(h), Some(p), Some(s)) = (parts.next(), parts.next(), parts.next()) else {
            return None;
        };
        if s.contains('.') {
            return None;
        }
        Some(Decoded {
            signing_input: &token[..h.len() + 1 + p.len()],
            header: b64(h, &mut self.header)?,
            payload: b64(p, &mut self.payload)?,
            signature: b64(s, &mut self.signature)?,
        })
    }
}

/// The seconds since the epoch, now.
fn now() -> Option<f64> {
    Some(
        SystemTime::now()
            .duration_since(UNIX_EPOCH)
            .ok()?
            .as_secs_f64(),
    )
}

/// Base64url of the SHA-256 of `bytes`, into `out`.
fn b64_sha256<'o>(bytes: &[u8], out: &'o mut [u8; 43]) -> &'o [u8] {
    let digest = digest::digest(&digest::SHA256, bytes);
    URL_SAFE_NO_PAD.encode(digest.as_ref(), Out::from_slice(out))
}

/// `aud`: one string or an array of up to [`MAX_AUD`], read without allocating.
struct Aud<'a>([&'a str; MAX_AUD], usize);

impl<'a> Aud<'a> {
    fn contains(&self, audience: &str) -> bool {
        self.0[..self.1].contains(&audience)
    }
}

impl<'de: 'a, 'a> Deserialize<'de> for Aud<'a> {
    fn deserialize<D: Deserializer<'de>>(d: D) -> Result<Self, D::Error> {
        struct V<'a>(std::marker::PhantomData<&'a ()>);
        impl<'de: 'a, 'a> Visitor<'de> for V<'a> {
            type Value = Aud<'a>;
            fn expecting(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
                f.write_str("a string or an array of strings")
            }
            fn visit_borrowed_str<E: de::Error>(self, v: &'de str) -> Result<Self::Value, E> {
                Ok(Aud([v; MAX_AUD], 1))
            }
            fn visit_seq<S: SeqAccess<'de>>(self, mut seq: S) -> Result<Self::Value, S::Error> {
                let mut aud = Aud([""; MAX_AUD], 0);
                while let Some(v) = seq.next_element::<&'de str>()? {
                    let slot = aud.0.get_mut(aud.1).ok_or_else(|| {
                        de::Error::invalid_length(MAX_AUD + 1, &"at most MAX_AUD audiences")
                    })?;
                    *slot = v;
                    aud.1 += 1;
                }
                Ok(aud)
            }
        }
        d.deserialize_any(V(std::marker::PhantomData))
    }
}

/// Decodes strict base64url `text` into `buf`; `None` when it is invalid or does not fit.
fn b64<'b>(text: &str, buf: &'b mut [MaybeUninit<u8>]) -> Option<&'b [u8]> {
    if URL_SAFE_NO_PAD.estimated_decoded_length(text.len()) > buf.len() {
        return None;
    }
    URL_SAFE_NO_PAD
        .decode(text.as_bytes(), Out::from_uninit_slice(buf))
        .ok()
        .map(|b| &*b)
}

impl Floor {
    /// A floor verifier for `audience` and the issuers `(issuer, kid, key)`.
    pub fn new(
        audience: &str,
        issuers: impl IntoIterator<Item = (String, String, ParsedPublicKey)>,
    ) -> Self {
        let mut many: HashMap<String, IssuerKey> = issuers
            .into_iter()
            .map(|(iss, kid, key)| (iss, IssuerKey { kid, key }))
            .collect();
        let single = if many.len() == 1 {
            many.drain().next()
        } else {
            None
        };
        Self {
            audience: audience.to_owned(),
            single,
            many,
            seen: Mutex::new(HashSet::new()),
            hasher: RandomState::new(),
        }
    }

    fn issuer(&self, iss: &str) -> Option<&IssuerKey> {
        match &self.single {
            Some((only, key)) => (only == iss).then_some(key),
            None => self.many.get(iss),
        }
    }

    /// Whether `token` is valid (see the module for what that covers).
    #[inline(never)]
    pub fn verify(&self, token: &str) -> bool {
        self.token(token, &mut Buffers::new()).is_some()
    }

    /// The checks of [`verify`](Self::verify); the payload when `token` passes them.
    fn token<'b>(&self, token: &'b str, buffers: &'b mut Buffers) -> Option<Payload<'b>> {
        let decoded = buffers.decode(token)?;
        let header: Header<'_> = serde_json::from_slice(decoded.header).ok()?;
        let payload: Payload<'_> = serde_json::from_slice(decoded.payload).ok()?;
        let issuer = self.issuer(payload.iss)?;
        if header.alg != "RS256" || header.kid != issuer.kid {
            return None;
        }
        let digest = digest::digest(&digest::SHA256, decoded.signing_input.as_bytes());
        issuer
            .key
            .verify_digest_sig(&digest, decoded.signature)
            .ok()?;
        let now = now()?;
        (payload.aud.contains(&self.audience)
            && now <= payload.exp + LEEWAY_SECS
            && payload.nbf.is_none_or(|nbf| nbf <= now + LEEWAY_SECS))
        .then_some(payload)
    }

    /// Whether a DPoP request is valid: `token` as [`verify`](Self::verify) checks it and
    /// bound to the key of `proof`, an ES256 proof for `method` and `url` (`typ`, `alg`, the
    /// key's type and curve, the thumbprint against `cnf.jkt`, `htm`, `htu` byte for byte,
    /// `iat` in the default window, `ath`, the signature), never seen before (a keyed hash of
    /// its key's thumbprint and `jti` in a set). The key is imported from the proof's `jwk`
    /// every time: no cache.
    #[inline(never)]
    pub fn verify_dpop(&self, token: &str, proof: &str, method: &str, url: &str) -> bool {
        self.dpop(token, proof, method, url).is_some()
    }

    fn dpop(&self, token: &str, proof: &str, method: &str, url: &str) -> Option<()> {
        let mut token_buffers = Buffers::new();
        let jkt = self.token(token, &mut token_buffers)?.cnf?.jkt;
        let mut buffers = Buffers::new();
        let decoded = buffers.decode(proof)?;
        let header: ProofHeader<'_> = serde_json::from_slice(decoded.header).ok()?;
        let payload: ProofPayload<'_> = serde_json::from_slice(decoded.payload).ok()?;
        let jwk = &header.jwk;
        if header.typ != "dpop+jwt"
            || header.alg != "ES256"
            || jwk.kty != "EC"
            || jwk.crv != "P-256"
        {
            return None;
        }
        // The thumbprint (RFC 7638) against `cnf.jkt`.
        let mut canonical = [0u8; 160];
        let capacity = canonical.len();
        let mut cursor = &mut canonical[..];
        write!(
            cursor,
            r#"{{"crv":"P-256","kty":"EC","x":"{}","y":"{}"}}"#,
            jwk.x, jwk.y
        )
        .ok()?;
        let written = capacity - cursor.len();
        let mut thumbprint = [0u8; 43];
        if b64_sha256(&canonical[..written], &mut thumbprint) != jkt.as_bytes() {
            return None;
        }
        // The claims.
        let now = now()?;
        let mut ath = [0u8; 43];
        if payload.htm != method
            || payload.htu != url
            || payload.iat < now - PROOF_MAX_AGE_SECS - PROOF_LEEWAY_SECS
            || payload.iat > now + PROOF_LEEWAY_SECS
            || b64_sha256(token.as_bytes(), &mut ath) != payload.ath.as_bytes()
        {
            return None;
        }
        // The key, then the signature.
        let mut point = [4u8; 65];
        let (mut x, mut y) = ([MaybeUninit::uninit(); 48], [MaybeUninit::uninit(); 48]);
        let (x, y) = (b64(jwk.x, &mut x)?, b64(jwk.y, &mut y)?);
        if x.len() != 32 || y.len() != 32 {
            return None;
        }
        point[1..33].copy_from_slice(x);
        point[33..].copy_from_slice(y);
        let key = ParsedPublicKey::new(&ECDSA_P256_SHA256_FIXED, point).ok()?;
        let digest = digest::digest(&digest::SHA256, decoded.signing_input.as_bytes());
        key.verify_digest_sig(&digest, decoded.signature).ok()?;
        // Never seen before.
        let seen = self.hasher.hash_one((jkt, payload.jti));
        let mut set = self.seen.lock().ok()?;
        if set.len() >= MAX_PROOFS {
            set.clear();
        }
        set.insert(seen).then_some(())
    }
}
