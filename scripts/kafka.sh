#!/usr/bin/env bash
# A real Apache Kafka (KRaft) on loopback, for tests and benchmarks:
#
#   scripts/kafka.sh start DIR [--brokers N] [--sasl-ssl] [--version V]
#   scripts/kafka.sh stop DIR                 stop every broker of DIR's cluster (SIGTERM, then
#                                             SIGKILL after 60 s)
#   scripts/kafka.sh status DIR               0 when every broker answers metadata requests
#   scripts/kafka.sh stop-broker DIR ID       stop one broker (1..N), its data kept
#   scripts/kafka.sh start-broker DIR ID      start it again and wait until it is back
#
# `start` resolves the broker (org.apache.kafka:kafka_2.13, version pinned in
# scripts/kafka/pom.xml, or --version, e.g. 3.9.1; written to DIR/version) through Maven into the
# local Maven repository (network on first use only), formats N combined broker+controller KRaft nodes in DIR (default 1; 3 makes a cluster
# whose internal topics have replication factor 3 and min.insync.replicas 2), starts them on free
# loopback ports, waits until all N answer metadata requests and prints the bootstrap servers as
# its last line (also written to DIR/bootstrap). `--sasl-ssl` adds a SASL_SSL listener per broker
# with a self-signed CA made by openssl and a user `weir` for SCRAM-SHA-512 and PLAIN;
# DIR/sasl_ssl.properties then holds the client settings for it (bootstrap.servers,
# security.protocol, sasl.* with PLAIN, ssl.ca.location) and DIR/sasl_ssl.bootstrap its bootstrap
# servers. (librdkafka before 2.6.1 cannot log in with SCRAM to Kafka 4.x: docs/kafka.md.)
# Logs: DIR/broker-ID/server.log.
set -euo pipefail
here="$(cd "$(dirname "$0")" && pwd)"

usage() {
  sed -n '2,/^set -euo/p' "$0" | grep '^#' | sed 's/^# \{0,1\}//' >&2
  exit 2
}
die() {
  echo "kafka.sh: $*" >&2
  exit 1
}

[ $# -ge 2 ] || usage
command="$1"
dir="$2"
shift 2

pinned_version() {
  sed -n 's:.*<kafka.version>\(.*\)</kafka.version>.*:\1:p' "$here/kafka/pom.xml"
}

# The cluster's broker version: what `start --version` wrote to DIR/version, else the pom's.
version() {
  cat "$dir/version" 2>/dev/null || pinned_version
}

# The broker's runtime classpath, resolved once per pom and version and cached in DIR.
classpath() {
  local cache="$dir/classpath" v
  v="$(version)"
  if [ ! -s "$cache" ] || [ "$here/kafka/pom.xml" -nt "$cache" ]; then
    command -v mvn >/dev/null || die "Maven (mvn) is missing: run scripts/setup.sh"
    command -v java >/dev/null || die "Java is missing: run scripts/setup.sh"
    # Offline when the local repository already has everything; online on first use.
    mvn -q -B -o -f "$here/kafka/pom.xml" -Dkafka.version="$v" dependency:build-classpath \
      -Dmdep.outputFile="$cache" >/dev/null 2>&1 ||
      mvn -q -B -f "$here/kafka/pom.xml" -Dkafka.version="$v" dependency:build-classpath \
        -Dmdep.outputFile="$cache" >"$dir/maven.log" 2>&1 ||
      die "Maven could not resolve Apache Kafka $v (see $dir/maven.log)"
  fi
  cat "$cache"
}

free_port() {
  python3 -c 'import socket; s = socket.socket(); s.bind(("127.0.0.1", 0)); print(s.getsockname()[1])'
}

# Answers metadata requests with `want` brokers.
answers() {
  local bootstrap="$1" want="$2" count
  count="$(kcat -L -b "$bootstrap" -m 3 -J 2>/dev/null |
    python3 -c 'import json, sys; print(len(json.load(sys.stdin)["brokers"]))' 2>/dev/null)" ||
    return 1
  [ "$count" = "$want" ]
}

wait_until_answering() {
  local bootstrap="$1" want="$2" deadline=$((SECONDS + 90))
  until answers "$bootstrap" "$want"; do
    for pidfile in "$dir"/broker-*/pid; do
      kill -0 "$(cat "$pidfile")" 2>/dev/null ||
        die "broker $(basename "$(dirname "$pidfile")") exited during start-up: see $(dirname "$pidfile")/server.log"
    done
    [ $SECONDS -lt $deadline ] || die "no metadata answer from $bootstrap with $want brokers after 90 s"
    sleep 0.5  # polling the broker's answer
  done
}

make_certificates() {
  local tls="$dir/tls" password="$1"
  mkdir -p "$tls"
  openssl req -x509 -newkey rsa:2048 -nodes -days 30 -subj "/CN=weir-test-ca" \
    -keyout "$tls/ca.key" -out "$tls/ca.pem" 2>/dev/null
  openssl req -newkey rsa:2048 -nodes -subj "/CN=localhost" \
    -keyout "$tls/broker.key" -out "$tls/broker.csr" 2>/dev/null
  printf 'subjectAltName=DNS:localhost,IP:127.0.0.1\n' >"$tls/san.ext"
  openssl x509 -req -in "$tls/broker.csr" -CA "$tls/ca.pem" -CAkey "$tls/ca.key" \
    -CAcreateserial -days 30 -extfile "$tls/san.ext" -out "$tls/broker.pem" 2>/dev/null
  openssl pkcs12 -export -in "$tls/broker.pem" -inkey "$tls/broker.key" -certfile "$tls/ca.pem" \
    -name broker -passout "pass:$password" -out "$tls/broker.p12"
}

start_node() {
  local id="$1" node="$dir/broker-$1"
  local heap="${KAFKA_HEAP:--Xms512m -Xmx512m}"
  # shellcheck disable=SC2086  # the heap options are words
  nohup java $heap -XX:+UseG1GC -XX:MaxGCPauseMillis=20 -Djava.awt.headless=true \
    -Dlog4j2.configurationFile="$dir/log4j2.properties" \
    -Dlog4j.configuration="file:$dir/log4j.properties" -Dkafka.logs.dir="$node" \
    -cp "$(classpath)" kafka.Kafka "$node/server.properties" >"$node/stdout.log" 2>&1 &
  echo $! >"$node/pid"
}

stop_node() {
  local node="$dir/broker-$1" pid
  [ -f "$node/pid" ] || return 0
  pid="$(cat "$node/pid")"
  if kill -0 "$pid" 2>/dev/null; then
    kill -TERM "$pid"
    local deadline=$((SECONDS + 60))
    while kill -0 "$pid" 2>/dev/null; do
      if [ $SECONDS -ge $deadline ]; then
        kill -KILL "$pid" 2>/dev/null || true
        break
      fi
      sleep 0.2  # waiting for the broker's controlled shutdown
    done
  fi
  rm -f "$node/pid"
}

cmd_start() {
  local brokers=1 sasl_ssl=0 wanted
  wanted="$(pinned_version)"
  while [ $# -gt 0 ]; do
    case "$1" in
      --brokers) brokers="$2"; shift 2 ;;
      --sasl-ssl) sasl_ssl=1; shift ;;
      --version) wanted="$2"; shift 2 ;;
      *) usage ;;
    esac
  done
  case "$wanted" in 3.[7-9].* | 4.*) ;; *) die "--version: Kafka 3.7 to 4.x (KRaft), not $wanted" ;; esac
  case "$brokers" in 1 | 3) ;; *) die "--brokers must be 1 or 3, not $brokers" ;; esac
  command -v kcat >/dev/null || die "kcat is missing: run scripts/setup.sh"
  if [ -f "$dir/bootstrap" ] && cmd_status >/dev/null 2>&1; then
    die "a cluster already runs in $dir ($(cat "$dir/bootstrap")): stop it first"
  fi
  rm -rf "$dir"
  mkdir -p "$dir"
  dir="$(cd "$dir" && pwd)"
  echo "$wanted" >"$dir/version"
  local cp
  cp="$(classpath)"

  cat >"$dir/log4j2.properties" <<'EOF'
appender.file.type = File
appender.file.name = file
appender.file.fileName = ${sys:kafka.logs.dir}/server.log
appender.file.layout.type = PatternLayout
appender.file.layout.pattern = [%d] %p %m (%c)%n
rootLogger.level = INFO
rootLogger.appenderRef.file.ref = file
logger.kafka.name = kafka
logger.kafka.level = INFO
logger.state.name = state.change.logger
logger.state.level = WARN
EOF
  # Kafka 3.x logs through log4j 1 (reload4j).
  cat >"$dir/log4j.properties" <<'EOF'
log4j.rootLogger=INFO, file
log4j.appender.file=org.apache.log4j.FileAppender
log4j.appender.file.File=${kafka.logs.dir}/server.log
log4j.appender.file.layout=org.apache.log4j.PatternLayout
log4j.appender.file.layout.ConversionPattern=[%d] %p %m (%c)%n
log4j.logger.state.change.logger=WARN
EOF

  local scram_password="" tls_password=""
  if [ $sasl_ssl -eq 1 ]; then
    scram_password="$(openssl rand -hex 12)"
    tls_password="$(openssl rand -hex 12)"
    make_certificates "$tls_password"
  fi

  local voters="" bootstrap="" sasl_bootstrap="" i
  local -a ports controller_ports sasl_ports
  for i in $(seq 1 "$brokers"); do
    ports[i]="$(free_port)"
    controller_ports[i]="$(free_port)"
    sasl_ports[i]="$(free_port)"
    voters+="${voters:+,}$i@127.0.0.1:${controller_ports[i]}"
    bootstrap+="${bootstrap:+,}127.0.0.1:${ports[i]}"
    sasl_bootstrap+="${sasl_bootstrap:+,}localhost:${sasl_ports[i]}"
  done
  local replication=$((brokers < 3 ? 1 : 3)) min_isr=$((brokers < 3 ? 1 : 2))
  local cluster_id
  cluster_id="$(java -cp "$cp" kafka.tools.StorageTool random-uuid 2>/dev/null | tail -1)"

  for i in $(seq 1 "$brokers"); do
    local node="$dir/broker-$i"
    mkdir -p "$node/data"
    local listeners="PLAINTEXT://127.0.0.1:${ports[i]},CONTROLLER://127.0.0.1:${controller_ports[i]}"
    local advertised="PLAINTEXT://127.0.0.1:${ports[i]}"
    local protocol_map="PLAINTEXT:PLAINTEXT,CONTROLLER:PLAINTEXT"
    if [ $sasl_ssl -eq 1 ]; then
      listeners+=",SASL_SSL://127.0.0.1:${sasl_ports[i]}"
      advertised+=",SASL_SSL://localhost:${sasl_ports[i]}"
      protocol_map+=",SASL_SSL:SASL_SSL"
    fi
    cat >"$node/server.properties" <<EOF
process.roles=broker,controller
node.id=$i
controller.quorum.voters=$voters
controller.listener.names=CONTROLLER
listeners=$listeners
advertised.listeners=$advertised
listener.security.protocol.map=$protocol_map
inter.broker.listener.name=PLAINTEXT
log.dirs=$node/data
num.partitions=1
default.replication.factor=$replication
min.insync.replicas=$min_isr
offsets.topic.replication.factor=$replication
offsets.topic.num.partitions=12
transaction.state.log.replication.factor=$replication
transaction.state.log.min.isr=$min_isr
transaction.state.log.num.partitions=12
group.initial.rebalance.delay.ms=0
auto.create.topics.enable=false
log.segment.bytes=67108864
# Tests and benchmarks replay events with old timestamps: no time-based deletion unless a topic
# asks for it (window changelogs do: retention.ms), checked every 30 s.
log.retention.ms=-1
log.retention.check.interval.ms=30000
EOF
    if [ $sasl_ssl -eq 1 ]; then
      cat >>"$node/server.properties" <<EOF
sasl.enabled.mechanisms=SCRAM-SHA-512,PLAIN
listener.name.sasl_ssl.scram-sha-512.sasl.jaas.config=org.apache.kafka.common.security.scram.ScramLoginModule required;
listener.name.sasl_ssl.plain.sasl.jaas.config=org.apache.kafka.common.security.plain.PlainLoginModule required user_weir="$scram_password";
ssl.keystore.type=PKCS12
ssl.keystore.location=$dir/tls/broker.p12
ssl.keystore.password=$tls_password
ssl.key.password=$tls_password
EOF
    fi
    local scram=()
    [ $sasl_ssl -eq 1 ] && scram=(--add-scram "SCRAM-SHA-512=[name=\"weir\",password=\"$scram_password\"]")
    java -cp "$cp" -Dlog4j2.configurationFile="$dir/log4j2.properties" \
      -Dlog4j.configuration="file:$dir/log4j.properties" \
      -Dkafka.logs.dir="$node" kafka.tools.StorageTool format -t "$cluster_id" \
      -c "$node/server.properties" "${scram[@]}" >"$node/format.log" 2>&1 ||
      die "formatting broker $i failed: see $node/format.log"
  done

  echo "$brokers" >"$dir/brokers"
  echo "$bootstrap" >"$dir/bootstrap"
  for i in $(seq 1 "$brokers"); do start_node "$i"; done
  wait_until_answering "$bootstrap" "$brokers"

  if [ $sasl_ssl -eq 1 ]; then
    echo "$sasl_bootstrap" >"$dir/sasl_ssl.bootstrap"
    cat >"$dir/sasl_ssl.properties" <<EOF
bootstrap.servers=$sasl_bootstrap
security.protocol=SASL_SSL
sasl.mechanism=PLAIN
sasl.username=weir
sasl.password=$scram_password
ssl.ca.location=$dir/tls/ca.pem
EOF
  fi
  echo "kafka.sh: Apache Kafka $(version), $brokers broker(s) in $dir" >&2
  echo "$bootstrap"
}

cmd_stop() {
  [ -d "$dir" ] || die "$dir is not a kafka.sh cluster directory"
  local i
  # Brokers first, then the last controller: a lone controller shuts down at once.
  for i in $(seq "$(cat "$dir/brokers" 2>/dev/null || echo 1)" -1 1); do stop_node "$i"; done
}

cmd_status() {
  [ -f "$dir/bootstrap" ] || die "no cluster in $dir (no $dir/bootstrap)"
  local bootstrap
  bootstrap="$(cat "$dir/bootstrap")"
  if answers "$bootstrap" "$(cat "$dir/brokers")"; then
    echo "running: $bootstrap"
  else
    echo "not answering: $bootstrap" >&2
    return 1
  fi
}

node_id() {
  local id="${1:-}"
  [ -n "$id" ] && [ -f "$dir/broker-$id/server.properties" ] || die "no broker '$id' in $dir"
  echo "$id"
}

case "$command" in
  start) cmd_start "$@" ;;
  stop) cmd_stop ;;
  status) cmd_status ;;
  stop-broker) stop_node "$(node_id "${1:-}")" ;;
  start-broker)
    id="$(node_id "${1:-}")"
    dir="$(cd "$dir" && pwd)"
    start_node "$id"
    wait_until_answering "$(cat "$dir/bootstrap")" "$(cat "$dir/brokers")"
    ;;
  *) usage ;;
esac
