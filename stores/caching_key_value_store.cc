#include "stores/caching_key_value_store.h"

#include <map>
#include <utility>

#include "absl/strings/match.h"

namespace weir {

CachingKeyValueStore::CachingKeyValueStore(std::unique_ptr<KeyValueBytesStore> inner,
                                           RecordCache* cache, std::string namespace_name,
                                           std::function<int64_t()> record_timestamp)
    : inner_(std::move(inner)),
      cache_(cache),
      namespace_(cache->AddNamespace(std::move(namespace_name),
                                     [this](const std::vector<CacheNamespace::Dirty>& dirty) {
                                       for (const CacheNamespace::Dirty& d : dirty) {
                                         inner_->Put(d.key, d.value);
                                       }
                                     })),
      record_timestamp_(std::move(record_timestamp)) {}

CachingKeyValueStore::~CachingKeyValueStore() { cache_->RemoveNamespace(namespace_); }

absl::Status CachingKeyValueStore::Flush() {
  namespace_->Flush();
  return inner_->Flush();
}

void CachingKeyValueStore::Put(absl::string_view key, std::optional<absl::string_view> value) {
  namespace_->Put(key, value, record_timestamp_());
}

std::optional<absl::string_view> CachingKeyValueStore::Get(absl::string_view key) const {
  if (const CacheNamespace::Entry* cached = namespace_->Get(key)) {
    if (!cached->value.has_value()) return std::nullopt;  // a pending deletion
    return absl::string_view(*cached->value);
  }
  return inner_->Get(key);
}

void CachingKeyValueStore::Merged(
    absl::string_view from, const std::function<bool(absl::string_view)>& keep,
    const std::function<void(const std::function<bool(absl::string_view, absl::string_view)>&)>&
        scan_inner,
    const Visitor& visit) const {
  std::map<std::string, std::optional<std::string>, std::less<>> entries;
  scan_inner([&](absl::string_view key, absl::string_view value) {
    entries.emplace(std::string(key), std::string(value));
    return true;
  });
  namespace_->ForEachFrom(from, [&](const std::string& key, const CacheNamespace::Entry& entry) {
    if (!keep(key)) return false;
    entries.insert_or_assign(key, entry.value);
    return true;
  });
  for (const auto& [key, value] : entries) {
    if (value.has_value() && !visit(key, *value)) return;
  }
}

void CachingKeyValueStore::Range(absl::string_view from, absl::string_view to,
                                 const Visitor& visit) const {
  Merged(
      from, [&](absl::string_view key) { return key <= to; },
      [&](const Visitor& v) { inner_->Range(from, to, v); }, visit);
}

void CachingKeyValueStore::PrefixScan(absl::string_view prefix, const Visitor& visit) const {
  Merged(
      prefix, [&](absl::string_view key) { return absl::StartsWith(key, prefix); },
      [&](const Visitor& v) { inner_->PrefixScan(prefix, v); }, visit);
}

void CachingKeyValueStore::All(const Visitor& visit) const {
  Merged(
      "", [](absl::string_view) { return true; }, [&](const Visitor& v) { inner_->All(v); }, visit);
}

absl::Status CachingKeyValueStore::ApplyChange(absl::string_view key,
                                               std::optional<absl::string_view> value) {
  namespace_->Invalidate(key);
  return inner_->ApplyChange(key, value);
}

}  // namespace weir
