//! What a caller sends to a token exchange and what it gets back; secrets print as `[redacted]`.

use std::fmt;

use super::{ExtraValue, TOKEN_TYPE_ACCESS_TOKEN};

/// A token (access, id or refresh) received from the token endpoint.
///
/// `Debug` prints `[redacted]`; read the value with [`expose`](Self::expose).
#[derive(Clone, PartialEq, Eq)]
pub struct SecretToken(pub(super) String);

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

/// A Custom Token Exchange request (RFC 8693 section 2.1) for
/// [`ApiClient::get_token_by_exchange_profile`](crate::ApiClient::get_token_by_exchange_profile).
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
    pub(super) subject_token: String,
    pub(super) subject_token_type: String,
    pub(super) audience: Option<String>,
    pub(super) scope: Option<String>,
    pub(super) requested_token_type: Option<String>,
    pub(super) extra: Vec<(String, ExtraValue)>,
    /// `actor_token` and `actor_token_type` (RFC 8693 section 2.1).
    pub(super) actor: Option<(String, String)>,
    pub(super) organization: Option<String>,
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
            actor: None,
            organization: None,
        }
    }

    /// The party acting for the subject (RFC 8693 section 2.1): its token (`actor_token`) and
    /// that token's type URI (`actor_token_type`, required with it). `Debug` never prints it.
    pub fn actor_token(
        mut self,
        actor_token: impl Into<String>,
        actor_token_type: impl Into<String>,
    ) -> Self {
        self.actor = Some((actor_token.into(), actor_token_type.into()));
        self
    }

    /// The Auth0 Organization (ID or name) the issued token is for (`organization`).
    pub fn organization(mut self, organization: impl Into<String>) -> Self {
        self.organization = Some(organization.into());
        self
    }

    option_setters! {
        /// The API identifier the issued token is for (`audience`).
        audience: into String;
        /// Space-separated scopes to request (`scope`).
        scope: into String;
        /// The type of token to issue (`requested_token_type`; the server's default when unset).
        requested_token_type: into String;
    }

    /// An additional form parameter. Setting a key again replaces its value. Reserved OAuth
    /// names ([`RESERVED_PARAMS`](super::RESERVED_PARAMS), any case) and lists of more than [`MAX_EXTRA_VALUES`](super::MAX_EXTRA_VALUES) values
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

debug_fields!(ExchangeProfileRequest, |this| {
    subject_token: "[redacted]",
    subject_token_type: this.subject_token_type,
    audience: this.audience,
    scope: this.scope,
    requested_token_type: this.requested_token_type,
    extra: this.extra.iter().map(|(k, _)| k.as_str()).collect::<Vec<&str>>(),
    actor_token: this.actor.as_ref().map(|_| "[redacted]"),
    actor_token_type: this.actor.as_ref().map(|(_, kind)| kind),
    organization: this.organization,
});

/// An on-behalf-of request (RFC 8693 with an access token as the subject) for
/// [`ApiClient::get_token_on_behalf_of_with`](crate::ApiClient::get_token_on_behalf_of_with):
/// the user's access token, the downstream API's audience, and what else the exchange may
/// carry. [`get_token_on_behalf_of`](crate::ApiClient::get_token_on_behalf_of) is its short
/// form. `Debug` never prints a token.
///
/// ```
/// use auth0_api::exchange::OnBehalfOfRequest;
/// let request = OnBehalfOfRequest::new("the-users-token", "https://calendar.example.com")
///     .scope("calendar:read")
///     .organization("org_9ybsU1dN2dKfDkBi")
///     .extra("max_events", 50);
/// assert!(!format!("{request:?}").contains("the-users-token"));
/// ```
#[derive(Clone, Debug)]
#[must_use]
pub struct OnBehalfOfRequest(pub(super) ExchangeProfileRequest);

impl OnBehalfOfRequest {
    /// Exchanges `access_token` (the user's, as the API received it) for one for `audience`.
    pub fn new(access_token: impl Into<String>, audience: impl Into<String>) -> Self {
        Self(
            ExchangeProfileRequest::new(access_token, TOKEN_TYPE_ACCESS_TOKEN)
                .audience(audience)
                .requested_token_type(TOKEN_TYPE_ACCESS_TOKEN),
        )
    }

    /// Space-separated scopes to request.
    pub fn scope(self, scope: impl Into<String>) -> Self {
        Self(self.0.scope(scope))
    }

    /// The Auth0 Organization (ID or name) the issued token is for.
    pub fn organization(self, organization: impl Into<String>) -> Self {
        Self(self.0.organization(organization))
    }

    /// The acting party's token and its type (RFC 8693 section 2.1).
    pub fn actor_token(
        self,
        actor_token: impl Into<String>,
        actor_token_type: impl Into<String>,
    ) -> Self {
        Self(self.0.actor_token(actor_token, actor_token_type))
    }

    /// An additional form parameter, as [`ExchangeProfileRequest::extra`].
    pub fn extra(self, key: impl Into<String>, value: impl Into<ExtraValue>) -> Self {
        Self(self.0.extra(key, value))
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
/// provider), for [`ApiClient::get_access_token_for_connection`](crate::ApiClient::get_access_token_for_connection).
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
    pub(super) connection: String,
    pub(super) access_token: String,
    pub(super) login_hint: Option<String>,
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

    option_setters! {
        /// Which of the user's accounts at the connection to use (`login_hint`; not sent when
        /// empty).
        login_hint: into String;
    }
}

debug_fields!(ConnectionTokenRequest, |this| {
    connection: this.connection,
    access_token: "[redacted]",
    login_hint: this.login_hint,
});

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
