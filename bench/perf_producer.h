// Producing with kafka-producer-perf-test's accounting: records and bytes sent, and each
// record's latency from send to the broker's acknowledgement. `weir loadgen` and
// `weir bench produce` share it.
#ifndef WEIR_BENCH_PERF_PRODUCER_H_
#define WEIR_BENCH_PERF_PRODUCER_H_

#include <chrono>
#include <cstdint>
#include <functional>
#include <string>
#include <vector>

#include "absl/status/statusor.h"
#include "engine/kafka/client_config.h"

namespace weir::bench {

// Send-to-acknowledgement latencies and byte counts.
class PerfStats {
 public:
  struct Totals {
    int64_t records = 0;
    double records_per_s = 0, mb_per_s = 0;
    double avg_ms = 0, max_ms = 0, p50_ms = 0, p95_ms = 0, p99_ms = 0, p999_ms = 0;
  };
  void Sent(size_t bytes);
  void Acknowledged(double latency_ms);
  // "N records sent, X records/sec (Y MB/sec), A ms avg latency, M ms max latency." for the
  // records since the last call, to stderr.
  void PrintWindow(double seconds);
  Totals Total(double seconds);
  // The final perf-test line, to stderr.
  void PrintTotal(double seconds);
  // For a file: no acknowledgements, so no latency.
  void PrintWritten(double seconds) const;
  int64_t sent() const { return sent_; }

 private:
  int64_t sent_ = 0, bytes_ = 0;
  std::vector<float> latencies_;
  int64_t window_sent_ = 0, window_bytes_ = 0, window_acknowledged_ = 0;
  double window_latency_sum_ = 0, window_latency_max_ = 0;
};

// A producer whose deliveries feed a PerfStats.
class PerfProducer {
 public:
  // InvalidArgument when `properties` do not make a producer.
  // `configure`, if given, sees the configuration before the producer is made (interceptors).
  static absl::StatusOr<std::unique_ptr<PerfProducer>> Create(
      const ClientProperties& properties, std::string topic, PerfStats* stats,
      const std::function<void(rd_kafka_conf_t*)>& configure = {});
  // Queues one record (waiting while librdkafka's queue is full); an empty `key` sends none, so
  // the partitioner spreads the records. Unavailable once a delivery failed, naming how many and
  // the first error.
  absl::Status Send(const std::string& key, const std::string& value, int64_t timestamp_ms);
  // Serves delivery reports for up to `timeout`.
  void Poll(std::chrono::milliseconds timeout);
  // Waits for every delivery (up to 60 s); the delivery failure, if any.
  absl::Status Flush();

 private:
  PerfProducer(std::string topic, PerfStats* stats);
  static void OnDelivery(rd_kafka_t*, const rd_kafka_message_t* message, void* opaque);
  absl::Status Failed() const;

  std::string topic_;
  PerfStats* stats_;
  int64_t failed_ = 0;
  std::string first_error_;
  KafkaHandle producer_;
};

}  // namespace weir::bench

#endif  // WEIR_BENCH_PERF_PRODUCER_H_
