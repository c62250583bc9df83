// `weir bench kstreams`: weir against Kafka Streams on weir's flagship, same broker, same input.
//
// Operation: `weir loadgen` writes `records` payments over `cards` cards to a file once. Then,
// per stream-thread count and per system (weir, then the Kafka Streams peer of
// bench/peers/kafka-streams), each from empty state on its own topics (12 partitions, murmur2,
// broker append time):
//  1. catch-up: every payment but the last `latency_records` is produced, then the system
//     starts and consumes them. Throughput counts the records the group commits from its first
//     commit to the commit that covers them all (the consumer group's offsets, read every
//     100 ms: the same yardstick for both, nothing inside either system); CPU seconds are the
//     process's over that interval;
//  2. live: the last `latency_records` are produced at `latency_rate`/s, a pace both systems
//     keep up with. End-to-end latency per alert of this phase: the alert's append time on the
//     broker minus its triggering payment's (both broker clocks: one machine);
//  3. the process is stopped (SIGTERM, clean close); peak RSS (VmHWM), state on disk, and the
//     alerts (by alert_id) and dead letters the run wrote are read back.
// A real broker: `bootstrap_servers`, or one scripts/kafka.sh starts in work_dir and stops.
#ifndef WEIR_BENCH_KSTREAMS_H_
#define WEIR_BENCH_KSTREAMS_H_

#include <cstdint>
#include <map>
#include <string>
#include <vector>

#include "absl/status/statusor.h"

namespace weir::bench {

struct KStreamsOptions {
  std::string weir_binary;          // the weir executable
  std::string bootstrap_servers;    // empty: start a broker with `kafka_script`
  std::string kafka_script = "scripts/kafka.sh";
  std::string config_path = "config/weir.yaml";  // weir's config (and its topology.config)
  std::string peer_dir = "bench/peers/kafka-streams";
  std::string work_dir;             // scratch: payments file, logs, state (emptied first)
  int64_t records = 1'000'000;
  int64_t cards = 100'000;
  uint64_t seed = 1;
  int partitions = 12;
  std::vector<int> threads = {1, 2};
  std::vector<std::string> systems = {"weir", "kafka-streams"};
  // Both systems' commit.interval.ms. Kafka Streams flushes every RocksDB store's memtables at
  // each commit, so its default for at-least-once is 30 s; weir's is 100 ms. 1 s is in
  // between and bounds how late the last commit (the end of the timing) can be.
  int64_t commit_interval_ms = 1'000;
  int64_t latency_records = 20'000;
  double latency_rate = 2'000;
  // The usual production JVM settings for a Kafka Streams application: fixed heap, G1, a
  // 20 ms pause target.
  std::vector<std::string> jvm_options = {"-Xms1g", "-Xmx1g", "-XX:+UseG1GC",
                                          "-XX:MaxGCPauseMillis=20"};
  // > 0: the peer's RocksDB stores share one block cache of this size, memtables charged to it
  // through a write buffer manager (Kafka Streams' bounded-memory recipe). 0: Kafka Streams'
  // per-store defaults. Bounded at 256 MiB, the peer's ~108 RocksDB instances (12 tasks, three
  // window stores of three segments each) flushed memtables without pause: ~3k records/s
  // falling to ~200/s (docs/benchmarks.md), so the default is Kafka Streams' own.
  int64_t rocksdb_memory_bytes = 0;
};

struct KStreamsRun {
  std::string system;
  std::string version;  // weir's build type, or Kafka Streams' version
  int threads = 1;
  int64_t catch_up_records = 0;     // committed between the first commit and the last
  double catch_up_seconds = 0;
  double records_per_s = 0;
  double records_per_s_per_thread = 0;
  double cpu_seconds = 0;           // over the catch-up interval
  int64_t peak_rss_bytes = 0;
  int64_t state_bytes = 0;          // state.dir after the clean close
  int64_t latency_samples = 0;      // alerts of the live phase
  double latency_p50_ms = -1;
  double latency_p99_ms = -1;
  int64_t dead_letters = 0;
  std::map<std::string, std::string> alerts;  // alert JSON by alert_id
};

struct KStreamsReport {
  KStreamsOptions options;
  std::vector<KStreamsRun> runs;
  int64_t identical_alerts = 0;  // alert_ids every run wrote, with the same JSON everywhere
  int64_t differing_alerts = 0;  // alert_ids missing from some run or written differently
  std::vector<std::string> differences;  // the first few, described
  double throughput_ratio = 0;  // weir / Kafka Streams records/s per thread, mean over threads
};

absl::StatusOr<KStreamsReport> RunKStreams(const KStreamsOptions& options);

// The table printed at the end; its last line is
// `weir/kafka-streams throughput per thread: R.RRx; alerts: N identical, M differ`.
std::string KStreamsTable(const KStreamsReport& report);
std::string KStreamsJson(const KStreamsReport& report);
std::string KStreamsHtml(const KStreamsReport& report);

}  // namespace weir::bench

#endif  // WEIR_BENCH_KSTREAMS_H_
