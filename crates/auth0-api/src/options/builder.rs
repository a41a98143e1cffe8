//! [`ApiClientOptionsBuilder`]: every setting, validated once in [`ApiClientOptionsBuilder::build`].

use crate::domains::{DomainsMode, DomainsResolver, normalize_domain};
use crate::dpop::nonce::NonceConfig;
use crate::dpop::replay::ReplayStore;
use crate::error::{Error, Result};
use crate::exchange::ClientAuth;
use crate::fetch::cache::CacheAdapter;
use crate::fetch::static_keys::{StaticKeyInput, collect_jwks};
use crate::jose::jwe::JweDecrypter;
use crate::mtls::CertificateBinding;
use crate::observe::{Observe, Observer};
use crate::organization::{Organization, OrganizationPolicy, OrganizationResolver};
use crate::settings::{Algorithm, DpopMode};
use crate::token_location::TokenLocations;
use std::sync::Arc;
use std::time::Duration;

use super::ApiClientOptions;

/// Builder of [`ApiClientOptions`]; all checks happen in [`build`](Self::build).
#[derive(Default)]
#[must_use]
pub struct ApiClientOptionsBuilder {
    domain: Option<String>,
    domains: Option<Vec<String>>,
    domains_resolver: Option<DomainsResolver>,
    audiences: Vec<String>,
    cache_ttl: Option<Duration>,
    cache_max_entries: Option<usize>,
    cache_adapter: Option<Arc<dyn CacheAdapter>>,
    dpop_enabled: Option<bool>,
    dpop_required: Option<bool>,
    dpop_mode: Option<DpopMode>,
    dpop_iat_leeway: Option<Duration>,
    dpop_iat_offset: Option<Duration>,
    dpop_algorithms: Option<Vec<Algorithm>>,
    replay_store: Option<Arc<dyn ReplayStore>>,
    replay_protection: Option<bool>,
    dpop_nonce: Option<NonceConfig>,
    client_id: Option<String>,
    client_secret: Option<String>,
    client_assertion: Option<ClientAuth>,
    token_endpoint_timeout: Option<Duration>,
    http_timeout: Option<Duration>,
    root_pems: Vec<Vec<u8>>,
    http_client: Option<reqwest::Client>,
    clock_leeway: Option<Duration>,
    algorithms: Option<Vec<Algorithm>>,
    jwks_refresh_cooldown: Option<Duration>,
    stale_if_error: Option<Duration>,
    verified_token_cache: Option<bool>,
    verified_token_cache_size: Option<usize>,
    observer: Option<Arc<dyn Observer>>,
    organizations: Vec<String>,
    organization_resolver: Option<OrganizationResolver>,
    static_keys: Vec<StaticKeyInput>,
    certificate_binding: Option<CertificateBinding>,
    decryption_key_pem: Option<Vec<u8>>,
    accept_unencrypted_access_tokens: Option<bool>,
    token_locations: Option<TokenLocations>,
    only_given_roots: bool,
}

impl ApiClientOptionsBuilder {
    option_setters! {
        /// The Auth0 domain (`tenant.auth0.com`, or `https://tenant.auth0.com/`): single-domain mode,
        /// and the tenant used for token exchange.
        domain: into String;
    }

    /// A static list of accepted domains (multiple custom domains).
    pub fn domains<I, S>(mut self, domains: I) -> Self
    where
        I: IntoIterator<Item = S>,
        S: Into<String>,
    {
        self.domains = Some(domains.into_iter().map(Into::into).collect());
        self
    }

    option_setters! {
        /// A resolver that names the accepted domains for each request.
        domains_resolver: DomainsResolver;
    }

    /// The audience the API accepts (`aud` must equal or contain it). Call again to accept several.
    pub fn audience(mut self, audience: impl Into<String>) -> Self {
        self.audiences.push(audience.into());
        self
    }

    /// Several accepted audiences at once.
    pub fn audiences<I, S>(mut self, audiences: I) -> Self
    where
        I: IntoIterator<Item = S>,
        S: Into<String>,
    {
        self.audiences.extend(audiences.into_iter().map(Into::into));
        self
    }

    option_setters! {
        /// Upper bound of the discovery/JWKS cache lifetime (default 600 s). The effective TTL is
        /// `min(Cache-Control max-age, this)`.
        cache_ttl: Duration;
        /// Most cached discovery/JWKS documents (default 100, at least 2).
        cache_max_entries: usize;
        /// Where discovery and JWKS documents are kept (default: in memory, TTL + LRU).
        cache_adapter: Arc<dyn CacheAdapter>;
        /// The DPoP mode (default [`DpopMode::Allowed`]).
        dpop_mode: DpopMode;
        /// The reference's `dpop_enabled` (default true); `false` means [`DpopMode::Disabled`].
        dpop_enabled: bool;
        /// The reference's `dpop_required` (default false); `true` means [`DpopMode::Required`].
        dpop_required: bool;
        /// How far in the future a proof's `iat` may be (default 30 s).
        dpop_iat_leeway: Duration;
        /// How old a proof's `iat` may be (default 300 s).
        dpop_iat_offset: Duration;
    }

    /// Accepted proof algorithms (default `ES256`); they are listed in the challenges' `algs`.
    pub fn dpop_algorithms<I: IntoIterator<Item = Algorithm>>(mut self, algs: I) -> Self {
        self.dpop_algorithms = Some(algs.into_iter().collect());
        self
    }

    option_setters! {
        /// The store that remembers proof `jti`s (default: in memory, bounded).
        replay_store: Arc<dyn ReplayStore>;
        /// Turns DPoP replay protection on or off (default on).
        replay_protection: bool;
        /// Requires server-issued DPoP nonces (RFC 9449 section 8).
        dpop_nonce: NonceConfig;
        /// The client id used for token exchange.
        client_id: into String;
        /// The client secret used for token exchange (HTTP Basic authentication).
        client_secret: into String;
        /// Authenticates to the token endpoint with a signed JWT instead of a secret (RFC 7523).
        client_assertion: ClientAuth;
        /// Timeout of token-endpoint requests (default 10 s).
        token_endpoint_timeout: Duration;
        /// Timeout of discovery and JWKS requests (default 5 s).
        http_timeout: Duration;
    }

    /// Trusts an extra root CA (PEM; one or more certificates) for discovery, JWKS and the
    /// token endpoint, on top of the system roots.
    pub fn root_ca_pem(mut self, pem: impl AsRef<[u8]>) -> Self {
        self.root_pems.push(pem.as_ref().to_vec());
        self
    }

    /// Trusts only the roots given with [`root_ca_pem`](Self::root_ca_pem), not the system's
    /// (default: the system roots plus the given ones). For a tenant behind a private CA, and
    /// to pin discovery, JWKS and the token endpoint to it.
    pub fn trust_only_given_roots(mut self, only: bool) -> Self {
        self.only_given_roots = only;
        self
    }

    option_setters! {
        /// Uses a caller-built HTTP client (its TLS and proxy settings) instead of ours.
        ///
        /// **Redirects**: ours follows none (a redirected discovery or JWKS could hand out
        /// another issuer's keys). A caller's client keeps its own redirect policy (reqwest
        /// follows up to 10 by default) and cannot be changed afterwards: the library refuses
        /// every answer that came from another URL than the one asked for, but the redirected
        /// request has been sent by then. Build the client with
        /// `.redirect(reqwest::redirect::Policy::none())`.
        http_client: reqwest::Client;
        /// Clock skew tolerated for `exp` and `nbf` (default 0).
        clock_leeway: Duration;
    }

    /// Accepted access-token algorithms (default `RS256`).
    pub fn algorithms<I: IntoIterator<Item = Algorithm>>(mut self, algs: I) -> Self {
        self.algorithms = Some(algs.into_iter().collect());
        self
    }

    option_setters! {
        /// Least time between two JWKS refetches caused by unknown `kid`s (default 30 s); the
        /// first one after a regular load (start-up, TTL, refresh-ahead) is never delayed.
        jwks_refresh_cooldown: Duration;
        /// How long the last good discovery/JWKS documents keep serving when refreshing them fails
        /// (default 1 h). Refreshes start in the background at 80% of the TTL.
        stale_if_error: Duration;
        /// Keeps each verified token's claims until its `exp` (or until its key leaves the JWKS),
        /// so a token seen again skips the signature check (default on).
        verified_token_cache: bool;
        /// Most tokens in the verified-token cache (default 10 000).
        verified_token_cache_size: usize;
        /// Sees verifications, document fetches, cache lookups, replay rejections and nonce
        /// challenges (none by default; see [`observe`](crate::observe)).
        observer: Arc<dyn Observer>;
        /// Whether `verify_request` checks certificate-bound tokens (`cnf.x5t#S256`, RFC 8705)
        /// against the request's client certificate (default
        /// [`Enforced`](CertificateBinding::Enforced), as RFC 8705 section 3 requires; only
        /// tokens carrying `cnf.x5t#S256` are affected; [`Ignored`](CertificateBinding::Ignored)
        /// opts out; see [`mtls`](crate::mtls)). `verify_access_token` has no request and
        /// cannot check the binding.
        certificate_binding: CertificateBinding;
    }

    /// Requires tokens issued for this organization (Auth0 Organizations): an ID (`org_...`,
    /// compared with `org_id`) or a name (lower-cased, compared with `org_name`). Call again
    /// to accept any of several. See [`organization`](crate::organization).
    pub fn organization(mut self, organization: impl Into<String>) -> Self {
        self.organizations.push(organization.into());
        self
    }

    /// Decides per request which organizations are accepted (instead of
    /// [`organization`](Self::organization)).
    pub fn organization_resolver(mut self, resolver: OrganizationResolver) -> Self {
        self.organization_resolver = Some(resolver);
        self
    }

    /// Verifies with the keys of this JWKS document (`{"keys": [...]}`) instead of discovery
    /// and the tenant's JWKS: no network at all (air-gapped deployments, tests, start-up
    /// without network). Combine with the other `static_*` setters; checked in
    /// [`build`](Self::build). Tokens must still come from the configured domain(s).
    ///
    /// ```
    /// # use auth0_api::ApiClientOptions;
    /// let jwks = r#"{"keys":[{"kty":"EC","crv":"P-256","kid":"k1",
    ///   "x":"f83OJ3D2xF1Bg8vub9tLe1gHMzV76e8Tus9uPHvRVEU",
    ///   "y":"x_FEzRu9m36HLN_tue659LNpXW6pCyStikYjKIWI5a0"}]}"#;
    /// let options = ApiClientOptions::builder()
    ///     .domain("your-tenant.auth0.com")
    ///     .audience("https://api.example.com")
    ///     .algorithms([auth0_api::Algorithm::ES256])
    ///     .static_jwks(jwks)
    ///     .build()?;
    /// # let _ = options;
    /// # Ok::<(), auth0_api::Error>(())
    /// ```
    pub fn static_jwks(mut self, jwks_json: impl AsRef<[u8]>) -> Self {
        self.static_keys
            .push(StaticKeyInput::Jwks(jwks_json.as_ref().to_vec()));
        self
    }

    /// One static public JWK (with its `kid`); see [`static_jwks`](Self::static_jwks).
    pub fn static_jwk(mut self, jwk_json: impl AsRef<[u8]>) -> Self {
        self.static_keys
            .push(StaticKeyInput::Jwk(jwk_json.as_ref().to_vec()));
        self
    }

    /// One static key from PEM: a `PUBLIC KEY` (RSA or EC P-256) or a `CERTIFICATE` (such as
    /// the signing certificate the Auth0 dashboard offers), named `kid` as tokens name it; see
    /// [`static_jwks`](Self::static_jwks).
    pub fn static_key_pem(mut self, kid: impl Into<String>, pem: impl AsRef<[u8]>) -> Self {
        self.static_keys.push(StaticKeyInput::Pem {
            kid: kid.into(),
            pem: pem.as_ref().to_vec(),
        });
        self
    }

    /// Decrypts encrypted access tokens (Auth0's access token encryption: a nested JWT in a
    /// compact JWE, `RSA-OAEP-256` + `A256GCM`) with the API's RSA private key, PEM (`PRIVATE
    /// KEY` or `RSA PRIVATE KEY`, 2048 to 8192 bits; checked in [`build`](Self::build)). The
    /// inner token is then verified as usual. With a key set, plain tokens are refused
    /// (`NotEncrypted`) unless [`accept_unencrypted_access_tokens`](Self::accept_unencrypted_access_tokens);
    /// any decryption failure is one answer, `401 invalid_token` "Access token could not be
    /// decrypted". Without a key, a JWE is refused as a token that is not three segments.
    ///
    /// ```no_run
    /// # use auth0_api::ApiClientOptions;
    /// let options = ApiClientOptions::builder()
    ///     .domain("your-tenant.auth0.com")
    ///     .audience("https://api.example.com")
    ///     .access_token_decryption_key_pem(std::fs::read("api-encryption-key.pem").unwrap())
    ///     .build()?;
    /// # let _ = options;
    /// # Ok::<(), auth0_api::Error>(())
    /// ```
    pub fn access_token_decryption_key_pem(mut self, pem: impl AsRef<[u8]>) -> Self {
        self.decryption_key_pem = Some(pem.as_ref().to_vec());
        self
    }

    /// With a [decryption key](Self::access_token_decryption_key_pem), also accepts plain
    /// (signed, unencrypted) tokens (default `false`). Auth0 encrypts every token it issues
    /// for an API once encryption is on, so a plain token then means a token issued before (a
    /// migration window, until those expire) or one that is not Auth0's encrypted kind:
    /// turn this on only for such a window.
    pub fn accept_unencrypted_access_tokens(mut self, accept: bool) -> Self {
        self.accept_unencrypted_access_tokens = Some(accept);
        self
    }

    /// Also reads the token from the form body, the query, a cookie or a header (RFC 6750
    /// sections 2.2 and 2.3; off by default). See [`token_location`](crate::token_location).
    pub fn token_locations(mut self, locations: TokenLocations) -> Self {
        self.token_locations = Some(locations);
        self
    }

    /// Validates everything and returns the options, or an `invalid_configuration` error.
    pub fn build(self) -> Result<ApiClientOptions> {
        let decryption_key = match &self.decryption_key_pem {
            None => None,
            Some(pem) => Some(Arc::new(JweDecrypter::from_pem(pem).map_err(|e| {
                Error::configuration(format!("Invalid access token decryption key: {e}"))
            })?)),
        };
        let audiences = self.audiences;
        if audiences.is_empty() {
            return Err(Error::configuration(
                "The argument 'audience' is required but was not provided.",
            ));
        }
        if audiences.iter().any(|a| a.trim().is_empty()) {
            return Err(Error::configuration("audience must be a non-empty string"));
        }

        let domains = match (self.domains, self.domains_resolver) {
            (Some(_), Some(_)) => {
                return Err(Error::configuration(
                    "domains must be either a list of domain strings or a callable resolver function",
                ));
            }
            (Some(list), None) => {
                if list.is_empty() {
                    return Err(Error::configuration("domains list cannot be empty"));
                }
                if list.iter().any(|d| d.trim().is_empty()) {
                    return Err(Error::configuration(
                        "domains list must contain only non-empty strings",
                    ));
                }
                let normalized = list
                    .iter()
                    .map(|d| normalize_domain(d))
                    .collect::<std::result::Result<Vec<_>, _>>()
                    .map_err(|e| {
                        Error::configuration(format!("Invalid domain in domains list: {e}"))
                    })?;
                DomainsMode::List(normalized)
            }
            (None, Some(resolver)) => DomainsMode::Resolver(resolver),
            (None, None) => DomainsMode::Single,
        };

        let domain = match self.domain.as_deref().map(str::trim) {
            Some("") | None => None,
            Some(d) => Some(
                normalize_domain(d)
                    .map_err(|e| Error::configuration(format!("Invalid domain: {e}")))?,
            ),
        };
        if domain.is_none() && matches!(domains, DomainsMode::Single) {
            return Err(Error::configuration(
                "Must provide either 'domain' or 'domains' parameter. Use 'domain' for single-domain mode, 'domains' for multi-domain support.",
            ));
        }

        let client_id = self.client_id.filter(|c| !c.is_empty());
        if client_id.is_some() && domain.is_none() {
            return Err(Error::configuration(
                "The 'domain' parameter is required when 'client_id' is configured.",
            ));
        }
        let client_auth = match (
            self.client_secret.filter(|s| !s.is_empty()),
            self.client_assertion,
        ) {
            (Some(_), Some(_)) => {
                return Err(Error::configuration(
                    "Configure either client_secret or client_assertion, not both",
                ));
            }
            (Some(secret), None) => Some(ClientAuth::secret(secret)),
            (None, assertion) => assertion,
        };
        if client_auth.is_some() && client_id.is_none() {
            return Err(Error::configuration(
                "client_id is required when client credentials are configured",
            ));
        }

        // By default, room for every issuer of a static list (each has one discovery document
        // and one key set): a list longer than the reference's 100 would otherwise evict its
        // own documents in turn. An explicit size is kept as given.
        let listed = match &domains {
            DomainsMode::List(allowed) => allowed.len(),
            _ => 0,
        };
        let cache_max_entries = self.cache_max_entries.unwrap_or(100.max(listed));
        if cache_max_entries < 2 {
            return Err(Error::configuration(
                "cache_max_entries must be an integer greater than 1",
            ));
        }

        let dpop_mode = match (self.dpop_mode, self.dpop_enabled, self.dpop_required) {
            (Some(mode), None, None) => mode,
            (Some(_), _, _) => {
                return Err(Error::configuration(
                    "Set dpop_mode, or dpop_enabled/dpop_required, not both",
                ));
            }
            (None, Some(false), Some(true)) => {
                return Err(Error::configuration(
                    "dpop_required cannot be true when dpop_enabled is false",
                ));
            }
            (None, _, Some(true)) => DpopMode::Required,
            (None, Some(false), _) => DpopMode::Disabled,
            (None, _, _) => DpopMode::Allowed,
        };

        let dpop_algorithms = dedup(
            self.dpop_algorithms
                .unwrap_or_else(|| vec![Algorithm::ES256]),
        );
        if dpop_algorithms.is_empty() {
            return Err(Error::configuration("dpop_algorithms cannot be empty"));
        }
        let algorithms = dedup(self.algorithms.unwrap_or_else(|| vec![Algorithm::RS256]));
        if algorithms.is_empty() {
            return Err(Error::configuration("algorithms cannot be empty"));
        }

        let mut root_certificates = Vec::new();
        for pem in &self.root_pems {
            let certs = reqwest::Certificate::from_pem_bundle(pem)
                .map_err(|e| Error::configuration(format!("Invalid root CA PEM: {e}")))?;
            if certs.is_empty() {
                return Err(Error::configuration(
                    "Invalid root CA PEM: no certificate found",
                ));
            }
            root_certificates.extend(certs);
        }
        if self.only_given_roots && root_certificates.is_empty() {
            return Err(Error::configuration(
                "trust_only_given_roots needs at least one root_ca_pem",
            ));
        }
        if self.http_client.is_some() && !root_certificates.is_empty() {
            return Err(Error::configuration(
                "root_ca_pem cannot be combined with a caller-supplied http_client; configure the roots on that client",
            ));
        }

        let organization = match (self.organizations.is_empty(), self.organization_resolver) {
            (true, None) => None,
            (false, Some(_)) => {
                return Err(Error::configuration(
                    "organization and organization_resolver cannot be combined",
                ));
            }
            (true, Some(resolver)) => Some(OrganizationPolicy::Resolver(resolver)),
            (false, None) => Some(OrganizationPolicy::Fixed(
                self.organizations
                    .iter()
                    .map(|o| Organization::parse(o))
                    .collect::<Option<Vec<_>>>()
                    .ok_or_else(|| {
                        Error::configuration("organization must be a non-empty string")
                    })?,
            )),
        };

        let static_jwks = if self.static_keys.is_empty() {
            None
        } else {
            if matches!(domains, DomainsMode::Resolver(_)) {
                return Err(Error::configuration(
                    "static keys need 'domain' or a 'domains' list, not a resolver",
                ));
            }
            Some(collect_jwks(&self.static_keys, &algorithms).map_err(Error::configuration)?)
        };

        let positive = |d: Option<Duration>, default: u64, name: &str| -> Result<Duration> {
            let d = d.unwrap_or(Duration::from_secs(default));
            if d.is_zero() {
                return Err(Error::configuration(format!(
                    "{name} must be greater than zero"
                )));
            }
            Ok(d)
        };

        Ok(ApiClientOptions {
            domain,
            domains,
            audiences,
            cache_ttl: self.cache_ttl.unwrap_or(Duration::from_secs(600)),
            cache_max_entries,
            cache_adapter: self.cache_adapter,
            dpop_mode,
            dpop_iat_leeway: self.dpop_iat_leeway.unwrap_or(Duration::from_secs(30)),
            dpop_iat_offset: self.dpop_iat_offset.unwrap_or(Duration::from_secs(300)),
            dpop_algorithms,
            replay_store: self.replay_store,
            replay_protection: self.replay_protection.unwrap_or(true),
            dpop_nonce: self.dpop_nonce,
            client_id,
            client_auth,
            token_endpoint_timeout: positive(
                self.token_endpoint_timeout,
                10,
                "token_endpoint_timeout",
            )?,
            http_timeout: positive(self.http_timeout, 5, "http_timeout")?,
            root_certificates,
            http_client: self.http_client,
            clock_leeway: self.clock_leeway.unwrap_or_default(),
            algorithms,
            stale_if_error: self.stale_if_error.unwrap_or(Duration::from_secs(3600)),
            verified_token_cache: self.verified_token_cache.unwrap_or(true),
            verified_token_cache_size: self.verified_token_cache_size.unwrap_or(10_000),
            observe: Observe::new(self.observer),
            organization,
            static_jwks,
            certificate_binding: self.certificate_binding.unwrap_or_default(),
            decryption_key,
            accept_unencrypted: self.accept_unencrypted_access_tokens.unwrap_or(false),
            only_given_roots: self.only_given_roots,
            token_locations: self
                .token_locations
                .filter(|l| *l != TokenLocations::new())
                .map(TokenLocations::validate)
                .transpose()?,
            jwks_refresh_cooldown: self
                .jwks_refresh_cooldown
                .unwrap_or(Duration::from_secs(30)),
        })
    }
}

fn dedup(mut algs: Vec<Algorithm>) -> Vec<Algorithm> {
    let mut seen = Vec::with_capacity(algs.len());
    algs.retain(|a| {
        let fresh = !seen.contains(a);
        seen.push(*a);
        fresh
    });
    algs
}
