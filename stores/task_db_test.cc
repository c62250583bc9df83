// TaskDb: state and offsets commit together, survive reopening, and one directory has one owner.
#include "stores/task_db.h"

#include <gmock/gmock.h>
#include <gtest/gtest.h>

#include <algorithm>
#include <filesystem>

#include "absl/strings/str_cat.h"
#include "common/byte_order.h"
#include "stores/rocksdb_option_set.h"
#include "stores/rocksdb_window_store.h"

namespace weir {
namespace {

using ::testing::ElementsAre;
using ::testing::HasSubstr;

std::string FreshDir(const std::string& name) {
  const auto dir = std::filesystem::temp_directory_path() /
                   absl::StrCat("weir-taskdb-test-", ::getpid(), "-", name);
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

// A process killed after a commit and before the segment drops that follow it leaves expired
// segments behind, with a stream time that already expires them: opening the store drops them.
TEST(TaskDb, SegmentsExpiredByTheStoredStreamTimeAreDroppedAtOpen) {
  const std::string dir = FreshDir("expired-at-open");
  {
    auto db = TaskDb::Open(dir, rocksdb::Options());
    ASSERT_TRUE(db.ok()) << db.status();
    auto store = RocksDbWindowStore::Open({.name = "counts", .retention_ms = 600'000}, db->get());
    ASSERT_TRUE(store.ok());
    (*store)->Put("card", 60'000, "1");
    ASSERT_TRUE((*db)->Commit({}).ok());
    // What the store's next commit writes when time moves an hour on, without the drop that
    // would follow it.
    char time[8];
    StoreBigEndian64(time, 3'660'000);
    (*db)->PutMeta("stream-time/counts", std::string(time, 8));
    ASSERT_TRUE((*db)->Commit({}).ok());
    EXPECT_EQ((*db)->ColumnFamilies("counts:").size(), 1u);
  }
  auto db = TaskDb::Open(dir, rocksdb::Options());
  ASSERT_TRUE(db.ok()) << db.status();
  auto store = RocksDbWindowStore::Open({.name = "counts", .retention_ms = 600'000}, db->get());
  ASSERT_TRUE(store.ok());
  ASSERT_TRUE((*db)->Commit({}).ok());
  EXPECT_TRUE((*db)->ColumnFamilies("counts:").empty());
}

// Reads merge the pending writes over the committed state: a pending value replaces the
// committed one, a pending deletion hides it, and iteration sees both sides in key order.
TEST(TaskDb, ReadsMergePendingWritesOverCommittedState) {
  auto db = TaskDb::Open(FreshDir("merge"), rocksdb::Options());
  ASSERT_TRUE(db.ok()) << db.status();
  absl::StatusOr<rocksdb::ColumnFamilyHandle*> cf = (*db)->ColumnFamily("kv");
  ASSERT_TRUE(cf.ok());
  for (const char* key : {"b", "d", "f", "h"}) (*db)->Put(*cf, key, absl::StrCat("old-", key));
  ASSERT_TRUE((*db)->Commit({}).ok());
  EXPECT_EQ((*db)->pending_writes(), 0u);
  EXPECT_EQ((*db)->pending_bytes(), 0u);

  (*db)->Put(*cf, "a", "new-a");  // only pending, before every committed key
  (*db)->Put(*cf, "d", "new-d");  // replaces a committed value
  (*db)->Delete(*cf, "f");        // hides a committed key
  (*db)->Delete(*cf, "g");        // deletes what never existed
  (*db)->Put(*cf, "i", "first");  // after every committed key, written twice
  (*db)->Put(*cf, "i", "new-i");
  EXPECT_EQ((*db)->pending_writes(), 6u);
  EXPECT_GT((*db)->pending_bytes(), 0u);

  EXPECT_EQ((*db)->Get(*cf, "a"), "new-a");
  EXPECT_EQ((*db)->Get(*cf, "b"), "old-b");
  EXPECT_EQ((*db)->Get(*cf, "d"), "new-d");
  EXPECT_EQ((*db)->Get(*cf, "f"), std::nullopt);
  EXPECT_EQ((*db)->Get(*cf, "i"), "new-i");

  const auto scan = [&](absl::string_view from) {
    std::vector<std::string> seen;
    std::unique_ptr<TaskDb::Iterator> it = (*db)->NewIterator(*cf);
    for (from.empty() ? it->SeekToFirst() : it->Seek(from); it->Valid(); it->Next()) {
      seen.push_back(absl::StrCat(it->key(), "=", it->value()));
    }
    return seen;
  };
  EXPECT_THAT(scan(""), ElementsAre("a=new-a", "b=old-b", "d=new-d", "h=old-h", "i=new-i"));
  EXPECT_THAT(scan("e"), ElementsAre("h=old-h", "i=new-i"));
  EXPECT_THAT(scan("f"), ElementsAre("h=old-h", "i=new-i"));

  std::vector<std::string> pending;
  (*db)->ForEachPending(*cf, [&](absl::string_view key, std::optional<absl::string_view> value) {
    pending.push_back(absl::StrCat(key, "=", value.value_or("<deleted>")));
  });
  EXPECT_THAT(pending, ElementsAre("a=new-a", "d=new-d", "f=<deleted>", "g=<deleted>", "i=new-i"));

  // After the commit the same reads come from RocksDB alone.
  ASSERT_TRUE((*db)->Commit({}).ok());
  EXPECT_EQ((*db)->pending_writes(), 0u);
  EXPECT_THAT(scan(""), ElementsAre("a=new-a", "b=old-b", "d=new-d", "h=old-h", "i=new-i"));
}

// Writes during an iteration (a visitor updating the store it scans) move the map's nodes; the
// iterator re-finds its place and sees keys written ahead of it.
TEST(TaskDb, AnIteratorSurvivesWritesToItsFamily) {
  auto db = TaskDb::Open(FreshDir("iterate-write"), rocksdb::Options());
  ASSERT_TRUE(db.ok()) << db.status();
  absl::StatusOr<rocksdb::ColumnFamilyHandle*> cf = (*db)->ColumnFamily("kv");
  ASSERT_TRUE(cf.ok());
  for (int i = 0; i < 200; i += 2)
    (*db)->Put(*cf, absl::StrCat("k", absl::Dec(i, absl::kZeroPad3)), "committed");
  ASSERT_TRUE((*db)->Commit({}).ok());
  for (int i = 1; i < 200; i += 4)
    (*db)->Put(*cf, absl::StrCat("k", absl::Dec(i, absl::kZeroPad3)), "pending");

  std::vector<std::string> seen;
  std::unique_ptr<TaskDb::Iterator> it = (*db)->NewIterator(*cf);
  for (it->SeekToFirst(); it->Valid(); it->Next()) {
    seen.emplace_back(it->key());
    // Ahead of the iterator: seen later. Behind it: not seen. Thousands of inserts split nodes.
    if (it->key() == "k010") {
      for (int i = 0; i < 2'000; ++i)
        (*db)->Put(*cf, absl::StrCat("k150-x", absl::Dec(i, absl::kZeroPad4)), "");
      (*db)->Put(*cf, "k000-behind", "");
      (*db)->Delete(*cf, "k020");
    }
  }
  EXPECT_EQ(std::count(seen.begin(), seen.end(), "k000-behind"), 0);
  EXPECT_EQ(std::count(seen.begin(), seen.end(), "k020"), 0);
  EXPECT_EQ(std::count(seen.begin(), seen.end(), "k150-x1999"), 1);
  EXPECT_TRUE(std::is_sorted(seen.begin(), seen.end()));
  EXPECT_EQ(std::adjacent_find(seen.begin(), seen.end()), seen.end());  // no key twice
  // 100 committed + 50 pending - k020 + 2,000 inserted ahead.
  EXPECT_EQ(seen.size(), 100u + 50u - 1u + 2'000u);
}

TEST(TaskDb, StateCarriesItsLayoutVersionAndANewerOneIsRefused) {
  const std::string dir = FreshDir("layout");
  {
    auto db = TaskDb::Open(dir, rocksdb::Options());
    ASSERT_TRUE(db.ok()) << db.status();
    EXPECT_EQ((*db)->GetMeta("layout/version"), std::to_string(TaskDb::kLayoutVersion));
  }
  // A newer weir stamped it with a later version (written here with RocksDB itself).
  {
    rocksdb::DB* raw = nullptr;
    ASSERT_TRUE(rocksdb::DB::Open(rocksdb::Options(), dir, &raw).ok());
    ASSERT_TRUE(raw->Put(rocksdb::WriteOptions(), "layout/version",
                         std::to_string(TaskDb::kLayoutVersion + 1))
                    .ok());
    delete raw;
  }
  auto refused = TaskDb::Open(dir, rocksdb::Options());
  ASSERT_FALSE(refused.ok());
  EXPECT_EQ(refused.status().code(), absl::StatusCode::kFailedPrecondition);
  EXPECT_THAT(refused.status().message(), HasSubstr(dir));
  EXPECT_THAT(refused.status().message(),
              HasSubstr(absl::StrCat("layout version ", TaskDb::kLayoutVersion + 1,
                                     ", written by a newer weir")));
  // Refused without being held: the directory can be opened again once it is fixed.
  {
    rocksdb::DB* raw = nullptr;
    ASSERT_TRUE(rocksdb::DB::Open(rocksdb::Options(), dir, &raw).ok());
    ASSERT_TRUE(raw->Delete(rocksdb::WriteOptions(), "layout/version").ok());  // pre-version
    delete raw;
  }
  auto reopened = TaskDb::Open(dir, rocksdb::Options());
  ASSERT_TRUE(reopened.ok()) << reopened.status();
  EXPECT_EQ((*reopened)->GetMeta("layout/version"), std::to_string(TaskDb::kLayoutVersion))
      << "state from before the version was kept is stamped";
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
    ASSERT_TRUE(RocksDbOptionSetSchema().Set("statistics=" + level, set).ok());
    absl::StatusOr<rocksdb::Options> options = BuildRocksDbOptions(set, MakeSharedResources(set));
    ASSERT_TRUE(options.ok());
    auto db = TaskDb::Open(FreshDir("stats-" + level), *options);
    ASSERT_TRUE(db.ok()) << db.status();
    auto store = RocksDbWindowStore::Open({.name = "counts", .retention_ms = 600'000}, db->get());
    ASSERT_TRUE(store.ok());
    for (int i = 0; i < 1'000; ++i) (*store)->Put(absl::StrCat("card-", i), 60'000, "1");
    ASSERT_TRUE((*db)->Commit({}).ok());
    ASSERT_TRUE((*db)->FlushMemtables().ok());  // every segment to SST: reads hit the cache
    for (int i = 0; i < 100; ++i) (*store)->Fetch(absl::StrCat("card-", i), 60'000);

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
