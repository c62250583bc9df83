#include "stores/key_value_store.h"

#include "absl/strings/match.h"
#include "common/status.h"

namespace weir {

void InMemoryKeyValueStore::Put(absl::string_view key, std::optional<absl::string_view> value) {
  if (value.has_value()) {
    entries_.insert_or_assign(std::string(key), std::string(*value));
  } else if (auto it = entries_.find(key); it != entries_.end()) {
    entries_.erase(it);
  }
}

std::optional<std::string> InMemoryKeyValueStore::Get(absl::string_view key) const {
  auto it = entries_.find(key);
  if (it == entries_.end()) return std::nullopt;
  return it->second;
}

void InMemoryKeyValueStore::Range(absl::string_view from, absl::string_view to,
                                  const Visitor& visit) const {
  for (auto it = entries_.lower_bound(from); it != entries_.end() && it->first <= to; ++it) {
    if (!visit(it->first, it->second)) return;
  }
}

void InMemoryKeyValueStore::PrefixScan(absl::string_view prefix, const Visitor& visit) const {
  for (auto it = entries_.lower_bound(prefix);
       it != entries_.end() && absl::StartsWith(it->first, prefix); ++it) {
    if (!visit(it->first, it->second)) return;
  }
}

void InMemoryKeyValueStore::All(const Visitor& visit) const {
  for (const auto& [key, value] : entries_) {
    if (!visit(key, value)) return;
  }
}

absl::StatusOr<std::unique_ptr<RocksDbKeyValueStore>> RocksDbKeyValueStore::Open(std::string name,
                                                                                 TaskDb* db) {
  WEIR_ASSIGN_OR_RETURN(rocksdb::ColumnFamilyHandle * cf, db->ColumnFamily(name));
  return std::unique_ptr<RocksDbKeyValueStore>(new RocksDbKeyValueStore(std::move(name), db, cf));
}

void RocksDbKeyValueStore::Put(absl::string_view key, std::optional<absl::string_view> value) {
  if (value.has_value()) {
    db_->Put(cf_, key, *value);
  } else {
    db_->Delete(cf_, key);
  }
}

std::optional<std::string> RocksDbKeyValueStore::Get(absl::string_view key) const {
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
