// The WindowBytesStore contract, run against every implementation: in memory, RocksDB (a
// TaskDb in a fresh temporary directory, committed where the contract needs it durable), and
// RocksDB behind a record cache so small that it evicts as the tests write.
#include <gmock/gmock.h>
#include <gtest/gtest.h>

#include <filesystem>

#include "absl/strings/str_cat.h"
#include "stores/caching_window_store.h"
#include "stores/in_memory_window_store.h"
#include "stores/rocksdb_window_store.h"

namespace weir {
namespace {

using Entry = std::tuple<std::string, int64_t, std::string>;
using ::testing::ElementsAre;

std::vector<Entry> Collect(const std::function<void(const WindowBytesStore::Visitor&)>& fetch) {
  std::vector<Entry> out;
  fetch([&](absl::string_view k, int64_t start, absl::string_view v) {
    out.emplace_back(std::string(k), start, std::string(v));
  });
  return out;
}

std::string FreshDir(const std::string& name) {
  const auto dir = std::filesystem::temp_directory_path() /
                   absl::StrCat("weir-store-test-", ::getpid(), "-", name);
  std::filesystem::remove_all(dir);
  return dir.string();
}

class WindowStoreTest : public ::testing::TestWithParam<std::string> {
 protected:
  // A store of the implementation under test; RocksDB ones live in `db_`.
  std::unique_ptr<WindowBytesStore> Make(WindowStoreOptions options) {
    if (GetParam() == "in_memory") return std::make_unique<InMemoryWindowStore>(options);
    if (db_ == nullptr) {
      auto db =
          TaskDb::Open(FreshDir(::testing::UnitTest::GetInstance()->current_test_info()->name() +
                                std::string("-") + GetParam()),
                       rocksdb::Options());
      EXPECT_TRUE(db.ok()) << db.status();
      db_ = *std::move(db);
    }
    auto opened = RocksDbWindowStore::Open(options, db_.get());
    EXPECT_TRUE(opened.ok()) << opened.status();
    std::unique_ptr<WindowBytesStore> store = *std::move(opened);
    if (GetParam() == "cached") {
      store = std::make_unique<CachingWindowStore>(std::move(store), options, &cache_, "0_0-w",
                                                   [] { return int64_t{0}; });
    }
    made_ = store.get();
    return store;
  }
  void Commit() {
    if (db_ != nullptr) {
      ASSERT_TRUE(made_->Flush().ok());
      ASSERT_TRUE(db_->Commit({}).ok());
    }
  }

  RecordCache cache_{200};  // room for about three windows
  std::unique_ptr<TaskDb> db_;
  WindowBytesStore* made_ = nullptr;
};

TEST_P(WindowStoreTest, PutFetchDelete) {
  auto store = Make({.name = "w", .retention_ms = 600'000});
  EXPECT_TRUE(store->Put("a", 0, "1"));
  EXPECT_TRUE(store->Put("a", 60'000, "2"));
  EXPECT_TRUE(store->Put("b", 0, "3"));
  EXPECT_TRUE(store->Put("ab", 0, "4"));  // a longer key sharing the prefix "a"
  EXPECT_EQ(store->Fetch("a", 60'000), "2");
  EXPECT_EQ(store->Fetch("a", 120'000), std::nullopt);
  EXPECT_THAT(Collect([&](auto& v) { store->Fetch("a", 0, 60'000, v); }),
              ElementsAre(Entry{"a", 0, "1"}, Entry{"a", 60'000, "2"}));
  Commit();  // the same reads from RocksDB instead of the pending batch
  EXPECT_THAT(Collect([&](auto& v) { store->Fetch("a", 0, 60'000, v); }),
              ElementsAre(Entry{"a", 0, "1"}, Entry{"a", 60'000, "2"}));
  EXPECT_THAT(Collect([&](auto& v) { store->FetchAll(0, 0, v); }),
              ElementsAre(Entry{"a", 0, "1"}, Entry{"ab", 0, "4"}, Entry{"b", 0, "3"}));
  EXPECT_TRUE(store->Put("a", 0, std::nullopt));
  EXPECT_EQ(store->Fetch("a", 0), std::nullopt);
  EXPECT_EQ(store->observed_stream_time(), 60'000);
}

TEST_P(WindowStoreTest, ExpiresWholeSegmentsPastRetention) {
  // Retention 120 s: segment interval max(60 s, 60 s) = 60 s.
  auto store = Make({.name = "w", .retention_ms = 120'000});
  store->Put("k", 0, "old");
  store->Put("k", 60'000, "mid");
  Commit();
  store->Put("k", 180'000, "new");  // windows starting at or before 60000 are gone
  EXPECT_EQ(store->Fetch("k", 0), std::nullopt);
  EXPECT_EQ(store->Fetch("k", 60'000), std::nullopt);
  EXPECT_EQ(store->Fetch("k", 180'000), "new");
  Commit();
  store->Put("k", 240'000, "newer");
  EXPECT_EQ(store->Fetch("k", 180'000), "new");
  EXPECT_FALSE(store->Put("k", 30'000, "late"));  // expired: ignored
  EXPECT_EQ(store->Fetch("k", 30'000), std::nullopt);
  Commit();
  if (db_ != nullptr) {
    // Segments 0 and 1 were dropped as column families; 2 (120-180 s) was never written.
    EXPECT_THAT(db_->ColumnFamilies("w:"), ElementsAre("w:3", "w:4"));
  }
}

INSTANTIATE_TEST_SUITE_P(Implementations, WindowStoreTest,
                         ::testing::Values("in_memory", "rocksdb", "cached"),
                         [](const auto& info) { return info.param; });

}  // namespace
}  // namespace weir
