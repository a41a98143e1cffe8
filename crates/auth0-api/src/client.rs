//! [`ApiClient`]: the public entry points, thin, delegating to the modules that do the work.

use std::borrow::Cow;
use std::collections::HashMap;
use std::fmt;
use std::ops::Deref;
use std::sync::Arc;
use std::time::Instant;

use aws_lc_rs::constant_time;

use crate::cache::{CacheAdapter, InMemoryCache};
use crate::challenge::{AuthScheme, www_authenticate};
use crate::claims::{Claims, Confirmation};
use crate::discovery::DiscoveryCache;
use crate::discovery::{
    Discovery, DiscoveryError, DocumentLoader, discovery_cache, discovery_url, unix_now,
};
use crate::document_cache::Entry;
use crate::domains::{DomainsMode, ResolverContext};
use crate::dpop::{DpopVerifier, VerifiedProof};
use crate::error::{Error, ErrorKind, Result};
use crate::http::HttpClient;
use crate::jwks::{JwkEntry, JwksCache, KeySet, jwks_cache};
use crate::jws::{MAX_PROOF_BYTES, MAX_TOKEN_BYTES};
use crate::options::{ApiClientOptions, DpopMode};
use crate::request::VerifyRequest;
use crate::resolved::ResolvedIssuers;
use crate::token_cache::{CachedToken, TokenCache};
use crate::verify::{self, ClaimRules};

/// The `DPoP` request header's name, built once (a `&str` name is parsed on every lookup).
const DPOP_HEADER: http::HeaderName = http::HeaderName::from_static("dpop");

/// The key a token is checked with, and where it came from.
struct KeysInUse<'a> {
    discovery: &'a Discovery,
    keys: &'a Arc<Entry<KeySet>>,
    kid: &'a str,
    key: &'a JwkEntry,
}

/// What a verified-token cache entry needs besides the claims.
struct PendingEntry {
    /// When the claims were checked, in seconds since the epoch.
    now: f64,
    jwks_uri: String,
    kid: String,
    keys: Arc<Entry<KeySet>>,
}

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
    http: HttpClient,
    discovery: DiscoveryCache,
    jwks: JwksCache,
    tokens: Option<TokenCache>,
    /// Discovery URL of the configured domain (single-domain mode), computed once.
    single_discovery_url: String,
    /// Discovery URL of each allowed issuer (static `domains` list), computed once: a token's
    /// issuer is checked and its URL found with one hash lookup, however long the list.
    list_discovery_urls: HashMap<String, String>,
    /// Header texts of tokens that verified, decoded once.
    known_headers: verify::KnownHeaders,
    /// Issuers resolved before, with the discovery and JWKS entries they resolved to.
    resolved: ResolvedIssuers,
    dpop: DpopVerifier,
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
        let http = HttpClient::from_options(&options)?;
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
        };
        let dpop = DpopVerifier::new(&options);
        let algs = dpop.algs().to_owned();
        Ok(Self {
            inner: Arc::new(Inner {
                discovery: discovery_cache(
                    loader.clone(),
                    options.cache_max_entries,
                    options.stale_if_error,
                ),
                jwks: jwks_cache(
                    loader,
                    options.cache_max_entries,
                    options.stale_if_error,
                    options.algorithms.clone(),
                ),
                single_discovery_url: options
                    .domain
                    .as_deref()
                    .map(discovery_url)
                    .unwrap_or_default(),
                list_discovery_urls: match &options.domains {
                    DomainsMode::List(allowed) => allowed
                        .iter()
                        .map(|issuer| (issuer.clone(), discovery_url(issuer)))
                        .collect(),
                    _ => HashMap::new(),
                },
                known_headers: verify::KnownHeaders::default(),
                resolved: ResolvedIssuers::new(match &options.domains {
                    DomainsMode::Single => 1,
                    DomainsMode::List(allowed) => allowed.len(),
                    DomainsMode::Resolver(_) => 0,
                }),
                tokens: options
                    .verified_token_cache
                    .then(|| TokenCache::new(options.verified_token_cache_size)),
                http,
                dpop,
                algs,
                options,
            }),
        })
    }

    pub(crate) fn options(&self) -> &ApiClientOptions {
        &self.inner.options
    }

    pub(crate) fn http(&self) -> &HttpClient {
        &self.inner.http
    }

    /// Attaches to `error` the `WWW-Authenticate` value this client sends for it when the
    /// request used `scheme` (for errors an application raises after authentication, such as an
    /// invalid `act` claim or a missing scope).
    pub fn with_challenge(&self, error: Error, scheme: Option<AuthScheme>) -> Error {
        let challenge = www_authenticate(
            self.inner.options.dpop_mode,
            scheme,
            error.error_code(),
            error.description(),
            &self.inner.algs,
        );
        error.with_www_authenticate(challenge)
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

    /// The discovery document of the configured domain (cached).
    pub(crate) async fn discover_configured_domain(
        &self,
    ) -> Result<Arc<Discovery>, DiscoveryError> {
        let domain = self
            .inner
            .options
            .domain
            .as_deref()
            .ok_or(DiscoveryError::NoDomain)?;
        let entry = self.inner.discovery.get(&discovery_url(domain)).await?;
        Ok(entry.value.clone())
    }

    /// Verifies an access token (signature, `iss`, `aud`, `exp`, `iat`, `nbf`).
    ///
    /// ```no_run
    /// # async fn run(client: auth0_api::ApiClient, token: &str) -> Result<(), auth0_api::Error> {
    /// let claims = client.verify_access_token(token).await?;
    /// println!("user {:?}", claims.sub());
    /// # Ok(()) }
    /// ```
    pub async fn verify_access_token(&self, token: &str) -> Result<Claims> {
        self.verify_token(token, &[], None, None).await
    }

    /// [`verify_access_token`](Self::verify_access_token) with required claims and the request
    /// context for a domains resolver.
    pub async fn verify_access_token_with(
        &self,
        token: &str,
        options: &VerifyOptions,
    ) -> Result<Claims> {
        self.verify_token(
            token,
            &options.required_claims,
            options.request_url.as_deref(),
            options.request_headers.as_ref(),
        )
        .await
    }

    async fn verify_token(
        &self,
        token: &str,
        required: &[String],
        request_url: Option<&str>,
        request_headers: Option<&http::HeaderMap>,
    ) -> Result<Claims> {
        if token.is_empty() {
            return Err(Error::missing_argument("access_token"));
        }
        let opts = &self.inner.options;
        // A resolver may answer differently per request, so its tokens are never served from
        // the verified-token cache.
        let cache = match opts.domains {
            DomainsMode::Resolver(_) => None,
            _ => self.inner.tokens.as_ref(),
        };
        let cache_key = cache.map(|c| c.key(token));
        if let (Some(cache), Some(key)) = (cache, &cache_key)
            && let Some(hit) = cache.get(key, token)
        {
            if self.still_valid(&hit).await {
                check_required(&hit.claims, required)?;
                return Ok(hit.claims.clone());
            }
            cache.remove(key);
        }

        let mut texts = verify::Texts::default();
        let expected = verify::Expected {
            audiences: &opts.audiences,
            required,
        };
        let decoded = verify::decode(token, &mut texts, expected, Some(&self.inner.known_headers))?;
        let caching = matches!((cache, &cache_key), (Some(c), Some(k)) if c.admits(k));
        // An issuer resolved before: its discovery document and key set, borrowed while both are
        // current (see `resolved`); the full path below gives the same answers, slower.
        let now = Instant::now();
        let remembered = match (&opts.domains, verify::issuer_text(&decoded.payload)) {
            (DomainsMode::Resolver(_), _) | (_, None) => None,
            (_, Some(iss)) => self.inner.resolved.with(iss, now, |pair| {
                let kid = verify::kid(&decoded.header).ok()?;
                let key = pair.keys.value.find(kid)?;
                self.inner.discovery.touch(&pair.discovery, now);
                self.inner.jwks.touch(&pair.keys, now);
                let keys = KeysInUse {
                    discovery: &pair.discovery.value,
                    keys: &pair.keys,
                    kid,
                    key,
                };
                Some(self.finish(&decoded, &keys, caching))
            }),
        };
        let pending = match remembered.flatten() {
            Some(done) => done?,
            None => {
                let (discovery, keys) = self
                    .resolve_keys(&decoded, request_url, request_headers)
                    .await?;
                let kid = verify::kid(&decoded.header)?;
                let key = keys
                    .value
                    .find(kid)
                    .ok_or_else(|| Error::invalid_token("No matching key found in JWKS"))?;
                if !matches!(opts.domains, DomainsMode::Resolver(_)) {
                    self.inner.resolved.remember(&discovery, &keys);
                }
                let keys = KeysInUse {
                    discovery: &discovery.value,
                    keys: &keys,
                    kid,
                    key,
                };
                self.finish(&decoded, &keys, caching)?
            }
        };
        self.inner.known_headers.remember(&decoded);
        let index = decoded.claims_index();
        drop(decoded);
        let claims = Claims::from_verified_text(texts.take_payload(), index);
        if let (Some(cache), Some(key), Some(pending)) = (cache, cache_key, pending)
            && let Some(exp) = claims.exp()
        {
            let leeway = opts.clock_leeway.as_secs_f64();
            cache.insert(
                key,
                token,
                CachedToken::new(
                    claims.clone(),
                    exp + leeway,
                    pending.now,
                    pending.jwks_uri,
                    pending.kid,
                    pending.keys,
                ),
            );
        }
        Ok(claims)
    }

    /// The discovery document and key set for a decoded token's issuer, through the caches
    /// (loading, refreshing, and refetching the key set on an unknown `kid` once per cooldown).
    async fn resolve_keys(
        &self,
        decoded: &verify::Decoded<'_>,
        request_url: Option<&str>,
        request_headers: Option<&http::HeaderMap>,
    ) -> Result<(Arc<Entry<Arc<Discovery>>>, Arc<Entry<KeySet>>)> {
        let opts = &self.inner.options;
        let issuer = verify::unverified_issuer(&decoded.payload)?;
        let discovery_url: Cow<'_, str> = match &opts.domains {
            DomainsMode::Single => Cow::Borrowed(&self.inner.single_discovery_url),
            DomainsMode::List(_) => match self.inner.list_discovery_urls.get(&*issuer) {
                Some(url) => Cow::Borrowed(url),
                None => return Err(not_allowed()),
            },
            DomainsMode::Resolver(resolver) => {
                let allowed = resolver
                    .resolve(ResolverContext {
                        request_url: request_url.map(str::to_owned),
                        request_headers: request_headers.cloned(),
                        unverified_iss: issuer.to_string(),
                    })
                    .await?;
                check_allowed(&allowed, &issuer)?;
                Cow::Owned(discovery_url(&issuer))
            }
        };

        let discovery_entry = self
            .inner
            .discovery
            .get(&discovery_url)
            .await
            .map_err(|e| {
                Error::invalid_token(format!("Failed to fetch OIDC discovery metadata: {e}"))
            })?;
        let discovery = &discovery_entry.value;
        if discovery.issuer.is_empty() {
            return Err(Error::invalid_token(
                "Discovery metadata missing 'issuer' field",
            ));
        }
        let discovery_issuer = discovery
            .normalized_issuer
            .as_ref()
            .map_err(|e| Error::invalid_token(format!("Invalid discovery issuer format: {e}")))?;
        if discovery_issuer.as_str() != issuer {
            return Err(Error::invalid_token(
                "Token issuer does not match the discovery issuer",
            ));
        }
        let Some(jwks_uri) = discovery.jwks_uri.as_deref() else {
            return Err(Error::invalid_token(
                "Discovery metadata missing 'jwks_uri' field",
            ));
        };
        if !jwks_uri.starts_with("https://") {
            return Err(Error::invalid_token(
                "Failed to fetch JWKS: jwks_uri must use https",
            ));
        }
        let mut keys = self
            .inner
            .jwks
            .get(jwks_uri)
            .await
            .map_err(|e| Error::invalid_token(format!("Failed to fetch JWKS: {e}")))?;
        let kid = verify::kid(&decoded.header)?;
        if keys.value.find(kid).is_none() {
            // Key rotation: refetch once per cooldown, never per request.
            keys = self
                .inner
                .jwks
                .refresh_if_older(jwks_uri, &keys, opts.jwks_refresh_cooldown)
                .await;
        }
        Ok((discovery_entry, keys))
    }

    /// The checks once the key is known: signature, then claims. Answers, when the
    /// verified-token cache is on, what its entry needs (kept small: it is moved twice).
    fn finish(
        &self,
        decoded: &verify::Decoded<'_>,
        keys: &KeysInUse<'_>,
        caching: bool,
    ) -> Result<Option<PendingEntry>> {
        let opts = &self.inner.options;
        verify::check_signature(decoded, keys.key, &opts.algorithms)?;
        let now = unix_now() as f64;
        verify::check_claims(
            &decoded.payload,
            &ClaimRules {
                discovery_issuer: &keys.discovery.issuer,
                leeway_secs: opts.clock_leeway.as_secs_f64(),
                now,
            },
        )?;
        // Owned only when it is cached.
        let pending = caching.then(|| PendingEntry {
            now,
            jwks_uri: keys.discovery.jwks_uri.clone().unwrap_or_default(),
            kid: keys.kid.to_owned(),
            keys: keys.keys.clone(),
        });
        Ok(pending)
    }

    /// Whether a cached verification still holds: not expired, and its key still published.
    async fn still_valid(&self, hit: &CachedToken) -> bool {
        if (unix_now() as f64) >= hit.valid_until {
            return false;
        }
        match self.inner.jwks.get(&hit.jwks_uri).await {
            Ok(current) => {
                Arc::ptr_eq(&current, &hit.keys) || current.value.find(&hit.kid).is_some()
            }
            Err(_) => false,
        }
    }

    /// Verifies a DPoP proof (RFC 9449 section 4.3) for an access token, method and URL.
    pub async fn verify_dpop_proof(
        &self,
        access_token: &str,
        proof: &str,
        http_method: &str,
        http_url: &str,
    ) -> Result<VerifiedProof> {
        self.inner
            .dpop
            .verify(access_token, proof, http_method, http_url)
            .await
    }

    /// Authenticates a request: reads the `Authorization` scheme (Bearer or DPoP), verifies the
    /// token, and for DPoP the proof and its `cnf.jkt` binding. Every error carries its status,
    /// OAuth code and the exact `WWW-Authenticate` value for this client's DPoP mode.
    pub async fn verify_request(&self, request: VerifyRequest<'_>) -> Result<VerifiedRequest> {
        let mode = self.inner.options.dpop_mode;
        let prepare = |e: Error, scheme: Option<AuthScheme>| self.with_challenge(e, scheme);
        // Errors from below keep their challenge unless they are of a kind the reference leaves
        // bare (resolver failures, store outages).
        let prepare_token_error = |e: Error, scheme: AuthScheme| -> Error {
            match e.kind() {
                ErrorKind::DomainsResolver
                | ErrorKind::ReplayStoreUnavailable
                | ErrorKind::Configuration => e,
                _ => prepare(e, Some(scheme)),
            }
        };

        let mut authorizations = request.headers.get_all(http::header::AUTHORIZATION).iter();
        let authorization = match (authorizations.next(), authorizations.next()) {
            (None, _) => "",
            (Some(_), Some(_)) => {
                return Err(prepare(
                    Error::invalid_auth_scheme("Multiple Authorization headers are not allowed"),
                    None,
                ));
            }
            (Some(v), None) => {
                if v.len() > MAX_TOKEN_BYTES + 64 {
                    return Err(prepare(
                        Error::invalid_auth_scheme("Authorization header is too large"),
                        None,
                    ));
                }
                v.to_str().unwrap_or_default()
            }
        };
        if authorization.is_empty() {
            return Err(if mode == DpopMode::Required {
                prepare(Error::invalid_auth_scheme(""), None)
            } else {
                prepare(Error::missing_authorization(), None)
            });
        }
        let Some((scheme_raw, token)) = split_authorization(authorization) else {
            return Err(prepare(Error::missing_authorization(), None));
        };
        let scheme = if scheme_raw.eq_ignore_ascii_case("dpop") {
            Some(AuthScheme::Dpop)
        } else if scheme_raw.eq_ignore_ascii_case("bearer") {
            Some(AuthScheme::Bearer)
        } else {
            None
        };
        if mode == DpopMode::Required && scheme != Some(AuthScheme::Dpop) {
            return Err(prepare(Error::invalid_auth_scheme(""), scheme));
        }

        let mut proofs = request
            .headers
            .get_all(DPOP_HEADER)
            .iter()
            .filter(|v| !v.is_empty());
        let proof = proofs.next();
        let several_proofs = proofs.next().is_some();
        let url = request.url.as_deref().filter(|u| !u.is_empty());
        let method = request.method.as_deref().filter(|m| !m.is_empty());

        match scheme {
            Some(AuthScheme::Dpop) => {
                let s = Some(AuthScheme::Dpop);
                if mode == DpopMode::Disabled {
                    return Err(prepare(Error::missing_authorization(), None));
                }
                let Some(proof) = proof else {
                    return Err(prepare(Error::invalid_auth_scheme(""), s));
                };
                if several_proofs || memchr::memchr(b',', proof.as_bytes()).is_some() {
                    return Err(prepare(
                        Error::invalid_dpop_proof("Multiple DPoP proofs are not allowed"),
                        s,
                    ));
                }
                // The reference's first check: the proof's header decodes as a JSON object. The
                // prepared proof keeps what was read, so the header is not decoded again below.
                let prepared = proof
                    .to_str()
                    .ok()
                    .filter(|p| p.len() <= MAX_PROOF_BYTES)
                    .and_then(|p| self.inner.dpop.prepare_proof(p).ok());
                let Some(proof) = prepared else {
                    return Err(prepare(
                        Error::invalid_dpop_proof("Failed to verify DPoP proof"),
                        s,
                    ));
                };
                let (Some(method), Some(url)) = (method, url) else {
                    let missing: Vec<&str> = [
                        ("http_method", method.is_none()),
                        ("http_url", url.is_none()),
                    ]
                    .into_iter()
                    .filter_map(|(name, absent)| absent.then_some(name))
                    .collect();
                    // The reference passes this text as the *argument name* of its
                    // MissingRequiredArgumentError, so clients see it inside the usual sentence.
                    return Err(prepare(
                        Error::missing_argument(&format!(
                            "DPoP authentication requires {}",
                            missing.join(" and ")
                        )),
                        s,
                    ));
                };
                // The proof's expected `ath`.
                let digest = TokenCache::sha256(token);
                let claims = self
                    .verify_token(token, &[], Some(url), Some(&request.headers))
                    .await
                    .map_err(|e| prepare_token_error(e, AuthScheme::Dpop))?;
                let expected = match claims.confirmation() {
                    Confirmation::None => {
                        return Err(prepare(
                            Error::invalid_token("JWT Access Token has no jkt confirmation claim"),
                            s,
                        ));
                    }
                    Confirmation::NotObject => {
                        return Err(prepare(
                            Error::invalid_token(
                                "JWT Access Token has invalid confirmation claim format",
                            ),
                            s,
                        ));
                    }
                    Confirmation::Object { jkt } => jkt,
                };
                let verified = self
                    .inner
                    .dpop
                    .verify_prepared(token, proof, method, url, Some(&digest))
                    .await
                    .map_err(|e| prepare_token_error(e, AuthScheme::Dpop))?;
                let Some(expected) = expected else {
                    return Err(prepare(
                        Error::invalid_token("Access token 'cnf' claim missing 'jkt'"),
                        s,
                    ));
                };
                if constant_time::verify_slices_are_equal(
                    expected.as_bytes(),
                    verified.jkt.as_bytes(),
                )
                .is_err()
                {
                    return Err(prepare(
                        Error::invalid_token("JWT Access Token confirmation mismatch"),
                        s,
                    ));
                }
                Ok(VerifiedRequest {
                    claims,
                    scheme: AuthScheme::Dpop,
                    proof: Some(verified),
                })
            }
            Some(AuthScheme::Bearer) => {
                let s = Some(AuthScheme::Bearer);
                let claims = self
                    .verify_token(token, &[], url, Some(&request.headers))
                    .await
                    .map_err(|e| prepare_token_error(e, AuthScheme::Bearer))?;
                if mode != DpopMode::Disabled {
                    if matches!(claims.confirmation(), Confirmation::Object { jkt: Some(_) }) {
                        return Err(prepare(
                            Error::invalid_token(
                                "DPoP-bound token requires the DPoP authentication scheme, not Bearer",
                            ),
                            s,
                        ));
                    }
                    if proof.is_some() {
                        return Err(prepare(
                            Error::invalid_auth_scheme(
                                "DPoP proof requires DPoP authentication scheme, not Bearer",
                            ),
                            s,
                        ));
                    }
                }
                Ok(VerifiedRequest {
                    claims,
                    scheme: AuthScheme::Bearer,
                    proof: None,
                })
            }
            None => Err(prepare(Error::missing_authorization(), None)),
        }
    }
}

fn check_required(claims: &Claims, required: &[String]) -> Result<()> {
    match required.iter().find(|c| claims.get(c).is_none()) {
        Some(c) => Err(Error::invalid_token(format!("Missing required claim: {c}"))),
        None => Ok(()),
    }
}

fn check_allowed(allowed: &[String], issuer: &str) -> Result<()> {
    if allowed.iter().any(|d| d == issuer) {
        Ok(())
    } else {
        Err(not_allowed())
    }
}

fn not_allowed() -> Error {
    Error::invalid_token("Token issuer is not in the list of allowed domains")
}

/// Python's `str.split(None, 1)`: the scheme, then the rest after the first whitespace run.
fn split_authorization(value: &str) -> Option<(&str, &str)> {
    let value = value.trim_start();
    let end = value.find(char::is_whitespace)?;
    let scheme = &value[..end];
    let rest = value[end..].trim_start();
    (!rest.is_empty()).then_some((scheme, rest))
}

#[cfg(test)]
mod tests {
    use super::*;

    /// Every public future must be `Send`, or it cannot be awaited in a web handler.
    #[allow(dead_code, clippy::let_underscore_future)]
    fn futures_are_send(c: &ApiClient) {
        fn send<T: Send>(_: T) {}
        send(c.verify_access_token(""));
        send(c.verify_access_token_with("", &VerifyOptions::default()));
        send(c.verify_request(VerifyRequest::from_pairs([("a", "b")])));
        send(c.verify_dpop_proof("", "", "", ""));
        send(c.get_token_on_behalf_of("", "", None));
        send(c.get_token_by_exchange_profile(crate::exchange::ExchangeProfileRequest::new("", "")));
        send(
            c.get_access_token_for_connection(crate::exchange::ConnectionTokenRequest::new("", "")),
        );
    }

    #[test]
    fn authorization_splits_like_python() {
        assert_eq!(split_authorization("Bearer abc"), Some(("Bearer", "abc")));
        assert_eq!(
            split_authorization("Bearer \t  abc"),
            Some(("Bearer", "abc"))
        );
        assert_eq!(
            split_authorization("  DPoP abc def"),
            Some(("DPoP", "abc def"))
        );
        assert_eq!(
            split_authorization("Bearer\tabc  "),
            Some(("Bearer", "abc  "))
        );
        assert_eq!(split_authorization("Bearer"), None);
        assert_eq!(split_authorization("Bearer   "), None);
        assert_eq!(split_authorization(""), None);
    }
}
