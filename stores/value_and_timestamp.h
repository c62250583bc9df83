// Kafka Streams' ValueAndTimestamp layout, for the values of timestamped stores: the timestamp
// (8 bytes big-endian), then the value's bytes. The DSL's windowed aggregations keep each
// aggregate with the largest timestamp of the records in it and forward updates with that
// timestamp, as Kafka Streams' timestamped window stores do (docs/dsl.md).
#ifndef WEIR_STORES_VALUE_AND_TIMESTAMP_H_
#define WEIR_STORES_VALUE_AND_TIMESTAMP_H_

#include <cstdint>
#include <optional>
#include <string>

#include "absl/strings/string_view.h"
#include "common/byte_order.h"

namespace weir {

struct ValueAndTimestamp {
  absl::string_view value;  // views the bytes it was decoded from
  int64_t timestamp = 0;

  static std::string Encode(absl::string_view value, int64_t timestamp) {
    std::string bytes(8, '\0');
    StoreBigEndian64(bytes.data(), static_cast<uint64_t>(timestamp));
    bytes.append(value.data(), value.size());
    return bytes;
  }
  // Nullopt when `bytes` is shorter than a timestamp.
  static std::optional<ValueAndTimestamp> Decode(absl::string_view bytes) {
    if (bytes.size() < 8) return std::nullopt;
    return ValueAndTimestamp{.value = bytes.substr(8),
                             .timestamp = static_cast<int64_t>(LoadBigEndian64(bytes.data()))};
  }
};

}  // namespace weir

#endif  // WEIR_STORES_VALUE_AND_TIMESTAMP_H_
