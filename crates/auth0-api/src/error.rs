//! The one error type of the library and its mapping to HTTP.
//!
//! Every failure carries what goes on the wire: [`Error::status_code`], the OAuth
//! [`Error::error_code`], a human [`Error::description`] (never a secret or a whole token) and,
//! for errors raised by [`ApiClient::verify_request`](crate::ApiClient::verify_request), the exact
//! `WWW-Authenticate` value ([`Error::www_authenticate`]) built for the client's DPoP mode and the
//! scheme the request used.
//!
//! | kind | status | code |
//! |---|---|---|
//! | [`ErrorKind::MissingRequiredArgument`] | 400 | `invalid_request` |
//! | [`ErrorKind::InvalidAuthScheme`], [`ErrorKind::MissingAuthorization`] | 400; 401 without a description (no usable credentials, RFC 6750 section 3.1) | `invalid_request` |
//! | [`ErrorKind::InvalidToken`] | 401 | `invalid_token` |
//! | [`ErrorKind::InvalidDpopProof`] | 400 | `invalid_dpop_proof` |
//! | [`ErrorKind::UseDpopNonce`] | 401 | `use_dpop_nonce` |
//! | [`ErrorKind::InsufficientScope`] | 403 | `insufficient_scope` |
//! | [`ErrorKind::Configuration`] | 500 | `invalid_configuration` |
//! | [`ErrorKind::DomainsResolver`] | 500 | `domains_resolver_error` |
//! | [`ErrorKind::ReplayStoreUnavailable`] | 503 | `temporarily_unavailable` |
//! | [`ErrorKind::ExchangeProfile`] | 400 | `get_token_by_exchange_profile_error` |
//! | [`ErrorKind::ConnectionToken`] | 400 | `get_access_token_for_connection_error` |
//! | [`ErrorKind::TokenEndpoint`] | the endpoint's status (timeout 504, network 502) | the endpoint's `error` |

use std::fmt;

/// Boxed error used as the `source` of an [`Error`] and as the error of pluggable policies.
pub type BoxError = Box<dyn std::error::Error + Send + Sync + 'static>;

/// The result type of this crate.
pub type Result<T, E = Error> = std::result::Result<T, E>;

/// What went wrong, at the granularity that decides the HTTP answer.
#[derive(Debug, Clone, PartialEq, Eq)]
#[non_exhaustive]
pub enum ErrorKind {
    /// A required argument was not given (for example no HTTP method for a DPoP request).
    MissingRequiredArgument,
    /// The `Authorization` scheme does not fit the DPoP mode, or a DPoP request lacks its proof.
    InvalidAuthScheme,
    /// No usable `Authorization` header (absent, empty, malformed, unknown scheme).
    MissingAuthorization,
    /// The access token is invalid (format, signature, issuer, audience, time, binding).
    InvalidToken,
    /// The DPoP proof is invalid (RFC 9449 section 4.3), or was replayed.
    InvalidDpopProof,
    /// The server requires a fresh DPoP nonce (RFC 9449 section 8); see [`Error::dpop_nonce`].
    UseDpopNonce,
    /// The token is valid but lacks a scope or permission (RFC 6750 section 3.1).
    InsufficientScope,
    /// The client was configured wrongly.
    Configuration,
    /// The multiple-custom-domains resolver failed or returned an unusable list.
    DomainsResolver,
    /// The DPoP replay store could not be reached and the client fails closed.
    ReplayStoreUnavailable,
    /// Bad input to a token exchange (exchange profile or on-behalf-of).
    ExchangeProfile,
    /// Bad input to a federated-connection token request.
    ConnectionToken,
    /// The token endpoint answered with an error, an invalid response, or not at all.
    TokenEndpoint {
        /// The OAuth `error` code (the endpoint's own, or `timeout_error`, `network_error`,
        /// `invalid_json`, `invalid_response`).
        code: String,
        /// The HTTP status to report.
        status: u16,
    },
}

impl ErrorKind {
    /// The OAuth error code of this kind.
    pub fn error_code(&self) -> &str {
        match self {
            Self::MissingRequiredArgument
            | Self::InvalidAuthScheme
            | Self::MissingAuthorization => "invalid_request",
            Self::InvalidToken => "invalid_token",
            Self::InvalidDpopProof => "invalid_dpop_proof",
            Self::UseDpopNonce => "use_dpop_nonce",
            Self::InsufficientScope => "insufficient_scope",
            Self::Configuration => "invalid_configuration",
            Self::DomainsResolver => "domains_resolver_error",
            Self::ReplayStoreUnavailable => "temporarily_unavailable",
            Self::ExchangeProfile => "get_token_by_exchange_profile_error",
            Self::ConnectionToken => "get_access_token_for_connection_error",
            Self::TokenEndpoint { code, .. } => code,
        }
    }
}

/// The error of every fallible operation of this crate.
///
/// ```
/// use auth0_api::{Error, ErrorKind};
/// let err = Error::invalid_token("Token is expired");
/// assert_eq!(err.status_code(), 401);
/// assert_eq!(err.error_code(), "invalid_token");
/// assert_eq!(err.description(), "Token is expired");
/// assert_eq!(err.kind(), &ErrorKind::InvalidToken);
/// ```
pub struct Error {
    inner: Box<Inner>,
}

struct Inner {
    kind: ErrorKind,
    description: String,
    www_authenticate: Option<String>,
    dpop_nonce: Option<String>,
    source: Option<BoxError>,
}

impl Error {
    /// An error of `kind` with a description.
    pub fn new(kind: ErrorKind, description: impl Into<String>) -> Self {
        Self {
            inner: Box::new(Inner {
                kind,
                description: description.into(),
                www_authenticate: None,
                dpop_nonce: None,
                source: None,
            }),
        }
    }

    /// `invalid_token` (401).
    pub fn invalid_token(description: impl Into<String>) -> Self {
        Self::new(ErrorKind::InvalidToken, description)
    }

    /// `invalid_dpop_proof` (400).
    pub fn invalid_dpop_proof(description: impl Into<String>) -> Self {
        Self::new(ErrorKind::InvalidDpopProof, description)
    }

    /// `invalid_configuration` (500).
    pub fn configuration(description: impl Into<String>) -> Self {
        Self::new(ErrorKind::Configuration, description)
    }

    /// A missing required argument, described the way the reference describes it.
    pub fn missing_argument(argument: &str) -> Self {
        Self::new(
            ErrorKind::MissingRequiredArgument,
            format!("The argument '{argument}' is required but was not provided."),
        )
    }

    /// No usable `Authorization` header (no description).
    pub fn missing_authorization() -> Self {
        Self::new(ErrorKind::MissingAuthorization, "")
    }

    /// An invalid authentication scheme with the given (possibly empty) description.
    pub fn invalid_auth_scheme(description: impl Into<String>) -> Self {
        Self::new(ErrorKind::InvalidAuthScheme, description)
    }

    /// `domains_resolver_error` (500).
    pub fn domains_resolver(description: impl Into<String>) -> Self {
        Self::new(ErrorKind::DomainsResolver, description)
    }

    /// A token-endpoint error with its code and status.
    pub fn token_endpoint(
        code: impl Into<String>,
        description: impl Into<String>,
        status: u16,
    ) -> Self {
        Self::new(
            ErrorKind::TokenEndpoint {
                code: code.into(),
                status,
            },
            description,
        )
    }

    /// Attaches the underlying cause.
    pub fn with_source(mut self, source: impl Into<BoxError>) -> Self {
        self.inner.source = Some(source.into());
        self
    }

    /// Attaches the `WWW-Authenticate` value to send with this error.
    pub fn with_www_authenticate(mut self, value: impl Into<String>) -> Self {
        self.inner.www_authenticate = Some(value.into());
        self
    }

    /// Attaches a fresh DPoP nonce for the `DPoP-Nonce` response header.
    pub fn with_dpop_nonce(mut self, nonce: impl Into<String>) -> Self {
        self.inner.dpop_nonce = Some(nonce.into());
        self
    }

    /// What went wrong.
    pub fn kind(&self) -> &ErrorKind {
        &self.inner.kind
    }

    /// The HTTP status code to answer with.
    pub fn status_code(&self) -> u16 {
        match &self.inner.kind {
            ErrorKind::MissingAuthorization => 401,
            ErrorKind::InvalidAuthScheme if self.inner.description.is_empty() => 401,
            ErrorKind::MissingRequiredArgument
            | ErrorKind::InvalidAuthScheme
            | ErrorKind::InvalidDpopProof
            | ErrorKind::ExchangeProfile
            | ErrorKind::ConnectionToken => 400,
            ErrorKind::InvalidToken | ErrorKind::UseDpopNonce => 401,
            ErrorKind::InsufficientScope => 403,
            ErrorKind::Configuration | ErrorKind::DomainsResolver => 500,
            ErrorKind::ReplayStoreUnavailable => 503,
            ErrorKind::TokenEndpoint { status, .. } => *status,
        }
    }

    /// The OAuth error code (`invalid_token`, `invalid_dpop_proof`, ...).
    pub fn error_code(&self) -> &str {
        self.inner.kind.error_code()
    }

    /// The error description (may be empty). Never contains a secret or a whole token.
    pub fn description(&self) -> &str {
        &self.inner.description
    }

    /// The `WWW-Authenticate` header value, for errors raised while authenticating a request.
    pub fn www_authenticate(&self) -> Option<&str> {
        self.inner.www_authenticate.as_deref()
    }

    /// The fresh nonce to send in the `DPoP-Nonce` response header, if any.
    pub fn dpop_nonce(&self) -> Option<&str> {
        self.inner.dpop_nonce.as_deref()
    }

    /// True when the request presented no usable credentials (the 401-without-details case).
    pub fn is_missing_credentials(&self) -> bool {
        matches!(
            self.inner.kind,
            ErrorKind::MissingAuthorization | ErrorKind::InvalidAuthScheme
        ) && self.inner.description.is_empty()
    }
}

impl fmt::Debug for Error {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.debug_struct("Error")
            .field("kind", &self.inner.kind)
            .field("status", &self.status_code())
            .field("description", &self.inner.description)
            .field("www_authenticate", &self.inner.www_authenticate)
            .field("source", &self.inner.source)
            .finish()
    }
}

impl fmt::Display for Error {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        if self.inner.description.is_empty() {
            f.write_str(self.error_code())
        } else {
            write!(f, "{}: {}", self.error_code(), self.inner.description)
        }
    }
}

impl std::error::Error for Error {
    fn source(&self) -> Option<&(dyn std::error::Error + 'static)> {
        self.inner
            .source
            .as_deref()
            .map(|e| e as &(dyn std::error::Error + 'static))
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    /// Pins every kind's status and code (DESIGN section 6).
    #[test]
    fn status_and_code_table() {
        let table: Vec<(Error, u16, &str)> = vec![
            (Error::missing_argument("x"), 400, "invalid_request"),
            (Error::missing_authorization(), 401, "invalid_request"),
            (Error::invalid_auth_scheme(""), 401, "invalid_request"),
            (
                Error::invalid_auth_scheme(
                    "DPoP proof requires DPoP authentication scheme, not Bearer",
                ),
                400,
                "invalid_request",
            ),
            (Error::invalid_token("x"), 401, "invalid_token"),
            (Error::invalid_dpop_proof("x"), 400, "invalid_dpop_proof"),
            (
                Error::new(ErrorKind::UseDpopNonce, "x"),
                401,
                "use_dpop_nonce",
            ),
            (
                Error::new(ErrorKind::InsufficientScope, "x"),
                403,
                "insufficient_scope",
            ),
            (Error::configuration("x"), 500, "invalid_configuration"),
            (Error::domains_resolver("x"), 500, "domains_resolver_error"),
            (
                Error::new(ErrorKind::ReplayStoreUnavailable, "x"),
                503,
                "temporarily_unavailable",
            ),
            (
                Error::new(ErrorKind::ExchangeProfile, "x"),
                400,
                "get_token_by_exchange_profile_error",
            ),
            (
                Error::new(ErrorKind::ConnectionToken, "x"),
                400,
                "get_access_token_for_connection_error",
            ),
            (
                Error::token_endpoint("invalid_grant", "x", 403),
                403,
                "invalid_grant",
            ),
            (
                Error::token_endpoint("timeout_error", "x", 504),
                504,
                "timeout_error",
            ),
        ];
        for (err, status, code) in table {
            assert_eq!(err.status_code(), status, "{err:?}");
            assert_eq!(err.error_code(), code, "{err:?}");
        }
    }

    #[test]
    fn display_and_missing_argument_text() {
        let e = Error::missing_argument("access_token");
        assert_eq!(
            e.description(),
            "The argument 'access_token' is required but was not provided."
        );
        assert_eq!(
            Error::missing_authorization().to_string(),
            "invalid_request"
        );
        assert!(Error::missing_authorization().is_missing_credentials());
    }
}
