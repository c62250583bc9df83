// The record cache's semantics (KIP-63): consecutive updates collapse, flushes write dirty
// entries in write order, eviction takes the namespace's least recently used entry and flushes
// the whole namespace when that entry is dirty, a zero budget writes through.
#include "stores/record_cache.h"

#include <gmock/gmock.h>
#include <gtest/gtest.h>

#include "absl/strings/str_cat.h"

namespace weir {
namespace {

using ::testing::ElementsAre;
using ::testing::IsEmpty;

// What a namespace's listener received: "key=value" ("key=-" for a delete), one vector per flush.
struct Flushes {
  std::vector<std::vector<std::string>> batches;
  CacheNamespace::FlushListener Listener() {
    return [this](const std::vector<CacheNamespace::Dirty>& dirty) {
      std::vector<std::string>& batch = batches.emplace_back();
      for (const CacheNamespace::Dirty& d : dirty) {
        batch.push_back(absl::StrCat(d.key, "=", d.value ? *d.value : "-", "@", d.timestamp));
      }
    };
  }
};

// Bytes an entry of a one-byte key and one-byte value counts for.
constexpr int64_t kSmallEntry = 1 + 1 + 41;

TEST(RecordCache, ConsecutiveUpdatesOfAKeyCollapseAndFlushInWriteOrder) {
  RecordCache cache(1 << 20);
  Flushes flushes;
  CacheNamespace* ns = cache.AddNamespace("0_0-counts", flushes.Listener());
  ns->Put("b", "1", 10);
  ns->Put("a", "1", 11);
  ns->Put("b", "2", 12);  // collapses with b=1 and moves behind a
  ns->Put("c", std::nullopt, 13);
  EXPECT_EQ(ns->dirty_entries(), 3u);
  EXPECT_THAT(flushes.batches, IsEmpty()) << "nothing is written before a flush";
  ns->Flush();
  EXPECT_THAT(flushes.batches, ElementsAre(ElementsAre("a=1@11", "b=2@12", "c=-@13")));
  EXPECT_EQ(ns->dirty_entries(), 0u);
  EXPECT_EQ(ns->entries(), 2u) << "flushed deletes leave the cache, the rest stays clean";
  ns->Flush();
  EXPECT_EQ(flushes.batches.size(), 1u) << "a clean namespace flushes nothing";
  EXPECT_EQ(cache.size_bytes(), 2 * kSmallEntry);
}

TEST(RecordCache, GetsCountHitsAndMisses) {
  RecordCache cache(1 << 20);
  Flushes flushes;
  CacheNamespace* ns = cache.AddNamespace("0_0-counts", flushes.Listener());
  ns->Put("a", "1", 0);
  ASSERT_NE(ns->Get("a"), nullptr);
  EXPECT_EQ(ns->Get("a")->value, "1");
  EXPECT_EQ(ns->Get("z"), nullptr);
  ns->Put("d", std::nullopt, 0);
  const CacheNamespace::Entry* tombstone = ns->Get("d");
  ASSERT_NE(tombstone, nullptr) << "a cached delete is a hit: the store below must not answer";
  EXPECT_EQ(tombstone->value, std::nullopt);
  EXPECT_EQ(ns->hits(), 3);
  EXPECT_EQ(ns->misses(), 1);
  cache.RemoveNamespace(ns);
  EXPECT_EQ(cache.hits(), 3) << "a closed store's counts stay in the thread's totals";
  EXPECT_EQ(cache.misses(), 1);
  EXPECT_EQ(cache.size_bytes(), 0);
}

TEST(RecordCache, EvictingADirtyEntryFlushesTheWholeNamespaceFirst) {
  RecordCache cache(3 * kSmallEntry);
  Flushes flushes;
  CacheNamespace* ns = cache.AddNamespace("0_0-counts", flushes.Listener());
  ns->Put("a", "1", 1);
  ns->Put("b", "1", 2);
  ns->Put("c", "1", 3);
  ASSERT_NE(ns->Get("a"), nullptr);  // a is now the most recently used; b the least
  ns->Put("d", "1", 4);              // over budget: evict b, which is dirty
  EXPECT_THAT(flushes.batches, ElementsAre(ElementsAre("a=1@1", "b=1@2", "c=1@3", "d=1@4")));
  EXPECT_EQ(ns->Get("b"), nullptr) << "b was evicted";
  EXPECT_NE(ns->Get("a"), nullptr);
  EXPECT_EQ(cache.evictions(), 1);
  EXPECT_EQ(cache.size_bytes(), 3 * kSmallEntry);
  ns->Put("e", "1", 5);  // evicts c, clean now: no flush
  EXPECT_EQ(flushes.batches.size(), 1u);
  EXPECT_EQ(ns->Get("c"), nullptr);
}

TEST(RecordCache, EvictionTakesFromTheNamespaceJustWritten) {
  RecordCache cache(2 * kSmallEntry);
  Flushes first_flushes, second_flushes;
  CacheNamespace* first = cache.AddNamespace("0_0-a", first_flushes.Listener());
  CacheNamespace* second = cache.AddNamespace("0_1-a", second_flushes.Listener());
  first->Put("x", "1", 0);
  second->Put("y", "1", 0);
  second->Put("z", "1", 0);  // over budget: the victim comes from `second`
  EXPECT_THAT(first_flushes.batches, IsEmpty());
  EXPECT_THAT(second_flushes.batches, ElementsAre(ElementsAre("y=1@0", "z=1@0")));
  EXPECT_NE(first->Get("x"), nullptr);
}

TEST(RecordCache, AZeroBudgetWritesEveryPutThrough) {
  RecordCache cache(0);
  Flushes flushes;
  CacheNamespace* ns = cache.AddNamespace("0_0-counts", flushes.Listener());
  ns->Put("a", "1", 0);
  ns->Put("a", "2", 0);
  EXPECT_THAT(flushes.batches, ElementsAre(ElementsAre("a=1@0"), ElementsAre("a=2@0")));
  EXPECT_EQ(ns->entries(), 0u);
  EXPECT_EQ(cache.size_bytes(), 0);
}

TEST(RecordCache, InvalidateForgetsAKeyWithoutFlushingIt) {
  RecordCache cache(1 << 20);
  Flushes flushes;
  CacheNamespace* ns = cache.AddNamespace("0_0-counts", flushes.Listener());
  ns->Put("a", "1", 0);
  ns->Invalidate("a");
  ns->Flush();
  EXPECT_THAT(flushes.batches, IsEmpty());
  EXPECT_EQ(cache.size_bytes(), 0);
}

}  // namespace
}  // namespace weir
