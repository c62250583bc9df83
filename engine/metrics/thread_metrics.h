// What a stream thread reports for the metrics layer, as plain structs (no prometheus-cpp
// types): its sensors' readings, per-task figures, its record cache, its tasks' RocksDB
// statistics and its Kafka clients' statistics. engine/http/metrics.h turns them into Prometheus
// families under Kafka Streams' names (docs/metrics.md).
#ifndef WEIR_ENGINE_METRICS_THREAD_METRICS_H_
#define WEIR_ENGINE_METRICS_THREAD_METRICS_H_

#include <cstdint>
#include <map>
#include <optional>
#include <string>
#include <utility>
#include <vector>

#include "absl/status/statusor.h"
#include "absl/strings/string_view.h"
#include "common/sensor.h"
#include "engine/processor/record.h"
#include "stores/store_statistics.h"

namespace weir {

// The operations the metered store layer times (Kafka Streams' stream-state-metrics).
enum class StoreOperation { kPut, kGet, kFetch, kRange, kFlush };
inline constexpr int kStoreOperationCount = 5;
// "put", "get", "fetch", "range", "flush": the <op> of weir_state_<op>_* metrics.
constexpr const char* StoreOperationName(StoreOperation operation) {
  constexpr const char* kNames[] = {"put", "get", "fetch", "range", "flush"};
  return kNames[static_cast<int>(operation)];
}

// One store operation's sensor (metrics.recording.level debug): rate, latency in ns.
struct StoreOperationReadings {
  std::map<StoreOperation, Sensor::Reading> by_operation;  // the operations done so far
};

struct CacheReading {
  std::string store;
  int64_t hits = 0;
  int64_t misses = 0;
};

struct TaskMetrics {
  TaskId id;
  Sensor::Reading process;              // records through the task (debug)
  Sensor::Reading dropped;              // late or invalid records
  Sensor::Reading e2e_latency_ms;       // at the sources: wall clock - record timestamp
  Sensor::Reading sink_e2e_latency_ms;  // at the sinks
  int64_t future_records = 0;           // records stamped ahead of the wall clock
  int64_t misplaced_records = 0;        // in another partition than murmur2 of the key gives
  int64_t records_restored = 0;         // changelog records applied to the task's state
  int64_t restore_remaining = 0;        // changelog records left to restore (0 once restored)
  int64_t created_ms = 0;               // wall clock when the task was created here
  int64_t first_processed_ms = -1;      // wall clock of its first record (-1: none yet)
  bool from_standby = false;            // created from a standby's state on this instance
  std::vector<CacheReading> caches;
  std::optional<TaskDbStatistics> rocksdb;  // tasks with RocksDB state
  // Windowed rates of RocksDB tickers, from their growth between publications (about 1 s):
  // "bytes_written", "bytes_read", "memtable_bytes_flushed", "compaction_bytes_read",
  // "compaction_bytes_written", and "write_stall" (µs stalled per publication: its avg).
  std::map<std::string, Sensor::Reading> rocksdb_rates;
  std::map<std::string, StoreOperationReadings> store_operations;  // debug
};

// From librdkafka's statistics callback (statistics.interval.ms), one client.
struct KafkaClientStats {
  bool reported = false;
  int64_t received_ms = 0;  // wall clock when the callback delivered it (0: never)
  std::string client_id;
  int64_t tx_bytes = 0;               // bytes sent to brokers
  int64_t rx_bytes = 0;               // bytes received from brokers
  int64_t tx_requests = 0;            // requests sent
  int64_t queued_messages = 0;        // msg_cnt: messages in the producer queue
  int64_t reply_queue = 0;            // replyq: ops waiting to be served by a poll
  double request_latency_avg_ms = 0;  // mean broker round-trip time (rtt.avg), over brokers
  int brokers = 0;                    // brokers the client knows from metadata
  int brokers_up = 0;                 // of which it has a connection to (state UP)
  // Consumer only: per assigned partition, high watermark - next offset to be consumed.
  std::map<std::pair<std::string, int32_t>, int64_t> records_lag;
};

// Parses one statistics JSON document; InvalidArgument when it is not one.
absl::StatusOr<KafkaClientStats> ParseKafkaStatistics(absl::string_view json);

struct ThreadMetrics {
  Sensor::Reading process;          // value: records processed per loop iteration
  Sensor::Reading process_latency;  // value: ms per record, per loop iteration
  Sensor::Reading poll;             // value: poll latency, ms
  Sensor::Reading poll_records;     // value: records per non-empty poll
  Sensor::Reading commit;           // value: commit latency, ms
  Sensor::Reading punctuate;        // value: punctuation latency, ms
  Sensor::Reading task_created;
  Sensor::Reading task_closed;
  double blocked_time_ns_total = 0;  // waiting on Kafka: polls, producer flushes, commits
  std::vector<TaskMetrics> tasks;
  KafkaClientStats consumer;
  KafkaClientStats producer;
  // The consumer's last statistics (every statistics.interval.ms, 5 s) found none of the
  // brokers it knows reachable.
  bool brokers_unreachable() const {
    return consumer.reported && consumer.brokers > 0 && consumer.brokers_up == 0;
  }
  // Milliseconds since the consumer's last statistics, or 0 before the first. Only the thread's
  // poll delivers them: a thread blocked on a vanished broker keeps its last ("UP") report.
  int64_t consumer_statistics_age_ms(int64_t now_ms) const {
    return consumer.reported ? now_ms - consumer.received_ms : 0;
  }
};

}  // namespace weir

#endif  // WEIR_ENGINE_METRICS_THREAD_METRICS_H_
