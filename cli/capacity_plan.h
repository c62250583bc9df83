// Capacity planning: the usual Kafka capacity worksheet (storage, partitions, instances for a
// peak rate; docs/capacity.md gives its inputs and rules)
// with weir's own figures beside it - stream threads from a measured per-thread throughput,
// memory per instance from the memory plan, state disk from a measured size per card.
//
// The Kafka arithmetic uses decimal units (1 MB = 10^6 B, as the worksheet does) and keeps every
// digit: 10,000 records/s of 512 B are 5.12 MB/s, 442 GB a day. The worksheet rounds the
// ingress to 5 MB/s before multiplying (432 GB/day, 1.3 TB/day, 9.1 TB); the plan says so beside
// its own figures rather than copy the rounding.
#ifndef WEIR_CLI_CAPACITY_PLAN_H_
#define WEIR_CLI_CAPACITY_PLAN_H_

#include <cstdint>
#include <optional>
#include <string>
#include <vector>

#include "absl/status/statusor.h"

namespace weir {

struct CapacityInputs {
  double peak_records_per_s = 0;
  double record_bytes = 0;
  double retention_days = 7;
  int64_t replication_factor = 3;
  int64_t consumers = 1;  // the most consumers one group runs on the topic
  // The worksheet's rule: one partition carries about 10 MB/s (conservative).
  double partition_mb_per_s = 10;
  // Growth headroom on partitions and threads: the worksheet's 4 consumers -> 6 partitions is 1.5.
  double headroom = 1.5;
};

// What `weir bench compare` or `weir bench kstreams` measured: weir's processing rate per stream
// thread and the size of its state per card.
struct MeasuredRun {
  std::string source;  // "results.json: bench compare, config/rocksdb/tuned.yaml"
  double records_per_s_per_thread = 0;
  double state_bytes_per_card = 0;  // 0: unknown
};

// Reads a results.json of `weir bench compare` (its result for `option_set`, or the first when
// empty or absent) or of `weir bench kstreams` (weir's run). InvalidArgument, naming `path`,
// for anything else.
absl::StatusOr<MeasuredRun> ReadMeasuredRun(const std::string& path, const std::string& text,
                                            const std::string& option_set);

struct CapacityPlan {
  struct Line {
    std::string what;     // "storage per day"
    std::string formula;  // "5.12 MB/s x 86,400 s"
    std::string value;    // "442 GB/day"
  };
  std::vector<Line> kafka;  // the worksheet's lines
  double ingress_mb_per_s = 0;
  double storage_gb_per_day = 0;
  double replicated_tb_per_day = 0;
  double retained_tb = 0;
  int64_t partitions_for_throughput = 0;
  int64_t partitions_for_parallelism = 0;
  int64_t partitions = 0;     // recommended, with headroom
  int64_t instances_low = 0;  // each instance handling 2 partitions ...
  int64_t instances_high = 0;  // ... to 1.5 (the worksheet's 3-4 for 6)
  std::string rounded_chain;   // the worksheet's figures from its rounded ingress
  // weir's: with a measured run, the stream threads the peak needs (with headroom).
  std::optional<int64_t> threads_needed;
};

// InvalidArgument naming the input when one is out of range (rates, sizes and counts must be
// positive).
absl::StatusOr<CapacityPlan> PlanCapacity(const CapacityInputs& inputs,
                                          const std::optional<MeasuredRun>& measured);

// "5.12", "442", "1.33", "9.29": three significant digits, no exponent.
std::string ThreeDigits(double value);
// "10,000": a whole number with thousands separated.
std::string Grouped(double value);

}  // namespace weir

#endif  // WEIR_CLI_CAPACITY_PLAN_H_
