// What the multi-process benchmarks (`weir bench failover`, `weir bench kstreams`) share: child
// processes with their output in a log file, and a copy of the fraud configuration naming a
// run's own topics.
#ifndef WEIR_BENCH_PROCESSES_H_
#define WEIR_BENCH_PROCESSES_H_

#include <sys/types.h>

#include <chrono>
#include <memory>
#include <string>
#include <vector>

#include "absl/status/status.h"
#include "absl/status/statusor.h"

namespace weir::bench {

// A child process with stdout and stderr appended to a log file; killed when destroyed.
class Child {
 public:
  // Runs argv[0] (a path; no PATH lookup unless `search_path`) with stdin from /dev/null.
  static absl::StatusOr<std::unique_ptr<Child>> Start(const std::vector<std::string>& argv,
                                                      const std::string& log_path,
                                                      bool search_path = false);
  ~Child();
  Child(const Child&) = delete;
  Child& operator=(const Child&) = delete;

  void Signal(int signal_number);
  // The exit status (128 + n for signal n), or -1 if still running after `timeout`.
  int Wait(std::chrono::milliseconds timeout);
  pid_t pid() const { return pid_; }

 private:
  explicit Child(pid_t pid) : pid_(pid) {}
  pid_t pid_;
  bool exited_ = false;
  int status_ = -1;
};

// Writes to `out_path` a copy of the fraud configuration at `fraud_config_path` whose `topics:`
// block names `payments`, `alerts` and `dlq` instead, and checks that the copy loads with them.
absl::Status WriteRenamedFraudConfig(const std::string& fraud_config_path,
                                     const std::string& out_path, const std::string& payments,
                                     const std::string& alerts, const std::string& dlq);

}  // namespace weir::bench

#endif  // WEIR_BENCH_PROCESSES_H_
