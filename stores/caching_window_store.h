// A window store behind the thread's record cache (Kafka Streams' CachingWindowStore): puts go
// to the cache, flushes (eviction or commit) write them to the inner store in write order and
// hand them to the flush listener (a DSL aggregation, which forwards them downstream).
//
// Reads: a window in the cache is answered from it (a hit); otherwise from the inner store.
// Range fetches merge the inner store's windows with the cached ones, the cache winning.
// Retention is applied above the cache as well, so an expired window is never returned.
//
// The inner store's writes stay pending until the task commits (TaskDb), so a flush between
// commits never makes state durable ahead of the input offsets it reflects.
//
// Concurrency: used by the one thread that runs the task, which owns the cache too.
#ifndef WEIR_STORES_CACHING_WINDOW_STORE_H_
#define WEIR_STORES_CACHING_WINDOW_STORE_H_

#include <functional>
#include <memory>
#include <string>

#include "stores/record_cache.h"
#include "stores/window_store.h"

namespace weir {

class CachingWindowStore : public WindowBytesStore {
 public:
  // Caches `inner` in `cache` under namespace `namespace_name`; `record_timestamp` gives the
  // timestamp of the record being processed, kept with each cached write. `cache` must outlive
  // the store.
  CachingWindowStore(std::unique_ptr<WindowBytesStore> inner, const WindowStoreOptions& options,
                     RecordCache* cache, std::string namespace_name,
                     std::function<int64_t()> record_timestamp);
  ~CachingWindowStore() override;

  const std::string& name() const override { return inner_->name(); }
  // Flushes the cache's dirty windows, then the inner store.
  absl::Status Flush() override;
  bool Put(absl::string_view key, int64_t window_start,
           std::optional<absl::string_view> value) override;
  std::optional<std::string> Fetch(absl::string_view key, int64_t window_start) const override;
  void Fetch(absl::string_view key, int64_t from, int64_t to, const Visitor& visit) const override;
  void FetchAll(int64_t from, int64_t to, const Visitor& visit) const override;
  int64_t observed_stream_time() const override;
  bool SetFlushListener(FlushListener listener) override;

  bool logged() const override { return inner_->logged(); }
  // Pending changes of the inner store: what flushes wrote since the last commit.
  void ForEachPendingChange(const ChangeVisitor& visit) const override {
    inner_->ForEachPendingChange(visit);
  }
  absl::Status ApplyChange(absl::string_view key, std::optional<absl::string_view> value) override;

  const CacheNamespace* cache_namespace() const override { return namespace_; }

 private:
  int64_t MinLiveStart() const { return observed_stream_time() - retention_ms_ + 1; }
  void WriteThrough(const std::vector<CacheNamespace::Dirty>& dirty);

  std::unique_ptr<WindowBytesStore> inner_;
  const int64_t retention_ms_;
  RecordCache* cache_;
  CacheNamespace* namespace_;
  std::function<int64_t()> record_timestamp_;
  int64_t observed_stream_time_ = -1;
  FlushListener listener_;
  mutable std::string scratch_;  // the cache key being looked up, without an allocation each
};

}  // namespace weir

#endif  // WEIR_STORES_CACHING_WINDOW_STORE_H_
