// Which Kafka an integration test runs against. By default the embedded broker; when ctest runs
// a test's `kafka.`-prefixed twin (label `kafka`), WEIR_TEST_KAFKA_DIR names the directory in
// which `scripts/kafka.sh start` runs a real Apache Kafka cluster (the ctest fixture
// `kafka_cluster` starts and stops it), and the test runs against that.
//
// Real-cluster tests share one cluster and run one at a time (ctest RESOURCE_LOCK): each
// starts from an empty cluster (ResetRealKafka deletes the topics and groups the previous test
// left), as each embedded-broker test starts a broker of its own.
#ifndef WEIR_TESTS_SUPPORT_TEST_CLUSTER_H_
#define WEIR_TESTS_SUPPORT_TEST_CLUSTER_H_

#include <optional>
#include <string>
#include <vector>

#include "absl/status/status.h"
#include "absl/status/statusor.h"
#include "engine/kafka/client_config.h"
#include "engine/kafka/topic_admin.h"

namespace weir::test {

// The real cluster's bootstrap servers when this test runs against one; nullopt otherwise.
// A WEIR_TEST_KAFKA_DIR without a running cluster is a test failure (the fixture failed).
std::optional<std::string> RealKafkaBootstrap();

// The directory scripts/kafka.sh runs the real cluster in ("" when there is none).
std::string RealKafkaDir();

// The real cluster's Apache Kafka version (scripts/kafka.sh's DIR/version), e.g. "3.9.1"; ""
// when there is none.
std::string RealKafkaVersion();

// An admin client for `bootstrap`.
absl::StatusOr<KafkaHandle> AdminClient(const std::string& bootstrap);

// Deletes every topic (but Kafka's own `__` ones) and every consumer group of the real
// cluster at `bootstrap`, then creates `topics`.
absl::Status ResetRealKafka(const std::string& bootstrap, const std::vector<TopicSpec>& topics);

}  // namespace weir::test

#endif  // WEIR_TESTS_SUPPORT_TEST_CLUSTER_H_
