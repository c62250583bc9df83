#!/usr/bin/env bash
# Quickstart: install what weir needs, build it, and run the service on the embedded broker with
# live progress until Ctrl-C. Extra arguments go to the weir command, e.g. `--set key=value`.
set -euo pipefail
cd "$(dirname "$0")/.."
scripts/setup.sh
scripts/build.sh --target weir
exec build/cli/weir broker --config config/weir.yaml "$@"
