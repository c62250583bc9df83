#include "tests/support/broker_process.h"

#include <algorithm>
#include <chrono>

#include "absl/strings/str_cat.h"
#include "engine/client_config.h"

namespace weir::testing {

absl::StatusOr<BrokerProcess> StartBroker(const std::vector<std::string>& topics,
                                          const std::string& log_path) {
  std::vector<std::string> argv = {WeirBinary(),          "broker", "--brokers", "1",
                                   "--progress-interval", "0"};
  for (const std::string& topic : topics) {
    argv.push_back("--topic");
    argv.push_back(topic);
  }
  absl::StatusOr<std::unique_ptr<Subprocess>> process = Subprocess::Start(argv, log_path);
  if (!process.ok()) return process.status();
  std::optional<std::string> bootstrap = (*process)->ReadLine(std::chrono::seconds(60));
  if (!bootstrap.has_value()) {
    return absl::DeadlineExceededError(
        absl::StrCat("the broker printed no bootstrap servers; see ", log_path));
  }
  return BrokerProcess{*std::move(process), *bootstrap};
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

}  // namespace weir::testing
