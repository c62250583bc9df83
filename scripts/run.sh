#!/usr/bin/env bash
# Quickstart: install what weir needs, build it, and run the fraud-detection service on the
# embedded broker with live progress until Ctrl-C. Extra arguments go to `weir run`,
# e.g. `--set num.stream.threads=1`.
set -euo pipefail
cd "$(dirname "$0")/.."
scripts/setup.sh
scripts/build.sh --target weir
exec build/cli/weir run --config config/weir.yaml "$@"
