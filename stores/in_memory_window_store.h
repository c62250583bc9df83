// An in-memory window store (Kafka Streams' Stores.inMemoryWindowStore): the same contract as
// every WindowBytesStore, held in an ordered map, with whole-segment expiry by retention.
//
// Limitations: state is lost with the process; memory grows with the number of live windows.
#ifndef WEIR_STORES_IN_MEMORY_WINDOW_STORE_H_
#define WEIR_STORES_IN_MEMORY_WINDOW_STORE_H_

#include <map>
#include <memory>
#include <string>

#include "absl/container/flat_hash_map.h"
#include "stores/window_store.h"

namespace weir {

class InMemoryWindowStore : public WindowBytesStore {
 public:
  explicit InMemoryWindowStore(WindowStoreOptions options);

  const std::string& name() const override { return options_.name; }
  absl::Status Flush() override { return absl::OkStatus(); }
  bool Put(absl::string_view key, int64_t window_start,
           std::optional<absl::string_view> value) override;
  std::optional<std::string> Fetch(absl::string_view key, int64_t window_start) const override;
  void Fetch(absl::string_view key, int64_t from, int64_t to, const Visitor& visit) const override;
  void FetchAll(int64_t from, int64_t to, const Visitor& visit) const override;
  int64_t observed_stream_time() const override { return observed_stream_time_; }

  int64_t segment_interval_ms() const { return segment_interval_ms_; }
  size_t live_segments() const { return segments_.size(); }

 private:
  // Windows of one segment: key -> (start -> value). Hashed by key, so a point fetch costs one
  // hash lookup and no string copy; ordered by start within a key for range fetches.
  using Segment = absl::flat_hash_map<std::string, std::map<int64_t, std::string>>;

  int64_t SegmentId(int64_t window_start) const { return window_start / segment_interval_ms_; }
  // The oldest window start still retained.
  int64_t MinLiveStart() const { return observed_stream_time_ - options_.retention_ms + 1; }
  void ExpireSegments();

  WindowStoreOptions options_;
  int64_t segment_interval_ms_;
  int64_t observed_stream_time_ = -1;
  std::map<int64_t, Segment> segments_;  // segment id -> windows
};

}  // namespace weir

#endif  // WEIR_STORES_IN_MEMORY_WINDOW_STORE_H_
