//! The floor: the least work a correct verifier of the benches' tokens does, written as plainly
//! and as leanly as the same crates allow, so that the paired runs can show how far the
//! library is from it, and not only from the bare signature check.
//!
//! What it does, for an RS256 token of a known issuer: split the three segments; strict
//! base64url into stack buffers; a validating JSON pass over the header (`alg` must be
//! `RS256`, `kid` the issuer's) and the payload (`iss`, `aud`, `exp`, `iat`, `nbf`: every
//! other member is skipped by serde, still validated); the issuer's key (one comparison for a
//! single issuer, a hash lookup for a list); the signature, as the library checks it (SHA-256
//! of the signing input, then aws-lc's check of that digest); the claims (`iss` known, `aud`
//! holding the audience, `exp`, `iat` and `nbf` against the clock with the library's 60 s
//! leeway).
//!
//! What it leaves out, and a real verifier cannot: every error detail (it answers a `bool`),
//! key sets and their refreshes, caches, required claims, escaped strings in the claims it
//! reads (serde's borrowed `&str` refuses them), more than [`MAX_AUD`] audiences, and any limit
//! beyond its buffers. So a library at the floor's ratio does no more than this.

use std::collections::HashMap;
use std::fmt;
use std::time::{SystemTime, UNIX_EPOCH};

use aws_lc_rs::digest;
use aws_lc_rs::signature::ParsedPublicKey;
use base64_simd::{Out, URL_SAFE_NO_PAD};
use serde::Deserialize;
use serde::de::{self, Deserializer, SeqAccess, Visitor};

/// Most audiences the floor reads from an `aud` array.
pub const MAX_AUD: usize = 4;
/// The library's default clock leeway.
const LEEWAY_SECS: f64 = 60.0;

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
fn b64<'b>(text: &str, buf: &'b mut [u8]) -> Option<&'b [u8]> {
    if URL_SAFE_NO_PAD.estimated_decoded_length(text.len()) > buf.len() {
        return None;
    }
    URL_SAFE_NO_PAD
        .decode(text.as_bytes(), Out::from_slice(buf))
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
        let mut parts = token.splitn(3, '.');
        let (Some(h), Some(p), Some(s)) = (parts.next(), parts.next(), parts.next()) else {
            return false;
        };
        if s.contains('.') {
            return false;
        }
        let (mut hbuf, mut pbuf, mut sbuf) = ([0u8; 256], [0u8; 2048], [0u8; 1024]);
        let (Some(hb), Some(pb), Some(sig)) =
            (b64(h, &mut hbuf), b64(p, &mut pbuf), b64(s, &mut sbuf))
        else {
            return false;
        };
        let (Ok(header), Ok(payload)) = (
            serde_json::from_slice::<Header<'_>>(hb),
            serde_json::from_slice::<Payload<'_>>(pb),
        ) else {
            return false;
        };
        let Some(issuer) = self.issuer(payload.iss) else {
            return false;
        };
        if header.alg != "RS256" || header.kid != issuer.kid {
            return false;
        }
        let digest = digest::digest(&digest::SHA256, &token.as_bytes()[..h.len() + 1 + p.len()]);
        if issuer.key.verify_digest_sig(&digest, sig).is_err() {
            return false;
        }
        let Ok(now) = SystemTime::now().duration_since(UNIX_EPOCH) else {
            return false;
        };
        let now = now.as_secs_f64();
        payload.aud.contains(&self.audience)
            && now <= payload.exp + LEEWAY_SECS
            && payload.iat <= now + LEEWAY_SECS
            && payload.nbf.is_none_or(|nbf| nbf <= now + LEEWAY_SECS)
    }
}
