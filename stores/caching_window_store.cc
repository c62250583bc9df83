#include "stores/caching_window_store.h"

#include <algorithm>
#include <map>
#include <utility>

#include "absl/strings/match.h"
#include "stores/window_key.h"

namespace weir {

CachingWindowStore::CachingWindowStore(std::unique_ptr<WindowBytesStore> inner,
                                       const WindowStoreOptions& options, RecordCache* cache,
                                       std::string namespace_name,
                                       std::function<int64_t()> record_timestamp)
    : inner_(std::move(inner)),
      retention_ms_(options.retention_ms),
      cache_(cache),
      namespace_(cache->AddNamespace(
          std::move(namespace_name),
          [this](const std::vector<CacheNamespace::Dirty>& dirty) { WriteThrough(dirty); })),
      record_timestamp_(std::move(record_timestamp)) {}

CachingWindowStore::~CachingWindowStore() { cache_->RemoveNamespace(namespace_); }

absl::Status CachingWindowStore::Flush() {
  namespace_->Flush();
  return inner_->Flush();
}

void CachingWindowStore::WriteThrough(const std::vector<CacheNamespace::Dirty>& dirty) {
  for (const CacheNamespace::Dirty& d : dirty) {
    const absl::string_view key = WindowKeyRecordKey(d.key);
    const int64_t start = WindowKeyStart(d.key);
    inner_->Put(key, start, d.value);
    if (listener_) listener_(key, start, d.value, d.timestamp);
  }
}

bool CachingWindowStore::Put(absl::string_view key, int64_t window_start,
                             std::optional<absl::string_view> value) {
  if (window_start < MinLiveStart()) return false;
  observed_stream_time_ = std::max(observed_stream_time_, window_start);
  namespace_->Put(WindowKeyInto(key, window_start, scratch_), value, record_timestamp_());
  return true;
}

std::optional<std::string> CachingWindowStore::Fetch(absl::string_view key,
                                                     int64_t window_start) const {
  if (window_start < MinLiveStart()) return std::nullopt;
  if (const CacheNamespace::Entry* cached =
          namespace_->Get(WindowKeyInto(key, window_start, scratch_))) {
    return cached->value;
  }
  return inner_->Fetch(key, window_start);
}

void CachingWindowStore::Fetch(absl::string_view key, int64_t from, int64_t to,
                               const Visitor& visit) const {
  from = std::max(from, MinLiveStart());
  if (from > to) return;
  std::map<int64_t, std::optional<std::string>> windows;
  inner_->Fetch(key, from, to, [&](absl::string_view, int64_t start, absl::string_view value) {
    windows[start] = std::string(value);
  });
  namespace_->ForEachFrom(WindowKey(key, from),
                          [&](const std::string& cached, const CacheNamespace::Entry& entry) {
                            if (!absl::StartsWith(cached, key)) return false;
                            // A longer key that starts with `key` can sort among its windows: skip
                            // it.
                            if (cached.size() != key.size() + 8) return true;
                            const int64_t start = WindowKeyStart(cached);
                            if (start > to) return false;
                            windows[start] = entry.value;
                            return true;
                          });
  for (const auto& [start, value] : windows) {
    if (value.has_value()) visit(key, start, *value);
  }
}

void CachingWindowStore::FetchAll(int64_t from, int64_t to, const Visitor& visit) const {
  from = std::max(from, MinLiveStart());
  if (from > to) return;
  std::map<std::pair<std::string, int64_t>, std::optional<std::string>> windows;
  inner_->FetchAll(from, to, [&](absl::string_view key, int64_t start, absl::string_view value) {
    windows[{std::string(key), start}] = std::string(value);
  });
  namespace_->ForEachFrom("", [&](const std::string& cached, const CacheNamespace::Entry& entry) {
    const int64_t start = WindowKeyStart(cached);
    if (start >= from && start <= to) {
      windows[{std::string(WindowKeyRecordKey(cached)), start}] = entry.value;
    }
    return true;
  });
  for (const auto& [window, value] : windows) {
    if (value.has_value()) visit(window.first, window.second, *value);
  }
}

int64_t CachingWindowStore::observed_stream_time() const {
  return std::max(observed_stream_time_, inner_->observed_stream_time());
}

bool CachingWindowStore::SetFlushListener(FlushListener listener) {
  listener_ = std::move(listener);
  return true;
}

absl::Status CachingWindowStore::ApplyChange(absl::string_view key,
                                             std::optional<absl::string_view> value) {
  namespace_->Invalidate(key);  // the changelog key is the cache key
  return inner_->ApplyChange(key, value);
}

}  // namespace weir
