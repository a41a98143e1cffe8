//! Token exchange (RFC 8693): on-behalf-of, custom exchange profiles, and Auth0 federated
//! connection tokens.
//!
//! An API that received an Auth0 access token for itself can trade it for another one:
//!
//! - [`ApiClient::get_token_on_behalf_of`]: an Auth0 access token for a downstream API, for the
//!   same user (both token types fixed to [`TOKEN_TYPE_ACCESS_TOKEN`]); id and refresh tokens are
//!   never exposed.
//! - [`ApiClient::get_token_by_exchange_profile`]: any subject token through a Custom Token
//!   Exchange profile selected by its `subject_token_type`.
//! - [`ApiClient::get_access_token_for_connection`]: the user's access token at an upstream
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
pub(crate) mod token_endpoint;

use std::fmt;

pub use client_auth::{CLIENT_ASSERTION_TYPE_JWT_BEARER, ClientAuth};
use token_endpoint::{Credentials, Flow, TokenResponse};

use std::sync::Arc;
use std::time::Duration;

use crate::error::{Error, ErrorKind, Result};
use crate::fetch::discovery::{Discovery, DiscoveryCache, discovery_url};
use crate::fetch::http::HttpClient;
use crate::fetch::loader::DocumentError;

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

/// A token (access, id or refresh) received from the token endpoint.
///
/// `Debug` prints `[redacted]`; read the value with [`expose`](Self::expose).
#[derive(Clone, PartialEq, Eq)]
pub struct SecretToken(String);

impl SecretToken {
    /// The token itself, for example to send it as a Bearer token.
    pub fn expose(&self) -> &str {
        &self.0
    }

    /// Consumes the wrapper into the token.
    pub fn into_inner(self) -> String {
        self.0
    }
}

impl fmt::Debug for SecretToken {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str("[redacted]")
    }
}

/// An extra form parameter of an exchange-profile request: one value, or several sent as the
/// same key repeated.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum ExtraValue {
    /// `key=value`.
    One(String),
    /// `key=v1&key=v2...`, at most [`MAX_EXTRA_VALUES`] values.
    Many(Vec<String>),
}

impl From<&str> for ExtraValue {
    fn from(value: &str) -> Self {
        Self::One(value.to_owned())
    }
}

impl From<String> for ExtraValue {
    fn from(value: String) -> Self {
        Self::One(value)
    }
}

impl From<Vec<String>> for ExtraValue {
    fn from(values: Vec<String>) -> Self {
        Self::Many(values)
    }
}

impl From<Vec<&str>> for ExtraValue {
    fn from(values: Vec<&str>) -> Self {
        Self::Many(values.into_iter().map(str::to_owned).collect())
    }
}

impl<const N: usize> From<[&str; N]> for ExtraValue {
    fn from(values: [&str; N]) -> Self {
        Self::Many(values.into_iter().map(str::to_owned).collect())
    }
}

/// A Custom Token Exchange request (RFC 8693 section 2.1) for
/// [`ApiClient::get_token_by_exchange_profile`].
///
/// The Auth0 profile is selected by `subject_token_type`. Empty optional values are not sent.
/// `Debug` never prints the subject token nor the extra values.
///
/// ```
/// use auth0_api::exchange::ExchangeProfileRequest;
/// let request = ExchangeProfileRequest::new("the-subject-token", "urn:example:external-token")
///     .audience("https://api.example.com")
///     .scope("openid profile")
///     .extra("device_id", "dev123")
///     .extra("roles", ["admin", "user"]);
/// assert!(!format!("{request:?}").contains("the-subject-token"));
/// ```
#[derive(Clone)]
#[non_exhaustive]
#[must_use]
pub struct ExchangeProfileRequest {
    subject_token: String,
    subject_token_type: String,
    audience: Option<String>,
    scope: Option<String>,
    requested_token_type: Option<String>,
    extra: Vec<(String, ExtraValue)>,
}

impl ExchangeProfileRequest {
    /// A request to exchange `subject_token`, of type `subject_token_type` (a URI matching a
    /// Token Exchange Profile). Pass the raw token, without a `Bearer ` prefix.
    pub fn new(subject_token: impl Into<String>, subject_token_type: impl Into<String>) -> Self {
        Self {
            subject_token: subject_token.into(),
            subject_token_type: subject_token_type.into(),
            audience: None,
            scope: None,
            requested_token_type: None,
            extra: Vec::new(),
        }
    }

    /// The API identifier the issued token is for (`audience`).
    pub fn audience(mut self, audience: impl Into<String>) -> Self {
        self.audience = Some(audience.into());
        self
    }

    /// Space-separated scopes to request (`scope`).
    pub fn scope(mut self, scope: impl Into<String>) -> Self {
        self.scope = Some(scope.into());
        self
    }

    /// The type of token to issue (`requested_token_type`; the server's default when unset).
    pub fn requested_token_type(mut self, token_type: impl Into<String>) -> Self {
        self.requested_token_type = Some(token_type.into());
        self
    }

    /// An additional form parameter. Setting a key again replaces its value. Reserved OAuth
    /// names ([`RESERVED_PARAMS`], any case) and lists of more than [`MAX_EXTRA_VALUES`] values
    /// are refused when the request is made.
    pub fn extra(mut self, key: impl Into<String>, value: impl Into<ExtraValue>) -> Self {
        let key = key.into();
        let value = value.into();
        match self.extra.iter_mut().find(|(k, _)| *k == key) {
            Some(slot) => slot.1 = value,
            None => self.extra.push((key, value)),
        }
        self
    }
}

impl fmt::Debug for ExchangeProfileRequest {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        let extra_keys: Vec<&str> = self.extra.iter().map(|(k, _)| k.as_str()).collect();
        f.debug_struct("ExchangeProfileRequest")
            .field("subject_token", &"[redacted]")
            .field("subject_token_type", &self.subject_token_type)
            .field("audience", &self.audience)
            .field("scope", &self.scope)
            .field("requested_token_type", &self.requested_token_type)
            .field("extra", &extra_keys)
            .finish()
    }
}

/// The answer to a Custom Token Exchange.
///
/// Optional fields are kept exactly as the token endpoint sent them (an empty `scope` stays
/// `Some("")`); a member sent as `null` is `None`.
#[derive(Debug, Clone)]
#[non_exhaustive]
pub struct ExchangeProfileToken {
    /// The issued access token.
    pub access_token: SecretToken,
    /// Its lifetime in seconds (3600 when the endpoint did not say).
    pub expires_in: u64,
    /// When it expires, in seconds since the epoch, computed here as now + `expires_in`.
    pub expires_at: u64,
    /// An OpenID Connect id token, if issued.
    pub id_token: Option<SecretToken>,
    /// A refresh token, if issued.
    pub refresh_token: Option<SecretToken>,
    /// The granted scopes, if returned.
    pub scope: Option<String>,
    /// The token type (usually `Bearer`), if returned.
    pub token_type: Option<String>,
    /// The RFC 8693 `issued_token_type`, if returned.
    pub issued_token_type: Option<String>,
}

/// The answer to an on-behalf-of exchange: access-token fields only, never id or refresh
/// tokens.
#[derive(Debug, Clone)]
#[non_exhaustive]
pub struct OnBehalfOfToken {
    /// The access token for the downstream API.
    pub access_token: SecretToken,
    /// Its lifetime in seconds (3600 when the endpoint did not say).
    pub expires_in: u64,
    /// When it expires, in seconds since the epoch, computed here as now + `expires_in`.
    pub expires_at: u64,
    /// The granted scopes, if returned.
    pub scope: Option<String>,
    /// The token type (usually `Bearer`), if returned.
    pub token_type: Option<String>,
    /// The RFC 8693 `issued_token_type`, if returned.
    pub issued_token_type: Option<String>,
}

impl From<ExchangeProfileToken> for OnBehalfOfToken {
    fn from(token: ExchangeProfileToken) -> Self {
        Self {
            access_token: token.access_token,
            expires_in: token.expires_in,
            expires_at: token.expires_at,
            scope: token.scope,
            token_type: token.token_type,
            issued_token_type: token.issued_token_type,
        }
    }
}

/// A request for the user's access token at a federated connection (upstream identity
/// provider), for [`ApiClient::get_access_token_for_connection`].
///
/// `Debug` never prints the access token.
///
/// ```
/// use auth0_api::exchange::ConnectionTokenRequest;
/// let request = ConnectionTokenRequest::new("google-oauth2", "user-access-token")
///     .login_hint("user@example.com");
/// assert!(!format!("{request:?}").contains("user-access-token"));
/// ```
#[derive(Clone)]
#[non_exhaustive]
#[must_use]
pub struct ConnectionTokenRequest {
    connection: String,
    access_token: String,
    login_hint: Option<String>,
}

impl ConnectionTokenRequest {
    /// A request for `connection`'s token, proving the user with their Auth0 `access_token`.
    pub fn new(connection: impl Into<String>, access_token: impl Into<String>) -> Self {
        Self {
            connection: connection.into(),
            access_token: access_token.into(),
            login_hint: None,
        }
    }

    /// Which of the user's accounts at the connection to use (`login_hint`; not sent when empty).
    pub fn login_hint(mut self, login_hint: impl Into<String>) -> Self {
        self.login_hint = Some(login_hint.into());
        self
    }
}

impl fmt::Debug for ConnectionTokenRequest {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.debug_struct("ConnectionTokenRequest")
            .field("connection", &self.connection)
            .field("access_token", &"[redacted]")
            .field("login_hint", &self.login_hint)
            .finish()
    }
}

/// The user's access token at a federated connection.
#[derive(Debug, Clone)]
#[non_exhaustive]
pub struct ConnectionToken {
    /// The upstream access token.
    pub access_token: SecretToken,
    /// When it expires, in seconds since the epoch, computed here as now + `expires_in`
    /// (3600 when the endpoint did not say).
    pub expires_at: u64,
    /// The granted scopes (empty when not returned).
    pub scope: String,
}

/// Token exchanges of one client: its HTTP client, its discovery cache (for the configured
/// domain's token endpoint) and its credentials.
pub(crate) struct TokenExchange {
    pub(crate) http: HttpClient,
    pub(crate) discovery: DiscoveryCache,
    pub(crate) settings: ExchangeSettings,
}

/// The settings a token exchange reads.
#[derive(Clone)]
pub(crate) struct ExchangeSettings {
    /// The configured domain as an issuer URL (`https://host/`).
    pub(crate) domain: Option<String>,
    pub(crate) client_id: Option<String>,
    pub(crate) client_auth: Option<ClientAuth>,
    pub(crate) timeout: Duration,
}

impl TokenExchange {
    /// The discovery document of the configured domain (cached).
    pub(crate) async fn discover_configured_domain(&self) -> Result<Arc<Discovery>, DocumentError> {
        let domain = self
            .settings
            .domain
            .as_deref()
            .ok_or(DocumentError::NoDomain)?;
        let entry = self.discovery.get(&discovery_url(domain)).await?;
        Ok(entry.value.clone())
    }

    /// See [`ApiClient::get_token_on_behalf_of`](crate::ApiClient::get_token_on_behalf_of).
    pub(crate) async fn get_token_on_behalf_of(
        &self,
        access_token: &str,
        audience: &str,
        scope: Option<&str>,
    ) -> Result<OnBehalfOfToken> {
        if audience.is_empty() {
            return Err(Error::missing_argument("audience"));
        }
        let mut request = ExchangeProfileRequest::new(access_token, TOKEN_TYPE_ACCESS_TOKEN)
            .audience(audience)
            .requested_token_type(TOKEN_TYPE_ACCESS_TOKEN);
        if let Some(scope) = scope {
            request = request.scope(scope);
        }
        self.get_token_by_exchange_profile(request)
            .await
            .map(OnBehalfOfToken::from)
    }

    /// See [`ApiClient::get_token_by_exchange_profile`](crate::ApiClient::get_token_by_exchange_profile).
    pub(crate) async fn get_token_by_exchange_profile(
        &self,
        request: ExchangeProfileRequest,
    ) -> Result<ExchangeProfileToken> {
        validate_subject(&request)?;
        let credentials = credentials(&self.settings)
            .ok_or_else(|| Error::new(ErrorKind::ExchangeProfile, NO_CREDENTIALS_EXCHANGE))?;
        let form = exchange_form(&request)?;
        let flow = Flow::Exchange {
            subject_token_type: &request.subject_token_type,
            audience: non_empty(request.audience.as_deref()),
        };
        let response = token_endpoint::request(self, flow, &form, credentials).await?;
        exchange_token(response)
    }

    /// See [`ApiClient::get_access_token_for_connection`](crate::ApiClient::get_access_token_for_connection).
    pub(crate) async fn get_access_token_for_connection(
        &self,
        request: ConnectionTokenRequest,
    ) -> Result<ConnectionToken> {
        if request.connection.is_empty() {
            return Err(Error::missing_argument("connection"));
        }
        if request.access_token.is_empty() {
            return Err(Error::missing_argument("access_token"));
        }
        let credentials = credentials(&self.settings)
            .ok_or_else(|| Error::new(ErrorKind::ConnectionToken, NO_CREDENTIALS_CONNECTION))?;
        let form = connection_form(&request, credentials.client_id);
        let mut response =
            token_endpoint::request(self, Flow::Connection, &form, credentials).await?;
        Ok(ConnectionToken {
            scope: response.take_string("scope")?.unwrap_or_default(),
            access_token: SecretToken(response.access_token),
            expires_at: response.expires_at,
        })
    }
}

/// The configured client id and authentication, when both are set.
fn credentials(settings: &ExchangeSettings) -> Option<Credentials<'_>> {
    Some(Credentials {
        client_id: settings.client_id.as_deref().filter(|id| !id.is_empty())?,
        auth: settings.client_auth.as_ref()?,
    })
}

fn non_empty(value: Option<&str>) -> Option<&str> {
    value.filter(|v| !v.is_empty())
}

/// The reference's checks of the subject token, in its order.
fn validate_subject(request: &ExchangeProfileRequest) -> Result<()> {
    let token = request.subject_token.as_str();
    if token.is_empty() {
        return Err(Error::missing_argument("subject_token"));
    }
    if request.subject_token_type.is_empty() {
        return Err(Error::missing_argument("subject_token_type"));
    }
    let invalid = |description: &str| Err(Error::new(ErrorKind::ExchangeProfile, description));
    if token.trim().is_empty() {
        return invalid("subject_token cannot be blank or whitespace");
    }
    if token.trim() != token {
        return invalid("subject_token must not include leading or trailing whitespace");
    }
    if token
        .get(..7)
        .is_some_and(|prefix| prefix.eq_ignore_ascii_case("bearer "))
    {
        return invalid(
            "subject_token must not include the 'Bearer ' prefix (case-insensitive check)",
        );
    }
    Ok(())
}

/// The exchange form, without client credentials (the reference sends `client_id` via HTTP
/// Basic only).
fn exchange_form(request: &ExchangeProfileRequest) -> Result<Vec<(&str, &str)>> {
    let mut form = vec![
        ("grant_type", GRANT_TYPE_TOKEN_EXCHANGE),
        ("subject_token", request.subject_token.as_str()),
        ("subject_token_type", request.subject_token_type.as_str()),
    ];
    if let Some(audience) = non_empty(request.audience.as_deref()) {
        form.push(("audience", audience));
    }
    if let Some(scope) = non_empty(request.scope.as_deref()) {
        form.push(("scope", scope));
    }
    if let Some(token_type) = non_empty(request.requested_token_type.as_deref()) {
        form.push(("requested_token_type", token_type));
    }
    apply_extra(&mut form, &request.extra)?;
    Ok(form)
}

/// Appends the extra parameters, refusing reserved names (case-insensitive) and oversized
/// lists.
fn apply_extra<'a>(
    form: &mut Vec<(&'a str, &'a str)>,
    extra: &'a [(String, ExtraValue)],
) -> Result<()> {
    for (key, value) in extra {
        let lower = key.to_lowercase();
        if RESERVED_PARAMS.contains(&lower.as_str()) {
            return Err(Error::new(
                ErrorKind::ExchangeProfile,
                format!("Parameter '{key}' is reserved and cannot be overridden"),
            ));
        }
        match value {
            ExtraValue::One(v) => form.push((key, v)),
            ExtraValue::Many(values) => {
                if values.len() > MAX_EXTRA_VALUES {
                    return Err(Error::new(
                        ErrorKind::ExchangeProfile,
                        format!(
                            "Parameter '{key}' exceeds maximum array size of {MAX_EXTRA_VALUES}"
                        ),
                    ));
                }
                form.extend(values.iter().map(|v| (key.as_str(), v.as_str())));
            }
        }
    }
    Ok(())
}

/// The federated connection form (the reference sends `client_id` in it as well).
fn connection_form<'a>(
    request: &'a ConnectionTokenRequest,
    client_id: &'a str,
) -> Vec<(&'a str, &'a str)> {
    let mut form = vec![
        ("connection", request.connection.as_str()),
        (
            "requested_token_type",
            TOKEN_TYPE_FEDERATED_CONNECTION_ACCESS_TOKEN,
        ),
        ("grant_type", GRANT_TYPE_FEDERATED_CONNECTION_ACCESS_TOKEN),
        ("client_id", client_id),
        ("subject_token", request.access_token.as_str()),
        ("subject_token_type", TOKEN_TYPE_ACCESS_TOKEN),
    ];
    if let Some(hint) = non_empty(request.login_hint.as_deref()) {
        form.push(("login_hint", hint));
    }
    form
}

fn exchange_token(mut response: TokenResponse) -> Result<ExchangeProfileToken> {
    Ok(ExchangeProfileToken {
        id_token: response.take_string("id_token")?.map(SecretToken),
        refresh_token: response.take_string("refresh_token")?.map(SecretToken),
        scope: response.take_string("scope")?,
        token_type: response.take_string("token_type")?,
        issued_token_type: response.take_string("issued_token_type")?,
        access_token: SecretToken(response.access_token),
        expires_in: response.expires_in,
        expires_at: response.expires_at,
    })
}

#[cfg(test)]
#[allow(clippy::unwrap_used, clippy::expect_used, clippy::panic)]
mod tests {
    use serde_json::json;

    use super::*;
    use crate::fetch::http::FetchedBody;

    fn req(token: &str, token_type: &str) -> ExchangeProfileRequest {
        ExchangeProfileRequest::new(token, token_type)
    }

    fn exchange_err(e: Error, description: &str) {
        assert_eq!(
            e.error_code(),
            "get_token_by_exchange_profile_error",
            "{e:?}"
        );
        assert_eq!(e.status_code(), 400);
        assert_eq!(e.description(), description);
    }

    #[test]
    fn subject_validation_follows_the_reference_order_and_words() {
        let e = validate_subject(&req("", "urn:x")).unwrap_err();
        assert_eq!(e.error_code(), "invalid_request");
        assert_eq!(e.status_code(), 400);
        assert_eq!(
            e.description(),
            "The argument 'subject_token' is required but was not provided."
        );
        let e = validate_subject(&req("t", "")).unwrap_err();
        assert_eq!(
            e.description(),
            "The argument 'subject_token_type' is required but was not provided."
        );
        // A missing token wins over a missing type.
        let e = validate_subject(&req("", "")).unwrap_err();
        assert!(e.description().contains("'subject_token'"));

        for blank in ["   ", "\t", "\n \r"] {
            exchange_err(
                validate_subject(&req(blank, "urn:x")).unwrap_err(),
                "subject_token cannot be blank or whitespace",
            );
        }
        for padded in [" token ", "token ", " token", "token\n"] {
            exchange_err(
                validate_subject(&req(padded, "urn:x")).unwrap_err(),
                "subject_token must not include leading or trailing whitespace",
            );
        }
        for bearer in ["Bearer abc", "bearer abc", "BEARER abc", "bEaReR abc"] {
            exchange_err(
                validate_subject(&req(bearer, "urn:x")).unwrap_err(),
                "subject_token must not include the 'Bearer ' prefix (case-insensitive check)",
            );
        }
        for fine in [
            "t",
            "Bearerabc",
            "bearer",
            "Bearer\tabc",
            "éééééééé",
            "a.b.c",
        ] {
            validate_subject(&req(fine, "urn:x")).unwrap();
        }
    }

    #[test]
    fn exchange_form_carries_only_what_was_given() {
        let r = req("t", "urn:x");
        assert_eq!(
            exchange_form(&r).unwrap(),
            [
                ("grant_type", GRANT_TYPE_TOKEN_EXCHANGE),
                ("subject_token", "t"),
                ("subject_token_type", "urn:x")
            ]
        );
        let r = req("t", "urn:x")
            .audience("https://api.example.com")
            .scope("openid profile")
            .requested_token_type(TOKEN_TYPE_ACCESS_TOKEN)
            .extra("device_id", "dev123")
            .extra("roles", ["admin", "user"]);
        let form = exchange_form(&r).unwrap();
        assert_eq!(
            form,
            [
                ("grant_type", GRANT_TYPE_TOKEN_EXCHANGE),
                ("subject_token", "t"),
                ("subject_token_type", "urn:x"),
                ("audience", "https://api.example.com"),
                ("scope", "openid profile"),
                ("requested_token_type", TOKEN_TYPE_ACCESS_TOKEN),
                ("device_id", "dev123"),
                ("roles", "admin"),
                ("roles", "user"),
            ]
        );
        assert!(
            !form
                .iter()
                .any(|(k, _)| *k == "client_id" || *k == "client_secret")
        );

        // Empty optional values are not sent (the reference tests truthiness).
        let r = req("t", "urn:x")
            .audience("")
            .scope("")
            .requested_token_type("");
        assert_eq!(exchange_form(&r).unwrap().len(), 3);
    }

    #[test]
    fn extra_refuses_reserved_names_in_any_case() {
        for name in RESERVED_PARAMS {
            let e = exchange_form(&req("t", "urn:x").extra(name, "should_fail")).unwrap_err();
            exchange_err(
                e,
                &format!("Parameter '{name}' is reserved and cannot be overridden"),
            );
        }
        for name in [
            "Scope",
            "RESOURCE",
            "Audience",
            "GRANT_TYPE",
            "Subject_Token",
            "Client_ID",
        ] {
            let e = exchange_form(&req("t", "urn:x").extra(name, "value")).unwrap_err();
            exchange_err(
                e,
                &format!("Parameter '{name}' is reserved and cannot be overridden"),
            );
        }
        // Unicode case folding too (KELVIN SIGN lower-cases to 'k'), as Python's str.lower().
        let e = exchange_form(&req("t", "urn:x").extra("subject_to\u{212A}en", "v")).unwrap_err();
        assert!(e.description().contains("is reserved"));
        // Reserved names are refused even in list form and whatever comes first.
        let e =
            exchange_form(&req("t", "urn:x").extra("ok", "v").extra("scope", ["a"])).unwrap_err();
        assert!(e.description().contains("'scope'"));
    }

    #[test]
    fn extra_lists_are_capped_at_twenty_values() {
        let twenty: Vec<String> = (0..MAX_EXTRA_VALUES).map(|i| i.to_string()).collect();
        let r = req("t", "urn:x").extra("roles", twenty.clone());
        let form = exchange_form(&r).unwrap();
        assert_eq!(
            form.iter().filter(|(k, _)| *k == "roles").count(),
            MAX_EXTRA_VALUES
        );

        let mut big = twenty;
        big.push("20".into());
        let e = exchange_form(&req("t", "urn:x").extra("roles", big)).unwrap_err();
        exchange_err(e, "Parameter 'roles' exceeds maximum array size of 20");

        // An empty list sends nothing; setting a key again replaces it.
        let r = req("t", "urn:x")
            .extra("ids", Vec::<String>::new())
            .extra("k", "1")
            .extra("k", vec!["2", "3"]);
        let form = exchange_form(&r).unwrap();
        assert_eq!(&form[3..], [("k", "2"), ("k", "3")]);
    }

    #[test]
    fn connection_form_matches_the_reference() {
        let r = ConnectionTokenRequest::new("google-oauth2", "user-token");
        assert_eq!(
            connection_form(&r, "cid"),
            [
                ("connection", "google-oauth2"),
                (
                    "requested_token_type",
                    "http://auth0.com/oauth/token-type/federated-connection-access-token"
                ),
                (
                    "grant_type",
                    "urn:auth0:params:oauth:grant-type:token-exchange:federated-connection-access-token"
                ),
                ("client_id", "cid"),
                ("subject_token", "user-token"),
                (
                    "subject_token_type",
                    "urn:ietf:params:oauth:token-type:access_token"
                ),
            ]
        );
        let hinted = r.clone().login_hint("user@example.com");
        let form = connection_form(&hinted, "cid");
        assert_eq!(form.last(), Some(&("login_hint", "user@example.com")));
        assert_eq!(connection_form(&r.login_hint(""), "cid").len(), 6);
    }

    fn response(body: serde_json::Value) -> TokenResponse {
        let answer = FetchedBody {
            status: 200,
            headers: http::HeaderMap::new(),
            body: body.to_string().into_bytes(),
        };
        token_endpoint::parse_response(Flow::Connection, &answer, 1_000).unwrap()
    }

    #[test]
    fn exchange_token_keeps_fields_and_obo_drops_id_and_refresh_tokens() {
        let token = exchange_token(response(json!({
            "access_token": "exchanged_token", "expires_in": 3600, "scope": "openid profile",
            "id_token": "id_token_value", "refresh_token": "refresh_token_value",
            "token_type": "Bearer", "issued_token_type": TOKEN_TYPE_ACCESS_TOKEN
        })))
        .unwrap();
        assert_eq!(token.access_token.expose(), "exchanged_token");
        assert_eq!(token.expires_in, 3600);
        assert_eq!(token.expires_at, 4_600);
        assert_eq!(
            token.id_token.as_ref().map(SecretToken::expose),
            Some("id_token_value")
        );
        assert_eq!(
            token.refresh_token.as_ref().map(SecretToken::expose),
            Some("refresh_token_value")
        );
        assert_eq!(token.scope.as_deref(), Some("openid profile"));
        assert_eq!(token.token_type.as_deref(), Some("Bearer"));
        assert_eq!(
            token.issued_token_type.as_deref(),
            Some(TOKEN_TYPE_ACCESS_TOKEN)
        );
        let shown = format!("{token:?}");
        for secret in ["exchanged_token", "id_token_value", "refresh_token_value"] {
            assert!(!shown.contains(secret), "{shown}");
        }

        let obo = OnBehalfOfToken::from(token);
        assert_eq!(obo.access_token.expose(), "exchanged_token");
        assert_eq!(obo.expires_at, 4_600);
        assert_eq!(obo.scope.as_deref(), Some("openid profile"));

        // Empty but present optional values are preserved; absent ones stay absent.
        let token = exchange_token(response(
            json!({"access_token": "t", "id_token": "", "refresh_token": "", "scope": ""}),
        ))
        .unwrap();
        assert_eq!(token.id_token.as_ref().map(SecretToken::expose), Some(""));
        assert_eq!(
            token.refresh_token.as_ref().map(SecretToken::expose),
            Some("")
        );
        assert_eq!(token.scope.as_deref(), Some(""));
        assert_eq!(token.token_type, None);

        let e = exchange_token(response(json!({"access_token": "t", "id_token": 5}))).unwrap_err();
        assert_eq!(e.error_code(), "invalid_response");
        assert_eq!(e.status_code(), 502);
    }

    #[test]
    fn requests_and_tokens_never_print_secrets() {
        let r = req("subject-secret", "urn:x").extra("device", "extra-secret");
        let shown = format!("{r:?}");
        assert!(
            !shown.contains("subject-secret") && !shown.contains("extra-secret"),
            "{shown}"
        );
        assert!(shown.contains("device"));
        let c = ConnectionTokenRequest::new("conn", "user-secret");
        assert!(!format!("{c:?}").contains("user-secret"));
        assert_eq!(format!("{:?}", SecretToken("x".into())), "[redacted]");
        assert_eq!(SecretToken("x".into()).into_inner(), "x");
    }

    #[test]
    fn extra_value_conversions() {
        assert_eq!(ExtraValue::from("a"), ExtraValue::One("a".into()));
        assert_eq!(
            ExtraValue::from(String::from("a")),
            ExtraValue::One("a".into())
        );
        assert_eq!(
            ExtraValue::from(vec!["a", "b"]),
            ExtraValue::Many(vec!["a".into(), "b".into()])
        );
        assert_eq!(
            ExtraValue::from(vec![String::from("a")]),
            ExtraValue::Many(vec!["a".into()])
        );
        assert_eq!(ExtraValue::from(["a"]), ExtraValue::Many(vec!["a".into()]));
    }
}
