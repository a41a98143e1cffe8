#!/usr/bin/env bash
# Runs the cargo-fuzz targets one at a time, each for SECONDS (default 600), niced and under
# the machine's CPU lock, and prints one summary line per target (seconds, executions,
# crashes). Nightly only; never part of the stable build or CI.
#
#   fuzz/run.sh [SECONDS] [TARGET...]      # all targets when none is named
#
# New corpus entries go to target/corpus/<target>; the committed seeds in corpus/<target> are
# read, never written. Crashes land in artifacts/<target>/; full logs in target/logs/.
set -euo pipefail
cd "$(dirname "$0")"

seconds="${1:-600}"
shift || true
if [ "$#" -gt 0 ]; then
  targets=("$@")
else
  mapfile -t targets < <(cargo +nightly fuzz list)
fi
# The same dependency versions as the workspace.
[ -f Cargo.lock ] || cp ../Cargo.lock Cargo.lock
mkdir -p target/logs

for t in "${targets[@]}"; do
  mkdir -p "target/corpus/$t" "corpus/$t"
  cargo +nightly fuzz build "$t" >/dev/null 2>&1 || cargo +nightly fuzz build "$t"
  log="target/logs/$t.log"
  rm -f fuzz-0.log
  status=0
  # -jobs=1 -workers=1: one worker process, its output in fuzz-0.log.
  flock /tmp/cpu.lock nice -n 19 cargo +nightly fuzz run "$t" "target/corpus/$t" "corpus/$t" -- \
    -max_total_time="$seconds" -rss_limit_mb=2048 -jobs=1 -workers=1 -print_final_stats=1 \
    >"$log.driver" 2>&1 || status=$?
  cat "$log.driver" fuzz-0.log >"$log" 2>/dev/null || true
  rm -f fuzz-0.log
  execs=$(grep -o 'stat::number_of_executed_units: *[0-9]*' "$log" | tail -1 | grep -o '[0-9]*$' || true)
  ran=$(grep -o 'Done [0-9]* runs in [0-9]* second' "$log" | tail -1 | awk '{print $5}' || true)
  crashes=$(find "artifacts/$t" -type f 2>/dev/null | wc -l)
  echo "target=$t seconds=${ran:-?} (of $seconds) execs=${execs:-?} crashes=$crashes exit=$status"
done
