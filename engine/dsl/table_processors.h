// The processors behind the DSL's tables (engine/dsl/ktable.h) and the operations that read
// them, in namespace weir::dsl: table sources, table filters and mappers, non-windowed
// aggregation and stream-table joins. A table's processors pass its updates as
// Record<K, Change<V>>, Kafka Streams' Change: the new value and the old one, either of which
// may be null (a tombstone deletes). As in Kafka Streams, a table's processor forwards the old
// value only when an operation downstream needs it (a table's GroupBy, a left or outer join of
// tables) and asked for it before the topology was built: its `send_old` flag, set by
// KTable::EnableSendingOldValues. Not meant to be used directly.
#ifndef WEIR_ENGINE_DSL_TABLE_PROCESSORS_H_
#define WEIR_ENGINE_DSL_TABLE_PROCESSORS_H_

#include <algorithm>
#include <cstdint>
#include <functional>
#include <map>
#include <memory>
#include <optional>
#include <string>
#include <utility>

#include "common/byte_order.h"
#include "common/check.h"
#include "engine/dsl/windows.h"
#include "engine/processor/processor.h"
#include "stores/key_value_store.h"
#include "stores/value_and_timestamp.h"

namespace weir {

// An update of a table: its new value (null: deleted) and, where the operation knows it, the
// value it replaced.
template <typename V>
struct Change {
  std::optional<V> new_value;
  std::optional<V> old_value;
};

namespace dsl {

// Whether a table's processor forwards old values; set while the topology is built, read when
// its processors run.
using SendOldValues = std::shared_ptr<const bool>;

// A store key that sorts one key's entries by two numbers: the key's size (4 bytes big-endian),
// the key, then `first` and `second` (8 bytes big-endian each). The session store's (end,
// start) and the stream-stream join stores' (timestamp, sequence).
inline std::string KeyThenTwoNumbers(absl::string_view key, uint64_t first, uint64_t second) {
  std::string out(4 + key.size() + 16, '\0');
  const auto size = static_cast<uint32_t>(key.size());
  for (int i = 0; i < 4; ++i) out[i] = static_cast<char>(size >> (24 - 8 * i));
  std::copy(key.begin(), key.end(), out.begin() + 4);
  StoreBigEndian64(out.data() + 4 + key.size(), first);
  StoreBigEndian64(out.data() + 12 + key.size(), second);
  return out;
}

template <typename V>
struct Timestamped {
  V value;
  int64_t timestamp = 0;
};

// A table's values in a key-value store, as Kafka Streams' timestamped key-value stores keep
// them: ValueAndTimestamp (stores/value_and_timestamp.h), the timestamp of the update that
// wrote the value, then the value's bytes. A null value deletes the key.
template <typename K, typename V>
class TableStore {
 public:
  TableStore() = default;
  TableStore(KeyValueBytesStore* store, std::string name, SerdePtr<K> key_serde,
             SerdePtr<V> value_serde)
      : store_(store),
        name_(std::move(name)),
        key_serde_(std::move(key_serde)),
        value_serde_(std::move(value_serde)) {
    WEIR_CHECK(store_ != nullptr) << "key-value store " << name_ << " is not connected";
  }

  std::optional<Timestamped<V>> Get(const K& key) const {
    key_bytes_ = key_serde_->Serialize(key);
    std::optional<absl::string_view> bytes = store_->Get(key_bytes_);
    if (!bytes.has_value()) return std::nullopt;
    std::optional<ValueAndTimestamp> stored = ValueAndTimestamp::Decode(*bytes);
    WEIR_CHECK(stored.has_value()) << "corrupt value in " << name_ << ": " << bytes->size()
                                   << " bytes, not a timestamp and a value";
    absl::StatusOr<V> value = value_serde_->Deserialize(stored->value);
    // Bytes weir wrote itself that no longer decode are corruption: a bug, so stop.
    WEIR_CHECK(value.ok()) << "corrupt value in " << name_ << ": " << value.status();
    return Timestamped<V>{*std::move(value), stored->timestamp};
  }
  void Put(const K& key, const std::optional<V>& value, int64_t timestamp) {
    key_bytes_ = key_serde_->Serialize(key);
    if (!value.has_value()) {
      store_->Put(key_bytes_, std::nullopt);
      return;
    }
    store_->Put(key_bytes_, ValueAndTimestamp::Encode(value_serde_->Serialize(*value), timestamp));
  }

 private:
  KeyValueBytesStore* store_ = nullptr;
  std::string name_;
  SerdePtr<K> key_serde_;
  SerdePtr<V> value_serde_;
  mutable std::string key_bytes_;  // reused
};

// How an operation reads a table it joins: the table's value of a key now, or null. Made when
// the reading processor starts, from the stores connected to it (Kafka Streams'
// KTableValueGetter): a materialized table reads its store, a filtered or mapped one its
// parent's value through its own function.
using StoreFinder = std::function<StateStore*(absl::string_view name)>;
template <typename K, typename V>
using ValueGetter = std::function<std::optional<Timestamped<V>>(const K&)>;
template <typename K, typename V>
using ValueGetterSupplier = std::function<ValueGetter<K, V>(const StoreFinder&)>;

template <typename K, typename V>
ValueGetterSupplier<K, V> StoreGetter(std::string store, SerdePtr<K> key_serde,
                                      SerdePtr<V> value_serde) {
  return [=](const StoreFinder& find) {
    auto table = std::make_shared<TableStore<K, V>>(
        dynamic_cast<KeyValueBytesStore*>(find(store)), store, key_serde, value_serde);
    return [table](const K& key) { return table->Get(key); };
  };
}

// Turns a stream's records into a table's updates, in a timestamped store (Kafka Streams'
// KTableSource, always materialized): a record with a null key is dropped and counted, a null
// value deletes. Every update is forwarded with the value it replaced.
template <typename KIn, typename VIn>
class TableSourceProcessor
    : public Processor<KIn, VIn, Unwrapped<KIn>, Change<Unwrapped<VIn>>> {
 public:
  using K = Unwrapped<KIn>;
  using V = Unwrapped<VIn>;
  TableSourceProcessor(std::string store, SerdePtr<K> key_serde, SerdePtr<V> value_serde,
                       SendOldValues send_old)
      : store_name_(std::move(store)),
        key_serde_(std::move(key_serde)),
        value_serde_(std::move(value_serde)),
        send_old_(std::move(send_old)) {}

  void Init(ProcessorContext<K, Change<V>>& context) override {
    context_ = &context;
    table_ = TableStore<K, V>(context.template GetStateStore<KeyValueBytesStore>(store_name_),
                              store_name_, key_serde_, value_serde_);
  }
  void Process(const Record<KIn, VIn>& record) override {
    if (IsNull(record.key)) {
      context_->RecordDropped(DropReason::kNull);
      return;
    }
    const K& key = Unwrap(record.key);
    std::optional<V> value;
    if (!IsNull(record.value)) value = Unwrap(record.value);
    std::optional<Timestamped<V>> old = table_.Get(key);
    table_.Put(key, value, record.timestamp);
    std::optional<V> old_value;
    if (old.has_value() && *send_old_) old_value = std::move(old->value);
    context_->Forward(Record<K, Change<V>>{
        key, Change<V>{std::move(value), std::move(old_value)}, record.timestamp, record.headers});
  }

 private:
  std::string store_name_;
  SerdePtr<K> key_serde_;
  SerdePtr<V> value_serde_;
  SendOldValues send_old_;
  ProcessorContext<K, Change<V>>* context_ = nullptr;
  TableStore<K, V> table_;
};

// A table derived value by value (Kafka Streams' KTableFilter and KTableMapValues, not
// materialized): `function(key, value)` gives the derived value or null (filtered out), applied
// to the new and the old value of each update. A filtered-out update is forwarded as a
// tombstone; when old values are sent, one whose old and new values are both filtered out is
// not forwarded at all, as in Kafka Streams.
template <typename K, typename V, typename VR>
class TableDeriveProcessor : public Processor<K, Change<V>, K, Change<VR>> {
 public:
  using Function = std::function<std::optional<VR>(const K&, const V&)>;
  TableDeriveProcessor(Function function, SendOldValues send_old)
      : function_(std::move(function)), send_old_(std::move(send_old)) {}
  void Init(ProcessorContext<K, Change<VR>>& context) override { context_ = &context; }
  void Process(const Record<K, Change<V>>& record) override {
    Change<VR> change;
    if (record.value.new_value.has_value()) {
      change.new_value = function_(record.key, *record.value.new_value);
    }
    if (*send_old_ && record.value.old_value.has_value()) {
      change.old_value = function_(record.key, *record.value.old_value);
    }
    if (*send_old_ && !change.new_value.has_value() && !change.old_value.has_value()) return;
    context_->Forward(
        Record<K, Change<VR>>{record.key, std::move(change), record.timestamp, record.headers});
  }

 private:
  Function function_;
  SendOldValues send_old_;
  ProcessorContext<K, Change<VR>>* context_ = nullptr;
};

// Non-windowed aggregation (Kafka Streams' KStreamAggregate and KStreamReduce): a record with a
// null key or value is dropped and counted; otherwise the key's aggregate is read, combined with
// the record and written back with the largest timestamp of its records, which the update
// carries. Every update is forwarded, with the aggregate it replaced.
template <typename KIn, typename VIn, typename VA>
class StreamAggregateProcessor : public Processor<KIn, VIn, Unwrapped<KIn>, Change<VA>> {
 public:
  using K = Unwrapped<KIn>;
  using V = Unwrapped<VIn>;
  // Combines the record with the key's aggregate (nullopt for a new key).
  using Combine = std::function<VA(const K&, const V&, std::optional<VA>)>;
  StreamAggregateProcessor(std::string store, SerdePtr<K> key_serde, SerdePtr<VA> aggregate_serde,
                           Combine combine, SendOldValues send_old)
      : store_name_(std::move(store)),
        key_serde_(std::move(key_serde)),
        aggregate_serde_(std::move(aggregate_serde)),
        combine_(std::move(combine)),
        send_old_(std::move(send_old)) {}

  void Init(ProcessorContext<K, Change<VA>>& context) override {
    context_ = &context;
    table_ = TableStore<K, VA>(context.template GetStateStore<KeyValueBytesStore>(store_name_),
                               store_name_, key_serde_, aggregate_serde_);
  }
  void Process(const Record<KIn, VIn>& record) override {
    if (IsNull(record.key) || IsNull(record.value)) {
      context_->RecordDropped(DropReason::kNull);
      return;
    }
    const K& key = Unwrap(record.key);
    std::optional<Timestamped<VA>> old = table_.Get(key);
    int64_t timestamp = record.timestamp;
    std::optional<VA> old_value;
    if (old.has_value()) {
      timestamp = std::max(timestamp, old->timestamp);
      old_value = std::move(old->value);
    }
    VA updated = combine_(key, Unwrap(record.value), old_value);
    table_.Put(key, updated, timestamp);
    if (!*send_old_) old_value.reset();
    context_->Forward(Record<K, Change<VA>>{
        key, Change<VA>{std::move(updated), std::move(old_value)}, timestamp, {}});
  }

 private:
  std::string store_name_;
  SerdePtr<K> key_serde_;
  SerdePtr<VA> aggregate_serde_;
  Combine combine_;
  SendOldValues send_old_;
  ProcessorContext<K, Change<VA>>* context_ = nullptr;
  TableStore<K, VA> table_;
};

// A stream joined with a table or a global table (Kafka Streams' KStreamKTableJoin): each stream
// record looks up the table's value for the key `mapper(key, value)` gives (a table's: the
// record's key) as the table stands when the record is processed. A record with a null value
// is dropped and counted, and so is one whose table key is null - except, in a left join, a
// record whose own key is null, which joins with nothing. An inner join forwards only records
// that found a value, a left join every record, with the value or null. The result keeps the
// stream record's key, timestamp and headers.
template <typename KIn, typename VIn, typename KT, typename VT, typename VR>
class StreamTableJoinProcessor : public Processor<KIn, VIn, KIn, VR> {
 public:
  using V = Unwrapped<VIn>;
  // The table's key for a record; null: none.
  using KeyMapper = std::function<std::optional<KT>(const KIn&, const V&)>;
  // The joiner: the stream's value and the table's (null only in a left join).
  using Joiner = std::function<VR(const V&, const std::optional<VT>&)>;
  StreamTableJoinProcessor(ValueGetterSupplier<KT, VT> getter, KeyMapper mapper, bool left,
                           Joiner joiner)
      : getter_supplier_(std::move(getter)),
        mapper_(std::move(mapper)),
        left_(left),
        joiner_(std::move(joiner)) {}

  void Init(ProcessorContext<KIn, VR>& context) override {
    context_ = &context;
    getter_ = getter_supplier_(
        [&context](absl::string_view name) { return context.GetStateStoreBase(name); });
  }
  void Process(const Record<KIn, VIn>& record) override {
    if (IsNull(record.value)) {
      context_->RecordDropped(DropReason::kNull);
      return;
    }
    const V& value = Unwrap(record.value);
    const std::optional<KT> table_key = mapper_(record.key, value);
    if (!table_key.has_value() && !(left_ && IsNull(record.key))) {
      context_->RecordDropped(DropReason::kNull);
      return;
    }
    std::optional<VT> table;
    if (table_key.has_value()) {
      if (std::optional<Timestamped<VT>> found = getter_(*table_key)) {
        table = std::move(found->value);
      }
    }
    if (!table.has_value() && !left_) return;
    context_->Forward(
        Record<KIn, VR>{record.key, joiner_(value, table), record.timestamp, record.headers});
  }

 private:
  ValueGetterSupplier<KT, VT> getter_supplier_;
  KeyMapper mapper_;
  bool left_;
  Joiner joiner_;
  ProcessorContext<KIn, VR>* context_ = nullptr;
  ValueGetter<KT, VT> getter_;
};

// One side of a join of two tables (Kafka Streams' KTableKTableInnerJoin, LeftJoin, RightJoin
// and OuterJoin): each update of this side's table looks up the other table's value of the key
// and forwards the joined update with the larger of the two timestamps. A join adds one for each
// side and merges their outputs. `joiner(this_value, other_value)`, either maybe null, is the
// user's joiner with its arguments in this side's order.
enum class TableJoinSide {
  kInner,  // needs the other side's value
  kLeft,   // this side is the join's outer side: joins with a missing other value
  kRight,  // the other side is the outer one: needs its value, joins a missing value of this one
  kOuter,  // both are outer
};
template <typename K, typename VThis, typename VOther, typename VR>
class TableTableJoinProcessor : public Processor<K, Change<VThis>, K, Change<VR>> {
 public:
  using Joiner = std::function<VR(const std::optional<VThis>&, const std::optional<VOther>&)>;
  TableTableJoinProcessor(TableJoinSide side, ValueGetterSupplier<K, VOther> other,
                          Joiner joiner, SendOldValues send_old)
      : side_(side),
        other_supplier_(std::move(other)),
        joiner_(std::move(joiner)),
        send_old_(std::move(send_old)) {}

  void Init(ProcessorContext<K, Change<VR>>& context) override {
    context_ = &context;
    other_ = other_supplier_(
        [&context](absl::string_view name) { return context.GetStateStoreBase(name); });
  }
  void Process(const Record<K, Change<VThis>>& record) override {
    const Change<VThis>& change = record.value;
    std::optional<Timestamped<VOther>> found = other_(record.key);
    std::optional<VOther> other;
    int64_t timestamp = record.timestamp;
    if (found.has_value()) {
      timestamp = std::max(timestamp, found->timestamp);
      other = std::move(found->value);
    } else if (side_ == TableJoinSide::kInner || side_ == TableJoinSide::kRight) {
      return;
    } else if (!change.new_value.has_value() && !change.old_value.has_value()) {
      return;
    }
    Change<VR> joined;
    if (Joins(change.new_value, other)) joined.new_value = joiner_(change.new_value, other);
    if (*send_old_ && Joins(change.old_value, other)) {
      joined.old_value = joiner_(change.old_value, other);
    }
    context_->Forward(
        Record<K, Change<VR>>{record.key, std::move(joined), timestamp, record.headers});
  }

 private:
  // Whether this side's `value` joins with `other` (present unless this side is outer).
  bool Joins(const std::optional<VThis>& value, const std::optional<VOther>& other) const {
    switch (side_) {
      case TableJoinSide::kInner:
      case TableJoinSide::kLeft:
        return value.has_value();
      case TableJoinSide::kRight:
        return true;
      case TableJoinSide::kOuter:
        return value.has_value() || other.has_value();
    }
    return false;
  }

  TableJoinSide side_;
  ValueGetterSupplier<K, VOther> other_supplier_;
  Joiner joiner_;
  SendOldValues send_old_;
  ProcessorContext<K, Change<VR>>* context_ = nullptr;
  ValueGetter<K, VOther> other_;
};

// A table's rows re-keyed for a GroupBy (Kafka Streams' KTableRepartitionMap): the selector maps
// the old and the new row each to a (key, value) pair, and a pair with a null key or value is
// left out. When both pairs have the same key, one Change carries both (the aggregation
// subtracts, then adds); otherwise the old pair's removal goes first, then the new pair's
// addition, each to its key.
template <typename K, typename V, typename KR, typename VR>
class TableGroupByProcessor : public Processor<K, Change<V>, Unwrapped<KR>, Change<Unwrapped<VR>>> {
 public:
  using KU = Unwrapped<KR>;
  using VU = Unwrapped<VR>;
  using Selector = std::function<std::pair<KR, VR>(const K&, const V&)>;
  explicit TableGroupByProcessor(Selector selector) : selector_(std::move(selector)) {}
  void Init(ProcessorContext<KU, Change<VU>>& context) override { context_ = &context; }
  void Process(const Record<K, Change<V>>& record) override {
    std::optional<std::pair<KR, VR>> added;
    std::optional<std::pair<KR, VR>> removed;
    if (record.value.new_value.has_value()) added = Select(record.key, *record.value.new_value);
    if (record.value.old_value.has_value()) removed = Select(record.key, *record.value.old_value);
    if (added.has_value() && removed.has_value() &&
        Unwrap(added->first) == Unwrap(removed->first)) {
      Forward(record, added->first, Change<VU>{Unwrap(added->second), Unwrap(removed->second)});
      return;
    }
    if (removed.has_value()) {
      Forward(record, removed->first, Change<VU>{std::nullopt, Unwrap(removed->second)});
    }
    if (added.has_value()) {
      Forward(record, added->first, Change<VU>{Unwrap(added->second), std::nullopt});
    }
  }

 private:
  std::optional<std::pair<KR, VR>> Select(const K& key, const V& value) const {
    std::pair<KR, VR> pair = selector_(key, value);
    if (IsNull(pair.first) || IsNull(pair.second)) return std::nullopt;
    return pair;
  }
  void Forward(const Record<K, Change<V>>& record, const KR& key, Change<VU> change) {
    context_->Forward(
        Record<KU, Change<VU>>{Unwrap(key), std::move(change), record.timestamp, record.headers});
  }

  Selector selector_;
  ProcessorContext<KU, Change<VU>>* context_ = nullptr;
};

// Aggregation of a grouped table (Kafka Streams' KTableAggregate and KTableReduce): each update
// first subtracts its old value from the key's aggregate, then adds its new one, and the result
// is kept with the largest timestamp of what made it. `remove` and `add` take the aggregate that
// is there (null for a new key: `add` then starts from the initializer, or a reduce from the
// value itself). An aggregate both steps leave null is deleted.
template <typename K, typename V, typename VA>
class TableAggregateProcessor : public Processor<K, Change<V>, K, Change<VA>> {
 public:
  using Step = std::function<VA(const K&, const V&, std::optional<VA>)>;
  TableAggregateProcessor(std::string store, SerdePtr<K> key_serde, SerdePtr<VA> aggregate_serde,
                          Step add, Step remove, SendOldValues send_old)
      : store_name_(std::move(store)),
        key_serde_(std::move(key_serde)),
        aggregate_serde_(std::move(aggregate_serde)),
        add_(std::move(add)),
        remove_(std::move(remove)),
        send_old_(std::move(send_old)) {}

  void Init(ProcessorContext<K, Change<VA>>& context) override {
    context_ = &context;
    table_ = TableStore<K, VA>(context.template GetStateStore<KeyValueBytesStore>(store_name_),
                               store_name_, key_serde_, aggregate_serde_);
  }
  void Process(const Record<K, Change<V>>& record) override {
    std::optional<Timestamped<VA>> old = table_.Get(record.key);
    std::optional<VA> old_value;
    if (old.has_value()) old_value = old->value;
    std::optional<VA> aggregate = old_value;
    int64_t timestamp = record.timestamp;
    if (record.value.old_value.has_value() && aggregate.has_value()) {
      aggregate = remove_(record.key, *record.value.old_value, std::move(aggregate));
      timestamp = std::max(timestamp, old->timestamp);
    }
    if (record.value.new_value.has_value()) {
      const bool existed = aggregate.has_value();
      aggregate = add_(record.key, *record.value.new_value, std::move(aggregate));
      if (existed) timestamp = std::max(timestamp, old->timestamp);
    }
    table_.Put(record.key, aggregate, timestamp);
    if (!*send_old_) old_value.reset();
    context_->Forward(Record<K, Change<VA>>{
        record.key, Change<VA>{std::move(aggregate), std::move(old_value)}, timestamp, {}});
  }

 private:
  std::string store_name_;
  SerdePtr<K> key_serde_;
  SerdePtr<VA> aggregate_serde_;
  Step add_;
  Step remove_;
  SendOldValues send_old_;
  ProcessorContext<K, Change<VA>>* context_ = nullptr;
  TableStore<K, VA> table_;
};

// A Change<V> in a repartition topic or a suppression buffer: one byte saying which values are
// there (bit 0 the new, bit 1 the old), the new value's size (4 bytes little-endian) and bytes,
// then the old value's bytes. Only weir reads it.
template <typename V>
class ChangeSerde : public Serde<Change<V>> {
 public:
  explicit ChangeSerde(SerdePtr<V> inner) : inner_(std::move(inner)) {}
  std::string Serialize(const Change<V>& change) const override {
    std::string out(1, static_cast<char>((change.new_value ? 1 : 0) | (change.old_value ? 2 : 0)));
    const std::string added = change.new_value ? inner_->Serialize(*change.new_value) : "";
    AppendLittleEndian(out, added.size(), 4);
    out += added;
    if (change.old_value) out += inner_->Serialize(*change.old_value);
    return out;
  }
  absl::StatusOr<Change<V>> Deserialize(absl::string_view bytes) const override {
    uint64_t size = 0;
    if (bytes.empty()) return absl::InvalidArgumentError("an empty change");
    const auto flags = static_cast<uint8_t>(bytes[0]);
    bytes.remove_prefix(1);
    if (!ConsumeLittleEndian(bytes, 4, &size) || size > bytes.size()) {
      return absl::InvalidArgumentError("a change's new value is cut short");
    }
    Change<V> change;
    if (flags & 1) {
      absl::StatusOr<V> value = inner_->Deserialize(bytes.substr(0, size));
      if (!value.ok()) return value.status();
      change.new_value = *std::move(value);
    }
    if (flags & 2) {
      absl::StatusOr<V> value = inner_->Deserialize(bytes.substr(size));
      if (!value.ok()) return value.status();
      change.old_value = *std::move(value);
    }
    return change;
  }

 private:
  SerdePtr<V> inner_;
};

// Holds back a table's updates (Kafka Streams' KTableSuppressProcessor): each update replaces its
// key's entry in a buffer ordered by (time, serialized key), where the time is the window's end
// (until the window closes) or the record's timestamp of the key's first buffered update (a
// time limit). After each update, entries whose time is at or before stream time minus
// `hold_ms` (the grace, or the time limit) are forwarded oldest first - the latest update of
// the key, with its timestamp - then a buffer over its bounds emits its oldest early or stops
// the instance. Tombstones of a final-results suppression are not forwarded. The buffer is
// kept in a key-value store with a changelog: serialized key -> time (8 bytes big-endian), the
// update's timestamp (8 bytes big-endian), the update (ChangeSerde).
template <typename K, typename V>
class SuppressProcessor : public Processor<K, Change<V>, K, Change<V>> {
 public:
  struct Options {
    bool window_end_time = false;  // buffer by window end (else by record time)
    int64_t hold_ms = 0;
    int64_t max_records = 0;
    int64_t max_bytes = 0;
    bool shut_down_when_full = false;
    bool drop_tombstones = false;
  };
  SuppressProcessor(Options options, std::string store, SerdePtr<K> key_serde,
                    SerdePtr<V> value_serde)
      : options_(options),
        store_name_(std::move(store)),
        key_serde_(std::move(key_serde)),
        change_serde_(std::move(value_serde)) {}

  void Init(ProcessorContext<K, Change<V>>& context) override {
    context_ = &context;
    store_ = context.template GetStateStore<KeyValueBytesStore>(store_name_);
    WEIR_CHECK(store_ != nullptr) << "key-value store " << store_name_ << " is not connected";
    store_->All([this](absl::string_view key, absl::string_view value) {
      WEIR_CHECK(value.size() >= 16) << "corrupt entry in " << store_name_;
      const auto time = static_cast<int64_t>(LoadBigEndian64(value.data()));
      buffer_[{time, std::string(key)}] = Entry{std::string(value)};
      index_[std::string(key)] = time;
      bytes_ += Size(key, value);
      return true;
    });
  }

  void Process(const Record<K, Change<V>>& record) override {
    observed_ = std::max(observed_, record.timestamp);
    std::string key = key_serde_->Serialize(record.key);
    int64_t time = record.timestamp;
    if constexpr (IsWindowed<K>::value) {
      if (options_.window_end_time) time = record.key.end;
    }
    // A key already buffered keeps its place (Kafka Streams' non-resetting buffer).
    if (auto at = index_.find(key); at != index_.end()) {
      time = at->second;
      bytes_ -= Size(key, buffer_.at({time, key}).value);
    }
    std::string value(16, '\0');
    StoreBigEndian64(value.data(), static_cast<uint64_t>(time));
    StoreBigEndian64(value.data() + 8, static_cast<uint64_t>(record.timestamp));
    value += change_serde_.Serialize(record.value);
    bytes_ += Size(key, value);
    store_->Put(key, value);
    index_[key] = time;
    buffer_[{time, std::move(key)}] = Entry{std::move(value)};

    const int64_t expiry = observed_ - options_.hold_ms;
    while (!buffer_.empty() && buffer_.begin()->first.first <= expiry) EmitOldest();
    if (!OverCapacity()) return;
    if (options_.shut_down_when_full) {
      context_->Fail(absl::ResourceExhaustedError(absl::StrCat(
          "the suppression buffer ", store_name_, " is full: ", buffer_.size(), "/",
          options_.max_records, " records, ", bytes_, "/", options_.max_bytes,
          " bytes (BufferConfig::ShutDownWhenFull)")));
      return;
    }
    while (OverCapacity()) EmitOldest();
  }

 private:
  struct Entry {
    std::string value;  // as stored
  };
  static int64_t Size(absl::string_view key, absl::string_view value) {
    return static_cast<int64_t>(key.size() + value.size()) + 24;
  }
  bool OverCapacity() const {
    return static_cast<int64_t>(buffer_.size()) > options_.max_records ||
           bytes_ > options_.max_bytes;
  }
  void EmitOldest() {
    auto oldest = buffer_.begin();
    const std::string& key = oldest->first.second;
    const absl::string_view value = oldest->second.value;
    const auto timestamp = static_cast<int64_t>(LoadBigEndian64(value.data() + 8));
    absl::StatusOr<Change<V>> change = change_serde_.Deserialize(value.substr(16));
    absl::StatusOr<K> decoded = key_serde_->Deserialize(key);
    // Bytes weir wrote itself that no longer decode are corruption: a bug, so stop.
    WEIR_CHECK(change.ok() && decoded.ok()) << "corrupt entry in " << store_name_;
    bytes_ -= Size(key, value);
    store_->Delete(key);
    index_.erase(key);
    buffer_.erase(oldest);
    if (options_.drop_tombstones && !change->new_value.has_value()) return;
    context_->Forward(
        Record<K, Change<V>>{*std::move(decoded), *std::move(change), timestamp, {}});
  }

  Options options_;
  std::string store_name_;
  SerdePtr<K> key_serde_;
  ChangeSerde<V> change_serde_;
  ProcessorContext<K, Change<V>>* context_ = nullptr;
  KeyValueBytesStore* store_ = nullptr;
  std::map<std::pair<int64_t, std::string>, Entry> buffer_;  // by (time, serialized key)
  std::map<std::string, int64_t> index_;                     // serialized key -> its time
  int64_t bytes_ = 0;
  int64_t observed_ = -1;
};


}  // namespace dsl
}  // namespace weir

#endif  // WEIR_ENGINE_DSL_TABLE_PROCESSORS_H_
