#!/usr/bin/env bash
# Installs exactly the Debian packages weir needs to build, test and run.
# Idempotent and non-interactive: it runs `apt-get update` and `apt-get install` only when a
# package is missing, and does nothing otherwise. Needs root (or sudo) only when it installs.
set -euo pipefail

packages=(
  # toolchain
  build-essential cmake pkg-config
  # libraries weir links (docs/architecture.md, "Layers")
  librdkafka-dev librocksdb-dev libabsl-dev prometheus-cpp-dev libyaml-cpp-dev
  libssl-dev libcli11-dev libspdlog-dev nlohmann-json3-dev libsimdjson-dev
  libcivetweb-dev civetweb
  # tests and benchmarks (libcurl: their loopback HTTP client, common/http_client.h)
  libgtest-dev libgmock-dev libbenchmark-dev libcurl4-openssl-dev
  # libFuzzer with ASan and UBSan (scripts/fuzz.sh)
  clang-14 libclang-rt-14-dev
  # real Kafka clients the tests drive against both brokers
  kcat
  # a real Apache Kafka broker from Maven Central (scripts/kafka.sh): Java 17, Maven, and
  # python3 and openssl for its ports and certificates
  openjdk-17-jre-headless maven python3 openssl
  # a JDK for the Kafka Streams peer of `weir bench kstreams` (bench/peers/kafka-streams)
  openjdk-17-jdk-headless
  # a real Prometheus server (and promtool) for the scrape and rules tests
  prometheus
  # systemd-analyze, which verifies deploy/systemd/weir.service
  systemd
)

# Go (to build kustomize) and npm (the manifest validator's packages) for scripts/k8s-tools.sh:
# Debian's, unless the machine already has the commands (a newer Node's npm conflicts with
# Debian's npm package).
command -v go >/dev/null || packages+=(golang-go)
command -v npm >/dev/null || packages+=(nodejs npm)

missing=()
for p in "${packages[@]}"; do
  if [ "$(dpkg-query -W -f='${Status}' "$p" 2>/dev/null)" != "install ok installed" ]; then
    missing+=("$p")
  fi
done

if [ ${#missing[@]} -eq 0 ]; then
  echo "setup: all ${#packages[@]} packages present"
  exit 0
fi

echo "setup: installing ${missing[*]}"
as_root=()
if [ "$(id -u)" -ne 0 ]; then
  command -v sudo >/dev/null || { echo "setup: need root (or sudo) to install packages" >&2; exit 1; }
  as_root=(sudo)
fi
export DEBIAN_FRONTEND=noninteractive
"${as_root[@]}" apt-get update -qq
"${as_root[@]}" apt-get install -y -qq --no-install-recommends "${missing[@]}"
echo "setup: done"
