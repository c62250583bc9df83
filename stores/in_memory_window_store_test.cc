#include "stores/in_memory_window_store.h"

#include <gmock/gmock.h>
#include <gtest/gtest.h>

namespace weir {
namespace {

using Entry = std::tuple<std::string, int64_t, std::string>;

std::vector<Entry> Collect(const std::function<void(const WindowBytesStore::Visitor&)>& fetch) {
  std::vector<Entry> out;
  fetch([&](absl::string_view k, int64_t start, absl::string_view v) {
    out.emplace_back(std::string(k), start, std::string(v));
  });
  return out;
}

TEST(InMemoryWindowStore, PutFetchDelete) {
  InMemoryWindowStore store({.name = "w", .retention_ms = 600'000});
  EXPECT_TRUE(store.Put("a", 0, "1"));
  EXPECT_TRUE(store.Put("a", 60'000, "2"));
  EXPECT_TRUE(store.Put("b", 0, "3"));
  EXPECT_EQ(store.Fetch("a", 60'000), "2");
  EXPECT_EQ(store.Fetch("a", 120'000), std::nullopt);
  EXPECT_THAT(Collect([&](auto& v) { store.Fetch("a", 0, 60'000, v); }),
              ::testing::ElementsAre(Entry{"a", 0, "1"}, Entry{"a", 60'000, "2"}));
  EXPECT_THAT(Collect([&](auto& v) { store.FetchAll(0, 0, v); }),
              ::testing::ElementsAre(Entry{"a", 0, "1"}, Entry{"b", 0, "3"}));
  EXPECT_TRUE(store.Put("a", 0, std::nullopt));
  EXPECT_EQ(store.Fetch("a", 0), std::nullopt);
  EXPECT_EQ(store.observed_stream_time(), 60'000);
}

TEST(InMemoryWindowStore, ExpiresWholeSegmentsPastRetention) {
  // Retention 120 s: segment interval max(60 s, 60 s) = 60 s.
  InMemoryWindowStore store({.name = "w", .retention_ms = 120'000});
  EXPECT_EQ(store.segment_interval_ms(), 60'000);
  store.Put("k", 0, "old");
  store.Put("k", 60'000, "mid");
  EXPECT_EQ(store.live_segments(), 2u);
  store.Put("k", 180'000, "new");  // windows starting at or before 60000 are gone
  EXPECT_EQ(store.Fetch("k", 0), std::nullopt);
  EXPECT_EQ(store.Fetch("k", 60'000), std::nullopt);
  EXPECT_EQ(store.Fetch("k", 180'000), "new");
  // Segment [0, 60000) is dropped; [60000, 120000) still holds starts that are in retention.
  EXPECT_EQ(store.live_segments(), 2u);
  store.Put("k", 240'000, "newer");  // now every start of [60000, 120000) is out: dropped
  EXPECT_EQ(store.live_segments(), 2u);
  EXPECT_EQ(store.Fetch("k", 180'000), "new");
  EXPECT_FALSE(store.Put("k", 30'000, "late"));  // expired: ignored
  EXPECT_EQ(store.Fetch("k", 30'000), std::nullopt);
}

}  // namespace
}  // namespace weir
