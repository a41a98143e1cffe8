//! The proof payload: its decoding and signature as the reference's JWS library (authlib) does
//! them, then the claim checks (RFC 9449 section 4.3, checks 8 to 12) and the server nonce.

use std::time::SystemTime;

use aws_lc_rs::constant_time;
use base64::Engine as _;
use base64::alphabet::URL_SAFE;
use base64::engine::{DecodePaddingMode, GeneralPurpose, GeneralPurposeConfig};
use serde::de::MapAccess;

use super::htu;
use super::nonce::NonceConfig;
use super::thumbprint;
use crate::error::ProofError;
use crate::jose::json_view::{self, Lite, Member, MemberSink, Number, keep, skip};
use crate::jose::jws::{self, DecodeError};
use crate::jose::keys::VerifyingKey;

/// Claims every proof must carry, in the order the reference lists missing ones.
const REQUIRED_CLAIMS: [&str; 5] = ["iat", "ath", "htm", "htu", "jti"];
/// Base64url for the payload and signature segments: no padding and the URL-safe alphabet only,
/// but non-zero trailing bits tolerated as Python's decoder tolerates them, so that a signature
/// altered in its last character is a bad signature (as in the reference), not an encoding error.
/// Such a final character decodes to the same bytes as the canonical one; the signature covers
/// the segments' text either way.
pub(super) const SEGMENT_B64: GeneralPurpose = GeneralPurpose::new(
    &URL_SAFE,
    GeneralPurposeConfig::new()
        .with_encode_padding(false)
        .with_decode_padding_mode(DecodePaddingMode::RequireNone)
        .with_decode_allow_trailing_bits(true),
);

/// The proof claims the checks read, borrowed from the payload text; every other member is
/// validated as a JSON value and not built (the proof's public
/// [`Claims`](crate::claims::Claims) build their map on first use).
#[derive(Default)]
pub(super) struct ProofPayload<'a> {
    jti: Option<Lite<'a>>,
    iat: Option<Number>,
    htm: Option<Lite<'a>>,
    htu: Option<Lite<'a>>,
    ath: Option<Lite<'a>>,
    nonce: Option<Lite<'a>>,
}

/// What the claims are checked against: the request, and the `iat` window.
pub(super) struct Expected<'a> {
    pub(super) access_token: &'a str,
    /// The SHA-256 of the token, when the caller has it already (the verified-token cache's key).
    pub(super) token_digest: Option<&'a [u8; 32]>,
    pub(super) http_method: &'a str,
    pub(super) http_url: &'a str,
    /// Now, in Unix seconds.
    pub(super) now: u64,
    /// How old `iat` may be, in seconds.
    pub(super) iat_offset: f64,
    /// How far ahead `iat` may be, in seconds.
    pub(super) iat_leeway: f64,
}

impl<'a> ProofPayload<'a> {
    fn has(&self, claim: &str) -> bool {
        match claim {
            "iat" => self.iat.is_some(),
            "ath" => self.ath.is_some(),
            "htm" => self.htm.is_some(),
            "htu" => self.htu.is_some(),
            "jti" => self.jti.is_some(),
            _ => false,
        }
    }

    fn str_claim<'s>(claim: &'s Option<Lite<'_>>) -> Option<&'s str> {
        claim.as_ref().and_then(Lite::as_str)
    }

    /// The rest of the JWS decode as authlib does it, after the header checks: payload,
    /// signature encoding, then the signature. Leaves the payload's text in `text` and returns
    /// its view.
    pub(super) fn decode_and_verify(
        segments: &jws::Segments<'_>,
        key: &VerifyingKey,
        text: &'a mut String,
    ) -> Result<Self, ProofError> {
        let payload = decode_segment(segments.payload).map_err(|_| ProofError::PayloadEncoding)?;
        *text = String::from_utf8(payload).map_err(|_| ProofError::PayloadNotJson)?;
        let text: &'a String = text;
        let mut claims = Self::default();
        json_view::walk_object(text, &mut claims).map_err(|e| match e {
            DecodeError::NotObject => ProofError::PayloadNotObject,
            _ => ProofError::PayloadNotJson,
        })?;
        let signature =
            decode_segment(segments.signature).map_err(|_| ProofError::SignatureEncoding)?;
        if !key.verify(segments.signing_input.as_bytes(), &signature) {
            return Err(ProofError::BadSignature);
        }
        Ok(claims)
    }

    /// `jti`, once [`check`](Self::check) has passed (a string then; `""` before).
    pub(super) fn jti(&self) -> &str {
        Self::str_claim(&self.jti).unwrap_or_default()
    }

    /// Claim checks after the signature (RFC 9449 section 4.3, checks 8 to 12), in the
    /// reference's order.
    pub(super) fn check(&self, expected: &Expected<'_>) -> Result<(), ProofError> {
        // The list is only built when something is missing.
        let absent = |c: &&str| !self.has(c);
        if REQUIRED_CLAIMS.iter().any(absent) {
            let missing = REQUIRED_CLAIMS.iter().copied().filter(absent).collect();
            return Err(ProofError::MissingClaims(missing));
        }

        let Some(jti) = Self::str_claim(&self.jti) else {
            return Err(ProofError::JtiNotString);
        };
        if jti.trim_matches(is_python_space).is_empty() {
            return Err(ProofError::JtiEmpty);
        }

        // Python's `isinstance(iat, (int, float))`; booleans, which Python counts as integers,
        // are refused here as not numbers.
        let Some(iat) = self.iat.and_then(|n| n.0) else {
            return Err(ProofError::IatNotNumber);
        };
        let now = expected.now as f64;
        if iat < now - expected.iat_offset {
            return Err(ProofError::IatTooOld);
        }
        if iat > now + expected.iat_leeway {
            return Err(ProofError::IatInFuture);
        }

        let htm_ok = Self::str_claim(&self.htm)
            .is_some_and(|htm| htm.eq_ignore_ascii_case(expected.http_method));
        if !htm_ok {
            return Err(ProofError::MethodMismatch);
        }

        let htu_ok = Self::str_claim(&self.htu)
            .is_some_and(|claimed| htu::htu_matches(claimed, expected.http_url));
        if !htu_ok {
            return Err(ProofError::UrlMismatch);
        }

        let expected_ath = match expected.token_digest {
            Some(digest) => thumbprint::base64url_digest_array(digest),
            None => thumbprint::sha256_base64url_array(expected.access_token.as_bytes()),
        };
        let ath_ok = Self::str_claim(&self.ath)
            .zip(expected_ath)
            .is_some_and(|(ath, expected)| {
                constant_time::verify_slices_are_equal(ath.as_bytes(), &expected).is_ok()
            });
        if !ath_ok {
            return Err(ProofError::AccessTokenHashMismatch);
        }
        Ok(())
    }

    /// Server nonce check (RFC 9449 section 9): the next nonce on success; on failure the
    /// reason and the fresh nonce to send with it.
    pub(super) fn check_nonce(
        &self,
        config: &NonceConfig,
        now: SystemTime,
    ) -> Result<String, (ProofError, String)> {
        let fresh = config.issue(now);
        match &self.nonce {
            None => Err((ProofError::NonceRequired, fresh)),
            Some(Lite::Str(nonce)) if config.validate(nonce, now) => Ok(fresh),
            Some(_) => Err((ProofError::NonceInvalid, fresh)),
        }
    }
}

impl<'de> MemberSink<'de> for ProofPayload<'de> {
    fn member<A: MapAccess<'de>>(&mut self, name: &str, map: &mut A) -> Result<Member, A::Error> {
        match name {
            "jti" => keep(&mut self.jti, map, 0),
            "iat" => keep(&mut self.iat, map, 1),
            "htm" => keep(&mut self.htm, map, 2),
            "htu" => keep(&mut self.htu, map, 3),
            "ath" => keep(&mut self.ath, map, 4),
            "nonce" => keep(&mut self.nonce, map, 5),
            _ => skip(map),
        }
    }
}

/// [`SEGMENT_B64`]: the strict SIMD decoder first (what clients send decodes the same with
/// both), the tolerant one for anything it refuses.
pub(super) fn decode_segment(segment: &str) -> Result<Vec<u8>, base64::DecodeError> {
    match jws::b64_decode(segment) {
        Ok(bytes) => Ok(bytes),
        Err(_) => SEGMENT_B64.decode(segment),
    }
}

/// Python's `str.isspace`: Unicode white space plus the ASCII separators 0x1C to 0x1F.
fn is_python_space(c: char) -> bool {
    c.is_whitespace() || ('\u{1c}'..='\u{1f}').contains(&c)
}
