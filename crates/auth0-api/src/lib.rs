//! # auth0-api
//!
//! Verify Auth0-issued access tokens in a Rust API — Bearer (RFC 6750) and DPoP (RFC 9449) —
//! and act on behalf of users with RFC 8693 token exchange. A strict port of
//! `auth0-api-python` 1.0.0b10: the same checks in the same order with the same error codes,
//! descriptions and `WWW-Authenticate` challenges, stricter where it is lax, and faster.
//!
//! | feature | entry point |
//! |---|---|
//! | access-token verification (discovery + JWKS, RS256, iss/aud/exp/iat/nbf) | [`ApiClient::verify_access_token`] |
//! | one call per request: scheme, token, DPoP proof, `cnf.jkt` binding, challenges | [`ApiClient::verify_request`] |
//! | a DPoP proof on its own | [`ApiClient::verify_dpop_proof`] |
//! | multiple custom domains (list or async resolver) | [`ApiClientOptionsBuilder::domains`], [`DomainsResolver`] |
//! | discovery/JWKS caching with a pluggable store | [`cache::CacheAdapter`] |
//! | on-behalf-of and custom token exchange, connection tokens | [`ApiClient::get_token_on_behalf_of`] |
//! | the delegation chain of a token | [`act::current_actor`], [`act::delegation_chain`] |
//! | DPoP replay protection and server nonces | [`dpop::replay`], [`dpop::nonce`] |
//! | Redis document cache and replay store for fleets (feature `redis`) | `redis::RedisCache`, `redis::RedisReplayStore` |
//! | axum/tower layer, extractors, guards, RFC 9728 metadata | the `auth0-api-axum` crate |
//!
//! ## Validate a bearer token (the seed's first scenario)
//!
//! ```no_run
//! use auth0_api::{ApiClient, ApiClientOptions, VerifyRequest};
//!
//! # async fn validate_request(headers: &http::HeaderMap) -> Result<(), auth0_api::Error> {
//! let api_client = ApiClient::new(
//!     ApiClientOptions::builder()
//!         .domain("your-tenant.auth0.com")
//!         .audience("https://api.example.com")
//!         .build()?,
//! )?;
//! match api_client
//!     .verify_request(VerifyRequest::from_headers(headers).method("GET").url("https://api.example.com/data"))
//!     .await
//! {
//!     Ok(claims) => println!("user: {:?}", claims.sub()),
//!     Err(e) => {
//!         // status, OAuth error code, and the exact WWW-Authenticate value to send back
//!         println!("{} {} {:?}", e.status_code(), e.error_code(), e.www_authenticate());
//!     }
//! }
//! # Ok(()) }
//! ```
//!
//! ## DPoP
//!
//! ```
//! use auth0_api::{ApiClientOptions, DpopMode};
//! let required = ApiClientOptions::builder()
//!     .domain("your-tenant.auth0.com")
//!     .audience("https://api.example.com")
//!     .dpop_mode(DpopMode::Required) // Bearer refused; DPoP proofs checked and bound
//!     .build()?;
//! # Ok::<(), auth0_api::Error>(())
//! ```
//!
//! Defaults and why: see `docs/DEFAULTS.md` in the repository.

#![forbid(unsafe_code)]

pub mod act;
pub mod cache;
pub mod challenge;
pub mod claims;
mod client;
pub mod discovery;
mod document_cache;
pub mod domains;
pub mod dpop;
pub mod error;
pub mod exchange;
pub mod http;
pub mod jwks;
pub mod jws;
pub mod keys;
pub mod options;
#[cfg(feature = "redis")]
pub mod redis;
mod request;
mod token_cache;
mod verify;

pub use challenge::AuthScheme;
pub use claims::{Audience, Claims};
pub use client::{ApiClient, VerifiedRequest, VerifyOptions};
pub use domains::{DomainsResolver, ResolverContext};
pub use dpop::VerifiedProof;
pub use error::{BoxError, Error, ErrorKind, Result};
pub use options::{Algorithm, ApiClientOptions, ApiClientOptionsBuilder, DpopMode};
pub use request::VerifyRequest;
