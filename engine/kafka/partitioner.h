// Kafka's default partitioner for keyed records: murmur2 of the key bytes, made positive, modulo
// the partition count. Java clients and librdkafka's `murmur2_random` partitioner agree with it,
// so weir, its test driver and other clients place a key in the same partition.
#ifndef WEIR_ENGINE_KAFKA_PARTITIONER_H_
#define WEIR_ENGINE_KAFKA_PARTITIONER_H_

#include <cstdint>

#include "absl/strings/string_view.h"

namespace weir {

// Kafka's Utils.murmur2.
uint32_t Murmur2(absl::string_view bytes);

// The partition of `key` among `partitions` (> 0) topic partitions.
inline int32_t PartitionForKey(absl::string_view key, int32_t partitions) {
  return static_cast<int32_t>((Murmur2(key) & 0x7fffffff) % static_cast<uint32_t>(partitions));
}

}  // namespace weir

#endif  // WEIR_ENGINE_KAFKA_PARTITIONER_H_
