#!/usr/bin/env bash
# Builds the test suite with a sanitizer and runs it with ctest:
#   scripts/sanitize.sh asan [CTEST ARGS...]   AddressSanitizer + UndefinedBehaviorSanitizer,
#                                              leaks included, in build-asan
#   scripts/sanitize.sh tsan [CTEST ARGS...]   ThreadSanitizer, in build-tsan
# e.g. scripts/sanitize.sh tsan -R 'Sensor|Standby|Membership'. GCC's sanitizers; weir's own code
# and its tests are instrumented, the Debian libraries are not. Reports about librdkafka's and
# RocksDB's internals are suppressed in tests/sanitizers/*.supp, each entry with its reason;
# nothing in weir's code is.
set -euo pipefail
cd "$(dirname "$0")/.."
kind="${1:-}"
shift || true
case "$kind" in
  asan)
    flags="-fsanitize=address,undefined -fno-sanitize-recover=undefined -fno-omit-frame-pointer"
    export ASAN_OPTIONS="detect_leaks=1:abort_on_error=1:strict_init_order=1"
    export UBSAN_OPTIONS="print_stacktrace=1:halt_on_error=1"
    export LSAN_OPTIONS="suppressions=$PWD/tests/sanitizers/lsan.supp:print_suppressions=0"
    ;;
  tsan)
    flags="-fsanitize=thread -fno-omit-frame-pointer"
    export TSAN_OPTIONS="suppressions=$PWD/tests/sanitizers/tsan.supp:halt_on_error=1:second_deadlock_stack=1"
    ;;
  *)
    echo "usage: scripts/sanitize.sh asan|tsan [ctest args...]" >&2
    exit 2
    ;;
esac
dir="build-$kind"
cmake -S . -B "$dir" -DCMAKE_BUILD_TYPE=RelWithDebInfo -DWEIR_BUILD_BENCHMARKS=OFF \
  -DCMAKE_CXX_FLAGS="$flags" -DCMAKE_EXE_LINKER_FLAGS="${flags%% *}" >/dev/null
cmake --build "$dir" -j"$(nproc)"
cd "$dir"
# Sanitized code runs several times slower: give each test more time.
ctest --output-on-failure -j"$(nproc)" --timeout 1800 "$@"
