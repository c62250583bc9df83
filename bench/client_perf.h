// kafka-consumer-perf-test's measurement: a fresh consumer reads a topic from the beginning and
// times it from the first record. `weir bench consume` and `weir bench load` use it.
#ifndef WEIR_BENCH_CLIENT_PERF_H_
#define WEIR_BENCH_CLIENT_PERF_H_

#include <cstdint>
#include <string>

#include "absl/status/statusor.h"
#include "engine/kafka/client_config.h"

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

}  // namespace weir::bench

#endif  // WEIR_BENCH_CLIENT_PERF_H_
