#include "stores/rocksdb_key_value_store.h"

#include "absl/strings/match.h"
#include "common/status.h"

namespace weir {

absl::StatusOr<std::unique_ptr<RocksDbKeyValueStore>> RocksDbKeyValueStore::Open(
    KeyValueStoreOptions options, TaskDb* db) {
  WEIR_ASSIGN_OR_RETURN(rocksdb::ColumnFamilyHandle * cf, db->ColumnFamily(options.name));
  std::shared_ptr<std::atomic<int64_t>> observed;
  if (options.retention_ms > 0) {
    observed = std::make_shared<std::atomic<int64_t>>(-1);
    db->ExpireByTimestamp(cf, options.retention_ms, observed);
  }
  return std::unique_ptr<RocksDbKeyValueStore>(
      new RocksDbKeyValueStore(std::move(options.name), db, cf, std::move(observed)));
}

void RocksDbKeyValueStore::Put(absl::string_view key, std::optional<absl::string_view> value) {
  if (value.has_value()) {
    if (observed_ != nullptr) {
      const std::optional<int64_t> timestamp = ValueTimestamp(*value);
      if (timestamp.has_value() && *timestamp > observed_->load(std::memory_order_relaxed)) {
        observed_->store(*timestamp, std::memory_order_relaxed);
      }
    }
    db_->Put(cf_, key, *value);
  } else {
    db_->Delete(cf_, key);
  }
}

std::optional<absl::string_view> RocksDbKeyValueStore::Get(absl::string_view key) const {
  return db_->Get(cf_, key);
}

void RocksDbKeyValueStore::Scan(absl::string_view from,
                                const std::function<bool(absl::string_view)>& keep,
                                const Visitor& visit) const {
  std::unique_ptr<TaskDb::Iterator> it = db_->NewIterator(cf_);  // closed on every return
  for (it->Seek(from); it->Valid(); it->Next()) {
    if (!keep(it->key())) return;
    if (!visit(it->key(), it->value())) return;
  }
}

void RocksDbKeyValueStore::Range(absl::string_view from, absl::string_view to,
                                 const Visitor& visit) const {
  Scan(
      from, [to](absl::string_view key) { return key <= to; }, visit);
}

void RocksDbKeyValueStore::PrefixScan(absl::string_view prefix, const Visitor& visit) const {
  Scan(
      prefix, [prefix](absl::string_view key) { return absl::StartsWith(key, prefix); }, visit);
}

void RocksDbKeyValueStore::All(const Visitor& visit) const {
  Scan(
      "", [](absl::string_view) { return true; }, visit);
}

void RocksDbKeyValueStore::ForEachPendingChange(const ChangeVisitor& visit) const {
  db_->ForEachPending(cf_, visit);
}

absl::Status RocksDbKeyValueStore::ApplyChange(absl::string_view key,
                                               std::optional<absl::string_view> value) {
  Put(key, value);
  return absl::OkStatus();
}

}  // namespace weir
