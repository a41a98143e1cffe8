//! [`ApiClient`]: the public entry points, thin, delegating to the modules that do the work.

use std::borrow::Cow;
use std::fmt;
use std::ops::Deref;
use std::sync::Arc;

use tracing::Instrument;

use crate::challenge::{AuthScheme, Challenges};
use crate::claims::Claims;
use crate::domains::ResolverContext;
use crate::dpop::{DpopVerifier, VerifiedProof};
use crate::error::{Error, Result};
use crate::exchange::TokenExchange;
use crate::fetch::cache::{CacheAdapter, InMemoryCache};
use crate::fetch::discovery::discovery_cache;
use crate::fetch::http::HttpClient;
use crate::fetch::jwks::jwks_cache;
use crate::fetch::loader::DocumentLoader;
use crate::observe::EntryPoint;
use crate::options::{ApiClientOptions, DpopMode};
use crate::request::VerifyRequest;
use crate::token_location::TokenSource;
use crate::verify::{RequestContext, TokenVerifier};

mod authenticate;
mod exchange;

/// The `DPoP` request header's name, built once (a `&str` name is parsed on every lookup).
pub(crate) const DPOP_HEADER: http::HeaderName = http::HeaderName::from_static("dpop");

/// Per-call settings of [`ApiClient::verify_access_token_with`].
#[derive(Debug, Clone, Default)]
#[non_exhaustive]
pub struct VerifyOptions {
    /// Claims that must be present, beyond the registered ones.
    pub required_claims: Vec<String>,
    /// The request URL, for a domains resolver.
    pub request_url: Option<String>,
    /// The request headers, for a domains resolver.
    pub request_headers: Option<http::HeaderMap>,
}

impl VerifyOptions {
    /// Requires a claim to be present.
    pub fn require_claim(mut self, name: impl Into<String>) -> Self {
        self.required_claims.push(name.into());
        self
    }

    /// Passes the request URL to the domains resolver.
    pub fn request_url(mut self, url: impl Into<String>) -> Self {
        self.request_url = Some(url.into());
        self
    }

    /// Passes the request headers to the domains resolver.
    pub fn request_headers(mut self, headers: http::HeaderMap) -> Self {
        self.request_headers = Some(headers);
        self
    }
}

/// A request that passed [`ApiClient::verify_request`]. Dereferences to its [`Claims`].
#[derive(Debug, Clone)]
#[non_exhaustive]
pub struct VerifiedRequest {
    /// The access token's claims.
    pub claims: Claims,
    /// The scheme the request used.
    pub scheme: AuthScheme,
    /// The checked DPoP proof, for DPoP requests.
    pub proof: Option<VerifiedProof>,
    /// Where the token was found: the `Authorization` header, or one of the configured
    /// [`TokenLocations`](crate::TokenLocations).
    pub token_source: TokenSource,
}

impl VerifiedRequest {
    /// The nonce to send in a `DPoP-Nonce` response header, when nonces are on.
    pub fn next_dpop_nonce(&self) -> Option<&str> {
        self.proof.as_ref()?.next_nonce.as_deref()
    }
}

impl Deref for VerifiedRequest {
    type Target = Claims;
    fn deref(&self) -> &Claims {
        &self.claims
    }
}

/// Verifies Auth0 access tokens and DPoP proofs, and exchanges tokens on behalf of users.
///
/// Cheap to clone (an `Arc` inside); build one per API and share it.
///
/// ```no_run
/// use auth0_api::{ApiClient, ApiClientOptions, VerifyRequest};
/// # async fn run(authorization: &str) -> Result<(), auth0_api::Error> {
/// let client = ApiClient::new(
///     ApiClientOptions::builder()
///         .domain("your-tenant.auth0.com")
///         .audience("https://api.example.com")
///         .build()?,
/// )?;
/// let request = VerifyRequest::from_pairs([("authorization", authorization)])
///     .method("GET")
///     .url("https://api.example.com/data");
/// match client.verify_request(request).await {
///     Ok(verified) => println!("user {:?}", verified.sub()),
///     Err(e) => println!("{} {} {:?}", e.status_code(), e.error_code(), e.www_authenticate()),
/// }
/// # Ok(()) }
/// ```
#[derive(Clone)]
pub struct ApiClient {
    inner: Arc<Inner>,
}

struct Inner {
    options: ApiClientOptions,
    /// The access-token checks and their caches.
    tokens: TokenVerifier,
    dpop: DpopVerifier,
    exchange: TokenExchange,
    algs: String,
}

impl fmt::Debug for ApiClient {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.debug_struct("ApiClient")
            .field("options", &self.inner.options)
            .finish()
    }
}

impl ApiClient {
    /// Builds a client. Fails only if the HTTP client cannot be built.
    pub fn new(options: ApiClientOptions) -> Result<Self> {
        let http = HttpClient::new(
            options.http_client.as_ref(),
            options.http_timeout,
            &options.root_certificates,
            options.only_given_roots,
        )?;
        let adapter: Arc<dyn CacheAdapter> = match &options.cache_adapter {
            Some(a) => a.clone(),
            // One store for both kinds of document: room for `max_entries` of each, as the
            // reference's two caches have.
            None => Arc::new(InMemoryCache::new(
                options.cache_max_entries.saturating_mul(2),
            )),
        };
        let loader = DocumentLoader {
            http: http.clone(),
            adapter,
            max_ttl: options.cache_ttl,
            observe: options.observe.clone(),
        };
        let dpop = DpopVerifier::new(options.dpop_settings());
        let algs = dpop.algs().to_owned();
        let discovery = discovery_cache(
            loader.clone(),
            options.cache_max_entries,
            options.stale_if_error,
        );
        let exchange = TokenExchange {
            http: http.clone(),
            discovery: discovery.clone(),
            settings: options.exchange_settings(),
        };
        let jwks = jwks_cache(
            loader,
            options.cache_max_entries,
            options.stale_if_error,
            options.algorithms.clone(),
        );
        Ok(Self {
            inner: Arc::new(Inner {
                tokens: TokenVerifier::new(options.verify_settings(), discovery, jwks),
                exchange,
                dpop,
                algs,
                options,
            }),
        })
    }

    /// Attaches to `error` the `WWW-Authenticate` value this client sends for it when the
    /// request used `scheme` (for errors an application raises after authentication, such as an
    /// invalid `act` claim or a missing scope).
    pub fn with_challenge(&self, error: Error, scheme: Option<AuthScheme>) -> Error {
        let challenges = Challenges::for_error(
            self.inner.options.dpop_mode,
            scheme,
            error.challenge_details(),
            &self.inner.algs,
        );
        error.with_challenges(challenges)
    }

    /// A fresh server nonce for a `DPoP-Nonce` response header (RFC 9449 section 8), when
    /// nonces are configured; servers may hand one out before a client asks.
    pub fn new_dpop_nonce(&self) -> Option<String> {
        self.inner.dpop.issue_nonce()
    }

    /// The configured domain as an issuer URL (`https://host/`), if any: the authorization server
    /// to name in RFC 9728 metadata.
    pub fn domain(&self) -> Option<&str> {
        self.inner.options.domain.as_deref()
    }

    /// The accepted audiences (the Auth0 API identifiers this client verifies tokens for).
    pub fn audiences(&self) -> &[String] {
        self.inner.options.audiences()
    }

    /// The DPoP mode.
    pub fn dpop_mode(&self) -> DpopMode {
        self.inner.options.dpop_mode
    }

    /// The accepted DPoP proof algorithms, space-separated (as in challenges' `algs`).
    pub fn dpop_algs(&self) -> &str {
        &self.inner.algs
    }

    /// Whether DPoP is required.
    pub fn is_dpop_required(&self) -> bool {
        self.inner.options.dpop_mode == DpopMode::Required
    }

    /// Loads the discovery document and key set of every configured domain (the single
    /// domain, or each of a static `domains` list) through the caches, with the checks a
    /// token would get (the discovery `issuer` equals the domain, an `https` `jwks_uri`, a
    /// usable key set). `Ok` means the first token of any configured issuer is verified
    /// without waiting for the tenant: a readiness probe, or a warm-up before taking traffic.
    /// With keys from the options, or a domains resolver (whose issuers are known only per
    /// request), there is nothing to load and it is `Ok` at once.
    ///
    /// Once loaded, a call costs two cache lookups per domain; documents past their TTL are
    /// reloaded (and, while the tenant fails, served stale up to `stale_if_error`, which
    /// counts as loaded).
    ///
    /// ```no_run
    /// # async fn run() -> Result<(), auth0_api::Error> {
    /// use auth0_api::{ApiClient, ApiClientOptions};
    /// let client = ApiClient::new(
    ///     ApiClientOptions::builder()
    ///         .domain("your-tenant.auth0.com")
    ///         .audience("https://api.example.com")
    ///         .build()?,
    /// )?;
    /// // Fails as a token would: 401 invalid_token "Failed to fetch JWKS: ..." while the
    /// // tenant is down.
    /// client.warm_up().await?;
    /// # Ok(()) }
    /// ```
    ///
    /// # Errors
    /// The error a token of that issuer would get (`invalid_token` or a network failure).
    pub async fn warm_up(&self) -> Result<()> {
        self.inner.tokens.warm_up().await
    }

    /// Authenticates a request: reads the `Authorization` scheme (Bearer or DPoP), verifies the
    /// token, for DPoP the proof and its `cnf.jkt` binding, and for a certificate-bound token
    /// (`cnf.x5t#S256`) the request's client certificate (unless
    /// [`certificate_binding`](crate::ApiClientOptionsBuilder::certificate_binding) opts out;
    /// see [`mtls`](crate::mtls)). Every error carries its status,
    /// OAuth code and the exact `WWW-Authenticate` value for this client's DPoP mode.
    pub async fn verify_request(&self, request: VerifyRequest<'_>) -> Result<VerifiedRequest> {
        self.observed(
            EntryPoint::Request,
            || {
                tracing::debug_span!(
                    "auth0_api::verify_request",
                    scheme = tracing::field::Empty,
                    error = tracing::field::Empty
                )
            },
            |v: &VerifiedRequest| Some(v.scheme),
            || self.authenticate(request),
        )
        .await
    }

    /// The access token a request carries outside the `Authorization` header, in one of the
    /// configured [`TokenLocations`](crate::TokenLocations), and where; `Ok(None)` without
    /// token locations or when none of them holds a token. The token is *not* verified: this
    /// is what [`verify_request`](Self::verify_request) would read, for middleware that must
    /// tell a request with credentials from an anonymous one, or keep the raw token once the
    /// request verified (it is found the same way, so it is the token that was verified).
    /// The `Authorization` and `DPoP` headers are not looked at.
    ///
    /// # Errors
    /// `400 invalid_request` (with this client's challenge), as `verify_request` answers it:
    /// a token in several places or the same place twice, or a form body over
    /// [`MAX_FORM_BODY_BYTES`](crate::token_location::MAX_FORM_BODY_BYTES).
    pub fn token_in_locations<'r>(
        &self,
        request: &'r VerifyRequest<'_>,
    ) -> Result<Option<(TokenSource, Cow<'r, str>)>> {
        let Some(locations) = &self.inner.options.token_locations else {
            return Ok(None);
        };
        locations
            .find(request)
            .map_err(|e| self.with_challenge(e.into(), None))
    }

    /// Verifies an access token (signature, `iss`, `aud`, `exp`, `iat`, `nbf`).
    ///
    /// There is no request here, hence no DPoP proof and no client certificate: a token bound
    /// to a key (`cnf.jkt`) or to a certificate (`cnf.x5t#S256`, RFC 8705) is accepted on its
    /// signature and claims alone. [`verify_request`](Self::verify_request) checks both
    /// bindings; use it for requests.
    ///
    /// ```no_run
    /// # async fn run(client: auth0_api::ApiClient, token: &str) -> Result<(), auth0_api::Error> {
    /// let claims = client.verify_access_token(token).await?;
    /// println!("user {:?}", claims.sub());
    /// # Ok(()) }
    /// ```
    pub async fn verify_access_token(&self, token: &str) -> Result<Claims> {
        self.verify_access_token_with(token, &VerifyOptions::default())
            .await
    }

    /// [`verify_access_token`](Self::verify_access_token) with required claims and the request
    /// context for a domains resolver.
    pub async fn verify_access_token_with(
        &self,
        token: &str,
        options: &VerifyOptions,
    ) -> Result<Claims> {
        self.observed(
            EntryPoint::AccessToken,
            || {
                tracing::debug_span!(
                    "auth0_api::verify_access_token",
                    error = tracing::field::Empty
                )
            },
            |_| None,
            || {
                self.verify_token(
                    token,
                    &options.required_claims,
                    RequestContext {
                        url: options.request_url.as_deref(),
                        headers: options.request_headers.as_ref(),
                        token_digest: None,
                    },
                )
            },
        )
        .await
    }

    async fn verify_token(
        &self,
        token: &str,
        required: &[String],
        request: RequestContext<'_>,
    ) -> Result<Claims> {
        let claims = self.inner.tokens.verify(token, required, request).await?;
        if let Some(policy) = &self.inner.options.organization {
            policy
                .check(&claims, || ResolverContext {
                    request_url: request.url.map(str::to_owned),
                    request_headers: request.headers.cloned(),
                    unverified_iss: claims.iss().unwrap_or_default().to_owned(),
                })
                .await?;
        }
        Ok(claims)
    }

    /// Verifies a DPoP proof (RFC 9449 section 4.3) for an access token, method and URL.
    pub async fn verify_dpop_proof(
        &self,
        access_token: &str,
        proof: &str,
        http_method: &str,
        http_url: &str,
    ) -> Result<VerifiedProof> {
        self.observed(
            EntryPoint::DpopProof,
            || {
                tracing::debug_span!(
                    "auth0_api::verify_dpop_proof",
                    error = tracing::field::Empty
                )
            },
            |_| None,
            || {
                self.inner
                    .dpop
                    .verify(access_token, proof, http_method, http_url)
            },
        )
        .await
    }

    /// Runs an entry point's `work`: inside the span `span` makes only when a subscriber
    /// listens at debug level (a disabled span still costs its creation and `log` checks on
    /// every verification), with the span's `scheme` and `error` fields recorded from the
    /// outcome, and told to the observer, if any, with its outcome, the scheme `scheme` reads
    /// from a success, and its latency.
    ///
    /// `work` makes the future here: a future passed in would be held twice in this one's
    /// state (as the argument, and where it is awaited), and every verification's future
    /// would carry, and move, the copy.
    async fn observed<T, W: Future<Output = Result<T>>>(
        &self,
        entry: EntryPoint,
        span: fn() -> tracing::Span,
        scheme: fn(&T) -> Option<AuthScheme>,
        work: impl FnOnce() -> W,
    ) -> Result<T> {
        let observe = &self.inner.options.observe;
        let started = observe.start();
        // Without a listener the span is `Span::none()`, and `work` is awaited bare: wrapped in
        // `Instrumented`, each poll would still enter and leave the empty span, and the
        // wrapper's code ran on every verification (callgrind, a fresh token: 0.4 k
        // instructions and 40 instruction-cache lines). The two awaits never hold their futures
        // at once, so this future's state keeps the size of one (the size test below).
        let span = if tracing::level_enabled!(tracing::Level::DEBUG) {
            span()
        } else {
            tracing::Span::none()
        };
        let outcome = if span.is_none() {
            work().await
        } else {
            work().instrument(span.clone()).await
        };
        // The span's fields (declared empty by `span`): the scheme of a success, the OAuth
        // error code of a failure; never token material.
        if !span.is_none() {
            match &outcome {
                Ok(verified) => {
                    if let Some(s) = scheme(verified) {
                        span.record("scheme", s.as_str());
                    }
                }
                Err(e) => {
                    span.record("error", e.error_code());
                }
            }
        }
        let scheme = outcome.as_ref().ok().and_then(scheme);
        observe.verification(started, entry, scheme, outcome.as_ref().err());
        outcome
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    /// A verification's future is what its caller holds, and moves, on every call: it stays
    /// small (1.8 and 2.9 KiB when this was written; 7.4 and 9.3 KiB while the rare paths'
    /// fetch futures were held inline). The fetch paths are boxed where they are awaited.
    #[test]
    fn verification_futures_stay_small() {
        let options = ApiClientOptions::builder()
            .domain("example.auth0.com")
            .audience("a")
            .build()
            .unwrap();
        let c = ApiClient::new(options).unwrap();
        let token = c.verify_access_token("x");
        assert!(
            std::mem::size_of_val(&token) <= 2_560,
            "{}",
            std::mem::size_of_val(&token)
        );
        let request = c.verify_request(crate::VerifyRequest::from_pairs([("a", "b")]));
        assert!(
            std::mem::size_of_val(&request) <= 4_096,
            "{}",
            std::mem::size_of_val(&request)
        );
    }

    /// Every public future must be `Send`, or it cannot be awaited in a web handler.
    #[allow(dead_code, clippy::let_underscore_future)]
    fn futures_are_send(c: &ApiClient) {
        fn send<T: Send>(_: T) {}
        send(c.verify_access_token(""));
        send(c.verify_access_token_with("", &VerifyOptions::default()));
        send(c.verify_request(crate::VerifyRequest::from_pairs([("a", "b")])));
        send(c.verify_dpop_proof("", "", "", ""));
        send(c.get_token_on_behalf_of("", "", None));
        send(c.get_token_by_exchange_profile(crate::exchange::ExchangeProfileRequest::new("", "")));
        send(
            c.get_access_token_for_connection(crate::exchange::ConnectionTokenRequest::new("", "")),
        );
    }
}
