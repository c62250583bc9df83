#include "engine/embedded_broker.h"

#include <algorithm>
#include <charconv>

#include "absl/strings/str_cat.h"
#include "common/status.h"
#include "engine/kafka_status.h"
#include "engine/topic_name.h"

namespace weir {
namespace {

constexpr int32_t kMaxPartitions = 1000;

}  // namespace

absl::StatusOr<TopicSpec> ParseTopicSpec(absl::string_view text) {
  const auto invalid = [&](absl::string_view why) {
    return absl::InvalidArgumentError(
        absl::StrCat("expected NAME:PARTITIONS such as 'payments:12', got '", text, "': ", why));
  };
  const size_t colon = text.rfind(':');
  if (colon == absl::string_view::npos) return invalid("no ':PARTITIONS'");
  const absl::string_view name = text.substr(0, colon);
  const absl::string_view count = text.substr(colon + 1);
  if (!IsLegalTopicName(name)) {
    return invalid("a topic name is 1-249 letters, digits, '.', '_' or '-'");
  }
  int32_t partitions = 0;
  auto [end, ec] = std::from_chars(count.data(), count.data() + count.size(), partitions);
  if (ec != std::errc() || end != count.data() + count.size() || partitions < 1 ||
      partitions > kMaxPartitions) {
    return invalid(absl::StrCat("partitions must be a whole number in [1, ", kMaxPartitions, "]"));
  }
  return TopicSpec{.name = std::string(name), .partitions = partitions};
}

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
