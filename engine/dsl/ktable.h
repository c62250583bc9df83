// The DSL's tables (Kafka Streams' KTable): a changelog stream read as the latest value per key.
// A table comes from a topic (StreamsBuilder::Table), a stream (KStream::ToTable), an
// aggregation (KGroupedStream::Count/Reduce/Aggregate, windowed or not) or another table
// (Filter, FilterNot, MapValues). Its updates flow as Record<K, Change<V>>
// (engine/dsl/table_processors.h); ToStream() turns them into a stream whose null values are
// the table's deletions.
//
//   KTable<std::string, std::string> merchants = builder.Table<std::string, std::string>(
//       "merchants", serdes::String(), serdes::String(), Materialized<std::string>::As("m"));
//   payments.LeftJoin(merchants, [](const Payment& p, const std::optional<std::string>& m) {
//     return Enrich(p, m);
//   });
//
// A table read by a join is looked up through its value getter: a materialized table (source,
// ToTable, aggregation) reads its store; a filtered or mapped one applies its function to its
// parent's value, as Kafka Streams' KTableValueGetter.
#ifndef WEIR_ENGINE_DSL_KTABLE_H_
#define WEIR_ENGINE_DSL_KTABLE_H_

#include <functional>
#include <memory>
#include <optional>
#include <string>
#include <type_traits>
#include <utility>
#include <vector>

#include "absl/strings/str_cat.h"
#include "engine/dsl/builder_state.h"
#include "engine/dsl/table_processors.h"
#include "engine/processor/topology.h"

namespace weir {

template <typename K, typename V>
class KStream;

template <typename K, typename V>
class KTable {
 public:
  // `getter` reads the table's value of a key for joins (empty: the table cannot be joined),
  // from `getter_stores`.
  KTable(std::shared_ptr<dsl::BuilderState> state, std::string node, std::string store,
         SerdePtr<K> key_serde, SerdePtr<V> value_serde,
         dsl::ValueGetterSupplier<K, V> getter = {}, std::vector<std::string> getter_stores = {})
      : state_(std::move(state)),
        node_(std::move(node)),
        store_(std::move(store)),
        key_serde_(std::move(key_serde)),
        value_serde_(std::move(value_serde)),
        getter_(std::move(getter)),
        getter_stores_(std::move(getter_stores)) {}

  // The store the table is materialized in; empty for a derived table (Filter, MapValues).
  const std::string& store_name() const { return store_; }
  const std::string& node_name() const { return node_; }

  // Every update of the table as a record; a deletion's value is null.
  KStream<K, std::optional<V>> ToStream() const;

  // The rows for which `predicate(key, value)` holds; an update to a row it rejects deletes it.
  KTable Filter(std::function<bool(const K&, const V&)> predicate) const {
    return Derive<V>("KTABLE-FILTER",
                     [predicate](const K& key, const V& value) -> std::optional<V> {
                       if (!predicate(key, value)) return std::nullopt;
                       return value;
                     },
                     value_serde_);
  }
  KTable FilterNot(std::function<bool(const K&, const V&)> predicate) const {
    return Filter([predicate](const K& key, const V& value) { return !predicate(key, value); });
  }
  // Each row's value through `mapper(value)` or `mapper(key, value)`.
  template <typename F>
  auto MapValues(F mapper) const {
    if constexpr (std::is_invocable_v<F, const K&, const V&>) {
      using VR = std::invoke_result_t<F, const K&, const V&>;
      return Derive<VR>(
          "KTABLE-MAPVALUES",
          [mapper](const K& key, const V& value) { return std::optional<VR>(mapper(key, value)); },
          dsl::CarrySerde<VR>(value_serde_));
    } else {
      using VR = std::invoke_result_t<F, const V&>;
      return Derive<VR>(
          "KTABLE-MAPVALUES",
          [mapper](const K&, const V& value) { return std::optional<VR>(mapper(value)); },
          dsl::CarrySerde<VR>(value_serde_));
    }
  }

 private:
  template <typename K2, typename V2>
  friend class KStream;
  template <typename K2, typename V2>
  friend class KTable;

  template <typename VR>
  KTable<K, VR> Derive(absl::string_view prefix,
                       std::function<std::optional<VR>(const K&, const V&)> function,
                       SerdePtr<VR> value_serde) const {
    const std::string node = state_->NewName(prefix);
    state_->topology.AddProcessor<K, Change<V>, K, Change<VR>>(
        node,
        [function] { return std::make_unique<dsl::TableDeriveProcessor<K, V, VR>>(function); },
        {node_});
    dsl::ValueGetterSupplier<K, VR> getter;
    if (getter_) {
      getter = [parent = getter_, function](const dsl::StoreFinder& find) {
        return [get = parent(find), function](const K& key) {
          std::optional<dsl::Timestamped<VR>> derived;
          if (std::optional<dsl::Timestamped<V>> value = get(key)) {
            if (std::optional<VR> mapped = function(key, value->value)) {
              derived = dsl::Timestamped<VR>{*std::move(mapped), value->timestamp};
            }
          }
          return derived;
        };
      };
    }
    return KTable<K, VR>(state_, node, "", key_serde_, std::move(value_serde), std::move(getter),
                         getter_stores_);
  }

  std::shared_ptr<dsl::BuilderState> state_;
  std::string node_;
  std::string store_;
  SerdePtr<K> key_serde_;
  SerdePtr<V> value_serde_;
  dsl::ValueGetterSupplier<K, V> getter_;
  std::vector<std::string> getter_stores_;
};

namespace dsl {

// Adds the processor `node` under `parent` that keeps a stream of KIn, VIn as a table in the
// key-value store `store` (TableSourceProcessor), and returns the table.
template <typename KIn, typename VIn>
KTable<Unwrapped<KIn>, Unwrapped<VIn>> AddTableSource(
    const std::shared_ptr<BuilderState>& state, const std::string& node,
    const std::string& parent, const std::string& store, SerdePtr<Unwrapped<KIn>> key_serde,
    SerdePtr<Unwrapped<VIn>> value_serde) {
  using K = Unwrapped<KIn>;
  using V = Unwrapped<VIn>;
  if (key_serde == nullptr || value_serde == nullptr) {
    state->Fail(absl::StrCat("the table in store '", store, "' needs key and value serdes: pass ",
                             "them to Materialized (value) or Grouped/Repartitioned (key)"));
    return KTable<K, V>(state, node, store, nullptr, nullptr);
  }
  state->topology.AddProcessor<KIn, VIn, K, Change<V>>(
      node,
      [=] {
        return std::make_unique<TableSourceProcessor<KIn, VIn>>(store, key_serde, value_serde);
      },
      {parent});
  state->topology.AddKeyValueStore(KeyValueStoreOptions{.name = store}, {node});
  return KTable<K, V>(state, node, store, key_serde, value_serde,
                      StoreGetter<K, V>(store, key_serde, value_serde), {store});
}

}  // namespace dsl
}  // namespace weir

#endif  // WEIR_ENGINE_DSL_KTABLE_H_
