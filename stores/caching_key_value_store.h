// A key-value store behind the thread's record cache (Kafka Streams' CachingKeyValueStore):
// puts go to the cache; flushes (eviction or commit) write them to the inner store in write
// order. Gets are answered from the cache when it holds the key; scans merge the inner store's
// entries with the cached ones, the cache winning. As in Kafka Streams with the Processor API,
// a flush forwards nothing downstream.
//
// The inner store's writes stay pending until the task commits (TaskDb), so a flush between
// commits never makes state durable ahead of the input offsets it reflects.
//
// Concurrency: used by the one thread that runs the task, which owns the cache too.
// Limitations: a scan copies the entries it covers before visiting them.
#ifndef WEIR_STORES_CACHING_KEY_VALUE_STORE_H_
#define WEIR_STORES_CACHING_KEY_VALUE_STORE_H_

#include <functional>
#include <memory>
#include <string>

#include "stores/key_value_store.h"
#include "stores/record_cache.h"

namespace weir {

class CachingKeyValueStore : public KeyValueBytesStore {
 public:
  // Caches `inner` in `cache` under namespace `namespace_name`; `record_timestamp` gives the
  // timestamp of the record being processed. `cache` must outlive the store.
  CachingKeyValueStore(std::unique_ptr<KeyValueBytesStore> inner, RecordCache* cache,
                       std::string namespace_name, std::function<int64_t()> record_timestamp);
  ~CachingKeyValueStore() override;

  const std::string& name() const override { return inner_->name(); }
  absl::Status Flush() override;
  void Put(absl::string_view key, std::optional<absl::string_view> value) override;
  std::optional<absl::string_view> Get(absl::string_view key) const override;
  void Range(absl::string_view from, absl::string_view to, const Visitor& visit) const override;
  void PrefixScan(absl::string_view prefix, const Visitor& visit) const override;
  void All(const Visitor& visit) const override;

  bool logged() const override { return inner_->logged(); }
  void ForEachPendingChange(const ChangeVisitor& visit) const override {
    inner_->ForEachPendingChange(visit);
  }
  absl::Status ApplyChange(absl::string_view key, std::optional<absl::string_view> value) override;

  const CacheNamespace* cache_namespace() const override { return namespace_; }

 private:
  // Entries of the inner store from `from` while `keep` holds, overlaid with the cache's.
  void Merged(
      absl::string_view from, const std::function<bool(absl::string_view)>& keep,
      const std::function<void(const std::function<bool(absl::string_view, absl::string_view)>&)>&
          scan_inner,
      const Visitor& visit) const;

  std::unique_ptr<KeyValueBytesStore> inner_;
  RecordCache* cache_;
  CacheNamespace* namespace_;
  std::function<int64_t()> record_timestamp_;
};

}  // namespace weir

#endif  // WEIR_STORES_CACHING_KEY_VALUE_STORE_H_
