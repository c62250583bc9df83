// The DSL's entry point (Kafka Streams' StreamsBuilder): streams and tables from topics, then
// Build().
#ifndef WEIR_ENGINE_DSL_STREAMS_BUILDER_H_
#define WEIR_ENGINE_DSL_STREAMS_BUILDER_H_

#include <memory>
#include <string>
#include <vector>

#include "absl/status/statusor.h"
#include "absl/strings/str_cat.h"
#include "engine/dsl/kstream.h"
#include "engine/processor/topology.h"
#include "stores/value_and_timestamp.h"

namespace weir {

class StreamsBuilder {
 public:
  StreamsBuilder() : state_(std::make_shared<dsl::BuilderState>()) {}

  // A stream of `topic`'s records, deserialized with the serdes. `extractor`, when given,
  // chooses each record's event time (by default, the Kafka timestamp).
  template <typename K, typename V>
  KStream<K, V> Stream(std::vector<std::string> topics, SerdePtr<K> key_serde,
                       SerdePtr<V> value_serde, TimestampExtractor<K, V> extractor = {}) {
    const std::string node = state_->NewName("KSTREAM-SOURCE");
    state_->topology.AddSource<K, V>(node, std::move(topics), key_serde, value_serde,
                                     std::move(extractor));
    return KStream<K, V>(state_, node, false, key_serde, value_serde);
  }
  template <typename K, typename V>
  KStream<K, V> Stream(std::string topic, SerdePtr<K> key_serde, SerdePtr<V> value_serde,
                       TimestampExtractor<K, V> extractor = {}) {
    return Stream<K, V>(std::vector<std::string>{std::move(topic)}, std::move(key_serde),
                        std::move(value_serde), std::move(extractor));
  }

  // A table of `topic`'s records (Kafka Streams' StreamsBuilder#table): each record updates its
  // key's row, a null value deletes it, a null key is dropped and counted. The table is kept in
  // a key-value store (`materialized`'s name, or `<topic>-STATE-STORE-<n>`) with a changelog.
  template <typename K, typename V>
  KTable<K, V> Table(std::string topic, SerdePtr<K> key_serde, SerdePtr<V> value_serde,
                     Materialized<V> materialized = Materialized<V>{}) {
    const std::string source = state_->NewName("KSTREAM-SOURCE");
    const std::string node = state_->NewName("KTABLE-SOURCE");
    std::string store = materialized.store_name;
    if (store.empty()) store = state_->NewName(absl::StrCat(topic, "-STATE-STORE"));
    if (materialized.value_serde != nullptr) value_serde = materialized.value_serde;
    state_->topology.AddSource<std::optional<K>, std::optional<V>>(
        source, {std::move(topic)}, serdes::Optional(key_serde), serdes::Optional(value_serde));
    return dsl::AddTableSource<std::optional<K>, std::optional<V>>(state_, node, source, store,
                                                                   key_serde, value_serde);
  }

  // A global table of `topic` (Kafka Streams' StreamsBuilder#globalTable): every instance holds
  // all its partitions in a global store (`materialized`'s name, or `<topic>-STATE-STORE-<n>`),
  // filled before any record is processed and kept current by the instance's global thread. A
  // null key is skipped, a null value deletes; a key or value that does not deserialize is
  // skipped and counted.
  template <typename K, typename V>
  GlobalKTable<K, V> GlobalTable(std::string topic, SerdePtr<K> key_serde, SerdePtr<V> value_serde,
                                 Materialized<V> materialized = Materialized<V>{}) {
    const std::string source = state_->NewName("KSTREAM-SOURCE");
    const std::string processor = state_->NewName("KTABLE-SOURCE");
    std::string store = materialized.store_name;
    if (store.empty()) store = state_->NewName(absl::StrCat(topic, "-STATE-STORE"));
    if (materialized.value_serde != nullptr) value_serde = materialized.value_serde;
    state_->topology.AddGlobalStore(Topology::GlobalStoreSpec{
        .store = store,
        .topic = std::move(topic),
        .source_name = source,
        .processor_name = processor,
        .apply = [key_serde, value_serde](const RawRecord& record,
                                          KeyValueBytesStore& table) -> absl::Status {
          if (!record.key.has_value()) return absl::OkStatus();
          absl::StatusOr<K> key = key_serde->Deserialize(*record.key);
          if (!key.ok()) return absl::InvalidArgumentError(absl::StrCat("key: ", key.status().message()));
          const std::string key_bytes = key_serde->Serialize(*key);
          if (!record.value.has_value()) {
            table.Put(key_bytes, std::nullopt);
            return absl::OkStatus();
          }
          absl::StatusOr<V> value = value_serde->Deserialize(*record.value);
          if (!value.ok()) {
            return absl::InvalidArgumentError(absl::StrCat("value: ", value.status().message()));
          }
          table.Put(key_bytes, ValueAndTimestamp::Encode(*record.value, record.timestamp));
          return absl::OkStatus();
        }});
    return GlobalKTable<K, V>(store, dsl::StoreGetter<K, V>(store, key_serde, value_serde));
  }

  // The topology built so far, or the first mistake (InvalidArgument naming what and where).
  absl::StatusOr<Topology> Build() const {
    if (!state_->error.ok()) return state_->error;
    if (!state_->topology.status().ok()) return state_->topology.status();
    return state_->topology;
  }

 private:
  std::shared_ptr<dsl::BuilderState> state_;
};

}  // namespace weir

#endif  // WEIR_ENGINE_DSL_STREAMS_BUILDER_H_
