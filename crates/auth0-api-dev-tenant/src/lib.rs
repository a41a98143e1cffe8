//! A local, Auth0-compatible OAuth 2.0 / OpenID Connect issuer served over
//! HTTPS on `127.0.0.1`, for demos and integration tests of `auth0-api`.
//!
//! The tenant is written independently of the verification code in
//! `auth0-api`: it signs, parses and checks tokens with its own small helpers
//! on top of `aws-lc-rs`, so tests never use the code under test to make their
//! inputs.
//!
//! What it serves (HTTP/1.1 over TLS, with a throwaway CA generated at start):
//!
//! * `GET /.well-known/openid-configuration`: the discovery document;
//! * `GET /.well-known/jwks.json`: the published RSA signing keys;
//! * `POST /oauth/token`: `client_credentials`, RFC 8693 token exchange
//!   (on-behalf-of with nested `act`, and custom exchange profiles), and
//!   Auth0's federated connection access token exchange, with optional DPoP
//!   (RFC 9449) binding of the issued token. The API is named by `audience`
//!   or by RFC 8707's `resource` (one API per token, as in Auth0). Issued
//!   tokens carry the user-authentication claims of RFC 9470 (`acr`,
//!   `auth_time`) from the request's `acr` / `auth_time` parameters (a
//!   development stand-in for how the user logged in) or, on an exchange,
//!   from the subject token.
//!
//! It also mints arbitrary tokens for tests ([`DevTenant::mint`]), rotates
//! keys, injects faults ([`Fault`]) and counts requests ([`Stats`]). The
//! [`dpop`] module is a standalone DPoP client helper that makes proofs.
//!
//! ```no_run
//! # async fn demo() -> Result<(), auth0_api_dev_tenant::Error> {
//! use auth0_api_dev_tenant::DevTenant;
//!
//! let tenant = DevTenant::builder()
//!     .client("mcp-server", "mcp-secret", ["https://mcp.example.com"])
//!     .start()
//!     .await?;
//! let token = tenant.mint().sub("user_42").scope("read:calendar").sign();
//! println!("issuer {} token {token}", tenant.issuer());
//! println!("trust the CA in {}", tenant.ca_path().display());
//! tenant.stop().await;
//! # Ok(())
//! # }
//! ```

/// The generic setters of a JWS builder over its `header` and `claims` maps: for each map, one
/// that sets a member (replacing it) and one that removes it, with the caller's doc comments.
macro_rules! jws_member_setters {
    ($($(#[$set_doc:meta])* $set:ident, $(#[$remove_doc:meta])* $remove:ident => $map:ident;)*) => {$(
        $(#[$set_doc])*
        pub fn $set(mut self, name: impl Into<String>, value: Value) -> Self {
            self.$map.insert(name.into(), value);
            self
        }

        $(#[$remove_doc])*
        pub fn $remove(mut self, name: &str) -> Self {
            self.$map.remove(name);
            self
        }
    )*};
}

mod bignum;
mod client_auth;
pub mod dpop;
mod error;
mod faults;
mod jwt;
mod keys;
mod proofs;
mod server;
mod tenant;
mod tls;
mod token_endpoint;

pub use error::Error;
pub use faults::{Endpoint, Fault};
pub use jwt::TokenBuilder;
pub use tenant::{DevTenant, DevTenantBuilder, ExchangeProfile, Stats, TokenRequestRecord};

/// Lifetime, in seconds, of every access token the token endpoint issues.
pub const TOKEN_LIFETIME_SECS: i64 = 3600;

/// Largest request body the tenant reads (64 KiB); larger bodies are refused.
pub const MAX_BODY_BYTES: usize = 64 * 1024;

/// `subject_token_type` / `issued_token_type` of an access token (RFC 8693).
pub const TOKEN_TYPE_ACCESS_TOKEN: &str = "urn:ietf:params:oauth:token-type:access_token";

/// `subject_token_type` of a refresh token (RFC 8693).
pub const TOKEN_TYPE_REFRESH_TOKEN: &str = "urn:ietf:params:oauth:token-type:refresh_token";

/// Auth0's `requested_token_type` / `issued_token_type` for a federated
/// connection (upstream IdP) access token.
pub const TOKEN_TYPE_FEDERATED: &str =
    "http://auth0.com/oauth/token-type/federated-connection-access-token";

/// RFC 8693 token exchange grant type.
pub const GRANT_TOKEN_EXCHANGE: &str = "urn:ietf:params:oauth:grant-type:token-exchange";

/// Auth0's federated connection access token grant type.
pub const GRANT_FEDERATED: &str =
    "urn:auth0:params:oauth:grant-type:token-exchange:federated-connection-access-token";

/// RFC 7523 client assertion type for `private_key_jwt` client authentication.
pub const CLIENT_ASSERTION_JWT_BEARER: &str =
    "urn:ietf:params:oauth:client-assertion-type:jwt-bearer";

/// Seconds since the Unix epoch (0 if the clock is before 1970).
pub(crate) fn now() -> i64 {
    std::time::SystemTime::now()
        .duration_since(std::time::UNIX_EPOCH)
        .map(|d| i64::try_from(d.as_secs()).unwrap_or(i64::MAX))
        .unwrap_or(0)
}

/// Random bytes from the system RNG.
pub(crate) fn random_bytes<const N: usize>() -> Result<[u8; N], Error> {
    let mut buf = [0u8; N];
    aws_lc_rs::rand::fill(&mut buf).map_err(|_| Error::Crypto("system RNG failed".into()))?;
    Ok(buf)
}

/// A random UUID-v4-shaped string (for `jti` values).
pub(crate) fn random_uuid() -> Result<String, Error> {
    let mut b = random_bytes::<16>()?;
    b[6] = (b[6] & 0x0f) | 0x40;
    b[8] = (b[8] & 0x3f) | 0x80;
    let hex: String = b.iter().map(|x| format!("{x:02x}")).collect();
    Ok(format!(
        "{}-{}-{}-{}-{}",
        &hex[0..8],
        &hex[8..12],
        &hex[12..16],
        &hex[16..20],
        &hex[20..32]
    ))
}
