// Reads how many records each topic of a cluster holds, for progress displays and tests.
//
// Operation: one metadata request lists the topics, then one watermark query per partition.
// Cheap enough for a progress line every few seconds on a handful of topics; not for hot paths.
// Concurrency: one TopicOffsetsReader per thread.
#ifndef WEIR_ENGINE_KAFKA_TOPIC_OFFSETS_H_
#define WEIR_ENGINE_KAFKA_TOPIC_OFFSETS_H_

#include <chrono>
#include <cstdint>
#include <memory>
#include <string>
#include <vector>

#include "absl/status/statusor.h"
#include "engine/kafka/client_config.h"

namespace weir {

struct TopicOffsets {
  std::string topic;
  int32_t partitions = 0;
  int64_t end_offsets = 0;  // sum of high watermarks: records ever appended
  int64_t retained = 0;     // sum of (high - low): records the broker still holds
};

class TopicOffsetsReader {
 public:
  // A client for the cluster at `properties.bootstrap_servers`.
  static absl::StatusOr<std::unique_ptr<TopicOffsetsReader>> Open(
      const ClientProperties& properties);

  // Every topic whose name does not start with "__", sorted by name. kUnavailable when the
  // cluster does not answer within `timeout`.
  absl::StatusOr<std::vector<TopicOffsets>> Read(std::chrono::milliseconds timeout);

 private:
  explicit TopicOffsetsReader(KafkaHandle client) : client_(std::move(client)) {}
  KafkaHandle client_;
};

// The offsets group `group` has committed on `topic`'s `partitions` partitions, summed: the
// records it has consumed and committed. -1 when the group has committed nothing readable.
int64_t CommittedRecords(const std::string& bootstrap, const std::string& group,
                         const std::string& topic, int partitions);

}  // namespace weir

#endif  // WEIR_ENGINE_KAFKA_TOPIC_OFFSETS_H_
