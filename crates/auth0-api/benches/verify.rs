//! Criterion benches of the hot paths, each next to the bare signature check(s) it cannot beat,
//! measured in the same run so that ratios hold on any machine.
//!
//! - `bearer/raw_rs256` vs `bearer/verify_access_token`: an Auth0-shaped RS256 token (iss, sub,
//!   aud array of 2, iat, exp, scope, azp; about 800 bytes) with warm discovery/JWKS caches,
//!   verified in full each time; `bearer/verify_access_token_all_claims`: the same, then the
//!   whole claims map read (it is built on first use); `bearer/verify_access_token_cached`: the
//!   same token served by the verified-token cache (the default).
//! - `dpop/raw_rs256_es256` vs `dpop/verify_request`: an RS256 access token bound by `cnf.jkt`
//!   plus a fresh ES256 proof per iteration, replay store on; `dpop/raw_rs256_es256_fresh_proofs`
//!   is the bare pair over the same kind of fresh proofs (one per iteration, prepared before the
//!   clock starts), the fair baseline for `verify_request`, whose proofs are all new too. Both
//!   make and time their proofs in chunks of 32, so that each is in the caches when checked, as
//!   a request a server has just read would be.
//! - `ratio/bearer_fresh_over_raw_rs256`, `ratio/dpop_request_over_raw_pair`: the two ratios
//!   measured directly (bare and library alternating in chunks of 32 within every iteration),
//!   reported as a "time" of `ratio` microseconds; the ratio of two separate benches carries the
//!   machine's drift between them, these do not.
//!
//! Run: `cargo bench -p auth0-api --bench verify`.

#![allow(missing_docs, clippy::unwrap_used, clippy::expect_used)]

use std::hint::black_box;
use std::time::{Duration, Instant};

use auth0_api::{ApiClient, VerifyRequest};
use auth0_api_dev_tenant::dpop::DpopKey;
use criterion::{Criterion, criterion_group, criterion_main};

#[path = "common/mod.rs"]
mod common;

use common::{
    Clients, URL, auth0_shaped, clients, current_thread, ec_key, in_turn, rsa_key, split,
    start_tenant,
};

fn benches(c: &mut Criterion) {
    let rt = current_thread();
    let tenant = start_tenant(&rt);
    let Clients {
        fresh,
        no_replay,
        cached,
    } = clients(&tenant);
    let rsa = rsa_key(&tenant);

    // Bearer
    let token = auth0_shaped(&tenant).sign();
    eprintln!("Auth0-shaped token: {} bytes", token.len());
    rt.block_on(fresh.verify_access_token(&token)).unwrap();
    rt.block_on(cached.verify_access_token(&token)).unwrap();
    let (input, sig) = split(&token);
    let mut g = c.benchmark_group("bearer");
    g.bench_function("raw_rs256", |b| {
        b.iter(|| rsa.verify_sig(black_box(&input), black_box(&sig)).unwrap())
    });
    // The loop runs inside one `block_on`, so that the executor's per-iteration overhead is not
    // charged to the library.
    g.bench_function("verify_access_token", |b| {
        b.iter_custom(|iters| {
            rt.block_on(async {
                let start = Instant::now();
                for _ in 0..iters {
                    black_box(fresh.verify_access_token(black_box(&token)).await.unwrap());
                }
                start.elapsed()
            })
        })
    });
    // The same, then every claim read: the claims map is built on first use, so this is what a
    // caller that wants the whole payload (not just `sub`, `scope`, `exp`...) pays.
    g.bench_function("verify_access_token_all_claims", |b| {
        b.iter_custom(|iters| {
            rt.block_on(async {
                let start = Instant::now();
                for _ in 0..iters {
                    let claims = fresh.verify_access_token(black_box(&token)).await.unwrap();
                    black_box(claims.as_object().len());
                }
                start.elapsed()
            })
        })
    });
    g.bench_function("verify_access_token_cached", |b| {
        b.iter_custom(|iters| {
            rt.block_on(async {
                let start = Instant::now();
                for _ in 0..iters {
                    black_box(cached.verify_access_token(black_box(&token)).await.unwrap());
                }
                start.elapsed()
            })
        })
    });
    g.finish();

    // DPoP
    let key = DpopKey::generate();
    let ec = ec_key(&key.public_jwk());
    let bound = auth0_shaped(&tenant).cnf_jkt(key.thumbprint()).sign();
    let proof = key.proof("GET", URL, Some(&bound)).sign();
    let (t_input, t_sig) = split(&bound);
    let (p_input, p_sig) = split(&proof);
    let request = |proof: String| {
        VerifyRequest::from_pairs([("authorization", format!("DPoP {bound}")), ("dpop", proof)])
            .method("GET")
            .url(URL)
    };
    rt.block_on(fresh.verify_request(request(proof.clone())))
        .unwrap();
    rt.block_on(no_replay.verify_request(request(proof.clone())))
        .unwrap();
    let mut g = c.benchmark_group("dpop");
    g.bench_function("raw_rs256_es256", |b| {
        b.iter(|| {
            rsa.verify_sig(black_box(&t_input), black_box(&t_sig))
                .unwrap();
            ec.verify_sig(black_box(&p_input), black_box(&p_sig))
                .unwrap();
        })
    });
    // The same bare checks, but of a fresh proof per iteration (made, split and decoded before
    // the clock starts), as `verify_request` gets. Made and timed in chunks of `CHUNK`, as a
    // server gets requests: a request's bytes are in the caches when it is verified (made all
    // at once, tens of thousands of them, each would be fetched from memory, which measured
    // the memory rather than the checks).
    g.bench_function("raw_rs256_es256_fresh_proofs", |b| {
        b.iter_custom(|iters| {
            let mut elapsed = Duration::ZERO;
            for chunk in chunks(iters) {
                let proofs: Vec<_> = (0..chunk)
                    .map(|_| split(&key.proof("GET", URL, Some(&bound)).sign()))
                    .collect();
                let start = Instant::now();
                for (input, sig) in &proofs {
                    rsa.verify_sig(black_box(&t_input), black_box(&t_sig))
                        .unwrap();
                    ec.verify_sig(black_box(input), black_box(sig)).unwrap();
                }
                elapsed += start.elapsed();
            }
            elapsed
        })
    });
    // Fresh proofs (unique jti) made before the clock starts, chunk by chunk as above.
    let requests_of = |client: &ApiClient, iters: u64| {
        let mut elapsed = Duration::ZERO;
        for chunk in chunks(iters) {
            let requests: Vec<_> = (0..chunk)
                .map(|_| request(key.proof("GET", URL, Some(&bound)).sign()))
                .collect();
            elapsed += rt.block_on(async {
                let start = Instant::now();
                for req in requests {
                    black_box(client.verify_request(req).await.unwrap());
                }
                start.elapsed()
            });
        }
        elapsed
    };
    g.bench_function("verify_request", |b| {
        b.iter_custom(|iters| requests_of(&fresh, iters))
    });
    g.bench_function("verify_request_no_replay_store", |b| {
        b.iter_custom(|iters| requests_of(&no_replay, iters))
    });
    g.finish();

    // The ratios themselves, drift-free: each iteration is one bare check and one library call,
    // alternating chunk by chunk, and the time reported for it is the library's time over the
    // bare check's, in microseconds (1.000 us = as fast as the bare check). On a machine whose
    // speed drifts by a few percent between two benches, the ratio of two separate benches moves
    // by as much; here both sides see the same moments.
    // Criterion budgets by reported time: 1 reported us costs ~30 us of wall time here (~170 us
    // for DPoP, proofs included), hence the short budgets (about 10 s of wall time each).
    let mut g = c.benchmark_group("ratio");
    g.warm_up_time(Duration::from_millis(60))
        .measurement_time(Duration::from_millis(300));
    g.bench_function("bearer_fresh_over_raw_rs256", |b| {
        b.iter_custom(|iters| {
            let (mut bare, mut lib) = (Duration::ZERO, Duration::ZERO);
            for (i, chunk) in chunks(iters).enumerate() {
                let run_bare = || {
                    let start = Instant::now();
                    for _ in 0..chunk {
                        rsa.verify_sig(black_box(&input), black_box(&sig)).unwrap();
                    }
                    start.elapsed()
                };
                let run_lib = || {
                    rt.block_on(async {
                        let start = Instant::now();
                        for _ in 0..chunk {
                            black_box(fresh.verify_access_token(black_box(&token)).await.unwrap());
                        }
                        start.elapsed()
                    })
                };
                let (b, l) = in_turn(i, run_bare, run_lib);
                bare += b;
                lib += l;
            }
            as_ratio(iters, lib, bare)
        })
    });
    g.warm_up_time(Duration::from_millis(10))
        .measurement_time(Duration::from_millis(60));
    g.bench_function("dpop_request_over_raw_pair", |b| {
        b.iter_custom(|iters| {
            let (mut bare, mut lib) = (Duration::ZERO, Duration::ZERO);
            for (i, chunk) in chunks(iters).enumerate() {
                let proofs: Vec<String> = (0..chunk)
                    .map(|_| key.proof("GET", URL, Some(&bound)).sign())
                    .collect();
                let split_proofs: Vec<_> = proofs.iter().map(|p| split(p)).collect();
                let requests: Vec<_> = proofs.into_iter().map(request).collect();
                let run_bare = || {
                    let start = Instant::now();
                    for (input, sig) in &split_proofs {
                        rsa.verify_sig(black_box(&t_input), black_box(&t_sig))
                            .unwrap();
                        ec.verify_sig(black_box(input), black_box(sig)).unwrap();
                    }
                    start.elapsed()
                };
                let run_lib = || {
                    rt.block_on(async {
                        let start = Instant::now();
                        for req in requests {
                            black_box(fresh.verify_request(req).await.unwrap());
                        }
                        start.elapsed()
                    })
                };
                let (b, l) = in_turn(i, run_bare, run_lib);
                bare += b;
                lib += l;
            }
            as_ratio(iters, lib, bare)
        })
    });
    g.finish();
}

/// `iters` iterations' worth of "time" that reads as the ratio `lib / bare` in microseconds.
fn as_ratio(iters: u64, lib: Duration, bare: Duration) -> Duration {
    let ratio = lib.as_secs_f64() / bare.as_secs_f64().max(f64::MIN_POSITIVE);
    Duration::from_secs_f64(ratio * 1e-6 * iters as f64)
}

/// Requests made and verified together in the DPoP benches.
const CHUNK: u64 = 32;

/// `iters` split into chunks of at most [`CHUNK`].
fn chunks(iters: u64) -> impl Iterator<Item = u64> {
    (0..iters.div_ceil(CHUNK)).map(move |i| CHUNK.min(iters - i * CHUNK))
}

criterion_group!(verify, benches);
criterion_main!(verify);
