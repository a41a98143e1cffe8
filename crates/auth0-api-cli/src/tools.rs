//! `dev-tenant`, `token`, `dpop-proof` and `verify`: small tools for trying the library by hand.

use std::io::Write as _;
use std::path::PathBuf;
use std::process::ExitCode;

use auth0_api::{ApiClient, VerifyRequest, act};
use auth0_api_dev_tenant::DevTenant;
use auth0_api_dev_tenant::dpop::DpopKey;
use clap::Args;
use serde_json::{Value, json};

use crate::DpopArg;

type CliResult = Result<ExitCode, Box<dyn std::error::Error>>;

/// Client id of the client registered by `dev-tenant`.
pub(crate) const DEV_CLIENT_ID: &str = "dev-client";
/// Its secret (a local test tenant: not a secret worth keeping).
pub(crate) const DEV_CLIENT_SECRET: &str = "dev-client-secret";

pub(crate) async fn dev_tenant(port: u16, audiences: Vec<String>) -> CliResult {
    // SIGTERM too, so that a supervisor's stop also removes the tenant's temporary CA directory;
    // installed before the JSON announces the tenant (see shutdown_signal).
    let signal = crate::serve::shutdown_signal();
    let tenant = DevTenant::builder()
        .port(port)
        .client(DEV_CLIENT_ID, DEV_CLIENT_SECRET, audiences.clone())
        .start()
        .await?;
    println!(
        "{}",
        serde_json::to_string_pretty(&json!({
            "issuer": tenant.issuer(),
            "domain": tenant.domain(),
            "ca_cert": tenant.ca_path(),
            "token_endpoint": tenant.token_endpoint(),
            "client_id": DEV_CLIENT_ID,
            "client_secret": DEV_CLIENT_SECRET,
            "audiences": audiences,
        }))?
    );
    tracing::info!("dev tenant running; Ctrl-C (or SIGTERM) to stop");
    signal.await;
    tenant.stop().await;
    Ok(ExitCode::SUCCESS)
}

/// Arguments of `token`.
#[derive(Debug, Args)]
pub(crate) struct TokenArgs {
    /// The dev tenant's domain (host:port), as printed by `dev-tenant`.
    #[arg(long)]
    domain: String,
    /// The tenant's CA certificate (PEM).
    #[arg(long)]
    ca_cert: PathBuf,
    /// Audience of the token.
    #[arg(long, default_value = "https://api.example.com")]
    audience: String,
    /// Scope to request.
    #[arg(long)]
    scope: Option<String>,
    /// Client id.
    #[arg(long, default_value = DEV_CLIENT_ID)]
    client_id: String,
    /// Client secret.
    #[arg(long, default_value = DEV_CLIENT_SECRET)]
    client_secret: String,
    /// Bind the token to this DPoP key (PKCS#8 PEM file, made by `dpop-proof --generate`).
    #[arg(long)]
    dpop_key: Option<PathBuf>,
    /// Get this many tokens (distinct: each has its own `jti`), printed one compact JSON
    /// answer a line, over one connection (load tests); 1 prints the answer pretty.
    #[arg(long, default_value_t = 1, value_parser = clap::value_parser!(u32).range(1..=1_000_000))]
    count: u32,
}

fn http_client(ca: &std::path::Path) -> Result<reqwest::Client, Box<dyn std::error::Error>> {
    let pem = std::fs::read(ca).map_err(|e| format!("cannot read {}: {e}", ca.display()))?;
    let certs = reqwest::Certificate::from_pem_bundle(&pem)?;
    Ok(reqwest::Client::builder().tls_certs_merge(certs).build()?)
}

pub(crate) async fn token(args: TokenArgs) -> CliResult {
    let client = http_client(&args.ca_cert)?;
    let endpoint = format!("https://{}/oauth/token", args.domain.trim_end_matches('/'));
    let mut form = vec![
        ("grant_type", "client_credentials".to_owned()),
        ("audience", args.audience),
    ];
    if let Some(scope) = args.scope {
        form.push(("scope", scope));
    }
    let key = match &args.dpop_key {
        Some(path) => Some(DpopKey::from_pkcs8_pem(&std::fs::read_to_string(path)?)?),
        None => None,
    };
    let mut out = std::io::BufWriter::new(std::io::stdout().lock());
    for _ in 0..args.count {
        let mut req = client
            .post(&endpoint)
            .basic_auth(&args.client_id, Some(&args.client_secret))
            .form(&form);
        if let Some(key) = &key {
            req = req.header("DPoP", key.proof("POST", &endpoint, None).try_sign()?);
        }
        let resp = req.send().await?;
        let ok = resp.status().is_success();
        let body: Value = resp.json().await?;
        if args.count == 1 {
            writeln!(out, "{}", serde_json::to_string_pretty(&body)?)?;
        } else {
            writeln!(out, "{}", serde_json::to_string(&body)?)?;
        }
        if !ok {
            out.flush()?;
            return Ok(ExitCode::FAILURE);
        }
    }
    out.flush()?;
    Ok(ExitCode::SUCCESS)
}

/// Arguments of `dpop-proof`.
#[derive(Debug, Args)]
pub(crate) struct ProofArgs {
    /// The key file (PKCS#8 PEM, P-256).
    #[arg(long)]
    key: PathBuf,
    /// Generate the key file first if it does not exist.
    #[arg(long)]
    generate: bool,
    /// HTTP method of the request the proof is for.
    #[arg(long, default_value = "GET")]
    method: String,
    /// Full URL of the request.
    #[arg(long)]
    url: String,
    /// The access token the proof goes with (sets `ath`).
    #[arg(long)]
    access_token: Option<String>,
    /// A server-provided nonce.
    #[arg(long)]
    nonce: Option<String>,
}

pub(crate) fn dpop_proof(args: ProofArgs) -> CliResult {
    let key = if args.generate && !args.key.exists() {
        let key = DpopKey::try_generate()?;
        std::fs::write(&args.key, key.to_pkcs8_pem()?)?;
        eprintln!(
            "generated {} (thumbprint {})",
            args.key.display(),
            key.thumbprint()
        );
        key
    } else {
        DpopKey::from_pkcs8_pem(&std::fs::read_to_string(&args.key)?)?
    };
    let mut proof = key.proof(&args.method, &args.url, args.access_token.as_deref());
    if let Some(n) = args.nonce {
        proof = proof.nonce(n);
    }
    println!("{}", proof.try_sign()?);
    Ok(ExitCode::SUCCESS)
}

/// Arguments of `verify`.
#[derive(Debug, Args)]
pub(crate) struct VerifyArgs {
    /// Tenant domain (host[:port]); repeat for several.
    #[arg(long = "domain", required = true)]
    domains: Vec<String>,
    /// Expected audience.
    #[arg(long)]
    audience: String,
    /// Extra trusted root CA (PEM).
    #[arg(long)]
    ca_cert: Option<PathBuf>,
    /// The access token.
    #[arg(long)]
    token: String,
    /// A DPoP proof (makes the request a DPoP one).
    #[arg(long)]
    proof: Option<String>,
    /// HTTP method (DPoP).
    #[arg(long, default_value = "GET")]
    method: String,
    /// Request URL (DPoP).
    #[arg(long, default_value = "https://api.example.com/")]
    url: String,
    /// DPoP mode.
    #[arg(long, value_enum, default_value = "allowed")]
    dpop: DpopArg,
}

pub(crate) async fn verify(args: VerifyArgs) -> CliResult {
    let ca = match &args.ca_cert {
        Some(p) => Some(std::fs::read(p)?),
        None => None,
    };
    let client: ApiClient = crate::serve::build_client(
        &args.domains,
        &args.audience,
        args.dpop.into(),
        ca,
        crate::serve::DpopExtras::default(),
    )?;
    let scheme = if args.proof.is_some() {
        "DPoP"
    } else {
        "Bearer"
    };
    let mut pairs = vec![(
        "authorization".to_owned(),
        format!("{scheme} {}", args.token),
    )];
    if let Some(p) = &args.proof {
        pairs.push(("dpop".to_owned(), p.clone()));
    }
    let req = VerifyRequest::from_pairs(pairs)
        .method(args.method.as_str())
        .url(args.url.as_str());
    // As in `serve`: an invalid `act` claim on a valid token is a 401 invalid_token.
    let verified = client.verify_request(req).await.and_then(|v| {
        let actor = act::current_actor(&v.claims).map(|a| a.map(str::to_owned));
        let chain = act::delegation_chain(&v.claims)
            .map(|c| c.into_iter().map(str::to_owned).collect::<Vec<_>>());
        match (actor, chain) {
            (Ok(actor), Ok(chain)) => Ok((v, actor, chain)),
            (Err(e), _) | (_, Err(e)) => Err(client.with_challenge(e, Some(v.scheme))),
        }
    });
    match verified {
        Ok((v, actor, chain)) => {
            let out = json!({
                "valid": true,
                "claims": v.claims,
                "current_actor": actor,
                "delegation_chain": chain,
            });
            println!("{}", serde_json::to_string_pretty(&out)?);
            Ok(ExitCode::SUCCESS)
        }
        Err(e) => {
            let out = json!({
                "valid": false,
                "status": e.status_code(),
                "error": e.error_code(),
                "error_description": e.description(),
                "www_authenticate": e.www_authenticate(),
            });
            println!("{}", serde_json::to_string_pretty(&out)?);
            Ok(ExitCode::FAILURE)
        }
    }
}
