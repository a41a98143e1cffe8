#!/usr/bin/env bash
# Proxy overhead of `auth0-api gateway` (docs/PERFORMANCE.md, "Gateway"): requests/s and
# latency percentiles with wrk, same load, one run, against
#   1. the trivial upstream itself (nginx `return 200`),
#   2. the gateway with every path public (the same proxy stack, no verification),
#   3. the gateway verifying one Bearer token (verified-token cache on: the default),
#   4. the gateway verifying with the verified-token cache off (a signature check per request).
# The measured part holds `flock $CPU_LOCK` (default /tmp/cpu.lock).
# Needs a release build (cargo build --release -p auth0-api-cli), nginx, wrk, jq.
# Usage: scripts/gateway_overhead.sh [seconds per run, default 10] [connections, default 32]
#        [rounds, default 3: the four runs are repeated, interleaved, so that a change of the
#        background load on a shared machine hits every configuration alike]
set -euo pipefail
cd "$(dirname "$0")/.."
BIN=${BIN:-${CARGO_TARGET_DIR:-target}/release/auth0-api}
SECS=${1:-10}
CONNS=${2:-32}
ROUNDS=${3:-3}
DIR=$(mktemp -d)
PIDS=()
cleanup() { for p in "${PIDS[@]}"; do kill "$p" 2>/dev/null || true; done; rm -rf "$DIR"; }
trap cleanup EXIT
port() { python3 -c 'import socket; s=socket.socket(); s.bind(("127.0.0.1",0)); print(s.getsockname()[1])'; }
wait_port() { for _ in $(seq 200); do (echo > "/dev/tcp/127.0.0.1/$1") 2>/dev/null && return 0; sleep 0.05; done; echo "port $1 never opened" >&2; exit 1; }

UP=$(port)
mkdir -p "$DIR/nginx/tmp"
cat > "$DIR/nginx/nginx.conf" <<CONF
daemon off; master_process off; worker_processes 1;
pid $DIR/nginx/nginx.pid; error_log $DIR/nginx/error.log;
events { worker_connections 1024; }
http { access_log off; client_body_temp_path $DIR/nginx/tmp/b; proxy_temp_path $DIR/nginx/tmp/p;
  fastcgi_temp_path $DIR/nginx/tmp/f; uwsgi_temp_path $DIR/nginx/tmp/u; scgi_temp_path $DIR/nginx/tmp/s;
  server { listen 127.0.0.1:$UP; location / { return 200 "ok\n"; } } }
CONF
nginx -p "$DIR/nginx" -c "$DIR/nginx/nginx.conf" > /dev/null 2>&1 & PIDS+=($!)
wait_port "$UP"

TP=$(port)
"$BIN" dev-tenant --port "$TP" > "$DIR/tenant.json" 2>/dev/null & PIDS+=($!)
wait_port "$TP"
sleep 0.5
DOMAIN=$(jq -r .domain "$DIR/tenant.json"); CA=$(jq -r .ca_cert "$DIR/tenant.json")
TOKEN=$("$BIN" token --domain "$DOMAIN" --ca-cert "$CA" | jq -r .access_token)

start_gateway() { # extra args...; sets GW to the gateway's port (no subshell: PIDS must grow)
  local m; GW=$(port); m=$(port)
  "$BIN" gateway --domain "$DOMAIN" --audience https://api.example.com --ca-cert "$CA" \
    --upstream "http://127.0.0.1:$UP" --listen "127.0.0.1:$GW" --metrics-listen "127.0.0.1:$m" \
    "$@" > /dev/null 2>&1 & PIDS+=($!)
  wait_port "$GW"
  curl -sf "http://127.0.0.1:$m/readyz" > /dev/null || true
}
start_gateway --public-path /; PLAIN=$GW
start_gateway; VERIFY=$GW
start_gateway --verified-token-cache false; NOCACHE=$GW

for p in "$UP" "$PLAIN" "$VERIFY" "$NOCACHE"; do # warm up (connections, caches)
  wrk -t1 -c"$CONNS" -d2s -H "Authorization: Bearer $TOKEN" "http://127.0.0.1:$p/orders?x=1" > /dev/null
done
run() { # label, port
  echo "== $1 (round $ROUND)"
  wrk -t2 -c"$CONNS" -d"${SECS}s" --latency -H "Authorization: Bearer $TOKEN" "http://127.0.0.1:$2/orders?x=1" \
    | grep -E "Requests/sec|Non-2xx|  50%|  90%|  99%|requests in"
}
# Never overlap another measurement on this machine (the convention of scripts/loadtest.sh).
exec 9> "${CPU_LOCK:-/tmp/cpu.lock}"
flock 9
for ROUND in $(seq "$ROUNDS"); do
  run "upstream (nginx) direct" "$UP"
  run "gateway, all paths public (no verification)" "$PLAIN"
  run "gateway, Bearer verified (verified-token cache on)" "$VERIFY"
  run "gateway, Bearer verified (verified-token cache off)" "$NOCACHE"
done
