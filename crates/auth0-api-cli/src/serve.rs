//! `auth0-api serve`: a protected "whoami" API.
//!
//! Every request (any method, any path) goes through `verify_request` with the URL = public URL +
//! path + query. Success: 200 `{"claims", "current_actor", "delegation_chain"}`. Failure: the
//! error's status, its `WWW-Authenticate` value exactly as the library builds it, `DPoP-Nonce`
//! when present, and `{"error", "error_description"}`.

use auth0_api::{ApiClient, ApiClientOptions, Error};
use auth0_api_axum::{Actor, Auth0Layer, Authenticated};
use axum::response::{IntoResponse, Response};
use clap::Args;
use serde_json::json;

use crate::{DpopArg, Listen, PemPath};

/// Arguments of `serve`.
#[derive(Debug, Args)]
pub(crate) struct ServeArgs {
    /// Accepted tenant domain (host[:port]); repeat for multiple custom domains.
    #[arg(long = "domain", required = true)]
    domains: Vec<String>,
    /// The API's audience.
    #[arg(long)]
    audience: String,
    /// DPoP mode.
    #[arg(long, value_enum, default_value = "allowed")]
    dpop: DpopArg,
    /// Address to listen on.
    #[arg(long, default_value = "127.0.0.1:8080")]
    listen: Listen,
    /// The URL clients use to reach this server (for DPoP `htu`); default `http://<listen>`.
    #[arg(long)]
    public_url: Option<String>,
    /// Extra trusted root CA (PEM) for discovery and JWKS.
    #[arg(long)]
    ca_cert: Option<PemPath>,
    /// Accepted DPoP proof algorithm (repeat or comma-separate; default ES256).
    #[arg(long = "dpop-algorithm", value_delimiter = ',')]
    dpop_algorithms: Vec<String>,
    /// Require server-issued DPoP nonces (RFC 9449 section 8).
    #[arg(long)]
    dpop_nonce: bool,
    /// Shared nonce secret (at least 32 bytes; default: random per process).
    #[arg(
        long,
        env = "AUTH0_API_DPOP_NONCE_SECRET",
        hide_env_values = true,
        requires = "dpop_nonce"
    )]
    dpop_nonce_secret: Option<String>,
    /// Nonce lifetime in seconds.
    #[arg(long, requires = "dpop_nonce")]
    dpop_nonce_lifetime_secs: Option<u64>,
}

impl ServeArgs {
    /// The proof-algorithm and nonce settings, checked (unknown algorithm, short secret).
    fn dpop_extras(&self) -> Result<DpopExtras, Error> {
        let algorithms = if self.dpop_algorithms.is_empty() {
            None
        } else {
            Some(
                self.dpop_algorithms
                    .iter()
                    .map(|n| {
                        auth0_api::Algorithm::from_name(n).ok_or_else(|| {
                            Error::configuration(format!(
                                "--dpop-algorithm: unknown algorithm {n:?}"
                            ))
                        })
                    })
                    .collect::<Result<Vec<_>, _>>()?,
            )
        };
        let nonce = if self.dpop_nonce {
            let mut n = match &self.dpop_nonce_secret {
                Some(s) => auth0_api::dpop::NonceConfig::with_secret(s.as_bytes())?,
                None => auth0_api::dpop::NonceConfig::new()?,
            };
            if let Some(secs) = self.dpop_nonce_lifetime_secs {
                n = n.lifetime(std::time::Duration::from_secs(secs));
            }
            Some(n)
        } else {
            None
        };
        Ok(DpopExtras { algorithms, nonce })
    }
}

/// `serve`'s optional DPoP settings (the demo uses none).
#[derive(Default)]
pub(crate) struct DpopExtras {
    algorithms: Option<Vec<auth0_api::Algorithm>>,
    nonce: Option<auth0_api::dpop::NonceConfig>,
}

pub(crate) fn build_client(
    domains: &[String],
    audience: &str,
    dpop: auth0_api::DpopMode,
    ca_pem: Option<Vec<u8>>,
    extras: DpopExtras,
) -> Result<ApiClient, Error> {
    let mut b = ApiClientOptions::builder()
        .audience(audience)
        .dpop_mode(dpop);
    b = match domains {
        [one] => b.domain(one.clone()),
        many => b.domains(many.iter().cloned()),
    };
    if let Some(pem) = ca_pem {
        b = b.root_ca_pem(pem);
    }
    if let Some(algs) = extras.algorithms {
        b = b.dpop_algorithms(algs);
    }
    if let Some(nonce) = extras.nonce {
        b = b.dpop_nonce(nonce);
    }
    ApiClient::new(b.build()?)
}

pub(crate) async fn run(
    args: ServeArgs,
) -> Result<std::process::ExitCode, Box<dyn std::error::Error>> {
    let ca = match &args.ca_cert {
        Some(p) => Some(std::fs::read(p).map_err(|e| format!("cannot read {}: {e}", p.display()))?),
        None => None,
    };
    let extras = args.dpop_extras()?;
    let client = build_client(&args.domains, &args.audience, args.dpop.into(), ca, extras)?;
    // Signal handlers first (see shutdown_signal), so a signal right after startup stops cleanly.
    let signal = shutdown_signal();
    let listener = tokio::net::TcpListener::bind(args.listen).await?;
    let local = listener.local_addr()?;
    let public_url = args
        .public_url
        .unwrap_or_else(|| format!("http://{local}"))
        .trim_end_matches('/')
        .to_owned();
    tracing::info!(%local, %public_url, "serving the protected whoami API");
    let app = router(client, &public_url)?;
    // The server's default bounds (10 s for a request's head, 10 000 connections); `serve`
    // has no flags for them.
    crate::server::serve_until_stopped(
        listener,
        app,
        signal,
        SHUTDOWN_GRACE,
        crate::server::Limits::DEFAULT,
    )
    .await?;
    tracing::info!("stopped");
    Ok(std::process::ExitCode::SUCCESS)
}

/// How long in-flight requests may run after SIGINT/SIGTERM before `serve` exits anyway.
const SHUTDOWN_GRACE: std::time::Duration = std::time::Duration::from_secs(3);

/// The whoami app (also used by the demo): every request, any method and path, goes through
/// the auth0-api-axum layer, which checks it against `public_url` + path + query and answers
/// failures with the error's status, `WWW-Authenticate`, `DPoP-Nonce` and JSON body.
pub(crate) fn router(client: ApiClient, public_url: &str) -> Result<axum::Router, Error> {
    let auth = Auth0Layer::builder(client).public_url(public_url).build()?;
    Ok(axum::Router::new().fallback(whoami).layer(auth))
}

/// 200 with the claims, the current actor and the delegation chain. An invalid `act` claim is
/// refused by the [`Actor`] extractor (401 invalid_token with the client's challenge).
async fn whoami(auth: Authenticated, actor: Actor) -> Response {
    tracing::info!(sub = auth.sub().unwrap_or_default(), "authenticated");
    axum::Json(json!({
        "claims": auth.verified().claims,
        "current_actor": actor.current,
        "delegation_chain": actor.chain,
    }))
    .into_response()
}

/// Resolves on SIGINT (Ctrl-C) or, on Unix, SIGTERM. Also used by `dev-tenant`.
///
/// The handlers are installed when this is called, not when the future is first polled: a
/// supervisor may signal as soon as the process says it is ready, and until a handler exists
/// the default action kills the process without a graceful stop. Call it before announcing
/// readiness. Must be called inside the Tokio runtime.
pub(crate) fn shutdown_signal() -> impl Future<Output = ()> + Send + 'static {
    #[cfg(unix)]
    {
        use tokio::signal::unix::{SignalKind, signal};
        let interrupt = signal(SignalKind::interrupt());
        let terminate = signal(SignalKind::terminate());
        let recv = |s: std::io::Result<tokio::signal::unix::Signal>| async move {
            match s {
                Ok(mut s) => {
                    s.recv().await;
                }
                // No handler could be installed: the default action still stops the process.
                Err(_) => std::future::pending::<()>().await,
            }
        };
        async move {
            tokio::select! { () = recv(interrupt) => {}, () = recv(terminate) => {} }
        }
    }
    #[cfg(not(unix))]
    async {
        let _ = tokio::signal::ctrl_c().await;
    }
}
