// The processors behind the DSL's operations (engine/dsl/kstream.h), in namespace weir::dsl. Each
// is an ordinary Processor built on the public Processor API and stores only, so the DSL and the
// Processor API run through one mechanism; the DSL's templates instantiate them for the user's
// types, which is why they are in a header. Not meant to be used directly.
#ifndef WEIR_ENGINE_DSL_DSL_PROCESSORS_H_
#define WEIR_ENGINE_DSL_DSL_PROCESSORS_H_

#include <algorithm>
#include <functional>
#include <limits>
#include <numeric>
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
#include "stores/window_store.h"

namespace weir::dsl {

// Record<K, V> -> zero or more Record<KOut, VOut>, with the input's timestamp and headers.
template <typename K, typename V, typename KOut, typename VOut>
class FlatMapProcessor : public Processor<K, V, KOut, VOut> {
 public:
  using Function = std::function<void(const Record<K, V>&, std::vector<std::pair<KOut, VOut>>&)>;
  explicit FlatMapProcessor(Function function) : function_(std::move(function)) {}
  void Init(ProcessorContext<KOut, VOut>& context) override { context_ = &context; }
  void Process(const Record<K, V>& record) override {
    out_.clear();
    function_(record, out_);
    for (auto& [key, value] : out_) {
      context_->Forward(
          Record<KOut, VOut>{std::move(key), std::move(value), record.timestamp, record.headers});
    }
  }

 private:
  Function function_;
  ProcessorContext<KOut, VOut>* context_ = nullptr;
  std::vector<std::pair<KOut, VOut>> out_;
};

// Forwards records the predicate accepts, unchanged (filter, peek, merge, toStream).
template <typename K, typename V>
class FilterProcessor : public Processor<K, V, K, V> {
 public:
  explicit FilterProcessor(std::function<bool(const Record<K, V>&)> keep)
      : keep_(std::move(keep)) {}
  void Init(ProcessorContext<K, V>& context) override { context_ = &context; }
  void Process(const Record<K, V>& record) override {
    if (keep_(record)) context_->Forward(record);
  }

 private:
  std::function<bool(const Record<K, V>&)> keep_;
  ProcessorContext<K, V>* context_ = nullptr;
};

// Sends each record to the first branch whose predicate accepts it (Kafka Streams' split()).
template <typename K, typename V>
class BranchProcessor : public Processor<K, V, K, V> {
 public:
  struct Branch {
    std::string child;                                  // node name of the branch
    std::function<bool(const K&, const V&)> predicate;  // empty = default branch
  };
  explicit BranchProcessor(std::vector<Branch> branches) : branches_(std::move(branches)) {}
  void Init(ProcessorContext<K, V>& context) override { context_ = &context; }
  void Process(const Record<K, V>& record) override {
    for (const Branch& branch : branches_) {
      if (!branch.predicate || branch.predicate(record.key, record.value)) {
        context_->Forward(record, branch.child);
        return;
      }
    }
  }

 private:
  std::vector<Branch> branches_;
  ProcessorContext<K, V>* context_ = nullptr;
};

// Windowed aggregation (Kafka Streams' KStreamWindowAggregate): for each window containing the
// record, unless the window is closed (end <= stream time - grace, then the record is dropped for
// it and counted; stream time is the largest timestamp this processor has seen), reads the
// aggregate, combines and writes it back. A null key (a std::optional one) is dropped and
// counted. The new value is forwarded at once when the store writes through; behind the record
// cache it is forwarded when the cache flushes the window (eviction or commit), so consecutive
// updates reach downstream as one. No old aggregate is forwarded (nothing in the DSL reads a
// windowed table's old values).
// Stored value: ValueAndTimestamp (stores/value_and_timestamp.h) - the aggregate with the
// largest timestamp of its records, which its updates carry downstream, as in Kafka Streams.
template <typename K, typename V, typename VA>
class WindowedAggregateProcessor : public Processor<K, V, Windowed<K>, Change<VA>> {
 public:
  // Combines the record with the window's current aggregate (nullopt for a new window).
  using Combine = std::function<VA(const K&, const V&, std::optional<VA>)>;

  WindowedAggregateProcessor(TimeWindows windows, std::string store, SerdePtr<K> key_serde,
                             SerdePtr<VA> aggregate_serde, Combine combine)
      : windows_(windows),
        store_name_(std::move(store)),
        key_serde_(std::move(key_serde)),
        aggregate_serde_(std::move(aggregate_serde)),
        combine_(std::move(combine)) {}

  void Init(ProcessorContext<Windowed<K>, Change<VA>>& context) override {
    context_ = &context;
    store_ = context.template GetStateStore<WindowBytesStore>(store_name_);
    WEIR_CHECK(store_ != nullptr) << "window store " << store_name_ << " is not connected";
    forward_on_flush_ =
        store_->SetFlushListener([this](absl::string_view key, int64_t start,
                                        std::optional<absl::string_view> value,
                                        int64_t /*cached: the stored timestamp counts*/) {
          if (!value.has_value()) return;  // aggregations never delete
          const ValueAndTimestamp stored = DecodeStored(*value);
          Forward(Decode(key_serde_, key, "key"), start,
                  Change<VA>{Decode(aggregate_serde_, stored.value, "value"), std::nullopt},
                  stored.timestamp);
        });
  }

  void Process(const Record<K, V>& record) override {
    if (IsNull(record.key)) {  // a std::optional key that is null: nothing to aggregate under
      context_->RecordDropped(DropReason::kNull);
      return;
    }
    // The aggregation's own stream time, as Kafka Streams keeps it: records dropped before it
    // (null keys, filters) do not close its windows.
    observed_ = std::max(observed_, record.timestamp);
    const int64_t stream_time = observed_;
    const std::string key = key_serde_->Serialize(record.key);
    for (int64_t start : windows_.WindowStartsFor(record.timestamp)) {
      if (windows_.Closed(start, stream_time)) {
        context_->RecordDropped();
        continue;
      }
      std::optional<VA> current;
      int64_t timestamp = record.timestamp;  // the aggregate's: the largest of its records'
      if (std::optional<std::string> bytes = store_->Fetch(key, start)) {
        const ValueAndTimestamp stored = DecodeStored(*bytes);
        current = Decode(aggregate_serde_, stored.value, "aggregate");
        timestamp = std::max(timestamp, stored.timestamp);
      }
      VA updated = combine_(record.key, record.value, std::move(current));
      store_->Put(key, start,
                  ValueAndTimestamp::Encode(aggregate_serde_->Serialize(updated), timestamp));
      if (!forward_on_flush_) {
        Forward(record.key, start, Change<VA>{std::move(updated), std::nullopt}, timestamp);
      }
    }
  }

 private:
  // Bytes weir wrote itself that no longer decode are corruption: a bug, so stop.
  template <typename T>
  T Decode(const SerdePtr<T>& serde, absl::string_view bytes, const char* what) const {
    absl::StatusOr<T> decoded = serde->Deserialize(bytes);
    WEIR_CHECK(decoded.ok()) << "corrupt " << what << " in " << store_name_ << ": "
                             << decoded.status();
    return *std::move(decoded);
  }
  ValueAndTimestamp DecodeStored(absl::string_view bytes) const {
    std::optional<ValueAndTimestamp> stored = ValueAndTimestamp::Decode(bytes);
    WEIR_CHECK(stored.has_value()) << "corrupt aggregate in " << store_name_ << ": "
                                   << bytes.size() << " bytes, not a timestamp and a value";
    return *stored;
  }
  void Forward(K key, int64_t start, Change<VA> change, int64_t timestamp) {
    context_->Forward(Record<Windowed<K>, Change<VA>>{
        Windowed<K>{std::move(key), start, start + windows_.size_ms}, std::move(change), timestamp,
        {}});
  }

  TimeWindows windows_;
  std::string store_name_;
  SerdePtr<K> key_serde_;
  SerdePtr<VA> aggregate_serde_;
  Combine combine_;
  ProcessorContext<Windowed<K>, Change<VA>>* context_ = nullptr;
  WindowBytesStore* store_ = nullptr;
  bool forward_on_flush_ = false;
  int64_t observed_ = -1;  // the largest timestamp of the records it processed
};

// Windowed aggregation over slices (Flink's slicing): per key, one value of a key-value store
// (with a retention) holds the aggregates of the key's slices - spans of gcd(size, advance) -
// and a window's aggregate is the merger's fold of the slices it covers, from the initializer.
// A record reads and writes one value per key however many windows contain it. The windows are
// those WindowedAggregateProcessor keeps, exactly: a window still open now was open whenever a
// record went into one of its slices (stream time only grows), so none holds a record that was
// late for it. Every update is forwarded at once (the record cache cannot flush per window
// what it holds per key), without the old aggregate.
//
// Stored value: the newest slice start (8 bytes big-endian, the store's expiry timestamp), then
// per slice in start order its start and the largest timestamp of its records (8 bytes
// big-endian each), the aggregate's size (4 bytes little-endian) and the aggregate's bytes. A
// window's update carries the largest timestamp of the slices it covers and the record's, as
// Kafka Streams' timestamped window stores give it.
template <typename K, typename V, typename VA>
class SlicedWindowAggregateProcessor : public Processor<K, V, Windowed<K>, Change<VA>> {
 public:
  using Initializer = std::function<VA()>;
  using Aggregator = std::function<VA(const K&, const V&, VA)>;
  using Merger = std::function<VA(const K&, VA, VA)>;

  SlicedWindowAggregateProcessor(TimeWindows windows, int64_t retention_ms, std::string store,
                                 SerdePtr<K> key_serde, SerdePtr<VA> aggregate_serde,
                                 Initializer initializer, Aggregator aggregator, Merger merger)
      : windows_(windows),
        slice_ms_(std::gcd(windows.size_ms, windows.advance_ms)),
        retention_ms_(retention_ms),
        store_name_(std::move(store)),
        key_serde_(std::move(key_serde)),
        aggregate_serde_(std::move(aggregate_serde)),
        initializer_(std::move(initializer)),
        aggregator_(std::move(aggregator)),
        merger_(std::move(merger)) {}

  void Init(ProcessorContext<Windowed<K>, Change<VA>>& context) override {
    context_ = &context;
    store_ = context.template GetStateStore<KeyValueBytesStore>(store_name_);
    WEIR_CHECK(store_ != nullptr) << "key-value store " << store_name_ << " is not connected";
  }

  void Process(const Record<K, V>& record) override {
    if (IsNull(record.key)) {  // a std::optional key that is null: nothing to aggregate under
      context_->RecordDropped(DropReason::kNull);
      return;
    }
    // The aggregation's own stream time, as Kafka Streams keeps it: records dropped before it
    // (null keys, filters) do not close its windows.
    observed_ = std::max(observed_, record.timestamp);
    const int64_t stream_time = observed_;
    const std::string key = key_serde_->Serialize(record.key);
    slices_.clear();
    if (std::optional<absl::string_view> bytes = store_->Get(key)) Decode(*bytes, stream_time);
    bool open = false;
    for (int64_t start : windows_.WindowStartsFor(record.timestamp)) {
      if (windows_.Closed(start, stream_time)) {
        context_->RecordDropped();
        continue;
      }
      open = true;
      VA window = initializer_();
      int64_t timestamp = record.timestamp;
      for (const Slice& slice : slices_) {
        if (slice.start >= start && slice.start < start + windows_.size_ms) {
          window = merger_(record.key, std::move(window), slice.aggregate);
          timestamp = std::max(timestamp, slice.timestamp);
        }
      }
      Forward(record.key, start,
              Change<VA>{aggregator_(record.key, record.value, std::move(window)), std::nullopt},
              timestamp);
    }
    if (!open) return;  // late for every window: nothing to keep
    const int64_t slice = record.timestamp - record.timestamp % slice_ms_;
    auto at = std::lower_bound(slices_.begin(), slices_.end(), slice,
                               [](const Slice& entry, int64_t s) { return entry.start < s; });
    if (at == slices_.end() || at->start != slice) {
      at = slices_.insert(at, Slice{slice, record.timestamp, initializer_()});
    }
    at->aggregate = aggregator_(record.key, record.value, std::move(at->aggregate));
    at->timestamp = std::max(at->timestamp, record.timestamp);
    value_.clear();
    char bytes[8];
    StoreBigEndian64(bytes, static_cast<uint64_t>(slices_.back().start));
    value_.append(bytes, 8);
    for (const Slice& each : slices_) {
      StoreBigEndian64(bytes, static_cast<uint64_t>(each.start));
      value_.append(bytes, 8);
      StoreBigEndian64(bytes, static_cast<uint64_t>(each.timestamp));
      value_.append(bytes, 8);
      const std::string encoded = aggregate_serde_->Serialize(each.aggregate);
      AppendLittleEndian(value_, encoded.size(), 4);
      value_.append(encoded);
    }
    store_->Put(key, value_);
  }

 private:
  // The slices of `bytes` that some window may still read: those within the retention.
  void Decode(absl::string_view bytes, int64_t stream_time) {
    WEIR_CHECK(bytes.size() >= 8) << "corrupt value in " << store_name_;
    bytes.remove_prefix(8);
    while (!bytes.empty()) {
      uint64_t size = 0;
      WEIR_CHECK(bytes.size() >= 20) << "corrupt value in " << store_name_;
      const auto start = static_cast<int64_t>(LoadBigEndian64(bytes.data()));
      const auto timestamp = static_cast<int64_t>(LoadBigEndian64(bytes.data() + 8));
      bytes.remove_prefix(16);
      ConsumeLittleEndian(bytes, 4, &size);
      WEIR_CHECK(bytes.size() >= size) << "corrupt value in " << store_name_;
      if (start + retention_ms_ > stream_time) {
        absl::StatusOr<VA> aggregate = aggregate_serde_->Deserialize(bytes.substr(0, size));
        WEIR_CHECK(aggregate.ok()) << "corrupt aggregate in " << store_name_ << ": "
                                   << aggregate.status();
        slices_.push_back(Slice{start, timestamp, *std::move(aggregate)});
      }
      bytes.remove_prefix(size);
    }
  }
  void Forward(K key, int64_t start, Change<VA> change, int64_t timestamp) {
    context_->Forward(Record<Windowed<K>, Change<VA>>{
        Windowed<K>{std::move(key), start, start + windows_.size_ms}, std::move(change), timestamp,
        {}});
  }

  const TimeWindows windows_;
  const int64_t slice_ms_;
  const int64_t retention_ms_;
  std::string store_name_;
  SerdePtr<K> key_serde_;
  SerdePtr<VA> aggregate_serde_;
  Initializer initializer_;
  Aggregator aggregator_;
  Merger merger_;
  ProcessorContext<Windowed<K>, Change<VA>>* context_ = nullptr;
  KeyValueBytesStore* store_ = nullptr;
  struct Slice {
    int64_t start = 0;
    int64_t timestamp = 0;  // the largest of its records'
    VA aggregate;
  };
  std::vector<Slice> slices_;  // the record's key's, in start order
  std::string value_;          // reused
  int64_t observed_ = -1;      // the largest timestamp of the records it processed
};

// Session aggregation (Kafka Streams' KStreamSessionWindowAggregate): a record with a null key is
// dropped and counted. Otherwise the key's sessions that end at or after t - gap and start at or
// before t + gap (oldest end first) are merged with a new session [t, t]; unless the merged
// session ends before stream time - grace - gap (the record is late: dropped and counted), the
// merged sessions are removed - each forwarded as a tombstone at its end - and the merged one,
// with the record aggregated into the merger's fold of theirs, is written and forwarded at its
// end. A session's value is never null: the aggregator gets the record's value as the stream
// has it.
//
// The store is a key-value store: key size (4 bytes big-endian), key, session end and start (8
// bytes big-endian each), so one key's sessions sort by end, then start; value: the end (the
// store's expiry timestamp), then the aggregate. Sessions ending before the newest end written
// minus the retention are not read, as Kafka Streams' segmented stores do not read them.
template <typename KIn, typename V, typename VA>
class SessionWindowAggregateProcessor
    : public Processor<KIn, V, Windowed<Unwrapped<KIn>>, Change<VA>> {
 public:
  using K = Unwrapped<KIn>;
  // The fold starts from initializer(), which may be null (a reduce: the first value or session
  // stands alone); the aggregator adds a record, the merger a session.
  using Initializer = std::function<std::optional<VA>()>;
  using Aggregator = std::function<VA(const K&, const V&, std::optional<VA>)>;
  using Merger = std::function<VA(const K&, std::optional<VA>, VA)>;

  SessionWindowAggregateProcessor(SessionWindows windows, int64_t retention_ms, std::string store,
                                  SerdePtr<K> key_serde, SerdePtr<VA> aggregate_serde,
                                  Initializer initializer, Aggregator aggregator, Merger merger,
                                  SendOldValues send_old)
      : windows_(windows),
        retention_ms_(retention_ms),
        store_name_(std::move(store)),
        key_serde_(std::move(key_serde)),
        aggregate_serde_(std::move(aggregate_serde)),
        initializer_(std::move(initializer)),
        aggregator_(std::move(aggregator)),
        merger_(std::move(merger)),
        send_old_(std::move(send_old)) {}

  void Init(ProcessorContext<Windowed<K>, Change<VA>>& context) override {
    context_ = &context;
    store_ = context.template GetStateStore<KeyValueBytesStore>(store_name_);
    WEIR_CHECK(store_ != nullptr) << "key-value store " << store_name_ << " is not connected";
  }

  void Process(const Record<KIn, V>& record) override {
    if (IsNull(record.key)) {
      context_->RecordDropped(DropReason::kNull);
      return;
    }
    const K& key = Unwrap(record.key);
    const int64_t timestamp = record.timestamp;
    observed_time_ = std::max(observed_time_, timestamp);
    const int64_t close_time = observed_time_ - windows_.grace_ms - windows_.gap_ms;
    key_bytes_ = key_serde_->Serialize(key);

    struct Session {
      std::string store_key;
      int64_t start;
      int64_t end;
      VA aggregate;
    };
    std::vector<Session> merged;
    const int64_t earliest_end =
        std::max(timestamp - windows_.gap_ms, observed_end_ - retention_ms_ + 1);
    const int64_t latest_start = timestamp + windows_.gap_ms;
    store_->Range(StoreKey(std::max<int64_t>(0, earliest_end), 0),
                  StoreKey(std::numeric_limits<int64_t>::max(), std::numeric_limits<int64_t>::max()),
                  [&](absl::string_view store_key, absl::string_view value) {
                    const size_t at = store_key.size() - 16;
                    const auto end = static_cast<int64_t>(LoadBigEndian64(store_key.data() + at));
                    const auto start =
                        static_cast<int64_t>(LoadBigEndian64(store_key.data() + at + 8));
                    if (start > latest_start) return true;
                    merged.push_back({std::string(store_key), start, end, DecodeAggregate(value)});
                    return true;
                  });
    std::optional<VA> aggregate = initializer_();
    int64_t start = timestamp;
    int64_t end = timestamp;
    for (Session& session : merged) {
      aggregate = merger_(key, std::move(aggregate), session.aggregate);
      start = std::min(start, session.start);
      end = std::max(end, session.end);
    }
    if (end < close_time) {
      context_->RecordDropped(DropReason::kLate);
      return;
    }
    if (start != timestamp || end != timestamp) {
      for (Session& session : merged) {
        observed_end_ = std::max(observed_end_, session.end);
        store_->Delete(session.store_key);
        std::optional<VA> old;
        if (*send_old_) old = std::move(session.aggregate);
        Forward(key, session.start, session.end, Change<VA>{std::nullopt, std::move(old)});
      }
    }
    VA updated = aggregator_(key, record.value, std::move(aggregate));
    observed_end_ = std::max(observed_end_, end);
    std::string value = ValueAndTimestamp::Encode(aggregate_serde_->Serialize(updated), end);
    store_->Put(StoreKey(end, start), value);
    Forward(key, start, end, Change<VA>{std::move(updated), std::nullopt});
  }

 private:
  std::string StoreKey(int64_t end, int64_t start) const {
    return KeyThenTwoNumbers(key_bytes_, static_cast<uint64_t>(end), static_cast<uint64_t>(start));
  }
  VA DecodeAggregate(absl::string_view value) const {
    std::optional<ValueAndTimestamp> stored = ValueAndTimestamp::Decode(value);
    WEIR_CHECK(stored.has_value()) << "corrupt session in " << store_name_;
    absl::StatusOr<VA> aggregate = aggregate_serde_->Deserialize(stored->value);
    WEIR_CHECK(aggregate.ok()) << "corrupt session in " << store_name_ << ": "
                               << aggregate.status();
    return *std::move(aggregate);
  }
  void Forward(const K& key, int64_t start, int64_t end, Change<VA> change) {
    context_->Forward(
        Record<Windowed<K>, Change<VA>>{Windowed<K>{key, start, end}, std::move(change), end, {}});
  }

  SessionWindows windows_;
  int64_t retention_ms_;
  std::string store_name_;
  SerdePtr<K> key_serde_;
  SerdePtr<VA> aggregate_serde_;
  Initializer initializer_;
  Aggregator aggregator_;
  Merger merger_;
  SendOldValues send_old_;
  ProcessorContext<Windowed<K>, Change<VA>>* context_ = nullptr;
  KeyValueBytesStore* store_ = nullptr;
  int64_t observed_time_ = -1;  // the largest record timestamp seen
  int64_t observed_end_ = -1;   // the largest session end written or removed
  std::string key_bytes_;       // reused
};

}  // namespace weir::dsl

#endif  // WEIR_ENGINE_DSL_DSL_PROCESSORS_H_
