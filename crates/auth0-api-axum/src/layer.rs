//! [`Auth0Layer`]: authenticates every request with
//! [`ApiClient::verify_request`](auth0_api::ApiClient::verify_request).

use std::fmt;
use std::future::Future;
use std::pin::Pin;
use std::task::{Context, Poll};

use auth0_api::{ApiClient, Error, TokenSource, VerifiedRequest, VerifyRequest};
use axum_core::body::Body;
use axum_core::response::{IntoResponse, Response};
use http::request::Parts;
use http::{HeaderName, HeaderValue, Request};
use tower_layer::Layer;
use tower_service::Service;

use crate::context::{AuthContext, Settings};
use crate::mtls::{CertificateSource, IpNet};
use crate::response::{AuthRejection, BoxableBody, DPOP_NONCE};
use crate::token::AccessToken;
use crate::url::UrlSource;

/// A tower layer that authenticates every request with
/// [`ApiClient::verify_request`](auth0_api::ApiClient::verify_request): the `Authorization`
/// scheme (Bearer or DPoP), the access token, and for DPoP the proof, bound to the request's
/// method and URL (see [`UrlSource`]).
///
/// - Success: the request goes on with, in its extensions, the
///   [`VerifiedRequest`](auth0_api::VerifiedRequest) (claims, scheme, proof), the raw
///   [`AccessToken`] and the [`AuthContext`]; when DPoP nonces are configured the response gets
///   a `DPoP-Nonce` header with the next nonce.
/// - Failure: the answer is the error's status, its `WWW-Authenticate` challenge (with
///   `resource_metadata` when configured), `DPoP-Nonce` when the error carries one, and
///   `{"error", "error_description"}` ([`AuthRejection`]).
/// - [`optional`](Self::optional) mode: a request with neither an `Authorization` nor a `DPoP`
///   header, nor a token in one of the client's
///   [`TokenLocations`](auth0_api::TokenLocations) (query, cookie, custom header), goes on
///   anonymously (only the [`AuthContext`] in its extensions); one with credentials is
///   verified as above, so an invalid token is still refused.
/// - Token locations: the [`AccessToken`] is the token that was verified, wherever it was
///   found. The handler's response to a request authenticated with a query token gets
///   `Cache-Control: private` (RFC 6750 section 2.3) unless it set a `Cache-Control` itself. The layer never reads request
///   bodies, so form-body tokens are for handlers that call `verify_request` themselves.
/// - mTLS: a configured client certificate header from a peer that is not a trusted proxy is
///   removed from the request before the handler sees it (see [`mtls`](crate::mtls)).
///
/// The layer answers every request it wraps: mount public routes (such as the RFC 9728 metadata
/// document) outside it, and put guards ([`RequireScopes`](crate::RequireScopes), ...) inside it.
/// Let one layer see each request: a second one would verify again, and would find a DPoP proof
/// already used. The inner service's response body is boxed into [`axum_core::body::Body`].
///
/// ```
/// use auth0_api::{ApiClient, ApiClientOptions};
/// use auth0_api_axum::{Auth0Layer, Authenticated, MaybeAuthenticated};
/// use axum::{Router, routing::get};
///
/// # fn main() -> Result<(), auth0_api::Error> {
/// let client = ApiClient::new(
///     ApiClientOptions::builder()
///         .domain("your-tenant.auth0.com")
///         .audience("https://api.example.com")
///         .build()?,
/// )?;
/// let auth = Auth0Layer::builder(client)
///     .public_url("https://api.example.com")
///     .build()?;
///
/// let private = Router::new()
///     .route("/me", get(|auth: Authenticated| async move { format!("{:?}", auth.sub()) }))
///     .layer(auth.clone());
/// let public = Router::new()
///     .route("/feed", get(|MaybeAuthenticated(auth): MaybeAuthenticated| async move {
///         if auth.is_some() { "your feed" } else { "the public feed" }
///     }))
///     .layer(auth.optional());
/// let app: Router = private.merge(public);
/// # Ok(()) }
/// ```
#[derive(Clone)]
pub struct Auth0Layer {
    context: AuthContext,
    optional: bool,
}

impl fmt::Debug for Auth0Layer {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.debug_struct("Auth0Layer")
            .field("context", &self.context)
            .field("optional", &self.optional)
            .finish()
    }
}

impl Auth0Layer {
    /// A layer with the default settings: the URL from the request itself
    /// ([`UrlSource::Direct`]), no `resource_metadata`, authentication required.
    pub fn new(client: ApiClient) -> Self {
        Self {
            context: AuthContext::new(Settings {
                client,
                url: UrlSource::Direct,
                resource_metadata: None,
                certificates: CertificateSource::default(),
            }),
            optional: false,
        }
    }

    /// A builder for the URL source and the `resource_metadata` challenge parameter.
    pub fn builder(client: ApiClient) -> Auth0LayerBuilder {
        Auth0LayerBuilder {
            client,
            url: Ok(UrlSource::Direct),
            resource_metadata: None,
            certificate_header: None,
            trusted_proxies: Ok(Vec::new()),
        }
    }

    /// The same layer in optional mode: requests without credentials go on anonymously, requests
    /// with credentials must authenticate. Read the outcome with
    /// [`MaybeAuthenticated`](crate::MaybeAuthenticated).
    pub fn optional(mut self) -> Self {
        self.optional = true;
        self
    }

    /// The same layer requiring authentication (the default).
    pub fn required(mut self) -> Self {
        self.optional = false;
        self
    }

    /// The settings shared with extractors and guards.
    pub fn context(&self) -> &AuthContext {
        &self.context
    }
}

impl<S> Layer<S> for Auth0Layer {
    type Service = Auth0Service<S>;

    fn layer(&self, inner: S) -> Self::Service {
        Auth0Service {
            inner,
            context: self.context.clone(),
            optional: self.optional,
        }
    }
}

/// Builds an [`Auth0Layer`]; see [`Auth0Layer::builder`].
#[must_use = "a builder does nothing until built"]
#[derive(Debug)]
pub struct Auth0LayerBuilder {
    client: ApiClient,
    url: Result<UrlSource, Error>,
    resource_metadata: Option<String>,
    certificate_header: Option<Result<HeaderName, Error>>,
    trusted_proxies: Result<Vec<IpNet>, Error>,
}

impl Auth0LayerBuilder {
    /// Rebuilds request URLs from this public base URL (`http`/`https`, optional path prefix);
    /// headers cannot change it. Invalid values surface from [`build`](Self::build).
    pub fn public_url(mut self, base: &str) -> Self {
        self.url = UrlSource::public_url(base);
        self
    }

    /// Trusts `Forwarded` / `X-Forwarded-Proto` / `X-Forwarded-Host` to rebuild request URLs
    /// ([`UrlSource::TrustedProxy`]). Only when every request comes through a proxy that sets
    /// or overwrites them.
    pub fn trust_forwarded_headers(mut self) -> Self {
        self.url = Ok(UrlSource::TrustedProxy);
        self
    }

    /// Sets the URL source explicitly.
    pub fn url_source(mut self, source: UrlSource) -> Self {
        self.url = Ok(source);
        self
    }

    /// Adds `resource_metadata="<url>"` (RFC 9728 section 5.1) to every challenge the layer,
    /// the extractors and the guards send: the URL of the protected-resource metadata, usually
    /// [`ProtectedResourceMetadata::metadata_url`](crate::ProtectedResourceMetadata::metadata_url).
    pub fn resource_metadata(mut self, url: impl Into<String>) -> Self {
        self.resource_metadata = Some(url.into());
        self
    }

    /// Reads the mutual-TLS client certificate (PEM or URL-encoded PEM) from this header when
    /// the peer is a [trusted proxy](Self::trusted_proxies), for certificate-bound tokens
    /// (see [`mtls`](crate::mtls)). A [`ClientCertificate`](crate::ClientCertificate) extension
    /// set by the application takes precedence.
    pub fn client_certificate_header(mut self, name: &str) -> Self {
        self.certificate_header = Some(HeaderName::from_bytes(name.as_bytes()).map_err(|_| {
            Error::configuration(format!("Invalid client certificate header name {name:?}"))
        }));
        self
    }

    /// The peers (IP addresses, or networks as `a.b.c.d/n` or `fd00::/8`) whose
    /// [client certificate header](Self::client_certificate_header) is believed; needs axum's
    /// `ConnectInfo<SocketAddr>`. Replaces an earlier list.
    pub fn trusted_proxies<I, S>(mut self, proxies: I) -> Self
    where
        I: IntoIterator<Item = S>,
        S: AsRef<str>,
    {
        self.trusted_proxies = proxies
            .into_iter()
            .map(|p| IpNet::parse(p.as_ref()))
            .collect();
        self
    }

    /// The layer (authentication required; see [`Auth0Layer::optional`]).
    ///
    /// # Errors
    /// `invalid_configuration` for an invalid public URL, client certificate header name or
    /// trusted proxy, or a client certificate header without trusted proxies.
    pub fn build(self) -> Result<Auth0Layer, Error> {
        let trusted = self.trusted_proxies?;
        let header = self.certificate_header.transpose()?;
        if header.is_some() && trusted.is_empty() {
            return Err(Error::configuration(
                "client_certificate_header needs trusted_proxies: the header is believed only from them",
            ));
        }
        Ok(Auth0Layer {
            context: AuthContext::new(Settings {
                client: self.client,
                url: self.url?,
                resource_metadata: self.resource_metadata,
                certificates: CertificateSource { header, trusted },
            }),
            optional: false,
        })
    }
}

/// The service of [`Auth0Layer`].
#[derive(Debug, Clone)]
pub struct Auth0Service<S> {
    inner: S,
    context: AuthContext,
    optional: bool,
}

impl<S, ReqBody, ResBody> Service<Request<ReqBody>> for Auth0Service<S>
where
    S: Service<Request<ReqBody>, Response = http::Response<ResBody>> + Clone + Send + 'static,
    S::Future: Send + 'static,
    ReqBody: Send + 'static,
    ResBody: BoxableBody,
{
    middleware_service_items!(ResponseFuture<S::Error>);

    fn call(&mut self, request: Request<ReqBody>) -> Self::Future {
        // The service that was polled ready handles this request; a clone waits for the next.
        let clone = self.inner.clone();
        let mut inner = std::mem::replace(&mut self.inner, clone);
        let context = self.context.clone();
        let optional = self.optional;
        ResponseFuture {
            inner: Box::pin(async move {
                let (mut parts, body) = request.into_parts();
                match authenticate(&context, optional, &mut parts).await {
                    Ok(passed) => {
                        let response = inner.call(Request::from_parts(parts, body)).await?;
                        let mut response = response.map(Body::new);
                        if let Some(nonce) = passed.nonce {
                            response.headers_mut().insert(DPOP_NONCE, nonce);
                        }
                        if passed.query_token {
                            // RFC 6750 section 2.3; a handler's own Cache-Control is kept.
                            response
                                .headers_mut()
                                .entry(http::header::CACHE_CONTROL)
                                .or_insert(HeaderValue::from_static("private"));
                        }
                        Ok(response)
                    }
                    Err(rejection) => Ok(rejection.into_response()),
                }
            }),
        }
    }
}

/// The `DPoP` request header.
const DPOP: HeaderName = HeaderName::from_static("dpop");

/// What `verify_request` reads of a request: headers, method and URL (borrowed).
fn request_of<'a>(parts: &'a Parts, url: Option<&'a str>) -> VerifyRequest<'a> {
    let request = VerifyRequest::from_headers(&parts.headers).method(parts.method.as_str());
    match url {
        Some(url) => request.url(url),
        None => request,
    }
}

/// What a request that went on needs on its response.
#[derive(Default)]
struct Passed {
    /// The `DPoP-Nonce` to send.
    nonce: Option<HeaderValue>,
    /// The token came from the query (RFC 6750 section 2.3: `Cache-Control: private`).
    query_token: bool,
}

/// Verifies the request and fills its extensions.
async fn authenticate(
    context: &AuthContext,
    optional: bool,
    parts: &mut Parts,
) -> Result<Passed, AuthRejection> {
    // Nothing in a request may pose as verified.
    parts.extensions.remove::<VerifiedRequest>();
    parts.extensions.remove::<AccessToken>();
    parts.extensions.insert(context.clone());
    // A certificate header the client wrote itself is dropped before anything reads it.
    let trust = context.certificates().strip_untrusted(parts);
    let url = context.url_source().request_url(parts);
    let client = context.client();
    let url = url.as_deref();
    if optional
        && !parts.headers.contains_key(http::header::AUTHORIZATION)
        && !parts.headers.contains_key(DPOP)
        // A token in a configured location is credentials too (one that cannot be read, such
        // as a repeated cookie, is refused below as `verify_request` answers it).
        && matches!(client.token_in_locations(&request_of(parts, url)), Ok(None))
    {
        return Ok(Passed::default());
    }
    let certificate = context
        .certificates()
        .certificate(parts, trust)
        .map_err(|e| context.reject(e, None))?;
    let mut request = request_of(parts, url);
    if let Some(der) = certificate {
        request = request.client_certificate(der);
    }
    let verified = client
        .verify_request(request)
        .await
        .map_err(|e| AuthRejection::from(context.finish(e)))?;
    let nonce = verified
        .next_dpop_nonce()
        .and_then(|n| HeaderValue::from_str(n).ok());
    let token = match verified.token_source {
        TokenSource::Authorization => AccessToken::from_headers(&parts.headers),
        // Found again the way `verify_request` found it (only for tokens outside
        // `Authorization`), so it is the token that was verified.
        _ => client
            .token_in_locations(&request_of(parts, url))
            .ok()
            .flatten()
            .map(|(_, token)| AccessToken::new(token.into_owned())),
    };
    if let Some(token) = token {
        parts.extensions.insert(token);
    }
    let query_token = verified.token_source == TokenSource::Query;
    parts.extensions.insert(verified);
    Ok(Passed { nonce, query_token })
}

/// The response future of [`Auth0Service`].
pub struct ResponseFuture<E> {
    inner: Pin<Box<dyn Future<Output = Result<Response, E>> + Send>>,
}

impl<E> Future for ResponseFuture<E> {
    type Output = Result<Response, E>;

    fn poll(mut self: Pin<&mut Self>, cx: &mut Context<'_>) -> Poll<Self::Output> {
        self.inner.as_mut().poll(cx)
    }
}

impl<E> fmt::Debug for ResponseFuture<E> {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.debug_struct("ResponseFuture").finish_non_exhaustive()
    }
}
