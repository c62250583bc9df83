#!/usr/bin/env bash
# Configures and builds weir into ./build (RelWithDebInfo). Extra arguments are passed to
# `cmake --build`, e.g. `scripts/build.sh --target weir`.
set -euo pipefail
cd "$(dirname "$0")/.."
cmake -S . -B build -DCMAKE_BUILD_TYPE="${CMAKE_BUILD_TYPE:-RelWithDebInfo}" >/dev/null
cmake --build build -j"$(nproc)" "$@"
