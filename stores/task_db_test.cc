// TaskDb: state and offsets commit together, survive reopening, and one directory has one owner.
#include "stores/task_db.h"

#include <gmock/gmock.h>
#include <gtest/gtest.h>

#include <filesystem>

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

}  // namespace
}  // namespace weir
