// The state updater (Kafka Streams 3.x's DefaultStateUpdater): one thread per instance that
// brings local task state up to the changelogs - active tasks restoring before they process,
// and standby tasks kept warm for the active tasks of other instances.
//
// Operation. One assign-only consumer (NewChangelogConsumer) reads the changelog partitions of
// every task the updater holds; records are dispatched by (topic, partition) to their task's
// ChangelogApplier (engine/runtime/internal/changelog_reader.h), which applies whole commits only.
// Each task's reading starts at the later of where its local state stands and the changelog's
// start, and starts there again whenever the set of tasks changes (what was read and not applied is
// read again).
//  - Active tasks. A stream thread creates the task, checks it against its changelogs and, when
//    they hold more, hands it over with Restore(); its input partitions stay paused. When every
//    changelog has been read to the high watermark it was checked against, the updater flushes
//    the task's memtables (restored writes skip the WAL), keeps it for the stream thread and
//    wakes it; the stream thread takes it back (TakeRestored), seeks its input to the offsets the
//    state reflects and resumes it. The stream thread's other tasks process meanwhile: nothing
//    of a restoration runs on a stream thread. Cancel() takes a task back unfinished (its
//    partitions were revoked, or the thread stops).
//  - Standby tasks. SetTargets() (from the membership view and engine/runtime/standby_placement.h)
//    says which tasks this instance should hold; the updater opens the missing ones - the task's
//    RocksDB instance under `state.dir`, its stores, no processors run and no record cache -
//    and closes the ones no longer wanted (a standby stays open for 3 x session.timeout.ms after
//    the placement drops it, since the view changes before the group moves the tasks; its
//    directory stays until `state.cleanup.delay.ms`). Before a stream thread creates an active
//    task it calls ClaimForActive(): a standby's memtables are flushed, its RocksDB instance
//    closed and the task kept out of the targets until ReleaseFromActive() (the active task
//    closed). The claim waits for the batch in hand (a few ms), never for the changelogs.
//
// Under exactly_once_v2 the consumer reads committed records only, and a restoration is done at
// the high watermark, not at the first end of partition: that may be a last stable offset held
// back by a transaction a killed instance left open, with committed state beyond it. While such
// a transaction holds it, the restoration waits (logged once) until the broker aborts it
// (`transaction.timeout.ms`).
//
// Concurrency. Every public function may be called from any thread. The tasks the updater holds
// are touched only with its mutex held: by its own thread, and by RestoringMetrics() for other
// threads. A restoring task's record cache namespaces (its stream thread's cache) are empty -
// it has processed nothing - so applying changelog records, which invalidates cache keys,
// touches nothing the stream thread uses.
#ifndef WEIR_ENGINE_RUNTIME_INTERNAL_STATE_UPDATER_H_
#define WEIR_ENGINE_RUNTIME_INTERNAL_STATE_UPDATER_H_

#include <atomic>
#include <functional>
#include <map>
#include <memory>
#include <optional>
#include <set>
#include <string>
#include <thread>
#include <vector>

#include "absl/status/statusor.h"
#include "absl/synchronization/mutex.h"
#include "engine/kafka/client_config.h"
#include "engine/metrics/thread_metrics.h"
#include "engine/processor/state_query.h"
#include "engine/processor/topology.h"
#include "engine/runtime/app_config.h"
#include "engine/runtime/internal/changelog_reader.h"
#include "engine/runtime/internal/task.h"
#include "engine/runtime/membership.h"

namespace weir::internal {

// An interactive query's read of one store (engine/processor/state_query.h).
using StoreRead = std::function<absl::StatusOr<StoreReading>(StateStore& store)>;

// Opens the RocksDB instance of a task's state.
using TaskDbOpener = std::function<absl::StatusOr<std::unique_ptr<TaskDb>>(TaskId)>;

class StateUpdater : private RecordCollector {
 public:
  struct Options {
    TaskDbOpener open_task_db;  // standbys' state (on the updater's thread)
    // Read on the updater's thread (standby tasks' clocks and timers).
    std::function<int64_t()> wall_clock;
    // Called on the updater's thread, without its lock, when it starts reading a restoring
    // task's changelogs, with the records to restore (tests hold it to observe a restore).
    std::function<void(TaskId, int64_t remaining)> on_restore_start;
    // The instance's global stores, for the processors of the tasks it creates.
    GlobalStoreFinder global_stores;
  };

  // A task handed back: restored (status OK), failed (its state stays at its last whole
  // commit), or taken back unfinished by Cancel().
  struct Returned {
    std::unique_ptr<Task> task;
    absl::Status status;
    int64_t records_restored = 0;
  };

  // Creates the changelog consumer and the offsets client.
  static absl::StatusOr<std::unique_ptr<StateUpdater>> Create(
      const AppConfig& config, std::shared_ptr<const Topology> topology, Options options);
  ~StateUpdater() override;

  void Start();
  // Flushes and closes every standby and every task still restoring, then stops the thread.
  void Stop();

  // The instance's client for partition ends (internal::NewOffsetsClient): thread-safe.
  rd_kafka_t* offsets_client() const { return offsets_client_.get(); }

  // Active tasks. Takes `task`, whose changelogs `tails` (from CheckChangelogs, `from` <
  // `high`) hold records its state lacks, and restores it; `wake` is called (on the updater's
  // thread, with its lock held: it must only wake) once the task can be taken back.
  void Restore(std::unique_ptr<Task> task, std::vector<ChangelogTail> tails,
               std::function<void()> wake);
  // Those of `ids` whose restoration has ended, handed back.
  std::vector<Returned> TakeRestored(const std::set<TaskId>& ids);
  // Takes `id` back whether or not it is restored; null task if the updater does not hold it.
  Returned Cancel(TaskId id);
  // Metrics (restoration progress, RocksDB statistics) of those of `ids` still restoring.
  std::vector<TaskMetrics> RestoringMetrics(const std::set<TaskId>& ids, int64_t now_ms) const;

  // Standby tasks. The stateful tasks this instance should hold standbys of.
  void SetTargets(std::set<TaskId> targets);
  // True when a standby of `id` was open here (its state is warm).
  bool ClaimForActive(TaskId id);
  void ReleaseFromActive(TaskId id);
  std::vector<StandbyTaskView> standbys() const;
  // Interactive queries allowed a stale answer: `read` against store `store` of the standby of
  // `id` held here, with the standby's lag (changelog records behind, as of its last refresh).
  // Unavailable when no standby of `id` is open here. Waits for the batch in hand.
  absl::StatusOr<std::pair<StoreReading, int64_t>> QueryStandby(TaskId id,
                                                                const std::string& store,
                                                                const StoreRead& read);
  // Changelog records applied to standbys.
  int64_t standby_records_applied() const { return standby_records_applied_; }

 private:
  StateUpdater(const AppConfig& config, std::shared_ptr<const Topology> topology,
               Options options);

  // A task whose state the updater brings up to its changelogs.
  struct Updating {
    std::unique_ptr<Task> task;
    std::vector<ChangelogTail> tails;
    std::unique_ptr<ChangelogApplier> applier;
    int64_t applied = 0;
    // Active restorations only: who to wake, the records to restore when it began, the
    // changelog topics read to their high watermark, and those whose reading an open
    // transaction holds back (logged once).
    std::function<void()> wake;
    int64_t remaining = 0;
    std::set<std::string> done;
    std::set<std::string> held;
    bool announced = false;  // on_restore_start called
    // Standbys only: records behind the changelogs, and when the placement stopped naming this
    // instance (-1: it names it).
    int64_t lag = 0;
    int64_t unplaced_since_ms = -1;
    bool restoring() const { return wake != nullptr; }
  };
  using TaskMap = std::map<TaskId, Updating>;

  void Run();
  // Opens wanted standbys, closes unwanted ones.
  void ReconcileStandbys() ABSL_LOCKS_EXCLUDED(mutex_);
  // Opens and checks a standby (broker round trips: called without the lock).
  absl::StatusOr<Updating> OpenStandby(TaskId id);
  void CloseStandby(TaskMap::iterator it) ABSL_EXCLUSIVE_LOCKS_REQUIRED(mutex_);
  // Calls on_restore_start for restorations not yet announced (without the lock).
  void Announce() ABSL_LOCKS_EXCLUDED(mutex_);
  // Reassigns the consumer to every changelog partition of every task held.
  absl::Status Assign() ABSL_EXCLUSIVE_LOCKS_REQUIRED(mutex_);
  // Dispatches one consumed record (or end of partition) to its task.
  void Dispatch(const rd_kafka_message_t& m, std::set<TaskId>& touched)
      ABSL_EXCLUSIVE_LOCKS_REQUIRED(mutex_);
  // Applies what `id`'s applier holds; hands a restoration back when it ends.
  void ApplyTo(TaskId id) ABSL_EXCLUSIVE_LOCKS_REQUIRED(mutex_);
  // Moves restoring task `it` to the handed-back tasks and wakes its stream thread.
  void HandBack(TaskMap::iterator it, absl::Status status) ABSL_EXCLUSIVE_LOCKS_REQUIRED(mutex_);
  void RefreshLags() ABSL_EXCLUSIVE_LOCKS_REQUIRED(mutex_);

  // RecordCollector: the tasks here never process records, so nothing may be sent.
  void Send(const std::string& topic, RawRecord record) override;
  const int64_t* SendToPartition(const std::string& topic, int32_t partition,
                                 RawRecord record) override;

  const AppConfig config_;
  const std::shared_ptr<const Topology> topology_;
  const std::vector<Topology::Subtopology> subtopologies_;
  const Options options_;
  // How long a standby the placement dropped stays open: 3 x session.timeout.ms.
  const int64_t unplaced_grace_ms_;
  KafkaHandle consumer_;
  rd_kafka_queue_t* queue_ = nullptr;  // consumer_'s, destroyed before it
  KafkaHandle offsets_client_;         // watermark queries (never assigned)
  std::thread thread_;
  std::atomic<bool> stop_{false};
  std::atomic<int64_t> standby_records_applied_{0};

  mutable absl::Mutex mutex_;
  TaskMap tasks_ ABSL_GUARDED_BY(mutex_);
  std::map<TaskId, Returned> returned_ ABSL_GUARDED_BY(mutex_);  // until taken back
  // (changelog topic, partition) -> the task and tail it feeds
  std::map<std::pair<std::string, int32_t>, std::pair<TaskId, const ChangelogTail*>> reading_
      ABSL_GUARDED_BY(mutex_);
  bool assignment_stale_ ABSL_GUARDED_BY(mutex_) = false;
  std::set<TaskId> targets_ ABSL_GUARDED_BY(mutex_);
  std::set<TaskId> claimed_ ABSL_GUARDED_BY(mutex_);
  std::optional<TaskId> opening_ ABSL_GUARDED_BY(mutex_);  // a standby opened without the lock
  std::map<TaskId, int64_t> failed_at_ms_ ABSL_GUARDED_BY(mutex_);  // retry opening later
};

}  // namespace weir::internal

#endif  // WEIR_ENGINE_RUNTIME_INTERNAL_STATE_UPDATER_H_
