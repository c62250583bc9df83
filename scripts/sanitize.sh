#!/usr/bin/env bash
# Builds the test suite with a sanitizer and runs it with ctest:
#   scripts/sanitize.sh asan [CTEST ARGS...]   AddressSanitizer + UndefinedBehaviorSanitizer,
#                                              leaks included, in build-asan
#   scripts/sanitize.sh tsan [CTEST ARGS...]   ThreadSanitizer, in build-tsan
# e.g. scripts/sanitize.sh tsan -R 'Sensor|Standby|Membership'. GCC's sanitizers; weir's own code
# and its tests are instrumented, the Debian libraries are not. Reports about librdkafka's and
# RocksDB's internals are suppressed in tests/sanitizers/*.supp, each entry with its reason;
# nothing in weir's code is. Under TSan every process is given tests/sanitizers/c11_threads.c
# (LD_PRELOAD), which puts librdkafka's C11 threads and locks where TSan sees them.
set -euo pipefail
cd "$(dirname "$0")/.."
kind="${1:-}"
shift || true
case "$kind" in
  asan)
    # GCC 12's flow analysis under ASan reports libstdc++'s <regex> internals as maybe
    # uninitialized (std::function moves in _NFA::_M_insert_*): a warning, not an error, here.
    flags="-fsanitize=address,undefined -fno-sanitize-recover=undefined -fno-omit-frame-pointer"
    flags+=" -Wno-error=maybe-uninitialized"
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
if [ "$kind" = tsan ]; then
  # librdkafka's C11 threads and absl's Mutex, where TSan sees them (each file says why).
  cc -O1 -shared -fPIC -o "$dir/libc11threads.so" tests/sanitizers/c11_threads.c -lpthread
  absl_sync="$(pkg-config --variable=libdir absl_synchronization)/libabsl_synchronization.so"
  absl_ns="$(nm -D --defined-only "$absl_sync" |
    sed -n 's/.*_ZN4absl\([0-9][0-9]*[A-Za-z0-9_]*\)5Mutex4LockEv$/\1/p')"
  c++ -std=c++20 -O1 -shared -fPIC -DWEIR_ABSL_NS="\"$absl_ns\"" -o "$dir/libabsl_mutex.so" \
    tests/sanitizers/absl_mutex.cc -ldl
  export LD_PRELOAD="$PWD/$dir/libc11threads.so $PWD/$dir/libabsl_mutex.so"
fi
cd "$dir"
# Sanitized code runs several times slower: give each test more time.
ctest --output-on-failure -j"$(nproc)" --timeout 1800 "$@"
