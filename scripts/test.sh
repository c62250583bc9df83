#!/usr/bin/env bash
# The whole test suite from a fresh clone: install the Debian packages weir needs, build, run
# every test with ctest - the Kafka-facing ones twice, on the embedded broker and on a real
# Apache Kafka that ctest's `kafka_cluster` fixture starts and stops (scripts/kafka.sh; Maven
# fetches it on first use) - then a 30-second smoke run of each fuzz target (scripts/fuzz.sh,
# a clang ASan+UBSan build). Exits non-zero on any failure.
set -euo pipefail
cd "$(dirname "$0")/.."
scripts/setup.sh
scripts/build.sh
(cd build && ctest --output-on-failure -j"$(nproc)" --timeout 600)
FUZZ_SEED=1 scripts/fuzz.sh 30
