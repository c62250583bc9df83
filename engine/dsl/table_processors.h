// The processors behind the DSL's tables (engine/dsl/ktable.h) and the operations that read
// them, in namespace weir::dsl: table sources, table filters and mappers, non-windowed
// aggregation and stream-table joins. A table's processors pass its updates as
// Record<K, Change<V>>, Kafka Streams' Change: the new value and the old one, either of which
// may be null (a tombstone deletes). Not meant to be used directly.
#ifndef WEIR_ENGINE_DSL_TABLE_PROCESSORS_H_
#define WEIR_ENGINE_DSL_TABLE_PROCESSORS_H_

#include <algorithm>
#include <cstdint>
#include <functional>
#include <optional>
#include <string>
#include <utility>

#include "common/check.h"
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
  TableSourceProcessor(std::string store, SerdePtr<K> key_serde, SerdePtr<V> value_serde)
      : store_name_(std::move(store)),
        key_serde_(std::move(key_serde)),
        value_serde_(std::move(value_serde)) {}

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
    if (old.has_value()) old_value = std::move(old->value);
    context_->Forward(Record<K, Change<V>>{
        key, Change<V>{std::move(value), std::move(old_value)}, record.timestamp, record.headers});
  }

 private:
  std::string store_name_;
  SerdePtr<K> key_serde_;
  SerdePtr<V> value_serde_;
  ProcessorContext<K, Change<V>>* context_ = nullptr;
  TableStore<K, V> table_;
};

// A table derived value by value (Kafka Streams' KTableFilter and KTableMapValues, not
// materialized): `function(key, value)` gives the derived value or null (filtered out), applied
// to the new and the old value of each update. A filtered-out update is forwarded as a
// tombstone, as Kafka Streams does when nothing downstream asks for old values.
template <typename K, typename V, typename VR>
class TableDeriveProcessor : public Processor<K, Change<V>, K, Change<VR>> {
 public:
  using Function = std::function<std::optional<VR>(const K&, const V&)>;
  explicit TableDeriveProcessor(Function function) : function_(std::move(function)) {}
  void Init(ProcessorContext<K, Change<VR>>& context) override { context_ = &context; }
  void Process(const Record<K, Change<V>>& record) override {
    Change<VR> change;
    if (record.value.new_value.has_value()) {
      change.new_value = function_(record.key, *record.value.new_value);
    }
    if (record.value.old_value.has_value()) {
      change.old_value = function_(record.key, *record.value.old_value);
    }
    context_->Forward(
        Record<K, Change<VR>>{record.key, std::move(change), record.timestamp, record.headers});
  }

 private:
  Function function_;
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
                           Combine combine)
      : store_name_(std::move(store)),
        key_serde_(std::move(key_serde)),
        aggregate_serde_(std::move(aggregate_serde)),
        combine_(std::move(combine)) {}

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
    context_->Forward(Record<K, Change<VA>>{
        key, Change<VA>{std::move(updated), std::move(old_value)}, timestamp, {}});
  }

 private:
  std::string store_name_;
  SerdePtr<K> key_serde_;
  SerdePtr<VA> aggregate_serde_;
  Combine combine_;
  ProcessorContext<K, Change<VA>>* context_ = nullptr;
  TableStore<K, VA> table_;
};

// A stream joined with a table (Kafka Streams' KStreamKTableJoin): each stream record looks up
// the table's value for its key as the table stands when the record is processed. A record with
// a null value, or a null key in an inner join, is dropped and counted; an inner join forwards
// only records that found a value, a left join every record, with the value or null. The result
// keeps the stream record's key, timestamp and headers.
template <typename KIn, typename VIn, typename VT, typename VR>
class StreamTableJoinProcessor : public Processor<KIn, VIn, KIn, VR> {
 public:
  using K = Unwrapped<KIn>;
  using V = Unwrapped<VIn>;
  // The joiner: the stream's value and the table's (null only in a left join).
  using Joiner = std::function<VR(const V&, const std::optional<VT>&)>;
  StreamTableJoinProcessor(ValueGetterSupplier<K, VT> getter, bool left, Joiner joiner)
      : getter_supplier_(std::move(getter)), left_(left), joiner_(std::move(joiner)) {}

  void Init(ProcessorContext<KIn, VR>& context) override {
    context_ = &context;
    getter_ = getter_supplier_(
        [&context](absl::string_view name) { return context.GetStateStoreBase(name); });
  }
  void Process(const Record<KIn, VIn>& record) override {
    if (IsNull(record.value) || (IsNull(record.key) && !left_)) {
      context_->RecordDropped(DropReason::kNull);
      return;
    }
    std::optional<VT> table;
    if (!IsNull(record.key)) {
      if (std::optional<Timestamped<VT>> found = getter_(Unwrap(record.key))) {
        table = std::move(found->value);
      }
    }
    if (!table.has_value() && !left_) return;
    context_->Forward(Record<KIn, VR>{record.key, joiner_(Unwrap(record.value), table),
                                      record.timestamp, record.headers});
  }

 private:
  ValueGetterSupplier<K, VT> getter_supplier_;
  bool left_;
  Joiner joiner_;
  ProcessorContext<KIn, VR>* context_ = nullptr;
  ValueGetter<K, VT> getter_;
};

}  // namespace dsl
}  // namespace weir

#endif  // WEIR_ENGINE_DSL_TABLE_PROCESSORS_H_
