// Standby tasks (Kafka Streams' StandbyTask + state updater): warm copies of other instances'
// task state, kept up to date from the changelogs.
//
// Operation. One thread per instance, with one assign-only consumer of the changelog
// partitions of every standby it holds. SetTargets() (from the membership view and
// engine/standby_placement.h) says which tasks this instance should hold; the loop opens the
// missing ones - the task's RocksDB instance under `state.dir`, its stores, no processors run
// and no record cache - checks them against their changelogs and reads from where each local
// state stands, and closes the ones no longer wanted (their directories stay until
// `state.cleanup.delay.ms`; a standby stays open for 3 x session.timeout.ms after the placement
// drops it, since the view changes before the group moves the tasks). Records go through the same
// CheckChangelogs + ChangelogApplier path as an active task's restoration
// (engine/internal/changelog_reader.h): whole commits only, each RocksDB write carrying the input
// offsets of its last commit. A standby is therefore always a consistent, committed state of its
// task; when the task becomes active here, the stream thread opens the same directory, restores the
// remainder of the changelogs and resumes the input exactly where that state stands.
//
// Hand-over. Before a stream thread of this instance creates an active task it calls
// ClaimForActive(): the standby's memtables are flushed (standby writes skip the WAL, as
// restoration does), its RocksDB instance closed and the task kept out of the targets until
// ReleaseFromActive() - called when the active task closes. The claim waits for the batch in
// hand (a few ms), never for the changelogs.
//
// Concurrency: SetTargets, ClaimForActive, ReleaseFromActive and snapshot() from any thread;
// everything else on the updater's own thread.
#ifndef WEIR_ENGINE_INTERNAL_STANDBY_UPDATER_H_
#define WEIR_ENGINE_INTERNAL_STANDBY_UPDATER_H_

#include <atomic>
#include <functional>
#include <map>
#include <memory>
#include <optional>
#include <set>
#include <string>
#include <thread>
#include <vector>

#include "absl/synchronization/mutex.h"
#include "engine/app_config.h"
#include "engine/client_config.h"
#include "engine/internal/changelog_reader.h"
#include "engine/internal/stream_thread.h"
#include "engine/internal/task.h"
#include "engine/membership.h"
#include "engine/topology.h"

namespace weir::internal {

class StandbyUpdater : private internal::RecordCollector {
 public:
  // Creates the changelog consumer. `open_task_db` opens a task's RocksDB instance and
  // `wall_clock` is read, both on the updater's thread only.
  static absl::StatusOr<std::unique_ptr<StandbyUpdater>> Create(
      const AppConfig& config, std::shared_ptr<const Topology> topology, TaskDbOpener open_task_db,
      std::function<int64_t()> wall_clock);
  ~StandbyUpdater() override;

  void Start();
  // Flushes and closes every standby, then stops the thread.
  void Stop();

  // The stateful tasks this instance should hold standbys of.
  void SetTargets(std::set<TaskId> targets);
  // True when a standby of `id` was open here (its state is warm).
  bool ClaimForActive(TaskId id);
  void ReleaseFromActive(TaskId id);

  std::vector<StandbyTaskView> snapshot() const;
  int64_t records_applied() const { return records_applied_; }
  // Standbys opened over the updater's life (each open of a task counts).
  int64_t tasks_opened() const { return tasks_opened_; }

 private:
  StandbyUpdater(const AppConfig& config, std::shared_ptr<const Topology> topology,
                 TaskDbOpener open_task_db, std::function<int64_t()> wall_clock);

  struct Standby {
    std::unique_ptr<internal::Task> task;
    std::unique_ptr<internal::ChangelogApplier> applier;
    std::vector<internal::ChangelogTail> tails;
    int64_t lag = 0;
    int64_t applied = 0;
    int64_t unplaced_since_ms = -1;  // when the placement stopped naming this instance
  };

  void Run();
  // Opens wanted standbys, closes unwanted ones; true when the assignment must change.
  bool Reconcile() ABSL_LOCKS_EXCLUDED(mutex_);
  // Opens and checks a standby (broker round trips: called without the lock).
  absl::StatusOr<Standby> Open(TaskId id);
  void Close(std::map<TaskId, Standby>::iterator it) ABSL_EXCLUSIVE_LOCKS_REQUIRED(mutex_);
  absl::Status Assign() ABSL_EXCLUSIVE_LOCKS_REQUIRED(mutex_);
  void RefreshLags() ABSL_EXCLUSIVE_LOCKS_REQUIRED(mutex_);

  // RecordCollector: standbys never process records, so nothing may be sent.
  void Send(const std::string& topic, RawRecord record) override;
  const int64_t* SendToPartition(const std::string& topic, int32_t partition,
                                 RawRecord record) override;

  const AppConfig config_;
  const std::shared_ptr<const Topology> topology_;
  const std::vector<Topology::Subtopology> subtopologies_;
  const TaskDbOpener open_task_db_;
  const std::function<int64_t()> wall_clock_;
  // How long a standby the placement dropped stays open: 3 x session.timeout.ms.
  const int64_t unplaced_grace_ms_;
  KafkaHandle consumer_;
  KafkaHandle offsets_client_;  // watermark queries (never assigned)
  std::thread thread_;
  std::atomic<bool> stop_{false};
  std::atomic<int64_t> records_applied_{0};
  std::atomic<int64_t> tasks_opened_{0};

  mutable absl::Mutex mutex_;
  std::set<TaskId> targets_ ABSL_GUARDED_BY(mutex_);
  std::set<TaskId> claimed_ ABSL_GUARDED_BY(mutex_);
  std::map<TaskId, Standby> standbys_ ABSL_GUARDED_BY(mutex_);
  // (changelog topic, partition) -> (task, store)
  std::map<std::pair<std::string, int32_t>, std::pair<TaskId, std::string>> reading_
      ABSL_GUARDED_BY(mutex_);
  bool assignment_stale_ ABSL_GUARDED_BY(mutex_) = false;
  std::optional<TaskId> opening_ ABSL_GUARDED_BY(mutex_);  // being opened, without the lock
  std::map<TaskId, int64_t> failed_at_ms_ ABSL_GUARDED_BY(mutex_);  // retry opening later
};

}  // namespace weir::internal

#endif  // WEIR_ENGINE_INTERNAL_STANDBY_UPDATER_H_
