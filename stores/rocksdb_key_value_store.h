// Key-value stores in a task's RocksDB instance (stores/task_db.h), behind the interface of
// stores/key_value_store.h.
//
// Concurrency: owned and used by one task's thread only.
#ifndef WEIR_STORES_ROCKSDB_KEY_VALUE_STORE_H_
#define WEIR_STORES_ROCKSDB_KEY_VALUE_STORE_H_

#include <atomic>
#include <cstdint>
#include <functional>
#include <memory>
#include <optional>
#include <string>

#include "absl/status/statusor.h"
#include "absl/strings/string_view.h"
#include "stores/key_value_store.h"
#include "stores/task_db.h"

namespace weir {

// In the task's RocksDB instance: column family `<store>`, key and value as given; changelog
// records carry the same key and value. Writes reach RocksDB at the task's commit (TaskDb).
// With a retention, flushes and compactions drop expired entries (TaskDb::ExpireByTimestamp);
// the observed stream time starts over at each open, so nothing expires before the first write.
class RocksDbKeyValueStore : public KeyValueBytesStore {
 public:
  static absl::StatusOr<std::unique_ptr<RocksDbKeyValueStore>> Open(KeyValueStoreOptions options,
                                                                    TaskDb* db);
  static absl::StatusOr<std::unique_ptr<RocksDbKeyValueStore>> Open(std::string name, TaskDb* db) {
    return Open(KeyValueStoreOptions{.name = std::move(name)}, db);
  }

  const std::string& name() const override { return name_; }
  absl::Status Flush() override { return absl::OkStatus(); }
  void Put(absl::string_view key, std::optional<absl::string_view> value) override;
  std::optional<absl::string_view> Get(absl::string_view key) const override;
  void Range(absl::string_view from, absl::string_view to, const Visitor& visit) const override;
  void PrefixScan(absl::string_view prefix, const Visitor& visit) const override;
  void All(const Visitor& visit) const override;

  bool logged() const override { return true; }
  void ForEachPendingChange(const ChangeVisitor& visit) const override;
  absl::Status ApplyChange(absl::string_view key, std::optional<absl::string_view> value) override;

 private:
  RocksDbKeyValueStore(std::string name, TaskDb* db, rocksdb::ColumnFamilyHandle* cf,
                       std::shared_ptr<std::atomic<int64_t>> observed)
      : name_(std::move(name)), db_(db), cf_(cf), observed_(std::move(observed)) {}
  // Visits from `from` while `keep(key)` holds and the visitor wants more.
  void Scan(absl::string_view from, const std::function<bool(absl::string_view)>& keep,
            const Visitor& visit) const;

  std::string name_;
  TaskDb* db_;
  rocksdb::ColumnFamilyHandle* cf_;
  std::shared_ptr<std::atomic<int64_t>> observed_;  // null without a retention
};

}  // namespace weir

#endif  // WEIR_STORES_ROCKSDB_KEY_VALUE_STORE_H_
