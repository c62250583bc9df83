// Interactive queries (Kafka Streams' interactive queries): a topology's state read in place, on
// any instance, over the HTTP listener (docs/queries.md).
//
// A topology declares queryable views of its stores (Topology::AddQueryableStore): a name (the
// `{view}` of `POST /state/{view}/windows` or `/state/{view}/key`), the store it reads, how a
// request body becomes a StateQuery, and how the store answers one. The engine does the rest
// (engine/http/query_service.h): it finds the task holding the key - the input key's murmur2
// partition, as producers partition it - and the instance running that task, forwards the query
// there when it is not this one, reads the store on the thread that owns it, and answers 503
// while that task is restoring or its thread's group is rebalancing.
//
// WindowStoreView makes a view of a DSL window store (e.g. a windowed Count), KeyValueStoreView
// one of a DSL key-value store (a table, a non-windowed aggregation); KTable::Queryable picks
// the view a table's store needs, session stores included.
//
// Concurrency: `parse` runs on an HTTP thread; `read` on the thread that owns the task (its
// stream thread between two batches, or the state updater for a standby), so it must not block.
#ifndef WEIR_ENGINE_PROCESSOR_STATE_QUERY_H_
#define WEIR_ENGINE_PROCESSOR_STATE_QUERY_H_

#include <cstdint>
#include <functional>
#include <limits>
#include <optional>
#include <nlohmann/json.hpp>
#include <string>

#include "absl/status/statusor.h"
#include "absl/strings/str_cat.h"
#include "engine/processor/serde.h"
#include "stores/key_value_store.h"
#include "stores/state_store.h"
#include "stores/value_and_timestamp.h"
#include "stores/window_store.h"

namespace weir {

// One query, decoded from a request body by its view.
struct StateQuery {
  std::string key;  // the store's key
  // The serialized input key whose partition holds `key` (e.g. the card number). nullopt: not
  // known (e.g. asked by token), so every partition is asked; at most one holds the key.
  std::optional<std::string> partition_key;
  int64_t from_ms = 0;  // windows overlapping [from_ms, to_ms]
  int64_t to_ms = std::numeric_limits<int64_t>::max();
  bool allow_stale = false;  // a standby may answer, saying how far behind it is
  // What the answer says the key is, safe to show and log (e.g. the masked card and its token):
  // never the raw input key.
  nlohmann::json subject = nlohmann::json::object();
};

// What a store holds for a query.
struct StoreReading {
  bool found = false;
  // The answer's content (merged into the response beside the engine's fields), also when
  // nothing was found (e.g. an empty window list).
  nlohmann::json value = nlohmann::json::object();
};

struct QueryableStore {
  enum class Kind { kWindows, kKey };  // POST /state/<name>/windows, or /state/<name>/key
  std::string name;
  Kind kind = Kind::kKey;
  std::string store;  // the topology's store it reads
  // The request body as a query; InvalidArgument naming the field otherwise. The message must
  // not echo a card number (or any secret the body carries).
  std::function<absl::StatusOr<StateQuery>(const nlohmann::json& body)> parse;
  // `query` read from `store` (the task's store called `store`).
  std::function<absl::StatusOr<StoreReading>(StateStore& store, const StateQuery& query)> read;
};

namespace state_query_detail {

// The body's "key" as K, with "from", "to" and "allow_stale"; the key serialized by
// `key_serde` is both the store key and the partition key (the input was keyed by it).
template <typename K>
absl::StatusOr<StateQuery> ParseKeyQuery(const nlohmann::json& body, const Serde<K>& key_serde) {
  if (!body.contains("key")) return absl::InvalidArgumentError("the body needs a \"key\"");
  StateQuery query;
  try {
    query.key = key_serde.Serialize(body["key"].get<K>());
    if (body.contains("from")) query.from_ms = body["from"].get<int64_t>();
    if (body.contains("to")) query.to_ms = body["to"].get<int64_t>();
    if (body.contains("allow_stale")) query.allow_stale = body["allow_stale"].get<bool>();
  } catch (const nlohmann::json::exception&) {
    return absl::InvalidArgumentError(
        "\"key\" must have the store's key type, \"from\" and \"to\" be integers (epoch ms), "
        "\"allow_stale\" a boolean");
  }
  query.partition_key = query.key;
  query.subject = {{"key", body["key"]}};
  return query;
}

}  // namespace state_query_detail

// A window store of the DSL (e.g. a windowed Count's) as view `name`: POST
// /state/<name>/windows {"key": ..., "from": ms, "to": ms} answers {"windows": [{"start", "end",
// "value"}]} for the windows of the key starting in [from, to]. For stores whose input was
// keyed (and partitioned) by the same key.
template <typename K, typename V>
QueryableStore WindowStoreView(std::string name, std::string store, int64_t window_size_ms,
                               SerdePtr<K> key_serde, SerdePtr<V> value_serde) {
  return {.name = std::move(name),
          .kind = QueryableStore::Kind::kWindows,
          .store = std::move(store),
          .parse = [key_serde](const nlohmann::json& body) {
            return state_query_detail::ParseKeyQuery(body, *key_serde);
          },
          .read = [value_serde, window_size_ms](
                      StateStore& store, const StateQuery& query) -> absl::StatusOr<StoreReading> {
            auto* windows = dynamic_cast<WindowBytesStore*>(&store);
            if (windows == nullptr) {
              return absl::InvalidArgumentError(
                  absl::StrCat("store ", store.name(), " is not a window store"));
            }
            StoreReading reading{.value = {{"windows", nlohmann::json::array()}}};
            absl::Status status;
            windows->Fetch(query.key, query.from_ms, query.to_ms,
                           [&](absl::string_view, int64_t start, absl::string_view bytes) {
                             // The DSL keeps each aggregate with its timestamp.
                             std::optional<ValueAndTimestamp> stored =
                                 ValueAndTimestamp::Decode(bytes);
                             if (!stored.has_value()) {
                               status = absl::DataLossError(absl::StrCat(
                                   "a value of ", bytes.size(), " bytes in window store ",
                                   store.name(), " holds no timestamp"));
                               return;
                             }
                             absl::StatusOr<V> value = value_serde->Deserialize(stored->value);
                             if (!value.ok()) {
                               status = value.status();
                               return;
                             }
                             reading.found = true;
                             reading.value["windows"].push_back({{"start", start},
                                                                 {"end", start + window_size_ms},
                                                                 {"value", *value}});
                           });
            if (!status.ok()) return status;
            return reading;
          }};
}

// A key-value store of the DSL (a table's, a non-windowed aggregation's: values kept with their
// timestamps) as view `name`: POST /state/<name>/key {"key": ...} answers {"found", "value",
// "timestamp"} for the key's row. For stores whose input was keyed (and partitioned) by the same
// key.
template <typename K, typename V>
QueryableStore KeyValueStoreView(std::string name, std::string store, SerdePtr<K> key_serde,
                                 SerdePtr<V> value_serde) {
  return {.name = std::move(name),
          .kind = QueryableStore::Kind::kKey,
          .store = std::move(store),
          .parse = [key_serde](const nlohmann::json& body) {
            return state_query_detail::ParseKeyQuery(body, *key_serde);
          },
          .read = [value_serde](StateStore& store,
                                const StateQuery& query) -> absl::StatusOr<StoreReading> {
            auto* rows = dynamic_cast<KeyValueBytesStore*>(&store);
            if (rows == nullptr) {
              return absl::InvalidArgumentError(
                  absl::StrCat("store ", store.name(), " is not a key-value store"));
            }
            const std::optional<absl::string_view> bytes = rows->Get(query.key);
            if (!bytes.has_value()) return StoreReading{};
            const std::optional<ValueAndTimestamp> stored = ValueAndTimestamp::Decode(*bytes);
            if (!stored.has_value()) {
              return absl::DataLossError(absl::StrCat("a value of ", bytes->size(),
                                                      " bytes in key-value store ", store.name(),
                                                      " holds no timestamp"));
            }
            absl::StatusOr<V> value = value_serde->Deserialize(stored->value);
            if (!value.ok()) return value.status();
            return StoreReading{.found = true,
                                .value = {{"value", *value}, {"timestamp", stored->timestamp}}};
          }};
}

}  // namespace weir

#endif  // WEIR_ENGINE_PROCESSOR_STATE_QUERY_H_
