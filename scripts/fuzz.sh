#!/usr/bin/env bash
# Builds the libFuzzer targets (tests/fuzz/) with clang, ASan and UBSan in build-fuzz, and runs
# each for SECONDS on a copy of its seed corpus, one target per core at a time. A finding (crash,
# leak, sanitizer report or a violated property) ends that target's run: its input is kept in
# build-fuzz/findings/<target>/, and the script exits 1 naming it. Add such an input to the
# target's corpus as a regression case.
#   scripts/fuzz.sh [SECONDS] [TARGET...]    default 30 s each, every target
#   scripts/fuzz.sh 600 payment              ten minutes of the payment parser
#   scripts/fuzz.sh 0                        build only
# Targets: payment, stored_value, config, membership. FUZZ_SEED=N fixes libFuzzer's random seed
# (scripts/test.sh uses 1, so a smoke run explores the same inputs on every machine); unset, each
# run explores anew.
set -euo pipefail
cd "$(dirname "$0")/.."
seconds="${1:-30}"
shift || true
targets=("$@")
[ ${#targets[@]} -gt 0 ] || targets=(payment stored_value config membership)

cxx="$(command -v clang++-14 || command -v clang++ || true)"
[ -n "$cxx" ] || { echo "fuzz: clang++ not found (scripts/setup.sh installs clang-14)" >&2; exit 1; }
cmake -S . -B build-fuzz -DCMAKE_BUILD_TYPE=RelWithDebInfo -DCMAKE_CXX_COMPILER="$cxx" \
  -DWEIR_FUZZ=ON >/dev/null
cmake --build build-fuzz -j"$(nproc)" --target "${targets[@]/%/_fuzzer}"
[ "$seconds" != 0 ] || exit 0

# Leaks are findings too; UBSan stops at its first report (the build sets no-recover).
export ASAN_OPTIONS="detect_leaks=1:abort_on_error=1"
export UBSAN_OPTIONS="print_stacktrace=1:halt_on_error=1"
# One target per core at a time: each runs its SECONDS whatever runs beside it.
run_target() {
  local target="$1" work="build-fuzz/corpus/$1" findings="build-fuzz/findings/$1"
  local log="build-fuzz/$1.log"
  mkdir -p "$work" "$findings"
  cp -n tests/fuzz/corpus/"$target"/* "$work"/
  if build-fuzz/tests/fuzz/"${target}_fuzzer" "$work" -max_total_time="$seconds" \
      -timeout=10 -rss_limit_mb=2048 -artifact_prefix="$findings/" -print_final_stats=1 \
      -seed="${FUZZ_SEED:-0}" \
      >"$log" 2>&1; then
    runs=$(sed -n 's/^stat::number_of_executed_units: *//p' "$log")
    echo "fuzz $target: ${seconds} s, ${runs:-?} executions, no finding"
  else
    echo "fuzz $target: FINDING - see $log and $findings/" >&2
    grep -m5 -E "ERROR|property violated|runtime error" "$log" >&2 || true
    return 1
  fi
}
status=0
parallel="$(nproc)"
for ((i = 0; i < ${#targets[@]}; i += parallel)); do
  pids=()
  for target in "${targets[@]:i:parallel}"; do
    run_target "$target" &
    pids+=($!)
  done
  for pid in "${pids[@]}"; do wait "$pid" || status=1; done
done
exit $status
