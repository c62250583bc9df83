// Who is in the application, and what each instance holds: the membership topic.
//
// librdkafka has no custom group assignor and the embedded broker no DescribeGroups
// (docs/broker.md), so instances learn about each other from a small topic of their own,
// `<application.id>-instances`: every instance heartbeats there once a second - its process
// id, its endpoint (`application.server`), the group member id of each stream thread, its
// active tasks (with input lag and how each was restored) and its standby tasks (with their
// changelog lag). Every instance reads the whole topic; the latest heartbeat of each instance
// is its view. An instance is gone when it says so (a last heartbeat with `leaving` on a clean
// shutdown) or when its latest heartbeat is older than its `session.timeout.ms` (which it
// reports) - the same time after which the group drops its members. `weir status` reads the same
// topic.
//
// The view drives standby placement (engine/runtime/standby_placement.h): with every member id
// known, each instance computes where tasks would land if any one instance left.
//
// Concurrency: Membership runs one thread of its own (a producer and an assign-only consumer).
// View() may be called from any thread; the callbacks run on the membership thread.
#ifndef WEIR_ENGINE_RUNTIME_MEMBERSHIP_H_
#define WEIR_ENGINE_RUNTIME_MEMBERSHIP_H_

#include <atomic>
#include <functional>
#include <map>
#include <memory>
#include <string>
#include <thread>
#include <vector>

#include "absl/status/statusor.h"
#include "absl/synchronization/mutex.h"
#include "engine/kafka/client_config.h"
#include "engine/processor/topology.h"
#include "engine/runtime/app_config.h"

namespace weir {

// The topic instances heartbeat on.
std::string MembershipTopic(const std::string& application_id);

struct ActiveTaskView {
  TaskId id;
  std::string thread;
  int64_t input_lag = -1;           // records behind the input's end (-1: not yet known)
  int64_t restored = 0;             // changelog records restored when the task was created
  int64_t restore_remaining = 0;    // still to restore (0 once processing)
  int64_t created_ms = 0;           // wall clock when this instance took the task
  int64_t first_processed_ms = -1;  // wall clock of its first record processed here
  bool from_standby = false;        // its state was a standby's here when it was created
};

struct StandbyTaskView {
  TaskId id;
  int64_t lag = 0;         // changelog records behind the changelogs' ends
  int64_t applied = 0;     // changelog records applied since this instance opened it
  bool caught_up = false;  // lag <= acceptable.recovery.lag
};

// One instance's heartbeat.
struct InstanceView {
  std::string instance;  // process id
  std::string endpoint;  // application.server
  int64_t heartbeat_ms = 0;
  int64_t expiry_ms = 45'000;  // its group session.timeout.ms: silent longer than this, it is gone
  bool leaving = false;
  std::vector<std::string> member_ids;  // one per stream thread that joined the group
  int64_t records_restored = 0;  // changelog records its active tasks restored since it started
  std::vector<ActiveTaskView> active;
  std::vector<StandbyTaskView> standby;

  std::string ToJson() const;
  static absl::StatusOr<InstanceView> FromJson(std::string_view json);
};

// Reads the membership topic: the latest heartbeat of every instance.
class MembershipReader {
 public:
  // Starts at the last `history` heartbeats of each partition. The topic's metadata and offsets
  // are read within `timeout_ms` (DeadlineExceeded or librdkafka's timeout error after that).
  static absl::StatusOr<std::unique_ptr<MembershipReader>> Create(const AppConfig& config,
                                                                  const std::string& client_id,
                                                                  int64_t history = 1000,
                                                                  int timeout_ms = 10'000);
  // Reads what has arrived, waiting up to `timeout_ms` for the first record.
  absl::Status Poll(int timeout_ms);
  // Reads until every partition's end as of now (`weir status`), or `timeout_ms` passes.
  absl::Status CatchUp(int timeout_ms);
  // Instances not leaving whose latest heartbeat at `now_ms` is younger than the expiry each
  // reports (its session.timeout.ms).
  std::vector<InstanceView> Live(int64_t now_ms) const;

 private:
  MembershipReader() = default;
  KafkaHandle consumer_;
  std::map<int32_t, int64_t> ends_;  // partition -> end offset when created
  std::map<std::string, InstanceView> latest_;
  int64_t undecodable_ = 0;
};

class Membership {
 public:
  // `self` builds this instance's heartbeat; `on_view` hears the live instances (this one
  // included) after each heartbeat round.
  static absl::StatusOr<std::unique_ptr<Membership>> Create(
      const AppConfig& config, std::function<InstanceView()> self,
      std::function<void(const std::vector<InstanceView>&)> on_view,
      std::function<int64_t()> wall_clock);
  ~Membership();

  void Start();
  // Sends a last heartbeat with `leaving` set, then stops the thread.
  void Stop();
  std::vector<InstanceView> View() const;
  // How long a silent instance still counts as present: the group's session.timeout.ms.
  int64_t expiry_ms() const { return expiry_ms_; }

 private:
  Membership() = default;
  void Run();
  void Heartbeat(bool leaving);

  std::string topic_;
  std::function<InstanceView()> self_;
  std::function<void(const std::vector<InstanceView>&)> on_view_;
  std::function<int64_t()> wall_clock_;
  int64_t expiry_ms_ = 45'000;
  KafkaHandle producer_;
  std::unique_ptr<MembershipReader> reader_;
  std::thread thread_;
  std::atomic<bool> stop_{false};
  mutable absl::Mutex mutex_;
  std::vector<InstanceView> view_ ABSL_GUARDED_BY(mutex_);
};

}  // namespace weir

#endif  // WEIR_ENGINE_RUNTIME_MEMBERSHIP_H_
