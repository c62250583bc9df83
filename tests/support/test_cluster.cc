#include "tests/support/test_cluster.h"

#include <chrono>
#include <cstdlib>
#include <fstream>
#include <thread>

#include "absl/strings/match.h"
#include "absl/strings/str_cat.h"
#include "absl/strings/strip.h"
#include "common/status.h"

namespace weir::test {

std::string RealKafkaDir() {
  const char* dir = std::getenv("WEIR_TEST_KAFKA_DIR");
  return dir != nullptr ? dir : "";
}

std::string RealKafkaVersion() {
  std::ifstream in(RealKafkaDir() + "/version");
  std::string version;
  std::getline(in, version);
  return version;
}

std::optional<std::string> RealKafkaBootstrap() {
  const std::string dir = RealKafkaDir();
  if (dir.empty()) return std::nullopt;
  std::ifstream in(dir + "/bootstrap");
  std::string bootstrap;
  std::getline(in, bootstrap);
  if (bootstrap.empty()) {
    // The fixture that starts the cluster failed: fail loudly rather than fall back.
    std::fprintf(stderr,
                 "WEIR_TEST_KAFKA_DIR=%s has no bootstrap file: scripts/kafka.sh start %s\n",
                 dir.c_str(), dir.c_str());
    std::abort();
  }
  return bootstrap;
}

absl::StatusOr<KafkaHandle> AdminClient(const std::string& bootstrap) {
  WEIR_ASSIGN_OR_RETURN(KafkaConf conf,
                        BuildKafkaConf({.bootstrap_servers = bootstrap}, ClientKind::kAdmin));
  return NewKafkaClient(std::move(conf), ClientKind::kAdmin);
}

absl::Status ResetRealKafka(const std::string& bootstrap, const std::vector<TopicSpec>& topics) {
  WEIR_ASSIGN_OR_RETURN(KafkaHandle admin, AdminClient(bootstrap));
  WEIR_ASSIGN_OR_RETURN(auto counts, PartitionCounts(admin.get()));
  std::vector<std::string> old_topics;
  for (const auto& [topic, partitions] : counts) {
    if (!absl::StartsWith(topic, "__")) old_topics.push_back(topic);
  }
  WEIR_RETURN_IF_ERROR(DeleteTopics(admin.get(), old_topics));
  // A group whose members were statically configured (group.instance.id) keeps them after
  // they stop, until their session times out: wait for that rather than fail.
  const auto deadline = std::chrono::steady_clock::now() + std::chrono::seconds(90);
  while (true) {
    WEIR_ASSIGN_OR_RETURN(std::vector<std::string> groups, ListGroups(admin.get()));
    const absl::Status deleted = DeleteGroups(admin.get(), groups);
    if (deleted.ok()) break;
    if (!absl::StrContains(deleted.message(), "NON_EMPTY_GROUP") ||
        std::chrono::steady_clock::now() > deadline) {
      return deleted;
    }
    std::this_thread::sleep_for(std::chrono::milliseconds(500));  // sessions expiring
  }
  return CreateTopics(admin.get(), topics, -1);
}

}  // namespace weir::test
