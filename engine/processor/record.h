// Records as processors see them, and the identity of tasks.
#ifndef WEIR_ENGINE_PROCESSOR_RECORD_H_
#define WEIR_ENGINE_PROCESSOR_RECORD_H_

#include <cstdint>
#include <optional>
#include <string>
#include <vector>

#include "absl/strings/str_cat.h"

namespace weir {

// A Kafka record header. A null value is written as std::nullopt.
struct Header {
  std::string key;
  std::optional<std::string> value;
  bool operator==(const Header&) const = default;
};
using Headers = std::vector<Header>;

// A typed record flowing through a topology: key, value, event time (epoch ms) and headers.
template <typename K, typename V>
struct Record {
  K key;
  V value;
  int64_t timestamp = 0;
  Headers headers;
};

// A record as bytes, as it comes from or goes to Kafka. A null key or value is std::nullopt.
struct RawRecord {
  std::optional<std::string> key;
  std::optional<std::string> value;
  int64_t timestamp = 0;
  Headers headers;
};

// Where the record being processed came from. Absent in punctuations.
struct RecordMetadata {
  std::string topic;
  int32_t partition = 0;
  int64_t offset = 0;
};

// A task: one sub-topology over one partition, written "0_3" as in Kafka Streams.
struct TaskId {
  int32_t subtopology = 0;
  int32_t partition = 0;
  auto operator<=>(const TaskId&) const = default;
  std::string ToString() const { return absl::StrCat(subtopology, "_", partition); }
};

}  // namespace weir

#endif  // WEIR_ENGINE_PROCESSOR_RECORD_H_
