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
#include "engine/dsl/builder_state.h"
#include "engine/dsl/dsl_processors.h"
#include "engine/dsl/ktable.h"
#include "engine/dsl/sliding_window_aggregate.h"
#include "engine/dsl/stream_join_processors.h"
#include "engine/dsl/windows.h"
#include "engine/processor/fixed_key_processor.h"
#include "engine/processor/topology.h"

namespace weir {


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
    state_->topology.AddProcessor<K, V, Windowed<K>, Change<VA>>(
        names.node,
        [=] {
          return std::make_unique<dsl::SlicedWindowAggregateProcessor<K, V, VA>>(
              windows, retention, store, key_serde, value_serde, initializer, aggregator, merger);
        },
        {names.parent});
    state_->topology.AddKeyValueStore(
        KeyValueStoreOptions{.name = store, .retention_ms = retention}, {names.node});
    return KTable<Windowed<K>, VA>(
               state_, names.node, store,
               std::make_shared<TimeWindowedSerde<K>>(key_serde_, windows_.size_ms), value_serde)
        .WithWindowGrace(windows_.grace_ms);
  }
  // Counts records per key and window.
  KTable<Windowed<K>, int64_t> Count(
      Materialized<int64_t> materialized = Materialized<int64_t>{}) const {
    if (materialized.value_serde == nullptr) materialized.value_serde = serdes::Int64();
    return Build<int64_t>(
        "KSTREAM-AGGREGATE",
        [](const K&, const V&, std::optional<int64_t> count) { return count.value_or(0) + 1; },
        std::move(materialized));
  }
  // Combines values per key and window; the first value of a window is its start.
  KTable<Windowed<K>, V> Reduce(std::function<V(const V& aggregate, const V& value)> reducer,
                                Materialized<V> materialized = Materialized<V>{}) const {
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
    state_->topology.AddProcessor<K, V, Windowed<K>, Change<VA>>(
        names.node,
        [=] {
          return std::make_unique<dsl::WindowedAggregateProcessor<K, V, VA>>(
              windows, store, key_serde, value_serde, combine);
        },
        {names.parent});
    state_->topology.AddWindowStore(
        {.name = store, .retention_ms = retention, .window_size_ms = windows_.size_ms},
        {names.node});
    return KTable<Windowed<K>, VA>(
               state_, names.node, store,
               std::make_shared<TimeWindowedSerde<K>>(key_serde_, windows_.size_ms), value_serde)
        .WithWindowGrace(windows_.grace_ms);
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

// A grouped stream in session windows: aggregate per key and session. Sessions are kept in a
// key-value store with a changelog, for gap + grace (or the Materialized retention).
template <typename K, typename V>
class SessionWindowedKStream {
 public:
  using KU = Unwrapped<K>;
  SessionWindowedKStream(std::function<std::string(const std::string& store)> prepare,
                         std::shared_ptr<dsl::BuilderState> state, SerdePtr<K> key_serde,
                         SerdePtr<V> value_serde, SessionWindows windows)
      : prepare_(std::move(prepare)),
        state_(std::move(state)),
        key_serde_(UnwrappedSerde(key_serde)),
        value_serde_(std::move(value_serde)),
        windows_(windows) {}

  // `aggregator(key, value, aggregate)` folds a record into its session, from initializer();
  // `merger(key, a, b)` combines two sessions a record bridges. The value is the stream's own
  // (a std::optional stays one).
  template <typename VA>
  KTable<Windowed<KU>, VA> Aggregate(std::function<VA()> initializer,
                                     std::function<VA(const KU&, const V&, VA)> aggregator,
                                     std::function<VA(const KU&, VA, VA)> merger,
                                     Materialized<VA> materialized) const {
    return Build<VA>(
        [initializer] { return std::optional<VA>(initializer()); },
        [aggregator](const KU& key, const V& value, std::optional<VA> aggregate) {
          return aggregator(key, value, *std::move(aggregate));
        },
        [merger](const KU& key, std::optional<VA> aggregate, VA session) {
          return merger(key, *std::move(aggregate), std::move(session));
        },
        std::move(materialized));
  }
  KTable<Windowed<KU>, int64_t> Count(
      Materialized<int64_t> materialized = Materialized<int64_t>{}) const {
    if (materialized.value_serde == nullptr) materialized.value_serde = serdes::Int64();
    return Aggregate<int64_t>(
        [] { return int64_t{0}; }, [](const KU&, const V&, int64_t n) { return n + 1; },
        [](const KU&, int64_t a, int64_t b) { return a + b; }, std::move(materialized));
  }
  // Combines a session's values with `reducer(aggregate, value)`: its first value stands
  // alone, and the sessions a record bridges are combined in order with the same reducer.
  KTable<Windowed<KU>, V> Reduce(std::function<V(const V&, const V&)> reducer,
                                 Materialized<V> materialized = Materialized<V>{}) const {
    if (materialized.value_serde == nullptr) materialized.value_serde = value_serde_;
    auto fold = [reducer](const KU&, const V& value, std::optional<V> aggregate) {
      return aggregate.has_value() ? reducer(*aggregate, value) : value;
    };
    return Build<V>([] { return std::optional<V>(); }, fold,
                    [fold](const KU& key, std::optional<V> aggregate, V session) {
                      return fold(key, session, std::move(aggregate));
                    },
                    std::move(materialized));
  }

 private:
  template <typename VA>
  KTable<Windowed<KU>, VA> Build(
      typename dsl::SessionWindowAggregateProcessor<K, V, VA>::Initializer initializer,
      typename dsl::SessionWindowAggregateProcessor<K, V, VA>::Aggregator aggregator,
      typename dsl::SessionWindowAggregateProcessor<K, V, VA>::Merger merger,
      Materialized<VA> materialized) const {
    const std::string node = state_->NewName("KSTREAM-AGGREGATE");
    std::string store = materialized.store_name;
    if (store.empty()) store = state_->NewName("KSTREAM-AGGREGATE-STATE-STORE");
    const std::string parent = prepare_(store);
    const SerdePtr<VA> aggregate_serde = materialized.value_serde;
    if (key_serde_ == nullptr || aggregate_serde == nullptr) {
      state_->Fail(absl::StrCat("session aggregation into store '", store, "' needs ",
                                key_serde_ == nullptr ? "a key serde (Grouped::With)"
                                                      : "a value serde (Materialized::"
                                                        "WithValueSerde)"));
      return KTable<Windowed<KU>, VA>(state_, node, store, nullptr, nullptr);
    }
    const int64_t retention = materialized.retention_ms > 0 ? materialized.retention_ms
                                                            : windows_.gap_ms + windows_.grace_ms;
    const SessionWindows windows = windows_;
    const SerdePtr<KU> key_serde = key_serde_;
    auto flag = std::make_shared<bool>(false);
    state_->topology.AddProcessor<K, V, Windowed<KU>, Change<VA>>(
        node,
        [=, send_old = dsl::SendOldValues(flag)] {
          return std::make_unique<dsl::SessionWindowAggregateProcessor<K, V, VA>>(
              windows, retention, store, key_serde, aggregate_serde, initializer, aggregator,
              merger, send_old);
        },
        {parent});
    state_->topology.AddKeyValueStore(KeyValueStoreOptions{.name = store, .retention_ms = retention},
                                      {node});
    return KTable<Windowed<KU>, VA>(state_, node, store,
                                    std::make_shared<SessionWindowedSerde<KU>>(key_serde_),
                                    aggregate_serde, {}, {}, {flag})
        // A session stays open for the gap after its end, then the grace: Kafka Streams
        // suppresses its final result until both have passed.
        .WithWindowGrace(windows_.grace_ms + windows_.gap_ms);
  }

 private:
  std::function<std::string(const std::string&)> prepare_;
  std::shared_ptr<dsl::BuilderState> state_;
  SerdePtr<KU> key_serde_;
  SerdePtr<V> value_serde_;
  SessionWindows windows_;
};

// A grouped stream in sliding windows: aggregate per key and window (Kafka Streams'
// SlidingWindowedKStream; engine/dsl/sliding_window_aggregate.h has the windows' rules). The
// window store keeps windows for 2 x difference + grace (or the Materialized retention, which
// may not be shorter).
template <typename K, typename V>
class SlidingWindowedKStream {
 public:
  using KU = Unwrapped<K>;
  SlidingWindowedKStream(std::function<std::string(const std::string& store)> prepare,
                         std::shared_ptr<dsl::BuilderState> state, SerdePtr<K> key_serde,
                         SerdePtr<V> value_serde, SlidingWindows windows)
      : prepare_(std::move(prepare)),
        state_(std::move(state)),
        key_serde_(UnwrappedSerde(key_serde)),
        value_serde_(std::move(value_serde)),
        windows_(windows) {}

  // Folds each window's records into an aggregate: `initializer()` for a new window, then
  // `aggregator(key, value, aggregate)` per record. A record with a null key or value is
  // dropped and counted.
  template <typename VA>
  KTable<Windowed<KU>, VA> Aggregate(std::function<VA()> initializer,
                                     std::function<VA(const KU&, const V&, VA)> aggregator,
                                     Materialized<VA> materialized) const {
    return Build<VA>(
        "KSTREAM-AGGREGATE", [initializer] { return std::optional<VA>(initializer()); },
        [aggregator](const KU& key, const V& value, std::optional<VA> aggregate) {
          return aggregator(key, value, *std::move(aggregate));
        },
        std::move(materialized));
  }
  KTable<Windowed<KU>, int64_t> Count(
      Materialized<int64_t> materialized = Materialized<int64_t>{}) const {
    if (materialized.value_serde == nullptr) materialized.value_serde = serdes::Int64();
    return Aggregate<int64_t>(
        [] { return int64_t{0}; }, [](const KU&, const V&, int64_t n) { return n + 1; },
        std::move(materialized));
  }
  // Combines a window's values with `reducer(aggregate, value)`; its first value stands alone.
  KTable<Windowed<KU>, V> Reduce(std::function<V(const V&, const V&)> reducer,
                                 Materialized<V> materialized = Materialized<V>{}) const {
    if (materialized.value_serde == nullptr) materialized.value_serde = value_serde_;
    return Build<V>(
        "KSTREAM-REDUCE", [] { return std::optional<V>(); },
        [reducer](const KU&, const V& value, std::optional<V> aggregate) {
          return aggregate.has_value() ? reducer(*aggregate, value) : value;
        },
        std::move(materialized));
  }

 private:
  template <typename VA>
  KTable<Windowed<KU>, VA> Build(
      absl::string_view prefix,
      typename dsl::SlidingWindowAggregateProcessor<K, V, VA>::Initializer initializer,
      typename dsl::SlidingWindowAggregateProcessor<K, V, VA>::Aggregator aggregator,
      Materialized<VA> materialized) const {
    const std::string node = state_->NewName(prefix);
    std::string store = materialized.store_name;
    if (store.empty()) store = state_->NewName(absl::StrCat(prefix, "-STATE-STORE"));
    const std::string parent = prepare_(store);
    const SerdePtr<VA> aggregate_serde = materialized.value_serde;
    const int64_t needed = 2 * windows_.difference_ms + windows_.grace_ms;
    const int64_t retention = materialized.retention_ms > 0 ? materialized.retention_ms : needed;
    std::string error;
    if (key_serde_ == nullptr || aggregate_serde == nullptr) {
      error = key_serde_ == nullptr ? "a key serde (Grouped::With)"
                                    : "a value serde (Materialized::WithValueSerde)";
      error = absl::StrCat("sliding-window aggregation into store '", store, "' needs ", error);
    } else if (windows_.difference_ms < 0 || windows_.grace_ms < 0) {
      error = absl::StrCat("sliding windows of store '", store, "': difference (",
                           windows_.difference_ms, " ms) and grace (", windows_.grace_ms,
                           " ms) may not be negative");
    } else if (retention < needed) {
      error = absl::StrCat("retention of store '", store, "' (", retention,
                           " ms) is shorter than 2 x difference + grace (", needed,
                           " ms), which sliding windows need");
    }
    if (!error.empty()) {
      state_->Fail(error);
      return KTable<Windowed<KU>, VA>(state_, node, store, nullptr, nullptr);
    }
    const SlidingWindows windows = windows_;
    const SerdePtr<KU> key_serde = key_serde_;
    auto flag = std::make_shared<bool>(false);
    state_->topology.AddProcessor<K, V, Windowed<KU>, Change<VA>>(
        node,
        [=, send_old = dsl::SendOldValues(flag)] {
          return std::make_unique<dsl::SlidingWindowAggregateProcessor<K, V, VA>>(
              windows, store, key_serde, aggregate_serde, initializer, aggregator, send_old);
        },
        {parent});
    state_->topology.AddWindowStore(
        {.name = store, .retention_ms = retention, .window_size_ms = windows_.difference_ms},
        {node});
    return KTable<Windowed<KU>, VA>(
               state_, node, store,
               std::make_shared<TimeWindowedSerde<KU>>(key_serde_, windows_.difference_ms),
               aggregate_serde, {}, {}, {flag})
        .WithWindowGrace(windows_.grace_ms);
  }

  std::function<std::string(const std::string&)> prepare_;
  std::shared_ptr<dsl::BuilderState> state_;
  SerdePtr<KU> key_serde_;
  SerdePtr<V> value_serde_;
  SlidingWindows windows_;
};

// A stream grouped by key, ready for aggregation, in windows or not.
template <typename K, typename V>
class KGroupedStream {
 public:
  using KU = Unwrapped<K>;  // the key without its std::optional, if it has one
  using VU = Unwrapped<V>;

  // `stream`: the stream grouped, with the serdes the grouping uses.
  explicit KGroupedStream(KStream<K, V> stream) : stream_(std::move(stream)) {}

  TimeWindowedKStream<K, V> WindowedBy(TimeWindows windows) const {
    return TimeWindowedKStream<K, V>(
        [stream = stream_](const std::string& store) { return stream.RepartitionFor(store); },
        stream_.state_, stream_.key_serde_, stream_.value_serde_, windows);
  }

  SessionWindowedKStream<K, V> WindowedBy(SessionWindows windows) const {
    return SessionWindowedKStream<K, V>(
        [stream = stream_](const std::string& store) { return stream.RepartitionFor(store); },
        stream_.state_, stream_.key_serde_, stream_.value_serde_, windows);
  }

  SlidingWindowedKStream<K, V> WindowedBy(SlidingWindows windows) const {
    return SlidingWindowedKStream<K, V>(
        [stream = stream_](const std::string& store) { return stream.RepartitionFor(store); },
        stream_.state_, stream_.key_serde_, stream_.value_serde_, windows);
  }

  // Non-windowed aggregation into a table of the latest aggregate per key (Kafka Streams'
  // KGroupedStream aggregate, in a timestamped key-value store with a changelog). Records with a
  // null key or value are dropped and counted; a std::optional key or value is unwrapped, so
  // the functions see the values that are there. Each update carries the largest timestamp of
  // the key's records.
  template <typename VA>
  KTable<KU, VA> Aggregate(std::function<VA()> initializer,
                           std::function<VA(const KU&, const VU&, VA)> aggregator,
                           Materialized<VA> materialized) const {
    return Build<VA>(
        "KSTREAM-AGGREGATE",
        [initializer, aggregator](const KU& key, const VU& value, std::optional<VA> current) {
          return aggregator(key, value, current.has_value() ? *std::move(current) : initializer());
        },
        std::move(materialized));
  }
  KTable<KU, int64_t> Count(Materialized<int64_t> materialized = Materialized<int64_t>{}) const {
    if (materialized.value_serde == nullptr) materialized.value_serde = serdes::Int64();
    return Build<int64_t>(
        "KSTREAM-AGGREGATE",
        [](const KU&, const VU&, std::optional<int64_t> count) { return count.value_or(0) + 1; },
        std::move(materialized));
  }
  // Combines values per key; a key's first value is its start.
  KTable<KU, VU> Reduce(std::function<VU(const VU& aggregate, const VU& value)> reducer,
                        Materialized<VU> materialized = Materialized<VU>{}) const {
    if (materialized.value_serde == nullptr) {
      materialized.value_serde = UnwrappedSerde(stream_.value_serde_);
    }
    return Build<VU>(
        "KSTREAM-REDUCE",
        [reducer](const KU&, const VU& value, std::optional<VU> current) {
          return current.has_value() ? reducer(*current, value) : value;
        },
        std::move(materialized));
  }

 private:
  template <typename VA>
  KTable<KU, VA> Build(absl::string_view prefix,
                       typename dsl::StreamAggregateProcessor<K, V, VA>::Combine combine,
                       Materialized<VA> materialized) const {
    const std::shared_ptr<dsl::BuilderState>& state = stream_.state_;
    const std::string node = state->NewName(prefix);
    std::string store = materialized.store_name;
    if (store.empty()) store = state->NewName(absl::StrCat(prefix, "-STATE-STORE"));
    const std::string parent = stream_.RepartitionFor(store);
    const SerdePtr<KU> key_serde = UnwrappedSerde(stream_.key_serde_);
    const SerdePtr<VA> value_serde = materialized.value_serde;
    if (key_serde == nullptr || value_serde == nullptr) {
      state->Fail(absl::StrCat("aggregation into store '", store, "' needs ",
                               key_serde == nullptr ? "a key serde (Grouped::With)"
                                                    : "a value serde (Materialized::"
                                                      "WithValueSerde)"));
      return KTable<KU, VA>(state, node, store, nullptr, nullptr);
    }
    auto flag = std::make_shared<bool>(false);
    state->topology.AddProcessor<K, V, KU, Change<VA>>(
        node,
        [=, send_old = dsl::SendOldValues(flag)] {
          return std::make_unique<dsl::StreamAggregateProcessor<K, V, VA>>(
              store, key_serde, value_serde, combine, send_old);
        },
        {parent});
    state->topology.AddKeyValueStore(KeyValueStoreOptions{.name = store}, {node});
    return KTable<KU, VA>(state, node, store, key_serde, value_serde,
                          dsl::StoreGetter<KU, VA>(store, key_serde, value_serde), {store},
                          {flag});
  }

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

  // Runs a fixed-key processor (engine/processor/fixed_key_processor.h): it may change values,
  // never keys, so the stream needs no repartition after it (Kafka Streams' processValues).
  template <typename VOut>
  KStream<K, VOut> ProcessValues(FixedKeyProcessorSupplier<K, V, VOut> supplier,
                                 std::vector<std::string> stores = {},
                                 std::string name = "") const {
    if (name.empty()) name = state_->NewName("KSTREAM-PROCESSVALUES");
    state_->topology.AddProcessor<K, V, K, VOut>(
        name,
        [supplier = std::move(supplier)] {
          return std::make_unique<internal::FixedKeyProcessorAdapter<K, V, VOut>>(supplier());
        },
        {node_});
    for (const std::string& store : stores) state_->topology.ConnectStore(store, {name});
    return KStream<K, VOut>(state_, name, repartition_, key_serde_,
                            dsl::CarrySerde<VOut>(value_serde_));
  }

  // A new value from `mapper(value)` or `mapper(key, value)`, which returns a vector: one record
  // per element, each with the key kept.
  template <typename F>
  auto FlatMapValues(F mapper) const {
    if constexpr (std::is_invocable_v<F, const K&, const V&>) {
      using VR = typename std::invoke_result_t<F, const K&, const V&>::value_type;
      return AddFlatMap<K, VR>("KSTREAM-FLATMAPVALUES", false,
                               [mapper](const Record<K, V>& r, std::vector<std::pair<K, VR>>& out) {
                                 for (auto& v : mapper(r.key, r.value)) out.emplace_back(r.key, v);
                               });
    } else {
      using VR = typename std::invoke_result_t<F, const V&>::value_type;
      return AddFlatMap<K, VR>("KSTREAM-FLATMAPVALUES", false,
                               [mapper](const Record<K, V>& r, std::vector<std::pair<K, VR>>& out) {
                                 for (auto& v : mapper(r.value)) out.emplace_back(r.key, v);
                               });
    }
  }
  // Calls `action(key, value)` for each record; the stream ends here.
  void Foreach(std::function<void(const K&, const V&)> action) const {
    AddFilter("KSTREAM-FOREACH", [action](const Record<K, V>& r) {
      action(r.key, r.value);
      return false;
    });
  }

  // The stream read as a table: each record is an update of its key's row, a null value deletes
  // it, a null key is dropped and counted (Kafka Streams' toTable). Repartitions first when the
  // key changed.
  KTable<Unwrapped<K>, Unwrapped<V>> ToTable(
      Materialized<Unwrapped<V>> materialized = Materialized<Unwrapped<V>>{}) const {
    using KU = Unwrapped<K>;
    using VU = Unwrapped<V>;
    const std::string node = state_->NewName("KSTREAM-TOTABLE");
    std::string store = materialized.store_name;
    if (store.empty()) store = state_->NewName("KSTREAM-TOTABLE-STATE-STORE");
    const std::string parent = RepartitionFor(store);
    const SerdePtr<KU> key_serde = UnwrappedSerde(key_serde_);
    const SerdePtr<VU> value_serde = materialized.value_serde != nullptr
                                         ? materialized.value_serde
                                         : UnwrappedSerde(value_serde_);
    return dsl::AddTableSource<K, V>(state_, node, parent, store, key_serde, value_serde);
  }

  // Each record joined with `table`'s value for its key as the table stands when the record is
  // processed: `joiner(value, table_value)` for records that find one (Kafka Streams'
  // KStream#join(KTable)). Records with a null key or value are dropped and counted. The stream
  // is repartitioned first when its key changed; stream and table must be co-partitioned.
  template <typename VT, typename F,
            typename VR = std::invoke_result_t<F, const Unwrapped<V>&, const VT&>>
  KStream<K, VR> Join(const KTable<Unwrapped<K>, VT>& table, F joiner) const {
    return AddTableJoin<VT, VR>(table, false,
                                [joiner](const Unwrapped<V>& value, const std::optional<VT>& row) {
                                  return joiner(value, *row);
                                });
  }
  // The same for every record with a value: `joiner(value, table_value)`, where table_value is a
  // std::optional<VT>, null when the table has no row for the key (or the key is null).
  template <typename VT, typename F,
            typename VR =
                std::invoke_result_t<F, const Unwrapped<V>&, const std::optional<VT>&>>
  KStream<K, VR> LeftJoin(const KTable<Unwrapped<K>, VT>& table, F joiner) const {
    return AddTableJoin<VT, VR>(table, true, joiner);
  }

  // Windowed joins with another stream of the same key (Kafka Streams' KStream#join with
  // JoinWindows; engine/dsl/stream_join_processors.h has the steps): a record joins each record
  // of the other stream with its key within the windows, the result at the larger timestamp.
  // Join: `joiner(value, other_value)`. LeftJoin: also this stream's records that found no
  // partner by the time their window closed, `joiner(value, std::nullopt)` (other_value is a
  // std::optional<VO>). OuterJoin: both streams' unmatched records (both arguments
  // std::optional). Both streams are repartitioned first when their key changed; null keys
  // and values are dropped and counted, except a null key on an outer side, joined with nothing
  // at once.
  template <typename VO, typename F, typename VR = std::invoke_result_t<
                                         F, const Unwrapped<V>&, const Unwrapped<VO>&>>
  KStream<K, VR> Join(const KStream<K, VO>& other, F joiner, JoinWindows windows,
                      StreamJoined<Unwrapped<K>, Unwrapped<V>, Unwrapped<VO>> joined = {}) const {
    return AddStreamJoin<VO, VR>(
        other, windows, false, false,
        [joiner](const std::optional<Unwrapped<V>>& v, const std::optional<Unwrapped<VO>>& o) {
          return joiner(*v, *o);
        },
        joined);
  }
  template <typename VO, typename F,
            typename VR = std::invoke_result_t<F, const Unwrapped<V>&,
                                               const std::optional<Unwrapped<VO>>&>>
  KStream<K, VR> LeftJoin(const KStream<K, VO>& other, F joiner, JoinWindows windows,
                          StreamJoined<Unwrapped<K>, Unwrapped<V>, Unwrapped<VO>> joined = {})
      const {
    return AddStreamJoin<VO, VR>(
        other, windows, true, false,
        [joiner](const std::optional<Unwrapped<V>>& v, const std::optional<Unwrapped<VO>>& o) {
          return joiner(*v, o);
        },
        joined);
  }
  template <typename VO, typename F,
            typename VR = std::invoke_result_t<F, const std::optional<Unwrapped<V>>&,
                                               const std::optional<Unwrapped<VO>>&>>
  KStream<K, VR> OuterJoin(const KStream<K, VO>& other, F joiner, JoinWindows windows,
                           StreamJoined<Unwrapped<K>, Unwrapped<V>, Unwrapped<VO>> joined = {})
      const {
    return AddStreamJoin<VO, VR>(other, windows, true, true, joiner, joined);
  }

  // Each record joined with the global table's value for the key `selector(key, value)` gives
  // (Kafka Streams' KStream#join(GlobalKTable, KeyValueMapper, ValueJoiner)): the table as this
  // instance's global thread holds it when the record is processed; no co-partitioning and no
  // repartition. Join: `joiner(value, table_value)` for records that find one; LeftJoin: every
  // record with a value, `joiner(value, table_value)` with a std::optional table value. A
  // selector may return a std::optional key: null joins with nothing.
  template <typename KG, typename VG, typename S, typename F,
            typename VR = std::invoke_result_t<F, const Unwrapped<V>&, const VG&>>
  KStream<K, VR> Join(const GlobalKTable<KG, VG>& table, S selector, F joiner) const {
    return AddGlobalJoin<KG, VG, VR>(
        table, selector, false,
        [joiner](const Unwrapped<V>& value, const std::optional<VG>& row) {
          return joiner(value, *row);
        });
  }
  template <typename KG, typename VG, typename S, typename F,
            typename VR = std::invoke_result_t<F, const Unwrapped<V>&, const std::optional<VG>&>>
  KStream<K, VR> LeftJoin(const GlobalKTable<KG, VG>& table, S selector, F joiner) const {
    return AddGlobalJoin<KG, VG, VR>(table, selector, true, joiner);
  }

  // The stream written to the internal topic `<application.id>-<name>-repartition` and read
  // back (Kafka Streams' KStream#repartition): its records spread by key over as many
  // partitions as the input's largest topic, in a new sub-topology. Needs the stream's serdes
  // (or `grouped`'s).
  KStream Repartition(Grouped<K, V> grouped = {}) const {
    KStream stream = *this;
    if (grouped.key_serde != nullptr) stream.key_serde_ = grouped.key_serde;
    if (grouped.value_serde != nullptr) stream.value_serde_ = grouped.value_serde;
    stream.repartition_ = true;
    return stream.WithNode(stream.RepartitionFor(state_->NewName("KSTREAM-REPARTITION")),
                           /*repartition=*/false);
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

  // The node an operation with a store reads from: this stream's, or, when the key changed, a
  // source reading back the internal topic `<store>-repartition` this stream is written to
  // first (fails the builder without serdes for it).
  std::string RepartitionFor(const std::string& store) const {
    if (!repartition_) return node_;
    const std::string topic = absl::StrCat(store, "-repartition");
    if (key_serde_ == nullptr || value_serde_ == nullptr) {
      state_->Fail(absl::StrCat("the repartition before store '", store,
                                "' needs key and value serdes: the key changed, so pass "
                                "Grouped::With(key_serde, value_serde) to GroupByKey/GroupBy"));
      return node_;
    }
    const std::string sink = state_->NewName("KSTREAM-SINK");
    const std::string source = state_->NewName("KSTREAM-SOURCE");
    state_->topology.AddSink<K, V>(sink, topic, key_serde_, value_serde_, {node_},
                                   /*internal_topic=*/true);
    state_->topology.AddSource<K, V>(source, {topic}, key_serde_, value_serde_, {},
                                     /*internal_topics=*/true);
    return source;
  }

  template <typename KG, typename VG, typename VR, typename S>
  KStream<K, VR> AddGlobalJoin(
      const GlobalKTable<KG, VG>& table, S selector, bool left,
      typename dsl::StreamTableJoinProcessor<K, V, KG, VG, VR>::Joiner joiner) const {
    const std::string node = state_->NewName("KSTREAM-JOIN");
    state_->topology.AddProcessor<K, V, K, VR>(
        node,
        [getter = table.getter_, selector, left, joiner] {
          return std::make_unique<dsl::StreamTableJoinProcessor<K, V, KG, VG, VR>>(
              getter,
              [selector](const K& key, const Unwrapped<V>& value) -> std::optional<KG> {
                auto table_key = selector(key, value);
                if (IsNull(table_key)) return std::nullopt;
                return Unwrap(table_key);
              },
              left, joiner);
        },
        {node_});
    return KStream<K, VR>(state_, node, repartition_, key_serde_, nullptr);
  }

  template <typename VO, typename VR>
  KStream<K, VR> AddStreamJoin(
      const KStream<K, VO>& other, JoinWindows windows, bool left_outer, bool right_outer,
      std::function<VR(const std::optional<Unwrapped<V>>&, const std::optional<Unwrapped<VO>>&)>
          joiner,
      StreamJoined<Unwrapped<K>, Unwrapped<V>, Unwrapped<VO>> joined) const {
    using KU = Unwrapped<K>;
    using VU = Unwrapped<V>;
    using VOU = Unwrapped<VO>;
    const std::string this_node = state_->NewName("KSTREAM-JOINTHIS");
    const std::string other_node = state_->NewName("KSTREAM-JOINOTHER");
    const std::string merge = state_->NewName("KSTREAM-MERGE");
    dsl::StreamJoinOptions options{.windows = windows,
                                   .this_store = this_node + "-store",
                                   .other_store = other_node + "-store"};
    if (left_outer) options.outer_store = state_->NewName("KSTREAM-OUTERSHARED") + "-store";
    if (joined.key_serde == nullptr) joined.key_serde = UnwrappedSerde(key_serde_);
    if (joined.value_serde == nullptr) joined.value_serde = UnwrappedSerde(value_serde_);
    if (joined.other_value_serde == nullptr) {
      joined.other_value_serde = UnwrappedSerde(other.value_serde_);
    }
    if (joined.key_serde == nullptr || joined.value_serde == nullptr ||
        joined.other_value_serde == nullptr) {
      state_->Fail(absl::StrCat("the join ", merge,
                                " needs serdes for its stores' keys and both streams' values: "
                                "pass StreamJoined::With"));
      return KStream<K, VR>(state_, merge, false, key_serde_, nullptr);
    }
    const std::string this_parent = RepartitionFor(this_node);
    const std::string other_parent = other.RepartitionFor(other_node);
    auto trackers = std::make_shared<dsl::JoinTimeTrackers>();
    const SerdePtr<KU> key_serde = joined.key_serde;
    const SerdePtr<VU> this_serde = joined.value_serde;
    const SerdePtr<VOU> other_serde = joined.other_value_serde;
    dsl::StreamJoinOptions other_options = options;
    other_options.left_side = false;
    other_options.outer = right_outer;
    std::swap(other_options.this_store, other_options.other_store);
    options.outer = left_outer;
    Topology& topology = state_->topology;
    topology.AddProcessor<K, V, K, VR>(
        this_node,
        [=] {
          return std::make_unique<dsl::StreamStreamJoinProcessor<K, V, VO, VR>>(
              options, key_serde, this_serde, other_serde, joiner, trackers);
        },
        {this_parent});
    auto reversed = [joiner](const std::optional<VOU>& o, const std::optional<VU>& v) {
      return joiner(v, o);
    };
    topology.AddProcessor<K, VO, K, VR>(
        other_node,
        [=] {
          return std::make_unique<dsl::StreamStreamJoinProcessor<K, VO, V, VR>>(
              other_options, key_serde, other_serde, this_serde, reversed, trackers);
        },
        {other_parent});
    topology.AddProcessor<K, VR, K, VR>(
        merge,
        [] {
          return std::make_unique<dsl::FilterProcessor<K, VR>>(
              [](const Record<K, VR>&) { return true; });
        },
        {this_node, other_node});
    for (const std::string& store : {options.this_store, options.other_store}) {
      topology.AddKeyValueStore(
          KeyValueStoreOptions{.name = store, .retention_ms = windows.retention_ms()},
          {this_node, other_node});
    }
    if (left_outer) {
      topology.AddKeyValueStore(KeyValueStoreOptions{.name = options.outer_store},
                                {this_node, other_node});
    }
    topology.CoPartition({this_node, other_node});
    return KStream<K, VR>(state_, merge, false, key_serde_, nullptr);
  }

  template <typename VT, typename VR>
  KStream<K, VR> AddTableJoin(
      const KTable<Unwrapped<K>, VT>& table, bool left,
      typename dsl::StreamTableJoinProcessor<K, V, Unwrapped<K>, VT, VR>::Joiner joiner) const {
    using KU = Unwrapped<K>;
    const std::string node = state_->NewName("KSTREAM-JOIN");
    if (!table.getter_) {
      state_->Fail(absl::StrCat("the join ", node, " reads table ", table.node_,
                                ", which has no store to read (a windowed aggregation)"));
      return KStream<K, VR>(state_, node, repartition_, key_serde_, nullptr);
    }
    const std::string parent = RepartitionFor(node);
    state_->topology.AddProcessor<K, V, K, VR>(
        node,
        [getter = table.getter_, left, joiner] {
          return std::make_unique<dsl::StreamTableJoinProcessor<K, V, KU, VT, VR>>(
              getter,
              [](const K& key, const Unwrapped<V>&) {
                return IsNull(key) ? std::nullopt : std::optional<KU>(Unwrap(key));
              },
              left, joiner);
        },
        {parent});
    for (const std::string& store : table.getter_stores_) {
      state_->topology.ConnectStore(store, {node});
    }
    state_->topology.CoPartition({node, table.node_});
    return KStream<K, VR>(state_, node, false, key_serde_, nullptr);
  }

  static ProcessorSupplier<K, V, K, V> PassThrough() {
    return [] {
      return std::make_unique<dsl::FilterProcessor<K, V>>(
          [](const Record<K, V>&) { return true; });
    };
  }
  KStream WithNode(std::string node) const { return WithNode(std::move(node), repartition_); }
  KStream WithNode(std::string node, bool repartition) const {
    return KStream(state_, std::move(node), repartition, key_serde_, value_serde_);
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
KStream<K, std::optional<V>> KTable<K, V>::ToStream() const {
  const std::string node = state_->NewName("KTABLE-TOSTREAM");
  using Out = std::optional<V>;
  state_->topology.AddProcessor<K, Change<V>, K, Out>(
      node,
      [] {
        return std::make_unique<dsl::FlatMapProcessor<K, Change<V>, K, Out>>(
            [](const Record<K, Change<V>>& r, std::vector<std::pair<K, Out>>& out) {
              out.emplace_back(r.key, r.value.new_value);
            });
      },
      {node_});
  return KStream<K, Out>(state_, node, false, key_serde_,
                         value_serde_ != nullptr ? serdes::Optional(value_serde_) : nullptr);
}

}  // namespace weir

#endif  // WEIR_ENGINE_DSL_KSTREAM_H_
