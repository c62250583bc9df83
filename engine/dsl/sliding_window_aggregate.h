// Sliding-window aggregation (Kafka Streams' KStreamSlidingWindowAggregate), behind
// KGroupedStream::WindowedBy(SlidingWindows). Not meant to be used directly.
//
// A sliding window [start, start + difference] includes both ends. Windows exist only where
// records make them: each record has a left window ending at its timestamp and, when a later
// record of its key falls within the difference, a right window starting 1 ms after it. A
// record updates every existing window of its key that contains it and creates its own left
// and right windows, and the previous record's right window, when they are missing and not
// empty, copying the aggregate of the windows they share records with (so an aggregation never
// re-reads a window's records). Records before the first full difference (timestamp <
// difference) all go into one window [0, difference]. A window ending before stream time
// minus grace is closed: the record is dropped for it and counted.
//
// The store is a window store (windows by start, retention 2 x difference + grace at least:
// the oldest window a record's right window can copy starts 2 x difference before it) holding
// ValueAndTimestamp: the aggregate and the largest timestamp of its records, which its updates
// carry downstream. Every update is forwarded at once, with the old aggregate when a
// downstream table asks for old values.
#ifndef WEIR_ENGINE_DSL_SLIDING_WINDOW_AGGREGATE_H_
#define WEIR_ENGINE_DSL_SLIDING_WINDOW_AGGREGATE_H_

#include <algorithm>
#include <functional>
#include <optional>
#include <string>
#include <utility>
#include <vector>

#include "absl/container/flat_hash_set.h"
#include "common/check.h"
#include "engine/dsl/table_processors.h"
#include "engine/dsl/windows.h"
#include "engine/processor/processor.h"
#include "stores/value_and_timestamp.h"
#include "stores/window_store.h"

namespace weir::dsl {

template <typename KIn, typename V, typename VA>
class SlidingWindowAggregateProcessor
    : public Processor<KIn, V, Windowed<Unwrapped<KIn>>, Change<VA>> {
 public:
  using K = Unwrapped<KIn>;
  // A new window starts from initializer(), which may be null (a reduce: its first value
  // stands alone); the aggregator adds a record.
  using Initializer = std::function<std::optional<VA>()>;
  using Aggregator = std::function<VA(const K&, const V&, std::optional<VA>)>;

  SlidingWindowAggregateProcessor(SlidingWindows windows, std::string store,
                                  SerdePtr<K> key_serde, SerdePtr<VA> aggregate_serde,
                                  Initializer initializer, Aggregator aggregator,
                                  SendOldValues send_old)
      : windows_(windows),
        store_name_(std::move(store)),
        key_serde_(std::move(key_serde)),
        aggregate_serde_(std::move(aggregate_serde)),
        initializer_(std::move(initializer)),
        aggregator_(std::move(aggregator)),
        send_old_(std::move(send_old)) {}

  void Init(ProcessorContext<Windowed<K>, Change<VA>>& context) override {
    context_ = &context;
    store_ = context.template GetStateStore<WindowBytesStore>(store_name_);
    WEIR_CHECK(store_ != nullptr) << "window store " << store_name_ << " is not connected";
  }

  void Process(const Record<KIn, V>& record) override {
    if (IsNull(record.key) || IsNull(record.value)) {
      context_->RecordDropped(DropReason::kNull);
      return;
    }
    const int64_t timestamp = record.timestamp;
    observed_ = std::max(observed_, timestamp);
    const int64_t close_time = observed_ - windows_.grace_ms;
    if (timestamp + windows_.difference_ms < close_time) {
      context_->RecordDropped(DropReason::kLate);
      return;
    }
    key_bytes_ = key_serde_->Serialize(Unwrap(record.key));
    if (timestamp < windows_.difference_ms) {
      ProcessEarly(record, close_time);
    } else {
      ProcessInWindow(record, close_time);
    }
  }

 private:
  // A window's aggregate (nullopt: fresh from a null initializer) and the largest timestamp of
  // its records.
  struct Aggregate {
    std::optional<VA> value;
    int64_t timestamp = 0;
  };
  struct Window {
    int64_t start;
    Aggregate aggregate;
  };

  // Kafka Streams' processReverse: the key's windows from 2 x difference before the record to
  // its right window's start, newest first.
  void ProcessInWindow(const Record<KIn, V>& record, int64_t close_time) {
    const int64_t timestamp = record.timestamp;
    const int64_t difference = windows_.difference_ms;
    FetchWindows(std::max<int64_t>(0, timestamp - 2 * difference), timestamp + 1);
    std::optional<Aggregate> left_aggregate;
    std::optional<Aggregate> right_aggregate;
    bool left_exists = false;
    bool right_exists = false;
    std::optional<int64_t> previous_timestamp;
    for (auto window = found_.rbegin(); window != found_.rend(); ++window) {
      const int64_t end = window->start + difference;
      const int64_t latest = window->aggregate.timestamp;
      if (window->start == timestamp + 1) {
        right_exists = true;
      } else if (end > timestamp) {
        if (!right_aggregate.has_value()) right_aggregate = window->aggregate;
        UpdateAndForward(window->start, window->aggregate, record, close_time);
      } else if (end == timestamp) {
        left_exists = true;
        UpdateAndForward(window->start, window->aggregate, record, close_time);
        if (latest >= timestamp) return;  // every window this record needs exists
        previous_timestamp = latest;
      } else {
        left_aggregate = window->aggregate;
        previous_timestamp = latest;
        break;
      }
    }
    // The previous record's right window, when missing and this record falls in it.
    if (previous_timestamp.has_value()) {
      const int64_t previous_right = *previous_timestamp + 1;
      if (!starts_.contains(previous_right) && previous_right + difference >= timestamp) {
        UpdateAndForward(previous_right, Fresh(timestamp), record, close_time);
      }
    }
    // This record's left window: the previous record's aggregate when it falls inside.
    if (!left_exists) {
      const bool shares = previous_timestamp.has_value() &&
                          timestamp - difference <= *previous_timestamp;
      UpdateAndForward(timestamp - difference,
                       shares ? Aggregate{left_aggregate->value, timestamp} : Fresh(timestamp),
                       record, close_time);
    }
    if (!right_exists && RightWindowNotEmpty(right_aggregate, timestamp)) {
      CreateRightWindow(timestamp, *right_aggregate, record);
    }
  }

  // Records before the first full difference share the window [0, difference].
  void ProcessEarly(const Record<KIn, V>& record, int64_t close_time) {
    const int64_t timestamp = record.timestamp;
    FetchWindows(0, timestamp + 1);
    std::optional<Window> combined;
    std::optional<Aggregate> right_aggregate;
    bool right_exists = false;
    std::optional<int64_t> previous_timestamp;
    for (Window& window : found_) {
      if (window.start == 0) {
        // The previous record's right window exists already when the combined window holds a
        // record at or after this one.
        if (window.aggregate.timestamp < timestamp) previous_timestamp = window.aggregate.timestamp;
        combined = window;
      } else if (window.start <= timestamp) {
        right_aggregate = window.aggregate;
        UpdateAndForward(window.start, window.aggregate, record, close_time);
      } else {
        right_exists = true;  // start == timestamp + 1
      }
    }
    // With no right window found, the combined window holds only records after this one when
    // its newest is later.
    if (!right_aggregate.has_value() && combined.has_value() &&
        combined->aggregate.timestamp > timestamp) {
      right_aggregate = combined->aggregate;
    }
    if (!right_exists && RightWindowNotEmpty(right_aggregate, timestamp)) {
      CreateRightWindow(timestamp, *right_aggregate, record);
    }
    if (previous_timestamp.has_value() && !starts_.contains(*previous_timestamp + 1)) {
      UpdateAndForward(*previous_timestamp + 1, Fresh(timestamp), record, close_time);
    }
    if (combined.has_value()) {
      UpdateAndForward(0, combined->aggregate, record, close_time);
    } else {
      UpdateAndForward(0, Fresh(timestamp), record, close_time);
    }
  }

  // The key's windows starting in [from, to], oldest first, into found_ and starts_.
  void FetchWindows(int64_t from, int64_t to) {
    found_.clear();
    starts_.clear();
    store_->Fetch(key_bytes_, from, to,
                  [this](absl::string_view, int64_t start, absl::string_view bytes) {
                    std::optional<ValueAndTimestamp> stored = ValueAndTimestamp::Decode(bytes);
                    WEIR_CHECK(stored.has_value()) << "corrupt aggregate in " << store_name_;
                    absl::StatusOr<VA> value = aggregate_serde_->Deserialize(stored->value);
                    WEIR_CHECK(value.ok()) << "corrupt aggregate in " << store_name_ << ": "
                                           << value.status();
                    found_.push_back({start, Aggregate{*std::move(value), stored->timestamp}});
                    starts_.insert(start);
                  });
  }

  Aggregate Fresh(int64_t timestamp) const { return Aggregate{initializer_(), timestamp}; }

  static bool RightWindowNotEmpty(const std::optional<Aggregate>& right, int64_t timestamp) {
    return right.has_value() && right->timestamp > timestamp;
  }

  // Folds the record into the window starting at `start`, unless the window is closed.
  void UpdateAndForward(int64_t start, const Aggregate& aggregate, const Record<KIn, V>& record,
                        int64_t close_time) {
    if (start + windows_.difference_ms < close_time) {
      context_->RecordDropped(DropReason::kLate);
      return;
    }
    const std::optional<VA>& old = aggregate.value;
    VA updated = aggregator_(Unwrap(record.key), record.value, old);
    const int64_t timestamp =
        old.has_value() ? std::max(record.timestamp, aggregate.timestamp) : record.timestamp;
    Write(start, updated, timestamp);
    Forward(Unwrap(record.key), start,
            Change<VA>{std::move(updated), *send_old_ ? old : std::nullopt}, timestamp);
  }

  // The record's right window starts as a copy of the aggregate of the records after it.
  void CreateRightWindow(int64_t timestamp, const Aggregate& aggregate,
                         const Record<KIn, V>& record) {
    Write(timestamp + 1, *aggregate.value, aggregate.timestamp);
    Forward(Unwrap(record.key), timestamp + 1, Change<VA>{*aggregate.value, std::nullopt},
            aggregate.timestamp);
  }

  void Write(int64_t start, const VA& value, int64_t timestamp) {
    store_->Put(key_bytes_, start,
                ValueAndTimestamp::Encode(aggregate_serde_->Serialize(value), timestamp));
  }
  void Forward(const K& key, int64_t start, Change<VA> change, int64_t timestamp) {
    context_->Forward(Record<Windowed<K>, Change<VA>>{
        Windowed<K>{key, start, start + windows_.difference_ms}, std::move(change), timestamp,
        {}});
  }

  SlidingWindows windows_;
  std::string store_name_;
  SerdePtr<K> key_serde_;
  SerdePtr<VA> aggregate_serde_;
  Initializer initializer_;
  Aggregator aggregator_;
  SendOldValues send_old_;
  ProcessorContext<Windowed<K>, Change<VA>>* context_ = nullptr;
  WindowBytesStore* store_ = nullptr;
  int64_t observed_ = -1;  // the largest timestamp of the records it processed
  std::string key_bytes_;  // reused
  std::vector<Window> found_;
  absl::flat_hash_set<int64_t> starts_;
};

}  // namespace weir::dsl

#endif  // WEIR_ENGINE_DSL_SLIDING_WINDOW_AGGREGATE_H_
