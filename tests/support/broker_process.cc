#include "tests/support/broker_process.h"

#include <signal.h>
#include <unistd.h>

#include <chrono>

#include "absl/strings/str_cat.h"
#include "tests/support/test_cluster.h"
#include "topologies/fraud_topology.h"

namespace weir::test {

void FraudBrokerTest::StartBrokerIn(const std::string& name, const std::string& application,
                                    int partitions) {
  root_ = std::filesystem::temp_directory_path() / absl::StrCat("weir-", name, "-", ::getpid());
  std::error_code ignored;
  std::filesystem::remove_all(root_, ignored);
  std::filesystem::create_directories(root_);
  absl::StatusOr<BrokerProcess> broker =
      StartBroker(FraudTopics(application, partitions), (root_ / "broker.log").string());
  ASSERT_TRUE(broker.ok()) << broker.status();
  broker_ = std::move(broker->process);
  bootstrap_ = broker->bootstrap;
}

void FraudBrokerTest::TearDown() {
  if (broker_ != nullptr) broker_->Signal(SIGTERM);
  RemoveUnlessFailed(root_);
}

std::vector<std::string> FraudTopics(const std::string& application, int partitions) {
  std::vector<std::string> topics;
  for (const char* topic : {"payments", "fraud-alerts", "payments-dlq"}) {
    topics.push_back(absl::StrCat(topic, ":", partitions));
  }
  for (const TopicSpec& topic : fraud::FraudInternalTopics(application, partitions)) {
    topics.push_back(absl::StrCat(topic.name, ":", topic.partitions));
  }
  return topics;
}

absl::StatusOr<BrokerProcess> StartBroker(const std::vector<std::string>& topics,
                                          const std::string& log_path) {
  if (std::optional<std::string> bootstrap = RealKafkaBootstrap(); bootstrap.has_value()) {
    std::vector<TopicSpec> specs;
    for (const std::string& topic : topics) {
      absl::StatusOr<TopicSpec> spec = ParseTopicSpec(topic);
      if (!spec.ok()) return spec.status();
      specs.push_back(*std::move(spec));
    }
    if (absl::Status reset = ResetRealKafka(*bootstrap, specs); !reset.ok()) return reset;
    return BrokerProcess{nullptr, *bootstrap};
  }
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

}  // namespace weir::test
