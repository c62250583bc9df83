// The KeyValueBytesStore contract, run against every implementation: in memory, RocksDB, and
// RocksDB behind a record cache so small that it evicts as the tests write. The RocksDB ones are
// checked before and after their task commits (reads through the pending batch, then from
// RocksDB).
#include "stores/key_value_store.h"
#include "stores/rocksdb_key_value_store.h"

#include <gmock/gmock.h>
#include <gtest/gtest.h>

#include <filesystem>

#include "absl/strings/str_cat.h"
#include "stores/caching_key_value_store.h"

namespace weir {
namespace {

using Entry = std::pair<std::string, std::string>;
using ::testing::ElementsAre;

class KeyValueStoreTest : public ::testing::TestWithParam<std::string> {
 protected:
  void SetUp() override {
    if (GetParam() == "in_memory") {
      store_ = std::make_unique<InMemoryKeyValueStore>("kv");
      return;
    }
    const auto dir = std::filesystem::temp_directory_path() /
                     absl::StrCat("weir-kv-test-", ::getpid(), "-",
                                  ::testing::UnitTest::GetInstance()->current_test_info()->name());
    std::filesystem::remove_all(dir);
    auto db = TaskDb::Open(dir.string(), rocksdb::Options());
    ASSERT_TRUE(db.ok()) << db.status();
    db_ = *std::move(db);
    auto store = RocksDbKeyValueStore::Open("kv", db_.get());
    ASSERT_TRUE(store.ok()) << store.status();
    store_ = *std::move(store);
    if (GetParam() == "cached") {
      store_ = std::make_unique<CachingKeyValueStore>(std::move(store_), &cache_, "0_0-kv",
                                                      [] { return int64_t{0}; });
    }
  }
  void Commit() {
    if (db_ != nullptr) {
      ASSERT_TRUE(store_->Flush().ok());
      ASSERT_TRUE(db_->Commit({}).ok());
    }
  }
  std::vector<Entry> Collect(const std::function<void(const KeyValueBytesStore::Visitor&)>& scan,
                             size_t limit = 100) {
    std::vector<Entry> out;
    scan([&](absl::string_view k, absl::string_view v) {
      out.emplace_back(std::string(k), std::string(v));
      return out.size() < limit;
    });
    return out;
  }

  RecordCache cache_{200};  // room for about three entries
  std::unique_ptr<TaskDb> db_;
  std::unique_ptr<KeyValueBytesStore> store_;
};

TEST_P(KeyValueStoreTest, EveryOperationBeforeAndAfterCommit) {
  store_->Put("apple", "1");
  store_->Put("apricot", "2");
  store_->Put("banana", "3");
  store_->Put("cherry", "4");
  for (int round = 0; round < 2; ++round) {
    SCOPED_TRACE(round == 0 ? "pending" : "committed");
    EXPECT_EQ(store_->Get("banana"), "3");
    EXPECT_EQ(store_->Get("durian"), std::nullopt);
    EXPECT_THAT(Collect([&](auto& v) { store_->Range("apricot", "banana", v); }),
                ElementsAre(Entry{"apricot", "2"}, Entry{"banana", "3"}));
    EXPECT_THAT(Collect([&](auto& v) { store_->PrefixScan("ap", v); }),
                ElementsAre(Entry{"apple", "1"}, Entry{"apricot", "2"}));
    EXPECT_THAT(Collect([&](auto& v) { store_->All(v); }, 3),
                ElementsAre(Entry{"apple", "1"}, Entry{"apricot", "2"}, Entry{"banana", "3"}));
    Commit();
  }
  store_->Delete("apple");
  store_->Put("banana", "33");
  EXPECT_EQ(store_->Get("apple"), std::nullopt);
  EXPECT_THAT(Collect([&](auto& v) { store_->All(v); }),
              ElementsAre(Entry{"apricot", "2"}, Entry{"banana", "33"}, Entry{"cherry", "4"}));
  if (db_ != nullptr) {
    // The pending changes are what the changelog receives at commit, after the flush: the
    // latest per key, deletes as nullopt.
    ASSERT_TRUE(store_->Flush().ok());
    std::vector<std::pair<std::string, std::optional<std::string>>> changes;
    store_->ForEachPendingChange([&](absl::string_view k, std::optional<absl::string_view> v) {
      changes.emplace_back(std::string(k),
                           v ? std::optional<std::string>(std::string(*v)) : std::nullopt);
    });
    EXPECT_THAT(
        changes,
        ElementsAre(std::pair<std::string, std::optional<std::string>>{"apple", std::nullopt},
                    std::pair<std::string, std::optional<std::string>>{"banana", "33"}));
  }
}

std::string Stamped(int64_t timestamp, absl::string_view payload) {
  std::string value;
  AppendValueTimestamp(value, timestamp);
  value.append(payload.data(), payload.size());
  return value;
}

// With a retention, an entry whose timestamp is a retention behind the newest one written goes:
// in memory at the sweep that write sets off, in RocksDB at the next flush (the compaction
// filter); younger entries stay, and so does a value too short to carry a timestamp.
TEST(KeyValueStoreRetention, ExpiredEntriesGoYoungerOnesStay) {
  const KeyValueStoreOptions options{.name = "kv", .retention_ms = 10'000};
  const auto dir = std::filesystem::temp_directory_path() /
                   absl::StrCat("weir-kv-retention-test-", ::getpid());
  std::filesystem::remove_all(dir);
  auto db = TaskDb::Open(dir.string(), rocksdb::Options());
  ASSERT_TRUE(db.ok()) << db.status();
  auto on_disk = RocksDbKeyValueStore::Open(options, db->get());
  ASSERT_TRUE(on_disk.ok()) << on_disk.status();
  InMemoryKeyValueStore in_memory(options);
  for (KeyValueBytesStore* store : {static_cast<KeyValueBytesStore*>(&in_memory),
                                    static_cast<KeyValueBytesStore*>(on_disk->get())}) {
    SCOPED_TRACE(store == &in_memory ? "in memory" : "rocksdb");
    store->Put("old", Stamped(1'000, "a"));
    store->Put("edge", Stamped(2'000, "b"));  // at exactly observed - retention: expired
    store->Put("mid", Stamped(5'000, "c"));
    store->Put("short", "xyz");
    EXPECT_EQ(store->Get("old"), Stamped(1'000, "a"));  // nothing has expired yet
    store->Put("new", Stamped(12'000, "d"));
    if (store != &in_memory) {
      ASSERT_TRUE((*db)->Commit({}).ok());
      ASSERT_TRUE((*db)->FlushMemtables().ok());
    }
    EXPECT_EQ(store->Get("old"), std::nullopt);
    EXPECT_EQ(store->Get("edge"), std::nullopt);
    EXPECT_EQ(store->Get("mid"), Stamped(5'000, "c"));
    EXPECT_EQ(store->Get("short"), "xyz");
    EXPECT_EQ(store->Get("new"), Stamped(12'000, "d"));
  }
}

INSTANTIATE_TEST_SUITE_P(Implementations, KeyValueStoreTest,
                         ::testing::Values("in_memory", "rocksdb", "cached"),
                         [](const auto& info) { return info.param; });

}  // namespace
}  // namespace weir
