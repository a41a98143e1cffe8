//! DPoP (RFC 9449): proof-of-possession checks for access tokens bound to a client key.
//!
//! A DPoP client holds a key pair and sends, with each request, a short-lived signed JWT — the
//! *proof* — in the `DPoP` header. The proof's header carries the public key (`jwk`); its claims
//! name the request (`htm` method, `htu` URL without query and fragment), the access token
//! (`ath`, the base64url SHA-256 of it), the issue time (`iat`) and a unique id (`jti`). The
//! access token names the same key through the thumbprint in `cnf.jkt` (RFC 7638). A stolen
//! token is useless without the private key, and a stolen proof only fits one method, one URL
//! and one token, for a short time — and, with replay protection, only once.
//!
//! # What is checked (RFC 9449 section 4.3), in this order
//!
//! 1. `typ` is `dpop+jwt`; `alg` is one of the configured proof algorithms (`ES256` by default;
//!    `none` and `HS*` cannot be configured); `jwk` is a public key of the type the algorithm
//!    needs (EC P-256 for `ES256`) with no private member.
//! 2. The signature verifies with that `jwk`; the payload is a JSON object; no `crit` header.
//! 3. The claims `iat`, `ath`, `htm`, `htu` and `jti` are present; `jti` is a non-blank string.
//! 4. `iat` lies within `[now - dpop_iat_offset, now + dpop_iat_leeway]` (300 s and 30 s).
//! 5. `htm` equals the request method ignoring case; `htu` equals the request URL after
//!    [normalisation](htu); `ath` equals the hash of the presented access token.
//! 6. With server nonces configured: the `nonce` claim is one this server issued recently
//!    ([`NonceConfig`]), else `401 use_dpop_nonce` with a fresh nonce.
//! 7. With replay protection (the default): the proof was not seen before ([`ReplayStore`]).
//!
//! Every failure is `400 invalid_dpop_proof` with the reference's description (clients match
//! them byte for byte), except an empty argument (`400 invalid_request`), the nonce challenge
//! (`401 use_dpop_nonce`) and a replay store that cannot record the proof (`503`, failing
//! closed).
//!
//! # Why a 300 second window
//!
//! The reference accepts a proof whose `iat` is up to 300 s old and up to 30 s ahead. RFC 9449
//! leaves the window to the server and only asks for "a relatively brief period" (section 11.1).
//! Five minutes absorbs real client clock skew, request queueing and retries; it is safe because
//! a proof is bound to one method, URL and token, and because accepted proofs are remembered for
//! the whole window (`offset + leeway`, 330 s) so that none can be used twice. Servers that do not
//! want to trust client clocks at all add [server nonces](nonce).
//!
//! # Configuration
//!
//! ```
//! use std::sync::Arc;
//! use std::time::Duration;
//! use auth0_api::{Algorithm, ApiClientOptions};
//! use auth0_api::dpop::{InMemoryReplayStore, NonceConfig};
//!
//! // Every server of the fleet loads the same secret (32 bytes or more).
//! let shared_secret = [0x5a_u8; 32];
//! let options = ApiClientOptions::builder()
//!     .domain("your-tenant.auth0.com")
//!     .audience("https://api.example.com")
//!     .dpop_algorithms([Algorithm::ES256, Algorithm::EdDSA])
//!     .dpop_iat_offset(Duration::from_secs(120))
//!     .replay_store(Arc::new(InMemoryReplayStore::new(50_000, 500)))
//!     .dpop_nonce(NonceConfig::with_secret(&shared_secret)?.lifetime(Duration::from_secs(120)))
//!     .build()?;
//! # Ok::<(), auth0_api::Error>(())
//! ```
//!
//! The pieces are usable alone, for example to compute the `cnf.jkt` a token must carry:
//!
//! ```
//! use auth0_api::dpop::{jwk_thumbprint, normalize_htu};
//! use serde_json::json;
//!
//! let jwk = json!({"kty": "EC", "crv": "P-256",
//!     "x": "MKBCTNIcKUSDii11ySs3526iDZ8AiTo7Tu6KPAqv7D4",
//!     "y": "4Etl6SRW2YiLUrN5vfvVHuhp7x8PxltmWWlbbM4IFyM"});
//! let jkt = jwk_thumbprint(jwk.as_object().ok_or("not an object")?)?;
//! assert_eq!(jkt, "cn-I_WNMClehiVp51i_0VpOENW1upEerA8sEam5hn-s");
//! assert_eq!(normalize_htu("https://API.example.com:443/r?q#f")?, "https://api.example.com/r");
//! # Ok::<(), Box<dyn std::error::Error>>(())
//! ```

pub mod htu;
pub mod nonce;
pub mod replay;
pub mod thumbprint;

use std::fmt;
use std::sync::Arc;
use std::time::{Duration, SystemTime};

use aws_lc_rs::{constant_time, digest};
use base64::Engine as _;
use base64::alphabet::URL_SAFE;
use base64::engine::{DecodePaddingMode, GeneralPurpose, GeneralPurposeConfig};
use serde::de::MapAccess;
use serde_json::Value;

pub use htu::{HtuError, normalize_htu};
pub use nonce::NonceConfig;
pub use replay::{InMemoryReplayStore, ReplayStore, ReplayStoreError};
pub use thumbprint::{ThumbprintError, jwk_thumbprint};

use crate::claims::Claims;
use crate::error::{Error, ErrorKind, Result};
use crate::jose::json_view::{self, Lite, Member, MemberSink, Number, keep, skip};
use crate::jose::jws::{self, DecodeError, JsonObject, MAX_PROOF_BYTES};
use crate::jose::keys::VerifyingKey;
use crate::settings::Algorithm;

/// The result of a successful proof check.
#[derive(Debug, Clone)]
#[non_exhaustive]
pub struct VerifiedProof {
    /// The proof's claims (`jti`, `htm`, `htu`, `iat`, `ath`, and any other).
    pub claims: Claims,
    /// The RFC 7638 thumbprint of the proof's `jwk`: what the access token's `cnf.jkt` must be.
    pub jkt: String,
    /// With server nonces configured, the nonce the client must use next (send it in the
    /// `DPoP-Nonce` response header).
    pub next_nonce: Option<String>,
}

/// Claims every proof must carry, in the order the reference lists missing ones.
const REQUIRED_CLAIMS: [&str; 5] = ["iat", "ath", "htm", "htu", "jti"];
/// JWK members that only a private key has (RFC 7518 section 6).
const PRIVATE_MEMBERS: [&str; 8] = ["d", "p", "q", "dp", "dq", "qi", "oth", "k"];
/// How the reference prefixes the errors of its JWS library (authlib).
const JWS_FAILED: &str = "JWT signature verification failed: ";
/// Base64url for the payload and signature segments: no padding and the URL-safe alphabet only,
/// but non-zero trailing bits tolerated as Python's decoder tolerates them, so that a signature
/// altered in its last character is a bad signature (as in the reference), not an encoding error.
/// Such a final character decodes to the same bytes as the canonical one; the signature covers
/// the segments' text either way.
const SEGMENT_B64: GeneralPurpose = GeneralPurpose::new(
    &URL_SAFE,
    GeneralPurposeConfig::new()
        .with_encode_padding(false)
        .with_decode_padding_mode(DecodePaddingMode::RequireNone)
        .with_decode_allow_trailing_bits(true),
);

/// Checks DPoP proofs; built once per client from its options.
/// The settings a [`DpopVerifier`] is built from.
pub(crate) struct DpopSettings {
    pub(crate) algorithms: Vec<Algorithm>,
    pub(crate) iat_leeway: Duration,
    pub(crate) iat_offset: Duration,
    pub(crate) replay_protection: bool,
    pub(crate) replay_store: Option<Arc<dyn ReplayStore>>,
    pub(crate) nonce: Option<NonceConfig>,
}

pub(crate) struct DpopVerifier {
    algorithms: Vec<Algorithm>,
    algs: String,
    iat_leeway: f64,
    iat_offset: f64,
    replay: Option<Arc<dyn ReplayStore>>,
    replay_ttl: Duration,
    nonce: Option<NonceConfig>,
    /// Outcomes of the header checks by the header segment's exact text: a client signs every
    /// proof with the same header bytes (`typ`, `alg`, `jwk`), and everything the checks derive
    /// from them is a pure function of those bytes (and of `algorithms`, fixed here). A hit
    /// skips the base64 and JSON decoding, the checks, the thumbprint and the key parsing.
    /// Only headers that pass the checks are kept, so a miss costs what an uncached check does.
    headers: moka::sync::Cache<Box<str>, Arc<CheckedHeader>>,
}

/// Proof headers kept checked.
const PROOF_HEADER_CACHE_ENTRIES: u64 = 10_000;
/// Longer header segments are checked every time, not kept: a header with an RSA key of the
/// largest accepted size (8192 bits) takes about 2,000 characters, and the bound keeps the
/// cache's memory within about 40 MB however large the headers an attacker sends.
const MAX_CACHED_HEADER_BYTES: usize = 4 * 1024;

impl fmt::Debug for DpopVerifier {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.debug_struct("DpopVerifier")
            .field("algorithms", &self.algorithms)
            .field("iat_leeway", &self.iat_leeway)
            .field("iat_offset", &self.iat_offset)
            .field("replay_protection", &self.replay.is_some())
            .field("nonce", &self.nonce)
            .finish()
    }
}

/// What the header checks derive from a proof's header segment (for a header that passes them).
struct CheckedHeader {
    /// The RFC 7638 thumbprint of `jwk`.
    jkt: String,
    /// `jwk`, parsed for `alg`.
    key: VerifyingKey,
    /// The description of the error a `crit` member causes, which comes after the header checks
    /// and before the payload is read; `None` without `crit`.
    crit: Option<String>,
}

/// A DPoP proof split into its segments and with its header read: found among the checked
/// headers, or decoded here (and checked later, so that errors keep their order). Made by
/// [`DpopVerifier::prepare_proof`], which is the "does the header decode" check that
/// `verify_request` runs before verifying the access token; the verifier then goes on from it
/// without decoding the header again.
pub(crate) struct PreparedProof<'a> {
    segments: jws::Segments<'a>,
    header: ProofHeader,
}

/// A proof's header, as [`PreparedProof`] holds it.
enum ProofHeader {
    /// Seen before: passed the header checks.
    Checked(Arc<CheckedHeader>),
    /// Decoded as a JSON object, not yet checked.
    Decoded(JsonObject),
}

impl DpopVerifier {
    /// Builds the verifier: proof algorithms, `iat` window, replay store (the configured one, or
    /// a default [`InMemoryReplayStore`] when replay protection is on) and nonces.
    pub(crate) fn new(settings: DpopSettings) -> Self {
        let replay = if settings.replay_protection {
            Some(settings.replay_store.unwrap_or_else(|| {
                Arc::new(InMemoryReplayStore::default()) as Arc<dyn ReplayStore>
            }))
        } else {
            None
        };
        let algs = settings
            .algorithms
            .iter()
            .map(|a| a.name())
            .collect::<Vec<_>>()
            .join(" ");
        Self {
            algs,
            iat_leeway: settings.iat_leeway.as_secs_f64(),
            iat_offset: settings.iat_offset.as_secs_f64(),
            replay,
            replay_ttl: settings.iat_offset.saturating_add(settings.iat_leeway),
            nonce: settings.nonce,
            algorithms: settings.algorithms,
            headers: moka::sync::Cache::new(PROOF_HEADER_CACHE_ENTRIES),
        }
    }

    /// The accepted proof algorithms, space-separated (`"ES256"`), for the challenges' `algs`.
    pub(crate) fn algs(&self) -> &str {
        &self.algs
    }

    /// A fresh server nonce when nonces are configured (for a `DPoP-Nonce` response header).
    pub(crate) fn issue_nonce(&self) -> Option<String> {
        self.nonce.as_ref().map(|n| n.issue(SystemTime::now()))
    }

    /// Checks `proof` for a request with `http_method` to `http_url` carrying `access_token`.
    ///
    /// # Errors
    /// `invalid_request` for an empty argument, `invalid_dpop_proof` for a bad or replayed proof,
    /// `use_dpop_nonce` when a valid server nonce is required, `temporarily_unavailable` when the
    /// replay store cannot record the proof.
    pub(crate) async fn verify(
        &self,
        access_token: &str,
        proof: &str,
        http_method: &str,
        http_url: &str,
    ) -> Result<VerifiedProof> {
        self.verify_at(
            access_token,
            proof,
            http_method,
            http_url,
            SystemTime::now(),
        )
        .await
    }

    async fn verify_at(
        &self,
        access_token: &str,
        proof: &str,
        http_method: &str,
        http_url: &str,
        now: SystemTime,
    ) -> Result<VerifiedProof> {
        if proof.is_empty() {
            return Err(Error::missing_argument("dpop_proof"));
        }
        check_arguments(access_token, http_method, http_url)?;

        let prepared = self.prepare_proof(proof)?;
        self.verify_prepared_at(access_token, prepared, http_method, http_url, None, now)
            .await
    }

    /// Splits `proof` and reads its header: from the checked headers when this header was seen
    /// before, else by decoding it as a JSON object (the checks then run in
    /// [`verify_prepared`](Self::verify_prepared)).
    ///
    /// # Errors
    /// `invalid_dpop_proof` "Failed to verify DPoP proof" when `proof` is not three segments
    /// within the size cap or its header is not a base64url JSON object.
    pub(crate) fn prepare_proof<'a>(&self, proof: &'a str) -> Result<PreparedProof<'a>> {
        let failed = || Error::invalid_dpop_proof("Failed to verify DPoP proof");
        let segments = jws::split(proof, MAX_PROOF_BYTES).map_err(|_| failed())?;
        let header = match self.headers.get(segments.header) {
            Some(checked) => ProofHeader::Checked(checked),
            None => {
                ProofHeader::Decoded(jws::decode_object(segments.header).map_err(|_| failed())?)
            }
        };
        Ok(PreparedProof { segments, header })
    }

    /// [`verify`](Self::verify) for a proof already [prepared](Self::prepare_proof).
    ///
    /// # Errors
    /// As [`verify`](Self::verify), less those of [`prepare_proof`](Self::prepare_proof).
    pub(crate) async fn verify_prepared(
        &self,
        access_token: &str,
        proof: PreparedProof<'_>,
        http_method: &str,
        http_url: &str,
        token_digest: Option<&[u8; 32]>,
    ) -> Result<VerifiedProof> {
        // A prepared proof is not empty; the other arguments are checked as `verify` does.
        check_arguments(access_token, http_method, http_url)?;
        self.verify_prepared_at(
            access_token,
            proof,
            http_method,
            http_url,
            token_digest,
            SystemTime::now(),
        )
        .await
    }

    async fn verify_prepared_at(
        &self,
        access_token: &str,
        proof: PreparedProof<'_>,
        http_method: &str,
        http_url: &str,
        token_digest: Option<&[u8; 32]>,
        now: SystemTime,
    ) -> Result<VerifiedProof> {
        let PreparedProof { segments, header } = proof;
        let header = match header {
            ProofHeader::Checked(checked) => checked,
            ProofHeader::Decoded(header) => {
                let checked = Arc::new(self.check_header(&header)?);
                if segments.header.len() <= MAX_CACHED_HEADER_BYTES {
                    self.headers
                        .insert(Box::from(segments.header), Arc::clone(&checked));
                }
                checked
            }
        };
        if let Some(crit) = &header.crit {
            return Err(Error::invalid_dpop_proof(crit.as_str()));
        }
        let mut text = String::new();
        let claims = check_payload_and_signature(&segments, &header.key, &mut text)?;
        self.check_claims(
            &claims,
            access_token,
            token_digest,
            http_method,
            http_url,
            nonce::unix_secs(now),
        )?;

        let next_nonce = match &self.nonce {
            Some(config) => Some(check_nonce(config, &claims, now)?),
            None => None,
        };

        let jkt = header.jkt.clone();
        if let Some(store) = &self.replay {
            // `jti` was checked to be a string; the fallback is never used.
            let jti = ProofPayload::str_claim(&claims.jti).unwrap_or_default();
            let recorded = match store.check_and_insert_now(&jkt, jti, self.replay_ttl) {
                Some(now) => now,
                None => {
                    let key = replay_key(&jkt, jti);
                    store.check_and_insert(key, &jkt, self.replay_ttl).await
                }
            };
            match recorded {
                Ok(true) => {}
                Ok(false) => {
                    return Err(Error::invalid_dpop_proof(
                        "DPoP proof has already been used",
                    ));
                }
                Err(ReplayStoreError::PerKeyLimit) => {
                    return Err(Error::invalid_dpop_proof(
                        "Too many DPoP proofs for this key",
                    ));
                }
                Err(e) => {
                    tracing::warn!(error = %e, "DPoP replay store refused a proof; failing closed");
                    return Err(Error::new(
                        ErrorKind::ReplayStoreUnavailable,
                        "DPoP replay store unavailable",
                    )
                    .with_source(e));
                }
            }
        }

        Ok(VerifiedProof {
            claims: Claims::from_text(text),
            jkt,
            next_nonce,
        })
    }

    /// `typ`, `alg` and `jwk` (RFC 9449 section 4.3, checks 4 to 7), and whether there is a
    /// `crit` member.
    fn check_header(&self, header: &JsonObject) -> Result<CheckedHeader> {
        if header.get("typ").and_then(Value::as_str) != Some("dpop+jwt") {
            return Err(Error::invalid_dpop_proof(
                "Unexpected JWT 'typ' header parameter value",
            ));
        }
        let alg = header
            .get("alg")
            .and_then(Value::as_str)
            .and_then(Algorithm::from_name)
            .filter(|a| self.algorithms.contains(a))
            .ok_or_else(|| Error::invalid_dpop_proof("Unsupported algorithm in DPoP proof"))?;
        let jwk = header
            .get("jwk")
            .and_then(Value::as_object)
            .filter(|j| !j.is_empty())
            .ok_or_else(|| Error::invalid_dpop_proof("Missing or invalid jwk in header"))?;
        if PRIVATE_MEMBERS.iter().any(|m| jwk.contains_key(*m)) {
            return Err(Error::invalid_dpop_proof(
                "Private key material found in jwk header",
            ));
        }
        let shape = KeyShape::of(alg);
        if jwk.get("kty").and_then(Value::as_str) != Some(shape.kty) {
            return Err(Error::invalid_dpop_proof(shape.kty_message));
        }
        match shape.crv {
            Some((crv, message)) if jwk.get("crv").and_then(Value::as_str) != Some(crv) => {
                return Err(Error::invalid_dpop_proof(message));
            }
            _ => {}
        }
        let jkt = jwk_thumbprint(jwk).map_err(|_| invalid_jwk())?;
        // The reference crashes on a key it cannot import (a point off the curve, say).
        let key = VerifyingKey::from_jwk(jwk, alg).map_err(|_| invalid_jwk())?;
        Ok(CheckedHeader {
            jkt,
            key,
            crit: crit_error(header),
        })
    }

    /// Claim checks after the signature (RFC 9449 section 4.3, checks 8 to 12), in the
    /// reference's order and with its messages.
    fn check_claims(
        &self,
        claims: &ProofPayload<'_>,
        access_token: &str,
        token_digest: Option<&[u8; 32]>,
        http_method: &str,
        http_url: &str,
        now: u64,
    ) -> Result<()> {
        // The list is only built when something is missing.
        let absent = |c: &&str| !claims.has(c);
        if REQUIRED_CLAIMS.iter().any(absent) {
            let missing: Vec<&str> = REQUIRED_CLAIMS.iter().copied().filter(absent).collect();
            return Err(Error::invalid_dpop_proof(match missing.as_slice() {
                [one] => format!("Missing required claim: {one}"),
                many => format!("Missing required claims: {}", many.join(", ")),
            }));
        }

        let Some(jti) = ProofPayload::str_claim(&claims.jti) else {
            return Err(Error::invalid_dpop_proof("jti claim must be a string"));
        };
        if jti.trim_matches(is_python_space).is_empty() {
            return Err(Error::invalid_dpop_proof("jti claim must not be empty"));
        }

        // Python's `isinstance(iat, (int, float))`; booleans, which Python counts as integers,
        // are refused here as not numbers.
        let Some(iat) = claims.iat.and_then(|n| n.0) else {
            return Err(Error::invalid_dpop_proof(
                "Invalid iat claim (must be integer or float)",
            ));
        };
        let now = now as f64;
        if iat < now - self.iat_offset {
            return Err(Error::invalid_dpop_proof("DPoP Proof iat is too old"));
        }
        if iat > now + self.iat_leeway {
            return Err(Error::invalid_dpop_proof(
                "DPoP Proof iat is from the future",
            ));
        }

        let htm_ok = ProofPayload::str_claim(&claims.htm)
            .is_some_and(|htm| htm.eq_ignore_ascii_case(http_method));
        if !htm_ok {
            return Err(Error::invalid_dpop_proof("DPoP Proof htm mismatch"));
        }

        let htu_ok = ProofPayload::str_claim(&claims.htu)
            .is_some_and(|claimed| htu::htu_matches(claimed, http_url));
        if !htu_ok {
            return Err(Error::invalid_dpop_proof("DPoP Proof htu mismatch"));
        }

        // The SHA-256 of the token, when the caller has it already (the verified-token cache's key).
        let expected_ath = match token_digest {
            Some(digest) => thumbprint::base64url_digest_array(digest),
            None => thumbprint::sha256_base64url_array(access_token.as_bytes()),
        };
        let ath_ok = ProofPayload::str_claim(&claims.ath)
            .zip(expected_ath)
            .is_some_and(|(ath, expected)| {
                constant_time::verify_slices_are_equal(ath.as_bytes(), &expected).is_ok()
            });
        if !ath_ok {
            return Err(Error::invalid_dpop_proof("DPoP Proof ath mismatch"));
        }
        Ok(())
    }
}

/// The `kty`/`crv` a proof algorithm needs, with the messages for a mismatch.
struct KeyShape {
    kty: &'static str,
    kty_message: &'static str,
    crv: Option<(&'static str, &'static str)>,
}

impl KeyShape {
    fn of(alg: Algorithm) -> Self {
        const EC: &str = "Only EC keys are supported for DPoP";
        match alg {
            Algorithm::ES256 => Self {
                kty: "EC",
                kty_message: EC,
                crv: Some(("P-256", "Only P-256 curve is supported")),
            },
            Algorithm::ES384 => Self {
                kty: "EC",
                kty_message: EC,
                crv: Some(("P-384", "Only P-384 curve is supported")),
            },
            Algorithm::RS256
            | Algorithm::RS384
            | Algorithm::RS512
            | Algorithm::PS256
            | Algorithm::PS384
            | Algorithm::PS512 => Self {
                kty: "RSA",
                kty_message: "Only RSA keys are supported for DPoP",
                crv: None,
            },
            Algorithm::EdDSA => Self {
                kty: "OKP",
                kty_message: "Only OKP keys are supported for DPoP",
                crv: Some(("Ed25519", "Only Ed25519 curve is supported")),
            },
        }
    }
}

/// The reference's empty-argument checks after the proof's: `invalid_request`.
fn check_arguments(access_token: &str, http_method: &str, http_url: &str) -> Result<()> {
    if access_token.is_empty() {
        return Err(Error::missing_argument("access_token"));
    }
    if http_method.is_empty() || http_url.is_empty() {
        return Err(Error::missing_argument("http_method/http_url"));
    }
    Ok(())
}

fn invalid_jwk() -> Error {
    Error::invalid_dpop_proof("Invalid jwk in DPoP proof header")
}

fn jws_failed(detail: &str) -> Error {
    Error::invalid_dpop_proof(format!("{JWS_FAILED}{detail}"))
}

/// The first step of the JWS decode as the reference's library (authlib) does it: the
/// description of the error for a `crit` header member, if there is one.
fn crit_error(header: &JsonObject) -> Option<String> {
    let crit = header.get("crit")?;
    // No extension is understood, so any `crit` is refused (RFC 7515 section 4.1.11); the
    // message names the first parameter, as authlib does for an unknown one.
    let first = crit
        .as_array()
        .filter(|names| names.iter().all(Value::is_string))
        .and_then(|names| names.first())
        .and_then(Value::as_str);
    Some(match first {
        Some(name) => format!(
            "{JWS_FAILED}invalid_crit_header_parameter_name: Invalid Header Parameter Name: {name}"
        ),
        None => format!(
            "{JWS_FAILED}invalid_header_parameter_name: Invalid Header Parameter Name: crit"
        ),
    })
}

/// The proof claims the checks read, borrowed from the payload text; every other member is
/// validated as a JSON value and not built (the proof's public [`Claims`] build their map on
/// first use).
#[derive(Default)]
struct ProofPayload<'a> {
    jti: Option<Lite<'a>>,
    iat: Option<Number>,
    htm: Option<Lite<'a>>,
    htu: Option<Lite<'a>>,
    ath: Option<Lite<'a>>,
    nonce: Option<Lite<'a>>,
}

impl ProofPayload<'_> {
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

/// The rest of the JWS decode as authlib does it, after [`crit_error`]: payload, signature
/// encoding, then the signature. Leaves the payload's text in `text` and returns its view.
fn check_payload_and_signature<'a>(
    segments: &jws::Segments<'_>,
    key: &VerifyingKey,
    text: &'a mut String,
) -> Result<ProofPayload<'a>> {
    let invalid_value = || jws_failed("decode_error: Invalid payload value");
    let payload = decode_segment(segments.payload)
        .map_err(|_| jws_failed("decode_error: Invalid payload padding"))?;
    *text = String::from_utf8(payload).map_err(|_| invalid_value())?;
    let text: &'a String = text;
    let mut claims = ProofPayload::default();
    json_view::walk_object(text, &mut claims).map_err(|e| match e {
        DecodeError::NotObject => jws_failed("decode_error: Invalid payload type"),
        _ => invalid_value(),
    })?;
    let signature = decode_segment(segments.signature)
        .map_err(|_| jws_failed("decode_error: Invalid signature padding"))?;
    if !key.verify(segments.signing_input.as_bytes(), &signature) {
        return Err(jws_failed("bad_signature: "));
    }
    Ok(claims)
}

/// [`SEGMENT_B64`]: the strict SIMD decoder first (what clients send decodes the same with
/// both), the tolerant one for anything it refuses.
fn decode_segment(segment: &str) -> Result<Vec<u8>, base64::DecodeError> {
    match jws::b64_decode(segment) {
        Ok(bytes) => Ok(bytes),
        Err(_) => SEGMENT_B64.decode(segment),
    }
}

/// Server nonce check (RFC 9449 section 9): the next nonce on success.
fn check_nonce(config: &NonceConfig, claims: &ProofPayload<'_>, now: SystemTime) -> Result<String> {
    let fresh = config.issue(now);
    match &claims.nonce {
        None => Err(Error::new(
            ErrorKind::UseDpopNonce,
            "Resource server requires nonce in DPoP proof",
        )
        .with_dpop_nonce(fresh)),
        Some(Lite::Str(nonce)) if config.validate(nonce, now) => Ok(fresh),
        Some(_) => Err(Error::new(
            ErrorKind::UseDpopNonce,
            "DPoP proof nonce is invalid or expired",
        )
        .with_dpop_nonce(fresh)),
    }
}

/// `SHA-256(jkt || 0x00 || jti)`: the replay-store key of a proof.
fn replay_key(jkt: &str, jti: &str) -> [u8; 32] {
    let mut ctx = digest::Context::new(&digest::SHA256);
    ctx.update(jkt.as_bytes());
    ctx.update(&[0]);
    ctx.update(jti.as_bytes());
    let mut key = [0u8; 32];
    for (out, byte) in key.iter_mut().zip(ctx.finish().as_ref()) {
        *out = *byte;
    }
    key
}

/// Python's `str.isspace`: Unicode white space plus the ASCII separators 0x1C to 0x1F.
fn is_python_space(c: char) -> bool {
    c.is_whitespace() || ('\u{1c}'..='\u{1f}').contains(&c)
}

#[cfg(test)]
mod tests;
