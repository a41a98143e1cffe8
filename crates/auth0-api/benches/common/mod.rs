//! What the benches and `examples/paired_ratios.rs` share: the token they verify and the bare
//! checks' keys. Included with `#[path]` (a folder, so that Cargo does not take it for a bench).

#![allow(dead_code, clippy::unwrap_used)]

use std::sync::Arc;

use auth0_api::dpop::replay::InMemoryReplayStore;
use auth0_api::{ApiClient, ApiClientOptions};
use auth0_api_dev_tenant::DevTenant;
use aws_lc_rs::signature::{self, ParsedPublicKey, RsaPublicKeyComponents};
use base64::Engine as _;
use base64::engine::general_purpose::URL_SAFE_NO_PAD;
use serde_json::{Value, json};

/// The audience of every bench token.
pub const AUD: &str = "https://api.example.com";
/// The request URL of the DPoP benches.
pub const URL: &str = "https://api.example.com/calendar/events";

pub fn b64(s: &str) -> Vec<u8> {
    URL_SAFE_NO_PAD.decode(s).unwrap()
}

/// A compact JWS as (signing input, decoded signature): what a bare check gets for free.
pub fn split(jws: &str) -> (Vec<u8>, Vec<u8>) {
    let (input, sig) = jws.rsplit_once('.').unwrap();
    (input.as_bytes().to_vec(), b64(sig))
}

/// The tenant's active RSA key as a pre-parsed aws-lc-rs key (what the bare check gets for free).
pub fn rsa_key(tenant: &DevTenant) -> ParsedPublicKey {
    let kid = tenant.active_kid();
    let jwks = tenant.jwks();
    let jwk = jwks["keys"]
        .as_array()
        .unwrap()
        .iter()
        .find(|k| k["kid"] == kid.as_str())
        .unwrap();
    let n = b64(jwk["n"].as_str().unwrap());
    let e = b64(jwk["e"].as_str().unwrap());
    RsaPublicKeyComponents {
        n: &n[..],
        e: &e[..],
    }
    .to_parsed_public_key(&signature::RSA_PKCS1_2048_8192_SHA256)
    .unwrap()
}

/// A DPoP key's public JWK as a pre-parsed aws-lc-rs ES256 key.
pub fn ec_key(jwk: &Value) -> ParsedPublicKey {
    let mut point = vec![4u8];
    point.extend(b64(jwk["x"].as_str().unwrap()));
    point.extend(b64(jwk["y"].as_str().unwrap()));
    ParsedPublicKey::new(&signature::ECDSA_P256_SHA256_FIXED, point).unwrap()
}

/// An Auth0-shaped access token (iss, sub, `aud` array of 2, iat, exp, scope, azp; about 800
/// bytes), to sign as is or to bind with `.cnf_jkt(...)` first.
pub fn auth0_shaped(tenant: &DevTenant) -> auth0_api_dev_tenant::TokenBuilder {
    tenant
        .mint()
        .sub("google-oauth2|104560012345678901234")
        .aud(json!([AUD, format!("{}userinfo", tenant.issuer())]))
        .scope("openid profile email read:calendar write:calendar offline_access")
        .claim("azp", json!("x4Yq2LmN8pQ3rS5tU7vW9xZ1aB3cD5eF"))
}

/// A current-thread Tokio runtime with timers and I/O.
pub fn current_thread() -> tokio::runtime::Runtime {
    tokio::runtime::Builder::new_current_thread()
        .enable_all()
        .build()
        .unwrap()
}

/// A dev tenant with a client for [`AUD`], started on `rt`.
pub fn start_tenant(rt: &tokio::runtime::Runtime) -> DevTenant {
    rt.block_on(DevTenant::builder().client("cid", "s", [AUD]).start())
        .unwrap()
}

/// The clients the hot-path measurements compare, all on one tenant.
pub struct Clients {
    /// Every token verified in full (verified-token cache off); a replay store big enough for
    /// every proof of a run, so that it never refuses one.
    pub fresh: ApiClient,
    /// As `fresh`, without replay protection (what remembering proofs costs).
    pub no_replay: ApiClient,
    /// The default: a token seen before comes from the verified-token cache.
    pub cached: ApiClient,
}

pub fn clients(tenant: &DevTenant) -> Clients {
    let options = || {
        ApiClientOptions::builder()
            .domain(tenant.domain())
            .audience(AUD)
            .root_ca_pem(tenant.ca_pem())
    };
    let store = Arc::new(InMemoryReplayStore::new(50_000_000, 50_000_000));
    let build = |b: auth0_api::ApiClientOptionsBuilder| ApiClient::new(b.build().unwrap()).unwrap();
    Clients {
        fresh: build(options().verified_token_cache(false).replay_store(store)),
        no_replay: build(
            options()
                .verified_token_cache(false)
                .replay_protection(false),
        ),
        cached: build(options()),
    }
}

/// Runs `bare` and `lib` in turn, the bare side first in even turns and second in odd ones (so
/// that neither always follows the other's or the set-up's work); answers (bare, lib).
pub fn in_turn<T>(turn: usize, bare: impl FnOnce() -> T, lib: impl FnOnce() -> T) -> (T, T) {
    if turn % 2 == 0 {
        let b = bare();
        (b, lib())
    } else {
        let l = lib();
        (bare(), l)
    }
}
