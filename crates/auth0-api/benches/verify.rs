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
//! - `default/*` (issue #18): the **default options** (verified-token cache on, 10,000 entries;
//!   default replay store) with tokens the client has never seen, each `jti` distinct (made up
//!   front, 4,096 of them; a new client is made, untimed, whenever a client has seen them all):
//!   `raw_rs256` is the bare check over the same tokens; `floor` the floor verifier
//!   (`common/floor.rs`: the least a correct verifier does); `bearer_cache_off` the same
//!   tokens with the cache off; `bearer_cache_filling` a default client; `bearer_cache_full` a
//!   default client first filled with 10,000 other tokens (each verified twice, so that a
//!   cache admitting tokens on their second sighting holds them too): every insert evicts.
//!   `raw_rs256_es256` vs `dpop_one_key` (distinct tokens bound to one key, a fresh proof each)
//!   and `dpop_new_key` (a new DPoP key and its token per request; the bare pair gets each
//!   key parsed), 1,024 bound tokens each, proofs made per chunk of 32.
//!
//! The `bearer` and `dpop` groups predate these and deviate from the defaults: their `fresh`
//! client has the verified-token cache off and a replay store of 50,000,000 proofs (the default
//! keeps 1,000,000, at most 100,000 per key, which one key's proofs would exceed within a run),
//! and they verify the same token over and over.
//!
//! Run: `cargo bench -p auth0-api --bench verify`.

#![allow(missing_docs, clippy::unwrap_used, clippy::expect_used)]

use std::hint::black_box;
use std::time::{Duration, Instant};

use auth0_api::ApiClient;
use auth0_api_dev_tenant::dpop::DpopKey;
use criterion::{Criterion, criterion_group, criterion_main};

#[path = "common/mod.rs"]
mod common;

use common::{
    Clients, DpopFleet, Signed, Stream, URL, auth0_shaped, clients, current_thread, default_client,
    default_options, distinct_tokens, dpop_headers, dpop_request, ec_key, fill, floor_of, in_turn,
    rsa_key, split, start_tenant, time_bare_pairs, time_requests, with_splits,
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
    let request = |proof: String| dpop_headers(&bound, &proof);
    rt.block_on(fresh.verify_request(dpop_request(&request(proof.clone()))))
        .unwrap();
    rt.block_on(no_replay.verify_request(dpop_request(&request(proof.clone()))))
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
            elapsed += time_requests(&rt, client, &requests);
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
                let token = (t_input.clone(), t_sig.clone());
                let run_bare =
                    || time_bare_pairs(&rsa, split_proofs.iter().map(|p| (&token, p, &ec)));
                let run_lib = || time_requests(&rt, &fresh, &requests);
                let (b, l) = in_turn(i, run_bare, run_lib);
                bare += b;
                lib += l;
            }
            as_ratio(iters, lib, bare)
        })
    });
    g.finish();

    defaults(c, &rt, &tenant, &rsa);
}

/// The `default` group: see the module comment.
fn defaults(
    c: &mut Criterion,
    rt: &tokio::runtime::Runtime,
    tenant: &auth0_api_dev_tenant::DevTenant,
    rsa: &aws_lc_rs::signature::ParsedPublicKey,
) {
    eprintln!("making 15,000 distinct tokens...");
    let items: Vec<Signed> = with_splits(distinct_tokens(tenant, 4_096, "p"));
    let prefill = distinct_tokens(tenant, 10_000, "fill");
    let warm = distinct_tokens(tenant, 1, "warm").remove(0);
    let mut g = c.benchmark_group("default");
    g.bench_function("raw_rs256", |b| {
        let mut i = 0;
        b.iter(|| {
            let (_, (input, sig)) = &items[i % items.len()];
            i += 1;
            rsa.verify_sig(black_box(input), black_box(sig)).unwrap()
        })
    });
    let bearer = |stream: &mut Stream<'_, Signed>, iters: u64| {
        let mut elapsed = Duration::ZERO;
        for chunk in chunks(iters) {
            let (client, batch) = stream.take(chunk as usize);
            elapsed += rt.block_on(async {
                let start = Instant::now();
                for (token, _) in batch {
                    black_box(client.verify_access_token(black_box(token)).await.unwrap());
                }
                start.elapsed()
            });
        }
        elapsed
    };
    let floor = floor_of(std::slice::from_ref(tenant));
    g.bench_function("floor", |b| {
        let mut i = 0;
        b.iter(|| {
            let (token, _) = &items[i % items.len()];
            i += 1;
            assert!(floor.verify(black_box(token)))
        })
    });
    let no_cache = || {
        let c = ApiClient::new(
            default_options(tenant)
                .verified_token_cache(false)
                .build()
                .unwrap(),
        )
        .unwrap();
        rt.block_on(c.verify_access_token(&warm)).unwrap();
        c
    };
    let mut off = Stream::new(&items, no_cache);
    g.bench_function("bearer_cache_off", |b| {
        b.iter_custom(|iters| bearer(&mut off, iters))
    });
    let mut filling = Stream::new(&items, || default_client(rt, tenant, &warm));
    g.bench_function("bearer_cache_filling", |b| {
        b.iter_custom(|iters| bearer(&mut filling, iters))
    });
    let mut full = Stream::new(&items, || {
        let c = default_client(rt, tenant, &warm);
        fill(rt, &c, &prefill);
        c
    });
    g.sample_size(20);
    g.bench_function("bearer_cache_full", |b| {
        b.iter_custom(|iters| bearer(&mut full, iters))
    });
    g.sample_size(100);

    // DPoP, default options: 1,024 distinct bound tokens on one key, and 1,024 keys each with
    // its own token; a fresh proof per request, made per chunk before the clock starts.
    let key = DpopKey::generate();
    let fleet = DpopFleet::new(tenant, &key, 1_024);
    let (one_key, new_keys) = (&fleet.one_key, &fleet.new_keys);
    let key_of = |k: usize| fleet.key_of(k);
    let made = |batch: &[(usize, String)]| -> Vec<_> {
        batch
            .iter()
            .map(|(k, t)| {
                let proof = key_of(*k).0.proof("GET", URL, Some(t)).sign();
                (*k, split(t), split(&proof), dpop_headers(t, &proof))
            })
            .collect()
    };
    g.bench_function("raw_rs256_es256", |b| {
        let mut next = 0;
        b.iter_custom(|iters| {
            let mut elapsed = Duration::ZERO;
            for chunk in chunks(iters) {
                let start_at = next % (new_keys.len() - CHUNK as usize);
                next += chunk as usize;
                let batch = made(&new_keys[start_at..start_at + chunk as usize]);
                elapsed +=
                    time_bare_pairs(rsa, batch.iter().map(|(k, t, p, _)| (t, p, key_of(*k).1)));
            }
            elapsed
        })
    });
    let dpop = |stream: &mut Stream<'_, (usize, String)>, iters: u64| {
        let mut elapsed = Duration::ZERO;
        for chunk in chunks(iters) {
            let (client, batch) = stream.take(chunk as usize);
            let requests: Vec<_> = made(batch).into_iter().map(|m| m.3).collect();
            elapsed += time_requests(rt, &client, &requests);
        }
        elapsed
    };
    let mut one = Stream::new(one_key, || default_client(rt, tenant, &warm));
    g.bench_function("dpop_one_key", |b| {
        b.iter_custom(|iters| dpop(&mut one, iters))
    });
    let mut each = Stream::new(new_keys, || default_client(rt, tenant, &warm));
    g.bench_function("dpop_new_key", |b| {
        b.iter_custom(|iters| dpop(&mut each, iters))
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
