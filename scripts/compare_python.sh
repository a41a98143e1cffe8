#!/usr/bin/env bash
# Puts our verify_access_token beside auth0-api-python's, on the same token, the same local
# dev tenant and the same machine, and prints a table: microseconds per verification, the ratio
# to the bare RS256 check (aws-lc-rs, same token, same run) and the speed-up over Python.
#
#   scripts/compare_python.sh
#
# Steps: builds the CLI and the `timing` example (release), makes a virtualenv under
# target/py-venv with auth0-api-python (1.0.0b10, or the newest 1.0.0b* if that one is gone),
# starts `auth0-api dev-tenant`, gets a token with `auth0-api token`, then times
# crates/auth0-api/examples/timing.rs and scripts/compare_python.py (warm caches, median over 21
# batches each). Each timing run holds `flock $CPU_LOCK` so that it never overlaps another
# measurement on this machine.
#
# Environment: CARGO_TARGET_DIR (default ./target), PY_VERSION (1.0.0b10), RUST_ITERATIONS
# (42000), PY_ITERATIONS (4200), CPU_LOCK (/tmp/cpu.lock).
set -euo pipefail

ROOT=$(cd "$(dirname "$0")/.." && pwd)
cd "$ROOT"
TARGET=${CARGO_TARGET_DIR:-$ROOT/target}
PY_VERSION=${PY_VERSION:-1.0.0b10}
RUST_ITERATIONS=${RUST_ITERATIONS:-42000}
PY_ITERATIONS=${PY_ITERATIONS:-4200}
CPU_LOCK=${CPU_LOCK:-/tmp/cpu.lock}
AUD=https://api.example.com
VENV=$ROOT/target/py-venv

echo "== building (release)" >&2
cargo build --release -q -p auth0-api-cli --bin auth0-api
cargo build --release -q -p auth0-api --example timing
BIN=$TARGET/release/auth0-api
TIMING=$TARGET/release/examples/timing

echo "== virtualenv $VENV" >&2
[ -x "$VENV/bin/python" ] || python3 -m venv "$VENV"
installed=$("$VENV/bin/pip" show auth0-api-python 2>/dev/null | awk '/^Version:/ {print $2}')
if [ "$installed" != "$PY_VERSION" ]; then
    if ! "$VENV/bin/pip" install -q "auth0-api-python==$PY_VERSION"; then
        echo "auth0-api-python==$PY_VERSION is not available; taking the newest 1.0.0b*" >&2
        "$VENV/bin/pip" install -q --pre "auth0-api-python>=1.0.0b0,<1.0.0"
    fi
fi
PY_INSTALLED=$("$VENV/bin/pip" show auth0-api-python | awk '/^Version:/ {print $2}')

WORK=$(mktemp -d)
TENANT_PID=
cleanup() {
    if [ -n "$TENANT_PID" ]; then
        kill "$TENANT_PID" 2>/dev/null || true
        wait "$TENANT_PID" 2>/dev/null || true
    fi
    rm -rf "$WORK"
}
trap cleanup EXIT

echo "== dev tenant" >&2
RUST_LOG=warn "$BIN" dev-tenant --audience "$AUD" >"$WORK/tenant.json" 2>"$WORK/tenant.log" &
TENANT_PID=$!
json() { python3 -c 'import json, sys; print(json.load(open(sys.argv[1]))[sys.argv[2]])' "$@"; }
for _ in $(seq 100); do
    json "$WORK/tenant.json" domain >/dev/null 2>&1 && break
    kill -0 "$TENANT_PID" 2>/dev/null || { cat "$WORK/tenant.log" >&2; exit 1; }
    sleep 0.1
done
DOMAIN=$(json "$WORK/tenant.json" domain)
CA=$(json "$WORK/tenant.json" ca_cert)
"$BIN" token --domain "$DOMAIN" --ca-cert "$CA" --audience "$AUD" >"$WORK/token.json"
TOKEN=$(json "$WORK/token.json" access_token)
echo "   issuer https://$DOMAIN/, token of ${#TOKEN} bytes" >&2

echo "== timing auth0-api (Rust), $RUST_ITERATIONS iterations per figure" >&2
RUST=$(flock "$CPU_LOCK" "$TIMING" --domain "$DOMAIN" --audience "$AUD" --ca-cert "$CA" \
    --token "$TOKEN" --iterations "$RUST_ITERATIONS")
echo "== timing auth0-api-python $PY_INSTALLED, $PY_ITERATIONS iterations per figure" >&2
PY=$(SSL_CERT_FILE=$CA flock "$CPU_LOCK" "$VENV/bin/python" scripts/compare_python.py \
    --domain "$DOMAIN" --audience "$AUD" --token "$TOKEN" --iterations "$PY_ITERATIONS")

python3 - "$RUST" "$PY" <<'EOF'
import json, sys

rust, py = json.loads(sys.argv[1]), json.loads(sys.argv[2])
bare = rust["raw_rs256_us"]
python = py["verify_access_token_us"]
rows = [
    ("bare RS256 check, aws-lc-rs (Rust)", bare),
    ("auth0-api verify_access_token, token cache off", rust["verify_access_token_us"]),
    ("auth0-api verify_access_token, token cache on (default)", rust["verify_access_token_cached_us"]),
    ("bare RS256 check, cryptography (Python)", py["raw_rs256_us"]),
    (f"auth0-api-python {py['version']} verify_access_token", python),
]
print(f"token: {rust['token_bytes']} bytes; warm discovery/JWKS caches; median of 21 batches")
print()
print("| implementation | µs/verification | ratio to bare RS256 (aws-lc-rs) | speed-up vs Python |")
print("|---|---:|---:|---:|")
for name, us in rows:
    print(f"| {name} | {us:.2f} | {us / bare:.2f} | {python / us:.1f}x |")
EOF
