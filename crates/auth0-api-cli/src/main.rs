//! `auth0-api`: the command line of the auth0-api library.
//!
//! - `gateway`: protect an existing API (reverse proxy or forward-auth), configured by TOML,
//!   flags and environment variables.
//! - `demo`: every seed scenario end to end on an embedded dev tenant (the quickstart).
//! - `serve`: a protected "whoami" API (the conformance suite's target).
//! - `dev-tenant`, `token`, `dpop-proof`, `verify`: tools for trying the library with curl.

use std::net::SocketAddr;
use std::path::PathBuf;
use std::process::ExitCode;

use clap::{Parser, Subcommand, ValueEnum};

mod demo;
mod gateway;
mod serve;
mod server;
mod tools;

/// Verify Auth0 access tokens (Bearer and DPoP) and try them against a local dev tenant.
#[derive(Debug, Parser)]
#[command(name = "auth0-api", version, about)]
struct Cli {
    #[command(subcommand)]
    command: Command,
}

/// DPoP mode on the command line.
#[derive(Debug, Clone, Copy, ValueEnum)]
enum DpopArg {
    Allowed,
    Required,
    Disabled,
}

impl From<DpopArg> for auth0_api::DpopMode {
    fn from(d: DpopArg) -> Self {
        match d {
            DpopArg::Allowed => Self::Allowed,
            DpopArg::Required => Self::Required,
            DpopArg::Disabled => Self::Disabled,
        }
    }
}

#[derive(Debug, Subcommand)]
enum Command {
    /// Run every scenario end to end on an embedded dev tenant and report.
    Demo,
    /// Serve a protected "whoami" API: every request goes through verify_request.
    Serve(serve::ServeArgs),
    /// Protect an existing API: a verifying reverse proxy, or a forward-auth endpoint.
    Gateway(Box<gateway::GatewayArgs>),
    /// Run the dev tenant standalone and print its issuer, CA path and client credentials.
    DevTenant {
        /// Port to listen on (127.0.0.1); 0 picks a free one.
        #[arg(long, default_value_t = 0)]
        port: u16,
        /// Audience the demo client may request tokens for.
        #[arg(long, default_value = "https://api.example.com")]
        audience: Vec<String>,
    },
    /// Get an access token from a running dev tenant (client credentials).
    Token(tools::TokenArgs),
    /// Make a DPoP proof for a method, URL and access token.
    DpopProof(tools::ProofArgs),
    /// Verify a token (and optionally a DPoP proof) and print the claims or the error as JSON.
    Verify(tools::VerifyArgs),
}

/// Where `serve` listens (parsed by clap).
pub(crate) type Listen = SocketAddr;
/// A PEM file path.
pub(crate) type PemPath = PathBuf;

fn init_tracing() {
    let filter = tracing_subscriber::EnvFilter::try_from_default_env()
        .unwrap_or_else(|_| tracing_subscriber::EnvFilter::new("info"));
    // Colour only on a terminal: logs redirected to a file or a journal stay plain text.
    let ansi = std::io::IsTerminal::is_terminal(&std::io::stderr());
    let _ = tracing_subscriber::fmt()
        .with_env_filter(filter)
        .with_ansi(ansi)
        .with_writer(std::io::stderr)
        .try_init();
}

#[tokio::main]
async fn main() -> ExitCode {
    let cli = Cli::parse();
    let result = match cli.command {
        Command::Demo => demo::run().await,
        Command::Serve(args) => {
            init_tracing();
            serve::run(args).await
        }
        Command::Gateway(args) => gateway::run(*args).await,
        Command::DevTenant { port, audience } => {
            init_tracing();
            tools::dev_tenant(port, audience).await
        }
        Command::Token(args) => tools::token(args).await,
        Command::DpopProof(args) => tools::dpop_proof(args),
        Command::Verify(args) => tools::verify(args).await,
    };
    match result {
        Ok(code) => code,
        Err(e) => {
            eprintln!("error: {e}");
            ExitCode::FAILURE
        }
    }
}
