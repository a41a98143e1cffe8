#!/usr/bin/env bash
# Load test of `auth0-api serve` on loopback, in two runs of DURATION (30 s) each with 99% valid
# and 1% invalid Bearer tokens, every response checked (valid -> 200, invalid -> 401 with the
# expected challenge): first at saturation (wrk's closed loop, CONNECTIONS connections), for
# the requests/s; then at RATE_PERCENT (70) % of that rate, offered open-loop at a fixed rate by
# `crates/auth0-api-cli/examples/open_loop.rs` (each request's latency counted from when it was
# due, as wrk2 does, so no slow answer hides the requests queued behind it), for the latency
# percentiles at a load the server can carry.
# The server's RSS (/proc/<pid>/status VmRSS) at start, after the warm-up and after each run,
# sampled every 5 s.
#
#   scripts/loadtest.sh
#
# Needs `wrk` (Debian: apt-get install -y wrk). Traffic goes to 127.0.0.1 only; the run is
# bounded by DURATION and stops by itself. The measured part holds `flock $CPU_LOCK` so that it
# never overlaps another measurement on this machine.
#
# What is measured: the default server (`serve`, DPoP allowed, verified-token cache on, 10 000
# entries). The valid tokens (TOKENS, 10 000 distinct ones, from `auth0-api token --count`)
# cycle: each is verified in full at its first sighting, admitted at its second, then served by
# the token cache, as tokens that clients reuse for their lifetime are; every invalid one (20
# valid tokens whose payload was changed, so their signature no longer matches) is checked in
# full every time.
#
# Pinning: SERVER_CPUS and CLIENT_CPUS (taskset lists, for example 1 and 0) put the server and
# the load generators (wrk, open_loop) on CPUs of their own, so that the latencies measure the
# server and not the two programs' queueing for the same cores; the open-loop generator then
# paces on its one thread (OPEN_LOOP_PACING=spin, see open_loop.rs). Unset (the default),
# nothing is pinned. A pinned server sizes its runtime to its CPUs (tokio reads the affinity
# mask).
#
# Environment: CARGO_TARGET_DIR (default ./target), DURATION (30s), WARMUP (5s), THREADS (1),
# CONNECTIONS (32), TOKENS (10000), RATE_PERCENT (70), RATE_CONNECTIONS (64), CPU_LOCK
# (/tmp/cpu.lock), SERVER_CPUS and CLIENT_CPUS (unset).
set -euo pipefail

ROOT=$(cd "$(dirname "$0")/.." && pwd)
cd "$ROOT"
TARGET=${CARGO_TARGET_DIR:-$ROOT/target}
DURATION=${DURATION:-30s}
WARMUP=${WARMUP:-5s}
THREADS=${THREADS:-1}
CONNECTIONS=${CONNECTIONS:-32}
TOKENS=${TOKENS:-10000}
RATE_PERCENT=${RATE_PERCENT:-70}
RATE_CONNECTIONS=${RATE_CONNECTIONS:-64}
CPU_LOCK=${CPU_LOCK:-/tmp/cpu.lock}
SERVER_CPUS=${SERVER_CPUS:-}
CLIENT_CPUS=${CLIENT_CPUS:-}
# Command prefixes that pin (taskset execs the command: `$!` stays the server's PID).
SERVER_ON=()
CLIENT_ON=()
[ -z "$SERVER_CPUS" ] || SERVER_ON=(taskset -c "$SERVER_CPUS")
if [ -n "$CLIENT_CPUS" ]; then
    CLIENT_ON=(taskset -c "$CLIENT_CPUS")
    export OPEN_LOOP_PACING=spin
fi
AUD=https://api.example.com

command -v wrk >/dev/null || { echo "wrk is missing: apt-get install -y wrk" >&2; exit 1; }
echo "== building (release)" >&2
cargo build --release -q -p auth0-api-cli --bin auth0-api --example open_loop
BIN=$TARGET/release/auth0-api

WORK=$(mktemp -d)
PIDS=()
cleanup() {
    for pid in "${PIDS[@]}"; do
        kill "$pid" 2>/dev/null || true
        wait "$pid" 2>/dev/null || true
    done
    rm -rf "$WORK"
}
trap cleanup EXIT
json() { python3 -c 'import json, sys; print(json.load(open(sys.argv[1]))[sys.argv[2]])' "$@"; }

echo "== dev tenant" >&2
RUST_LOG=warn "$BIN" dev-tenant --audience "$AUD" >"$WORK/tenant.json" 2>"$WORK/tenant.log" &
PIDS+=($!)
for _ in $(seq 100); do
    json "$WORK/tenant.json" domain >/dev/null 2>&1 && break
    sleep 0.1
done
DOMAIN=$(json "$WORK/tenant.json" domain)
CA=$(json "$WORK/tenant.json" ca_cert)

echo "== $TOKENS tokens" >&2
"$BIN" token --domain "$DOMAIN" --ca-cert "$CA" --audience "$AUD" --count "$TOKENS" |
    python3 -c 'import json, sys; [print(json.loads(line)["access_token"]) for line in sys.stdin]' \
    >"$WORK/valid.txt"
[ "$(sort -u "$WORK/valid.txt" | wc -l)" = "$TOKENS" ] || { echo "tokens are not distinct" >&2; exit 1; }
python3 - "$WORK/valid.txt" "$WORK/tokens.lua" "$WORK/invalid.txt" <<'EOF'
import base64, json, sys

def b64d(s):
    return base64.urlsafe_b64decode(s + "=" * (-len(s) % 4))

def b64e(b):
    return base64.urlsafe_b64encode(b).rstrip(b"=").decode()

valid = [line.strip() for line in open(sys.argv[1]) if line.strip()]
invalid = []
for token in valid[:20]:
    header, payload, sig = token.split(".")
    claims = json.loads(b64d(payload))
    claims["sub"] = "loadtest-invalid"
    invalid.append(".".join([header, b64e(json.dumps(claims).encode()), sig]))
with open(sys.argv[2], "w") as f:
    f.write("return {\n  valid = {\n")
    f.writelines(f'    "{t}",\n' for t in valid)
    f.write("  },\n  invalid = {\n")
    f.writelines(f'    "{t}",\n' for t in invalid)
    f.write("  },\n}\n")
with open(sys.argv[3], "w") as f:
    f.writelines(f"{t}\n" for t in invalid)
EOF

PORT=$(python3 -c 'import socket; s = socket.socket(); s.bind(("127.0.0.1", 0)); print(s.getsockname()[1])')
URL=http://127.0.0.1:$PORT/whoami
echo "== serve on 127.0.0.1:$PORT" >&2
RUST_LOG=warn "${SERVER_ON[@]}" "$BIN" serve --domain "$DOMAIN" --audience "$AUD" --ca-cert "$CA" \
    --listen "127.0.0.1:$PORT" 2>"$WORK/serve.log" &
SERVE=$!
PIDS+=("$SERVE")
for _ in $(seq 100); do
    curl -s -o /dev/null "$URL" && break
    sleep 0.1
done
rss() { awk '/^VmRSS/ {print $2 " " $3}' "/proc/$SERVE/status"; }

# The challenge an invalid token gets (every 401 of the run must carry the same). Read from a
# file, not a pipe: under pipefail, a reader that stops early (grep -m1, head) can kill the
# writer with SIGPIPE and the script with it, silently.
INVALID=$(head -n 1 "$WORK/invalid.txt")
EXPECTED_401=$(curl -s -D - -o /dev/null -H "Authorization: Bearer $INVALID" "$URL" |
    awk 'tolower($1) == "www-authenticate:" {sub(/^[^:]*: /, ""); sub(/\r$/, ""); print}')
VALID_STATUS=$(curl -s -o /dev/null -w '%{http_code}' \
    -H "Authorization: Bearer $(head -1 "$WORK/valid.txt")" "$URL")
echo "probe: valid -> $VALID_STATUS; invalid -> 401 WWW-Authenticate: $EXPECTED_401"
[ "$VALID_STATUS" = 200 ] || { echo "a valid token is refused" >&2; exit 1; }
RSS_START=$(rss)

export LOADTEST_TOKENS=$WORK/tokens.lua LOADTEST_EXPECTED_401=$EXPECTED_401
exec 9>"$CPU_LOCK"
flock 9
echo "== warm-up: $WARMUP" >&2
"${CLIENT_ON[@]}" wrk -t"$THREADS" -c"$CONNECTIONS" -d"$WARMUP" -s scripts/loadtest.lua "$URL" >"$WORK/warmup.txt"
RSS_BEFORE=$(rss)
echo "== measured run: $DURATION, $THREADS wrk thread(s), $CONNECTIONS connections" >&2
(
    while kill -0 "$SERVE" 2>/dev/null; do
        echo "$(date +%T) $(rss)"
        sleep 5
    done
) >"$WORK/rss.txt" &
SAMPLER=$!
PIDS+=("$SAMPLER")
LOAD_START=$(cut -d' ' -f1-3 /proc/loadavg)
echo "== saturation" >&2
"${CLIENT_ON[@]}" wrk -t"$THREADS" -c"$CONNECTIONS" -d"$DURATION" --latency -s scripts/loadtest.lua "$URL" | tee "$WORK/run.txt"
RSS_SATURATED=$(rss)
SATURATION=$(awk '/^LOADTEST requests=/ {sub(/rps=/, "", $4); print $4}' "$WORK/run.txt")
# The rate run: RATE_PERCENT % of the saturation rate, offered at a fixed rate whatever the
# answers do (open loop), the latency of each request counted from when it was due.
RATE=$((SATURATION * RATE_PERCENT / 100))
echo "== rate run: ${RATE_PERCENT}% of $SATURATION req/s = $RATE req/s, open loop over $RATE_CONNECTIONS connections" >&2
"${CLIENT_ON[@]}" "$TARGET/release/examples/open_loop" "$URL" "$RATE" "${DURATION%s}" "$RATE_CONNECTIONS" \
    "$WORK/valid.txt" "$WORK/invalid.txt" "$EXPECTED_401" | tee "$WORK/rate.txt"
RSS_AFTER=$(rss)
flock -u 9
kill "$SAMPLER" 2>/dev/null || true

echo
echo "loadavg at start of the runs: $LOAD_START; server CPUs: ${SERVER_CPUS:-any}; load generator CPUs: ${CLIENT_CPUS:-any}"
echo "saturation: $SATURATION req/s; rate run offered $RATE req/s, achieved $(awk '/^LOADTEST requests=/ {sub(/rps=/, "", $4); print $4}' "$WORK/rate.txt") req/s"
echo "server RSS: at start $RSS_START; after warm-up $RSS_BEFORE; after saturation $RSS_SATURATED; after the rate run $RSS_AFTER"
echo "RSS samples during the runs:"
sed 's/^/  /' "$WORK/rss.txt"
for run in run rate; do
    grep -q 'unexpected=0$' "$WORK/$run.txt" && grep -q 'bad_accept=0 ' "$WORK/$run.txt" || {
        echo "FAIL: unexpected statuses ($run)" >&2
        exit 1
    }
done
echo "OK: every valid token got 200, every invalid one 401 with the expected challenge"
