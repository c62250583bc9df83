// A stream thread: one OS thread with its own group consumer and producer, running the tasks
// of the partitions its consumer is assigned (Kafka Streams' StreamThread).
//
// Operation. The loop is poll -> process -> punctuate -> maybe commit:
//  - poll: one batch of up to `max.poll.records` records from the consumer queue, waiting up
//    to `poll.ms` (rd_kafka_consume_batch_queue, which also serves the rebalance callback);
//  - process: each record runs through the task of its (topic, partition): task
//    (sub-topology of the topic, partition), created on assignment;
//  - punctuate: wall-clock punctuations of every task (stream-time ones fire as records arrive);
//  - commit, every `commit.interval.ms` (or sooner when the tasks' uncommitted writes pass
//    `statestore.uncommitted.max.bytes`): flush the tasks' stores and send their changelogs'
//    commit markers, then the Committer of the processing guarantee makes output, state and
//    offsets durable together (engine/runtime/internal/committer.h).
// The thread's producer, and the dead letters and production errors that go with it, are
// engine/runtime/internal/thread_producer.h's.
//
// Why a consumer per thread (the alternative is one consumer per instance with
// forwarded queues): it is Kafka Streams' own shape, and librdkafka then calls each consumer's
// rebalance callback on the thread that polls it, which is the thread that owns the affected
// tasks. Revocation therefore flushes, commits and closes tasks in place, with no hand-off
// between threads inside a callback. The cost: a group member per thread.
//
// Assignment and rebalancing. librdkafka runs the group assignor in the client and offers no
// custom one, so task placement is a built-in assignor's. The default is `range`: balanced by
// partition count, deterministic for a given set of members, and the only one that keeps
// partition p of every topic a sub-topology reads on one member (its task 0_p reads them all).
// Its rebalances are eager: every partition is revoked and reassigned.
// `cooperative-sticky` (consumer.partition.assignment.strategy) is supported - the callback
// hands over only what moves and keeps the other tasks open - with the loop's commits held while
// the thread's group join is pending (RebalanceWatch: librdkafka before 2.10.0 otherwise loses
// the whole assignment). It is not the default because standby placement predicts `range`
// (standby_placement.h). It is refused for a topology with a sub-topology that reads several
// topics.
// On revocation the thread commits (unless the partitions were lost: the group already moved
// on) and closes the tasks left without partitions before the callback returns; on assignment
// it creates tasks for the new partitions, which resume from their local state's offsets, else
// from the committed ones. A task whose changelogs hold more than its local state goes to the
// instance's state updater (engine/runtime/internal/state_updater.h) with its partitions paused;
// when the updater hands it back restored, the loop seeks its partitions to the offsets its state
// reflects and resumes them. The embedded broker rejects every commit from the moment a member
// starts to join (a real broker accepts them until the join completes), so a revocation's commit
// often fails there: the thread then keeps the offsets it had processed, and if the next
// assignment hands a partition back it resumes there rather than repeat records.
//
// Concurrency. Everything below Run() - consumer, producer, tasks, stores - is touched only by
// this thread; librdkafka's callbacks (rebalance, delivery reports, logs) are served from polls
// on this thread. Other threads may call RequestStop(), Join() and read snapshot().
//
// Failure. A fatal error (a record that cannot be delivered under
// `default.production.exception.handler: fail`, a deserialization error under `log_and_fail`, a
// commit or a restoration that fails) ends the loop without committing what is in flight; the
// thread's state
// becomes kDead with error() saying why, and the instance applies
// `stream.thread.error.policy`. Records are processed in arrival order per partition; there is
// no per-task buffer, so no partition needs pausing.
#ifndef WEIR_ENGINE_RUNTIME_INTERNAL_STREAM_THREAD_H_
#define WEIR_ENGINE_RUNTIME_INTERNAL_STREAM_THREAD_H_

#include <atomic>
#include <functional>
#include <map>
#include <memory>
#include <optional>
#include <set>
#include <string>
#include <thread>
#include <vector>

#include "absl/container/flat_hash_map.h"
#include "absl/status/status.h"
#include "absl/synchronization/mutex.h"
#include "common/sensor.h"
#include "engine/kafka/client_config.h"
#include "engine/metrics/thread_metrics.h"
#include "engine/processor/topology.h"
#include "engine/runtime/app_config.h"
#include "engine/runtime/internal/committer.h"
#include "engine/runtime/internal/leave_barrier.h"
#include "engine/runtime/internal/state_updater.h"
#include "engine/runtime/internal/task.h"
#include "engine/runtime/internal/thread_producer.h"
#include "engine/runtime/rebalance_watch.h"
#include "engine/runtime/thread_snapshot.h"

namespace weir::internal {

struct StreamThreadHooks {
  // Stateful tasks' RocksDB instances, and the instance's state updater that restores them and
  // holds its standbys: both set, or neither (stores in memory).
  TaskDbOpener open_task_db;
  StateUpdater* state_updater = nullptr;
  // The consumer's group.instance.id (static.membership); empty: a dynamic member.
  std::string group_instance_id;
  // The producer's transactional.id under exactly_once_v2: the same across restarts of the
  // instance, so a new producer fences the one a crash left. Empty: `<application.id>-<name>`.
  std::string transactional_id;
  // Called with the consumer's and the producer's configuration before each client is made.
  std::function<void(rd_kafka_conf_t*, ClientKind)> configure_client;
  // Partitions of each topic the topology reads (internal ones by their full name): a keyed
  // record is misplaced when murmur2 of its key names another (`misplaced.records`).
  std::map<std::string, int32_t> source_partitions;
  // The instance's global stores (internal/global_thread.h), for its tasks' processors.
  GlobalStoreFinder global_stores;
};

class StreamThread {
 public:
  // Creates the thread's consumer and producer (not yet subscribed). InvalidArgument when the
  // client properties do not make valid clients. `wall_clock` is called from this thread and
  // from snapshot()'s callers: it must be thread-safe.
  static absl::StatusOr<std::unique_ptr<StreamThread>> Create(
      const AppConfig& config, std::shared_ptr<const Topology> topology, std::string thread_name,
      std::function<int64_t()> wall_clock, StreamThreadHooks hooks = {});
  ~StreamThread();

  void Start();
  // Asks the loop to finish its batch, commit, wait at `barrier` (when given) for the
  // instance's other threads to commit too, then close its tasks and leave the group.
  void RequestStop(std::shared_ptr<LeaveBarrier> barrier = nullptr) {
    absl::MutexLock lock(&mutex_);
    if (stop_requested_) return;
    leave_barrier_ = std::move(barrier);
    stop_requested_ = true;
    // A poll waiting up to poll.ms for a first record returns now.
    if (consumer_queue_ != nullptr) rd_kafka_queue_yield(consumer_queue_.get());
  }
  void Join();

  // Interactive queries (engine/processor/state_query.h): `read` runs on this thread between two
  // batches against store `store` of active task `id`, and `done` (also on this thread) gets its
  // result; or, without `read` running, Unavailable saying why the task cannot answer here: it is
  // not assigned to this thread, it is restoring, a group join is pending (a rebalance), or the
  // thread is stopping. The poll wakes for it. Thread-safe.
  using QueryDone = std::function<void(absl::StatusOr<StoreReading>)>;
  void Query(TaskId id, std::string store, StoreRead read, QueryDone done);

  // The task is this thread's (processing or restoring) as of its last loop iteration.
  bool HoldsTask(TaskId id) const;

  const std::string& name() const { return name_; }
  ThreadState state() const { return state_; }
  // Why the thread died (kDead); OK otherwise.
  absl::Status error() const;
  ThreadSnapshot snapshot() const;

 private:
  StreamThread(const AppConfig& config, std::shared_ptr<const Topology> topology, std::string name,
               std::function<int64_t()> wall_clock, StreamThreadHooks hooks);
  absl::Status Init();
  // The thread's group consumer (not yet subscribed).
  absl::Status CreateConsumer();
  void Run();
  absl::Status RunLoop();
  // Fills batch_: waits up to `timeout_ms` for the first record, not for a full batch; the
  // count, or -1 on error.
  ssize_t PollBatch(int timeout_ms) {
    return ConsumeBatch(consumer_queue_.get(), timeout_ms, batch_);
  }
  absl::Status ProcessMessage(const rd_kafka_message_t& message, int64_t now_ms);
  // The first fatal error of the thread or its producer; OK otherwise.
  absl::Status Fatal() const { return !fatal_.ok() ? fatal_ : producer_->error(); }
  void Die(absl::Status status);

  // Commit. Each task's next input offsets (tasks without any are absent).
  std::map<TaskId, TaskDb::Offsets> OffsetsOfTasks() const;
  // kAborted when a rebalance rejected the offsets (not fatal; see CommitOrWarn).
  absl::Status Commit();
  absl::Status CommitOnce();  // Commit() without its timing
  // True (and counted) when the tasks' uncommitted writes exceed
  // statestore.uncommitted.max.bytes: the loop then commits before the interval.
  bool UncommittedOverLimit();
  // Commit(), turning a rebalance's rejection into a warning.
  absl::Status CommitOrWarn();

  // Rebalance handling (stream_thread_rebalance.cc), in the consumer's rebalance callback on
  // this thread.
  static void RebalanceCallback(rd_kafka_t* rk, rd_kafka_resp_err_t err,
                                rd_kafka_topic_partition_list_t* partitions, void* opaque);
  absl::Status OnAssign(rd_kafka_topic_partition_list_t* partitions);
  // The producer and the committer (again after a fencing).
  absl::Status CreateProducer();
  // One loop iteration: a batch polled and processed, punctuations, a commit when due.
  absl::Status Iterate();
  // Once a second: stops consuming when state.dir's free space falls under
  // state.dir.min.free.bytes, resumes once StateDirResumeBytes is free.
  absl::Status WatchDisk(int64_t now_ms);
  // Pauses (or resumes) every assigned partition whose task is not restoring.
  absl::Status PauseProcessing(bool pause);
  // Whether `status` is a task migration (committer.h: TaskMigratedError) rather than fatal.
  bool TaskMigrated(const absl::Status& status) const;
  // Recovers from a task migration as Kafka Streams does: closes every task without
  // committing, replaces the producer (fencing leaves it unusable), and takes the consumer's
  // partitions again from the tasks' last commits. An error only if that fails.
  absl::Status Rejoin(const absl::Status& cause);
  // After a restore from a changelog retention had cut (Task::LostState): logs and counts a
  // loss of live state.
  void JudgeRestore(const Task& task);
  // Commits (unless the partitions are `lost`), then closes the tasks left without partitions.
  absl::Status OnRevoke(rd_kafka_topic_partition_list_t* partitions, bool lost);

  // Task lifecycle. Opens task `id`'s state and checks it against its input and changelogs;
  // state that belongs to another log, or that a truncated changelog cannot bring up to date, is
  // wiped once and started again from what exists. A task whose changelogs hold more than its
  // state goes to the state updater (its id joins restoring_); any other is returned.
  absl::StatusOr<std::unique_ptr<Task>> CreateTask(
      TaskId id, const rd_kafka_topic_partition_list_t* assigned);
  // False (logged) when the offsets stored in `db` lie beyond the end of an `assigned`
  // partition: the state belongs to another log.
  absl::StatusOr<bool> InputMatchesState(TaskId id, TaskDb& db,
                                         const rd_kafka_topic_partition_list_t* assigned);
  // Takes back the tasks the state updater has restored and resumes their partitions where
  // their state stands; a restoration that failed is fatal.
  absl::Status ResumeRestored();
  // Seeks each partition of `seek` to its offset and resumes it with `unpositioned` ones (which
  // start at the group's committed offset); a partition a rebalance keeps from seeking stays
  // paused in unseeked_.
  absl::Status SeekAndResume(const std::map<std::pair<std::string, int32_t>, int64_t>& seek,
                             const std::vector<std::pair<std::string, int32_t>>& unpositioned);
  // Closes `task` (taken out of tasks_ or back from the state updater) and lets a standby here
  // take its state.
  void CloseTask(std::unique_ptr<Task> task);
  // Closes the tasks none of whose partitions is assigned any more.
  void CloseUnassignedTasks(const std::set<TaskId>& candidates);
  void CloseAllTasks();

  // Metrics. librdkafka's statistics (consumer and producer), on this thread's polls.
  void OnStatistics(rd_kafka_t* rk, absl::string_view json);
  static int StatisticsCallback(rd_kafka_t* rk, char* json, size_t json_len, void* opaque);
  // Refreshes the published ThreadMetrics (task figures, RocksDB statistics) when a second
  // has passed since the last time, or `force`.
  void PublishMetrics(bool force);
  // Publishes the task list and counters for snapshot(), and `member_id` when given: the group
  // member id changes only with a rebalance or on leaving.
  void PublishTasks(std::optional<std::string> member_id = std::nullopt);
  // The consumer's group member id, from librdkafka. Never call it inside a librdkafka callback:
  // rd_kafka_memberid() waits for the group coordinator's thread, which during
  // rd_kafka_consumer_close() waits for the rebalance callback - a deadlock (seen in CI).
  std::string ReadMemberId();
  // The barrier RequestStop() was given, if any (once).
  std::shared_ptr<LeaveBarrier> TakeLeaveBarrier();
  // Answers the queries Query() queued; with `refusal` set, answers them all with it.
  void AnswerQueries(std::optional<absl::Status> refusal = std::nullopt);

  const AppConfig config_;
  const std::shared_ptr<const Topology> topology_;
  const std::vector<Topology::Subtopology> subtopologies_;
  const std::string name_;
  const std::function<int64_t()> wall_clock_;
  const StreamThreadHooks hooks_;

  struct QueueDeleter {
    void operator()(rd_kafka_queue_t* queue) const { rd_kafka_queue_destroy(queue); }
  };
  KafkaHandle consumer_;
  std::unique_ptr<rd_kafka_queue_t, QueueDeleter> consumer_queue_;  // before consumer_ dies
  std::vector<rd_kafka_message_t*> batch_;
  // Holds the loop's commits while a group join is pending (rebalance_watch.h says why).
  std::unique_ptr<RebalanceWatch> rebalance_watch_;
  std::unique_ptr<ThreadProducer> producer_;
  std::unique_ptr<Committer> committer_;  // uses consumer_ and producer_
  std::thread thread_;
  std::atomic<bool> stop_requested_{false};
  std::atomic<ThreadState> state_{ThreadState::kCreated};

  // Touched only by the thread itself.
  RecordCache cache_;  // before tasks_: their stores use it
  std::map<TaskId, std::unique_ptr<Task>> tasks_;  // the tasks processing here
  std::set<TaskId> restoring_;  // this thread's tasks the state updater holds
  std::map<std::pair<std::string, int32_t>, TaskId> task_of_partition_;
  std::map<std::string, int32_t, std::less<>> subtopology_of_topic_;
  PartitionList to_pause_;  // partitions of restoring tasks, filled by OnAssign
  // Next offset to commit per assigned partition; -1 while nothing new was processed.
  std::map<std::pair<std::string, int32_t>, int64_t> next_offsets_;
  // Revoked partitions whose commit the rebalance rejected, with the offset this thread had
  // processed (and delivered the output of) up to. If the next assignment gives one back, the
  // thread resumes there instead of reprocessing from the group's older commit.
  std::map<std::pair<std::string, int32_t>, int64_t> uncommitted_revoked_;
  // Restored tasks' partitions a rebalance kept from being seeked, with their offsets: paused
  // until seeked (ResumeRestored).
  std::map<std::pair<std::string, int32_t>, int64_t> unseeked_;
  // Restoring tasks' partitions with records fetched before their pause took hold: the first
  // such offset (ProcessMessage drops them; ResumeRestored may seek back to it).
  std::map<std::pair<std::string, int32_t>, int64_t> strays_;
  // The per-record lookup, by librdkafka's topic handle: no topic string is built per record.
  // Filled as records arrive, emptied whenever the assignment changes.
  struct Assigned {
    Task* task;
    const std::string* topic;
    int64_t* next_offset;
    int32_t partitions;  // of the topic, to check keys' placement; 0: not checked
  };
  // The partition murmur2 of `raw`'s key gives when `raw` sits in another (then counted on its
  // task and logged, once a minute); nullopt when it is in place, unkeyed or not checked.
  std::optional<int32_t> Misplaced(const Assigned& assigned, const RawRecord& raw,
                                   const RecordMetadata& where, int64_t now_ms);
  absl::flat_hash_map<std::pair<const rd_kafka_topic_t*, int32_t>, Assigned> by_handle_;
  absl::Status fatal_;  // set by callbacks; ends the loop
  int64_t next_commit_ms_ = 0;
  int64_t closed_dropped_ = 0;  // counters of tasks already closed
  int64_t next_misplaced_log_ms_ = 0;
  int64_t unlogged_misplaced_ = 0;
  int64_t closed_late_ = 0;
  int64_t closed_punctuations_ = 0;

  // Sensors (Kafka Streams' thread-level metrics), recorded here and read by snapshot().
  Sensor process_sensor_, process_latency_sensor_, poll_sensor_, poll_records_sensor_,
      commit_sensor_, punctuate_sensor_, task_created_sensor_, task_closed_sensor_;
  std::atomic<int64_t> blocked_ns_{0};
  std::atomic<bool> assigned_{false};
  std::atomic<bool> restoring_any_{false};
  int64_t next_metrics_ms_ = 0;
  // Per task: the last tickers read and sensors of their growth (ThreadMetrics' rocksdb_rates).
  struct TickerSensors {
    RocksDbTickers last;
    std::map<std::string, Sensor> growth;
  };
  std::map<TaskId, TickerSensors> ticker_sensors_;

  // Counters, readable from other threads.
  std::atomic<int64_t> processed_{0};
  std::atomic<int64_t> deserialization_errors_{0};
  std::atomic<int64_t> commits_{0};
  std::atomic<int64_t> early_commits_{0};
  std::atomic<int64_t> tasks_created_{0};
  std::atomic<int64_t> tasks_closed_{0};
  std::atomic<int64_t> states_wiped_{0};
  std::atomic<int64_t> records_restored_{0};
  std::atomic<int64_t> restores_truncated_{0};
  std::atomic<int64_t> restores_lost_state_{0};
  std::atomic<int64_t> tasks_migrated_{0};  // Rejoin()s
  std::atomic<int64_t> assignments_lost_{0};  // revocations of partitions the group had moved
  int migrations_since_commit_ = 0;           // Rejoin()s since the last commit that succeeded
  std::atomic<bool> paused_for_disk_{false};
  std::atomic<int64_t> state_dir_free_bytes_{-1};  // at the last check; -1: not checked
  int64_t next_disk_ms_ = 0;
  // Counters of producers a fencing replaced; producer_ itself changes under mutex_.
  int64_t earlier_dead_letters_ ABSL_GUARDED_BY(mutex_) = 0;
  int64_t earlier_production_errors_ ABSL_GUARDED_BY(mutex_) = 0;

  mutable absl::Mutex mutex_;
  // Set by the rebalance callback; the loop re-reads the member id after the poll returns.
  bool member_id_stale_ = false;
  // What snapshot() returns besides the counters above, published by the thread.
  struct Published {
    std::vector<TaskId> tasks;
    std::string member_id;
    int64_t dropped = 0;
    int64_t late = 0;
    int64_t punctuations = 0;
    int64_t cache_hits = 0;
    int64_t cache_misses = 0;
    int64_t cache_evictions = 0;
    int64_t cache_bytes = 0;
    std::vector<TaskMetrics> task_metrics;
    KafkaClientStats consumer_stats;
    KafkaClientStats producer_stats;
  };
  Published published_ ABSL_GUARDED_BY(mutex_);
  absl::Status error_ ABSL_GUARDED_BY(mutex_);
  std::shared_ptr<LeaveBarrier> leave_barrier_ ABSL_GUARDED_BY(mutex_);
  struct PendingQuery {
    TaskId task;
    std::string store;
    StoreRead read;
    QueryDone done;
  };
  std::vector<PendingQuery> queries_ ABSL_GUARDED_BY(mutex_);
  bool queries_closed_ ABSL_GUARDED_BY(mutex_) = false;  // the loop ended: refuse at once
};

}  // namespace weir::internal

#endif  // WEIR_ENGINE_RUNTIME_INTERNAL_STREAM_THREAD_H_
