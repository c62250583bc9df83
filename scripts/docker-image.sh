#!/usr/bin/env bash
# Builds weir's container image (deploy/Dockerfile) on a Debian 12 base that needs no registry,
# runs it, and reports its size and time to ready: the figures in deploy/README.md.
#   scripts/docker-image.sh [TAG]      (default weir:dev)
# Needs a running Docker engine and, the first time, debootstrap (apt-get install debootstrap)
# to make the base: `debootstrap --variant=minbase bookworm`, imported as weir-base:bookworm.
# The run: embedded broker, a read-only root filesystem, a named volume for state.dir, a test
# card token key; ready = the first 200 from /readyz; then SIGTERM, which must exit 0.
set -euo pipefail
cd "$(dirname "$0")/.."
tag="${1:-weir:dev}"
base=weir-base:bookworm
port=19464

if ! docker image inspect "$base" >/dev/null 2>&1; then
  root="$(mktemp -d)"
  trap 'rm -rf "$root"' EXIT
  echo "docker-image: making $base with debootstrap in $root" >&2
  debootstrap --variant=minbase bookworm "$root" http://deb.debian.org/debian >&2
  tar -C "$root" -c . | docker import - "$base" >/dev/null
fi

start=$(date +%s)
docker build -f deploy/Dockerfile --build-arg BASE="$base" -t "$tag" . >&2
echo "build: $(( $(date +%s) - start )) s"
megabytes() { docker image inspect "$1" --format '{{.Size}}' | awk '{printf "%.0f MB", $1 / 1e6}'; }
echo "image: $(megabytes "$tag") (base $(megabytes "$base"))"

name="weir-image-check-$$"
volume="weir-image-check-$$"
cleanup() {
  docker rm -f "$name" >/dev/null 2>&1 || true
  docker volume rm "$volume" >/dev/null 2>&1 || true
}
trap cleanup EXIT
t0=$(date +%s%N)
docker run -d --name "$name" --read-only -p "127.0.0.1:$port:9464" -v "$volume:/var/lib/weir" \
  -e WEIR_CARD_TOKEN_KEY=image-check-key "$tag" >/dev/null
for _ in $(seq 1 600); do
  if curl -fs -o /dev/null "http://127.0.0.1:$port/readyz"; then break; fi
  sleep 0.1
done
curl -fs -o /dev/null "http://127.0.0.1:$port/readyz" || { docker logs "$name" >&2; exit 1; }
echo "ready: $(( ($(date +%s%N) - t0) / 1000000 )) ms after docker run (embedded broker, 12 tasks)"
echo "user: $(docker exec "$name" id -un)"
for _ in $(seq 1 60); do
  health="$(docker inspect --format '{{.State.Health.Status}}' "$name")"
  [ "$health" = starting ] || break
  sleep 1
done
echo "HEALTHCHECK: $health"
t0=$(date +%s%N)
docker stop -t 60 "$name" >/dev/null
code="$(docker inspect --format '{{.State.ExitCode}}' "$name")"
echo "SIGTERM: exit $code after $(( ($(date +%s%N) - t0) / 1000000 )) ms"
[ "$health" = healthy ] && [ "$code" = 0 ]
