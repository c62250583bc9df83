// Window stores: values keyed by (key, window start), as Kafka Streams' WindowStore.
//
// Operation. Keys and values are bytes; the engine's typed wrapper applies serdes. A window store
// keeps windows for `retention_ms` of stream time: once the store has seen a window start of T,
// windows starting at or before T - retention are gone (whole segments are dropped; see
// docs/state-layout.md for the key layout and segments).
//
// Concurrency: owned and used by one task's thread only.
#ifndef WEIR_STORES_WINDOW_STORE_H_
#define WEIR_STORES_WINDOW_STORE_H_

#include <cstdint>
#include <functional>
#include <optional>
#include <string>

#include "absl/strings/string_view.h"
#include "stores/state_store.h"

namespace weir {

struct WindowStoreOptions {
  std::string name;
  int64_t retention_ms = 86'400'000;  // how much stream time of windows to keep
  int64_t window_size_ms = 0;         // for fetches that report window ends
  // Segment interval; 0 = max(retention / 2, 60 s), as in Kafka Streams.
  int64_t segment_interval_ms = 0;
};

class WindowBytesStore : public StateStore {
 public:
  // Called for each (key, window start, value) a fetch finds, in key then start order.
  using Visitor =
      std::function<void(absl::string_view key, int64_t window_start, absl::string_view value)>;

  // Writes `value` for (key, window_start); std::nullopt deletes it. A write to a window that
  // has already expired is ignored (and reported false).
  virtual bool Put(absl::string_view key, int64_t window_start,
                   std::optional<absl::string_view> value) = 0;
  // The value of (key, window_start), or std::nullopt when absent or expired. Reads are const
  // for the contents only: a caching store counts the hit or miss and reorders the record
  // cache's LRU list, so even reads are for the task's thread alone.
  virtual std::optional<std::string> Fetch(absl::string_view key, int64_t window_start) const = 0;
  // Every window of `key` starting in [from, to], in start order.
  virtual void Fetch(absl::string_view key, int64_t from, int64_t to,
                     const Visitor& visit) const = 0;
  // Every window of every key starting in [from, to], ordered by key then start.
  virtual void FetchAll(int64_t from, int64_t to, const Visitor& visit) const = 0;
  // The largest window start written so far (the store's observed stream time), or -1.
  virtual int64_t observed_stream_time() const = 0;

  // A window as a record cache flush writes it: value nullopt = deleted; `timestamp` is that of
  // the record that last wrote it.
  using FlushListener =
      std::function<void(absl::string_view key, int64_t window_start,
                         std::optional<absl::string_view> value, int64_t timestamp)>;
  // Caching stores call `listener` with every window they flush, so a DSL aggregation forwards
  // its results then (Kafka Streams' setFlushListener). False: the store writes through, and the
  // caller must forward each update itself.
  virtual bool SetFlushListener(FlushListener /*listener*/) { return false; }
};

}  // namespace weir

#endif  // WEIR_STORES_WINDOW_STORE_H_
