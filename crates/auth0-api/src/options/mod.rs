//! [`ApiClientOptions`] and its builder: every setting, validated once in
//! [`ApiClientOptionsBuilder::build`].
//!
//! Defaults follow auth0-api-python: cache TTL 600 s and 100 entries, DPoP allowed, proof `iat`
//! leeway 30 s and offset 300 s, token-endpoint timeout 10 s. Added here: a 5 s timeout for
//! discovery and JWKS, a clock leeway for `exp`/`nbf` (default 0: the token's issuer decides its
//! lifetime, and a leeway only ever widens it), the allowed access-token algorithms (default
//! `RS256`, Auth0's; `none` and `HS*` cannot be expressed), DPoP replay protection (on) and
//! optional server nonces.
//!
//! ```
//! use auth0_api::{ApiClientOptions, DpopMode};
//! let options = ApiClientOptions::builder()
//!     .domain("your-tenant.auth0.com")
//!     .audience("https://api.example.com")
//!     .dpop_mode(DpopMode::Required)
//!     .build()?;
//! assert_eq!(options.dpop_mode(), DpopMode::Required);
//! # Ok::<(), auth0_api::Error>(())
//! ```

use std::sync::Arc;
use std::time::Duration;

use crate::domains::DomainsMode;
use crate::dpop::nonce::NonceConfig;
use crate::dpop::replay::ReplayStore;
use crate::fetch::cache::CacheAdapter;
use crate::observe::Observe;
use crate::organization::OrganizationPolicy;
pub use crate::settings::{Algorithm, DpopMode};
use crate::token_location::CheckedLocations;

mod builder;
use crate::dpop::DpopSettings;
use crate::exchange::{ClientAuth, ExchangeSettings};
use crate::verify::VerifySettings;
pub use builder::ApiClientOptionsBuilder;

/// Validated settings of an [`ApiClient`](crate::ApiClient). Build with [`ApiClientOptions::builder`].
#[derive(Clone)]
#[non_exhaustive]
pub struct ApiClientOptions {
    pub(crate) domain: Option<String>,
    pub(crate) domains: DomainsMode,
    pub(crate) audiences: Vec<String>,
    pub(crate) cache_ttl: Duration,
    pub(crate) cache_max_entries: usize,
    pub(crate) cache_adapter: Option<Arc<dyn CacheAdapter>>,
    pub(crate) dpop_mode: DpopMode,
    pub(crate) dpop_iat_leeway: Duration,
    pub(crate) dpop_iat_offset: Duration,
    pub(crate) dpop_algorithms: Vec<Algorithm>,
    pub(crate) replay_store: Option<Arc<dyn ReplayStore>>,
    pub(crate) replay_protection: bool,
    pub(crate) dpop_nonce: Option<NonceConfig>,
    pub(crate) client_id: Option<String>,
    pub(crate) client_auth: Option<ClientAuth>,
    pub(crate) token_endpoint_timeout: Duration,
    pub(crate) http_timeout: Duration,
    pub(crate) root_certificates: Vec<reqwest::Certificate>,
    pub(crate) http_client: Option<reqwest::Client>,
    pub(crate) clock_leeway: Duration,
    pub(crate) algorithms: Vec<Algorithm>,
    pub(crate) jwks_refresh_cooldown: Duration,
    pub(crate) stale_if_error: Duration,
    pub(crate) verified_token_cache: bool,
    pub(crate) verified_token_cache_size: usize,
    pub(crate) observe: Observe,
    pub(crate) organization: Option<OrganizationPolicy>,
    /// Keys given in the options (checked), used instead of discovery and a fetched JWKS.
    pub(crate) static_jwks: Option<serde_json::Map<String, serde_json::Value>>,
    /// Where else a token may come from (none by default).
    pub(crate) token_locations: Option<CheckedLocations>,
    /// Trust only `root_certificates`, not the system roots.
    pub(crate) only_given_roots: bool,
}

debug_fields!(ApiClientOptions, |this| {
    domain: this.domain,
    domains: this.domains,
    audiences: this.audiences,
    cache_ttl: this.cache_ttl,
    cache_max_entries: this.cache_max_entries,
    dpop_mode: this.dpop_mode,
    dpop_algorithms: this.dpop_algorithms,
    client_id: this.client_id,
    client_auth: this.client_auth,
    algorithms: this.algorithms,
    observer: this.observe,
    organization: this.organization,
    static_keys: this.static_jwks.is_some(),
    token_locations: this.token_locations,
}, non_exhaustive);

impl ApiClientOptions {
    /// What the access-token verifier reads.
    pub(crate) fn verify_settings(&self) -> VerifySettings {
        VerifySettings {
            domain: self.domain.clone(),
            domains: self.domains.clone(),
            audiences: self.audiences.clone(),
            algorithms: self.algorithms.clone(),
            leeway: self.clock_leeway,
            jwks_refresh_cooldown: self.jwks_refresh_cooldown,
            token_cache_size: self
                .verified_token_cache
                .then_some(self.verified_token_cache_size),
            observe: self.observe.clone(),
            static_jwks: self.static_jwks.clone(),
        }
    }

    /// What the DPoP verifier reads.
    pub(crate) fn dpop_settings(&self) -> DpopSettings {
        DpopSettings {
            algorithms: self.dpop_algorithms.clone(),
            iat_leeway: self.dpop_iat_leeway,
            iat_offset: self.dpop_iat_offset,
            replay_protection: self.replay_protection,
            replay_store: self.replay_store.clone(),
            nonce: self.dpop_nonce.clone(),
        }
    }

    /// What token exchanges read.
    pub(crate) fn exchange_settings(&self) -> ExchangeSettings {
        ExchangeSettings {
            domain: self.domain.clone(),
            client_id: self.client_id.clone(),
            client_auth: self.client_auth.clone(),
            timeout: self.token_endpoint_timeout,
        }
    }

    /// Starts a builder with the defaults.
    pub fn builder() -> ApiClientOptionsBuilder {
        ApiClientOptionsBuilder::default()
    }

    /// The DPoP mode.
    pub fn dpop_mode(&self) -> DpopMode {
        self.dpop_mode
    }

    /// The accepted audiences.
    pub fn audiences(&self) -> &[String] {
        &self.audiences
    }

    /// The configured domain (single-domain mode and token exchange), normalised to
    /// `https://host/`.
    pub fn domain(&self) -> Option<&str> {
        self.domain.as_deref()
    }

    /// The accepted DPoP proof algorithms.
    pub fn dpop_algorithms(&self) -> &[Algorithm] {
        &self.dpop_algorithms
    }

    /// The accepted access-token algorithms.
    pub fn algorithms(&self) -> &[Algorithm] {
        &self.algorithms
    }
}

#[cfg(test)]
#[allow(clippy::unwrap_used)]
mod tests {
    use super::*;

    fn base() -> ApiClientOptionsBuilder {
        ApiClientOptions::builder().audience("aud")
    }

    fn err(b: ApiClientOptionsBuilder) -> String {
        let e = b.build().unwrap_err();
        assert_eq!(e.error_code(), "invalid_configuration");
        assert_eq!(e.status_code(), 500);
        e.description().to_owned()
    }

    #[test]
    fn refuses_what_the_reference_refuses() {
        assert!(
            err(ApiClientOptions::builder().domain("a.com")).contains("'audience' is required")
        );
        assert!(err(base()).contains("Must provide either 'domain' or 'domains'"));
        assert!(err(base().domain("  ")).contains("Must provide either"));
        assert_eq!(
            err(base().domains(Vec::<String>::new())),
            "domains list cannot be empty"
        );
        assert!(err(base().domains(["a.com", " "])).contains("non-empty strings"));
        assert!(
            err(base().domains(["a.com"]).client_id("cid"))
                .contains("'domain' parameter is required when 'client_id'")
        );
        assert!(err(base().domain("a.com").cache_max_entries(1)).contains("greater than 1"));
        assert!(err(base().domain("a.com").cache_max_entries(0)).contains("greater than 1"));
        assert!(err(base().domain("http://a.com")).contains("https required"));
        assert!(
            err(base()
                .domain("a.com")
                .dpop_enabled(false)
                .dpop_required(true))
            .contains("dpop_required")
        );
        assert!(err(base().domain("a.com").root_ca_pem("nope")).contains("root CA"));
        assert!(err(base().domain("a.com").audience("")).contains("audience"));
        assert!(err(base().domain("a.com").algorithms([])).contains("algorithms"));
        assert!(err(base().domain("a.com").client_secret("s")).contains("client_id"));
    }

    #[test]
    fn the_document_caches_have_room_for_every_listed_issuer() {
        let list = |n: usize| {
            (0..n)
                .map(|i| format!("tenant{i}.example.com"))
                .collect::<Vec<_>>()
        };
        let o = base().domains(list(200)).build().unwrap();
        assert_eq!(o.cache_max_entries, 200);
        let o = base().domains(list(50)).build().unwrap();
        assert_eq!(o.cache_max_entries, 100);
        let o = base()
            .domains(list(200))
            .cache_max_entries(50)
            .build()
            .unwrap();
        assert_eq!(o.cache_max_entries, 50, "an explicit size is kept");
    }

    #[test]
    fn defaults_and_normalisation() {
        let o = base().domain("TENANT.auth0.com").build().unwrap();
        assert_eq!(o.domain(), Some("https://tenant.auth0.com/"));
        assert_eq!(o.dpop_mode(), DpopMode::Allowed);
        assert_eq!(o.cache_ttl, Duration::from_secs(600));
        assert_eq!(o.cache_max_entries, 100);
        assert_eq!(o.dpop_iat_leeway, Duration::from_secs(30));
        assert_eq!(o.dpop_iat_offset, Duration::from_secs(300));
        assert_eq!(o.token_endpoint_timeout, Duration::from_secs(10));
        assert_eq!(o.http_timeout, Duration::from_secs(5));
        assert_eq!(o.algorithms(), &[Algorithm::RS256]);
        assert_eq!(o.dpop_algorithms(), &[Algorithm::ES256]);
        let o = base().domains(["a.com", "https://B.com/"]).build().unwrap();
        assert!(
            matches!(&o.domains, DomainsMode::List(l) if l == &["https://a.com/", "https://b.com/"])
        );
        let o = base().domain("a.com").dpop_enabled(false).build().unwrap();
        assert_eq!(o.dpop_mode(), DpopMode::Disabled);
        let o = base().domain("a.com").dpop_required(true).build().unwrap();
        assert_eq!(o.dpop_mode(), DpopMode::Required);
    }

    #[test]
    fn algorithm_names_round_trip_and_exclude_insecure_ones() {
        for a in Algorithm::ALL {
            assert_eq!(Algorithm::from_name(a.name()), Some(a));
        }
        for bad in ["none", "None", "HS256", "HS384", "HS512", "rs256", ""] {
            assert_eq!(Algorithm::from_name(bad), None);
        }
    }
}
