//! One hot path at a time, for instruction counts under callgrind (stable on a loaded machine,
//! where wall-clock timings are not).
//!
//! ```text
//! cargo build --release -p auth0-api --example instructions
//! valgrind --tool=callgrind --toggle-collect='*measured_*' \
//!     target/release/examples/instructions PATH [N]
//! ```
//!
//! Only the `measured_*` functions are counted: `N` verifications (default 200) of what `PATH`
//! names, every input made before. Divide callgrind's total by `N`; subtract the matching bare
//! path (`bare` for Bearer paths, `bare_dpop` for DPoP ones) for the cost above the signature
//! check(s). Paths (default options unless said otherwise):
//!
//! - `bare`, `bare_dpop`: the bare RS256 check, and RS256 + ES256, on the same kind of inputs;
//! - `floor`: distinct fresh tokens, the floor verifier (`benches/common/floor.rs`): the least
//!   a correct verifier of these tokens does;
//! - `off`: distinct fresh tokens, verified-token cache off;
//! - `filling`: distinct fresh tokens, default options (the cache fills);
//! - `full_small`: distinct fresh tokens, a cache of 256 entries filled first (deviation: a
//!   small cache, so that filling it under valgrind takes seconds);
//! - `evicting_small`: as `full_small`, each token verified twice in a row (the second sighting
//!   is admitted: every insert evicts);
//! - `repeated`: one token seen before;
//! - `dpop`: `verify_request`, distinct tokens bound to one key, a fresh proof each;
//! - `dpop_new_key`: the same with a new DPoP key (and its token) per request;
//! - `static_one`, `mcd50`, `mcd200`: distinct fresh tokens of 1, 50 or 200 issuers of a static
//!   `domains` list, round-robin, cache filling (deviation: static keys, so that no tenant per
//!   issuer is needed under valgrind; once an issuer is resolved, its path is the one a fetched
//!   key set takes: the lock-free table of issuers resolved before).
//! - `fetchedK`, `bare_fetchedK` (any count `K`, e.g. `fetched200`): `K` dev tenants, each with
//!   its own key, a static list of them, default options, fresh tokens round-robin (the
//!   `paired_ratios` issuers paths); `bare_` is the bare check with each token's issuer key.
//!   Starting the tenants under valgrind takes about a second each. With a small modelled
//!   last-level cache (`--cache-sim=yes --LL=131072,8,64`) an issuer's memory is cold by its
//!   next token, as with 200 issuers on the real machine, and the misses show where.

#![allow(
    clippy::unwrap_used,
    clippy::expect_used,
    clippy::print_stdout,
    clippy::panic
)]

use std::hint::black_box;

use auth0_api::ApiClient;
use auth0_api_dev_tenant::dpop::DpopKey;
use aws_lc_rs::signature::ParsedPublicKey;
use tokio::runtime::Runtime;

#[path = "../benches/common/mod.rs"]
mod common;

use common::floor::Floor;
use common::{
    URL, current_thread, default_client, default_options, distinct_bound_tokens, distinct_tokens,
    dpop_headers, dpop_request, ec_key, fill, floor_of, issuers_client, round_robin_tokens,
    rsa_key, split, start_tenant, start_tenants,
};

#[inline(never)]
fn measured_floor(floor: &Floor, tokens: &[String]) {
    for token in tokens {
        assert!(floor.verify(black_box(token)));
    }
}

#[inline(never)]
fn measured_bare(rsa: &ParsedPublicKey, splits: &[(Vec<u8>, Vec<u8>)]) {
    for (input, sig) in splits {
        rsa.verify_sig(black_box(input), black_box(sig)).unwrap();
    }
}

#[inline(never)]
fn measured_bare_dpop(
    rsa: &ParsedPublicKey,
    each: &[(ParsedPublicKey, Vec<u8>, Vec<u8>)],
    tokens: &[(Vec<u8>, Vec<u8>)],
) {
    for ((ec, p_input, p_sig), (t_input, t_sig)) in each.iter().zip(tokens) {
        rsa.verify_sig(black_box(t_input), black_box(t_sig))
            .unwrap();
        ec.verify_sig(black_box(p_input), black_box(p_sig)).unwrap();
    }
}

#[inline(never)]
fn measured_bare_keys(keys: &[ParsedPublicKey], items: &[(String, usize, common::Split)]) {
    for (_, k, (input, sig)) in items {
        keys[*k]
            .verify_sig(black_box(input), black_box(sig))
            .unwrap();
    }
}

#[inline(never)]
fn measured_lib(rt: &Runtime, client: &ApiClient, tokens: &[String]) {
    rt.block_on(async {
        for t in tokens {
            black_box(client.verify_access_token(black_box(t)).await.unwrap());
        }
    });
}

#[inline(never)]
fn measured_requests(rt: &Runtime, client: &ApiClient, requests: &[http::HeaderMap]) {
    rt.block_on(async {
        for headers in requests {
            black_box(client.verify_request(dpop_request(headers)).await.unwrap());
        }
    });
}

fn main() {
    let mut args = std::env::args().skip(1);
    let path = args.next().unwrap_or_else(|| "filling".into());
    let n: usize = args.next().and_then(|a| a.parse().ok()).unwrap_or(200);
    let rt = current_thread();
    let tenant = start_tenant(&rt);
    let rsa = rsa_key(&tenant);
    let warm = distinct_tokens(&tenant, 1, "warm").remove(0);
    match path.as_str() {
        "bare" => {
            let splits: Vec<_> = distinct_tokens(&tenant, n, "t")
                .iter()
                .map(|t| split(t))
                .collect();
            measured_bare(&rsa, &splits);
        }
        "floor" => {
            let floor = floor_of(std::slice::from_ref(&tenant));
            measured_floor(&floor, &distinct_tokens(&tenant, n, "t"));
        }
        "off" | "filling" | "full_small" | "evicting_small" | "repeated" => {
            let options = match path.as_str() {
                "off" => default_options(&tenant).verified_token_cache(false),
                "full_small" | "evicting_small" => {
                    default_options(&tenant).verified_token_cache_size(256)
                }
                _ => default_options(&tenant),
            };
            let client = ApiClient::new(options.build().unwrap()).unwrap();
            rt.block_on(client.verify_access_token(&warm)).unwrap();
            if path.ends_with("_small") {
                fill(&rt, &client, &distinct_tokens(&tenant, 256, "fill"));
            }
            let tokens = match path.as_str() {
                "repeated" => {
                    fill(&rt, &client, std::slice::from_ref(&warm));
                    vec![warm.clone(); n]
                }
                "evicting_small" => distinct_tokens(&tenant, n / 2, "t")
                    .into_iter()
                    .flat_map(|t| [t.clone(), t])
                    .collect(),
                _ => distinct_tokens(&tenant, n, "t"),
            };
            measured_lib(&rt, &client, &tokens);
        }
        "bare_dpop" | "dpop" | "dpop_new_key" => {
            let new_key = path == "dpop_new_key";
            let one = DpopKey::generate();
            let keys: Vec<DpopKey> = (0..if new_key { n } else { 0 })
                .map(|_| DpopKey::generate())
                .collect();
            let key_of = |i: usize| if new_key { &keys[i] } else { &one };
            let tokens: Vec<String> = (0..n)
                .map(|i| {
                    distinct_bound_tokens(&tenant, &key_of(i).thumbprint(), 1, &format!("b{i}"))
                        .remove(0)
                })
                .collect();
            let proofs: Vec<String> = (0..n)
                .map(|i| key_of(i).proof("GET", URL, Some(&tokens[i])).sign())
                .collect();
            if path == "bare_dpop" {
                let each: Vec<_> = proofs
                    .iter()
                    .map(|p| {
                        let (input, sig) = split(p);
                        (ec_key(&one.public_jwk()), input, sig)
                    })
                    .collect();
                let splits: Vec<_> = tokens.iter().map(|t| split(t)).collect();
                measured_bare_dpop(&rsa, &each, &splits);
            } else {
                let client = default_client(&rt, &tenant, &warm);
                let requests: Vec<_> = tokens
                    .iter()
                    .zip(proofs)
                    .map(|(t, p)| dpop_headers(t, &p))
                    .collect();
                measured_requests(&rt, &client, &requests);
            }
        }
        "static_one" | "mcd50" | "mcd200" => {
            let issuers: Vec<String> = match path.as_str() {
                "static_one" => vec![tenant.issuer().to_owned()],
                _ => {
                    let count = if path == "mcd50" { 50 } else { 200 };
                    (0..count)
                        .map(|i| format!("https://tenant-{i}.example.com/"))
                        .collect()
                }
            };
            let client = ApiClient::new(
                auth0_api::ApiClientOptions::builder()
                    .domains(issuers.iter().cloned())
                    .audience(common::AUD)
                    .static_jwks(tenant.jwks().to_string())
                    .build()
                    .unwrap(),
            )
            .unwrap();
            let token = |iss: &str, tag: String| {
                common::auth0_shaped(&tenant)
                    .issuer(iss)
                    .claim("jti", serde_json::json!(tag))
                    .sign()
            };
            // Every issuer resolved once, then N fresh tokens round-robin.
            let warm: Vec<String> = issuers
                .iter()
                .map(|iss| token(iss, format!("warm-{iss}")))
                .collect();
            fill(&rt, &client, &warm);
            let tokens: Vec<String> = (0..n)
                .map(|i| token(&issuers[i % issuers.len()], format!("t-{i}")))
                .collect();
            measured_lib(&rt, &client, &tokens);
        }
        // Dev tenants of their own (each its own key), round-robin, as `paired_ratios` runs
        // them: the library, and the bare check with each token's issuer key.
        p if p.starts_with("fetched") || p.starts_with("bare_fetched") => {
            let count: usize = p
                .trim_start_matches("bare_")
                .trim_start_matches("fetched")
                .parse()
                .unwrap();
            let (_tenant_rt, fleet) = start_tenants(count);
            let items = round_robin_tokens(&fleet, n.div_ceil(count));
            let items = &items[..n];
            if p.starts_with("bare_") {
                let keys: Vec<_> = fleet.iter().map(rsa_key).collect();
                measured_bare_keys(&keys, items);
            } else {
                let warm: Vec<String> = fleet
                    .iter()
                    .map(|t| common::auth0_shaped(t).sign())
                    .collect();
                let client = issuers_client(&rt, &fleet, &warm);
                let tokens: Vec<String> = items.iter().map(|(t, _, _)| t.clone()).collect();
                measured_lib(&rt, &client, &tokens);
            }
        }
        other => panic!("unknown path {other}"),
    }
    println!("{path}: {n} verifications measured");
}
