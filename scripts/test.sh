#!/usr/bin/env bash
# The whole test suite from a fresh clone: install the Debian packages weir needs, build, run
# every test with ctest - the Kafka-facing ones twice, on the embedded broker and on a real
# Apache Kafka that ctest's `kafka_cluster` fixture starts and stops (scripts/kafka.sh; Maven
# fetches it on first use) - then a 20-second smoke run of each fuzz target (scripts/fuzz.sh,
# a clang ASan+UBSan build). Exits non-zero on any failure.
set -euo pipefail
cd "$(dirname "$0")/.."
scripts/setup.sh
scripts/build.sh
scripts/k8s-tools.sh
# The fuzz targets' clang build runs beside the tests at the lowest priority: it takes the cycles
# they leave idle (much of the suite waits on brokers and rebalances), not theirs.
nice -n 19 scripts/fuzz.sh 0 >build/fuzz-build.log 2>&1 &
fuzz_build=$!
tests=0
(cd build && ctest --output-on-failure -j"$(nproc)" --timeout 600) || tests=$?
if ! wait "$fuzz_build"; then
  cat build/fuzz-build.log >&2
  echo "test.sh: building the fuzz targets failed (build/fuzz-build.log)" >&2
  exit 1
fi
[ "$tests" -eq 0 ] || exit "$tests"
FUZZ_SEED=1 scripts/fuzz.sh 20
