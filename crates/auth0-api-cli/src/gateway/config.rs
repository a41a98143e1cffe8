//! The gateway's one configuration: a TOML file, every key also a flag and an environment
//! variable (flag > environment > file > default), checked completely at start.
//!
//! A bad value fails the start with one line naming the key and the reason
//! ([`ConfigError`]); nothing is left to fail at the first request: the `ApiClient` options are
//! built, the PEM files read, the routes, resources, proxies and URLs parsed here.

use std::fmt;
use std::net::SocketAddr;
use std::path::{Path, PathBuf};
use std::time::Duration;

use clap::Args;
use serde::Deserialize;

use super::routes::{Route, RouteTable};
use super::trust::TrustedProxies;

/// A configuration error: the key and why, on one line.
#[derive(Debug, Clone, PartialEq, Eq)]
pub(crate) struct ConfigError {
    /// The key (`audiences`, `routes[1].prefix`, ...).
    pub(crate) key: String,
    /// Why it is refused.
    pub(crate) reason: String,
}

impl ConfigError {
    pub(crate) fn new(key: impl Into<String>, reason: impl fmt::Display) -> Self {
        let reason = reason.to_string().replace(['\n', '\r'], " ");
        Self {
            key: key.into(),
            reason,
        }
    }
}

impl fmt::Display for ConfigError {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        write!(
            f,
            "invalid gateway configuration: `{}`: {}",
            self.key, self.reason
        )
    }
}

impl std::error::Error for ConfigError {}

/// Declares [`Settings`] (every key optional, as clap arguments and TOML keys at once) and its
/// overlay (`self` over `file`, key by key).
macro_rules! settings {
    ($( $(#[$attr:meta])* $field:ident : $ty:ty, )*) => {
        /// Every gateway key; each is a TOML key, a flag and an environment variable.
        #[derive(Default, Clone, Args, Deserialize)]
        #[serde(deny_unknown_fields)]
        pub(crate) struct Settings {
            $( $(#[$attr])* pub(crate) $field: Option<$ty>, )*
        }

        /// Names the keys that are set, never their values (secrets, Redis passwords).
        impl fmt::Debug for Settings {
            fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
                let mut set = Vec::new();
                $( if self.$field.is_some() { set.push(stringify!($field)); } )*
                f.debug_struct("Settings").field("set", &set).finish_non_exhaustive()
            }
        }

        impl Settings {
            /// `self` (flags and environment) over `file`.
            fn over(self, file: Self) -> Self {
                Self { $( $field: self.$field.or(file.$field), )* }
            }
        }
    };
}

settings! {
    /// Accepted tenant domains (host[:port]); several for custom domains.
    #[arg(long = "domain", env = "AUTH0_GATEWAY_DOMAINS", value_delimiter = ',')]
    domains: Vec<String>,
    /// Accepted audiences (`aud` must contain one).
    #[arg(long = "audience", env = "AUTH0_GATEWAY_AUDIENCES", value_delimiter = ',')]
    audiences: Vec<String>,
    /// Reverse-proxy mode: the upstream, `http://HOST:PORT`.
    #[arg(long, env = "AUTH0_GATEWAY_UPSTREAM")]
    upstream: String,
    /// Forward-auth mode (nginx auth_request, Traefik forwardAuth, Envoy ext_authz HTTP).
    #[arg(long, env = "AUTH0_GATEWAY_FORWARD_AUTH", num_args = 0..=1, default_missing_value = "true")]
    forward_auth: bool,
    /// Address to listen on (default 127.0.0.1:8080).
    #[arg(long, env = "AUTH0_GATEWAY_LISTEN")]
    listen: SocketAddr,
    /// Address of the metrics, /healthz and /readyz listener (default 127.0.0.1:9464).
    #[arg(long, env = "AUTH0_GATEWAY_METRICS_LISTEN")]
    metrics_listen: SocketAddr,
    /// The URL clients use to reach the API (for DPoP `htu`), e.g. `https://api.example.com`.
    #[arg(long, env = "AUTH0_GATEWAY_PUBLIC_URL")]
    public_url: String,
    /// Peers (IPs or CIDRs) whose forwarding headers are believed.
    #[arg(long = "trusted-proxy", env = "AUTH0_GATEWAY_TRUSTED_PROXIES", value_delimiter = ',')]
    trusted_proxies: Vec<String>,
    /// DPoP mode: allowed, required or disabled (default allowed).
    #[arg(long, env = "AUTH0_GATEWAY_DPOP")]
    dpop: String,
    /// Accepted DPoP proof algorithms (default ES256).
    #[arg(long = "dpop-algorithm", env = "AUTH0_GATEWAY_DPOP_ALGORITHMS", value_delimiter = ',')]
    dpop_algorithms: Vec<String>,
    /// Accepted access-token algorithms (default RS256).
    #[arg(long = "algorithm", env = "AUTH0_GATEWAY_ALGORITHMS", value_delimiter = ',')]
    algorithms: Vec<String>,
    /// Require server-issued DPoP nonces (RFC 9449 section 8).
    #[arg(long, env = "AUTH0_GATEWAY_DPOP_NONCE", num_args = 0..=1, default_missing_value = "true")]
    dpop_nonce: bool,
    /// Shared nonce secret (at least 32 bytes) so that a fleet accepts each other's nonces.
    #[arg(long, env = "AUTH0_GATEWAY_DPOP_NONCE_SECRET", hide_env_values = true)]
    dpop_nonce_secret: String,
    /// Nonce lifetime in seconds.
    #[arg(long, env = "AUTH0_GATEWAY_DPOP_NONCE_LIFETIME_SECS")]
    dpop_nonce_lifetime_secs: u64,
    /// How far in the future a proof's `iat` may be, in seconds (default 30).
    #[arg(long, env = "AUTH0_GATEWAY_DPOP_IAT_LEEWAY_SECS")]
    dpop_iat_leeway_secs: u64,
    /// How old a proof's `iat` may be, in seconds (default 300).
    #[arg(long, env = "AUTH0_GATEWAY_DPOP_IAT_OFFSET_SECS")]
    dpop_iat_offset_secs: u64,
    /// DPoP replay store: `memory` (default) or `redis`.
    #[arg(long, env = "AUTH0_GATEWAY_REPLAY_STORE")]
    replay_store: String,
    /// Redis URL for the `redis` replay store.
    #[arg(long, env = "AUTH0_GATEWAY_REDIS_URL", hide_env_values = true)]
    redis_url: String,
    /// Accept proofs (per instance) while Redis is unreachable instead of answering 503.
    #[arg(long, env = "AUTH0_GATEWAY_REDIS_FAIL_OPEN", num_args = 0..=1, default_missing_value = "true")]
    redis_fail_open: bool,
    /// Claims every token must carry.
    #[arg(long = "required-claim", env = "AUTH0_GATEWAY_REQUIRED_CLAIMS", value_delimiter = ',')]
    required_claims: Vec<String>,
    /// Clock skew tolerated for `exp` and `nbf`, in seconds (default 0).
    #[arg(long, env = "AUTH0_GATEWAY_LEEWAY_SECS")]
    leeway_secs: u64,
    /// Timeout of discovery and JWKS requests, in seconds (default 5).
    #[arg(long, env = "AUTH0_GATEWAY_HTTP_TIMEOUT_SECS")]
    http_timeout_secs: u64,
    /// Longest wait for the upstream's response headers, in seconds (default 30).
    #[arg(long, env = "AUTH0_GATEWAY_UPSTREAM_TIMEOUT_SECS")]
    upstream_timeout_secs: u64,
    /// How long in-flight requests may run after SIGTERM, in seconds (default 10).
    #[arg(long, env = "AUTH0_GATEWAY_SHUTDOWN_GRACE_SECS")]
    shutdown_grace_secs: u64,
    /// Longest time a connection may take to send a request's head (request line and
    /// headers), and longest idle time of a keep-alive connection, in seconds (default 10; 1 to
    /// 3600). Both listeners.
    #[arg(long, env = "AUTH0_GATEWAY_HEADER_READ_TIMEOUT_SECS")]
    header_read_timeout_secs: u64,
    /// Most connections served at once per listener; more wait in the accept queue (default
    /// 10000; 1 to 1000000).
    #[arg(long, env = "AUTH0_GATEWAY_MAX_CONNECTIONS")]
    max_connections: u32,
    /// Extra trusted root CAs (PEM files) for discovery and JWKS.
    #[arg(long = "ca-cert", env = "AUTH0_GATEWAY_CA_CERTS", value_delimiter = ',')]
    ca_certs: Vec<PathBuf>,
    /// Forward `Authorization` and `DPoP` to the upstream (default: dropped).
    #[arg(long, env = "AUTH0_GATEWAY_PASS_CREDENTIALS", num_args = 0..=1, default_missing_value = "true")]
    pass_credentials: bool,
    /// Path prefixes served without authentication (incoming `X-Auth0-*` still stripped).
    #[arg(long = "public-path", env = "AUTH0_GATEWAY_PUBLIC_PATHS", value_delimiter = ',')]
    public_paths: Vec<String>,
    /// Routes: TOML inline tables `{prefix = "/admin", scopes = ["admin"]}`, `;`-separated.
    #[arg(long = "route", env = "AUTH0_GATEWAY_ROUTES", value_delimiter = ';', value_parser = parse_inline::<Route>)]
    routes: Vec<Route>,
    /// RFC 9728 protected resources: `{resource = "https://api.example.com/mcp"}`, `;`-separated.
    #[arg(long = "resource", env = "AUTH0_GATEWAY_RESOURCES", value_delimiter = ';', value_parser = parse_inline::<ResourceSettings>)]
    resources: Vec<ResourceSettings>,
    /// Keep verified tokens' claims until `exp` so a token seen again skips the signature check
    /// (default true).
    #[arg(long, env = "AUTH0_GATEWAY_VERIFIED_TOKEN_CACHE", num_args = 0..=1, default_missing_value = "true")]
    verified_token_cache: bool,
    /// Upper bound of the discovery/JWKS cache lifetime, in seconds (default 600).
    #[arg(long, env = "AUTH0_GATEWAY_CACHE_TTL_SECS")]
    cache_ttl_secs: u64,
    /// How long the last good discovery/JWKS keep serving while the tenant fails, in seconds
    /// (default 3600).
    #[arg(long, env = "AUTH0_GATEWAY_STALE_IF_ERROR_SECS")]
    stale_if_error_secs: u64,
    /// Accepted Auth0 Organizations (IDs `org_...` or names); tokens must carry one.
    #[arg(long = "organization", env = "AUTH0_GATEWAY_ORGANIZATIONS", value_delimiter = ',')]
    organizations: Vec<String>,
    /// The header a TLS-terminating proxy puts the client certificate in (PEM or URL-encoded
    /// PEM, e.g. nginx `$ssl_client_escaped_cert`), read from trusted proxies only (RFC 8705).
    #[arg(long, env = "AUTH0_GATEWAY_CLIENT_CERTIFICATE_HEADER")]
    client_certificate_header: String,
    /// Enforce certificate-bound tokens (RFC 8705 section 3): a token with `cnf.x5t#S256`
    /// needs the client certificate it names (default true; tokens without the member are
    /// unaffected). `false` accepts bound tokens without their certificate, as
    /// auth0-api-python.
    #[arg(long, env = "AUTH0_GATEWAY_CERTIFICATE_BOUND_TOKENS", num_args = 0..=1, default_missing_value = "true")]
    certificate_bound_tokens: bool,
    /// The API's RSA private key (PEM file) for encrypted access tokens (JWE, RSA-OAEP-256 +
    /// A256GCM); once set, only encrypted tokens are accepted.
    #[arg(long, env = "AUTH0_GATEWAY_ACCESS_TOKEN_DECRYPTION_KEY")]
    access_token_decryption_key: PathBuf,
    /// With a decryption key, also accept plain tokens (a migration window).
    #[arg(long, env = "AUTH0_GATEWAY_ACCEPT_UNENCRYPTED_ACCESS_TOKENS", num_args = 0..=1, default_missing_value = "true")]
    accept_unencrypted_access_tokens: bool,
    /// Log format: `json` (default) or `text`.
    #[arg(long, env = "AUTH0_GATEWAY_LOG_FORMAT")]
    log_format: String,
}

/// One RFC 9728 protected resource.
#[derive(Debug, Clone, Deserialize)]
#[serde(deny_unknown_fields)]
pub(crate) struct ResourceSettings {
    /// The resource identifier (the URL clients call), e.g. `https://api.example.com/mcp`.
    pub(crate) resource: String,
    /// Issuers (default: `https://<domain>/` of each configured domain).
    #[serde(default)]
    pub(crate) authorization_servers: Vec<String>,
    #[serde(default)]
    pub(crate) scopes_supported: Vec<String>,
    pub(crate) resource_name: Option<String>,
    pub(crate) resource_documentation: Option<String>,
}

/// A value given as a TOML inline table on the command line or in the environment.
fn parse_inline<T: serde::de::DeserializeOwned>(text: &str) -> Result<T, String> {
    #[derive(Deserialize)]
    struct Wrap<T> {
        v: T,
    }
    toml::from_str::<Wrap<T>>(&format!("v = {text}"))
        .map(|w| w.v)
        .map_err(|e| e.message().to_owned())
}

/// How the gateway answers: proxy to an upstream, or forward-auth decisions.
#[derive(Debug, Clone, PartialEq, Eq)]
pub(crate) enum Mode {
    /// Reverse proxy to this base (`http://host:port`, no trailing slash).
    Proxy(http::Uri),
    /// Forward-auth endpoint.
    ForwardAuth,
}

/// DPoP replay store choice (no `Debug`: the Redis URL may hold a password).
#[derive(Clone, PartialEq, Eq)]
pub(crate) enum ReplayChoice {
    Memory,
    Redis { url: String, fail_open: bool },
}

/// The checked configuration (everything but the `ApiClient`, built from it by `mod.rs`).
pub(crate) struct Config {
    pub(crate) mode: Mode,
    pub(crate) listen: SocketAddr,
    pub(crate) metrics_listen: SocketAddr,
    pub(crate) public_url: Option<String>,
    pub(crate) trusted: TrustedProxies,
    /// Where a trusted proxy puts the client certificate.
    pub(crate) client_certificate_header: Option<http::HeaderName>,
    pub(crate) pass_credentials: bool,
    pub(crate) required_claims: Vec<String>,
    pub(crate) routes: RouteTable,
    pub(crate) resources: Vec<auth0_api_axum::ProtectedResourceMetadata>,
    pub(crate) upstream_timeout: Duration,
    pub(crate) shutdown_grace: Duration,
    /// The listeners' header-read timeout and connection cap.
    pub(crate) limits: crate::server::Limits,
    pub(crate) replay: ReplayChoice,
    pub(crate) json_logs: bool,
    /// The library options (checked by `build()`), minus the replay store, the observer.
    pub(crate) options: OptionsPlan,
}

impl fmt::Debug for Config {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.debug_struct("Config")
            .field("mode", &self.mode)
            .field("listen", &self.listen)
            .field("metrics_listen", &self.metrics_listen)
            .field("routes", &self.routes)
            .finish_non_exhaustive()
    }
}

/// What the `ApiClientOptions` are built from (kept so the builder can get the replay store
/// and the observer, which need the runtime, before `build()`). No `Debug`: it holds the
/// nonce secret.
#[derive(Clone)]
pub(crate) struct OptionsPlan {
    pub(crate) domains: Vec<String>,
    pub(crate) audiences: Vec<String>,
    pub(crate) dpop: auth0_api::DpopMode,
    pub(crate) dpop_algorithms: Option<Vec<auth0_api::Algorithm>>,
    pub(crate) algorithms: Option<Vec<auth0_api::Algorithm>>,
    pub(crate) nonce: Option<(Option<Vec<u8>>, Option<Duration>)>,
    pub(crate) dpop_iat_leeway: Option<Duration>,
    pub(crate) dpop_iat_offset: Option<Duration>,
    pub(crate) leeway: Option<Duration>,
    pub(crate) http_timeout: Option<Duration>,
    pub(crate) ca_pems: Vec<Vec<u8>>,
    pub(crate) verified_token_cache: Option<bool>,
    pub(crate) cache_ttl: Option<Duration>,
    pub(crate) stale_if_error: Option<Duration>,
    pub(crate) organizations: Vec<String>,
    pub(crate) certificate_bound_tokens: bool,
    pub(crate) decryption_key_pem: Option<Vec<u8>>,
    pub(crate) accept_unencrypted_access_tokens: Option<bool>,
}

impl OptionsPlan {
    /// The options builder with every setting of the plan.
    pub(crate) fn builder(&self) -> Result<auth0_api::ApiClientOptionsBuilder, ConfigError> {
        let mut b = auth0_api::ApiClientOptions::builder()
            .audiences(self.audiences.iter().cloned())
            .dpop_mode(self.dpop);
        b = match self.domains.as_slice() {
            [one] => b.domain(one.clone()),
            many => b.domains(many.iter().cloned()),
        };
        if let Some(algs) = &self.dpop_algorithms {
            b = b.dpop_algorithms(algs.iter().copied());
        }
        if let Some(algs) = &self.algorithms {
            b = b.algorithms(algs.iter().copied());
        }
        if let Some((secret, lifetime)) = &self.nonce {
            let mut nonce = match secret {
                Some(s) => auth0_api::dpop::NonceConfig::with_secret(s),
                None => auth0_api::dpop::NonceConfig::new(),
            }
            .map_err(|e| ConfigError::new("dpop_nonce_secret", e.description()))?;
            if let Some(l) = lifetime {
                nonce = nonce.lifetime(*l);
            }
            b = b.dpop_nonce(nonce);
        }
        if let Some(d) = self.dpop_iat_leeway {
            b = b.dpop_iat_leeway(d);
        }
        if let Some(d) = self.dpop_iat_offset {
            b = b.dpop_iat_offset(d);
        }
        if let Some(d) = self.leeway {
            b = b.clock_leeway(d);
        }
        if let Some(d) = self.http_timeout {
            b = b.http_timeout(d);
        }
        for pem in &self.ca_pems {
            b = b.root_ca_pem(pem);
        }
        if let Some(on) = self.verified_token_cache {
            b = b.verified_token_cache(on);
        }
        if let Some(d) = self.cache_ttl {
            b = b.cache_ttl(d);
        }
        if let Some(d) = self.stale_if_error {
            b = b.stale_if_error(d);
        }
        for org in &self.organizations {
            b = b.organization(org.clone());
        }
        b = b.certificate_binding(if self.certificate_bound_tokens {
            auth0_api::mtls::CertificateBinding::Enforced
        } else {
            auth0_api::mtls::CertificateBinding::Ignored
        });
        if let Some(pem) = &self.decryption_key_pem {
            b = b.access_token_decryption_key_pem(pem);
        }
        if let Some(accept) = self.accept_unencrypted_access_tokens {
            b = b.accept_unencrypted_access_tokens(accept);
        }
        Ok(b)
    }
}

/// The key a TOML error is about: the text before `=` on the line of its span.
fn toml_key(source: &str, err: &toml::de::Error) -> (String, usize) {
    let Some(span) = err.span() else {
        return ("(file)".to_owned(), 0);
    };
    let start = span.start.min(source.len());
    let line_no = source[..start].matches('\n').count() + 1;
    let line_start = source[..start].rfind('\n').map_or(0, |i| i + 1);
    let line = source[line_start..].lines().next().unwrap_or("");
    let key = match line.split_once('=') {
        Some((k, _)) => k.trim().trim_matches('"').to_owned(),
        None => line.trim().trim_matches(['[', ']']).to_owned(),
    };
    (if key.is_empty() { "(file)".into() } else { key }, line_no)
}

/// Reads `path` as gateway settings.
fn read_file(path: &Path) -> Result<Settings, ConfigError> {
    let text = std::fs::read_to_string(path)
        .map_err(|e| ConfigError::new("config", format!("cannot read {}: {e}", path.display())))?;
    toml::from_str(&text).map_err(|e| {
        let (key, line) = toml_key(&text, &e);
        ConfigError::new(
            key,
            format!("{} (line {line} of {})", e.message(), path.display()),
        )
    })
}

fn secs(d: Option<u64>) -> Option<Duration> {
    d.map(Duration::from_secs)
}

fn algorithms(
    key: &str,
    names: Option<Vec<String>>,
) -> Result<Option<Vec<auth0_api::Algorithm>>, ConfigError> {
    names
        .map(|names| {
            names
                .iter()
                .map(|n| {
                    auth0_api::Algorithm::from_name(n)
                        .ok_or_else(|| ConfigError::new(key, format!("unknown algorithm {n:?}")))
                })
                .collect()
        })
        .transpose()
}

/// Parses a DPoP mode name.
pub(crate) fn dpop_mode(name: &str) -> Option<auth0_api::DpopMode> {
    match name {
        "allowed" => Some(auth0_api::DpopMode::Allowed),
        "required" => Some(auth0_api::DpopMode::Required),
        "disabled" => Some(auth0_api::DpopMode::Disabled),
        _ => None,
    }
}

/// Flags and environment (`cli`) over the file at `config`, checked.
pub(crate) fn load(cli: Settings, config: Option<&Path>) -> Result<Config, ConfigError> {
    let file = match config {
        Some(path) => read_file(path)?,
        None => Settings::default(),
    };
    check(cli.over(file))
}

/// Checks every key of `s`.
pub(crate) fn check(s: Settings) -> Result<Config, ConfigError> {
    let domains = s.domains.unwrap_or_default();
    if domains.is_empty() {
        return Err(ConfigError::new(
            "domains",
            "at least one domain is required",
        ));
    }
    for d in &domains {
        auth0_api::domains::normalize_domain(d)
            .map_err(|e| ConfigError::new("domains", format!("{d:?}: {e}")))?;
    }
    let audiences = s.audiences.unwrap_or_default();
    if audiences.is_empty() || audiences.iter().any(String::is_empty) {
        return Err(ConfigError::new(
            "audiences",
            "at least one non-empty audience is required",
        ));
    }
    let mode = match (s.upstream, s.forward_auth.unwrap_or(false)) {
        (Some(_), true) => {
            return Err(ConfigError::new(
                "upstream",
                "give either upstream or forward_auth, not both",
            ));
        }
        (None, false) => {
            return Err(ConfigError::new(
                "upstream",
                "give an upstream (reverse proxy) or forward_auth = true",
            ));
        }
        (None, true) => Mode::ForwardAuth,
        (Some(u), false) => Mode::Proxy(upstream_uri(&u)?),
    };
    let public_url = match s.public_url {
        Some(u) => match auth0_api_axum::UrlSource::public_url(&u) {
            Ok(auth0_api_axum::UrlSource::PublicUrl(base)) => Some(base),
            Ok(_) => None,
            Err(e) => return Err(ConfigError::new("public_url", e.description())),
        },
        None => None,
    };
    let trusted = TrustedProxies::parse(&s.trusted_proxies.unwrap_or_default())
        .map_err(|e| ConfigError::new("trusted_proxies", e))?;
    let dpop = match s.dpop.as_deref() {
        None => auth0_api::DpopMode::Allowed,
        Some(name) => dpop_mode(name).ok_or_else(|| {
            ConfigError::new(
                "dpop",
                format!("{name:?} is not allowed, required or disabled"),
            )
        })?,
    };
    let nonce_on = s.dpop_nonce.unwrap_or(false);
    if !nonce_on && (s.dpop_nonce_secret.is_some() || s.dpop_nonce_lifetime_secs.is_some()) {
        return Err(ConfigError::new(
            "dpop_nonce",
            "nonce settings given but dpop_nonce is off",
        ));
    }
    let nonce = nonce_on.then(|| {
        (
            s.dpop_nonce_secret.map(String::into_bytes),
            secs(s.dpop_nonce_lifetime_secs),
        )
    });
    let replay = match s.replay_store.as_deref().unwrap_or("memory") {
        "memory" => {
            if s.redis_url.is_some() {
                return Err(ConfigError::new(
                    "redis_url",
                    "set replay_store = \"redis\" to use Redis",
                ));
            }
            ReplayChoice::Memory
        }
        "redis" => ReplayChoice::Redis {
            url: s.redis_url.ok_or_else(|| {
                ConfigError::new("redis_url", "required with replay_store = \"redis\"")
            })?,
            fail_open: s.redis_fail_open.unwrap_or(false),
        },
        other => {
            return Err(ConfigError::new(
                "replay_store",
                format!("{other:?} is not memory or redis"),
            ));
        }
    };
    let mut ca_pems = Vec::new();
    for path in s.ca_certs.unwrap_or_default() {
        ca_pems.push(std::fs::read(&path).map_err(|e| {
            ConfigError::new("ca_certs", format!("cannot read {}: {e}", path.display()))
        })?);
    }
    let decryption_key_pem = match s.access_token_decryption_key {
        Some(path) => Some(std::fs::read(&path).map_err(|e| {
            ConfigError::new(
                "access_token_decryption_key",
                format!("cannot read {}: {e}", path.display()),
            )
        })?),
        None => None,
    };
    let client_certificate_header = s
        .client_certificate_header
        .map(|name| {
            http::HeaderName::from_bytes(name.as_bytes()).map_err(|_| {
                ConfigError::new(
                    "client_certificate_header",
                    format!("{name:?} is not a header name"),
                )
            })
        })
        .transpose()?;
    if client_certificate_header.is_some() && trusted.is_empty() {
        return Err(ConfigError::new(
            "client_certificate_header",
            "needs trusted_proxies: the header is believed from them only",
        ));
    }
    let options = OptionsPlan {
        domains: domains.clone(),
        audiences,
        dpop,
        dpop_algorithms: algorithms("dpop_algorithms", s.dpop_algorithms)?,
        algorithms: algorithms("algorithms", s.algorithms)?,
        nonce,
        dpop_iat_leeway: secs(s.dpop_iat_leeway_secs),
        dpop_iat_offset: secs(s.dpop_iat_offset_secs),
        leeway: secs(s.leeway_secs),
        http_timeout: secs(s.http_timeout_secs),
        ca_pems,
        verified_token_cache: s.verified_token_cache,
        cache_ttl: secs(s.cache_ttl_secs),
        stale_if_error: secs(s.stale_if_error_secs),
        organizations: s.organizations.unwrap_or_default(),
        certificate_bound_tokens: s.certificate_bound_tokens.unwrap_or(true),
        decryption_key_pem,
        accept_unencrypted_access_tokens: s.accept_unencrypted_access_tokens,
    };
    // Every library check now, with the key of what it is about where it can be told.
    options
        .builder()?
        .build()
        .map_err(|e| ConfigError::new(options_key(e.description()), e.description()))?;
    let required_claims = s.required_claims.unwrap_or_default();
    if required_claims.iter().any(String::is_empty) {
        return Err(ConfigError::new("required_claims", "a claim name is empty"));
    }
    let routes = RouteTable::new(
        s.routes.unwrap_or_default(),
        s.public_paths.unwrap_or_default(),
    )?;
    let resources = resources(s.resources.unwrap_or_default(), &domains)?;
    let limits = limits(s.header_read_timeout_secs, s.max_connections)?;
    let log_format = s.log_format.unwrap_or_else(|| "json".into());
    let json_logs = match log_format.as_str() {
        "json" => true,
        "text" => false,
        other => {
            return Err(ConfigError::new(
                "log_format",
                format!("{other:?} is not json or text"),
            ));
        }
    };
    Ok(Config {
        mode,
        listen: s
            .listen
            .unwrap_or_else(|| SocketAddr::from(([127, 0, 0, 1], 8080))),
        metrics_listen: s
            .metrics_listen
            .unwrap_or_else(|| SocketAddr::from(([127, 0, 0, 1], 9464))),
        public_url,
        trusted,
        client_certificate_header,
        pass_credentials: s.pass_credentials.unwrap_or(false),
        required_claims,
        routes,
        resources,
        upstream_timeout: secs(s.upstream_timeout_secs).unwrap_or(Duration::from_secs(30)),
        shutdown_grace: secs(s.shutdown_grace_secs).unwrap_or(Duration::from_secs(10)),
        limits,
        replay,
        json_logs,
        options,
    })
}

/// The listeners' bounds: the defaults of [`crate::server::Limits::DEFAULT`], each checked.
fn limits(
    header_read_timeout_secs: Option<u64>,
    max_connections: Option<u32>,
) -> Result<crate::server::Limits, ConfigError> {
    let default = crate::server::Limits::DEFAULT;
    let header_read_timeout = match header_read_timeout_secs {
        None => default.header_read_timeout,
        Some(n @ 1..=3600) => Duration::from_secs(n),
        Some(n) => {
            return Err(ConfigError::new(
                "header_read_timeout_secs",
                format!("{n} is not between 1 and 3600"),
            ));
        }
    };
    let max_connections = match max_connections {
        None => default.max_connections,
        Some(n @ 1..=crate::server::MAX_CONNECTIONS) => n,
        Some(n) => {
            return Err(ConfigError::new(
                "max_connections",
                format!(
                    "{n} is not between 1 and {}",
                    crate::server::MAX_CONNECTIONS
                ),
            ));
        }
    };
    Ok(crate::server::Limits {
        header_read_timeout,
        max_connections,
    })
}

/// The key a library configuration error names (its texts quote the reference's parameter).
fn options_key(description: &str) -> &'static str {
    const KEYS: [(&str, &str); 12] = [
        ("rganization", "organizations"),
        ("cache", "cache_ttl_secs"),
        ("dpop_iat", "dpop_iat_leeway_secs"),
        ("nonce", "dpop_nonce_secret"),
        ("dpop", "dpop_algorithms"),
        ("audience", "audiences"),
        ("domain", "domains"),
        ("algorithm", "algorithms"),
        ("decryption key", "access_token_decryption_key"),
        ("unencrypted", "accept_unencrypted_access_tokens"),
        ("PEM", "ca_certs"),
        ("certificate", "ca_certs"),
    ];
    KEYS.iter()
        .find(|(needle, _)| description.contains(needle))
        .map_or("options", |(_, key)| key)
}

/// `http://host:port[/]` as the upstream base.
fn upstream_uri(text: &str) -> Result<http::Uri, ConfigError> {
    let invalid = |why: &str| ConfigError::new("upstream", format!("{text:?}: {why}"));
    let uri: http::Uri = text.parse().map_err(|_| invalid("not a URL"))?;
    if uri.scheme_str() != Some("http") {
        return Err(invalid("the scheme must be http"));
    }
    if uri
        .authority()
        .is_none_or(|a| a.host().is_empty() || a.as_str().contains('@'))
    {
        return Err(invalid("a host (without user information) is required"));
    }
    if uri.path() != "/" && !uri.path().is_empty() || uri.query().is_some() {
        return Err(invalid("a path or query is not supported"));
    }
    Ok(uri)
}

/// The RFC 9728 documents, authorization servers defaulting to the configured domains.
fn resources(
    list: Vec<ResourceSettings>,
    domains: &[String],
) -> Result<Vec<auth0_api_axum::ProtectedResourceMetadata>, ConfigError> {
    let mut out: Vec<auth0_api_axum::ProtectedResourceMetadata> = Vec::new();
    for (i, r) in list.into_iter().enumerate() {
        let key = format!("resources[{i}].resource");
        let mut m = auth0_api_axum::ProtectedResourceMetadata::new(r.resource)
            .map_err(|e| ConfigError::new(&key, e.description()))?;
        if out
            .iter()
            .any(|o| o.well_known_path() == m.well_known_path())
        {
            return Err(ConfigError::new(key, "two resources with the same path"));
        }
        let servers = if r.authorization_servers.is_empty() {
            domains
                .iter()
                .filter_map(|d| auth0_api::domains::normalize_domain(d).ok())
                .collect()
        } else {
            r.authorization_servers
        };
        for s in servers {
            m = m.authorization_server(s);
        }
        m = m.scopes_supported(r.scopes_supported);
        if let Some(n) = r.resource_name {
            m = m.resource_name(n);
        }
        if let Some(d) = r.resource_documentation {
            m = m.resource_documentation(d);
        }
        out.push(m);
    }
    Ok(out)
}

#[cfg(test)]
#[allow(clippy::unwrap_used)]
mod tests {
    use super::*;

    fn parse(text: &str) -> Result<Config, ConfigError> {
        let s: Settings = toml::from_str(text).map_err(|e| {
            let (key, _) = toml_key(text, &e);
            ConfigError::new(key, e.message())
        })?;
        check(s)
    }

    const BASE: &str = "domains = [\"t.example.com\"]\naudiences = [\"https://api\"]\n";

    #[test]
    fn a_minimal_proxy_config_is_accepted() {
        let c = parse(&format!("{BASE}upstream = \"http://127.0.0.1:3000\"\n")).unwrap();
        assert!(matches!(c.mode, Mode::Proxy(_)));
        assert_eq!(c.listen.port(), 8080);
        assert_eq!(c.limits, crate::server::Limits::DEFAULT);
    }

    #[test]
    fn every_key_is_accepted() {
        let c = parse(&format!(
            r#"{BASE}
upstream = "http://127.0.0.1:3000/"
listen = "0.0.0.0:8081"
metrics_listen = "127.0.0.1:9999"
public_url = "https://api.example.com/"
trusted_proxies = ["10.0.0.0/8", "::1"]
dpop = "required"
dpop_algorithms = ["ES256", "EdDSA"]
algorithms = ["RS256", "PS256"]
dpop_nonce = true
dpop_nonce_secret = "0123456789abcdef0123456789abcdef"
dpop_nonce_lifetime_secs = 60
dpop_iat_leeway_secs = 5
dpop_iat_offset_secs = 60
replay_store = "redis"
redis_url = "redis://127.0.0.1:6379"
redis_fail_open = true
required_claims = ["sub"]
leeway_secs = 2
http_timeout_secs = 3
upstream_timeout_secs = 4
shutdown_grace_secs = 5
header_read_timeout_secs = 7
max_connections = 64
ca_certs = []
pass_credentials = true
public_paths = ["/health"]
verified_token_cache = false
cache_ttl_secs = 60
stale_if_error_secs = 600
organizations = ["org_abc"]
log_format = "text"
routes = [{{prefix = "/a", permissions = ["p"], require = "any"}}]
resources = [{{resource = "https://api.example.com/mcp", resource_name = "MCP"}}]
"#
        ))
        .unwrap();
        assert_eq!(c.public_url.as_deref(), Some("https://api.example.com"));
        assert_eq!(c.options.dpop, auth0_api::DpopMode::Required);
        assert!(matches!(
            c.replay,
            ReplayChoice::Redis {
                fail_open: true,
                ..
            }
        ));
        assert!(!c.json_logs && c.pass_credentials);
        assert_eq!(
            c.limits,
            crate::server::Limits {
                header_read_timeout: Duration::from_secs(7),
                max_connections: 64
            }
        );
        assert_eq!(
            c.resources[0].well_known_path(),
            "/.well-known/oauth-protected-resource/mcp"
        );
        assert!(!format!("{c:?}").contains("0123456789abcdef"));
    }

    #[test]
    fn errors_name_the_key() {
        let cases = [
            ("upstream = \"http://x:1\"\ndomainz = []\n", "domainz"),
            (
                "upstream = \"http://x:1\"\nleeway_secs = \"soon\"\n",
                "leeway_secs",
            ),
            ("upstream = \"ftp://x\"\n", "upstream"),
            ("forward_auth = true\ndpop = \"maybe\"\n", "dpop"),
            (
                "forward_auth = true\ndpop_algorithms = [\"XX1\"]\n",
                "dpop_algorithms",
            ),
            (
                "forward_auth = true\ntrusted_proxies = [\"10.0.0.0/99\"]\n",
                "trusted_proxies",
            ),
            (
                "forward_auth = true\npublic_url = \"api.example.com\"\n",
                "public_url",
            ),
            (
                "forward_auth = true\nheader_read_timeout_secs = 0\n",
                "header_read_timeout_secs",
            ),
            (
                "forward_auth = true\nmax_connections = 0\n",
                "max_connections",
            ),
            (
                "forward_auth = true\nmax_connections = 2000000\n",
                "max_connections",
            ),
            (
                "forward_auth = true\nreplay_store = \"disk\"\n",
                "replay_store",
            ),
            (
                "forward_auth = true\n[[routes]]\nprefix = \"admin\"\n",
                "routes[0].prefix",
            ),
            (
                "forward_auth = true\n[[resources]]\nresource = \"nope\"\n",
                "resources[0].resource",
            ),
        ];
        for (extra, key) in cases {
            let err = parse(&format!("{BASE}{extra}")).unwrap_err();
            assert_eq!(err.key, key, "{extra}: {err}");
            assert!(!err.to_string().contains('\n'));
        }
        assert_eq!(parse("forward_auth = true\n").unwrap_err().key, "domains");
    }

    #[test]
    fn inline_tables_parse_as_routes() {
        let r: Route = parse_inline("{prefix = \"/a\", scopes = [\"x\"]}").unwrap();
        assert_eq!(r.prefix, "/a");
        assert!(parse_inline::<Route>("{prefix = \"/a\", scope = 1}").is_err());
    }
}
