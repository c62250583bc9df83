// What the multi-process benchmarks (`weir bench failover`, `weir bench kstreams`) share beyond
// common/subprocess.h (their child processes): a copy of the fraud configuration naming a run's
// own topics.
#ifndef WEIR_BENCH_PROCESSES_H_
#define WEIR_BENCH_PROCESSES_H_

#include <string>

#include "absl/status/status.h"
#include "common/subprocess.h"

namespace weir::bench {

// Writes to `out_path` a copy of the fraud configuration at `fraud_config_path` whose `topics:`
// block names `payments`, `alerts` and `dlq` instead, and checks that the copy loads with them.
absl::Status WriteRenamedFraudConfig(const std::string& fraud_config_path,
                                     const std::string& out_path, const std::string& payments,
                                     const std::string& alerts, const std::string& dlq);

}  // namespace weir::bench

#endif  // WEIR_BENCH_PROCESSES_H_
