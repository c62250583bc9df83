// `weir broker` as a process of its own for tests that kill or restart weir around it (the
// group offsets they watch for progress: CommittedRecords in engine/kafka/topic_offsets.h).
#ifndef WEIR_TESTS_SUPPORT_BROKER_PROCESS_H_
#define WEIR_TESTS_SUPPORT_BROKER_PROCESS_H_

#include <memory>
#include <string>
#include <vector>

#include <gtest/gtest.h>

#include <filesystem>

#include "absl/status/statusor.h"
#include "tests/support/subprocess.h"

namespace weir::test {

struct BrokerProcess {
  // SIGTERM it to stop the broker; null on a real cluster (tests/support/test_cluster.h).
  std::unique_ptr<Subprocess> process;
  std::string bootstrap;
};

// The topics the fraud application `application` needs with `partitions` partitions each:
// payments, fraud-alerts and payments-dlq, the store's changelog and the membership topic, as
// "name:partitions" for StartBroker.
std::vector<std::string> FraudTopics(const std::string& application, int partitions);

// Starts a one-broker embedded cluster with `topics` ("name:partitions"; the embedded broker
// has no CreateTopics, so changelog topics must be listed too), its log appended to `log_path`.
// When the test runs against a real cluster, empties that cluster and creates `topics` there.
absl::StatusOr<BrokerProcess> StartBroker(const std::vector<std::string>& topics,
                                          const std::string& log_path);

// A test of the fraud application on its own broker, with a scratch directory kept when the
// test fails.
class FraudBrokerTest : public ::testing::Test {
 protected:
  // Makes an empty `<temp>/weir-<name>-<pid>` (root_) and starts a broker with
  // FraudTopics(application, partitions) (broker_, bootstrap_); call with ASSERT_NO_FATAL_FAILURE.
  void StartBrokerIn(const std::string& name, const std::string& application, int partitions);
  void TearDown() override;  // stops the broker, removes root_ unless the test failed

  std::filesystem::path root_;
  std::unique_ptr<Subprocess> broker_;  // null on a real cluster
  std::string bootstrap_;
};

}  // namespace weir::test

#endif  // WEIR_TESTS_SUPPORT_BROKER_PROCESS_H_
