// Options of key-value stores (stores/key_value_store.h), apart so that topologies can name
// them without the stores' RocksDB headers.
#ifndef WEIR_STORES_KEY_VALUE_STORE_OPTIONS_H_
#define WEIR_STORES_KEY_VALUE_STORE_OPTIONS_H_

#include <cstdint>
#include <optional>
#include <string>

#include "absl/strings/string_view.h"

namespace weir {

struct KeyValueStoreOptions {
  std::string name;
  // 0: entries stay until deleted. Otherwise entries expire by event time, as with Flink's state
  // TTL: each value begins with its timestamp (8 bytes big-endian, Kafka Streams' timestamped
  // store layout), the store's observed stream time is the largest timestamp written to it, and
  // an entry whose timestamp is at or before observed - retention_ms may be dropped from then on
  // (in memory at the store's next sweep, in RocksDB when a flush or compaction meets it). Until
  // it is dropped it can still be read: readers must judge a value's age themselves.
  int64_t retention_ms = 0;
};

// The timestamp a value of a store with retention begins with; nullopt when it is shorter.
std::optional<int64_t> ValueTimestamp(absl::string_view value);
// `value` with `timestamp` in front, in the layout above.
void AppendValueTimestamp(std::string& out, int64_t timestamp);

}  // namespace weir

#endif  // WEIR_STORES_KEY_VALUE_STORE_OPTIONS_H_
