// Time windows (Kafka Streams' TimeWindows; docs/engine.md) and windowed keys.
//
// A window of size S starting at s covers event times [s, s + S). Tumbling windows (advance = S)
// start at multiples of S; hopping windows (advance A < S) at every multiple of A with
// start <= ts < start + S and start >= 0. A record is late for a window when the window's end is
// at or before stream time minus grace: it is dropped for that window and counted.
#ifndef WEIR_ENGINE_WINDOWS_H_
#define WEIR_ENGINE_WINDOWS_H_

#include <algorithm>
#include <cstdint>
#include <vector>

#include "engine/serde.h"

namespace weir {

struct TimeWindows {
  int64_t size_ms = 0;
  int64_t advance_ms = 0;
  int64_t grace_ms = 0;

  // Tumbling windows of `size_ms` with `grace_ms` of grace.
  static TimeWindows OfSizeAndGrace(int64_t size_ms, int64_t grace_ms) {
    return {.size_ms = size_ms, .advance_ms = size_ms, .grace_ms = grace_ms};
  }
  static TimeWindows OfSizeWithNoGrace(int64_t size_ms) { return OfSizeAndGrace(size_ms, 0); }
  // The same windows hopping by `advance_ms` (0 < advance <= size).
  TimeWindows AdvanceBy(int64_t advance) const {
    TimeWindows hopping = *this;
    hopping.advance_ms = advance;
    return hopping;
  }

  // True when the window starting at `start` is closed at `stream_time_ms`: it ends at or before
  // stream time minus grace, and a record for it is dropped as late (Kafka Streams' rule: a
  // window ending exactly at the close time is closed).
  bool Closed(int64_t start, int64_t stream_time_ms) const {
    return start + size_ms <= stream_time_ms - grace_ms;
  }

  // Starts of every window containing `timestamp` (>= 0), oldest first.
  std::vector<int64_t> WindowStartsFor(int64_t timestamp) const {
    std::vector<int64_t> starts;
    const int64_t last = timestamp - timestamp % advance_ms;
    for (int64_t start = std::max<int64_t>(0, last - size_ms + advance_ms); start <= last;
         start += advance_ms) {
      if (timestamp < start + size_ms) starts.push_back(start);
    }
    return starts;
  }
};

// A key with the window it belongs to.
template <typename K>
struct Windowed {
  K key;
  int64_t start = 0;
  int64_t end = 0;
  bool operator==(const Windowed&) const = default;
};

// Kafka's TimeWindowedSerde layout: the key's bytes, then the window start as 8 bytes
// big-endian. The end is start + window size, which the serde is given.
template <typename K>
class TimeWindowedSerde : public Serde<Windowed<K>> {
 public:
  TimeWindowedSerde(SerdePtr<K> inner, int64_t window_size_ms)
      : inner_(std::move(inner)), window_size_ms_(window_size_ms) {}
  std::string Serialize(const Windowed<K>& value) const override {
    return inner_->Serialize(value.key) + serdes::Int64()->Serialize(value.start);
  }
  absl::StatusOr<Windowed<K>> Deserialize(absl::string_view bytes) const override {
    if (bytes.size() < 8) return absl::InvalidArgumentError("windowed key shorter than 8 bytes");
    absl::StatusOr<K> key = inner_->Deserialize(bytes.substr(0, bytes.size() - 8));
    if (!key.ok()) return key.status();
    absl::StatusOr<int64_t> start = serdes::Int64()->Deserialize(bytes.substr(bytes.size() - 8));
    if (!start.ok()) return start.status();
    return Windowed<K>{*std::move(key), *start, *start + window_size_ms_};
  }

 private:
  SerdePtr<K> inner_;
  int64_t window_size_ms_;
};

}  // namespace weir

#endif  // WEIR_ENGINE_WINDOWS_H_
