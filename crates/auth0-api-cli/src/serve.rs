//! `auth0-api serve`: a protected "whoami" API.
//!
//! Every request (any method, any path) goes through `verify_request` with the URL = public URL +
//! path + query. Success: 200 `{"claims", "current_actor", "delegation_chain"}`. Failure: the
//! error's status, its `WWW-Authenticate` value exactly as the library builds it, `DPoP-Nonce`
//! when present, and `{"error", "error_description"}`.

use std::sync::Arc;

use auth0_api::{ApiClient, ApiClientOptions, Error, VerifyRequest, act};
use axum::extract::{Request, State};
use axum::http::{HeaderValue, StatusCode, header};
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
}

struct AppState {
    client: ApiClient,
    public_url: String,
}

pub(crate) fn build_client(
    domains: &[String],
    audience: &str,
    dpop: auth0_api::DpopMode,
    ca_pem: Option<Vec<u8>>,
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
    ApiClient::new(b.build()?)
}

pub(crate) async fn run(
    args: ServeArgs,
) -> Result<std::process::ExitCode, Box<dyn std::error::Error>> {
    let ca = match &args.ca_cert {
        Some(p) => Some(std::fs::read(p).map_err(|e| format!("cannot read {}: {e}", p.display()))?),
        None => None,
    };
    let client = build_client(&args.domains, &args.audience, args.dpop.into(), ca)?;
    let listener = tokio::net::TcpListener::bind(args.listen).await?;
    let local = listener.local_addr()?;
    let public_url = args
        .public_url
        .unwrap_or_else(|| format!("http://{local}"))
        .trim_end_matches('/')
        .to_owned();
    tracing::info!(%local, %public_url, "serving the protected whoami API");
    let app = router(client, public_url);
    axum::serve(listener, app)
        .with_graceful_shutdown(shutdown_signal())
        .await?;
    tracing::info!("stopped");
    Ok(std::process::ExitCode::SUCCESS)
}

/// The whoami app (also used by the demo).
pub(crate) fn router(client: ApiClient, public_url: String) -> axum::Router {
    axum::Router::new()
        .fallback(whoami)
        .with_state(Arc::new(AppState { client, public_url }))
}

async fn whoami(State(state): State<Arc<AppState>>, request: Request) -> Response {
    let (parts, _body) = request.into_parts();
    let path_and_query = parts
        .uri
        .path_and_query()
        .map(|p| p.as_str())
        .unwrap_or("/");
    let url = format!("{}{}", state.public_url, path_and_query);
    let verified = state
        .client
        .verify_request(VerifyRequest::from_parts(&parts).url(url.as_str()))
        .await;
    match verified {
        Ok(v) => {
            let actor = act::current_actor(&v.claims).map(|a| a.map(str::to_owned));
            let chain = act::delegation_chain(&v.claims)
                .map(|c| c.into_iter().map(str::to_owned).collect::<Vec<_>>());
            let (actor, chain) = match (actor, chain) {
                (Ok(a), Ok(c)) => (a, c),
                (Err(e), _) | (_, Err(e)) => {
                    return error_response(&state.client.with_challenge(e, Some(v.scheme)));
                }
            };
            tracing::info!(sub = v.sub().unwrap_or_default(), "authenticated");
            let mut resp = axum::Json(json!({
                "claims": v.claims,
                "current_actor": actor,
                "delegation_chain": chain,
            }))
            .into_response();
            if let Some(n) = v
                .next_dpop_nonce()
                .and_then(|n| HeaderValue::from_str(n).ok())
            {
                resp.headers_mut().insert("dpop-nonce", n);
            }
            resp
        }
        Err(e) => {
            tracing::info!(status = e.status_code(), code = e.error_code(), "rejected");
            error_response(&e)
        }
    }
}

/// The error's status, challenge, nonce and JSON body.
pub(crate) fn error_response(e: &Error) -> Response {
    let status = StatusCode::from_u16(e.status_code()).unwrap_or(StatusCode::INTERNAL_SERVER_ERROR);
    let mut resp = (
        status,
        axum::Json(json!({"error": e.error_code(), "error_description": e.description()})),
    )
        .into_response();
    if let Some(v) = e
        .www_authenticate()
        .and_then(|v| HeaderValue::from_str(v).ok())
    {
        resp.headers_mut().insert(header::WWW_AUTHENTICATE, v);
    }
    if let Some(n) = e.dpop_nonce().and_then(|n| HeaderValue::from_str(n).ok()) {
        resp.headers_mut().insert("dpop-nonce", n);
    }
    resp
}

async fn shutdown_signal() {
    let ctrl_c = async {
        let _ = tokio::signal::ctrl_c().await;
    };
    #[cfg(unix)]
    let term = async {
        match tokio::signal::unix::signal(tokio::signal::unix::SignalKind::terminate()) {
            Ok(mut s) => {
                s.recv().await;
            }
            Err(_) => std::future::pending::<()>().await,
        }
    };
    #[cfg(not(unix))]
    let term = std::future::pending::<()>();
    tokio::select! { () = ctrl_c => {}, () = term => {} }
}
