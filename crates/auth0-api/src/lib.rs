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
//! This example runs for real: the hidden lines start the crate's local dev tenant (HTTPS on
//! loopback) and mint a token; against your tenant, only `domain` and `audience` change.
//!
//! ```
//! use auth0_api::{ApiClient, ApiClientOptions, VerifyRequest};
//!
//! # #[tokio::main(flavor = "current_thread")]
//! # async fn main() -> Result<(), Box<dyn std::error::Error>> {
//! # let tenant = auth0_api_dev_tenant::DevTenant::builder().start().await?;
//! # let token = tenant.mint().sub("user_123").aud(serde_json::json!("https://api.example.com")).sign();
//! # let domain = tenant.domain().to_owned();
//! let api_client = ApiClient::new(
//!     ApiClientOptions::builder()
//!         .domain(domain) // "your-tenant.auth0.com"
//!         .audience("https://api.example.com")
//! #       .root_ca_pem(tenant.ca_pem())
//!         .build()?,
//! )?;
//!
//! // verify_request reads the Authorization scheme (Bearer or DPoP) and checks everything.
//! let headers = [("authorization", format!("Bearer {token}"))];
//! let request = VerifyRequest::from_pairs(headers).method("GET").url("https://api.example.com/data");
//! let claims = api_client.verify_request(request).await?;
//! assert_eq!(claims.sub(), Some("user_123"));
//!
//! // A failure carries the HTTP answer: status, OAuth error code and WWW-Authenticate.
//! let err = api_client.verify_request(VerifyRequest::from_pairs([("authorization", "Bearer nope")])).await.unwrap_err();
//! assert_eq!(err.status_code(), 401);
//! assert_eq!(err.error_code(), "invalid_token");
//! assert_eq!(
//!     err.www_authenticate(),
//!     Some(r#"Bearer error="invalid_token", error_description="Failed to parse token header: Invalid token format: expected 3 segments, got 1", DPoP algs="ES256""#)
//! );
//!
//! // Why, as a value to match on (never by comparing descriptions).
//! use auth0_api::error::{Reason, TokenError};
//! # let expired = tenant.mint().sub("user_123").aud(serde_json::json!("https://api.example.com")).expired().sign();
//! let err = api_client.verify_access_token(&expired).await.unwrap_err();
//! let advice = match err.reason() {
//!     Reason::Token(TokenError::Expired) => "refresh the token",
//!     Reason::Token(_) => "get a new token",
//!     Reason::Proof(_) => "sign a new DPoP proof",
//!     Reason::Request(r) if r.is_missing_credentials() => "send credentials",
//!     _ => "see the description",
//! };
//! assert_eq!(advice, "refresh the token");
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

/// Implements `Debug` for a struct as a `debug_struct` of the listed fields only, each under its
/// name: for types whose other fields hold secrets, handles or closures. `$this` stands for `self`
/// in the value expressions; a trailing `, non_exhaustive` ends with `finish_non_exhaustive`.
macro_rules! debug_fields {
    ($ty:ident, |$this:ident| { $($name:ident: $value:expr),* $(,)? } $(, $finish:ident)?) => {
        impl ::std::fmt::Debug for $ty {
            fn fmt(&self, f: &mut ::std::fmt::Formatter<'_>) -> ::std::fmt::Result {
                let $this = self;
                let mut d = f.debug_struct(stringify!($ty));
                $(d.field(stringify!($name), &$value);)*
                debug_fields!(@finish d $($finish)?)
            }
        }
    };
    (@finish $d:ident) => {
        $d.finish()
    };
    (@finish $d:ident non_exhaustive) => {
        $d.finish_non_exhaustive()
    };
}

/// Builder setters that store `Some(value)` in the field of the same name and return the
/// builder, each with its doc comment: `name: Type;` takes the value as is, `name: into Type;`
/// takes any `impl Into<Type>`.
macro_rules! option_setters {
    () => {};
    ($(#[$doc:meta])* $name:ident: into $ty:ty; $($rest:tt)*) => {
        $(#[$doc])*
        pub fn $name(mut self, value: impl Into<$ty>) -> Self {
            self.$name = Some(value.into());
            self
        }
        option_setters!($($rest)*);
    };
    ($(#[$doc:meta])* $name:ident: $ty:ty; $($rest:tt)*) => {
        $(#[$doc])*
        pub fn $name(mut self, value: $ty) -> Self {
            self.$name = Some(value);
            self
        }
        option_setters!($($rest)*);
    };
}

// The modules, in layers (docs/ARCHITECTURE.md): each imports only from the layers below it.
pub mod act;
pub mod challenge;
pub mod claims;
mod client;
mod clock;
mod digest_map;
pub mod domains;
pub mod dpop;
pub mod error;
pub mod exchange;
mod fetch;
mod jose;
pub mod jwe;
pub mod mtls;
pub mod observe;
pub mod options;
pub mod organization;
#[cfg(feature = "redis")]
pub mod redis;
mod request;
mod settings;
mod text_cache;
pub mod token_location;
mod verify;

pub use challenge::AuthScheme;
pub use claims::{Audience, Claims};
pub use client::{ApiClient, VerifiedRequest, VerifyOptions};
pub use domains::{DomainsResolver, ResolverContext};
pub use dpop::VerifiedProof;
pub use error::{BoxError, Error, ErrorKind, Result};
pub use fetch::cache;
pub use options::{ApiClientOptions, ApiClientOptionsBuilder};
pub use request::VerifyRequest;
pub use settings::{Algorithm, DpopMode};
pub use token_location::{TokenLocations, TokenSource};

/// Network-free entry points for the cargo-fuzz targets in `fuzz/` (nightly only). Not API: no
/// stability promise, may change in any release.
#[doc(hidden)]
pub mod __fuzz {
    pub use crate::fetch::http::MAX_BODY_BYTES;
    pub use crate::jose::{jwe, jws, keys};

    use crate::claims::Claims;
    use crate::error::Result;
    use crate::exchange::token_endpoint::{Flow, parse_response};
    use crate::fetch::http::FetchedBody;
    use crate::jose::jws::JsonObject;
    use crate::verify::{self, ClaimRules};

    /// Parses a token-endpoint answer as the exchange (or, with `connection`, the federated
    /// connection) grant does: `(access_token, expires_in, expires_at, scope)`.
    pub fn parse_token_response(
        status: u16,
        content_type: Option<&str>,
        body: &[u8],
        connection: bool,
        now: u64,
    ) -> Result<(String, u64, u64, Option<String>)> {
        let mut headers = http::HeaderMap::new();
        if let Some(value) = content_type.and_then(|c| http::HeaderValue::from_str(c).ok()) {
            headers.insert(http::header::CONTENT_TYPE, value);
        }
        let answer = FetchedBody {
            status,
            headers,
            body: body.to_vec(),
        };
        let flow = if connection {
            Flow::Connection
        } else {
            Flow::Exchange {
                subject_token_type: "urn:ietf:params:oauth:token-type:access_token",
                audience: Some("https://api.example.com"),
            }
        };
        let mut response = parse_response(flow, &answer, now)?;
        let scope = response.take_string("scope")?;
        Ok((
            response.access_token,
            response.expires_in,
            response.expires_at,
            scope,
        ))
    }

    /// The network-free access-token checks in the client's order: decode, unverified issuer,
    /// `kid`, then the claims (everything but discovery, the key set and the signature).
    pub fn check_access_token(
        token: &str,
        discovery_issuer: &str,
        audiences: &[String],
        leeway_secs: f64,
        now: f64,
        required: &[String],
    ) -> Result<Claims> {
        let mut texts = verify::Texts::default();
        let expected = verify::Expected {
            audiences,
            required,
        };
        let decoded = verify::decode(token, &mut texts, expected)?;
        verify::unverified_issuer(&decoded.payload)?;
        verify::kid(&decoded.header)?;
        verify::check_claims(
            &decoded.payload,
            &ClaimRules {
                discovery_issuer,
                leeway_secs,
                now,
            },
        )?;
        let index = decoded.claims_index();
        Ok(Claims::from_verified_text(texts.take_payload(), index))
    }

    /// Whether the byte-identical `htu` shortcut agrees with the parser on `url`: `false` only
    /// if the shortcut accepts a URL the parser refuses.
    pub fn htu_shortcut_agrees(url: &str) -> bool {
        crate::dpop::htu::shortcut_agrees(url)
    }

    /// The validating walk verification runs over a token's header and payload (its fast
    /// reader first, `serde_json` when that gives up), keeping nothing: its answer must be
    /// [`jws::parse_object`]'s for every text.
    pub fn walk_object(text: &str) -> std::result::Result<(), jws::DecodeError> {
        crate::jose::json_view::walk_object(text, &mut crate::jose::json_view::Nothing)
    }

    /// Claims from any JSON object, unverified (for the `act` helpers' targets and tests).
    pub fn claims(object: JsonObject) -> Claims {
        Claims::from_object(object)
    }
}
