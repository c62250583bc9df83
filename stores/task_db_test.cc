// TaskDb: state and offsets commit together, survive reopening, and one directory has one owner.
#include "stores/task_db.h"

#include <gmock/gmock.h>
#include <gtest/gtest.h>

#include <filesystem>

#include "stores/rocksdb_option_set.h"
#include "stores/rocksdb_window_store.h"

namespace weir {
namespace {

using ::testing::HasSubstr;

std::string FreshDir(const std::string& name) {
  const auto dir = std::filesystem::temp_directory_path() /
                   ("weir-taskdb-test-" + std::to_string(::getpid()) + "-" + name);
  std::filesystem::remove_all(dir);
  return dir.string();
}

TEST(TaskDb, StateAndOffsetsCommitTogetherAndSurviveReopening) {
  const std::string dir = FreshDir("reopen");
  {
    auto db = TaskDb::Open(dir, rocksdb::Options());
    ASSERT_TRUE(db.ok()) << db.status();
    EXPECT_TRUE((*db)->StoredOffsets().empty());
    auto store = RocksDbWindowStore::Open({.name = "counts", .retention_ms = 600'000}, db->get());
    ASSERT_TRUE(store.ok());
    (*store)->Put("card", 60'000, "1");
    ASSERT_TRUE((*db)->Commit({{{"in", 0}, 11}}).ok());
    (*store)->Put("card", 60'000, "2");  // never committed: lost with the process
  }
  auto db = TaskDb::Open(dir, rocksdb::Options());
  ASSERT_TRUE(db.ok()) << db.status();
  EXPECT_EQ((*db)->StoredOffsets(), (TaskDb::Offsets{{{"in", 0}, 11}}));
  auto store = RocksDbWindowStore::Open({.name = "counts", .retention_ms = 600'000}, db->get());
  ASSERT_TRUE(store.ok());
  EXPECT_EQ((*store)->Fetch("card", 60'000), "1");
  EXPECT_EQ((*store)->observed_stream_time(), 60'000);
  // Offsets of other partitions are kept when one partition commits.
  ASSERT_TRUE((*db)->Commit({{{"other", 0}, 5}}).ok());
  EXPECT_EQ((*db)->StoredOffsets(), (TaskDb::Offsets{{{"in", 0}, 11}, {{"other", 0}, 5}}));
}

TEST(TaskDb, ASecondOpenOfOneDirectoryIsRefused) {
  const std::string dir = FreshDir("lock");
  auto first = TaskDb::Open(dir, rocksdb::Options());
  ASSERT_TRUE(first.ok());
  auto second = TaskDb::Open(dir, rocksdb::Options());
  ASSERT_FALSE(second.ok());
  EXPECT_TRUE(absl::IsFailedPrecondition(second.status())) << second.status();
  EXPECT_THAT(second.status().ToString(), HasSubstr(dir));
  EXPECT_THAT(second.status().ToString(), HasSubstr("in use by another weir instance"));
}

TEST(TaskDb, AnOpenDirectoryIsNeverDeletedUnderIt) {
  const std::string dir = FreshDir("delete");
  {
    auto db = TaskDb::Open(dir, rocksdb::Options());
    ASSERT_TRUE(db.ok());
    absl::StatusOr<bool> deleted = TaskDb::DeleteIfUnused(dir);
    ASSERT_TRUE(deleted.ok());
    EXPECT_FALSE(*deleted);
    EXPECT_TRUE(std::filesystem::exists(dir));
  }
  absl::StatusOr<bool> deleted = TaskDb::DeleteIfUnused(dir);
  ASSERT_TRUE(deleted.ok());
  EXPECT_TRUE(*deleted);
  EXPECT_FALSE(std::filesystem::exists(dir));
}

TEST(TaskDb, StatisticsReportTickersPerTaskAndPropertiesPerStore) {
  for (const std::string level : {"tickers", "off"}) {
    SCOPED_TRACE(level);
    RocksDbOptionSet set;  // Kafka Streams' defaults: a 50 MiB cache per task
    set.statistics = level;
    absl::StatusOr<rocksdb::Options> options = BuildRocksDbOptions(set, MakeSharedResources(set));
    ASSERT_TRUE(options.ok());
    auto db = TaskDb::Open(FreshDir("stats-" + level), *options);
    ASSERT_TRUE(db.ok()) << db.status();
    auto store = RocksDbWindowStore::Open({.name = "counts", .retention_ms = 600'000}, db->get());
    ASSERT_TRUE(store.ok());
    for (int i = 0; i < 1'000; ++i) (*store)->Put("card-" + std::to_string(i), 60'000, "1");
    ASSERT_TRUE((*db)->Commit({}).ok());
    ASSERT_TRUE((*db)->FlushMemtables().ok());  // every segment to SST: reads hit the cache
    for (int i = 0; i < 100; ++i) (*store)->Fetch("card-" + std::to_string(i), 60'000);

    const TaskDbStatistics stats = (*db)->Statistics({"counts"});
    EXPECT_EQ(stats.block_cache.capacity, int64_t{50} << 20);
    ASSERT_TRUE(stats.stores.contains("counts"));
    EXPECT_GT(stats.stores.at("counts").live_sst_files_size, 0);
    EXPECT_GT(stats.stores.at("counts").estimate_num_keys, 0);
    if (level == "off") {
      EXPECT_FALSE(stats.tickers_enabled);
      EXPECT_EQ(stats.tickers.bytes_written, 0);
    } else {
      EXPECT_TRUE(stats.tickers_enabled);
      EXPECT_GT(stats.tickers.bytes_written, 0);
      EXPECT_GT(stats.tickers.memtable_bytes_flushed, 0);
      EXPECT_GT(stats.tickers.block_cache_data_hit + stats.tickers.block_cache_data_miss, 0);
    }
  }
}

}  // namespace
}  // namespace weir
