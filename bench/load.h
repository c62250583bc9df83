// `weir bench load`: a three-phase production load test (sustained peak, 2x burst, consumer
// throughput, as with kafka-producer-perf-test and kafka-consumer-perf-test) with
// production-readiness verdicts, against a running fraud-detection instance (docs/benchmarks.md).
//
// Operation, in one process: an instance of the fraud topology (the same KafkaStreams `weir run`
// runs) on the configured cluster (with topics of the run's own, deleted at the end), or on an
// embedded broker when bootstrap.servers is empty;
// a producer sending generated payments (`weir loadgen`'s generator) at the peak rate for the
// sustained phase, then at twice the peak for the burst phase; a consumer of the alerts topic
// timing each alert against its payment's timestamp (the moment the payment was due to be sent);
// a sampler of the application's lag (records produced and acknowledged, minus records the
// instance processed) every 100 ms. Then the consumer-throughput phase reads the payments topic
// from the start with a fresh consumer (kafka-consumer-perf-test).
//
// A warm-up phase at the peak rate comes first, reported and not judged. Every alert is also
// timed hop by hop (bench/hop_clock.h).
//
// Verdicts: throughput (the instance processed the burst at >= 95% of twice the peak rate, the
// rate the producer offers; measured as the slope of the processed count from 10% of the
// phase's records to all of them, so the pipeline's latency is not counted as slowness), p99
// payment-to-alert latency under the SLA, maximum lag under its threshold. Peak, SLA and threshold
// come from config/loadtest.yaml.
#ifndef WEIR_BENCH_LOAD_H_
#define WEIR_BENCH_LOAD_H_

#include <array>
#include <cstdint>
#include <string>
#include <vector>

#include "absl/status/statusor.h"
#include "bench/hop_clock.h"
#include "common/config_schema.h"
#include "engine/runtime/app_config.h"

namespace weir::bench {

struct LoadTestConfig {
  int64_t peak_rate = 2'000;           // payments per second the service must sustain
  int64_t warmup_records = 10'000;     // sent at the peak rate first; reported, not judged
  int64_t sustained_records = 60'000;  // sent at the peak rate
  int64_t burst_records = 40'000;      // sent at twice the peak rate
  int64_t sla_p99_ms = 1'000;          // payment to alert, 99th percentile
  int64_t max_lag_records = 10'000;    // records waiting in the application at any time
  int64_t cards = 100'000;             // card population of the generated payments
  int64_t partitions = 12;             // of the payments topic the run creates
};

const config::Schema<LoadTestConfig>& LoadTestConfigSchema();
absl::StatusOr<LoadTestConfig> LoadLoadTestConfig(const std::string& path);

struct PhaseResult {
  std::string name;
  int64_t records = 0;
  double offered_rate = 0;    // the producer's target, records/s
  double processed_rate = 0;  // the instance's, from 10% of the phase processed to all of it
  int64_t alerts = 0;
  double latency_p50_ms = 0, latency_p99_ms = 0;  // payment -> alert
  int64_t max_lag = 0;
  // Alerts timed hop by hop (bench/hop_clock.h), and each hop's p50 and p99 over them.
  int64_t timed_alerts = 0;
  std::array<double, HopClock::kHopCount> hop_p50_ms{}, hop_p99_ms{};
};

struct Verdict {
  std::string check;
  std::string measured;
  std::string target;
  bool pass = false;
};

struct LoadTestReport {
  std::vector<PhaseResult> phases;
  double consumer_records_per_s = 0;
  double consumer_mb_per_s = 0;
  std::vector<Verdict> verdicts;
  bool all_pass() const;
};

// Runs the three phases; progress goes to the log. Errors: the instance or a client fails.
absl::StatusOr<LoadTestReport> RunLoadTest(AppConfig app, const std::string& fraud_config_path,
                                           const LoadTestConfig& load);

std::string FormatReport(const LoadTestConfig& load, const LoadTestReport& report);

}  // namespace weir::bench

#endif  // WEIR_BENCH_LOAD_H_
