#!/usr/bin/env bash
# Measures how long `weir run` (config/weir.yaml, embedded broker) takes to come up, as a new
# user meets it: start to first record processed, and the same after kill -9 and an immediate
# restart. Each run produces one payment with kcat as soon as the bootstrap line appears and
# waits for the progress line that counts it. Needs a built build/cli/weir and kcat.
#   scripts/startup-times.sh [RUNS]     (default 3; prints every run, then the medians)
set -euo pipefail
cd "$(dirname "$0")/.."
runs="${1:-3}"
work="$(mktemp -d)"
trap 'kill -9 $(jobs -p) 2>/dev/null || true; rm -rf "$work"' EXIT

payment='4111111111111111|{"txn_id":"t1","card":"4111111111111111","amount":1.00,"merchant":"m","country":"DE","ts":1732270000000}'

# Starts weir, feeds it one payment, prints the seconds until it was processed; leaves the
# process running (its pid in $work/pid).
first_record_seconds() {
  local start out err bootstrap
  out="$work/out.$1" err="$work/err.$1"
  start=$(date +%s.%N)
  build/cli/weir run --config config/weir.yaml --progress-interval 0.2 \
    --set "state.dir=$work/state" --set metrics.port=0 >"$out" 2>"$err" &
  echo $! >"$work/pid"
  for _ in $(seq 1 300); do
    bootstrap=$(head -1 "$out" 2>/dev/null || true)
    [ -n "$bootstrap" ] && break
    sleep 0.1
  done
  [ -n "$bootstrap" ] || { echo "no bootstrap line; see $err" >&2; exit 1; }
  echo "$payment" | kcat -b "$bootstrap" -t payments -P -K'|' -X partitioner=murmur2_random
  for _ in $(seq 1 1200); do
    if grep -q "processed 1 " "$err"; then
      awk -v a="$(date +%s.%N)" -v b="$start" 'BEGIN {print a - b}'
      return
    fi
    sleep 0.05
  done
  echo "no record processed in 60 s; see $err" >&2
  exit 1
}

median() { sort -n | awk '{a[NR]=$1} END {print a[int((NR+1)/2)]}'; }

starts=() restarts=()
for i in $(seq 1 "$runs"); do
  rm -rf "$work/state"
  s=$(first_record_seconds "start$i")
  kill -9 "$(cat "$work/pid")"
  r=$(first_record_seconds "restart$i")
  kill -TERM "$(cat "$work/pid")"
  wait "$(cat "$work/pid")" 2>/dev/null || true
  printf 'run %d: start to first record %.1f s; kill -9, restart to first record %.1f s\n' \
    "$i" "$s" "$r"
  starts+=("$s") restarts+=("$r")
done
printf 'median of %d: start %.1f s, restart after kill -9 %.1f s\n' "$runs" \
  "$(printf '%s\n' "${starts[@]}" | median)" "$(printf '%s\n' "${restarts[@]}" | median)"
