#include "bench/client_perf.h"

#include <chrono>

#include "absl/strings/str_cat.h"
#include "common/status.h"
#include "engine/kafka/kafka_status.h"

namespace weir::bench {

absl::StatusOr<ConsumeTotals> ConsumeThroughput(const ClientProperties& properties,
                                                const std::string& topic, int64_t records) {
  WEIR_ASSIGN_OR_RETURN(KafkaConf conf, BuildKafkaConf(properties, ClientKind::kConsumer));
  WEIR_ASSIGN_OR_RETURN(KafkaHandle consumer,
                        NewKafkaClient(std::move(conf), ClientKind::kConsumer));
  rd_kafka_t* c = consumer.get();
  const rd_kafka_metadata_t* metadata = nullptr;
  rd_kafka_topic_t* handle = rd_kafka_topic_new(c, topic.c_str(), nullptr);
  const absl::Status read = KafkaStatus(rd_kafka_metadata(c, 0, handle, &metadata, 10'000),
                                        absl::StrCat("reading the metadata of ", topic));
  rd_kafka_topic_destroy(handle);
  WEIR_RETURN_IF_ERROR(read);
  rd_kafka_topic_partition_list_t* list = rd_kafka_topic_partition_list_new(16);
  if (metadata->topic_cnt == 1 && metadata->topics[0].err == RD_KAFKA_RESP_ERR_NO_ERROR) {
    for (int p = 0; p < metadata->topics[0].partition_cnt; ++p) {
      rd_kafka_topic_partition_list_add(list, topic.c_str(), p)->offset = RD_KAFKA_OFFSET_BEGINNING;
    }
  }
  rd_kafka_metadata_destroy(metadata);
  const int partitions = list->cnt;
  const absl::Status assigned = KafkaStatus(rd_kafka_assign(c, list), "assigning");
  rd_kafka_topic_partition_list_destroy(list);
  WEIR_RETURN_IF_ERROR(assigned);
  if (partitions == 0) return absl::NotFoundError(absl::StrCat("topic ", topic, " not found"));
  ConsumeTotals totals;
  std::chrono::steady_clock::time_point start;
  auto last = std::chrono::steady_clock::now();
  while (totals.messages < records) {
    rd_kafka_message_t* m = rd_kafka_consumer_poll(c, 1000);
    if (m == nullptr) {
      if (std::chrono::steady_clock::now() - last > std::chrono::seconds(10)) {
        rd_kafka_consumer_close(c);
        return absl::DeadlineExceededError(
            absl::StrCat("read ", totals.messages, " of ", records, " records of ", topic,
                         ", then nothing for 10 s: does the topic hold that many?"));
      }
      continue;
    }
    last = std::chrono::steady_clock::now();
    if (m->err == RD_KAFKA_RESP_ERR_NO_ERROR) {
      if (totals.messages == 0) start = last;  // from the first record, as the perf test
      ++totals.messages;
      totals.bytes += static_cast<int64_t>(m->len + m->key_len);
    }
    rd_kafka_message_destroy(m);
  }
  totals.seconds = std::chrono::duration<double>(std::chrono::steady_clock::now() - start).count();
  rd_kafka_consumer_close(c);
  return totals;
}

}  // namespace weir::bench
