// The memory plan's arithmetic, line by line, for an unshared and a bounded option set.
#include "engine/runtime/memory_plan.h"
#include "stores/rocksdb_option_set.h"

#include <gmock/gmock.h>
#include <gtest/gtest.h>

#include <filesystem>
#include <fstream>

namespace weir {
namespace {

using ::testing::HasSubstr;

Topology OneWindowStore() {
  Topology topology;
  topology.AddSource<std::string, std::string>("in", {"in"}, serdes::String(), serdes::String())
      .AddProcessor<std::string, std::string, std::string, std::string>("p", [] { return nullptr; },
                                                                        {"in"})
      // Retention 90 s: segments of 60 s, at most ceil(90 / 60) + 1 = 3 live.
      .AddWindowStore({.name = "w", .retention_ms = 90'000}, {"p"})
      .AddKeyValueStore("kv", {"p"});  // one column family
  EXPECT_TRUE(topology.status().ok()) << topology.status();
  return topology;
}

int64_t LineBytes(const MemoryPlan& plan, const std::string& what) {
  for (const MemoryPlan::Line& line : plan.lines) {
    if (line.what == what) return line.bytes;
  }
  ADD_FAILURE() << "no line " << what;
  return -1;
}

TEST(MemoryPlan, UnsharedCachesAndMemtablesMultiplyByTasksAndColumnFamilies) {
  AppConfig config;
  config.num_stream_threads = 2;
  config.statestore_cache_max_bytes = int64_t{10} << 20;
  const RocksDbOptionSet rocksdb;  // Kafka Streams' defaults: 50 MiB cache, 16 MiB x 3 memtables
  absl::StatusOr<MemoryPlan> plan = PlanMemory(config, rocksdb, OneWindowStore(), 12, 256 << 20);
  ASSERT_TRUE(plan.ok()) << plan.status();
  EXPECT_EQ(LineBytes(*plan, "record cache"), int64_t{20} << 20);
  // statestore.uncommitted.max.bytes (64 MiB) per thread.
  EXPECT_EQ(LineBytes(*plan, "uncommitted state writes"), int64_t{64} * 2 << 20);
  EXPECT_EQ(LineBytes(*plan, "RocksDB block cache"), int64_t{50} * 12 << 20);
  EXPECT_EQ(LineBytes(*plan, "RocksDB memtables"), int64_t{16} * 3 * 4 * 12 << 20);
  // librdkafka's prefetch default, 64 MiB per consumer, and weir's producer buffer, the Java
  // producer's 32 MiB (librdkafka's own is 1 GiB).
  EXPECT_EQ(LineBytes(*plan, "consumer prefetch (librdkafka)"), int64_t{64} * 2 << 20);
  EXPECT_EQ(LineBytes(*plan, "producer buffer (librdkafka)"), int64_t{32} * 2 << 20);
  int64_t sum = 0;
  for (const MemoryPlan::Line& line : plan->lines) sum += line.bytes;
  EXPECT_EQ(plan->total, sum);
  EXPECT_EQ(plan->container_limit, sum + (256 << 20));
  EXPECT_THAT(plan->ToText(), HasSubstr("16 MiB x 3 x 4 column families x 12 tasks"));
  EXPECT_THAT(plan->ToText(), HasSubstr("container memory limit"));
}

TEST(MemoryPlan, GlobalStoresAddTheirRocksDbInstanceAndAConsumer) {
  Topology topology = OneWindowStore();
  for (const char* name : {"g1", "g2"}) {
    topology.AddGlobalStore({.store = name,
                             .topic = std::string(name) + "-topic",
                             .apply = [](const RawRecord&, KeyValueBytesStore&) {
                               return absl::OkStatus();
                             }});
  }
  ASSERT_TRUE(topology.status().ok()) << topology.status();
  AppConfig config;
  config.num_stream_threads = 2;
  absl::StatusOr<MemoryPlan> plan = PlanMemory(config, RocksDbOptionSet{}, topology, 12, 0);
  ASSERT_TRUE(plan.ok()) << plan.status();
  EXPECT_EQ(LineBytes(*plan, "RocksDB block cache (global stores)"), int64_t{50} << 20);
  EXPECT_EQ(LineBytes(*plan, "RocksDB memtables (global stores)"), int64_t{16} * 3 * 2 << 20);
  EXPECT_EQ(LineBytes(*plan, "global thread's consumer prefetch (librdkafka)"), int64_t{64} << 20);
  config.default_dsl_store = DslStore::kInMemory;
  plan = PlanMemory(config, RocksDbOptionSet{}, topology, 12, 0);
  ASSERT_TRUE(plan.ok()) << plan.status();
  EXPECT_THAT(plan->notes, HasSubstr("2 global store(s) are in memory"));
}

TEST(MemoryPlan, ABoundedOptionSetCapsCachesAndMemtablesAtTheSharedCache) {
  AppConfig config;
  config.num_stream_threads = 1;
  config.producer = {{"queue.buffering.max.kbytes", "65536"}};
  RocksDbOptionSet rocksdb;
  rocksdb.share_block_cache = true;
  rocksdb.block_cache_size = int64_t{256} << 20;
  rocksdb.write_buffer_manager_size = int64_t{64} << 20;
  absl::StatusOr<MemoryPlan> plan = PlanMemory(config, rocksdb, OneWindowStore(), 12, 0);
  ASSERT_TRUE(plan.ok()) << plan.status();
  EXPECT_EQ(LineBytes(*plan, "RocksDB block cache (shared)"), int64_t{256} << 20);
  EXPECT_EQ(LineBytes(*plan, "RocksDB memtables"), 0);
  EXPECT_EQ(LineBytes(*plan, "producer buffer (librdkafka)"), int64_t{64} << 20);
}

TEST(MemoryCeiling, ACgroupLimitBelowTheHostsMemoryIsTheCeiling) {
  const std::filesystem::path root =
      std::filesystem::path(::testing::TempDir()) / "weir-cgroup-test";
  std::filesystem::create_directories(root);
  std::ofstream(root / "memory.max") << "max\n";
  std::optional<MemoryCeiling> unlimited = ReadMemoryCeiling(root.string());
  ASSERT_TRUE(unlimited.has_value());
  EXPECT_EQ(unlimited->source, "this host's memory");
  EXPECT_GT(unlimited->bytes, int64_t{64} << 20);

  std::ofstream(root / "memory.max") << (int64_t{512} << 20) << "\n";
  std::optional<MemoryCeiling> limited = ReadMemoryCeiling(root.string());
  ASSERT_TRUE(limited.has_value());
  EXPECT_EQ(limited->bytes, int64_t{512} << 20);
  EXPECT_THAT(limited->source, HasSubstr("the cgroup limit ("));
  std::filesystem::remove_all(root);
}

TEST(MemoryCeiling, APlanBeyondItWarnsNamingItsLargestLine) {
  const RocksDbOptionSet rocksdb;
  absl::StatusOr<MemoryPlan> plan = PlanMemory(AppConfig{}, rocksdb, OneWindowStore(), 12, 0);
  ASSERT_TRUE(plan.ok()) << plan.status();
  EXPECT_EQ(MemoryPlanWarning(*plan, {.bytes = plan->container_limit, .source = "x"}),
            std::nullopt);
  std::optional<std::string> warning =
      MemoryPlanWarning(*plan, {.bytes = 1 << 20, .source = "the cgroup limit (f)"});
  ASSERT_TRUE(warning.has_value());
  EXPECT_THAT(*warning, HasSubstr("more than the cgroup limit (f) (1 MiB)"));
  EXPECT_THAT(*warning, HasSubstr("its largest line is RocksDB memtables: "));
}

}  // namespace
}  // namespace weir
