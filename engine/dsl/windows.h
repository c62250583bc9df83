// Time windows (Kafka Streams' TimeWindows; docs/engine.md) and windowed keys.
//
// A window of size S starting at s covers event times [s, s + S). Tumbling windows (advance = S)
// start at multiples of S; hopping windows (advance A < S) at every multiple of A with
// start <= ts < start + S and start >= 0. A record is late for a window when the window's end is
// at or before stream time minus grace: it is dropped for that window and counted.
#ifndef WEIR_ENGINE_DSL_WINDOWS_H_
#define WEIR_ENGINE_DSL_WINDOWS_H_

#include <algorithm>
#include <cstddef>
#include <cstdint>
#include <iterator>
#include <type_traits>
#include <vector>

#include "engine/processor/serde.h"

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

  // Starts of every window containing a timestamp, oldest first: a range that allocates
  // nothing (the per-record path walks it for every record).
  class Starts {
   public:
    class const_iterator {
     public:
      using value_type = int64_t;
      using difference_type = std::ptrdiff_t;
      using pointer = const int64_t*;
      using reference = const int64_t&;
      using iterator_category = std::forward_iterator_tag;
      const_iterator() = default;
      const_iterator(int64_t start, int64_t advance) : start_(start), advance_(advance) {}
      const int64_t& operator*() const { return start_; }
      const_iterator& operator++() {
        start_ += advance_;
        return *this;
      }
      const_iterator operator++(int) {
        const_iterator before = *this;
        ++*this;
        return before;
      }
      bool operator==(const const_iterator& other) const { return start_ == other.start_; }

     private:
      int64_t start_ = 0;
      int64_t advance_ = 1;
    };
    using value_type = int64_t;
    using iterator = const_iterator;
    Starts(int64_t first, int64_t end, int64_t advance)
        : first_(first), end_(end), advance_(advance) {}
    const_iterator begin() const { return {first_, advance_}; }
    const_iterator end() const { return {end_, advance_}; }
    size_t size() const { return static_cast<size_t>((end_ - first_) / advance_); }
    bool empty() const { return first_ == end_; }

   private:
    int64_t first_;
    int64_t end_;  // one advance past the last start
    int64_t advance_;
  };
  // Starts of every window containing `timestamp` (>= 0), oldest first.
  Starts WindowStartsFor(int64_t timestamp) const {
    const int64_t last = timestamp - timestamp % advance_ms;
    int64_t first = std::max<int64_t>(0, last - size_ms + advance_ms);
    while (first <= last && timestamp >= first + size_ms) first += advance_ms;
    const int64_t count = first <= last ? (last - first) / advance_ms + 1 : 0;
    return Starts(first, first + count * advance_ms, advance_ms);
  }
};

// The windows of a join of two streams (Kafka Streams' JoinWindows): a record at t joins the
// other stream's records of the same key within [t - before, t + after]. Records stay in the
// join's stores for before + after + grace; a left or outer join emits a record that found no
// partner once its window has closed (stream time past t + after + grace).
struct JoinWindows {
  int64_t before_ms = 0;
  int64_t after_ms = 0;
  int64_t grace_ms = 0;

  static JoinWindows OfTimeDifferenceAndGrace(int64_t difference_ms, int64_t grace_ms) {
    return {.before_ms = difference_ms, .after_ms = difference_ms, .grace_ms = grace_ms};
  }
  static JoinWindows OfTimeDifferenceWithNoGrace(int64_t difference_ms) {
    return OfTimeDifferenceAndGrace(difference_ms, 0);
  }
  // The same windows reaching `ms` back (Before) or forward (After) from the left record.
  JoinWindows Before(int64_t ms) const {
    JoinWindows windows = *this;
    windows.before_ms = ms;
    return windows;
  }
  JoinWindows After(int64_t ms) const {
    JoinWindows windows = *this;
    windows.after_ms = ms;
    return windows;
  }
  int64_t size_ms() const { return before_ms + after_ms; }
  int64_t retention_ms() const { return size_ms() + grace_ms; }
};

// Session windows (Kafka Streams' SessionWindows): a key's records no more than the inactivity
// gap apart form one session [first, last]; a record that bridges two sessions merges them. A
// record is late, and dropped, when the session it would make ends before stream time minus
// grace minus gap.
struct SessionWindows {
  int64_t gap_ms = 0;
  int64_t grace_ms = 0;
  static SessionWindows OfInactivityGapAndGrace(int64_t gap_ms, int64_t grace_ms) {
    return {.gap_ms = gap_ms, .grace_ms = grace_ms};
  }
  static SessionWindows OfInactivityGapWithNoGrace(int64_t gap_ms) {
    return OfInactivityGapAndGrace(gap_ms, 0);
  }
};

// Sliding windows (Kafka Streams' SlidingWindows): windows of a fixed time difference,
// [start, start + difference] with both ends included, that exist where a key's records make
// them - one ending at each record, one starting just after it when a later record is within the
// difference - so every distinct set of records that fits in the difference has its window. A
// record is late for a window, and dropped for it, when the window ends before stream time
// minus grace.
struct SlidingWindows {
  int64_t difference_ms = 0;
  int64_t grace_ms = 0;
  static SlidingWindows OfTimeDifferenceAndGrace(int64_t difference_ms, int64_t grace_ms) {
    return {.difference_ms = difference_ms, .grace_ms = grace_ms};
  }
  static SlidingWindows OfTimeDifferenceWithNoGrace(int64_t difference_ms) {
    return OfTimeDifferenceAndGrace(difference_ms, 0);
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

template <typename T>
struct IsWindowed : std::false_type {};
template <typename K>
struct IsWindowed<Windowed<K>> : std::true_type {};

// Kafka's TimeWindowedSerde layout: the key's bytes, then the window start as 8 bytes
// big-endian. The end is start + window size, which the serde is given.
template <typename K>
class TimeWindowedSerde : public Serde<Windowed<K>> {
 public:
  TimeWindowedSerde(SerdePtr<K> inner, int64_t window_size_ms)
      : inner_(std::move(inner)), window_size_ms_(window_size_ms) {}
  const SerdePtr<K>& inner() const { return inner_; }
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

// Kafka's SessionWindowedSerde layout: the key's bytes, then the session's end and start as 8
// bytes big-endian each.
template <typename K>
class SessionWindowedSerde : public Serde<Windowed<K>> {
 public:
  explicit SessionWindowedSerde(SerdePtr<K> inner) : inner_(std::move(inner)) {}
  const SerdePtr<K>& inner() const { return inner_; }
  std::string Serialize(const Windowed<K>& value) const override {
    return inner_->Serialize(value.key) + serdes::Int64()->Serialize(value.end) +
           serdes::Int64()->Serialize(value.start);
  }
  absl::StatusOr<Windowed<K>> Deserialize(absl::string_view bytes) const override {
    if (bytes.size() < 16) return absl::InvalidArgumentError("session key shorter than 16 bytes");
    absl::StatusOr<K> key = inner_->Deserialize(bytes.substr(0, bytes.size() - 16));
    if (!key.ok()) return key.status();
    absl::StatusOr<int64_t> end = serdes::Int64()->Deserialize(bytes.substr(bytes.size() - 16, 8));
    absl::StatusOr<int64_t> start = serdes::Int64()->Deserialize(bytes.substr(bytes.size() - 8));
    if (!end.ok()) return end.status();
    if (!start.ok()) return start.status();
    return Windowed<K>{*std::move(key), *start, *end};
  }

 private:
  SerdePtr<K> inner_;
};

}  // namespace weir

#endif  // WEIR_ENGINE_DSL_WINDOWS_H_
