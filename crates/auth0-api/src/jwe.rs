//! Encrypted access tokens (Auth0's "access token encryption"): a signed JWT nested in a
//! compact JWE (RFC 7516), its content-encryption key wrapped with `RSA-OAEP-256` to the API's
//! public key and its content encrypted with `A256GCM` (RFC 7518 sections 4.3 and 5.3).
//!
//! Give the API's private key with
//! [`access_token_decryption_key_pem`](crate::ApiClientOptionsBuilder::access_token_decryption_key_pem)
//! (checked in `build()`: `invalid_configuration` for anything but an RSA private key of 2048
//! to 8192 bits). Every entry point then decrypts the token and verifies the inner JWS exactly
//! as a plain token: same checks, same answers. The decryption uses aws-lc-rs only
//! (`rsa::OaepPrivateDecryptingKey` with `OAEP_SHA256_MGF1SHA256`, `aead::AES_256_GCM` with
//! the protected header segment's ASCII as additional data, RFC 7516 section 5.2).
//!
//! The rules:
//! - Only [`ALG`] + [`ENC`] are accepted, with no `zip` and no `crit`, `cty` `JWT` (any case)
//!   or absent, a protected header of at most [`MAX_HEADER_BYTES`], a wrapped key as long as
//!   the RSA modulus, a 96-bit IV, a 128-bit tag, a 256-bit key, the token within the usual
//!   16 KiB cap. Keys or URLs named in the JWE header (`jku`, `jwk`, `x5u`, `kid`) are never
//!   used.
//! - Every failure (`RSA1_5`, `dir`, `A128GCM`, `zip`, a wrong number of segments, bad
//!   base64, a truncated tag, a wrong key, a tampered key, IV, ciphertext, tag or header) is
//!   one answer: `401 invalid_token`, "Access token could not be decrypted"
//!   ([`TokenError::Undecryptable`](crate::error::TokenError::Undecryptable)). No padding
//!   oracle: a key that does not unwrap is replaced by a random one and the AES-GCM step runs
//!   anyway (RFC 7516 section 11.5), so an OAEP failure and a GCM failure take the same path
//!   and give the same error.
//! - With a key configured, a plain token (three segments) is refused,
//!   [`TokenError::NotEncrypted`](crate::error::TokenError::NotEncrypted): Auth0 encrypts
//!   every token for an API once encryption is on, so a plain token is not one of them. For a
//!   migration window (tokens issued before encryption was turned on, until they expire) turn
//!   on [`accept_unencrypted_access_tokens`](crate::ApiClientOptionsBuilder::accept_unencrypted_access_tokens).
//! - Without a key, a JWE is refused as the reference refuses any token that is not three
//!   segments (`401 invalid_token`, "Invalid token format: expected 3 segments, got 5").
//! - The verified-token cache is keyed by the token as presented (the JWE): a JWE always
//!   decrypts to the same inner token, so a hit skips the decryption (an RSA private-key
//!   operation) and a tampered copy is never a hit. DPoP's `ath` is the hash of the JWE, the
//!   token as sent.
//!
//! ```no_run
//! use auth0_api::{ApiClient, ApiClientOptions};
//!
//! # async fn run(token: &str) -> Result<(), auth0_api::Error> {
//! let api = ApiClient::new(
//!     ApiClientOptions::builder()
//!         .domain("your-tenant.auth0.com")
//!         .audience("https://api.example.com")
//!         .access_token_decryption_key_pem(std::fs::read("api-jwe-private-key.pem").unwrap())
//!         .build()?,
//! )?;
//! let claims = api.verify_access_token(token).await?; // the inner token's claims
//! # let _ = claims;
//! # Ok(()) }
//! ```

pub use crate::jose::jwe::{ALG, ENC, MAX_HEADER_BYTES};
