//! Times `verify_access_token` on one token against a running tenant, next to the bare RS256
//! check of the same token, and prints one JSON line (microseconds per call). Used by
//! `scripts/compare_python.sh` to put our numbers beside auth0-api-python's.
//!
//! ```text
//! cargo run --release -p auth0-api --example timing -- \
//!     --domain 127.0.0.1:PORT --audience https://api.example.com --ca-cert ca.pem \
//!     --token eyJ... [--iterations 20000]
//! ```
//!
//! Each figure is the median over 21 batches of `iterations / 21` calls, after a warm-up; the
//! discovery and JWKS caches are warm. `verify_access_token_us` has the verified-token cache off
//! (every call checks the signature); `verify_access_token_cached_us` is the default client.

#![allow(clippy::print_stdout)]

use std::hint::black_box;
use std::process::ExitCode;
use std::time::Instant;

use auth0_api::{ApiClient, ApiClientOptions};
use aws_lc_rs::signature::{self, ParsedPublicKey, RsaPublicKeyComponents};
use base64::Engine as _;
use base64::engine::general_purpose::URL_SAFE_NO_PAD;
use serde_json::{Value, json};

const BATCHES: usize = 21;

type BoxError = Box<dyn std::error::Error>;

struct Args {
    domain: String,
    audience: String,
    ca_cert: String,
    token: String,
    iterations: usize,
}

fn parse_args() -> Result<Args, BoxError> {
    let mut args = std::env::args().skip(1);
    let (mut domain, mut audience, mut ca_cert, mut token) = (None, None, None, None);
    let mut iterations = 20_000;
    while let Some(flag) = args.next() {
        let mut value = || args.next().ok_or_else(|| format!("{flag} needs a value"));
        match flag.as_str() {
            "--domain" => domain = Some(value()?),
            "--audience" => audience = Some(value()?),
            "--ca-cert" => ca_cert = Some(value()?),
            "--token" => token = Some(value()?),
            "--iterations" => iterations = value()?.parse()?,
            other => return Err(format!("unknown argument {other}").into()),
        }
    }
    let need = |v: Option<String>, name: &str| v.ok_or_else(|| format!("--{name} is required"));
    Ok(Args {
        domain: need(domain, "domain")?,
        audience: need(audience, "audience")?,
        ca_cert: need(ca_cert, "ca-cert")?,
        token: need(token, "token")?,
        iterations: iterations.max(BATCHES),
    })
}

fn b64(s: &str) -> Result<Vec<u8>, BoxError> {
    Ok(URL_SAFE_NO_PAD.decode(s)?)
}

/// The token's key from the tenant's JWKS, parsed once (what the bare check gets for free).
async fn bare_key(args: &Args, pem: &[u8]) -> Result<ParsedPublicKey, BoxError> {
    let header: Value = serde_json::from_slice(&b64(args.token.split('.').next().unwrap_or(""))?)?;
    let kid = header["kid"].as_str().ok_or("the token has no kid")?;
    let http = reqwest::Client::builder()
        .tls_certs_merge(reqwest::Certificate::from_pem_bundle(pem)?)
        .build()?;
    let url = format!("https://{}/.well-known/jwks.json", args.domain);
    let jwks: Value = http.get(url).send().await?.json().await?;
    let jwk = jwks["keys"]
        .as_array()
        .and_then(|keys| keys.iter().find(|k| k["kid"] == kid))
        .ok_or("the token's kid is not in the JWKS")?;
    let n = b64(jwk["n"].as_str().ok_or("no n")?)?;
    let e = b64(jwk["e"].as_str().ok_or("no e")?)?;
    Ok(RsaPublicKeyComponents {
        n: &n[..],
        e: &e[..],
    }
    .to_parsed_public_key(&signature::RSA_PKCS1_2048_8192_SHA256)?)
}

/// Median over `BATCHES` batches of the time per call, in microseconds.
async fn median_us<F, Fut>(iterations: usize, mut call: F) -> Result<f64, BoxError>
where
    F: FnMut() -> Fut,
    Fut: Future<Output = Result<(), BoxError>>,
{
    let per_batch = iterations / BATCHES;
    for _ in 0..per_batch {
        call().await?;
    }
    let mut samples = Vec::with_capacity(BATCHES);
    for _ in 0..BATCHES {
        let start = Instant::now();
        for _ in 0..per_batch {
            call().await?;
        }
        samples.push(start.elapsed().as_secs_f64() * 1e6 / per_batch as f64);
    }
    samples.sort_by(f64::total_cmp);
    Ok(samples[BATCHES / 2])
}

async fn run(args: Args) -> Result<Value, BoxError> {
    let pem = std::fs::read(&args.ca_cert)?;
    let options = || {
        ApiClientOptions::builder()
            .domain(args.domain.clone())
            .audience(args.audience.clone())
            .root_ca_pem(&pem)
    };
    let fresh = ApiClient::new(options().verified_token_cache(false).build()?)?;
    let cached = ApiClient::new(options().build()?)?;
    fresh.verify_access_token(&args.token).await?;
    cached.verify_access_token(&args.token).await?;

    let key = bare_key(&args, &pem).await?;
    let (input, sig) = args.token.rsplit_once('.').ok_or("not a JWS")?;
    let sig = b64(sig)?;
    let input = input.as_bytes();

    let raw = median_us(args.iterations, || {
        let r = key
            .verify_sig(black_box(input), black_box(&sig))
            .map_err(|_| BoxError::from("bad signature"));
        std::future::ready(r)
    })
    .await?;
    let verify = median_us(args.iterations, || async {
        black_box(fresh.verify_access_token(black_box(&args.token)).await?);
        Ok(())
    })
    .await?;
    let verify_cached = median_us(args.iterations, || async {
        black_box(cached.verify_access_token(black_box(&args.token)).await?);
        Ok(())
    })
    .await?;
    Ok(json!({
        "token_bytes": args.token.len(),
        "iterations": args.iterations,
        "raw_rs256_us": raw,
        "verify_access_token_us": verify,
        "verify_access_token_cached_us": verify_cached,
    }))
}

fn main() -> ExitCode {
    let result = parse_args().and_then(|args| {
        tokio::runtime::Builder::new_current_thread()
            .enable_all()
            .build()?
            .block_on(run(args))
    });
    match result {
        Ok(out) => {
            println!("{out}");
            ExitCode::SUCCESS
        }
        Err(e) => {
            eprintln!("timing: {e}");
            ExitCode::FAILURE
        }
    }
}
