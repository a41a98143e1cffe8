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
//! | [`ErrorKind::InsufficientUserAuthentication`] | 401 | `insufficient_user_authentication` (RFC 9470) |
//! | [`ErrorKind::Configuration`] | 500 | `invalid_configuration` |
//! | [`ErrorKind::DomainsResolver`] | 500 | `domains_resolver_error` |
//! | [`ErrorKind::OrganizationResolver`] | 500 | `organization_resolver_error` |
//! | [`ErrorKind::ReplayStoreUnavailable`] | 503 | `temporarily_unavailable` |
//! | [`ErrorKind::ExchangeProfile`] | 400 | `get_token_by_exchange_profile_error` |
//! | [`ErrorKind::ConnectionToken`] | 400 | `get_access_token_for_connection_error` |
//! | [`ErrorKind::TokenEndpoint`] | the endpoint's status (timeout 504, network 502) | the endpoint's `error` |

use std::fmt;
use std::sync::OnceLock;

use crate::challenge::{Challenges, is_without_details};

mod proof;
mod request;
mod step_up;
mod token;

pub use proof::ProofError;
pub use request::{NoCredentials, RequestError};
pub use step_up::StepUpError;
pub use token::{OrganizationClaim, TokenError, TokenPart};

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
    /// The token is valid but the user's authentication behind it is not strong or recent
    /// enough (RFC 9470 step-up: `acr`, `auth_time`); see [`StepUpError`].
    InsufficientUserAuthentication,
    /// The client was configured wrongly.
    Configuration,
    /// The multiple-custom-domains resolver failed or returned an unusable list.
    DomainsResolver,
    /// The organization resolver failed ([`crate::organization`]).
    OrganizationResolver,
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
            Self::InsufficientUserAuthentication => "insufficient_user_authentication",
            Self::Configuration => "invalid_configuration",
            Self::DomainsResolver => "domains_resolver_error",
            Self::OrganizationResolver => "organization_resolver_error",
            Self::ReplayStoreUnavailable => "temporarily_unavailable",
            Self::ExchangeProfile => "get_token_by_exchange_profile_error",
            Self::ConnectionToken => "get_access_token_for_connection_error",
            Self::TokenEndpoint { code, .. } => code,
        }
    }
}

/// Why a request, a token or a proof was refused, as a value to `match` on; its `Display` is the
/// error's [description](Error::description).
///
/// ```
/// use auth0_api::error::{Reason, TokenError};
/// # fn answer(err: &auth0_api::Error) -> &'static str {
/// match err.reason() {
///     Reason::Token(TokenError::Expired) => "ask the client to refresh its token",
///     Reason::Token(_) => "the token is unusable",
///     Reason::Proof(_) => "the DPoP proof is unusable",
///     Reason::Request(r) if r.is_missing_credentials() => "no credentials: challenge the client",
///     _ => "something else",
/// }
/// # }
/// ```
#[derive(Debug, Clone, PartialEq, Eq)]
#[non_exhaustive]
pub enum Reason {
    /// The access token was refused (`invalid_token`).
    Token(TokenError),
    /// The DPoP proof was refused (`invalid_dpop_proof`).
    Proof(ProofError),
    /// The request itself: its `Authorization` scheme, missing credentials or arguments.
    Request(RequestError),
    /// The user's authentication is not strong or recent enough (RFC 9470,
    /// `insufficient_user_authentication`).
    UserAuthentication(StepUpError),
    /// Any other failure (configuration, resolver, token exchange, or an error raised by an
    /// application): see [`Error::kind`] and [`Error::description`].
    Other,
}

/// The error of every fallible operation of this crate.
///
/// ```
/// use auth0_api::{Error, ErrorKind};
/// use auth0_api::error::{Reason, TokenError};
/// let err = Error::from(TokenError::Expired);
/// assert_eq!(err.status_code(), 401);
/// assert_eq!(err.error_code(), "invalid_token");
/// assert_eq!(err.description(), "Token is expired");
/// assert_eq!(err.kind(), &ErrorKind::InvalidToken);
/// assert_eq!(err.reason(), &Reason::Token(TokenError::Expired));
/// ```
pub struct Error {
    inner: Box<Inner>,
}

struct Inner {
    kind: ErrorKind,
    reason: Reason,
    description: String,
    challenges: Option<Challenges>,
    /// `challenges` as header text, rendered on first use.
    rendered: OnceLock<String>,
    dpop_nonce: Option<String>,
    source: Option<BoxError>,
}

impl Error {
    /// An error of `kind` with a description (its [`reason`](Self::reason) is
    /// [`Reason::Other`]), for example one an application raises after authentication.
    pub fn new(kind: ErrorKind, description: impl Into<String>) -> Self {
        Self::with_reason(kind, Reason::Other, description.into())
    }

    fn with_reason(kind: ErrorKind, reason: Reason, description: String) -> Self {
        Self {
            inner: Box::new(Inner {
                kind,
                reason,
                description,
                challenges: None,
                rendered: OnceLock::new(),
                dpop_nonce: None,
                source: None,
            }),
        }
    }

    /// `invalid_token` (401) with an application's own description (its reason is
    /// [`Reason::Other`]; the library's own refusals carry a [`TokenError`]), for example for a
    /// claim an application requires after verification.
    pub fn invalid_token(description: impl Into<String>) -> Self {
        Self::new(ErrorKind::InvalidToken, description)
    }

    /// `invalid_dpop_proof` (400) with an application's own description (its reason is
    /// [`Reason::Other`]; the library's own refusals carry a [`ProofError`]).
    pub fn invalid_dpop_proof(description: impl Into<String>) -> Self {
        Self::new(ErrorKind::InvalidDpopProof, description)
    }

    /// `invalid_configuration` (500).
    pub fn configuration(description: impl Into<String>) -> Self {
        Self::new(ErrorKind::Configuration, description)
    }

    /// A missing required argument, described the way the reference describes it.
    pub fn missing_argument(argument: impl Into<String>) -> Self {
        RequestError::MissingArgument(argument.into()).into()
    }

    /// No usable `Authorization` header (no description; 401).
    pub fn missing_authorization() -> Self {
        RequestError::MissingCredentials(NoCredentials::NoAuthorization).into()
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

    /// Attaches the `WWW-Authenticate` challenges to send with this error.
    pub fn with_challenges(mut self, challenges: Challenges) -> Self {
        self.inner.challenges = Some(challenges);
        self.inner.rendered = OnceLock::new();
        self
    }

    /// The error's code and description for a challenge, or `None` for an error "without
    /// details" (no usable credentials), which a challenge does not name.
    pub fn challenge_details(&self) -> Option<(&str, &str)> {
        let (code, description) = (self.error_code(), self.description());
        (!self.is_missing_credentials() && !is_without_details(code, description))
            .then_some((code, description))
    }

    /// Attaches a fresh DPoP nonce for the `DPoP-Nonce` response header.
    pub fn with_dpop_nonce(mut self, nonce: impl Into<String>) -> Self {
        self.inner.dpop_nonce = Some(nonce.into());
        self
    }

    /// What went wrong, at the granularity that decides the HTTP answer.
    pub fn kind(&self) -> &ErrorKind {
        &self.inner.kind
    }

    /// Why, as a value to match on (see [`Reason`]).
    pub fn reason(&self) -> &Reason {
        &self.inner.reason
    }

    /// The access-token failure, if that is what this is.
    pub fn token_error(&self) -> Option<&TokenError> {
        match &self.inner.reason {
            Reason::Token(e) => Some(e),
            _ => None,
        }
    }

    /// The DPoP-proof failure, if that is what this is.
    pub fn proof_error(&self) -> Option<&ProofError> {
        match &self.inner.reason {
            Reason::Proof(e) => Some(e),
            _ => None,
        }
    }

    /// The request failure (scheme, missing credentials or argument), if that is what this is.
    pub fn request_error(&self) -> Option<&RequestError> {
        match &self.inner.reason {
            Reason::Request(e) => Some(e),
            _ => None,
        }
    }

    /// The step-up failure (RFC 9470), if that is what this is.
    pub fn step_up_error(&self) -> Option<&StepUpError> {
        match &self.inner.reason {
            Reason::UserAuthentication(e) => Some(e),
            _ => None,
        }
    }

    /// The HTTP status code to answer with.
    pub fn status_code(&self) -> u16 {
        if self.is_missing_credentials() {
            return 401;
        }
        match &self.inner.kind {
            ErrorKind::MissingAuthorization => 401,
            ErrorKind::MissingRequiredArgument
            | ErrorKind::InvalidAuthScheme
            | ErrorKind::InvalidDpopProof
            | ErrorKind::ExchangeProfile
            | ErrorKind::ConnectionToken => 400,
            ErrorKind::InvalidToken
            | ErrorKind::UseDpopNonce
            | ErrorKind::InsufficientUserAuthentication => 401,
            ErrorKind::InsufficientScope => 403,
            ErrorKind::Configuration
            | ErrorKind::DomainsResolver
            | ErrorKind::OrganizationResolver => 500,
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

    /// The `WWW-Authenticate` header value, for errors raised while authenticating a request
    /// (the [`challenges`](Self::challenges) rendered as text).
    pub fn www_authenticate(&self) -> Option<&str> {
        let challenges = self.inner.challenges.as_ref()?;
        Some(self.inner.rendered.get_or_init(|| challenges.to_string()))
    }

    /// The challenges to send with this error, as values.
    pub fn challenges(&self) -> Option<&Challenges> {
        self.inner.challenges.as_ref()
    }

    /// The fresh nonce to send in the `DPoP-Nonce` response header, if any.
    pub fn dpop_nonce(&self) -> Option<&str> {
        self.inner.dpop_nonce.as_deref()
    }

    /// True when the request presented no usable credentials (the 401-without-details case).
    pub fn is_missing_credentials(&self) -> bool {
        matches!(&self.inner.reason, Reason::Request(r) if r.is_missing_credentials())
    }
}

impl From<TokenError> for Error {
    fn from(e: TokenError) -> Self {
        let description = e.to_string();
        Self::with_reason(ErrorKind::InvalidToken, Reason::Token(e), description)
    }
}

impl From<StepUpError> for Error {
    fn from(e: StepUpError) -> Self {
        let description = e.to_string();
        Self::with_reason(
            ErrorKind::InsufficientUserAuthentication,
            Reason::UserAuthentication(e),
            description,
        )
    }
}

impl From<ProofError> for Error {
    fn from(e: ProofError) -> Self {
        let description = e.to_string();
        Self::with_reason(e.kind(), Reason::Proof(e), description)
    }
}

impl From<RequestError> for Error {
    fn from(e: RequestError) -> Self {
        let description = e.to_string();
        Self::with_reason(e.kind(), Reason::Request(e), description)
    }
}

impl fmt::Debug for Error {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.debug_struct("Error")
            .field("kind", &self.inner.kind)
            .field("status", &self.status_code())
            .field("description", &self.inner.description)
            .field("reason", &self.inner.reason)
            .field("www_authenticate", &self.www_authenticate())
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
            (
                RequestError::MissingCredentials(NoCredentials::NoProof).into(),
                401,
                "invalid_request",
            ),
            (RequestError::ProofWithBearer.into(), 400, "invalid_request"),
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
            (
                Error::new(ErrorKind::InsufficientUserAuthentication, "x"),
                401,
                "insufficient_user_authentication",
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
