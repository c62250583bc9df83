// The interactive-query view of a session store of the DSL (KTable::Queryable picks it), in
// namespace weir::dsl. Not meant to be used directly.
#ifndef WEIR_ENGINE_DSL_SESSION_STORE_VIEW_H_
#define WEIR_ENGINE_DSL_SESSION_STORE_VIEW_H_

#include <cstdint>
#include <limits>
#include <optional>
#include <string>

#include "common/byte_order.h"
#include "engine/dsl/table_processors.h"
#include "engine/processor/state_query.h"
#include "stores/key_value_store.h"
#include "stores/value_and_timestamp.h"

namespace weir::dsl {

// A session aggregation's store as view `name`: POST /state/<name>/windows {"key": ..., "from":
// ms, "to": ms} answers {"windows": [{"start", "end", "value"}]} for the key's sessions that
// overlap [from, to], oldest end first. The store's layout is SessionWindowAggregateProcessor's
// (engine/dsl/dsl_processors.h).
template <typename K, typename V>
QueryableStore SessionStoreView(std::string name, std::string store, SerdePtr<K> key_serde,
                                SerdePtr<V> value_serde) {
  return {.name = std::move(name),
          .kind = QueryableStore::Kind::kWindows,
          .store = std::move(store),
          .parse = [key_serde](const nlohmann::json& body) {
            return state_query_detail::ParseKeyQuery(body, *key_serde);
          },
          .read = [value_serde](StateStore& store,
                                const StateQuery& query) -> absl::StatusOr<StoreReading> {
            auto* sessions = dynamic_cast<KeyValueBytesStore*>(&store);
            if (sessions == nullptr) {
              return absl::InvalidArgumentError(
                  absl::StrCat("store ", store.name(), " is not a session store"));
            }
            constexpr uint64_t kMax = std::numeric_limits<uint64_t>::max();
            StoreReading reading{.value = {{"windows", nlohmann::json::array()}}};
            absl::Status status;
            const auto from = static_cast<uint64_t>(std::max<int64_t>(query.from_ms, 0));
            sessions->Range(
                KeyThenTwoNumbers(query.key, from, 0), KeyThenTwoNumbers(query.key, kMax, kMax),
                [&](absl::string_view key, absl::string_view bytes) {
                  const size_t at = key.size() - 16;
                  const auto end = static_cast<int64_t>(LoadBigEndian64(key.data() + at));
                  const auto start = static_cast<int64_t>(LoadBigEndian64(key.data() + at + 8));
                  if (start > query.to_ms) return true;
                  std::optional<ValueAndTimestamp> stored = ValueAndTimestamp::Decode(bytes);
                  if (!stored.has_value()) {
                    status = absl::DataLossError(absl::StrCat(
                        "a session of ", bytes.size(), " bytes in ", store.name(),
                        " holds no timestamp"));
                    return false;
                  }
                  absl::StatusOr<V> value = value_serde->Deserialize(stored->value);
                  if (!value.ok()) {
                    status = value.status();
                    return false;
                  }
                  reading.found = true;
                  reading.value["windows"].push_back(
                      {{"start", start}, {"end", end}, {"value", *value}});
                  return true;
                });
            if (!status.ok()) return status;
            return reading;
          }};
}

}  // namespace weir::dsl

#endif  // WEIR_ENGINE_DSL_SESSION_STORE_VIEW_H_
