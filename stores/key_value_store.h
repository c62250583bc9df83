// Key-value stores (Kafka Streams' KeyValueStore over bytes): put, get, delete, range, prefix
// scan and full scan, in key order. Scans take a visitor instead of returning an iterator, so no
// iterator can outlive its scan or be left open.
//
// Concurrency: owned and used by one task's thread only.
#ifndef WEIR_STORES_KEY_VALUE_STORE_H_
#define WEIR_STORES_KEY_VALUE_STORE_H_

#include <functional>
#include <map>
#include <memory>
#include <optional>
#include <string>

#include "absl/status/statusor.h"
#include "absl/strings/string_view.h"
#include "stores/state_store.h"
#include "stores/task_db.h"

namespace weir {

class KeyValueBytesStore : public StateStore {
 public:
  // Called for each entry a scan finds, in key order; return false to stop the scan.
  using Visitor = std::function<bool(absl::string_view key, absl::string_view value)>;

  // Writes `value` for `key`; std::nullopt deletes it.
  virtual void Put(absl::string_view key, std::optional<absl::string_view> value) = 0;
  void Delete(absl::string_view key) { Put(key, std::nullopt); }
  virtual std::optional<std::string> Get(absl::string_view key) const = 0;
  // Keys in [from, to] (both inclusive), as Kafka Streams' range().
  virtual void Range(absl::string_view from, absl::string_view to, const Visitor& visit) const = 0;
  virtual void PrefixScan(absl::string_view prefix, const Visitor& visit) const = 0;
  virtual void All(const Visitor& visit) const = 0;
};

// In memory: an ordered map (the test driver's stores).
class InMemoryKeyValueStore : public KeyValueBytesStore {
 public:
  explicit InMemoryKeyValueStore(std::string name) : name_(std::move(name)) {}
  const std::string& name() const override { return name_; }
  absl::Status Flush() override { return absl::OkStatus(); }
  void Put(absl::string_view key, std::optional<absl::string_view> value) override;
  std::optional<std::string> Get(absl::string_view key) const override;
  void Range(absl::string_view from, absl::string_view to, const Visitor& visit) const override;
  void PrefixScan(absl::string_view prefix, const Visitor& visit) const override;
  void All(const Visitor& visit) const override;

 private:
  std::string name_;
  std::map<std::string, std::string, std::less<>> entries_;
};

// In the task's RocksDB instance: column family `<store>`, key and value as given; changelog
// records carry the same key and value. Writes reach RocksDB at the task's commit (TaskDb).
class RocksDbKeyValueStore : public KeyValueBytesStore {
 public:
  static absl::StatusOr<std::unique_ptr<RocksDbKeyValueStore>> Open(std::string name, TaskDb* db);

  const std::string& name() const override { return name_; }
  absl::Status Flush() override { return absl::OkStatus(); }
  void Put(absl::string_view key, std::optional<absl::string_view> value) override;
  std::optional<std::string> Get(absl::string_view key) const override;
  void Range(absl::string_view from, absl::string_view to, const Visitor& visit) const override;
  void PrefixScan(absl::string_view prefix, const Visitor& visit) const override;
  void All(const Visitor& visit) const override;

  bool logged() const override { return true; }
  void ForEachPendingChange(const ChangeVisitor& visit) const override;
  absl::Status ApplyChange(absl::string_view key, std::optional<absl::string_view> value) override;

 private:
  RocksDbKeyValueStore(std::string name, TaskDb* db, rocksdb::ColumnFamilyHandle* cf)
      : name_(std::move(name)), db_(db), cf_(cf) {}
  // Visits from `from` while `keep(key)` holds and the visitor wants more.
  void Scan(absl::string_view from, const std::function<bool(absl::string_view)>& keep,
            const Visitor& visit) const;

  std::string name_;
  TaskDb* db_;
  rocksdb::ColumnFamilyHandle* cf_;
};

}  // namespace weir

#endif  // WEIR_STORES_KEY_VALUE_STORE_H_
