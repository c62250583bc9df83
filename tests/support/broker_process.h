// `weir broker` as a process of its own for tests that kill or restart weir around it, and the
// group offsets those tests watch for progress.
#ifndef WEIR_TESTS_SUPPORT_BROKER_PROCESS_H_
#define WEIR_TESTS_SUPPORT_BROKER_PROCESS_H_

#include <memory>
#include <string>
#include <vector>

#include "absl/status/statusor.h"
#include "tests/support/subprocess.h"

namespace weir::testing {

struct BrokerProcess {
  std::unique_ptr<Subprocess> process;  // SIGTERM it to stop the broker
  std::string bootstrap;
};

// Starts a one-broker embedded cluster with `topics` ("name:partitions"; the embedded broker
// has no CreateTopics, so changelog topics must be listed too), its log appended to `log_path`.
absl::StatusOr<BrokerProcess> StartBroker(const std::vector<std::string>& topics,
                                          const std::string& log_path);

// The offsets group `group` has committed on `topic`'s `partitions` partitions, summed: the
// records it has consumed and committed. -1 when the group has committed nothing readable.
int64_t CommittedRecords(const std::string& bootstrap, const std::string& group,
                         const std::string& topic, int partitions);

}  // namespace weir::testing

#endif  // WEIR_TESTS_SUPPORT_BROKER_PROCESS_H_
