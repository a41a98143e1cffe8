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
//! Every failure is a [`ProofError`](crate::error::ProofError), `400 invalid_dpop_proof` with
//! the reference's description (clients match them byte for byte), except the nonce challenge
//! (`401 use_dpop_nonce`) and a replay store that cannot record the proof (`503`, failing
//! closed); an empty argument is a [`RequestError`](crate::error::RequestError)
//! (`400 invalid_request`).
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

mod header_view;
pub mod htu;
pub mod nonce;
mod payload;
mod proof_header;
pub mod replay;
pub mod thumbprint;
mod verifier;

pub use htu::{HtuError, normalize_htu};
pub use nonce::NonceConfig;
pub use replay::{InMemoryReplayStore, ReplayStore, ReplayStoreError};
pub use thumbprint::{ThumbprintError, jwk_thumbprint};
pub(crate) use verifier::{DpopSettings, DpopVerifier};

use crate::claims::Claims;

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

#[cfg(test)]
mod tests;
