// Topics and consumer groups through Kafka's admin API: what the cluster holds, creating
// topics with their replication and configuration, and the clean-ups tests and tools need.
//
// Every call blocks for at most `timeout_ms` and returns a status naming the topic or group
// and librdkafka's error. librdkafka's mock cluster (the embedded broker) answers metadata but
// not CreateTopics, DeleteTopics or DeleteRecords: use EmbeddedBroker::CreateTopic there.
#ifndef WEIR_ENGINE_KAFKA_TOPIC_ADMIN_H_
#define WEIR_ENGINE_KAFKA_TOPIC_ADMIN_H_

#include <librdkafka/rdkafka.h>

#include <cstdint>
#include <map>
#include <string>
#include <vector>

#include "absl/status/status.h"
#include "absl/status/statusor.h"
#include "absl/strings/string_view.h"

namespace weir {

struct TopicSpec {
  std::string name;
  int32_t partitions = 1;
  // Topic-level configuration (cleanup.policy, min.insync.replicas, ...); empty = the broker's.
  std::map<std::string, std::string> config;
};

// Parses "NAME:PARTITIONS" (e.g. "payments:12"). Topic names follow Kafka's rules: 1-249 of
// letters, digits, '.', '_', '-', and not "." or "..". Partitions must be in [1, 1000].
absl::StatusOr<TopicSpec> ParseTopicSpec(absl::string_view text);

inline constexpr int kAdminTimeoutMs = 10'000;

// Partition counts of the cluster's topics, internal ones (`__consumer_offsets`) included.
absl::StatusOr<std::map<std::string, int32_t>> PartitionCounts(rd_kafka_t* client,
                                                               int timeout_ms = kAdminTimeoutMs);

// Creates `topics` with `replication_factor` replicas (-1: the broker's
// default.replication.factor). A topic that already exists is not an error; every other
// refusal is, naming the topic.
absl::Status CreateTopics(rd_kafka_t* client, const std::vector<TopicSpec>& topics,
                          int replication_factor, int timeout_ms = kAdminTimeoutMs);

// Deletes `topics` and waits until the cluster's metadata no longer lists them (so they can be
// created again at once). A topic already gone is not an error.
absl::Status DeleteTopics(rd_kafka_t* client, const std::vector<std::string>& topics,
                          int timeout_ms = 3 * kAdminTimeoutMs);

// Names of the cluster's consumer groups.
absl::StatusOr<std::vector<std::string>> ListGroups(rd_kafka_t* client,
                                                    int timeout_ms = kAdminTimeoutMs);

// Deletes consumer groups with no active members (and their committed offsets).
absl::Status DeleteGroups(rd_kafka_t* client, const std::vector<std::string>& groups,
                          int timeout_ms = kAdminTimeoutMs);

// The log start (`low`) and end (`high`) offsets of `topic`'s `partition`. Errors a moving
// leader causes (NOT_LEADER_OR_FOLLOWER, LEADER_NOT_AVAILABLE, a broker that just went away)
// are retried until `timeout_ms` passes, as a real cluster gives them for a moment after a
// topic is created or a broker restarts.
absl::Status QueryWatermarks(rd_kafka_t* client, const std::string& topic, int32_t partition,
                             int64_t* low, int64_t* high, int timeout_ms = kAdminTimeoutMs);

// Moves the log start offset of `topic`'s `partition` to `offset` (DeleteRecords), as retention
// would.
absl::Status DeleteRecordsBefore(rd_kafka_t* client, const std::string& topic, int32_t partition,
                                 int64_t offset, int timeout_ms = kAdminTimeoutMs);

}  // namespace weir

#endif  // WEIR_ENGINE_KAFKA_TOPIC_ADMIN_H_
