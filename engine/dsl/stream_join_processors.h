// The processors of a windowed join of two streams (Kafka Streams' KStreamKStreamJoin), in
// namespace weir::dsl; KStream::Join/LeftJoin/OuterJoin with JoinWindows add them. Not meant to
// be used directly.
//
// Each side has a processor and a key-value store of its records (the join's window stores:
// key, timestamp and a sequence number, so records of one key and time are all kept). A record
// of one side, in order:
//   1. advances the join's stream time, shared by both sides of the join in a task;
//   2. outer side, null key: is joined with nothing at once; otherwise a null key or value is
//      dropped and counted;
//   3. at stream time, emits the records of the outer store whose windows have closed;
//   4. is joined with every record of the other side's store with its key and a timestamp in
//      [t - before, t + after] (that store's records older than its newest minus the retention
//      are gone), each result at the larger timestamp, in the other records' time order; a
//      matched record of the other side leaves the outer store;
//   5. outer side, no match: waits in the outer store for a partner until its window closes,
//      or is joined with nothing at once if stream time is already past its window;
//   6. enters its own side's store.
// The outer store (left and outer joins only) is ordered by timestamp, side (right first) and
// key, as Kafka Streams' shared outer-join store, and emits in that order. Kafka Streams throttles
// that emission to once per second of wall-clock time; weir emits at every record that reaches
// stream time (docs/dsl.md, "Intended differences").
#ifndef WEIR_ENGINE_DSL_STREAM_JOIN_PROCESSORS_H_
#define WEIR_ENGINE_DSL_STREAM_JOIN_PROCESSORS_H_

#include <algorithm>
#include <cstdint>
#include <functional>
#include <limits>
#include <map>
#include <memory>
#include <mutex>
#include <optional>
#include <string>
#include <utility>
#include <vector>

#include "common/byte_order.h"
#include "common/check.h"
#include "engine/dsl/table_processors.h"
#include "engine/dsl/windows.h"
#include "engine/processor/processor.h"
#include "stores/key_value_store.h"
#include "stores/value_and_timestamp.h"

namespace weir::dsl {

// What both sides of one join share in a task (Kafka Streams' TimeTracker).
struct JoinTimeTracker {
  int64_t stream_time = -1;
  int64_t min_time = std::numeric_limits<int64_t>::max();  // oldest record in the outer store
  int64_t observed[2] = {-1, -1};  // newest timestamp put in each side's store (0 left, 1 right)
};

// The trackers of one join, by task: both sides' processors of a task get the same one.
class JoinTimeTrackers {
 public:
  std::shared_ptr<JoinTimeTracker> Get(TaskId task) {
    std::lock_guard<std::mutex> lock(mutex_);
    std::shared_ptr<JoinTimeTracker>& tracker = trackers_[task];
    if (tracker == nullptr) tracker = std::make_shared<JoinTimeTracker>();
    return tracker;
  }
  void Release(TaskId task) {
    std::lock_guard<std::mutex> lock(mutex_);
    auto it = trackers_.find(task);
    if (it != trackers_.end() && it->second.use_count() == 1) trackers_.erase(it);
  }

 private:
  std::mutex mutex_;
  std::map<TaskId, std::shared_ptr<JoinTimeTracker>> trackers_;
};

// a + b as Java's long arithmetic gives it (wrapping), for Kafka Streams' window checks on an
// empty tracker (min_time is Long.MAX_VALUE).
inline int64_t WrappingAdd(int64_t a, int64_t b) {
  return static_cast<int64_t>(static_cast<uint64_t>(a) + static_cast<uint64_t>(b));
}

// Keys of a side's store: key, timestamp and sequence number (KeyThenTwoNumbers), so one key's
// records sort by time, then arrival.
inline std::string JoinStoreKey(absl::string_view key, int64_t timestamp, uint64_t sequence) {
  return KeyThenTwoNumbers(key, static_cast<uint64_t>(timestamp), sequence);
}

// Keys of the outer store: timestamp (8 bytes big-endian), side (1 left, 0 right), key; the
// value lists the records of that key, side and time, each as its size (4 bytes little-endian)
// and bytes.
inline std::string OuterStoreKey(int64_t timestamp, bool left, absl::string_view key) {
  std::string out(9, '\0');
  StoreBigEndian64(out.data(), static_cast<uint64_t>(timestamp));
  out[8] = left ? 1 : 0;
  out.append(key.data(), key.size());
  return out;
}

struct StreamJoinOptions {
  JoinWindows windows;
  bool left_side = true;   // this side is the join's left (this) stream
  bool outer = false;      // this side's records are joined with nothing when unmatched
  std::string this_store;  // this side's records
  std::string other_store;
  std::string outer_store;  // empty for an inner join
};

template <typename KIn, typename VThis, typename VOther, typename VR>
class StreamStreamJoinProcessor : public Processor<KIn, VThis, KIn, VR> {
 public:
  using K = Unwrapped<KIn>;
  using VT = Unwrapped<VThis>;
  using VO = Unwrapped<VOther>;
  // The user's joiner with its arguments in this side's order; null: no partner.
  using Joiner = std::function<VR(const std::optional<VT>&, const std::optional<VO>&)>;

  StreamStreamJoinProcessor(StreamJoinOptions options, SerdePtr<K> key_serde,
                            SerdePtr<VT> this_serde, SerdePtr<VO> other_serde, Joiner joiner,
                            std::shared_ptr<JoinTimeTrackers> trackers)
      : options_(std::move(options)),
        key_serde_(std::move(key_serde)),
        this_serde_(std::move(this_serde)),
        other_serde_(std::move(other_serde)),
        joiner_(std::move(joiner)),
        trackers_(std::move(trackers)),
        // The right side looks the other way: Kafka Streams swaps before and after for it.
        before_ms_(options_.left_side ? options_.windows.before_ms : options_.windows.after_ms),
        after_ms_(options_.left_side ? options_.windows.after_ms : options_.windows.before_ms) {}

  void Init(ProcessorContext<KIn, VR>& context) override {
    context_ = &context;
    this_store_ = Store(options_.this_store);
    other_store_ = Store(options_.other_store);
    if (!options_.outer_store.empty()) outer_store_ = Store(options_.outer_store);
    task_ = context.task_id();
    tracker_ = trackers_->Get(task_);
    // Sequence numbers grow across restarts: records of one key and time keep their order.
    sequence_ = static_cast<uint64_t>(context.CurrentSystemTimeMs()) << 20;
  }
  void Close() override {
    tracker_.reset();
    trackers_->Release(task_);
  }

  void Process(const Record<KIn, VThis>& record) override {
    const int64_t timestamp = record.timestamp;
    JoinTimeTracker& tracker = *tracker_;
    tracker.stream_time = std::max(tracker.stream_time, timestamp);
    if (options_.outer && IsNull(record.key) && !IsNull(record.value)) {
      Forward(record, record.key, joiner_(Unwrap(record.value), std::nullopt), timestamp);
      return;
    }
    if (IsNull(record.key) || IsNull(record.value)) {
      context_->RecordDropped(DropReason::kNull);
      return;
    }
    const VT& value = Unwrap(record.value);
    key_bytes_ = key_serde_->Serialize(Unwrap(record.key));
    if (outer_store_ != nullptr && timestamp == tracker.stream_time) EmitClosed(record);

    const int64_t from = std::max<int64_t>(0, timestamp - before_ms_);
    const int64_t to = std::max<int64_t>(0, timestamp + after_ms_);
    const int64_t visible = std::max(
        from, tracker.observed[options_.left_side ? 1 : 0] - options_.windows.retention_ms() + 1);
    matches_.clear();
    if (to >= visible) {
      other_store_->Range(JoinStoreKey(key_bytes_, visible, 0),
                          JoinStoreKey(key_bytes_, to, std::numeric_limits<uint64_t>::max()),
                          [this](absl::string_view, absl::string_view bytes) {
                            std::optional<ValueAndTimestamp> stored =
                                ValueAndTimestamp::Decode(bytes);
                            WEIR_CHECK(stored.has_value())
                                << "corrupt record in " << options_.other_store;
                            matches_.emplace_back(stored->timestamp, std::string(stored->value));
                            return true;
                          });
    }
    for (const auto& [other_timestamp, other_bytes] : matches_) {
      if (outer_store_ != nullptr) {
        outer_store_->Delete(OuterStoreKey(other_timestamp, !options_.left_side, key_bytes_));
      }
      Forward(record, record.key, joiner_(value, Decode(other_serde_, other_bytes)),
              std::max(timestamp, other_timestamp));
    }
    if (options_.outer && matches_.empty()) {
      if (outer_store_ == nullptr || to < tracker.stream_time) {
        Forward(record, record.key, joiner_(value, std::nullopt), timestamp);
      } else {
        tracker.min_time = std::min(tracker.min_time, timestamp);
        const std::string outer_key = OuterStoreKey(timestamp, options_.left_side, key_bytes_);
        std::string list;
        if (std::optional<absl::string_view> held = outer_store_->Get(outer_key)) {
          list.assign(held->data(), held->size());
        }
        const std::string bytes = this_serde_->Serialize(value);
        AppendLittleEndian(list, bytes.size(), 4);
        list += bytes;
        outer_store_->Put(outer_key, list);
      }
    }
    // Into this side's store, for the other side's records to come.
    int64_t& observed = tracker.observed[options_.left_side ? 0 : 1];
    observed = std::max(observed, timestamp);
    this_store_->Put(JoinStoreKey(key_bytes_, timestamp, sequence_++),
                     ValueAndTimestamp::Encode(this_serde_->Serialize(value), timestamp));
  }

 private:
  KeyValueBytesStore* Store(const std::string& name) {
    auto* store = context_->template GetStateStore<KeyValueBytesStore>(name);
    WEIR_CHECK(store != nullptr) << "key-value store " << name << " is not connected";
    return store;
  }
  template <typename T>
  T Decode(const SerdePtr<T>& serde, absl::string_view bytes) const {
    absl::StatusOr<T> value = serde->Deserialize(bytes);
    // Bytes weir wrote itself that no longer decode are corruption: a bug, so stop.
    WEIR_CHECK(value.ok()) << "corrupt record in a join store: " << value.status();
    return *std::move(value);
  }
  void Forward(const Record<KIn, VThis>& record, const KIn& key, VR value, int64_t timestamp) {
    context_->Forward(Record<KIn, VR>{key, std::move(value), timestamp, record.headers});
  }

  // Emits, oldest first, the outer store's records whose windows have closed, joined with
  // nothing, and removes them (Kafka Streams' emitNonJoinedOuterRecords, step for step).
  void EmitClosed(const Record<KIn, VThis>& record) {
    JoinTimeTracker& tracker = *tracker_;
    const int64_t grace = options_.windows.grace_ms;
    if (WrappingAdd(tracker.min_time, after_ms_ + grace) >= tracker.stream_time) return;
    tracker.min_time = std::numeric_limits<int64_t>::max();
    struct Entry {
      std::string key;
      std::string list;
    };
    std::vector<Entry> entries;
    outer_store_->All([&entries](absl::string_view key, absl::string_view list) {
      entries.push_back({std::string(key), std::string(list)});
      return true;
    });
    bool left_open = false;
    bool right_open = false;
    for (const Entry& entry : entries) {
      const auto timestamp = static_cast<int64_t>(LoadBigEndian64(entry.key.data()));
      const bool left = entry.key[8] != 0;
      tracker.min_time = timestamp;
      if (left_open && right_open) break;
      // A left record looks forward (after), a right one back (before).
      const int64_t look = left ? options_.windows.after_ms : options_.windows.before_ms;
      if (WrappingAdd(tracker.min_time, look + grace) >= tracker.stream_time) {
        (left ? left_open : right_open) = true;
        continue;
      }
      const K key = Decode(key_serde_, absl::string_view(entry.key).substr(9));
      absl::string_view list = entry.list;
      while (!list.empty()) {
        uint64_t size = 0;
        WEIR_CHECK(ConsumeLittleEndian(list, 4, &size) && size <= list.size())
            << "corrupt list in " << options_.outer_store;
        const absl::string_view bytes = list.substr(0, size);
        list.remove_prefix(size);
        // The record is this side's or the other's: the joiner takes it in its place.
        VR joined = left == options_.left_side
                        ? joiner_(Decode(this_serde_, bytes), std::nullopt)
                        : joiner_(std::nullopt, Decode(other_serde_, bytes));
        Forward(record, KIn(key), std::move(joined), timestamp);
      }
      outer_store_->Delete(entry.key);
    }
  }

  StreamJoinOptions options_;
  SerdePtr<K> key_serde_;
  SerdePtr<VT> this_serde_;
  SerdePtr<VO> other_serde_;
  Joiner joiner_;
  std::shared_ptr<JoinTimeTrackers> trackers_;
  const int64_t before_ms_;
  const int64_t after_ms_;
  ProcessorContext<KIn, VR>* context_ = nullptr;
  KeyValueBytesStore* this_store_ = nullptr;
  KeyValueBytesStore* other_store_ = nullptr;
  KeyValueBytesStore* outer_store_ = nullptr;
  TaskId task_;
  std::shared_ptr<JoinTimeTracker> tracker_;
  uint64_t sequence_ = 0;
  std::string key_bytes_;                                // reused
  std::vector<std::pair<int64_t, std::string>> matches_;  // reused
};

}  // namespace weir::dsl

#endif  // WEIR_ENGINE_DSL_STREAM_JOIN_PROCESSORS_H_
