//! The hot paths' ratios to the bare signature checks, measured in alternating batches.
//!
//! The criterion benches (`benches/verify.rs`) time the bare check and the library one after
//! the other, seconds apart; on a shared virtual machine the speed of the CPU drifts by several
//! percent over such spans (the same bare check measured 13.5 µs and 14.5 µs in two runs a
//! minute apart), which is as large as the overhead being measured. Here each sample is a
//! batch of bare checks and a batch of library calls on the same data, one right after the
//! other (the bare batch first in even pairs, second in odd ones), the ratio is taken per pair,
//! and the median of the pairs' ratios is reported with its quartiles: drifts slower than a
//! batch (a few milliseconds) cancel out. (The `ratio` group of `benches/verify.rs` does the
//! same inside criterion, with sums instead of medians.)
//!
//! ```text
//! cargo run --release -p auth0-api --example paired_ratios [-- PAIRS]
//! ```
//!
//! `PAIRED_ONLY` (comma-separated) runs some sections only: `one` (one token), `distinct`
//! (distinct tokens), `issuers` (50 and 200 issuers), `dpop` (one token, a fresh proof),
//! `dpop_default` (distinct DPoP tokens, one key and a new key each), `scaling`.
//!
//! Prints one line per path: bare µs, library µs (medians), and the median ratio with its
//! 25th and 75th percentiles. The `distinct`, `issuers` and `dpop_default` sections also print **the floor**:
//! the same tokens through the least a correct verifier does (`benches/common/floor.rs`), in
//! pairs of their own after the library's, so that the library's distance from it shows as
//! well as its distance from the bare check. Starts its own dev tenant on loopback (and 200
//! more for the static lists of 50 and 200 issuers).
//!
//! The last two lines are the 2-thread scaling of the bare check and of a fresh-token
//! verification (one client shared by both threads, each with its own current-thread runtime):
//! per pair, a batch on one thread and the same number of calls split over two threads, the
//! ratio of their throughputs; "library scaling / bare scaling" is the median of the per-pair
//! quotients. These batches are 4,000 calls (about 60 ms on one thread): with batches of a few
//! milliseconds the figure measures how long the second vCPU takes to wake up (it came out near
//! 1.0x for both), not how the work scales.

#![allow(clippy::unwrap_used, clippy::expect_used, clippy::print_stdout)]

use std::hint::black_box;
use std::sync::Barrier;
use std::time::Instant;

use auth0_api::ApiClient;
use auth0_api_dev_tenant::dpop::DpopKey;
use aws_lc_rs::signature::ParsedPublicKey;

#[path = "../benches/common/mod.rs"]
mod common;

use common::floor::Floor;
use common::{
    Clients, DpopFleet, Signed, Split, Stream, URL, auth0_shaped, check_dpop_floor, clients,
    current_thread, default_client, default_options, distinct_tokens, dpop_headers, ec_key, fill,
    floor_of, in_turn, issuers_client, round_robin_tokens, rsa_key, split, start_tenant,
    start_tenants, time_bare_pairs, time_requests, with_splits,
};

/// Distinct tokens made up front for the fresh-token paths (each used once per client).
const POOL: usize = 4_096;
/// Distinct DPoP-bound tokens (and keys) made up front.
const DPOP_POOL: usize = 1_024;
/// The verified-token cache's default size: a full default cache holds this many tokens.
const DEFAULT_CACHE: usize = 10_000;

/// Issuers of the two static `domains` lists measured.
const FEW_ISSUERS: usize = 50;
const MANY_ISSUERS: usize = 200;

/// Calls per batch (Bearer); DPoP batches are a fifth of it.
const BATCH: usize = 200;

/// Medians of the bare and library times (µs) and the median, p25 and p75 of their ratios.
struct Summary {
    bare: f64,
    lib: f64,
    ratio: [f64; 3],
}

fn summarise(pairs: &[(f64, f64)]) -> Summary {
    let median = |mut v: Vec<f64>| {
        v.sort_by(f64::total_cmp);
        v
    };
    let bare = median(pairs.iter().map(|p| p.0).collect());
    let lib = median(pairs.iter().map(|p| p.1).collect());
    let ratios = median(pairs.iter().map(|p| p.1 / p.0).collect());
    let at = |v: &[f64], q: usize| v[(v.len() - 1) * q / 4];
    Summary {
        bare: at(&bare, 2),
        lib: at(&lib, 2),
        ratio: [at(&ratios, 2), at(&ratios, 1), at(&ratios, 3)],
    }
}

fn print(name: &str, s: &Summary) {
    println!(
        "{name:44} bare {:8.2} us  library {:8.2} us  ratio {:.3} (p25 {:.3}, p75 {:.3})",
        s.bare, s.lib, s.ratio[0], s.ratio[1], s.ratio[2]
    );
}

/// Wall time (µs) of `calls` calls of `run(thread, share)` split over `threads` OS threads,
/// from the moment all are ready to the moment the last is done.
fn on_threads(threads: usize, calls: usize, run: &(dyn Fn(usize, usize) + Sync)) -> f64 {
    let ready = Barrier::new(threads);
    std::thread::scope(|s| {
        let spans: Vec<_> = (0..threads)
            .map(|i| {
                let ready = &ready;
                s.spawn(move || {
                    ready.wait();
                    let start = Instant::now();
                    run(i, calls / threads);
                    (start, Instant::now())
                })
            })
            .collect::<Vec<_>>()
            .into_iter()
            .map(|h| h.join().unwrap())
            .collect();
        let first = spans.iter().map(|s| s.0).min().unwrap();
        let last = spans.iter().map(|s| s.1).max().unwrap();
        (last - first).as_secs_f64() * 1e6
    })
}

/// 2-thread scaling of `run`: throughput on two threads over throughput on one.
fn scaling(calls: usize, run: &(dyn Fn(usize, usize) + Sync)) -> f64 {
    let one = on_threads(1, calls, run);
    let two = on_threads(2, calls, run);
    one / two
}

/// The `i`-th batch of `size` items for the floor's pairs (wrapping round; at most all).
fn batch_at<T>(items: &[T], i: usize, size: usize) -> &[T] {
    let size = size.min(items.len());
    let start = (i * size) % (items.len() - size + 1);
    &items[start..start + size]
}

/// One pair of batches in turn (see `in_turn`): the bare check of `batch`'s tokens, each with
/// its key, and the [floor verifier](common::floor) of the same tokens; answers their µs per
/// token.
fn bare_and_floor<'a>(
    turn: usize,
    batch: impl Iterator<Item = (&'a String, &'a ParsedPublicKey, &'a Split)> + Clone,
    floor: &Floor,
) -> (f64, f64) {
    let n = batch.clone().count() as f64;
    let bare = || {
        let start = Instant::now();
        for (_, key, (input, sig)) in batch.clone() {
            key.verify_sig(black_box(input), black_box(sig)).unwrap();
        }
        start.elapsed().as_secs_f64() * 1e6 / n
    };
    let floor = || {
        let start = Instant::now();
        for (token, _, _) in batch.clone() {
            assert!(floor.verify(black_box(token)));
        }
        start.elapsed().as_secs_f64() * 1e6 / n
    };
    in_turn(turn, bare, floor)
}

/// Whether the section `name` runs (`PAIRED_ONLY` unset, or naming it).
fn wanted(name: &str) -> bool {
    std::env::var("PAIRED_ONLY").map_or(true, |only| only.split(',').any(|s| s.trim() == name))
}

fn main() {
    let pairs: usize = std::env::args()
        .nth(1)
        .and_then(|a| a.parse().ok())
        .unwrap_or(200);
    let rt = current_thread();
    let tenant = start_tenant(&rt);
    let Clients {
        fresh,
        no_replay,
        cached,
    } = clients(&tenant);
    let rsa = rsa_key(&tenant);
    let shaped = || auth0_shaped(&tenant);

    // Bearer: the same token, verified in full (cache off) or served by the token cache.
    let token = shaped().sign();
    let (input, sig) = split(&token);
    rt.block_on(fresh.verify_access_token(&token)).unwrap();
    rt.block_on(cached.verify_access_token(&token)).unwrap();
    let bare_batch = || {
        let start = Instant::now();
        for _ in 0..BATCH {
            rsa.verify_sig(black_box(&input), black_box(&sig)).unwrap();
        }
        start.elapsed().as_secs_f64() * 1e6 / BATCH as f64
    };
    let lib_batch = |client: &ApiClient| {
        rt.block_on(async {
            let start = Instant::now();
            for _ in 0..BATCH {
                black_box(client.verify_access_token(black_box(&token)).await.unwrap());
            }
            start.elapsed().as_secs_f64() * 1e6 / BATCH as f64
        })
    };
    if wanted("one") {
        let (mut fresh_pairs, mut cached_pairs) = (vec![], vec![]);
        for i in 0..pairs {
            fresh_pairs.push(in_turn(i, bare_batch, || lib_batch(&fresh)));
            cached_pairs.push(in_turn(i, bare_batch, || lib_batch(&cached)));
        }
        print(
            "bearer: verify_access_token (cache off)",
            &summarise(&fresh_pairs),
        );
        print(
            "bearer: verify_access_token (cached)",
            &summarise(&cached_pairs),
        );
    }

    // Bearer, default options, tokens the client has not seen (issue #18), each against the
    // bare check of the same tokens: cache off (for comparison), the cache filling (a new
    // client for every pass over the pool), the cache full (a new client filled with 10,000
    // other tokens, each verified twice, before each pass: every insert evicts).
    let warm = distinct_tokens(&tenant, 1, "warm").remove(0);
    if wanted("distinct") {
        eprintln!("making {} distinct tokens...", POOL + DEFAULT_CACHE + 1);
        let items: Vec<Signed> = with_splits(distinct_tokens(&tenant, POOL, "p"));
        let prefill = distinct_tokens(&tenant, DEFAULT_CACHE, "fill");
        let no_cache = || {
            let c = ApiClient::new(
                default_options(&tenant)
                    .verified_token_cache(false)
                    .build()
                    .unwrap(),
            )
            .unwrap();
            rt.block_on(c.verify_access_token(&warm)).unwrap();
            c
        };
        let mut streams = [
            (
                "bearer: distinct tokens, cache off",
                Stream::new(&items, no_cache),
            ),
            (
                "bearer: distinct tokens, default (filling)",
                Stream::new(&items, || default_client(&rt, &tenant, &warm)),
            ),
            (
                "bearer: distinct tokens, default (full)",
                Stream::new(&items, || {
                    let c = default_client(&rt, &tenant, &warm);
                    fill(&rt, &c, &prefill);
                    c
                }),
            ),
        ];
        let mut results: Vec<Vec<(f64, f64)>> = vec![vec![]; streams.len()];
        for i in 0..pairs {
            for (s, (_, stream)) in streams.iter_mut().enumerate() {
                let (client, batch) = stream.take(BATCH);
                let bare = || {
                    let start = Instant::now();
                    for (_, (input, sig)) in batch {
                        rsa.verify_sig(black_box(input), black_box(sig)).unwrap();
                    }
                    start.elapsed().as_secs_f64() * 1e6 / batch.len() as f64
                };
                let lib = || {
                    rt.block_on(async {
                        let start = Instant::now();
                        for (token, _) in batch {
                            black_box(client.verify_access_token(black_box(token)).await.unwrap());
                        }
                        start.elapsed().as_secs_f64() * 1e6 / batch.len() as f64
                    })
                };
                results[s].push(in_turn(i, bare, lib));
            }
        }
        for ((name, stream), pairs) in streams.iter().zip(&results) {
            print(name, &summarise(pairs));
            eprintln!("  ({} clients)", stream.clients);
        }
        drop(streams);
        // The floor (see `common::floor`) on the same tokens, after the library's pairs (its
        // batches in between would change what the library finds in the CPU's caches).
        let floor = floor_of(std::slice::from_ref(&tenant));
        let floor_pairs: Vec<(f64, f64)> = (0..pairs)
            .map(|i| {
                let batch = batch_at(&items, i, BATCH);
                bare_and_floor(i, batch.iter().map(|(t, s)| (t, &rsa, s)), &floor)
            })
            .collect();
        print(
            "bearer: distinct tokens, the floor",
            &summarise(&floor_pairs),
        );
    }

    // Multiple custom domains (issue #18): static lists of 50 and 200 issuers (dev tenants,
    // each its own key), default options, distinct tokens round-robin across the issuers, each
    // against the bare check with its issuer's key. (200 issuers: certificates not checked, see
    // `issuers_client`; TLS serves only the untimed document loads.)
    if wanted("issuers") {
        eprintln!("starting {MANY_ISSUERS} dev tenants...");
        let (tenant_rt, tenants) = start_tenants(MANY_ISSUERS);
        for issuers in [FEW_ISSUERS, MANY_ISSUERS] {
            let fleet = &tenants[..issuers];
            let items = round_robin_tokens(fleet, POOL / issuers);
            let keys: Vec<_> = fleet.iter().map(rsa_key).collect();
            let warm: Vec<String> = fleet.iter().map(|t| auth0_shaped(t).sign()).collect();
            let mut stream = Stream::new(&items, || issuers_client(&rt, fleet, &warm));
            let mut pairs_of = vec![];
            for i in 0..pairs {
                let (client, batch) = stream.take(BATCH);
                let bare = || {
                    let start = Instant::now();
                    for (_, k, (input, sig)) in batch {
                        keys[*k]
                            .verify_sig(black_box(input), black_box(sig))
                            .unwrap();
                    }
                    start.elapsed().as_secs_f64() * 1e6 / batch.len() as f64
                };
                let lib = || {
                    rt.block_on(async {
                        let start = Instant::now();
                        for (token, _, _) in batch {
                            black_box(client.verify_access_token(black_box(token)).await.unwrap());
                        }
                        start.elapsed().as_secs_f64() * 1e6 / batch.len() as f64
                    })
                };
                pairs_of.push(in_turn(i, bare, lib));
            }
            print(
                &format!("bearer: {issuers} issuers round-robin, default"),
                &summarise(&pairs_of),
            );
            // The floor on the same tokens, after the library's pairs (as for `distinct`).
            let floor = floor_of(fleet);
            let floor_pairs: Vec<(f64, f64)> = (0..pairs)
                .map(|i| {
                    let batch = batch_at(&items, i, BATCH);
                    bare_and_floor(i, batch.iter().map(|(t, k, s)| (t, &keys[*k], s)), &floor)
                })
                .collect();
            print(
                &format!("bearer: {issuers} issuers round-robin, the floor"),
                &summarise(&floor_pairs),
            );
            eprintln!("  ({} clients)", stream.clients);
        }
        tenant_rt.block_on(async {
            for t in &tenants {
                t.stop().await;
            }
        });
    }

    // DPoP: a bound token and a fresh proof per call, against the bare pair on the same proofs.
    let key = DpopKey::generate();
    let ec = ec_key(&key.public_jwk());
    let bound = shaped().cnf_jkt(key.thumbprint()).sign();
    let (t_input, t_sig) = split(&bound);
    let request = |proof: &str| dpop_headers(&bound, proof);
    let dpop_batch = BATCH / 5;
    if wanted("dpop") {
        let run = |client: &ApiClient, turn: usize| {
            let proofs: Vec<String> = (0..dpop_batch)
                .map(|_| key.proof("GET", URL, Some(&bound)).sign())
                .collect();
            let split_proofs: Vec<_> = proofs.iter().map(|p| split(p)).collect();
            let requests: Vec<_> = proofs.iter().map(|p| request(p)).collect();
            let bare = || {
                let start = Instant::now();
                for (p_input, p_sig) in &split_proofs {
                    rsa.verify_sig(black_box(&t_input), black_box(&t_sig))
                        .unwrap();
                    ec.verify_sig(black_box(p_input), black_box(p_sig)).unwrap();
                }
                start.elapsed().as_secs_f64() * 1e6 / dpop_batch as f64
            };
            let lib =
                || time_requests(&rt, client, &requests).as_secs_f64() * 1e6 / dpop_batch as f64;
            in_turn(turn, bare, lib)
        };
        let (mut with, mut without, mut reused) = (vec![], vec![], vec![]);
        for i in 0..pairs {
            with.push(run(&fresh, i));
            without.push(run(&no_replay, i));
            reused.push(run(&cached, i));
        }
        print("dpop: verify_request (replay store on)", &summarise(&with));
        print(
            "dpop: verify_request (no replay store)",
            &summarise(&without),
        );
        // A client reusing its token with a fresh proof per request, default options: the
        // token is served by the verified-token cache, the proof checked in full.
        print(
            "dpop: default, token reused, fresh proofs",
            &summarise(&reused),
        );
    }

    // DPoP with the default options (verified-token cache on, default replay store), a token
    // the client has not seen and a fresh proof per request: every token bound to one key, or
    // a new key (and its token) per request. The bare pair gets each proof's key parsed.
    if wanted("dpop_default") {
        eprintln!("making {} DPoP-bound tokens...", 2 * DPOP_POOL);
        let fleet = DpopFleet::new(&tenant, &key, DPOP_POOL);
        let (one_key, new_keys) = (&fleet.one_key, &fleet.new_keys);
        let mut streams = [
            (
                "dpop: default, distinct tokens, one key",
                Stream::new(one_key, || default_client(&rt, &tenant, &warm)),
            ),
            (
                "dpop: default, distinct tokens, new key each",
                Stream::new(new_keys, || default_client(&rt, &tenant, &warm)),
            ),
        ];
        let mut results: Vec<Vec<(f64, f64)>> = vec![vec![]; streams.len()];
        for i in 0..pairs {
            for (s, (_, stream)) in streams.iter_mut().enumerate() {
                let (client, batch) = stream.take(dpop_batch);
                let key_of = |k: usize| fleet.key_of(k);
                let made: Vec<_> = batch
                    .iter()
                    .map(|(k, t)| {
                        let proof = key_of(*k).0.proof("GET", URL, Some(t)).sign();
                        (*k, split(t), split(&proof), dpop_headers(t, &proof))
                    })
                    .collect();
                let bare = || {
                    let pairs = made.iter().map(|(k, t, p, _)| (t, p, key_of(*k).1));
                    time_bare_pairs(&rsa, pairs).as_secs_f64() * 1e6 / made.len() as f64
                };
                let n = made.len();
                let requests: Vec<_> = made.iter().map(|m| m.3.clone()).collect();
                let lib = || time_requests(&rt, &client, &requests).as_secs_f64() * 1e6 / n as f64;
                results[s].push(in_turn(i, bare, lib));
            }
        }
        for ((name, stream), pairs) in streams.iter().zip(&results) {
            print(name, &summarise(pairs));
            eprintln!("  ({} clients)", stream.clients);
        }
        drop(streams);
        // The floor (see `common::floor`) on requests of the same kinds, after the library's
        // pairs: it imports the proof's key every time (no cache), and remembers each proof.
        let floor = floor_of(std::slice::from_ref(&tenant));
        check_dpop_floor(&floor, &tenant, &key);
        for (name, items) in [
            ("dpop: distinct tokens, one key, the floor", one_key),
            ("dpop: distinct tokens, new key, the floor", new_keys),
        ] {
            let floor_pairs: Vec<(f64, f64)> = (0..pairs)
                .map(|i| {
                    let made: Vec<_> = batch_at(items, i, dpop_batch)
                        .iter()
                        .map(|(k, t)| {
                            let (key, parsed) = fleet.key_of(*k);
                            let proof = key.proof("GET", URL, Some(t)).sign();
                            (t, split(&proof), proof, split(t), parsed)
                        })
                        .collect();
                    let n = made.len() as f64;
                    let bare = || {
                        let pairs = made.iter().map(|(_, p, _, t, parsed)| (t, p, *parsed));
                        time_bare_pairs(&rsa, pairs).as_secs_f64() * 1e6 / n
                    };
                    let by_floor = || {
                        let start = Instant::now();
                        for (token, _, proof, ..) in &made {
                            assert!(floor.verify_dpop(black_box(token), proof, "GET", URL));
                        }
                        start.elapsed().as_secs_f64() * 1e6 / n
                    };
                    in_turn(i, bare, by_floor)
                })
                .collect();
            print(name, &summarise(&floor_pairs));
        }
    }

    // 2-thread scaling, bare and library, in alternating batches.
    if wanted("scaling") {
        let runtimes = [current_thread(), current_thread()];
        let bare_run = |_: usize, n: usize| {
            for _ in 0..n {
                rsa.verify_sig(black_box(&input), black_box(&sig)).unwrap();
            }
        };
        let lib_run = |thread: usize, n: usize| {
            runtimes[thread].block_on(async {
                for _ in 0..n {
                    black_box(fresh.verify_access_token(black_box(&token)).await.unwrap());
                }
            })
        };
        // Long batches: see the module comment.
        let calls = BATCH * 20;
        let mut scalings = vec![];
        for _ in 0..pairs {
            scalings.push((scaling(calls, &bare_run), scaling(calls, &lib_run)));
        }
        let median = |mut v: Vec<f64>| {
            v.sort_by(f64::total_cmp);
            let at = |q: usize| v[(v.len() - 1) * q / 4];
            [at(2), at(1), at(3)]
        };
        let bare = median(scalings.iter().map(|p| p.0).collect());
        let lib = median(scalings.iter().map(|p| p.1).collect());
        let quotient = median(scalings.iter().map(|p| p.1 / p.0).collect());
        println!(
            "{:44} bare {:.3}x (p25 {:.3}, p75 {:.3})  library {:.3}x (p25 {:.3}, p75 {:.3})",
            "scaling: 1 -> 2 threads, fresh Bearer",
            bare[0],
            bare[1],
            bare[2],
            lib[0],
            lib[1],
            lib[2]
        );
        println!(
            "{:44} library scaling / bare scaling {:.3} (p25 {:.3}, p75 {:.3})",
            "", quotient[0], quotient[1], quotient[2]
        );
    }
}
