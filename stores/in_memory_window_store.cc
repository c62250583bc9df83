#include "stores/in_memory_window_store.h"

#include <algorithm>
#include <tuple>
#include <vector>

namespace weir {

InMemoryWindowStore::InMemoryWindowStore(WindowStoreOptions options)
    : options_(std::move(options)),
      segment_interval_ms_(options_.segment_interval_ms > 0
                               ? options_.segment_interval_ms
                               : std::max<int64_t>(options_.retention_ms / 2, 60'000)) {}

bool InMemoryWindowStore::Put(absl::string_view key, int64_t window_start,
                              std::optional<absl::string_view> value) {
  if (window_start > observed_stream_time_) {
    observed_stream_time_ = window_start;
    ExpireSegments();
  }
  if (window_start < MinLiveStart()) return false;
  Segment& segment = segments_[SegmentId(window_start)];
  if (value.has_value()) {
    auto windows = segment.find(key);
    if (windows == segment.end()) windows = segment.try_emplace(std::string(key)).first;
    windows->second.insert_or_assign(window_start, std::string(*value));
  } else if (auto windows = segment.find(key); windows != segment.end()) {
    windows->second.erase(window_start);
    if (windows->second.empty()) segment.erase(windows);
  }
  return true;
}

std::optional<std::string> InMemoryWindowStore::Fetch(absl::string_view key,
                                                      int64_t window_start) const {
  if (window_start < MinLiveStart()) return std::nullopt;
  auto segment = segments_.find(SegmentId(window_start));
  if (segment == segments_.end()) return std::nullopt;
  auto windows = segment->second.find(key);
  if (windows == segment->second.end()) return std::nullopt;
  auto it = windows->second.find(window_start);
  if (it == windows->second.end()) return std::nullopt;
  return it->second;
}

void InMemoryWindowStore::Fetch(absl::string_view key, int64_t from, int64_t to,
                                const Visitor& visit) const {
  from = std::max(from, MinLiveStart());
  if (from > to) return;
  for (auto segment = segments_.lower_bound(SegmentId(from));
       segment != segments_.end() && segment->first <= SegmentId(to); ++segment) {
    auto windows = segment->second.find(key);
    if (windows == segment->second.end()) continue;
    for (auto it = windows->second.lower_bound(from);
         it != windows->second.end() && it->first <= to; ++it) {
      visit(windows->first, it->first, it->second);
    }
  }
}

void InMemoryWindowStore::FetchAll(int64_t from, int64_t to, const Visitor& visit) const {
  from = std::max(from, MinLiveStart());
  if (from > to) return;
  // Callers expect key then start order; segments are hashed by key: gather, then sort.
  struct Found {
    const std::string* key;
    int64_t start;
    const std::string* value;
  };
  std::vector<Found> found;
  for (auto segment = segments_.lower_bound(SegmentId(from));
       segment != segments_.end() && segment->first <= SegmentId(to); ++segment) {
    for (const auto& [key, windows] : segment->second) {
      for (auto it = windows.lower_bound(from); it != windows.end() && it->first <= to; ++it) {
        found.push_back({&key, it->first, &it->second});
      }
    }
  }
  std::sort(found.begin(), found.end(), [](const Found& a, const Found& b) {
    return std::tie(*a.key, a.start) < std::tie(*b.key, b.start);
  });
  for (const Found& f : found) visit(*f.key, f.start, *f.value);
}

void InMemoryWindowStore::ExpireSegments() {
  // A segment expires as a whole once its newest possible window start is out of retention.
  const int64_t min_live = MinLiveStart();
  while (!segments_.empty() &&
         (segments_.begin()->first + 1) * segment_interval_ms_ - 1 < min_live) {
    segments_.erase(segments_.begin());
  }
}

}  // namespace weir
