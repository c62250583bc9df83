#include "engine/runtime/internal/stream_clients.h"

#include <vector>

#include "absl/strings/str_cat.h"
#include "absl/strings/str_join.h"

namespace weir::internal {

absl::StatusOr<ClientProperties> StreamConsumerProperties(
    const AppConfig& config, const std::string& thread_name, const std::string& group_instance_id,
    const std::map<std::string, int32_t, std::less<>>& subtopology_of_topic) {
  std::map<int32_t, std::vector<std::string>> topics_of_subtopology;
  for (const auto& [topic, sub] : subtopology_of_topic) {
    topics_of_subtopology[sub].push_back(topic);
  }
  std::string co_partitioned;
  for (const auto& [sub, topics] : topics_of_subtopology) {
    if (topics.size() > 1 && co_partitioned.empty()) {
      co_partitioned =
          absl::StrCat("sub-topology ", sub, " reads ", absl::StrJoin(topics, " and "));
    }
  }
  // Defaults first, then the user's properties, which win.
  const bool exactly_once = config.processing_guarantee == ProcessingGuarantee::kExactlyOnceV2;
  ClientProperties properties{.bootstrap_servers = config.bootstrap_servers};
  properties.common = {
      {"group.id", config.application_id},
      {"client.id", absl::StrCat(thread_name, "-consumer")},
      {"enable.auto.commit", "false"},
      {"enable.auto.offset.store", "false"},
      {"auto.offset.reset", "earliest"},
      {"partition.assignment.strategy", "range"},
      {"isolation.level", exactly_once ? "read_committed" : "read_uncommitted"},
      // Client statistics (lag, bytes, latency) for the metrics; 0 turns them off.
      {"statistics.interval.ms", "5000"}};
  if (!group_instance_id.empty()) properties.common["group.instance.id"] = group_instance_id;
  for (const auto& [k, v] : config.kafka) properties.common[k] = v;
  properties.specific = config.consumer;
  auto strategy = properties.specific.find("partition.assignment.strategy");
  if (strategy == properties.specific.end()) {
    strategy = properties.common.find("partition.assignment.strategy");  // the default
  }
  if (!co_partitioned.empty() && strategy->second != "range") {
    return absl::InvalidArgumentError(absl::StrCat(
        "partition.assignment.strategy: ", strategy->second, " may give one task's partitions ",
        "to different members, but ", co_partitioned, "; use range"));
  }
  return properties;
}

ClientProperties StreamProducerProperties(const AppConfig& config, const std::string& thread_name,
                                          const std::string& transactional_id) {
  ClientProperties properties{.bootstrap_servers = config.bootstrap_servers};
  properties.common = {{"client.id", absl::StrCat(thread_name, "-producer")},
                       {"partitioner", "murmur2_random"},
                       {"enable.idempotence", "true"},
                       // Kafka Streams overrides the producer default the same way.
                       {"linger.ms", "100"},
                       // The Java producer's buffer.memory (32 MiB), not librdkafka's 1 GiB: a
                       // bounded instance by default (`weir plan memory` counts it per thread).
                       {"queue.buffering.max.kbytes", "32768"},
                       {"statistics.interval.ms", "5000"}};
  if (config.processing_guarantee == ProcessingGuarantee::kExactlyOnceV2) {
    properties.common["transactional.id"] =
        transactional_id.empty() ? absl::StrCat(config.application_id, "-", thread_name)
                                 : transactional_id;
    // Kafka Streams' exactly-once default: a transaction a crashed instance left open (one a
    // restart cannot fence, its state directory gone with its instance id) holds
    // read_committed readers back for at most 10 s, not librdkafka's 60.
    properties.common["transaction.timeout.ms"] = "10000";
  }
  for (const auto& [k, v] : config.kafka) properties.common[k] = v;
  properties.specific = config.producer;
  return properties;
}

}  // namespace weir::internal
