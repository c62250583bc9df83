// `weir bench failover`: what an instance's death costs, with and without standby replicas.
//
// Operation, with real processes on loopback: `weir broker` (one embedded broker with every
// topic the fraud application needs) or a real cluster (bootstrap_servers), `instances` x `weir run` (one stream thread each, own
// state.dir, own HTTP port, a short session.timeout.ms), and `weir loadgen`:
//  1. fill: `fill_records` payments as fast as possible; wait until every instance has
//     processed them and, with standbys, every standby is within acceptable.recovery.lag - the
//     state a failover must bring back;
//  2. stream: `stream_records` more at `rate`/s; `kill_after_s` into it the last instance is
//     killed with SIGKILL;
//  3. the survivors' /tasks are read every 100 ms until every task of the dead instance, and
//     every task `range` shuffled between the survivors, has processed a record on its new
//     owner; then until the stream is processed.
// Per moved task it reports the new owner, whether a caught-up standby of it was there at the
// kill (from the /tasks read just before), the changelog records restored on the new owner, and
// the failover time: kill -> the first record the new owner processed. On the embedded broker
// the failover time is mostly the group protocol: the death is noticed after
// session.timeout.ms, and the mock cluster's join phase then waits session.timeout.ms - 1 s
// whoever has rejoined (rdkafka_mock_cgrp.c), so the floor is about twice the session timeout.
#ifndef WEIR_BENCH_FAILOVER_H_
#define WEIR_BENCH_FAILOVER_H_

#include <cstdint>
#include <functional>
#include <string>
#include <vector>

#include "absl/status/statusor.h"

namespace weir::bench {

// The application.id of the instances RunFailover starts.
inline constexpr char kFailoverApplication[] = "failover-bench";

struct FailoverOptions {
  std::string weir_binary;  // the weir executable to start
  // A real cluster to run on; empty: start `weir broker`. The run's topics are named
  // `failover-bench-payments`, `-fraud-alerts`, `-payments-dlq` (a copy of the fraud
  // configuration in work_dir names them); a previous run's are deleted first.
  std::string bootstrap_servers;
  std::string config_path = "config/weir.yaml";
  std::vector<std::string> overrides;  // more --set KEY=VALUE for every instance
  std::string work_dir;                // scratch: logs, state directories (emptied first)
  int instances = 3;
  int partitions = 12;
  int standby_replicas = 1;
  int64_t fill_records = 0;
  int64_t stream_records = 60'000;  // must outlast the failover (RunFailover checks)
  double rate = 2'000;              // payments/s in the stream phase (also their spacing)
  int64_t start_ts = 0;             // event time of the stream's first payment; 0 = now
  double kill_after_s = 6;
  // > 0: instead of killing the last instance, stop it (SIGSTOP) for this long - a long pause
  // or a network blip - then resume it (SIGCONT). Every instance must then run and be ready
  // again, the paused one owning tasks (FailoverReport::rejoin_ms).
  double pause_s = 0;
  int64_t cards = 20'000;
  uint64_t seed = 1;
  int64_t session_timeout_ms = 6'000;
  int64_t acceptable_recovery_lag = 10'000;
  // Called once every payment is processed, before the processes stop (e.g. to read topics).
  std::function<void(const std::string& bootstrap, const std::string& alerts_topic)> before_stop;
};

struct MovedTask {
  std::string task;
  std::string from;  // instance ids
  std::string to;
  bool standby_on_new_owner = false;  // a caught-up standby of it was there at the kill
  int64_t standby_lag = -1;           // its lag then (-1: no standby there)
  int64_t restored = 0;      // changelog records restored on the new owner (creations seen)
  int64_t failover_ms = -1;  // kill -> first record processed by the new owner
};

struct FailoverReport {
  int standby_replicas = 0;
  int64_t fill_records = 0;
  int64_t stream_records = 0;
  int64_t state_changelog_records = 0;  // changelog records of every task at the kill
  std::string killed;                   // instance id (the paused one in a pause trial)
  std::vector<MovedTask> moved;
  // Changelog records the survivors restored after the kill (their instance counters: every
  // restoration, also of a task created and revoked between two reads of /tasks).
  int64_t records_restored = 0;
  int64_t failover_ms_median = -1;
  int64_t failover_ms_max = -1;
  std::string survivor_metrics;  // the first survivor's /metrics once everything is processed
  // Pause trial (FailoverOptions::pause_s): resume -> every instance ready, the paused one
  // owning tasks again; and what its threads recovered from: assignments the group had taken
  // away, and task migrations (Kafka Streams' TaskMigratedException: a fenced producer or a
  // stale generation).
  int64_t rejoin_ms = -1;
  int64_t assignments_lost = 0;
  int64_t task_migrations = 0;
};

absl::StatusOr<FailoverReport> RunFailover(const FailoverOptions& options);

// A table of the reports, one block per report, and their comparison.
std::string FailoverTable(const std::vector<FailoverReport>& reports);

// The reports as a JSON array (`weir bench failover --output`), one object per report with its
// moved tasks.
std::string FailoverJson(const std::vector<FailoverReport>& reports);

}  // namespace weir::bench

#endif  // WEIR_BENCH_FAILOVER_H_
