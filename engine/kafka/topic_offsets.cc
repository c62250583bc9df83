#include "engine/kafka/topic_offsets.h"

#include <algorithm>

#include "absl/strings/match.h"
#include "absl/strings/str_cat.h"
#include "common/status.h"
#include "engine/kafka/kafka_status.h"
#include "engine/kafka/topic_admin.h"

namespace weir {

absl::StatusOr<std::unique_ptr<TopicOffsetsReader>> TopicOffsetsReader::Open(
    const ClientProperties& properties) {
  WEIR_ASSIGN_OR_RETURN(KafkaConf conf, BuildKafkaConf(properties, ClientKind::kAdmin));
  WEIR_ASSIGN_OR_RETURN(KafkaHandle client, NewKafkaClient(std::move(conf), ClientKind::kAdmin));
  return std::unique_ptr<TopicOffsetsReader>(new TopicOffsetsReader(std::move(client)));
}

absl::StatusOr<std::vector<TopicOffsets>> TopicOffsetsReader::Read(
    std::chrono::milliseconds timeout) {
  const rd_kafka_metadata_t* metadata = nullptr;
  WEIR_RETURN_IF_ERROR(KafkaStatus(rd_kafka_metadata(client_.get(), /*all_topics=*/1, nullptr,
                                                     &metadata, static_cast<int>(timeout.count())),
                                   "reading cluster metadata"));
  std::unique_ptr<const rd_kafka_metadata_t, decltype(&rd_kafka_metadata_destroy)> owned(
      metadata, &rd_kafka_metadata_destroy);

  std::vector<TopicOffsets> topics;
  for (int t = 0; t < metadata->topic_cnt; ++t) {
    const rd_kafka_metadata_topic_t& topic = metadata->topics[t];
    if (topic.err != RD_KAFKA_RESP_ERR_NO_ERROR || absl::StartsWith(topic.topic, "__")) continue;
    TopicOffsets offsets{.topic = topic.topic, .partitions = topic.partition_cnt};
    for (int p = 0; p < topic.partition_cnt; ++p) {
      int64_t low = 0;
      int64_t high = 0;
      WEIR_RETURN_IF_ERROR(QueryWatermarks(client_.get(), topic.topic, topic.partitions[p].id, &low,
                                           &high, static_cast<int>(timeout.count())));
      offsets.end_offsets += high;
      offsets.retained += high - low;
    }
    topics.push_back(std::move(offsets));
  }
  std::sort(topics.begin(), topics.end(),
            [](const TopicOffsets& a, const TopicOffsets& b) { return a.topic < b.topic; });
  return topics;
}

int64_t CommittedRecords(const std::string& bootstrap, const std::string& group,
                         const std::string& topic, int partitions) {
  absl::StatusOr<KafkaConf> conf = BuildKafkaConf(
      {.bootstrap_servers = bootstrap, .common = {{"group.id", group}}}, ClientKind::kConsumer);
  if (!conf.ok()) return -1;
  absl::StatusOr<KafkaHandle> consumer = NewKafkaClient(*std::move(conf), ClientKind::kConsumer);
  if (!consumer.ok()) return -1;
  rd_kafka_topic_partition_list_t* list = rd_kafka_topic_partition_list_new(partitions);
  for (int p = 0; p < partitions; ++p) rd_kafka_topic_partition_list_add(list, topic.c_str(), p);
  int64_t total = -1;
  if (rd_kafka_committed(consumer->get(), list, 10'000) == RD_KAFKA_RESP_ERR_NO_ERROR) {
    total = 0;
    for (int i = 0; i < list->cnt; ++i) total += std::max<int64_t>(list->elems[i].offset, 0);
  }
  rd_kafka_topic_partition_list_destroy(list);
  rd_kafka_consumer_close(consumer->get());
  return total;
}

}  // namespace weir
