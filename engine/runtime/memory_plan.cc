#include "engine/runtime/memory_plan.h"

#include <unistd.h>

#include <algorithm>
#include <fstream>
#include <thread>

#include "absl/strings/numbers.h"
#include "absl/strings/str_cat.h"
#include "absl/strings/str_format.h"
#include "common/status.h"
#include "engine/kafka/client_config.h"
#include "engine/runtime/internal/stream_clients.h"
#include "stores/rocksdb_option_set.h"

namespace weir {
namespace {

// A librdkafka property's effective value for a client built from `properties`.
absl::StatusOr<int64_t> KafkaInt(const ClientProperties& properties, ClientKind kind,
                                 const char* name) {
  WEIR_ASSIGN_OR_RETURN(KafkaConf conf, BuildKafkaConf(properties, kind));
  char value[64];
  size_t size = sizeof(value);
  int64_t parsed = 0;
  if (rd_kafka_conf_get(conf.get(), name, value, &size) != RD_KAFKA_CONF_OK ||
      !absl::SimpleAtoi(value, &parsed)) {
    return absl::InternalError(absl::StrCat("librdkafka has no integer property ", name));
  }
  return parsed;
}

// Column families a store keeps open: a window store's live segments (retention / segment
// interval, plus the one being filled and the one expiring), or one.
int64_t ColumnFamilies(const Topology::StoreSpec& store) {
  if (store.kind != Topology::StoreKind::kWindow) return 1;
  const int64_t interval = store.window.segment_interval_ms > 0
                               ? store.window.segment_interval_ms
                               : std::max<int64_t>(store.window.retention_ms / 2, 60'000);
  return (store.window.retention_ms + interval - 1) / interval + 1;
}

}  // namespace

std::optional<MemoryCeiling> ReadMemoryCeiling(const std::string& cgroup_root) {
  std::optional<MemoryCeiling> ceiling;
  const int64_t pages = sysconf(_SC_PHYS_PAGES);
  const int64_t page_size = sysconf(_SC_PAGE_SIZE);
  if (pages > 0 && page_size > 0) {
    ceiling = MemoryCeiling{.bytes = pages * page_size, .source = "this host's memory"};
  }
  for (const char* file : {"memory.max", "memory/memory.limit_in_bytes"}) {
    const std::string path = absl::StrCat(cgroup_root, "/", file);
    std::ifstream in(path);
    std::string text;
    int64_t limit = 0;
    // "max" (v2) or a huge number (v1) when unlimited: neither lowers the host's figure.
    if (!(in >> text) || !absl::SimpleAtoi(text, &limit) || limit <= 0) continue;
    if (!ceiling.has_value() || limit < ceiling->bytes) {
      ceiling =
          MemoryCeiling{.bytes = limit, .source = absl::StrCat("the cgroup limit (", path, ")")};
    }
    break;
  }
  return ceiling;
}

int64_t ReadResidentBytes() {
  std::ifstream statm("/proc/self/statm");
  int64_t size = 0, resident = 0;
  if (!(statm >> size >> resident)) return 0;
  return resident * static_cast<int64_t>(sysconf(_SC_PAGESIZE));
}

std::optional<std::string> MemoryPlanWarning(const MemoryPlan& plan, const MemoryCeiling& ceiling) {
  if (plan.container_limit <= ceiling.bytes || plan.lines.empty()) return std::nullopt;
  const MemoryPlan::Line& largest = *std::max_element(
      plan.lines.begin(), plan.lines.end(),
      [](const MemoryPlan::Line& a, const MemoryPlan::Line& b) { return a.bytes < b.bytes; });
  return absl::StrCat("the memory plan needs ", FormatBytes(plan.container_limit), ", more than ",
                      ceiling.source, " (", FormatBytes(ceiling.bytes), "); its largest line is ",
                      largest.what, ": ", largest.formula, " = ", FormatBytes(largest.bytes),
                      ". Lower it (rocksdb.options, statestore.cache.max.bytes) or use a bounded "
                      "option set; `weir plan memory` shows every line, and memory.limit.bytes "
                      "makes `weir run` refuse to start instead");
}

std::string FormatBytes(int64_t bytes) {
  const char* units[] = {"B", "KiB", "MiB", "GiB", "TiB"};
  double value = static_cast<double>(bytes);
  int unit = 0;
  while (value >= 1024 && unit < 4) {
    value /= 1024;
    ++unit;
  }
  return unit == 0 ? absl::StrCat(bytes, " B") : absl::StrFormat("%.4g %s", value, units[unit]);
}

namespace {

// librdkafka's buffers: the consumer's prefetch and the producer's queue, per thread, and the
// global thread's consumer when there is one.
absl::Status AddKafkaClientLines(const AppConfig& config, int64_t threads, bool global,
                                 MemoryPlan& plan) {
  // The stream threads' own clients' properties: weir's defaults under the user's.
  WEIR_ASSIGN_OR_RETURN(
      const ClientProperties consumer,
      internal::StreamConsumerProperties(config, "plan", "", /*subtopology_of_topic=*/{}));
  const ClientProperties producer = internal::StreamProducerProperties(config, "plan", "");
  WEIR_ASSIGN_OR_RETURN(const int64_t fetch_kb,
                        KafkaInt(consumer, ClientKind::kConsumer, "queued.max.messages.kbytes"));
  WEIR_ASSIGN_OR_RETURN(const int64_t produce_kb,
                        KafkaInt(producer, ClientKind::kProducer, "queue.buffering.max.kbytes"));
  plan.lines.push_back({"consumer prefetch (librdkafka)",
                        absl::StrCat("queued.max.messages.kbytes ", FormatBytes(fetch_kb << 10),
                                     " x ", threads, " threads"),
                        (fetch_kb << 10) * threads});
  if (global) {
    plan.lines.push_back({"global thread's consumer prefetch (librdkafka)",
                          absl::StrCat("queued.max.messages.kbytes ", FormatBytes(fetch_kb << 10),
                                       " x 1"),
                          fetch_kb << 10});
  }
  plan.lines.push_back({"producer buffer (librdkafka)",
                        absl::StrCat("queue.buffering.max.kbytes ", FormatBytes(produce_kb << 10),
                                     " x ", threads, " threads (an upper bound)"),
                        (produce_kb << 10) * threads});
  return absl::OkStatus();
}

}  // namespace

absl::StatusOr<MemoryPlan> PlanMemory(const AppConfig& config, const RocksDbOptionSet& rocksdb,
                                      const Topology& topology, int64_t tasks,
                                      int64_t overhead_bytes, bool kafka_clients) {
  MemoryPlan plan;
  const int64_t threads = config.num_stream_threads > 0
                              ? config.num_stream_threads
                              : std::max<int64_t>(1, std::thread::hardware_concurrency());
  plan.lines.push_back(
      {"record cache",
       absl::StrCat(FormatBytes(config.statestore_cache_max_bytes), " x ", threads, " threads"),
       config.statestore_cache_max_bytes * threads});
  int64_t families = 0;
  for (const Topology::StoreSpec& store : topology.stores()) families += ColumnFamilies(store);
  if (config.default_dsl_store == DslStore::kRocksDb && families > 0 &&
      config.statestore_uncommitted_max_bytes > 0) {
    plan.lines.push_back({"uncommitted state writes",
                          absl::StrCat(FormatBytes(config.statestore_uncommitted_max_bytes), " x ",
                                       threads, " threads (statestore.uncommitted.max.bytes)"),
                          config.statestore_uncommitted_max_bytes * threads});
  }
  if (config.default_dsl_store == DslStore::kRocksDb && families > 0) {
    const int64_t memtables =
        rocksdb.write_buffer_size * rocksdb.max_write_buffer_number * families * tasks;
    if (rocksdb.share_block_cache) {
      plan.lines.push_back(
          {"RocksDB block cache (shared)", "one for the instance", rocksdb.block_cache_size});
      if (rocksdb.write_buffer_manager_size > 0) {
        plan.lines.push_back({"RocksDB memtables", "charged to the shared cache", 0});
      } else {
        plan.lines.push_back({"RocksDB memtables",
                              absl::StrCat(FormatBytes(rocksdb.write_buffer_size), " x ",
                                           rocksdb.max_write_buffer_number, " x ", families,
                                           " column families x ", tasks, " tasks (an upper bound)"),
                              memtables});
      }
    } else {
      plan.lines.push_back({"RocksDB block cache",
                            absl::StrCat(FormatBytes(rocksdb.block_cache_size), " x ", tasks,
                                         " tasks (one RocksDB instance each)"),
                            rocksdb.block_cache_size * tasks});
      plan.lines.push_back({"RocksDB memtables",
                            absl::StrCat(FormatBytes(rocksdb.write_buffer_size), " x ",
                                         rocksdb.max_write_buffer_number, " x ", families,
                                         " column families x ", tasks, " tasks (an upper bound)"),
                            memtables});
    }
    if (!rocksdb.cache_index_and_filter_blocks) {
      absl::StrAppend(&plan.notes,
                      "Index and filter blocks live outside the block cache "
                      "(cache_index_and_filter_blocks: false) and grow with the state.\n");
    }
  }
  // The global stores: one more RocksDB instance (or their whole topics in memory).
  const int64_t globals = static_cast<int64_t>(topology.global_stores().size());
  if (globals > 0 && config.default_dsl_store == DslStore::kRocksDb) {
    if (!rocksdb.share_block_cache) {
      plan.lines.push_back({"RocksDB block cache (global stores)",
                            "x 1 (the global stores' RocksDB instance)",
                            rocksdb.block_cache_size});
    }
    if (!rocksdb.share_block_cache || rocksdb.write_buffer_manager_size == 0) {
      plan.lines.push_back({"RocksDB memtables (global stores)",
                            absl::StrCat(FormatBytes(rocksdb.write_buffer_size), " x ",
                                         rocksdb.max_write_buffer_number, " x ", globals,
                                         " global stores (an upper bound)"),
                            rocksdb.write_buffer_size * rocksdb.max_write_buffer_number * globals});
    }
  } else if (globals > 0) {
    absl::StrAppend(&plan.notes, "The ", globals, " global store(s) are in memory: each holds ",
                    "its whole topic, which the plan cannot know.\n");
  }
  if (kafka_clients) {
    WEIR_RETURN_IF_ERROR(AddKafkaClientLines(config, threads, globals > 0, plan));
  }
  for (const MemoryPlan::Line& line : plan.lines) plan.total += line.bytes;
  plan.container_limit = plan.total + overhead_bytes;
  absl::StrAppend(&plan.notes, "Container limit = total + ", FormatBytes(overhead_bytes),
                  " for the process itself (code, allocator slack, logs).\n");
  return plan;
}

std::string MemoryPlan::ToText() const {
  size_t what = 0, formula = 0;
  for (const Line& line : lines) {
    what = std::max(what, line.what.size());
    formula = std::max(formula, line.formula.size());
  }
  std::string out;
  for (const Line& line : lines) {
    absl::StrAppend(
        &out, absl::StrFormat("%-*s  %-*s  %12s\n", static_cast<int>(what), line.what,
                              static_cast<int>(formula), line.formula, FormatBytes(line.bytes)));
  }
  absl::StrAppend(&out, absl::StrFormat("%-*s  %12s\n", static_cast<int>(what + formula + 2),
                                        "total", FormatBytes(total)));
  absl::StrAppend(&out, absl::StrFormat("%-*s  %12s\n", static_cast<int>(what + formula + 2),
                                        "container memory limit", FormatBytes(container_limit)));
  absl::StrAppend(&out, notes);
  return out;
}

}  // namespace weir
