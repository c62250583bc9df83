#include "engine/embedded_broker.h"

#include <algorithm>

#include "absl/strings/str_cat.h"
#include "common/status.h"
#include "engine/kafka_status.h"
#include "engine/topic_name.h"

namespace weir {
absl::StatusOr<std::unique_ptr<EmbeddedBroker>> EmbeddedBroker::Start(int brokers) {
  if (brokers < 1 || brokers > kMaxBrokers) {
    return absl::InvalidArgumentError(
        absl::StrCat("broker count must be in [1, ", kMaxBrokers, "], got ", brokers));
  }
  // The owner handle never connects anywhere; without bootstrap servers librdkafka would warn
  // about that, so it logs errors only. The mock cluster logs through it too.
  WEIR_ASSIGN_OR_RETURN(KafkaConf conf,
                        BuildKafkaConf({.common = {{"log_level", "3"}}}, ClientKind::kProducer));
  WEIR_ASSIGN_OR_RETURN(KafkaHandle owner, NewKafkaClient(std::move(conf), ClientKind::kProducer));
  rd_kafka_mock_cluster_t* cluster = rd_kafka_mock_cluster_new(owner.get(), brokers);
  if (cluster == nullptr) {
    return absl::InternalError("librdkafka could not start the mock cluster (see log above)");
  }
  return std::unique_ptr<EmbeddedBroker>(new EmbeddedBroker(std::move(owner), cluster, brokers));
}

EmbeddedBroker::EmbeddedBroker(KafkaHandle owner, rd_kafka_mock_cluster_t* cluster, int brokers)
    : owner_(std::move(owner)),
      cluster_(cluster),
      brokers_(brokers),
      bootstrap_servers_(rd_kafka_mock_cluster_bootstraps(cluster)) {}

EmbeddedBroker::~EmbeddedBroker() {
  rd_kafka_mock_cluster_destroy(cluster_);  // before the handle it lives in
}

absl::Status EmbeddedBroker::CreateTopic(const TopicSpec& topic) {
  const int replication = std::min(3, brokers_);
  return KafkaStatus(
      rd_kafka_mock_topic_create(cluster_, topic.name.c_str(), topic.partitions, replication),
      absl::StrCat("creating topic '", topic.name, "'"));
}

}  // namespace weir
