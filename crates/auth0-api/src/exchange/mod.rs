//! Token exchange (RFC 8693): on-behalf-of, custom exchange profiles, and Auth0 federated
//! connection tokens.
//!
//! An API that received an Auth0 access token for itself can trade it for another one:
//!
//! - [`ApiClient::get_token_on_behalf_of`](crate::ApiClient::get_token_on_behalf_of): an Auth0 access token for a downstream API, for the
//!   same user (both token types fixed to [`TOKEN_TYPE_ACCESS_TOKEN`]); id and refresh tokens are
//!   never exposed.
//! - [`ApiClient::get_token_by_exchange_profile`](crate::ApiClient::get_token_by_exchange_profile): any subject token through a Custom Token
//!   Exchange profile selected by its `subject_token_type`.
//! - [`ApiClient::get_access_token_for_connection`](crate::ApiClient::get_access_token_for_connection): the user's access token at an upstream
//!   identity provider (Auth0 Token Vault, federated connection access token grant).
//!
//! Each needs a confidential client: [`client_id`] plus [`client_secret`] (sent with HTTP Basic)
//! or [`client_assertion`] ([`ClientAuth::private_key_jwt`], RFC 7523). The token endpoint comes
//! from the configured domain's discovery document and must be https; redirects are never
//! followed; requests time out after [`token_endpoint_timeout`] (10 s by default). The tokens
//! returned are [`SecretToken`]s, which `Debug` prints as `[redacted]`.
//!
//! Errors: bad input is 400 `get_token_by_exchange_profile_error` /
//! `get_access_token_for_connection_error` (or `invalid_request` for a missing argument); an
//! error answer keeps the endpoint's `error`, `error_description` and status; a timeout is 504
//! `timeout_error`; a network failure 502 `network_error`; an unusable answer 502
//! `invalid_json` or `invalid_response`.
//!
//! ```no_run
//! use auth0_api::{ApiClient, ApiClientOptions};
//!
//! # async fn exchange_on_behalf_of(incoming_access_token: &str) -> Result<(), Box<dyn std::error::Error>> {
//! let api_client = ApiClient::new(
//!     ApiClientOptions::builder()
//!         .domain("your-tenant.auth0.com")
//!         .audience("https://mcp-server.example.com")
//!         .client_id("<AUTH0_CLIENT_ID>")
//!         .client_secret("<AUTH0_CLIENT_SECRET>")
//!         .build()?,
//! )?;
//!
//! // Verify the incoming token first, so invalid or mis-targeted tokens fail early.
//! let claims = api_client.verify_access_token(incoming_access_token).await?;
//! let result = api_client
//!     .get_token_on_behalf_of(
//!         incoming_access_token,
//!         "https://calendar-api.example.com",
//!         Some("calendar:read calendar:write"),
//!     )
//!     .await?;
//!
//! let events = reqwest::Client::new()
//!     .get("https://calendar-api.example.com/events")
//!     .bearer_auth(result.access_token.expose())
//!     .send()
//!     .await?
//!     .error_for_status()?
//!     .text()
//!     .await?;
//! println!("user {:?}: {events}", claims.sub());
//! # Ok(())
//! # }
//! ```
//!
//! [`client_id`]: crate::ApiClientOptionsBuilder::client_id
//! [`client_secret`]: crate::ApiClientOptionsBuilder::client_secret
//! [`client_assertion`]: crate::ApiClientOptionsBuilder::client_assertion
//! [`token_endpoint_timeout`]: crate::ApiClientOptionsBuilder::token_endpoint_timeout

mod client_auth;
mod extra;
mod grants;
mod requests;
pub(crate) mod token_endpoint;

pub use client_auth::{CLIENT_ASSERTION_TYPE_JWT_BEARER, ClientAuth};
pub use extra::ExtraValue;
pub(crate) use grants::{ExchangeSettings, TokenExchange};
pub use requests::{
    ConnectionToken, ConnectionTokenRequest, ExchangeProfileRequest, ExchangeProfileToken,
    OnBehalfOfRequest, OnBehalfOfToken, SecretToken,
};

/// RFC 8693 token exchange grant type (section 2.1).
pub const GRANT_TYPE_TOKEN_EXCHANGE: &str = "urn:ietf:params:oauth:grant-type:token-exchange";

/// Token type identifier of an OAuth access token (RFC 8693 section 3).
pub const TOKEN_TYPE_ACCESS_TOKEN: &str = "urn:ietf:params:oauth:token-type:access_token";

/// Auth0's `requested_token_type` for a federated connection access token.
pub const TOKEN_TYPE_FEDERATED_CONNECTION_ACCESS_TOKEN: &str =
    "http://auth0.com/oauth/token-type/federated-connection-access-token";

/// Auth0's federated connection access token grant type.
pub const GRANT_TYPE_FEDERATED_CONNECTION_ACCESS_TOKEN: &str =
    "urn:auth0:params:oauth:grant-type:token-exchange:federated-connection-access-token";

/// Most values one [`ExtraValue::Many`] parameter may carry.
pub const MAX_EXTRA_VALUES: usize = 20;

/// Parameter names that [`ExchangeProfileRequest::extra`] may not use (compared
/// case-insensitively).
pub const RESERVED_PARAMS: [&str; 21] = [
    "grant_type",
    "client_id",
    "client_secret",
    "client_assertion",
    "client_assertion_type",
    "subject_token",
    "subject_token_type",
    "requested_token_type",
    "actor_token",
    "actor_token_type",
    "subject_issuer",
    "audience",
    "aud",
    "resource",
    "resources",
    "resource_indicator",
    "scope",
    "connection",
    "login_hint",
    "organization",
    "assertion",
];

const NO_CREDENTIALS_EXCHANGE: &str = "Client credentials are required to use get_token_by_exchange_profile. Configure client_id and client_secret in ApiClientOptions to use this feature";
const NO_CREDENTIALS_CONNECTION: &str = "You must configure the SDK with a client_id and client_secret to use get_access_token_for_connection.";
