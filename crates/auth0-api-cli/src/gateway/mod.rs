//! `auth0-api gateway`: protect an existing API, in any language, with exact Auth0 semantics.
//!
//! Two modes, one configuration ([`config`]):
//! - reverse proxy ([`proxy`]): every request verified, then forwarded to the upstream with the
//!   identity in `X-Auth0-*` headers ([`identity`]);
//! - forward-auth ([`forward_auth`]): the decision endpoint of nginx, Traefik and Envoy.
//!
//! Both decide through [`gate`]: routes and public paths ([`routes`]), `verify_request`,
//! required claims, the `act` claim, scopes and permissions. RFC 9728 documents are served at
//! their well-known paths; `/metrics`, `/healthz` and `/readyz` on a separate listener
//! ([`health`], [`metrics`]).

pub(crate) mod config;
mod forward_auth;
mod gate;
mod health;
mod identity;
mod metrics;
mod proxy;
mod routes;
mod trust;

use std::net::SocketAddr;
use std::path::PathBuf;
use std::sync::Arc;
use std::time::Duration;

use auth0_api::ApiClient;
use axum::Router;
use clap::Args;
use http::HeaderMap;

use config::{Config, ConfigError, Mode, ReplayChoice};
use trust::{TrustedProxies, first_value, origin};

/// Arguments of `gateway`.
#[derive(Debug, Args)]
pub(crate) struct GatewayArgs {
    /// The TOML configuration file; flags and environment variables override its keys.
    #[arg(long, env = "AUTH0_GATEWAY_CONFIG")]
    config: Option<PathBuf>,
    #[command(flatten)]
    settings: config::Settings,
}

/// What a mode needs besides the gate.
pub(crate) enum ModeState {
    Proxy {
        upstream: http::Uri,
        client: Box<proxy::Upstream>,
    },
    ForwardAuth,
}

/// Everything a request handler reads.
pub(crate) struct App {
    gate: gate::Gate,
    mode: ModeState,
    public_url: Option<String>,
    trusted: TrustedProxies,
    pass_credentials: bool,
    upstream_timeout: Duration,
    metrics: Arc<metrics::Metrics>,
}

impl App {
    /// The URL the client addressed: `public_url` + target; else, from a trusted peer,
    /// `X-Forwarded-Proto` + `X-Forwarded-Host` + target; else `http://` + `Host` + target.
    fn request_url(&self, headers: &HeaderMap, peer: SocketAddr, target: &str) -> Option<String> {
        if let Some(base) = &self.public_url {
            return Some(format!("{base}{target}"));
        }
        if self.trusted.contains(peer.ip())
            && let (Some(proto), Some(host)) = (
                first_value(headers, "x-forwarded-proto"),
                first_value(headers, "x-forwarded-host"),
            )
        {
            return origin(proto, host).map(|o| format!("{o}{target}"));
        }
        let host = headers.get(http::header::HOST)?.to_str().ok()?;
        origin("http", host).map(|o| format!("{o}{target}"))
    }
}

/// Removes every header whose (lower-case) name `matches`, all its values.
pub(crate) fn remove_headers_where(headers: &mut HeaderMap, matches: impl Fn(&str) -> bool) {
    let doomed: Vec<http::HeaderName> = headers
        .keys()
        .filter(|name| matches(name.as_str()))
        .cloned()
        .collect();
    for name in doomed {
        headers.remove(&name);
    }
}

/// Logs as JSON lines (or text), never a token: the library's spans carry none, and the
/// gateway logs method, path (no query), status, outcome, `sub` and latency.
pub(crate) fn init_logs(json: bool) {
    let filter = tracing_subscriber::EnvFilter::try_from_default_env()
        .unwrap_or_else(|_| tracing_subscriber::EnvFilter::new("info"));
    let builder = tracing_subscriber::fmt()
        .with_env_filter(filter)
        .with_writer(std::io::stderr);
    let _ = if json {
        builder.json().flatten_event(true).try_init()
    } else {
        builder.with_ansi(false).try_init()
    };
}

/// Runs the gateway until SIGTERM/SIGINT.
pub(crate) async fn run(
    args: GatewayArgs,
) -> Result<std::process::ExitCode, Box<dyn std::error::Error>> {
    let config = config::load(args.settings, args.config.as_deref())?;
    init_logs(config.json_logs);
    let signal = crate::serve::shutdown_signal();
    let metrics = Arc::new(metrics::Metrics::default());
    let (listen, metrics_listen, grace, limits) = (
        config.listen,
        config.metrics_listen,
        config.shutdown_grace,
        config.limits,
    );
    let resources = config.resources.clone();
    let app = Arc::new(build(config, metrics).await?);
    let listener = tokio::net::TcpListener::bind(listen)
        .await
        .map_err(|e| ConfigError::new("listen", format!("{listen}: {e}")))?;
    let admin = tokio::net::TcpListener::bind(metrics_listen)
        .await
        .map_err(|e| ConfigError::new("metrics_listen", format!("{metrics_listen}: {e}")))?;
    let local = listener.local_addr()?;
    let admin_local = admin.local_addr()?;
    let admin_app = health::router(app.clone());
    // The same bounds; it stops with the process (its requests are short).
    tokio::spawn(async move {
        let forever = std::future::pending::<()>();
        let served =
            crate::server::serve_until_stopped(admin, admin_app, forever, grace, limits).await;
        if let Err(e) = served {
            tracing::error!(error = %e, "metrics listener failed");
        }
    });
    // Warm the caches in the background: start-up never waits for the tenant.
    let warm = app.clone();
    tokio::spawn(async move {
        if let Err(e) = warm.gate.client.warm_up().await {
            tracing::warn!(
                error = e.error_code(),
                description = e.description(),
                "tenant documents not loaded yet"
            );
        }
    });
    let mode = match &app.mode {
        ModeState::Proxy { upstream, .. } => format!("proxy to {upstream}"),
        ModeState::ForwardAuth => "forward-auth".to_owned(),
    };
    tracing::info!(%local, metrics = %admin_local, mode, "gateway listening");
    let router = router(app.clone(), &resources);
    crate::server::serve_until_stopped(listener, router, signal, grace, limits).await?;
    Ok(std::process::ExitCode::SUCCESS)
}

/// The main listener's router: RFC 9728 documents, then the mode's handler for everything.
fn router(app: Arc<App>, resources: &[auth0_api_axum::ProtectedResourceMetadata]) -> Router {
    let mut router = Router::new();
    for m in resources {
        router = router.route_service(
            m.well_known_path(),
            m.clone().dpop_from(&app.gate.client).service(),
        );
    }
    let router = match app.mode {
        ModeState::Proxy { .. } => router.fallback(proxy::handle),
        ModeState::ForwardAuth => router.fallback(forward_auth::handle),
    };
    router.with_state(app)
}

/// The replay store, the client (with the metrics observer) and the handlers' state.
async fn build(config: Config, metrics: Arc<metrics::Metrics>) -> Result<App, ConfigError> {
    let mut builder = config.options.builder()?.observer(metrics.clone());
    if let ReplayChoice::Redis { url, fail_open } = &config.replay {
        let store = auth0_api::redis::RedisReplayStore::builder(url.as_str())
            .fail_open(*fail_open)
            .build()
            .await
            .map_err(|e| ConfigError::new("redis_url", e.description()))?;
        builder = builder.replay_store(Arc::new(store));
    }
    let options = builder
        .build()
        .map_err(|e| ConfigError::new("options", e.description()))?;
    let client =
        ApiClient::new(options).map_err(|e| ConfigError::new("ca_certs", e.description()))?;
    let mut resource_metadata: Vec<(String, String)> = config
        .resources
        .iter()
        .map(|m| {
            let path = m.well_known_path()[auth0_api_axum::WELL_KNOWN_PREFIX.len()..].to_owned();
            let path = if path.is_empty() {
                "/".to_owned()
            } else {
                path
            };
            (path, m.metadata_url())
        })
        .collect();
    resource_metadata.sort_by_key(|r| std::cmp::Reverse(r.0.len()));
    let mode = match config.mode {
        Mode::Proxy(upstream) => ModeState::Proxy {
            upstream,
            client: Box::new(proxy::upstream_client()),
        },
        Mode::ForwardAuth => ModeState::ForwardAuth,
    };
    Ok(App {
        gate: gate::Gate {
            client,
            routes: config.routes,
            required_claims: config.required_claims,
            resource_metadata,
            client_certificate_header: config.client_certificate_header,
        },
        mode,
        public_url: config.public_url,
        trusted: config.trusted,
        pass_credentials: config.pass_credentials,
        upstream_timeout: config.upstream_timeout,
        metrics,
    })
}
