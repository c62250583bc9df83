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
#include "engine/dsl/dsl_processors.h"
#include "engine/dsl/session_store_view.h"
#include "engine/dsl/table_processors.h"
#include "engine/processor/topology.h"

namespace weir {

template <typename K, typename V>
class KStream;
template <typename K, typename V>
class KGroupedTable;
template <typename K, typename V>
class GlobalKTable;

template <typename K, typename V>
class KTable {
 public:
  // `getter` reads the table's value of a key for joins (empty: the table cannot be joined),
  // from `getter_stores`. `send_old` are the flags that make the table's processor and those of
  // the tables it derives from forward old values (EnableSendingOldValues).
  KTable(std::shared_ptr<dsl::BuilderState> state, std::string node, std::string store,
         SerdePtr<K> key_serde, SerdePtr<V> value_serde,
         dsl::ValueGetterSupplier<K, V> getter = {}, std::vector<std::string> getter_stores = {},
         std::vector<std::shared_ptr<bool>> send_old = {})
      : state_(std::move(state)),
        node_(std::move(node)),
        store_(std::move(store)),
        key_serde_(std::move(key_serde)),
        value_serde_(std::move(value_serde)),
        getter_(std::move(getter)),
        getter_stores_(std::move(getter_stores)),
        send_old_(std::move(send_old)) {}

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

  // Joins of two tables on their keys (Kafka Streams' KTable#join, leftJoin, outerJoin): an
  // update of either side looks up the other side's row and updates the joined row, with the
  // larger of the two timestamps. Join: `joiner(value, other_value)` for keys both tables hold;
  // a row leaving either side deletes the joined one. LeftJoin: every row of this table,
  // `joiner(value, other_value)` with other_value a std::optional<VO>. OuterJoin: rows of
  // either, `joiner(value, other_value)` with both std::optional. The tables must be
  // co-partitioned; the joined table is read through both (no store of its own).
  template <typename VO, typename F, typename VR = std::invoke_result_t<F, const V&, const VO&>>
  KTable<K, VR> Join(const KTable<K, VO>& other, F joiner) const {
    return AddJoin<VO, VR>(
        other, dsl::TableJoinSide::kInner, dsl::TableJoinSide::kInner,
        [joiner](const std::optional<V>& value, const std::optional<VO>& other_value) {
          return joiner(*value, *other_value);
        });
  }
  template <typename VO, typename F,
            typename VR = std::invoke_result_t<F, const V&, const std::optional<VO>&>>
  KTable<K, VR> LeftJoin(const KTable<K, VO>& other, F joiner) const {
    EnableSendingOldValues();
    return AddJoin<VO, VR>(
        other, dsl::TableJoinSide::kLeft, dsl::TableJoinSide::kRight,
        [joiner](const std::optional<V>& value, const std::optional<VO>& other_value) {
          return joiner(*value, other_value);
        });
  }
  template <typename VO, typename F,
            typename VR =
                std::invoke_result_t<F, const std::optional<V>&, const std::optional<VO>&>>
  KTable<K, VR> OuterJoin(const KTable<K, VO>& other, F joiner) const {
    EnableSendingOldValues();
    other.EnableSendingOldValues();
    return AddJoin<VO, VR>(other, dsl::TableJoinSide::kOuter, dsl::TableJoinSide::kOuter,
                           joiner);
  }

  // Groups the table's rows by a new key for aggregation: `selector(key, value)` returns a
  // std::pair of the new key and value (either may be a std::optional; a null one leaves the
  // row out). Always repartitions, through `<store>-repartition`; pass Grouped::With the new
  // key's and value's serdes when they are not this table's.
  template <typename F, typename Out = std::invoke_result_t<F, const K&, const V&>>
  KGroupedTable<Unwrapped<typename Out::first_type>, Unwrapped<typename Out::second_type>> GroupBy(
      F selector, Grouped<Unwrapped<typename Out::first_type>,
                          Unwrapped<typename Out::second_type>> grouped = {}) const {
    using KR = typename Out::first_type;
    using VR = typename Out::second_type;
    EnableSendingOldValues();
    const std::string node = state_->NewName("KTABLE-SELECT");
    state_->topology.AddProcessor<K, Change<V>, Unwrapped<KR>, Change<Unwrapped<VR>>>(
        node,
        [selector] {
          return std::make_unique<dsl::TableGroupByProcessor<K, V, KR, VR>>(selector);
        },
        {node_});
    if (grouped.key_serde == nullptr) grouped.key_serde = dsl::CarrySerde<Unwrapped<KR>>(key_serde_);
    if (grouped.value_serde == nullptr) {
      grouped.value_serde = dsl::CarrySerde<Unwrapped<VR>>(value_serde_);
    }
    return KGroupedTable<Unwrapped<KR>, Unwrapped<VR>>(state_, node, grouped.key_serde,
                                                       grouped.value_serde);
  }

  // The table's updates held back (Kafka Streams' KTable#suppress; engine/dsl/table_processors.h,
  // SuppressProcessor): UntilWindowCloses gives one final result per window of a windowed
  // aggregation, once its grace has passed; UntilTimeLimit a key's latest update, a time after
  // its first. The buffer is a key-value store with a changelog. The suppressed table cannot be
  // joined.
  KTable Suppress(Suppressed suppressed) const {
    const std::string node = state_->NewName("KTABLE-SUPPRESS");
    const std::string store = state_->NewName("KTABLE-SUPPRESS-STATE-STORE");
    typename dsl::SuppressProcessor<K, V>::Options options{
        .hold_ms = suppressed.time_limit_ms,
        .max_records = suppressed.buffer.max_records,
        .max_bytes = suppressed.buffer.max_bytes,
        .shut_down_when_full = suppressed.buffer.shut_down_when_full};
    if (suppressed.until_window_closes) {
      if (!grace_ms_.has_value()) {
        state_->Fail(absl::StrCat("Suppressed::UntilWindowCloses at ", node, " needs a table of ",
                                  "windowed aggregates; ", node_, " is not one"));
      }
      if (!suppressed.buffer.shut_down_when_full) {
        state_->Fail(absl::StrCat("Suppressed::UntilWindowCloses at ", node, " must not emit ",
                                  "early: pass BufferConfig::Unbounded() or ShutDownWhenFull()"));
      }
      options.window_end_time = true;
      options.hold_ms = grace_ms_.value_or(0);
      options.drop_tombstones = true;
    }
    if (key_serde_ == nullptr || value_serde_ == nullptr) {
      state_->Fail(absl::StrCat("the suppression ", node, " needs the table's key and value "
                                "serdes for its buffer: materialize the table with them"));
      return *this;
    }
    state_->topology.AddProcessor<K, Change<V>, K, Change<V>>(
        node,
        [options, store, key_serde = key_serde_, value_serde = value_serde_] {
          return std::make_unique<dsl::SuppressProcessor<K, V>>(options, store, key_serde,
                                                               value_serde);
        },
        {node_});
    state_->topology.AddKeyValueStore(KeyValueStoreOptions{.name = store}, {node});
    return KTable(state_, node, "", key_serde_, value_serde_, {}, {}, send_old_);
  }

  // Makes the table's store readable over the HTTP listener (docs/queries.md) as view `view`
  // (the store's name when empty): a table of keys at POST /state/<view>/key, a windowed one
  // (time, sliding or session windows) at POST /state/<view>/windows. A table without a store
  // of its own (Filter, MapValues, a join, Suppress) fails the builder.
  KTable Queryable(std::string view = "") const {
    const Topology::StoreSpec* spec = nullptr;
    for (const Topology::StoreSpec& candidate : state_->topology.stores()) {
      if (!store_.empty() && candidate.name == store_) spec = &candidate;
    }
    if (spec == nullptr || key_serde_ == nullptr || value_serde_ == nullptr) {
      state_->Fail(absl::StrCat("table ", node_, " cannot be queried: it has no store of its own ",
                                "with serdes (a derived, joined or suppressed table is read ",
                                "through its parents; query the table it comes from)"));
      return *this;
    }
    if (view.empty()) view = store_;
    if constexpr (IsWindowed<K>::value) {
      using KU = decltype(std::declval<K>().key);
      if (spec->kind == Topology::StoreKind::kWindow) {
        const auto windowed = std::dynamic_pointer_cast<const TimeWindowedSerde<KU>>(key_serde_);
        WEIR_CHECK(windowed != nullptr) << "window store " << store_ << " has no windowed serde";
        state_->topology.AddQueryableStore(WindowStoreView<KU, V>(
            view, store_, spec->window.window_size_ms, windowed->inner(), value_serde_));
      } else {
        const auto sessions = std::dynamic_pointer_cast<const SessionWindowedSerde<KU>>(key_serde_);
        if (sessions == nullptr) {  // the sliced windowed aggregation: one value per key
          state_->Fail(absl::StrCat("table ", node_, " cannot be queried: its windows are kept ",
                                    "in slices; aggregate without a merger to query them"));
          return *this;
        }
        state_->topology.AddQueryableStore(
            dsl::SessionStoreView<KU, V>(view, store_, sessions->inner(), value_serde_));
      }
    } else {
      state_->topology.AddQueryableStore(
          KeyValueStoreView<K, V>(view, store_, key_serde_, value_serde_));
    }
    return *this;
  }

  // The same table, known to hold windowed aggregates with `grace_ms` of grace (what
  // Suppressed::UntilWindowCloses waits for). The DSL's windowed aggregations return it so.
  KTable WithWindowGrace(int64_t grace_ms) const {
    KTable copy = *this;
    copy.grace_ms_ = grace_ms;
    return copy;
  }

  // Makes this table's processor, and those of the tables it derives from, forward each
  // update's old value (Kafka Streams' enableSendingOldValues): what a GroupBy's subtraction
  // and outer joins need.
  void EnableSendingOldValues() const {
    for (const std::shared_ptr<bool>& flag : send_old_) *flag = true;
  }

 private:
  template <typename K2, typename V2>
  friend class KStream;
  template <typename K2, typename V2>
  friend class KTable;

  template <typename VO, typename VR>
  KTable<K, VR> AddJoin(
      const KTable<K, VO>& other, dsl::TableJoinSide this_side, dsl::TableJoinSide other_side,
      std::function<VR(const std::optional<V>&, const std::optional<VO>&)> joiner) const {
    const std::string this_node = state_->NewName("KTABLE-JOINTHIS");
    const std::string other_node = state_->NewName("KTABLE-JOINOTHER");
    const std::string merge = state_->NewName("KTABLE-MERGE");
    if (!getter_ || !other.getter_) {
      state_->Fail(absl::StrCat("the join ", merge, " of tables ", node_, " and ", other.node_,
                                " needs both to be readable (not windowed aggregations)"));
      return KTable<K, VR>(state_, merge, "", key_serde_, nullptr);
    }
    auto flag = std::make_shared<bool>(false);
    const dsl::SendOldValues send_old = flag;
    auto reversed = [joiner](const std::optional<VO>& o, const std::optional<V>& v) {
      return joiner(v, o);
    };
    Topology& topology = state_->topology;
    topology.AddProcessor<K, Change<V>, K, Change<VR>>(
        this_node,
        [this_side, getter = other.getter_, joiner, send_old] {
          return std::make_unique<dsl::TableTableJoinProcessor<K, V, VO, VR>>(this_side, getter,
                                                                             joiner, send_old);
        },
        {node_});
    topology.AddProcessor<K, Change<VO>, K, Change<VR>>(
        other_node,
        [other_side, getter = getter_, reversed, send_old] {
          return std::make_unique<dsl::TableTableJoinProcessor<K, VO, V, VR>>(
              other_side, getter, reversed, send_old);
        },
        {other.node_});
    topology.AddProcessor<K, Change<VR>, K, Change<VR>>(
        merge,
        [] {
          return std::make_unique<dsl::FilterProcessor<K, Change<VR>>>(
              [](const Record<K, Change<VR>>&) { return true; });
        },
        {this_node, other_node});
    for (const std::string& store : other.getter_stores_) topology.ConnectStore(store, {this_node});
    for (const std::string& store : getter_stores_) topology.ConnectStore(store, {other_node});
    topology.CoPartition({this_node, other_node});

    // The joined table's value of a key: both sides read, joined as this side's updates are.
    dsl::ValueGetterSupplier<K, VR> getter = [this_getter = getter_, other_getter = other.getter_,
                                              this_side, joiner](const dsl::StoreFinder& find) {
      return [get = this_getter(find), get_other = other_getter(find), this_side,
              joiner](const K& key) -> std::optional<dsl::Timestamped<VR>> {
        std::optional<dsl::Timestamped<V>> value = get(key);
        std::optional<dsl::Timestamped<VO>> other_value = get_other(key);
        const bool outer = this_side == dsl::TableJoinSide::kOuter;
        if (!value.has_value() && !(outer && other_value.has_value())) return std::nullopt;
        if (!other_value.has_value() && this_side == dsl::TableJoinSide::kInner) {
          return std::nullopt;
        }
        std::optional<V> v;
        std::optional<VO> o;
        int64_t timestamp = -1;
        if (value.has_value()) {
          timestamp = value->timestamp;
          v = std::move(value->value);
        }
        if (other_value.has_value()) {
          timestamp = std::max(timestamp, other_value->timestamp);
          o = std::move(other_value->value);
        }
        return dsl::Timestamped<VR>{joiner(v, o), timestamp};
      };
    };
    std::vector<std::string> stores = getter_stores_;
    stores.insert(stores.end(), other.getter_stores_.begin(), other.getter_stores_.end());
    std::vector<std::shared_ptr<bool>> flags = {flag};
    flags.insert(flags.end(), send_old_.begin(), send_old_.end());
    flags.insert(flags.end(), other.send_old_.begin(), other.send_old_.end());
    return KTable<K, VR>(state_, merge, "", key_serde_, nullptr, std::move(getter),
                         std::move(stores), std::move(flags));
  }

  template <typename VR>
  KTable<K, VR> Derive(absl::string_view prefix,
                       std::function<std::optional<VR>(const K&, const V&)> function,
                       SerdePtr<VR> value_serde) const {
    const std::string node = state_->NewName(prefix);
    auto flag = std::make_shared<bool>(false);
    state_->topology.AddProcessor<K, Change<V>, K, Change<VR>>(
        node,
        [function, send_old = dsl::SendOldValues(flag)] {
          return std::make_unique<dsl::TableDeriveProcessor<K, V, VR>>(function, send_old);
        },
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
    std::vector<std::shared_ptr<bool>> flags = {flag};
    flags.insert(flags.end(), send_old_.begin(), send_old_.end());
    KTable<K, VR> derived(state_, node, "", key_serde_, std::move(value_serde),
                          std::move(getter), getter_stores_, std::move(flags));
    derived.grace_ms_ = grace_ms_;
    return derived;
  }

  std::shared_ptr<dsl::BuilderState> state_;
  std::string node_;
  std::string store_;
  SerdePtr<K> key_serde_;
  SerdePtr<V> value_serde_;
  dsl::ValueGetterSupplier<K, V> getter_;
  std::vector<std::string> getter_stores_;
  std::vector<std::shared_ptr<bool>> send_old_;
  std::optional<int64_t> grace_ms_;  // windowed aggregates' grace, when the table holds them
};

// A table's rows grouped by a new key (KTable::GroupBy), ready for aggregation. Every update of
// the table reaches the aggregation as the removal of its old row and the addition of its new
// one, through a repartition topic.
template <typename K, typename V>
class KGroupedTable {
 public:
  KGroupedTable(std::shared_ptr<dsl::BuilderState> state, std::string node, SerdePtr<K> key_serde,
                SerdePtr<V> value_serde)
      : state_(std::move(state)),
        node_(std::move(node)),
        key_serde_(std::move(key_serde)),
        value_serde_(std::move(value_serde)) {}

  // `adder(key, value, aggregate)` adds a row's value, `subtractor(key, value, aggregate)`
  // removes it; a key's first row is added to initializer(). An aggregate is not deleted when
  // its last row leaves (a count stays at 0), as in Kafka Streams.
  template <typename VA>
  KTable<K, VA> Aggregate(std::function<VA()> initializer,
                          std::function<VA(const K&, const V&, VA)> adder,
                          std::function<VA(const K&, const V&, VA)> subtractor,
                          Materialized<VA> materialized) const {
    return Build<VA>(
        "KTABLE-AGGREGATE",
        [initializer, adder](const K& key, const V& value, std::optional<VA> aggregate) {
          return adder(key, value, aggregate.has_value() ? *std::move(aggregate) : initializer());
        },
        [subtractor](const K& key, const V& value, std::optional<VA> aggregate) {
          return subtractor(key, value, *std::move(aggregate));
        },
        std::move(materialized));
  }
  KTable<K, int64_t> Count(Materialized<int64_t> materialized = Materialized<int64_t>{}) const {
    if (materialized.value_serde == nullptr) materialized.value_serde = serdes::Int64();
    return Aggregate<int64_t>(
        [] { return int64_t{0}; }, [](const K&, const V&, int64_t n) { return n + 1; },
        [](const K&, const V&, int64_t n) { return n - 1; }, std::move(materialized));
  }
  // `adder(aggregate, value)` and `subtractor(aggregate, value)`; a key's first value is its
  // start.
  KTable<K, V> Reduce(std::function<V(const V&, const V&)> adder,
                      std::function<V(const V&, const V&)> subtractor,
                      Materialized<V> materialized = Materialized<V>{}) const {
    if (materialized.value_serde == nullptr) materialized.value_serde = value_serde_;
    return Build<V>(
        "KTABLE-REDUCE",
        [adder](const K&, const V& value, std::optional<V> aggregate) {
          return aggregate.has_value() ? adder(*aggregate, value) : value;
        },
        [subtractor](const K&, const V& value, std::optional<V> aggregate) {
          return subtractor(*aggregate, value);
        },
        std::move(materialized));
  }

 private:
  template <typename VA>
  KTable<K, VA> Build(absl::string_view prefix,
                      typename dsl::TableAggregateProcessor<K, V, VA>::Step add,
                      typename dsl::TableAggregateProcessor<K, V, VA>::Step remove,
                      Materialized<VA> materialized) const {
    const std::string node = state_->NewName(prefix);
    std::string store = materialized.store_name;
    if (store.empty()) store = state_->NewName(absl::StrCat(prefix, "-STATE-STORE"));
    const SerdePtr<VA> aggregate_serde = materialized.value_serde;
    if (key_serde_ == nullptr || value_serde_ == nullptr || aggregate_serde == nullptr) {
      state_->Fail(absl::StrCat("the table aggregation into store '", store, "' needs ",
                                aggregate_serde == nullptr
                                    ? "a value serde (Materialized::WithValueSerde)"
                                    : "the grouped key's and value's serdes (Grouped::With)"));
      return KTable<K, VA>(state_, node, store, nullptr, nullptr);
    }
    // The repartition: every change goes to its new key's partition.
    const std::string topic = absl::StrCat(store, "-repartition");
    const std::string sink = state_->NewName("KTABLE-SINK");
    const std::string source = state_->NewName("KTABLE-SOURCE");
    const auto change_serde = std::make_shared<dsl::ChangeSerde<V>>(value_serde_);
    state_->topology.AddSink<K, Change<V>>(sink, topic, key_serde_, change_serde, {node_},
                                           /*internal_topic=*/true);
    state_->topology.AddSource<K, Change<V>>(source, {topic}, key_serde_, change_serde, {},
                                             /*internal_topics=*/true);
    auto flag = std::make_shared<bool>(false);
    const SerdePtr<K> key_serde = key_serde_;
    state_->topology.AddProcessor<K, Change<V>, K, Change<VA>>(
        node,
        [=, send_old = dsl::SendOldValues(flag)] {
          return std::make_unique<dsl::TableAggregateProcessor<K, V, VA>>(
              store, key_serde, aggregate_serde, add, remove, send_old);
        },
        {source});
    state_->topology.AddKeyValueStore(KeyValueStoreOptions{.name = store}, {node});
    return KTable<K, VA>(state_, node, store, key_serde_, aggregate_serde,
                         dsl::StoreGetter<K, VA>(store, key_serde_, aggregate_serde), {store},
                         {flag});
  }

  std::shared_ptr<dsl::BuilderState> state_;
  std::string node_;
  SerdePtr<K> key_serde_;
  SerdePtr<V> value_serde_;
};

// A table every instance holds whole (Kafka Streams' GlobalKTable): all partitions of its topic,
// kept by the instance's global stream thread (engine/runtime/internal/global_thread.h) in a
// global store and read by KStream::Join/LeftJoin with a key selector. Its store has no
// changelog: the topic is its log. Made by StreamsBuilder::GlobalTable.
template <typename K, typename V>
class GlobalKTable {
 public:
  GlobalKTable(std::string store, dsl::ValueGetterSupplier<K, V> getter)
      : store_(std::move(store)), getter_(std::move(getter)) {}
  const std::string& store_name() const { return store_; }

 private:
  template <typename K2, typename V2>
  friend class KStream;
  std::string store_;
  dsl::ValueGetterSupplier<K, V> getter_;
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
  auto flag = std::make_shared<bool>(false);
  state->topology.AddProcessor<KIn, VIn, K, Change<V>>(
      node,
      [=, send_old = SendOldValues(flag)] {
        return std::make_unique<TableSourceProcessor<KIn, VIn>>(store, key_serde, value_serde,
                                                                send_old);
      },
      {parent});
  state->topology.AddKeyValueStore(KeyValueStoreOptions{.name = store}, {node});
  return KTable<K, V>(state, node, store, key_serde, value_serde,
                      StoreGetter<K, V>(store, key_serde, value_serde), {store}, {flag});
}

}  // namespace dsl
}  // namespace weir

#endif  // WEIR_ENGINE_DSL_KTABLE_H_
