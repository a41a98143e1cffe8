//! What the benches and `examples/paired_ratios.rs` share: the token they verify and the bare
//! checks' keys. Included with `#[path]` (a folder, so that Cargo does not take it for a bench).

#![allow(dead_code, clippy::unwrap_used)]

use std::hint::black_box;
use std::sync::Arc;
use std::time::{Duration, Instant};

use auth0_api::dpop::replay::InMemoryReplayStore;
use auth0_api::{ApiClient, ApiClientOptions, VerifyRequest};
use auth0_api_dev_tenant::DevTenant;
use auth0_api_dev_tenant::dpop::DpopKey;
use aws_lc_rs::signature::{self, ParsedPublicKey, RsaPublicKeyComponents};
use base64::Engine as _;
use base64::engine::general_purpose::URL_SAFE_NO_PAD;
use serde_json::{Value, json};

pub mod floor;

/// The audience of every bench token.
pub const AUD: &str = "https://api.example.com";
/// The request URL of the DPoP benches.
pub const URL: &str = "https://api.example.com/calendar/events";

pub fn b64(s: &str) -> Vec<u8> {
    URL_SAFE_NO_PAD.decode(s).unwrap()
}

/// A compact JWS's signing input and decoded signature.
pub type Split = (Vec<u8>, Vec<u8>);

/// A token with its [`Split`].
pub type Signed = (String, Split);

/// Tokens with their splits.
pub fn with_splits(tokens: Vec<String>) -> Vec<Signed> {
    tokens
        .into_iter()
        .map(|t| {
            let s = split(&t);
            (t, s)
        })
        .collect()
}

/// A compact JWS as (signing input, decoded signature): what a bare check gets for free.
pub fn split(jws: &str) -> Split {
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

/// The [floor verifier](floor) of `fleet`'s tokens for [`AUD`], with keys of its own (parsed
/// apart from the bare check's and the library's).
///
/// Checks first that it refuses what it must (a changed signature, another audience, an
/// expired token, `HS256`, and in a list another tenant's key under the first's name), so
/// that its figures are those of a verifier.
pub fn floor_of(fleet: &[DevTenant]) -> floor::Floor {
    let floor = floor::Floor::new(
        AUD,
        fleet
            .iter()
            .map(|t| (t.issuer().to_owned(), t.active_kid(), rsa_key(t))),
    );
    let t = &fleet[0];
    let good = auth0_shaped(t).sign();
    assert!(floor.verify(&good), "the floor refuses a valid token");
    let last = good.chars().last().unwrap();
    let flipped = format!(
        "{}{}",
        &good[..good.len() - 1],
        if last == 'A' { 'Q' } else { 'A' }
    );
    // Another tenant's key under this issuer's name and `kid` (a list of two or more).
    let foreign = fleet.get(1).map(|other| {
        auth0_shaped(other)
            .issuer(t.issuer())
            .kid(t.active_kid())
            .sign()
    });
    for bad in [
        flipped,
        auth0_shaped(t).aud(json!(["https://other.example"])).sign(),
        auth0_shaped(t).expired().sign(),
        auth0_shaped(t).sign_with_hs256(b"0123456789abcdef0123456789abcdef"),
    ]
    .into_iter()
    .chain(foreign)
    {
        assert!(!floor.verify(&bad), "the floor accepts an invalid token");
    }
    floor
}

/// Checks that `floor` accepts a DPoP request of `key` on `tenant` and refuses what it must: the
/// same proof again, a proof for another URL or method, a token bound to another key, a proof
/// without `ath`.
pub fn check_dpop_floor(floor: &floor::Floor, tenant: &DevTenant, key: &DpopKey) {
    let token = auth0_shaped(tenant).cnf_jkt(key.thumbprint()).sign();
    let proof = key.proof("GET", URL, Some(&token)).sign();
    assert!(floor.verify_dpop(&token, &proof, "GET", URL));
    let other = DpopKey::generate();
    let other_token = auth0_shaped(tenant).cnf_jkt(other.thumbprint()).sign();
    for (t, p, method) in [
        (&token, proof.clone(), "GET"),
        (&token, key.proof("GET", URL, Some(&token)).sign(), "POST"),
        (
            &token,
            key.proof("GET", "https://api.example.com/other", Some(&token))
                .sign(),
            "GET",
        ),
        (
            &other_token,
            key.proof("GET", URL, Some(&other_token)).sign(),
            "GET",
        ),
        (&token, key.proof("GET", URL, None).sign(), "GET"),
    ] {
        assert!(
            !floor.verify_dpop(t, &p, method, URL),
            "the floor accepts an invalid request"
        );
    }
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

/// `n` distinct Auth0-shaped tokens (each its own `jti`, `tag-i`), as a stream of new clients'
/// requests presents them: a token the API has not seen before.
pub fn distinct_tokens(tenant: &DevTenant, n: usize, tag: &str) -> Vec<String> {
    (0..n)
        .map(|i| {
            auth0_shaped(tenant)
                .claim("jti", json!(format!("{tag}-{i}")))
                .sign()
        })
        .collect()
}

/// `n` distinct Auth0-shaped tokens bound to the DPoP key thumbprint `jkt`.
pub fn distinct_bound_tokens(tenant: &DevTenant, jkt: &str, n: usize, tag: &str) -> Vec<String> {
    (0..n)
        .map(|i| {
            auth0_shaped(tenant)
                .cnf_jkt(jkt)
                .claim("jti", json!(format!("{tag}-{i}")))
                .sign()
        })
        .collect()
}

/// The default options for `tenant` (verified-token cache on, 10,000 entries; default replay
/// store): what an API gets without tuning.
pub fn default_options(tenant: &DevTenant) -> auth0_api::ApiClientOptionsBuilder {
    ApiClientOptions::builder()
        .domain(tenant.domain())
        .audience(AUD)
        .root_ca_pem(tenant.ca_pem())
}

/// A client with the default options, its discovery and key set loaded (by verifying `warm`).
pub fn default_client(rt: &tokio::runtime::Runtime, tenant: &DevTenant, warm: &str) -> ApiClient {
    let client = ApiClient::new(default_options(tenant).build().unwrap()).unwrap();
    rt.block_on(client.verify_access_token(warm)).unwrap();
    client
}

/// Verifies every token of `fill` twice, so that a verified-token cache of `fill.len()`
/// entries holds them all (a cache may admit a token on its second sighting only).
pub fn fill(rt: &tokio::runtime::Runtime, client: &ApiClient, fill: &[String]) {
    rt.block_on(async {
        for _ in 0..2 {
            for t in fill {
                client.verify_access_token(t).await.unwrap();
            }
        }
    });
}

/// Distinct inputs handed out in order, each at most once per client: when they run out, the
/// client is replaced by a new one made by `make` (untimed: its documents loaded, its cache
/// filled if `make` fills it), so that every input is one that client has not seen. Tokens
/// cost an RSA signature each to make, far more than a verification; this is how a bench keeps
/// presenting tokens its client has never seen without minting one per call.
pub struct Stream<'a, T> {
    items: &'a [T],
    next: usize,
    make: Box<dyn Fn() -> ApiClient + 'a>,
    client: ApiClient,
    /// Clients made so far.
    pub clients: usize,
}

impl<'a, T> Stream<'a, T> {
    pub fn new(items: &'a [T], make: impl Fn() -> ApiClient + 'a) -> Self {
        let client = make();
        Self {
            items,
            next: 0,
            make: Box::new(make),
            client,
            clients: 1,
        }
    }

    /// The next `n` inputs (at most all of them) and the client that has seen none of them.
    pub fn take(&mut self, n: usize) -> (ApiClient, &'a [T]) {
        let n = n.min(self.items.len());
        if self.next + n > self.items.len() {
            self.client = (self.make)();
            self.clients += 1;
            self.next = 0;
        }
        let items = &self.items[self.next..self.next + n];
        self.next += n;
        (self.client.clone(), items)
    }
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

/// The headers of a DPoP request to [`URL`]: `Authorization: DPoP <token>` and the proof.
pub fn dpop_headers(token: &str, proof: &str) -> http::HeaderMap {
    let mut headers = http::HeaderMap::new();
    let value = |v: String| http::HeaderValue::try_from(v).unwrap();
    headers.insert(http::header::AUTHORIZATION, value(format!("DPoP {token}")));
    headers.insert("dpop", value(proof.to_owned()));
    headers
}

/// A `GET` of [`URL`] with `headers`, borrowed as a server (and the axum layer) lends its
/// request's parts: the request's own memory is the server's, made and freed whether or not it
/// is verified.
pub fn dpop_request(headers: &http::HeaderMap) -> VerifyRequest<'_> {
    VerifyRequest::from_headers(headers).method("GET").url(URL)
}

/// The time `client.verify_request` takes for a [`dpop_request`] of every one of `requests`
/// (each must pass), on `rt`. The header maps are made before and dropped after the clock.
pub fn time_requests(
    rt: &tokio::runtime::Runtime,
    client: &ApiClient,
    requests: &[http::HeaderMap],
) -> Duration {
    rt.block_on(async {
        let start = Instant::now();
        for headers in requests {
            black_box(client.verify_request(dpop_request(headers)).await.unwrap());
        }
        start.elapsed()
    })
}

/// The time the bare checks of DPoP requests take: for each, the token's RS256 signature with
/// `rsa` and the proof's signature with its own key.
pub fn time_bare_pairs<'a>(
    rsa: &ParsedPublicKey,
    pairs: impl IntoIterator<Item = (&'a Split, &'a Split, &'a ParsedPublicKey)>,
) -> Duration {
    let start = Instant::now();
    for ((t_input, t_sig), (p_input, p_sig), key) in pairs {
        rsa.verify_sig(black_box(t_input), black_box(t_sig))
            .unwrap();
        key.verify_sig(black_box(p_input), black_box(p_sig))
            .unwrap();
    }
    start.elapsed()
}

/// DPoP-bound tokens for the default-options DPoP paths: `n` distinct tokens bound to `key`
/// (tagged `usize::MAX`), and one token for each of `n` new keys (tagged with the key's index).
pub struct DpopFleet<'k> {
    key: &'k DpopKey,
    parsed_key: ParsedPublicKey,
    keys: Vec<DpopKey>,
    parsed: Vec<ParsedPublicKey>,
    /// Tokens bound to `key`.
    pub one_key: Vec<(usize, String)>,
    /// A token per new key.
    pub new_keys: Vec<(usize, String)>,
}

impl<'k> DpopFleet<'k> {
    /// Makes the keys and mints the tokens.
    pub fn new(tenant: &DevTenant, key: &'k DpopKey, n: usize) -> Self {
        let keys: Vec<DpopKey> = (0..n).map(|_| DpopKey::generate()).collect();
        let parsed = keys.iter().map(|k| ec_key(&k.public_jwk())).collect();
        let one_key = distinct_bound_tokens(tenant, &key.thumbprint(), n, "d")
            .into_iter()
            .map(|t| (usize::MAX, t))
            .collect();
        let new_keys = keys
            .iter()
            .enumerate()
            .map(|(i, k)| {
                let t = distinct_bound_tokens(tenant, &k.thumbprint(), 1, &format!("k{i}"));
                (i, t.into_iter().next().unwrap())
            })
            .collect();
        Self {
            key,
            parsed_key: ec_key(&key.public_jwk()),
            keys,
            parsed,
            one_key,
            new_keys,
        }
    }

    /// The signing key of tag `k` and its parsed public key (for the bare check).
    pub fn key_of(&self, k: usize) -> (&DpopKey, &ParsedPublicKey) {
        if k == usize::MAX {
            (self.key, &self.parsed_key)
        } else {
            (&self.keys[k], &self.parsed[k])
        }
    }
}

/// `n` dev tenants (each its own port, CA and RSA key), on a runtime of their own so that they
/// answer whatever the measuring threads do; answers the runtime too (keep it alive).
pub fn start_tenants(n: usize) -> (tokio::runtime::Runtime, Vec<DevTenant>) {
    let tenant_rt = tokio::runtime::Builder::new_multi_thread()
        .worker_threads(1)
        .enable_all()
        .build()
        .unwrap();
    let tenants = tenant_rt.block_on(async {
        let mut v = Vec::with_capacity(n);
        for _ in 0..n {
            v.push(
                DevTenant::builder()
                    .client("cid", "s", [AUD])
                    .start()
                    .await
                    .unwrap(),
            );
        }
        v
    });
    (tenant_rt, tenants)
}

/// Issuers up to which a static list's client checks the tenants' certificates.
const CHECKED_CERTIFICATES_UP_TO: usize = 50;

/// A client for the static `domains` list of `fleet` with the default options, every issuer's
/// documents loaded (by verifying one token of each, `warm`).
///
/// Every dev tenant's CA has the same name, and with more than 50 of them rustls's path building
/// exceeds its budget of signature checks (`MaximumSignatureChecksExceeded`). Deviation, for
/// such lists only: certificates are not checked. TLS serves only the untimed document loads.
pub fn issuers_client(
    rt: &tokio::runtime::Runtime,
    fleet: &[DevTenant],
    warm: &[String],
) -> ApiClient {
    let mut options = ApiClientOptions::builder()
        .domains(fleet.iter().map(|t| t.domain().to_owned()))
        .audience(AUD);
    if fleet.len() <= CHECKED_CERTIFICATES_UP_TO {
        for t in fleet {
            options = options.root_ca_pem(t.ca_pem());
        }
    } else {
        options = options.http_client(
            reqwest::Client::builder()
                .danger_accept_invalid_certs(true)
                .build()
                .unwrap(),
        );
    }
    let client = ApiClient::new(options.build().unwrap()).unwrap();
    rt.block_on(async {
        for t in warm {
            client.verify_access_token(t).await.unwrap();
        }
    });
    client
}

/// `per_issuer` distinct tokens of each tenant of `fleet`, round-robin (token j of every
/// issuer, then token j + 1 of every issuer...), each with its issuer's index and its split.
pub fn round_robin_tokens(fleet: &[DevTenant], per_issuer: usize) -> Vec<(String, usize, Split)> {
    let tokens: Vec<Vec<String>> = fleet
        .iter()
        .map(|t| distinct_tokens(t, per_issuer, "m"))
        .collect();
    (0..per_issuer)
        .flat_map(|j| (0..fleet.len()).map(move |i| (i, j)))
        .map(|(i, j)| {
            let t = tokens[i][j].clone();
            let s = split(&t);
            (t, i, s)
        })
        .collect()
}
