#!/usr/bin/env bash
# The whole test suite from a fresh clone: install the Debian packages weir needs, build, and run
# every test with ctest. Exits non-zero on any failure.
set -euo pipefail
cd "$(dirname "$0")/.."
scripts/setup.sh
scripts/build.sh
cd build
ctest --output-on-failure -j"$(nproc)" --timeout 600
