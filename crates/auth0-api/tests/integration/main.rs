//! Integration tests of `auth0-api` against the dev tenant over real HTTPS on loopback.
//! One test binary for the crate; each module covers one area.

#![allow(clippy::unwrap_used, clippy::expect_used, clippy::panic)]

mod access_token;
mod attacks;
mod bench_floor;
mod caching;
mod domains;
mod exactness;
mod exchange;
mod exchange_extra;
mod jwe;
mod misbehaving;
mod mtls;
mod observer;
mod organization;
mod properties;
mod reasons;
#[cfg(feature = "redis")]
mod redis;
mod request;
mod static_keys;
mod token_location;

use auth0_api::{ApiClient, ApiClientOptions, ApiClientOptionsBuilder};
use auth0_api_dev_tenant::DevTenant;

/// The audience used throughout.
pub const AUD: &str = "https://api.example.com";

/// A tenant with one registered client.
pub async fn tenant() -> DevTenant {
    DevTenant::builder()
        .client("cid", "csecret", [AUD, "https://downstream.example.com"])
        .start()
        .await
        .expect("dev tenant starts")
}

/// Options trusting `tenant`'s CA, in single-domain mode.
pub fn options(tenant: &DevTenant) -> ApiClientOptionsBuilder {
    ApiClientOptions::builder()
        .domain(tenant.domain())
        .audience(AUD)
        .root_ca_pem(tenant.ca_pem())
}

/// A client from options.
pub fn client(b: ApiClientOptionsBuilder) -> ApiClient {
    ApiClient::new(b.build().expect("valid options")).expect("client")
}

/// The description of a failed verification (panics on success).
pub async fn fail(client: &ApiClient, token: &str) -> auth0_api::Error {
    match client.verify_access_token(token).await {
        Ok(c) => panic!("expected a failure, got claims {c:?}"),
        Err(e) => e,
    }
}
