// The record cache (Kafka Streams' ThreadCache and NamedCache, KIP-63): one per stream thread,
// a byte budget shared by every store of every task the thread runs.
//
// Operation. Each cached store has a namespace (`<task>-<store>`). A put stores the new value as
// a dirty entry and touches nothing below: consecutive updates of a key collapse into one. A get
// checks the namespace first (a hit) and counts a miss otherwise; the caller then reads its
// store. Dirty keys are kept in the order they were last written. When the thread's entries
// exceed the budget after a put, the least recently used entries of the namespace just written
// are evicted; if an evicted entry is dirty, the whole namespace is flushed first - every dirty
// entry, in write order, handed to the namespace's flush listener, which writes it to the store
// (whose writes stay pending until the task commits: an eviction never makes state durable ahead
// of its offsets) and, for DSL aggregations, forwards it downstream. A commit flushes every
// namespace of the task the same way. After a flush entries are clean; deletes leave the cache.
//
// Accounting. An entry counts key + value bytes + 41 (Kafka Streams' LRU pointers, dirty flag,
// timestamp and offset), not real heap. Budget 0 caches nothing: every put goes straight to
// the listener (write-through).
//
// Concurrency: the cache and its namespaces belong to one stream thread.
// Limitations: the LRU order is per namespace, as in Kafka Streams, so a namespace that is only
// read never gives up space to one being written.
#ifndef WEIR_STORES_RECORD_CACHE_H_
#define WEIR_STORES_RECORD_CACHE_H_

#include <cstdint>
#include <functional>
#include <map>
#include <memory>
#include <optional>
#include <string>
#include <vector>

#include "absl/strings/string_view.h"

namespace weir {

class RecordCache;

// One store's entries in the thread's cache (Kafka Streams' NamedCache).
class CacheNamespace {
 public:
  struct Dirty {
    absl::string_view key;
    std::optional<absl::string_view> value;  // nullopt: a delete
    int64_t timestamp;                       // of the record that wrote it
  };
  // Receives a flush's dirty entries, in the order they were last written.
  using FlushListener = std::function<void(const std::vector<Dirty>&)>;

  struct Entry {
    std::optional<std::string> value;  // nullopt: a cached delete (tombstone)
    int64_t timestamp = 0;
    bool dirty = false;
    size_t bytes = 0;
    const std::string* key = nullptr;
    Entry* lru_prev = nullptr;  // towards the least recently used
    Entry* lru_next = nullptr;
    Entry* dirty_prev = nullptr;  // towards the oldest write
    Entry* dirty_next = nullptr;
  };

  CacheNamespace(const CacheNamespace&) = delete;
  CacheNamespace& operator=(const CacheNamespace&) = delete;

  const std::string& name() const { return name_; }
  // The entry of `key` (counted as a hit, and made most recently used), or null (a miss).
  const Entry* Get(absl::string_view key);
  // Caches `value` for `key` as dirty (nullopt = delete), then evicts if over budget.
  void Put(absl::string_view key, std::optional<absl::string_view> value, int64_t timestamp);
  // Writes every dirty entry through the listener, in write order; entries stay cached, clean.
  void Flush();
  // Forgets `key` (a change applied below the cache, e.g. from the changelog).
  void Invalidate(absl::string_view key);
  // Visits cached entries (tombstones included) from key `from` on, in key order, while
  // `visit` returns true. Neither hits nor recency change.
  void ForEachFrom(absl::string_view from,
                   const std::function<bool(const std::string&, const Entry&)>& visit) const;

  int64_t hits() const { return hits_; }
  int64_t misses() const { return misses_; }
  size_t entries() const { return entries_.size(); }
  size_t dirty_entries() const { return dirty_count_; }

 private:
  friend class RecordCache;
  CacheNamespace(RecordCache* cache, std::string name, FlushListener listener)
      : cache_(cache), name_(std::move(name)), listener_(std::move(listener)) {}
  void LinkMostRecent(Entry* e);
  void UnlinkLru(Entry* e);
  void LinkDirty(Entry* e);
  void UnlinkDirty(Entry* e);
  void Erase(std::map<std::string, Entry, std::less<>>::iterator it);
  // Evicts the least recently used entry (flushing first if it is dirty); false when empty.
  bool EvictOne();

  RecordCache* cache_;
  const std::string name_;
  FlushListener listener_;
  std::map<std::string, Entry, std::less<>> entries_;
  Entry* lru_head_ = nullptr;  // least recently used
  Entry* lru_tail_ = nullptr;
  Entry* dirty_head_ = nullptr;  // oldest write
  Entry* dirty_tail_ = nullptr;
  size_t dirty_count_ = 0;
  int64_t hits_ = 0;
  int64_t misses_ = 0;
  std::vector<Dirty> flushing_;  // reused by Flush
};

// The per-thread cache (Kafka Streams' ThreadCache).
class RecordCache {
 public:
  explicit RecordCache(int64_t max_bytes) : max_bytes_(max_bytes) {}
  RecordCache(const RecordCache&) = delete;
  RecordCache& operator=(const RecordCache&) = delete;

  // A new namespace; it lives until RemoveNamespace (or the cache's end).
  CacheNamespace* AddNamespace(std::string name, CacheNamespace::FlushListener listener);
  // Drops the namespace and its entries, dirty ones included, without flushing.
  void RemoveNamespace(CacheNamespace* ns);

  int64_t max_bytes() const { return max_bytes_; }
  int64_t size_bytes() const { return size_bytes_; }
  int64_t evictions() const { return evictions_; }
  int64_t flushes() const { return flushes_; }
  // Hits and misses of every namespace, present and removed.
  int64_t hits() const;
  int64_t misses() const;

 private:
  friend class CacheNamespace;
  void MaybeEvict(CacheNamespace& written);

  const int64_t max_bytes_;
  int64_t size_bytes_ = 0;
  int64_t evictions_ = 0;
  int64_t flushes_ = 0;
  int64_t removed_hits_ = 0;
  int64_t removed_misses_ = 0;
  std::map<const CacheNamespace*, std::unique_ptr<CacheNamespace>> namespaces_;
};

}  // namespace weir

#endif  // WEIR_STORES_RECORD_CACHE_H_
