// The memory an instance needs, by Kafka Streams' usual memory-budget arithmetic (record cache
// x threads, block cache x RocksDB instances, write buffers x count x memtables;
// docs/state-layout.md), adapted to weir's layout and with the client buffers the JVM version
// leaves out.
//
// weir's layout changes two factors (docs/state-layout.md): a task has one RocksDB instance, so
// an unshared block cache is per task, not per store; and every window-store segment and
// key-value store is a column family with its own memtables, so write buffers multiply by
// column families, not stores. A bounded option set (shared cache with a WriteBufferManager)
// caps caches and memtables together at the cache size.
#ifndef WEIR_ENGINE_RUNTIME_MEMORY_PLAN_H_
#define WEIR_ENGINE_RUNTIME_MEMORY_PLAN_H_

#include <cstdint>
#include <optional>
#include <string>
#include <vector>

#include "engine/processor/topology.h"
#include "engine/runtime/app_config.h"

namespace weir {

struct RocksDbOptionSet;  // stores/rocksdb_option_set.h

struct MemoryPlan {
  struct Line {
    std::string what;     // "RocksDB block cache"
    std::string formula;  // "50 MiB x 12 tasks"
    int64_t bytes = 0;
  };
  std::vector<Line> lines;
  int64_t total = 0;            // sum of the lines
  int64_t container_limit = 0;  // total + overhead
  std::string notes;            // what the total leaves out

  // The plan as an aligned table, with the total and the container limit.
  std::string ToText() const;
};

// `tasks`: tasks this instance runs (at most the input partitions x sub-topologies with stores).
// `overhead_bytes`: the process itself - code, allocator slack, logs.
// `kafka_clients` false: no librdkafka lines (the topology runs in process, through the test
// driver: `weir bench compare` without --end-to-end).
absl::StatusOr<MemoryPlan> PlanMemory(const AppConfig& config, const RocksDbOptionSet& rocksdb,
                                      const Topology& topology, int64_t tasks,
                                      int64_t overhead_bytes, bool kafka_clients = true);

// What the process itself needs beyond the plan's lines: code, allocator slack, logs.
inline constexpr int64_t kDefaultProcessOverheadBytes = int64_t{256} << 20;

// The memory this process may use: the host's physical memory, or its cgroup's limit when lower
// (v2's `memory.max`, else v1's `memory/memory.limit_in_bytes`, under `cgroup_root`).
struct MemoryCeiling {
  int64_t bytes = 0;
  std::string source;  // "this host's memory" or "the cgroup limit (<file>)"
};
// nullopt when neither can be read.
std::optional<MemoryCeiling> ReadMemoryCeiling(const std::string& cgroup_root = "/sys/fs/cgroup");

// This process's resident set now (not its peak), from /proc/self/statm; 0 when unreadable.
// Thread-safe.
int64_t ReadResidentBytes();

// A warning when `plan` needs more than `ceiling`, naming its largest line; nullopt when it fits.
std::optional<std::string> MemoryPlanWarning(const MemoryPlan& plan, const MemoryCeiling& ceiling);

// "1.5 GiB", "64 MiB", "512 B".
std::string FormatBytes(int64_t bytes);

}  // namespace weir

#endif  // WEIR_ENGINE_RUNTIME_MEMORY_PLAN_H_
