// The DSL's streams and tables (Kafka Streams' KStream, KGroupedStream, TimeWindowedKStream and
// KTable), built with a StreamsBuilder (engine/dsl/streams_builder.h).
//
//   StreamsBuilder builder;
//   builder.Stream<std::string, std::string>("words", serdes::String(), serdes::String())
//       .Filter([](const std::string& key, const std::string& word) { return !word.empty(); })
//       .GroupByKey()
//       .WindowedBy(TimeWindows::OfSizeAndGrace(60'000, 30'000))
//       .Count(Materialized<int64_t>::As("counts-1m"))
//       .ToStream()
//       .To("word-counts", Produced<Windowed<std::string>, int64_t>::With(
//               std::make_shared<TimeWindowedSerde<std::string>>(serdes::String(), 60'000),
//               serdes::Int64()));
//   absl::StatusOr<Topology> topology = builder.Build();
//
// Every operation adds a processor named like Kafka Streams' (KSTREAM-FILTER-0000000001).
// Operations that may change the key (Map, FlatMap, SelectKey, GroupBy) mark the stream for
// repartitioning: a later aggregation first writes it to the internal topic
// `<application.id>-<store>-repartition` and reads it back in a new sub-topology, so records of
// one key meet in one task. Serdes follow the stream where the types allow; where a repartition
// needs serdes the stream no longer knows, pass them with Grouped::With, or Build() fails naming
// the store.
//
// Handles are cheap values that share the builder's state; use them on the building thread only.
#ifndef WEIR_ENGINE_DSL_KSTREAM_H_
#define WEIR_ENGINE_DSL_KSTREAM_H_

#include <cstdint>
#include <functional>
#include <map>
#include <memory>
#include <optional>
#include <string>
#include <type_traits>
#include <utility>
#include <vector>

#include "absl/strings/str_cat.h"
#include "absl/strings/str_format.h"
#include "engine/dsl/dsl_processors.h"
#include "engine/dsl/windows.h"
#include "engine/processor/topology.h"

namespace weir {

namespace dsl {

// What every DSL handle of one builder shares.
struct BuilderState {
  Topology topology;
  absl::Status error;  // the first DSL mistake the topology itself cannot see
  int next_index = 0;
  void Fail(std::string message) {
    if (error.ok()) error = absl::InvalidArgumentError(std::move(message));
  }
  // Kafka Streams' generated names: PREFIX-0000000007.
  std::string NewName(absl::string_view prefix) {
    return absl::StrFormat("%s-%010d", prefix, next_index++);
  }
};

// Serde of T when the stream's old serde can stand for it (same type), else null.
template <typename T, typename U>
SerdePtr<T> CarrySerde(const SerdePtr<U>& serde) {
  if constexpr (std::is_same_v<T, U>) {
    return serde;
  } else {
    return nullptr;
  }
}

}  // namespace dsl

// Serdes for a sink.
template <typename K, typename V>
struct Produced {
  SerdePtr<K> key_serde;
  SerdePtr<V> value_serde;
  static Produced With(SerdePtr<K> key, SerdePtr<V> value) { return {key, value}; }
};

// Serdes (and a name) for grouping, used when the grouping repartitions.
template <typename K, typename V>
struct Grouped {
  SerdePtr<K> key_serde;
  SerdePtr<V> value_serde;
  static Grouped With(SerdePtr<K> key, SerdePtr<V> value) { return {key, value}; }
};

// The store behind an aggregation: its name and the aggregate's serde (Kafka Streams'
// Materialized). Retention defaults to window size + grace.
template <typename VA>
struct Materialized {
  std::string store_name;
  SerdePtr<VA> value_serde;
  int64_t retention_ms = 0;
  static Materialized As(std::string name) { return {std::move(name), nullptr, 0}; }
  Materialized WithValueSerde(SerdePtr<VA> serde) const {
    Materialized copy = *this;
    copy.value_serde = std::move(serde);
    return copy;
  }
  Materialized WithRetention(int64_t retention) const {
    Materialized copy = *this;
    copy.retention_ms = retention;
    return copy;
  }
};

template <typename K, typename V>
class KStream;

// A table of windowed aggregates; ToStream() turns its updates back into a stream.
template <typename K, typename V>
class KTable {
 public:
  KTable(std::shared_ptr<dsl::BuilderState> state, std::string node, std::string store,
         SerdePtr<K> key_serde, SerdePtr<V> value_serde)
      : state_(std::move(state)),
        node_(std::move(node)),
        store_(std::move(store)),
        key_serde_(std::move(key_serde)),
        value_serde_(std::move(value_serde)) {}

  const std::string& store_name() const { return store_; }

  // Every update of the table as a record.
  KStream<K, V> ToStream() const;

 private:
  std::shared_ptr<dsl::BuilderState> state_;
  std::string node_;
  std::string store_;
  SerdePtr<K> key_serde_;
  SerdePtr<V> value_serde_;
};

// A grouped stream in time windows: aggregate per key and window.
template <typename K, typename V>
class TimeWindowedKStream {
 public:
  TimeWindowedKStream(std::function<std::string(const std::string& store)> prepare,
                      std::shared_ptr<dsl::BuilderState> state, SerdePtr<K> key_serde,
                      SerdePtr<V> value_serde, TimeWindows windows)
      : prepare_(std::move(prepare)),
        state_(std::move(state)),
        key_serde_(std::move(key_serde)),
        value_serde_(std::move(value_serde)),
        windows_(windows) {}

  // Folds each window's records into an aggregate: `initializer()` for a new window, then
  // `aggregator(key, value, aggregate)` per record.
  template <typename VA>
  KTable<Windowed<K>, VA> Aggregate(std::function<VA()> initializer,
                                    std::function<VA(const K&, const V&, VA)> aggregator,
                                    Materialized<VA> materialized) const {
    return Build<VA>(
        "KSTREAM-AGGREGATE",
        [initializer, aggregator](const K& key, const V& value, std::optional<VA> current) {
          return aggregator(key, value, current.has_value() ? *std::move(current) : initializer());
        },
        std::move(materialized));
  }
  // The same with a `merger` of two aggregates (as Kafka Streams' session windows take): the
  // store keeps per key one value holding the aggregates of its slices - spans of the windows'
  // advance (gcd of size and advance) - and a window's aggregate is the merger's fold of the
  // slices it covers, from initializer(). A record then reads and writes one value per key, not
  // one per window containing it (size / advance of them when hopping). The results equal the
  // form above when merger(a, b) is what aggregating b's records into a gives (initializer() its
  // identity): sums, counts, maxima, sets. Updates are forwarded at once, whether or not the
  // record cache is on. The store is a key-value store; docs/engine.md has its layout.
  template <typename VA>
  KTable<Windowed<K>, VA> Aggregate(std::function<VA()> initializer,
                                    std::function<VA(const K&, const V&, VA)> aggregator,
                                    std::function<VA(const K&, VA, VA)> merger,
                                    Materialized<VA> materialized) const {
    const Names names = Name<VA>("KSTREAM-AGGREGATE", materialized);
    if (!names.ok) return {state_, names.node, names.store, nullptr, nullptr};
    const int64_t retention =
        std::max(materialized.retention_ms, windows_.size_ms + windows_.grace_ms);
    const TimeWindows windows = windows_;
    const SerdePtr<K> key_serde = key_serde_;
    const SerdePtr<VA> value_serde = materialized.value_serde;
    const std::string store = names.store;
    state_->topology.AddProcessor<K, V, Windowed<K>, VA>(
        names.node,
        [=] {
          return std::make_unique<dsl::SlicedWindowAggregateProcessor<K, V, VA>>(
              windows, retention, store, key_serde, value_serde, initializer, aggregator, merger);
        },
        {names.parent});
    state_->topology.AddKeyValueStore(
        KeyValueStoreOptions{.name = store, .retention_ms = retention}, {names.node});
    return {state_, names.node, store,
            std::make_shared<TimeWindowedSerde<K>>(key_serde_, windows_.size_ms), value_serde};
  }
  // Counts records per key and window.
  KTable<Windowed<K>, int64_t> Count(Materialized<int64_t> materialized) const {
    if (materialized.value_serde == nullptr) materialized.value_serde = serdes::Int64();
    return Build<int64_t>(
        "KSTREAM-AGGREGATE",
        [](const K&, const V&, std::optional<int64_t> count) { return count.value_or(0) + 1; },
        std::move(materialized));
  }
  // Combines values per key and window; the first value of a window is its start.
  KTable<Windowed<K>, V> Reduce(std::function<V(const V& aggregate, const V& value)> reducer,
                                Materialized<V> materialized) const {
    if (materialized.value_serde == nullptr) materialized.value_serde = value_serde_;
    return Build<V>(
        "KSTREAM-REDUCE",
        [reducer](const K&, const V& value, std::optional<V> current) {
          return current.has_value() ? reducer(*current, value) : value;
        },
        std::move(materialized));
  }

 private:
  template <typename VA>
  KTable<Windowed<K>, VA> Build(
      absl::string_view prefix,
      typename dsl::WindowedAggregateProcessor<K, V, VA>::Combine combine,
      Materialized<VA> materialized) const {
    const Names names = Name<VA>(prefix, materialized);
    if (!names.ok) return {state_, names.node, names.store, nullptr, nullptr};
    const int64_t retention = materialized.retention_ms > 0 ? materialized.retention_ms
                                                            : windows_.size_ms + windows_.grace_ms;
    const TimeWindows windows = windows_;
    const SerdePtr<K> key_serde = key_serde_;
    const SerdePtr<VA> value_serde = materialized.value_serde;
    const std::string store = names.store;
    state_->topology.AddProcessor<K, V, Windowed<K>, VA>(
        names.node,
        [=] {
          return std::make_unique<dsl::WindowedAggregateProcessor<K, V, VA>>(
              windows, store, key_serde, value_serde, combine);
        },
        {names.parent});
    state_->topology.AddWindowStore(
        {.name = store, .retention_ms = retention, .window_size_ms = windows_.size_ms},
        {names.node});
    return {state_, names.node, store,
            std::make_shared<TimeWindowedSerde<K>>(key_serde_, windows_.size_ms), value_serde};
  }

  struct Names {
    std::string node;
    std::string store;
    std::string parent;
    bool ok = true;  // false: the serdes are missing and the builder failed
  };
  // Names the aggregation's node and store and prepares its parent (repartitioning first when
  // needed); fails the builder without the serdes it needs.
  template <typename VA>
  Names Name(absl::string_view prefix, const Materialized<VA>& materialized) const {
    Names names{.node = state_->NewName(prefix), .store = materialized.store_name};
    if (names.store.empty()) names.store = state_->NewName(absl::StrCat(prefix, "-STATE-STORE"));
    names.parent = prepare_(names.store);
    if (key_serde_ == nullptr || materialized.value_serde == nullptr) {
      state_->Fail(absl::StrCat("aggregation into store '", names.store, "' needs ",
                                key_serde_ == nullptr ? "a key serde (Grouped::With)"
                                                      : "a value serde (Materialized::"
                                                        "WithValueSerde)"));
      names.ok = false;
    }
    return names;
  }

  std::function<std::string(const std::string&)> prepare_;
  std::shared_ptr<dsl::BuilderState> state_;
  SerdePtr<K> key_serde_;
  SerdePtr<V> value_serde_;
  TimeWindows windows_;
};

// A stream grouped by key, ready for windowing and aggregation.
template <typename K, typename V>
class KGroupedStream {
 public:
  // `stream`: the stream grouped, with the serdes the grouping uses.
  explicit KGroupedStream(KStream<K, V> stream) : stream_(std::move(stream)) {}

  TimeWindowedKStream<K, V> WindowedBy(TimeWindows windows) const {
    // Called with the store name when the aggregation is built: returns the node the
    // aggregation reads from, after adding the repartition sink and source if needed.
    auto prepare = [stream = stream_](const std::string& store) {
      const std::shared_ptr<dsl::BuilderState>& state = stream.state_;
      if (!stream.repartition_) return stream.node_;
      const std::string topic = absl::StrCat(store, "-repartition");
      if (stream.key_serde_ == nullptr || stream.value_serde_ == nullptr) {
        state->Fail(absl::StrCat("the repartition before store '", store,
                                 "' needs key and value serdes: the key changed, so pass "
                                 "Grouped::With(key_serde, value_serde) to GroupByKey/GroupBy"));
        return stream.node_;
      }
      const std::string sink = state->NewName("KSTREAM-SINK");
      const std::string source = state->NewName("KSTREAM-SOURCE");
      state->topology.AddSink<K, V>(sink, topic, stream.key_serde_, stream.value_serde_,
                                    {stream.node_}, /*internal_topic=*/true);
      state->topology.AddSource<K, V>(source, {topic}, stream.key_serde_, stream.value_serde_,
                                      {}, /*internal_topics=*/true);
      return source;
    };
    return TimeWindowedKStream<K, V>(prepare, stream_.state_, stream_.key_serde_,
                                     stream_.value_serde_, windows);
  }

 private:
  KStream<K, V> stream_;
};

template <typename K, typename V>
class KStream {
 public:
  KStream(std::shared_ptr<dsl::BuilderState> state, std::string node, bool repartition,
          SerdePtr<K> key_serde, SerdePtr<V> value_serde)
      : state_(std::move(state)),
        node_(std::move(node)),
        repartition_(repartition),
        key_serde_(std::move(key_serde)),
        value_serde_(std::move(value_serde)) {}

  // The node this stream's records leave from (for Processor API wiring and tests).
  const std::string& node_name() const { return node_; }

  // Records for which `predicate(key, value)` holds.
  KStream Filter(std::function<bool(const K&, const V&)> predicate) const {
    return AddFilter("KSTREAM-FILTER",
                     [predicate](const Record<K, V>& r) { return predicate(r.key, r.value); });
  }
  KStream FilterNot(std::function<bool(const K&, const V&)> predicate) const {
    return AddFilter("KSTREAM-FILTER",
                     [predicate](const Record<K, V>& r) { return !predicate(r.key, r.value); });
  }
  // Calls `action(key, value)` for each record and passes it on unchanged.
  KStream Peek(std::function<void(const K&, const V&)> action) const {
    return AddFilter("KSTREAM-PEEK", [action](const Record<K, V>& r) {
      action(r.key, r.value);
      return true;
    });
  }

  // New key and value: `mapper(key, value)` returns std::pair<KR, VR>. Marks for repartition.
  template <typename F, typename Out = std::invoke_result_t<F, const K&, const V&>>
  KStream<typename Out::first_type, typename Out::second_type> Map(F mapper) const {
    using KR = typename Out::first_type;
    using VR = typename Out::second_type;
    return AddFlatMap<KR, VR>("KSTREAM-MAP", true,
                              [mapper](const Record<K, V>& r, std::vector<std::pair<KR, VR>>& out) {
                                out.push_back(mapper(r.key, r.value));
                              });
  }
  // New value from `mapper(value)` or `mapper(key, value)`; the key is kept.
  template <typename F>
  auto MapValues(F mapper) const {
    if constexpr (std::is_invocable_v<F, const K&, const V&>) {
      using VR = std::invoke_result_t<F, const K&, const V&>;
      return AddFlatMap<K, VR>("KSTREAM-MAPVALUES", false,
                               [mapper](const Record<K, V>& r, std::vector<std::pair<K, VR>>& out) {
                                 out.emplace_back(r.key, mapper(r.key, r.value));
                               });
    } else {
      using VR = std::invoke_result_t<F, const V&>;
      return AddFlatMap<K, VR>("KSTREAM-MAPVALUES", false,
                               [mapper](const Record<K, V>& r, std::vector<std::pair<K, VR>>& out) {
                                 out.emplace_back(r.key, mapper(r.value));
                               });
    }
  }
  // Zero or more records per record: `mapper(key, value)` returns a vector of pairs. Marks for
  // repartition.
  template <typename F, typename Out = std::invoke_result_t<F, const K&, const V&>>
  KStream<typename Out::value_type::first_type, typename Out::value_type::second_type> FlatMap(
      F mapper) const {
    using KR = typename Out::value_type::first_type;
    using VR = typename Out::value_type::second_type;
    return AddFlatMap<KR, VR>("KSTREAM-FLATMAP", true,
                              [mapper](const Record<K, V>& r, std::vector<std::pair<KR, VR>>& out) {
                                for (auto& kv : mapper(r.key, r.value))
                                  out.push_back(std::move(kv));
                              });
  }
  // A new key from `selector(key, value)`; the value is kept. Marks for repartition.
  template <typename F, typename KR = std::invoke_result_t<F, const K&, const V&>>
  KStream<KR, V> SelectKey(F selector) const {
    return AddFlatMap<KR, V>("KSTREAM-KEY-SELECT", true,
                             [selector](const Record<K, V>& r, std::vector<std::pair<KR, V>>& out) {
                               out.emplace_back(selector(r.key, r.value), r.value);
                             });
  }

  // Splits the stream: each record goes to the first branch whose predicate holds; records no
  // predicate takes go to the default branch if there is one, else nowhere. Returns the branches
  // by name, in Kafka Streams' naming: `<prefix><name>`.
  class BranchedKStream {
   public:
    BranchedKStream& Branch(std::string name, std::function<bool(const K&, const V&)> predicate) {
      branches_.push_back({std::move(name), std::move(predicate)});
      return *this;
    }
    std::map<std::string, KStream> DefaultBranch(std::string name = "0") {
      branches_.push_back({std::move(name), nullptr});
      return NoDefaultBranch();
    }
    std::map<std::string, KStream> NoDefaultBranch() const {
      const std::string splitter = parent_.state_->NewName("KSTREAM-BRANCH");
      std::vector<typename dsl::BranchProcessor<K, V>::Branch> branches;
      for (const auto& [name, predicate] : branches_) {
        branches.push_back({prefix_ + name, predicate});
      }
      Topology& topology = parent_.state_->topology;
      topology.AddProcessor<K, V, K, V>(
          splitter,
          [branches] { return std::make_unique<dsl::BranchProcessor<K, V>>(branches); },
          {parent_.node_});
      std::map<std::string, KStream> streams;
      for (const auto& [name, predicate] : branches_) {
        const std::string node = prefix_ + name;
        topology.AddProcessor<K, V, K, V>(node, PassThrough(), {splitter});
        streams.emplace(node, parent_.WithNode(node));
      }
      return streams;
    }

   private:
    friend class KStream;
    BranchedKStream(KStream parent, std::string prefix)
        : parent_(std::move(parent)), prefix_(std::move(prefix)) {}
    KStream parent_;
    std::string prefix_;
    std::vector<std::pair<std::string, std::function<bool(const K&, const V&)>>> branches_;
  };
  BranchedKStream Split(std::string prefix = "") const {
    if (prefix.empty()) prefix = state_->NewName("KSTREAM-SPLIT") + "-";
    return BranchedKStream(*this, std::move(prefix));
  }

  // This stream and `other` as one.
  KStream Merge(const KStream& other) const {
    const std::string node = state_->NewName("KSTREAM-MERGE");
    state_->topology.AddProcessor<K, V, K, V>(node, PassThrough(), {node_, other.node_});
    KStream merged = WithNode(node);
    merged.repartition_ = repartition_ || other.repartition_;
    return merged;
  }

  // Runs a custom processor (Processor API) on the stream; `stores` connects existing stores.
  template <typename KOut, typename VOut>
  KStream<KOut, VOut> Process(ProcessorSupplier<K, V, KOut, VOut> supplier,
                              std::vector<std::string> stores = {}, std::string name = "") const {
    if (name.empty()) name = state_->NewName("KSTREAM-PROCESSOR");
    state_->topology.AddProcessor<K, V, KOut, VOut>(name, std::move(supplier), {node_});
    for (const std::string& store : stores) state_->topology.ConnectStore(store, {name});
    return KStream<KOut, VOut>(state_, name, true, dsl::CarrySerde<KOut>(key_serde_),
                               dsl::CarrySerde<VOut>(value_serde_));
  }

  // Writes the stream to `topic` with the stream's serdes (or `produced`'s).
  void To(std::string topic, Produced<K, V> produced = {}) const {
    const SerdePtr<K> key = produced.key_serde != nullptr ? produced.key_serde : key_serde_;
    const SerdePtr<V> value = produced.value_serde != nullptr ? produced.value_serde : value_serde_;
    const std::string node = state_->NewName("KSTREAM-SINK");
    if (key == nullptr || value == nullptr) {
      state_->Fail(absl::StrCat("the sink to topic '", topic,
                                "' needs key and value serdes: pass Produced::With"));
      return;
    }
    state_->topology.AddSink<K, V>(node, std::move(topic), key, value, {node_});
  }

  KGroupedStream<K, V> GroupByKey(Grouped<K, V> grouped = {}) const {
    KStream stream = *this;
    if (grouped.key_serde != nullptr) stream.key_serde_ = grouped.key_serde;
    if (grouped.value_serde != nullptr) stream.value_serde_ = grouped.value_serde;
    return KGroupedStream<K, V>(std::move(stream));
  }
  // Groups by a new key `selector(key, value)`: SelectKey, then GroupByKey.
  template <typename F, typename KR = std::invoke_result_t<F, const K&, const V&>>
  KGroupedStream<KR, V> GroupBy(F selector, Grouped<KR, V> grouped = {}) const {
    return SelectKey(std::move(selector)).GroupByKey(std::move(grouped));
  }

 private:
  template <typename K2, typename V2>
  friend class KStream;
  template <typename K2, typename V2>
  friend class KTable;
  template <typename K2, typename V2>
  friend class KGroupedStream;
  friend class StreamsBuilder;

  static ProcessorSupplier<K, V, K, V> PassThrough() {
    return [] {
      return std::make_unique<dsl::FilterProcessor<K, V>>(
          [](const Record<K, V>&) { return true; });
    };
  }
  KStream WithNode(std::string node) const {
    return KStream(state_, std::move(node), repartition_, key_serde_, value_serde_);
  }
  KStream AddFilter(absl::string_view prefix, std::function<bool(const Record<K, V>&)> keep) const {
    const std::string node = state_->NewName(prefix);
    state_->topology.AddProcessor<K, V, K, V>(
        node, [keep] { return std::make_unique<dsl::FilterProcessor<K, V>>(keep); }, {node_});
    return WithNode(node);
  }
  template <typename KR, typename VR>
  KStream<KR, VR> AddFlatMap(
      absl::string_view prefix, bool changes_key,
      typename dsl::FlatMapProcessor<K, V, KR, VR>::Function function) const {
    const std::string node = state_->NewName(prefix);
    state_->topology.AddProcessor<K, V, KR, VR>(
        node,
        [function] { return std::make_unique<dsl::FlatMapProcessor<K, V, KR, VR>>(function); },
        {node_});
    return KStream<KR, VR>(state_, node, repartition_ || changes_key,
                           changes_key ? nullptr : dsl::CarrySerde<KR>(key_serde_),
                           dsl::CarrySerde<VR>(value_serde_));
  }

  std::shared_ptr<dsl::BuilderState> state_;
  std::string node_;
  bool repartition_;
  SerdePtr<K> key_serde_;
  SerdePtr<V> value_serde_;
};

template <typename K, typename V>
KStream<K, V> KTable<K, V>::ToStream() const {
  const std::string node = state_->NewName("KTABLE-TOSTREAM");
  state_->topology.AddProcessor<K, V, K, V>(node, KStream<K, V>::PassThrough(), {node_});
  return KStream<K, V>(state_, node, false, key_serde_, value_serde_);
}

}  // namespace weir

#endif  // WEIR_ENGINE_DSL_KSTREAM_H_
