#!/usr/bin/env bash
# The whole test suite from a fresh clone: install the Debian packages weir needs, build, run
# every test with ctest, then a 30-second smoke run of each fuzz target (scripts/fuzz.sh, a
# clang ASan+UBSan build). Exits non-zero on any failure.
set -euo pipefail
cd "$(dirname "$0")/.."
scripts/setup.sh
scripts/build.sh
(cd build && ctest --output-on-failure -j"$(nproc)" --timeout 600)
FUZZ_SEED=1 scripts/fuzz.sh 30
