#include "stores/in_memory_window_store.h"

#include <algorithm>
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
  auto slot = std::make_pair(std::string(key), window_start);
  if (value.has_value()) {
    segment.insert_or_assign(std::move(slot), std::string(*value));
  } else {
    segment.erase(slot);
  }
  return true;
}

std::optional<std::string> InMemoryWindowStore::Fetch(absl::string_view key,
                                                      int64_t window_start) const {
  if (window_start < MinLiveStart()) return std::nullopt;
  auto segment = segments_.find(SegmentId(window_start));
  if (segment == segments_.end()) return std::nullopt;
  auto it = segment->second.find(std::make_pair(std::string(key), window_start));
  if (it == segment->second.end()) return std::nullopt;
  return it->second;
}

void InMemoryWindowStore::Fetch(absl::string_view key, int64_t from, int64_t to,
                                const Visitor& visit) const {
  from = std::max(from, MinLiveStart());
  if (from > to) return;
  const std::string owned_key(key);
  for (auto segment = segments_.lower_bound(SegmentId(from));
       segment != segments_.end() && segment->first <= SegmentId(to); ++segment) {
    for (auto it = segment->second.lower_bound(std::make_pair(owned_key, from));
         it != segment->second.end() && it->first.first == owned_key && it->first.second <= to;
         ++it) {
      visit(it->first.first, it->first.second, it->second);
    }
  }
}

void InMemoryWindowStore::FetchAll(int64_t from, int64_t to, const Visitor& visit) const {
  from = std::max(from, MinLiveStart());
  if (from > to) return;
  // Segments are ordered by time; callers expect key order, so gather then sort.
  std::vector<Segment::const_iterator> found;
  for (auto segment = segments_.lower_bound(SegmentId(from));
       segment != segments_.end() && segment->first <= SegmentId(to); ++segment) {
    for (auto it = segment->second.begin(); it != segment->second.end(); ++it) {
      if (it->first.second >= from && it->first.second <= to) found.push_back(it);
    }
  }
  std::sort(found.begin(), found.end(),
            [](const auto& a, const auto& b) { return a->first < b->first; });
  for (const auto& it : found) visit(it->first.first, it->first.second, it->second);
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
