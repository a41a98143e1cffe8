//! [`AuthContext`]: what the layer leaves in every request it lets through, so that extractors,
//! guards and handlers answer with the same challenges as the layer.

use std::fmt;
use std::sync::Arc;

use auth0_api::challenge::Challenges;
use auth0_api::{ApiClient, AuthScheme, Error};
use axum_core::extract::FromRequestParts;
use http::request::Parts;

use crate::mtls::CertificateSource;
use crate::response::AuthRejection;
use crate::url::UrlSource;

/// Settings shared by a layer and every request it handles.
pub(crate) struct Settings {
    pub(crate) client: ApiClient,
    pub(crate) url: UrlSource,
    pub(crate) resource_metadata: Option<String>,
    pub(crate) certificates: CertificateSource,
}

/// The [`Auth0Layer`](crate::Auth0Layer)'s settings, in the extensions of every request it lets
/// through (authenticated or, in optional mode, anonymous). Cheap to clone.
///
/// It is also an extractor (rejecting with `500 invalid_configuration` when the layer is not
/// installed), for handlers that need the [`ApiClient`], for example to exchange the caller's
/// token on behalf of the user, or that raise their own authentication errors:
///
/// ```
/// use auth0_api::Error;
/// use auth0_api_axum::{AuthContext, AuthRejection, Authenticated};
///
/// async fn handler(context: AuthContext, auth: Authenticated) -> Result<String, AuthRejection> {
///     if auth.get("org_id").is_none() {
///         // 401 invalid_token with this client's challenge (and resource_metadata if configured)
///         return Err(context.reject(Error::invalid_token("No organization"), Some(auth.scheme)));
///     }
///     Ok("ok".into())
/// }
/// ```
#[derive(Clone)]
pub struct AuthContext {
    settings: Arc<Settings>,
}

impl fmt::Debug for AuthContext {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.debug_struct("AuthContext")
            .field("client", &self.settings.client)
            .field("url", &self.settings.url)
            .field("resource_metadata", &self.settings.resource_metadata)
            .field("certificates", &self.settings.certificates)
            .finish()
    }
}

impl AuthContext {
    pub(crate) fn new(settings: Settings) -> Self {
        Self {
            settings: Arc::new(settings),
        }
    }

    pub(crate) fn url_source(&self) -> &UrlSource {
        &self.settings.url
    }

    pub(crate) fn certificates(&self) -> &CertificateSource {
        &self.settings.certificates
    }

    /// The client that verifies requests.
    pub fn client(&self) -> &ApiClient {
        &self.settings.client
    }

    /// The RFC 9728 metadata URL added to challenges as `resource_metadata`, if configured.
    pub fn resource_metadata(&self) -> Option<&str> {
        self.settings.resource_metadata.as_deref()
    }

    /// A rejection for `error` with the challenge this client sends for it when the request
    /// used `scheme` ([`ApiClient::with_challenge`]), plus `resource_metadata` when configured.
    pub fn reject(&self, error: Error, scheme: Option<AuthScheme>) -> AuthRejection {
        self.finish(self.settings.client.with_challenge(error, scheme))
            .into()
    }

    /// Adds `resource_metadata` to every challenge of the error's `WWW-Authenticate` value.
    pub(crate) fn finish(&self, error: Error) -> Error {
        match (self.resource_metadata(), error.challenges()) {
            (Some(url), Some(challenges)) => {
                let mut challenges = challenges.clone();
                challenges.add_to_each("resource_metadata", url);
                error.with_challenges(challenges)
            }
            _ => error,
        }
    }

    /// The rejection for a request without credentials: 401 with this client's challenge.
    pub(crate) fn unauthenticated(&self) -> AuthRejection {
        self.reject(Error::missing_authorization(), None)
    }
}

/// 401 for a request that reached an extractor or guard needing authentication without being
/// authenticated: with the layer's challenge when the layer ran (optional mode), else the plain
/// RFC 6750 `Bearer realm="api"` ([`Challenges::bearer_realm`]).
pub(crate) fn unauthenticated(extensions: &http::Extensions) -> AuthRejection {
    match extensions.get::<AuthContext>() {
        Some(context) => context.unauthenticated(),
        None => Error::missing_authorization()
            .with_challenges(Challenges::bearer_realm())
            .into(),
    }
}

/// A clone of the request's `T` extension (one the layer adds), or the rejection `missing` makes
/// from the extensions when it is absent.
pub(crate) fn cloned_extension<T: Clone + Send + Sync + 'static>(
    parts: &Parts,
    missing: impl FnOnce(&http::Extensions) -> AuthRejection,
) -> Result<T, AuthRejection> {
    parts
        .extensions
        .get::<T>()
        .cloned()
        .ok_or_else(|| missing(&parts.extensions))
}

impl<S: Send + Sync> FromRequestParts<S> for AuthContext {
    type Rejection = AuthRejection;

    async fn from_request_parts(parts: &mut Parts, _state: &S) -> Result<Self, Self::Rejection> {
        cloned_extension(parts, |_| {
            Error::configuration("Auth0Layer is not installed for this route").into()
        })
    }
}
