// kafka-producer-perf-test's and kafka-consumer-perf-test's measurements, and `weir bench
// produce|consume`: each twice, with the Java clients' defaults (Baseline) and with settings
// tuned for throughput (Tuned: batching and lz4; large fetches). ConsumeThroughput, a fresh
// consumer reading a topic from the beginning timed from its first record, also serves
// `weir bench load`.
#ifndef WEIR_BENCH_CLIENT_PERF_H_
#define WEIR_BENCH_CLIENT_PERF_H_

#include <cstdint>
#include <map>
#include <string>

#include "absl/status/statusor.h"
#include "engine/kafka/client_config.h"
#include "engine/runtime/app_config.h"

namespace weir::bench {

struct ConsumeTotals {
  int64_t messages = 0;
  int64_t bytes = 0;   // keys and values
  double seconds = 0;  // from the first record to the last
};

// Reads `records` records of every partition of `topic` from the beginning with a consumer
// built from `properties` (group.id and the fetch settings included). DeadlineExceeded when the
// topic stops yielding records for 10 s before `records` arrived; NotFound without the topic.
absl::StatusOr<ConsumeTotals> ConsumeThroughput(const ClientProperties& properties,
                                                const std::string& topic, int64_t records);

// The settings each run compares, named in its table's last line.
using ClientSettings = std::map<std::string, std::string>;
extern const ClientSettings kBaselineProducer, kTunedProducer;
extern const ClientSettings kBaselineConsumer, kTunedConsumer;

struct ClientBenchOptions {
  std::string topic = "perf-test";
  // The embedded broker keeps at most 5 MiB per partition: 50,000 x 512 bytes over 12
  // partitions stays well inside it. Against a real cluster use 1,000,000 or more.
  int64_t records = 50'000;
  int64_t record_size = 512;
  double throughput = -1;  // records/s; -1 unthrottled, as kafka-producer-perf-test
  int partitions = 12;     // of the topic an embedded broker creates
};

// Baseline and Tuned producers each send `records` records of `record_size` random letters,
// acks=all with idempotence, to `config`'s brokers (an embedded broker in this process when
// bootstrap.servers is empty). Returns kafka-producer-perf-test's table: records/s, MB/s,
// average and p99 send-to-acknowledgement latency.
absl::StatusOr<std::string> CompareProducers(const AppConfig& config,
                                             const ClientBenchOptions& options);

// Baseline and Tuned consumers, each a fresh group, read `records` records of `topic` from the
// beginning (an embedded broker is filled first). Returns kafka-consumer-perf-test's table.
absl::StatusOr<std::string> CompareConsumers(const AppConfig& config,
                                             const ClientBenchOptions& options);

}  // namespace weir::bench

#endif  // WEIR_BENCH_CLIENT_PERF_H_
