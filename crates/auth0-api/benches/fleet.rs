//! Criterion benches of the fleet-shaped workloads, each next to the bare signature check it
//! cannot beat, measured in the same run so that ratios hold on any machine.
//!
//! - `mcd/raw_rs256` vs `mcd/verify_access_token_50_issuers`: a client with a static `domains`
//!   list of 50 dev tenants (50 issuers, each its own port, CA and RSA key), Auth0-shaped tokens
//!   round-robin over the issuers, warm caches, verified-token cache off. The bare check
//!   round-robins over the same 50 pre-parsed keys. `mcd/verify_access_token_1_issuer` is the
//!   single-domain client on the first tenant, for the cost of the list itself.
//! - `mcd_default/{raw_rs256,verify}_{50,200}_issuers` (issue #18): static `domains` lists of 50
//!   and 200 dev tenants with the **default options** (verified-token cache on), distinct tokens
//!   (16 per issuer, each its own `jti`, made up front) round-robin over the issuers; a new
//!   client, its 50 or 200 issuers loaded untimed, whenever a client has seen every token. The
//!   bare check round-robins over the same tokens and keys. (The 200-issuer client does not check
//!   the tenants' certificates: see the comment in the code.)
//! - `scaling/{raw_rs256,verify_access_token}/{1_thread,2_threads}`: the same fresh-token
//!   verification (token cache off) on one OS thread, then on two, each thread with its own
//!   current-thread Tokio runtime and a clone of one shared `ApiClient`. Reported per
//!   verification of the whole pool (wall time / verifications), so throughput is the inverse;
//!   the 1-thread / 2-threads time ratio is the scaling factor.
//! - `cold_start/1000_concurrent`: 1 000 concurrent verifications (1 000 Tokio tasks on a
//!   2-worker runtime) on a fresh client whose caches are empty; every iteration asserts that the
//!   tenant saw exactly one discovery and one JWKS request. A summary of separate cold starts is
//!   also printed before the criterion run.
//!
//! Run: `cargo bench -p auth0-api --bench fleet` (setting up 200 tenants takes a while).

#![allow(missing_docs, clippy::unwrap_used, clippy::expect_used, clippy::panic)]

use std::hint::black_box;
use std::sync::{Arc, Barrier};
use std::time::{Duration, Instant};

use auth0_api::{ApiClient, ApiClientOptions, ApiClientOptionsBuilder};
use auth0_api_dev_tenant::DevTenant;
use aws_lc_rs::signature::ParsedPublicKey;
use criterion::{Criterion, SamplingMode, Throughput, criterion_group, criterion_main};
use tokio::runtime::Runtime;

#[path = "common/mod.rs"]
mod common;

use common::{
    AUD, Stream, auth0_shaped, current_thread, issuers_client, round_robin_tokens, rsa_key, split,
    start_tenants,
};

/// Issuers in the multiple-custom-domains bench.
const ISSUERS: usize = 50;
/// Issuers in the largest static list of the `mcd_default` group (tenants started).
const MAX_ISSUERS: usize = 200;
/// Distinct tokens per issuer in the `mcd_default` group.
const TOKENS_PER_ISSUER: usize = 16;
/// Concurrent verifications in the cold-start bench.
const COLD: usize = 1_000;
/// Separate cold starts timed for the printed summary.
const COLD_RUNS: usize = 9;

/// An Auth0-shaped access token (as in `benches/verify.rs`).
fn shaped_token(tenant: &DevTenant) -> String {
    auth0_shaped(tenant).sign()
}

fn fresh_client(options: ApiClientOptionsBuilder) -> ApiClient {
    ApiClient::new(options.verified_token_cache(false).build().unwrap()).unwrap()
}

fn single(tenant: &DevTenant) -> ApiClientOptionsBuilder {
    ApiClientOptions::builder()
        .domain(tenant.domain())
        .audience(AUD)
        .root_ca_pem(tenant.ca_pem())
}

/// Runs `iters` calls of `run` split over `threads` OS threads and answers the wall time from
/// the moment every thread is ready to the moment the last one is done. Each thread first makes
/// its own state with `setup` (its runtime), before the clock starts.
fn on_threads<S, Setup, Run>(threads: usize, iters: u64, setup: Setup, run: Run) -> Duration
where
    Setup: Fn() -> S + Sync,
    Run: Fn(&S, u64) + Sync,
{
    let ready = Barrier::new(threads);
    let n = threads as u64;
    std::thread::scope(|s| {
        let handles: Vec<_> = (0..n)
            .map(|i| {
                let share = iters / n + u64::from(i < iters % n);
                let (ready, setup, run) = (&ready, &setup, &run);
                s.spawn(move || {
                    let state = setup();
                    ready.wait();
                    let start = Instant::now();
                    run(&state, share);
                    (start, Instant::now())
                })
            })
            .collect();
        let spans: Vec<_> = handles.into_iter().map(|h| h.join().unwrap()).collect();
        let first = spans.iter().map(|s| s.0).min().unwrap();
        let last = spans.iter().map(|s| s.1).max().unwrap();
        last - first
    })
}

/// One cold start: a fresh client, `COLD` concurrent verifications of `token` on `rt`. Answers
/// the wall time and panics unless the tenant saw exactly one discovery and one JWKS request.
fn cold_start(rt: &Runtime, tenant: &DevTenant, token: &Arc<str>) -> Duration {
    let client = fresh_client(single(tenant));
    tenant.reset_stats();
    let elapsed = rt.block_on(async {
        let start = Instant::now();
        let tasks: Vec<_> = (0..COLD)
            .map(|_| {
                let (client, token) = (client.clone(), token.clone());
                tokio::spawn(async move { client.verify_access_token(&token).await.is_ok() })
            })
            .collect();
        for task in tasks {
            assert!(task.await.unwrap(), "cold verification failed");
        }
        start.elapsed()
    });
    let stats = tenant.stats();
    assert_eq!(
        (stats.discovery, stats.jwks),
        (1, 1),
        "{COLD} cold verifications must fetch discovery and JWKS exactly once"
    );
    elapsed
}

fn fleet(c: &mut Criterion) {
    let setup = Instant::now();
    let (tenant_rt, tenants) = start_tenants(MAX_ISSUERS);
    eprintln!(
        "{MAX_ISSUERS} dev tenants up in {:.1} s",
        setup.elapsed().as_secs_f64()
    );
    let rt = current_thread();

    // Multiple custom domains: 50 issuers, tokens round-robin.
    let mut mcd_options = ApiClientOptions::builder()
        .domains(tenants[..ISSUERS].iter().map(|t| t.domain().to_owned()))
        .audience(AUD);
    for t in &tenants[..ISSUERS] {
        mcd_options = mcd_options.root_ca_pem(t.ca_pem());
    }
    let mcd = fresh_client(mcd_options);
    let one = fresh_client(single(&tenants[0]));
    let tokens: Vec<String> = tenants[..ISSUERS].iter().map(shaped_token).collect();
    let raw: Vec<(ParsedPublicKey, Vec<u8>, Vec<u8>)> = tenants
        .iter()
        .zip(&tokens)
        .map(|(t, token)| {
            let (input, sig) = split(token);
            (rsa_key(t), input, sig)
        })
        .collect();
    rt.block_on(async {
        for token in &tokens {
            mcd.verify_access_token(token).await.unwrap();
        }
        one.verify_access_token(&tokens[0]).await.unwrap();
    });
    let mut g = c.benchmark_group("mcd");
    g.bench_function("raw_rs256", |b| {
        b.iter_custom(|iters| {
            let start = Instant::now();
            for i in 0..iters {
                let (key, input, sig) = &raw[i as usize % ISSUERS];
                key.verify_sig(black_box(input), black_box(sig)).unwrap();
            }
            start.elapsed()
        })
    });
    g.bench_function("verify_access_token_50_issuers", |b| {
        b.iter_custom(|iters| {
            rt.block_on(async {
                let start = Instant::now();
                for i in 0..iters {
                    let token = &tokens[i as usize % ISSUERS];
                    black_box(mcd.verify_access_token(black_box(token)).await.unwrap());
                }
                start.elapsed()
            })
        })
    });
    g.bench_function("verify_access_token_1_issuer", |b| {
        b.iter_custom(|iters| {
            rt.block_on(async {
                let start = Instant::now();
                for _ in 0..iters {
                    black_box(
                        one.verify_access_token(black_box(&tokens[0]))
                            .await
                            .unwrap(),
                    );
                }
                start.elapsed()
            })
        })
    });
    g.finish();
    let stats = tenants
        .iter()
        .map(DevTenant::stats)
        .fold((0, 0), |acc, s| (acc.0 + s.discovery, acc.1 + s.jwks));
    eprintln!(
        "mcd: the {ISSUERS} tenants served {} discovery and {} JWKS requests in all",
        stats.0, stats.1
    );
    drop((mcd, one));

    // The same lists with the default options and tokens the client has not seen.
    let mut g = c.benchmark_group("mcd_default");
    for issuers in [ISSUERS, MAX_ISSUERS] {
        let fleet = &tenants[..issuers];
        let items = round_robin_tokens(fleet, TOKENS_PER_ISSUER);
        let keys: Vec<ParsedPublicKey> = fleet.iter().map(rsa_key).collect();
        let warm: Vec<String> = fleet.iter().map(shaped_token).collect();
        let make = || issuers_client(&rt, fleet, &warm);
        g.bench_function(format!("raw_rs256_{issuers}_issuers"), |b| {
            let mut next = 0;
            b.iter_custom(|iters| {
                let start = Instant::now();
                for _ in 0..iters {
                    let (_, i, (input, sig)) = &items[next % items.len()];
                    next += 1;
                    keys[*i]
                        .verify_sig(black_box(input), black_box(sig))
                        .unwrap();
                }
                start.elapsed()
            })
        });
        let mut stream = Stream::new(&items, make);
        g.bench_function(format!("verify_{issuers}_issuers"), |b| {
            b.iter_custom(|iters| {
                let mut elapsed = Duration::ZERO;
                let mut left = iters as usize;
                while left > 0 {
                    let (client, batch) = stream.take(left.min(256));
                    left -= batch.len();
                    elapsed += rt.block_on(async {
                        let start = Instant::now();
                        for (token, _, _) in batch {
                            black_box(client.verify_access_token(black_box(token)).await.unwrap());
                        }
                        start.elapsed()
                    });
                }
                elapsed
            })
        });
    }
    g.finish();

    // Scaling: one shared client, 1 vs 2 OS threads, each with its own current-thread runtime.
    let shared = fresh_client(single(&tenants[0]));
    let token = &tokens[0];
    rt.block_on(shared.verify_access_token(token)).unwrap();
    let (key, input, sig) = &raw[0];
    let mut g = c.benchmark_group("scaling");
    g.throughput(Throughput::Elements(1));
    for (threads, name) in [(1, "1_thread"), (2, "2_threads")] {
        g.bench_function(format!("raw_rs256/{name}"), |b| {
            b.iter_custom(|iters| {
                on_threads(
                    threads,
                    iters,
                    || (),
                    |(), n| {
                        for _ in 0..n {
                            key.verify_sig(black_box(input), black_box(sig)).unwrap();
                        }
                    },
                )
            })
        });
        g.bench_function(format!("verify_access_token/{name}"), |b| {
            b.iter_custom(|iters| {
                on_threads(
                    threads,
                    iters,
                    || (shared.clone(), current_thread()),
                    |(client, rt), n| {
                        rt.block_on(async {
                            for _ in 0..n {
                                black_box(
                                    client.verify_access_token(black_box(token)).await.unwrap(),
                                );
                            }
                        })
                    },
                )
            })
        });
    }
    g.finish();
    drop(shared);

    // Cold start: 1 000 concurrent verifications on a fresh client, one fetch of each document.
    let cold_rt = tokio::runtime::Builder::new_multi_thread()
        .worker_threads(2)
        .enable_all()
        .build()
        .unwrap();
    let tenant = &tenants[0];
    let token: Arc<str> = Arc::from(tokens[0].as_str());
    let mut walls: Vec<Duration> = (0..COLD_RUNS)
        .map(|_| cold_start(&cold_rt, tenant, &token))
        .collect();
    walls.sort();
    let ms = |d: Duration| d.as_secs_f64() * 1e3;
    eprintln!(
        "cold start: {COLD} concurrent verifications on a fresh client -> 1 discovery + 1 JWKS \
         fetch; wall time over {COLD_RUNS} runs: min {:.2} ms, median {:.2} ms, max {:.2} ms",
        ms(walls[0]),
        ms(walls[COLD_RUNS / 2]),
        ms(walls[COLD_RUNS - 1]),
    );
    let mut g = c.benchmark_group("cold_start");
    g.sample_size(10).sampling_mode(SamplingMode::Flat);
    g.bench_function("1000_concurrent", |b| {
        b.iter_custom(|iters| {
            (0..iters)
                .map(|_| cold_start(&cold_rt, tenant, &token))
                .sum()
        })
    });
    g.finish();

    // A cold start is one handshake + two fetches + COLD signature checks: the bare work.
    let mut g = c.benchmark_group("cold_start");
    g.bench_function("raw_rs256_x1000", |b| {
        b.iter(|| {
            for _ in 0..COLD {
                key.verify_sig(black_box(input), black_box(sig)).unwrap();
            }
        })
    });
    g.finish();

    drop(cold_rt);
    tenant_rt.block_on(async {
        for t in &tenants {
            t.stop().await;
        }
    });
}

criterion_group!(benches, fleet);
criterion_main!(benches);
