#!/usr/bin/env bash
# Installs what tests/deploy_test.cc needs to check deploy/k8s: kustomize (built with Go from
# the Go module proxy into build/tools/bin) and the manifest validator's npm packages
# (deploy/k8s/validate, exact versions from its package-lock.json). Idempotent; needs `go` and
# `npm` (scripts/setup.sh installs them from Debian when missing).
set -euo pipefail
cd "$(dirname "$0")/.."
readonly kustomize_version=v5.0.0  # builds with Debian 12's Go 1.19
tools="$PWD/build/tools"
if [ ! -x "$tools/bin/kustomize" ]; then
  echo "k8s-tools: building kustomize $kustomize_version" >&2
  GOPATH="$tools/go" GOCACHE="$tools/go-cache" GOBIN="$tools/bin" GOFLAGS=-modcacherw \
    GOPROXY="${GOPROXY:-https://proxy.golang.org}" GOTOOLCHAIN=local \
    go install "sigs.k8s.io/kustomize/kustomize/v5@$kustomize_version"
fi
if [ ! -d deploy/k8s/validate/node_modules ]; then
  echo "k8s-tools: installing the manifest validator's packages" >&2
  (cd deploy/k8s/validate && npm ci --no-audit --no-fund --loglevel=error)
fi
