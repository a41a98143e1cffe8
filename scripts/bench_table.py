#!/usr/bin/env python3
"""Markdown tables of the criterion results of benches/verify.rs and benches/fleet.rs.

Reads <target>/criterion/<group>/<bench>/new/estimates.json (target: $CARGO_TARGET_DIR or
./target) and prints every figure in absolute microseconds and as a ratio against the bare
signature check of the same run. Figures are criterion's headline estimates, the ones its
`time:` line prints: the slope of the linear regression (the mean for flat sampling), with
their 95% confidence interval.

    python3 scripts/bench_table.py [TARGET_DIR]
"""

import json
import os
import sys
from pathlib import Path

ROOT = Path(__file__).resolve().parent.parent
TARGET = Path(sys.argv[1] if len(sys.argv) > 1 else os.environ.get("CARGO_TARGET_DIR", ROOT / "target"))
CRITERION = TARGET / "criterion"


def est(name):
    """(estimate, CI low, CI high) in microseconds, or None when the bench has not run."""
    path = CRITERION / name / "new" / "estimates.json"
    if not path.exists():
        return None
    d = json.loads(path.read_text())
    e = d.get("slope") or d["mean"]
    ci = e["confidence_interval"]
    return e["point_estimate"] / 1e3, ci["lower_bound"] / 1e3, ci["upper_bound"] / 1e3


def us(x):
    return f"{x:,.2f}" if x < 1000 else f"{x / 1000:,.2f} ms"


def table(title, bare, rows, target=None):
    b = est(bare)
    print(f"### {title}\n")
    if b is None:
        print(f"(`{bare}` has not run)\n")
        return
    print("| bench | µs | 95% CI | ratio to the bare check |")
    print("|---|---:|---:|---:|")
    for name in [bare, *rows]:
        e = est(name)
        if e is None:
            print(f"| `{name}` | not run | | |")
            continue
        ratio = e[0] / b[0]
        mark = ""
        if target and name in target:
            limit = target[name]
            mark = f" (target <= {limit:.2f}: {'met' if ratio <= limit else 'NOT met'})"
        print(f"| `{name}` | {us(e[0])} | [{us(e[1])}, {us(e[2])}] | {ratio:.3f}{mark} |")
    print()


print("### Ratios measured directly (benches/verify.rs, group `ratio`; bare and library alternating)\n")
print("| bench | ratio | 95% CI | target |")
print("|---|---:|---:|---|")
for name, limit in (
    ("ratio/bearer_fresh_over_raw_rs256", 1.05),
    ("ratio/dpop_request_over_raw_pair", 1.05),
):
    e = est(name)
    if e is None:
        print(f"| `{name}` | not run | | |")
        continue
    # The bench reports the ratio as a time in microseconds.
    verdict = "met" if e[0] <= limit else "NOT met"
    print(f"| `{name}` | {e[0]:.3f} | [{e[1]:.3f}, {e[2]:.3f}] | <= {limit:.2f}: {verdict} |")
print()

table(
    "Bearer (benches/verify.rs)",
    "bearer/raw_rs256",
    [
        "bearer/verify_access_token",
        "bearer/verify_access_token_all_claims",
        "bearer/verify_access_token_cached",
    ],
    target={"bearer/verify_access_token": 1.05, "bearer/verify_access_token_cached": 0.10},
)
table(
    "DPoP, against the bare pair on one repeated proof (benches/verify.rs)",
    "dpop/raw_rs256_es256",
    ["dpop/verify_request", "dpop/verify_request_no_replay_store"],
)
table(
    "DPoP, against the bare pair on a fresh proof per iteration, as verify_request gets (benches/verify.rs)",
    "dpop/raw_rs256_es256_fresh_proofs",
    ["dpop/verify_request", "dpop/verify_request_no_replay_store"],
    target={"dpop/verify_request": 1.05},
)
table(
    "50-issuer MCD (benches/fleet.rs; bare check round-robin over the same 50 keys)",
    "mcd/raw_rs256",
    ["mcd/verify_access_token_50_issuers", "mcd/verify_access_token_1_issuer"],
    target={"mcd/verify_access_token_50_issuers": 1.10},
)

print("### 2-thread scaling (benches/fleet.rs; one shared client, one current-thread runtime per thread)\n")
cells = {
    (kind, threads): est(f"scaling/{kind}_{threads}")
    for kind in ("raw_rs256", "verify_access_token")
    for threads in ("1_thread", "2_threads")
}
if any(v is None for v in cells.values()):
    print("(the scaling benches have not all run)\n")
else:
    print("| bench | threads | µs per verification (wall / count) | verifications/s | ratio to the bare check | scaling 2 / 1 thread |")
    print("|---|---:|---:|---:|---:|---:|")
    for kind in ("raw_rs256", "verify_access_token"):
        one = cells[(kind, "1_thread")][0]
        for threads, n in (("1_thread", 1), ("2_threads", 2)):
            t = cells[(kind, threads)][0]
            bare = cells[("raw_rs256", threads)][0]
            scaling = f"{one / t:.2f}x" if n == 2 else ""
            if kind == "verify_access_token" and n == 2:
                scaling += f" (target >= 1.90x: {'met' if one / t >= 1.9 else 'NOT met'})"
            print(f"| `{kind}` | {n} | {us(t)} | {1e6 / t:,.0f} | {t / bare:.3f} | {scaling} |")
    print()

print("### Cold start (benches/fleet.rs)\n")
cold, bare = est("cold_start/1000_concurrent"), est("cold_start/raw_rs256_x1000")
if cold is None or bare is None:
    print("(the cold-start benches have not run)\n")
else:
    print("| bench | wall time | 95% CI | ratio to 1 000 bare checks on one thread |")
    print("|---|---:|---:|---:|")
    for name, e in (("cold_start/raw_rs256_x1000", bare), ("cold_start/1000_concurrent", cold)):
        print(f"| `{name}` | {us(e[0])} | [{us(e[1])}, {us(e[2])}] | {e[0] / bare[0]:.3f} |")
    print()
