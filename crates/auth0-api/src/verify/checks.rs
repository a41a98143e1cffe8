//! Access-token checks (RFC 9068, RFC 8725), in auth0-api-python's order and with its texts,
//! plus the stricter checks it lacks (`nbf`, `crit`, finite times, size caps): the unverified
//! issuer, the `kid`, the signature against a key already found, and the claims. None does I/O;
//! [`TokenVerifier::verify`](super::TokenVerifier::verify) puts them in order.

use std::borrow::Cow;
use std::mem::MaybeUninit;
use std::sync::OnceLock;

use aws_lc_rs::digest;

use super::decode::{CheckedHeader, Decoded, HeaderAlg, Kid, Payload};
use crate::claims::Claims;
use crate::domains::normalize_domain_cow;
use crate::error::{Result, TokenError};
use crate::fetch::jwks::JwkEntry;
use crate::jose::json_view::{self, AudMatch, Lite, Number};
use crate::jose::jws;
use crate::settings::Algorithm;

/// The token's `iss`, normalised to `https://host/`, before any network call (borrowed from the
/// payload when it already has that form, as Auth0's issuers do).
pub(crate) fn unverified_issuer<'p>(payload: &Payload<'p>) -> Result<Cow<'p, str>> {
    if !json_view::truthy(payload.iss.as_ref()) {
        Err(TokenError::MissingIssuer)?;
    }
    let invalid = |e: crate::domains::DomainError| -> crate::Error {
        TokenError::InvalidIssuer(e.to_string()).into()
    };
    match &payload.iss {
        Some(Lite::Str(Cow::Borrowed(text))) => normalize_domain_cow(text).map_err(invalid),
        other => {
            let text = other.as_ref().and_then(Lite::as_str).unwrap_or_default();
            normalize_domain_cow(text)
                .map(|n| Cow::Owned(n.into_owned()))
                .map_err(invalid)
        }
    }
}

/// The token's `iss` as it is written, when it is a string.
pub(crate) fn issuer_text<'p>(payload: &'p Payload<'_>) -> Option<&'p str> {
    payload.iss.as_ref().and_then(Lite::as_str)
}

/// The `kid` to look up (the reference requires a truthy one): `None` when it is not a string,
/// which matches no key.
pub(crate) fn kid<'h>(header: &'h CheckedHeader<'_>) -> Result<Option<&'h str>, TokenError> {
    match &header.kid {
        Kid::Missing => Err(TokenError::MissingKid),
        Kid::NotString => Ok(None),
        Kid::Named(kid) => Ok(Some(kid)),
    }
}

/// The signature check, with authlib's order and error names (`crit`, signature encoding,
/// algorithm, key, signature). With `token_digest`, the caller has checked that the segments
/// are the whole token: a SHA-256 signature's hash of the signing input goes on over `.` and
/// the signature, and the token's SHA-256 is stored there once the signature verified.
pub(crate) fn check_signature(
    decoded: &Decoded<'_>,
    key: &JwkEntry,
    allowed: &[Algorithm],
    token_digest: Option<&OnceLock<[u8; 32]>>,
) -> Result<()> {
    if let Some(refused) = &decoded.header.crit {
        Err(refused.clone())?;
    }
    // An RSA-8192 signature (the largest key accepted) is 1 024 bytes: decoded on the stack.
    let mut stack = [const { MaybeUninit::uninit() }; 1024];
    let heap;
    let signature: &[u8] = match jws::b64_decode_into(decoded.segments.signature, &mut stack) {
        Ok(Some(bytes)) => bytes,
        Ok(None) => {
            heap = jws::b64_decode(decoded.segments.signature)
                .map_err(|_| TokenError::SignatureEncoding)?;
            &heap
        }
        Err(_) => Err(TokenError::SignatureEncoding)?,
    };
    let alg = match decoded.header.alg {
        HeaderAlg::Missing => Err(TokenError::MissingAlgorithm)?,
        HeaderAlg::Known(alg) if allowed.contains(&alg) => alg,
        HeaderAlg::Known(_) | HeaderAlg::Unknown => Err(TokenError::UnsupportedAlgorithm)?,
    };
    let verifier = key
        .verifier(alg)
        .map_err(|e| TokenError::InvalidKey(e.to_string()))?;
    let segments = &decoded.segments;
    let verified = match token_digest {
        Some(slot) if verifier.message_digest() == Some(&digest::SHA256) => {
            let mut hash = digest::Context::new(&digest::SHA256);
            hash.update(segments.signing_input.as_bytes());
            let signed = hash.clone().finish();
            let verified = verifier.verify_digest(&signed, signature);
            if verified {
                hash.update(b".");
                hash.update(segments.signature.as_bytes());
                let mut out = [0u8; 32];
                out.copy_from_slice(hash.finish().as_ref());
                // Set once per verification: a slot already set holds the same hash.
                let _ = slot.set(out);
            }
            verified
        }
        _ => verifier.verify(segments.signing_input.as_bytes(), signature),
    };
    if verified {
        Ok(())
    } else {
        Err(TokenError::BadSignature.into())
    }
}

/// What the claims must satisfy besides the [`Expected`] audiences and required claims.
pub(crate) struct ClaimRules<'a> {
    pub(crate) discovery_issuer: &'a str,
    pub(crate) leeway_secs: f64,
    pub(crate) now: f64,
}

fn time_claim(value: Option<Number>, name: &str) -> Result<Option<f64>> {
    match value {
        None => Ok(None),
        Some(Number(Some(t))) => Ok(Some(t)),
        Some(Number(None)) => Err(TokenError::InvalidTimeClaim(name.to_owned()).into()),
    }
}

/// The claim checks after the signature: `iss`, `aud`, `exp`, `iat`, `nbf`, required claims.
pub(crate) fn check_claims(payload: &Payload<'_>, rules: &ClaimRules<'_>) -> Result<()> {
    if payload.iss.as_ref().and_then(Lite::as_str) != Some(rules.discovery_issuer) {
        Err(TokenError::IssuerMismatch)?;
    }
    match payload.aud {
        Some(AudMatch::Array(true) | AudMatch::Single(true)) => {}
        Some(AudMatch::Array(false)) => {
            Err(TokenError::AudienceMismatch { array: true })?;
        }
        Some(AudMatch::Single(false)) | None => {
            Err(TokenError::AudienceMismatch { array: false })?;
        }
    }
    match time_claim(payload.exp, "exp")? {
        Some(exp) if rules.now < exp + rules.leeway_secs => {}
        _ => Err(TokenError::Expired)?,
    }
    if time_claim(payload.iat, "iat")?.is_none() {
        Err(TokenError::MissingIssuedAt)?;
    }
    if let Some(nbf) = time_claim(payload.nbf, "nbf")?
        && rules.now + rules.leeway_secs < nbf
    {
        Err(TokenError::NotYetValid)?;
    }
    let required = payload.expected.required.iter();
    if let Some((claim, _)) = required
        .zip(&payload.required_found)
        .find(|(_, found)| !**found)
    {
        Err(TokenError::MissingClaim(claim.clone()))?;
    }
    Ok(())
}

/// The required claims of a cached verification (a fresh one settles them while decoding).
pub(crate) fn check_required(claims: &Claims, required: &[String]) -> Result<()> {
    match required.iter().find(|c| claims.get(c).is_none()) {
        Some(c) => Err(TokenError::MissingClaim(c.clone()).into()),
        None => Ok(()),
    }
}

/// The issuer must be one of those a domains resolver allowed.
pub(crate) fn check_allowed(allowed: &[String], issuer: &str) -> Result<()> {
    if allowed.iter().any(|d| d == issuer) {
        Ok(())
    } else {
        Err(TokenError::IssuerNotAllowed.into())
    }
}
