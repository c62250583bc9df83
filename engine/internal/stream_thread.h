// A stream thread: one OS thread with its own group consumer and producer, running the tasks
// of the partitions its consumer is assigned (Kafka Streams' StreamThread).
//
// Operation. The loop is poll -> process -> punctuate -> maybe commit:
//  - poll: one batch of up to `max.poll.records` records from the consumer queue, waiting up
//    to `poll.ms` (rd_kafka_consume_batch_queue, which also serves the rebalance callback);
//  - process: each record runs through the task of its (topic, partition): task
//    (sub-topology of the topic, partition), created on assignment;
//  - punctuate: wall-clock punctuations of every task (stream-time ones fire as records arrive);
//  - commit, every `commit.interval.ms`: flush the tasks' stores, flush the producer and wait for
//    every delivery, then commit the next offsets of every partition processed. Under
//    exactly_once_v2 the offsets go into the thread's transaction
//    (send_offsets_to_transaction with the consumer's group metadata), which then commits.
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
// from the committed ones. A task whose changelogs hold more than its local state restores in
// the loop (RestoreStep), its partitions paused until then, so the callback stays short. The
// embedded broker rejects every commit from the moment a member starts to join (a real broker
// accepts them until the join completes), so a revocation's commit often fails there: the thread
// then keeps the offsets it had processed, and if the next assignment hands a partition back it
// resumes there rather than repeat records.
//
// Concurrency. Everything below Run() - consumer, producer, tasks, stores - is touched only by
// this thread; librdkafka's callbacks (rebalance, delivery reports, logs) are served from polls
// on this thread. Other threads may call RequestStop(), Join() and read snapshot().
//
// Failure. A fatal error (a record that cannot be delivered under
// `default.production.exception.handler: fail`, a deserialization error under `log_and_fail`, a
// commit that fails) ends the loop without committing what is in flight; the thread's state
// becomes kDead with error() saying why, and the instance applies
// `stream.thread.error.policy`. Records are processed in arrival order per partition; there is
// no per-task buffer, so no partition needs pausing.
#ifndef WEIR_ENGINE_INTERNAL_STREAM_THREAD_H_
#define WEIR_ENGINE_INTERNAL_STREAM_THREAD_H_

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
#include "absl/time/time.h"
#include "engine/app_config.h"
#include "engine/client_config.h"
#include "engine/internal/changelog_reader.h"
#include "engine/internal/task.h"
#include "engine/rebalance_watch.h"
#include "engine/sensor.h"
#include "engine/thread_metrics.h"
#include "engine/thread_snapshot.h"
#include "engine/topology.h"

namespace weir::internal {

// Lets an instance's threads leave the group only once all have made their final commit: a
// member leaving starts a rebalance, and the broker then rejects the others' commits.
class LeaveBarrier {
 public:
  explicit LeaveBarrier(int threads) : waiting_(threads) {}
  // One thread is done committing (or will never commit); returns when all are, or after
  // `timeout`.
  void ArriveAndWait(absl::Duration timeout) {
    absl::MutexLock lock(&mutex_);
    --waiting_;
    mutex_.AwaitWithTimeout(absl::Condition(
                                +[](int* waiting) { return *waiting <= 0; }, &waiting_),
                            timeout);
  }
  void Arrive() {
    absl::MutexLock lock(&mutex_);
    --waiting_;
  }

 private:
  absl::Mutex mutex_;
  int waiting_ ABSL_GUARDED_BY(mutex_);
};

// Opens the RocksDB instance of a task's state; empty: stores in memory.
using TaskDbOpener = std::function<absl::StatusOr<std::unique_ptr<TaskDb>>(TaskId)>;

struct StreamThreadHooks {
  TaskDbOpener open_task_db;  // empty: stores in memory
  // Called on the stream thread when a task starts restoring `remaining` changelog records
  // (tests hold it to observe readiness during a restore).
  std::function<void(TaskId, int64_t remaining)> on_restore_start;
  // Called before a task's state is opened for an active task, and after the active task
  // closes (engine/standby_updater.h): the standby of the task on this instance, if any, hands
  // its state over. `claim_task` returns whether a standby held it.
  std::function<bool(TaskId)> claim_task;
  std::function<void(TaskId)> release_task;
  // The consumer's group.instance.id (static.membership); empty: a dynamic member.
  std::string group_instance_id;
  // The producer's transactional.id under exactly_once_v2: the same across restarts of the
  // instance, so a new producer fences the one a crash left. Empty: `<application.id>-<name>`.
  std::string transactional_id;
  // Called with the consumer's and the producer's configuration before each client is made.
  std::function<void(rd_kafka_conf_t*, ClientKind)> configure_client;
};

class StreamThread : private internal::RecordCollector {
 public:
  // Creates the thread's consumer and producer (not yet subscribed). InvalidArgument when the
  // client properties do not make valid clients. `wall_clock` is called from this thread and
  // from snapshot()'s callers: it must be thread-safe.
  static absl::StatusOr<std::unique_ptr<StreamThread>> Create(
      const AppConfig& config, std::shared_ptr<const Topology> topology, std::string thread_name,
      std::function<int64_t()> wall_clock, StreamThreadHooks hooks = {});
  ~StreamThread() override;

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

  const std::string& name() const { return name_; }
  ThreadState state() const { return state_; }
  // Why the thread died (kDead); OK otherwise.
  absl::Status error() const;
  ThreadSnapshot snapshot() const;

 private:
  StreamThread(const AppConfig& config, std::shared_ptr<const Topology> topology, std::string name,
               std::function<int64_t()> wall_clock, StreamThreadHooks hooks);
  // librdkafka's statistics callback (consumer and producer), on this thread's polls.
  static int StatisticsCallback(rd_kafka_t* rk, char* json, size_t json_len, void* opaque);
  // Refreshes the published ThreadMetrics (task figures, RocksDB statistics) when a second
  // has passed since the last time, or `force`.
  void PublishMetrics(bool force);
  absl::Status Init();
  void Run();
  absl::Status RunLoop();
  absl::Status ProcessMessage(const rd_kafka_message_t& message, int64_t now_ms);
  // False (logged) when the offsets stored in `db` lie beyond the end of an `assigned`
  // partition: the state belongs to another log.
  absl::StatusOr<bool> InputMatchesState(TaskId id, TaskDb& db,
                                         const rd_kafka_topic_partition_list_t* assigned);
  // Each task's next input offsets, and one task's (empty when it has none).
  std::map<internal::Task*, TaskDb::Offsets> OffsetsOfTasks() const;
  static const TaskDb::Offsets& OffsetsOf(
      const std::map<internal::Task*, TaskDb::Offsets>& offsets_of_task, internal::Task* task);
  // Writes each task's state with the offsets it reflects (after the flush).
  absl::Status CommitTasks(const std::map<internal::Task*, TaskDb::Offsets>& offsets_of_task);
  // kAborted when a rebalance rejected the offsets (not fatal; see CommitOrWarn).
  absl::Status Commit();
  absl::Status CommitOnce();  // Commit() without its timing
  // True (and counted) when the tasks' uncommitted writes exceed
  // statestore.uncommitted.max.bytes: the loop then commits before the interval.
  bool UncommittedOverLimit();
  // Commit(), turning a rebalance's rejection into a warning.
  absl::Status CommitOrWarn();
  absl::Status OnAssign(rd_kafka_topic_partition_list_t* partitions);
  // Commits (unless the partitions are `lost`), then closes the tasks left without partitions.
  absl::Status OnRevoke(rd_kafka_topic_partition_list_t* partitions, bool lost);
  using TaskMap = std::map<TaskId, std::unique_ptr<internal::Task>>;
  // Closes the task at `it`, removes it and lets a standby here take its state; returns the
  // next task.
  TaskMap::iterator CloseTask(TaskMap::iterator it);
  absl::Status SendToDeadLetterQueue(const RawRecord& raw, const RecordMetadata& where,
                                     const absl::Status& why);
  void CloseAllTasks();
  void Die(absl::Status status);
  // Publishes the task list and counters for snapshot(), and `member_id` when given: the group
  // member id changes only with a rebalance or on leaving.
  void PublishTasks(std::optional<std::string> member_id = std::nullopt);
  // The consumer's group member id, from librdkafka. Never call it inside a librdkafka callback:
  // rd_kafka_memberid() waits for the group coordinator's thread, which during
  // rd_kafka_consumer_close() waits for the rebalance callback - a deadlock (seen in CI).
  std::string ReadMemberId();
  // The barrier RequestStop() was given, if any (once).
  std::shared_ptr<LeaveBarrier> TakeLeaveBarrier();

  // RecordCollector: sinks and changelogs send through the thread's producer.
  // Dead letters (engine/dead_letter.h) are counted, cut to fit message.max.bytes and logged.
  void Send(const std::string& topic, RawRecord record) override;
  // A warning per dead letter, at most one a second; the rest are counted into the next one.
  void LogDeadLetter(const std::string& topic, const RawRecord& record, bool truncated);
  const int64_t* SendToPartition(const std::string& topic, int32_t partition,
                                 RawRecord record) override;
  // `partition` RD_KAFKA_PARTITION_UA: the partitioner's choice. `delivered_end`, when set, is
  // raised to the offset after the record once it is delivered.
  void Produce(const std::string& topic, int32_t partition, RawRecord record,
               int64_t* delivered_end);
  // Opens task `id`'s state, checks it against its input and changelogs, and restores it
  // (below); state that belongs to another log, or that a truncated changelog cannot bring up
  // to date, is wiped once and restored from what exists.
  absl::StatusOr<std::unique_ptr<internal::Task>> CreateTask(
      TaskId id, const rd_kafka_topic_partition_list_t* assigned);
  // Checks `task`'s state against its changelogs and, when they hold more, registers its
  // restoration (run by RestoreStep; the task's partitions stay paused until it ends). False
  // when a changelog no longer holds what the local state needs (its log start is beyond it)
  // and the state was not just `wiped`: the caller wipes it and tries again.
  absl::StatusOr<bool> BeginRestore(internal::Task& task, bool wiped);
  // The client for partition ends (high watermarks; internal::NewOffsetsClient), made once.
  absl::StatusOr<rd_kafka_t*> OffsetsClient();
  // One slice (about 100 ms or 10,000 records) of reading the restoring tasks' changelogs,
  // applied in whole commits; a task whose changelogs are read to their end flushes its state,
  // seeks its input to the offsets that state reflects and resumes it.
  absl::Status RestoreStep();
  // Fills batch_: waits up to `timeout_ms` for the first record, not for a full batch; the
  // count, or -1 on error.
  ssize_t PollBatch(int timeout_ms);

  static void RebalanceCallback(rd_kafka_t* rk, rd_kafka_resp_err_t err,
                                rd_kafka_topic_partition_list_t* partitions, void* opaque);
  static void DeliveryCallback(rd_kafka_t* rk, const rd_kafka_message_t* message, void* opaque);

  const AppConfig config_;
  const std::shared_ptr<const Topology> topology_;
  const std::vector<Topology::Subtopology> subtopologies_;
  const std::string name_;
  const std::function<int64_t()> wall_clock_;
  const StreamThreadHooks hooks_;
  const bool exactly_once_;

  struct QueueDeleter {
    void operator()(rd_kafka_queue_t* queue) const { rd_kafka_queue_destroy(queue); }
  };
  KafkaHandle consumer_;
  std::unique_ptr<rd_kafka_queue_t, QueueDeleter> consumer_queue_;  // before consumer_ dies
  std::vector<rd_kafka_message_t*> batch_;
  KafkaHandle producer_;
  struct TopicDeleter {
    void operator()(rd_kafka_topic_t* topic) const { rd_kafka_topic_destroy(topic); }
  };
  // Handles on the topics the producer writes, held so their metadata is known before the
  // first record (Init); before producer_ dies.
  std::vector<std::unique_ptr<rd_kafka_topic_t, TopicDeleter>> output_topics_;
  std::thread thread_;
  std::atomic<bool> stop_requested_{false};
  std::atomic<ThreadState> state_{ThreadState::kCreated};

  // Touched only by the thread itself.
  RecordCache cache_;  // before tasks_: their stores use it
  TaskMap tasks_;
  std::map<std::pair<std::string, int32_t>, internal::Task*> task_of_partition_;
  std::map<std::string, int32_t, std::less<>> subtopology_of_topic_;
  // Changelog partitions' offsets after the last delivered record (delivery reports raise them).
  std::map<std::pair<std::string, int32_t>, int64_t> changelog_ends_;
  KafkaHandle restore_consumer_;  // created on the first restoration
  KafkaHandle offsets_client_;    // internal::NewOffsetsClient's, created on first use
  // Tasks bringing their state up to their changelogs' ends before they process.
  struct Restoration {
    internal::Task* task = nullptr;
    std::vector<internal::ChangelogTail> tails;  // the changelogs with records to restore
    std::unique_ptr<internal::ChangelogApplier> applier;
    std::set<std::string> done;  // changelog topics read to their end
    // Changelog topics whose reading stopped short at an open transaction (logged once).
    std::set<std::string> held;
    int64_t remaining = 0;       // records to restore when it began
    int64_t applied = 0;
    bool announced = false;  // hooks_.on_restore_start called
  };
  std::map<TaskId, Restoration> restoring_tasks_;
  // (changelog topic, partition) -> the restoring task and tail it feeds
  std::map<std::pair<std::string, int32_t>, std::pair<TaskId, const internal::ChangelogTail*>>
      restore_reading_;
  bool restore_assignment_stale_ = false;
  PartitionList to_pause_;  // partitions of restoring tasks, filled by OnAssign
  // Next offset to commit per assigned partition; -1 while nothing new was processed.
  std::map<std::pair<std::string, int32_t>, int64_t> next_offsets_;
  // Revoked partitions whose commit the rebalance rejected, with the offset this thread had
  // processed (and delivered the output of) up to. If the next assignment gives one back, the
  // thread resumes there instead of reprocessing from the group's older commit.
  std::map<std::pair<std::string, int32_t>, int64_t> uncommitted_revoked_;
  // The per-record lookup, by librdkafka's topic handle: no topic string is built per record.
  // Filled as records arrive, emptied whenever the assignment changes.
  struct Assigned {
    internal::Task* task;
    const std::string* topic;
    int64_t* next_offset;
  };
  absl::flat_hash_map<std::pair<const rd_kafka_topic_t*, int32_t>, Assigned> by_handle_;
  absl::Status fatal_;  // set by callbacks; ends the loop
  int64_t next_commit_ms_ = 0;
  // Holds the loop's commits while a group join is pending (rebalance_watch.h says why).
  std::unique_ptr<RebalanceWatch> rebalance_watch_;
  bool in_transaction_ = false;
  int64_t closed_dropped_ = 0;  // counters of tasks already closed
  int64_t closed_late_ = 0;
  int64_t closed_punctuations_ = 0;

  // Sensors (Kafka Streams' thread-level metrics), recorded here and read by snapshot().
  Sensor process_sensor_, process_latency_sensor_, poll_sensor_, poll_records_sensor_,
      commit_sensor_, punctuate_sensor_, task_created_sensor_, task_closed_sensor_;
  std::atomic<int64_t> blocked_ns_{0};
  std::atomic<bool> assigned_{false};
  std::atomic<bool> restoring_{false};
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
  std::atomic<int64_t> dead_letters_{0};
  // The producer's message.max.bytes (librdkafka's default until Init reads it).
  size_t max_message_bytes_ = 1'000'000;
  std::chrono::steady_clock::time_point next_dead_letter_log_;
  int64_t unlogged_dead_letters_ = 0;
  std::atomic<int64_t> production_errors_{0};
  std::atomic<int64_t> commits_{0};
  std::atomic<int64_t> early_commits_{0};
  std::atomic<int64_t> tasks_created_{0};
  std::atomic<int64_t> tasks_closed_{0};
  std::atomic<int64_t> states_wiped_{0};
  std::atomic<int64_t> records_restored_{0};
  std::atomic<int64_t> restores_truncated_{0};

  mutable absl::Mutex mutex_;
  std::vector<TaskId> published_tasks_ ABSL_GUARDED_BY(mutex_);
  std::string published_member_id_ ABSL_GUARDED_BY(mutex_);
  // Set by the rebalance callback; the loop re-reads the member id after the poll returns.
  bool member_id_stale_ = false;
  int64_t published_dropped_ ABSL_GUARDED_BY(mutex_) = 0;
  int64_t published_late_ ABSL_GUARDED_BY(mutex_) = 0;
  int64_t published_punctuations_ ABSL_GUARDED_BY(mutex_) = 0;
  int64_t published_cache_hits_ ABSL_GUARDED_BY(mutex_) = 0;
  int64_t published_cache_misses_ ABSL_GUARDED_BY(mutex_) = 0;
  int64_t published_cache_evictions_ ABSL_GUARDED_BY(mutex_) = 0;
  int64_t published_cache_bytes_ ABSL_GUARDED_BY(mutex_) = 0;
  absl::Status error_ ABSL_GUARDED_BY(mutex_);
  std::shared_ptr<LeaveBarrier> leave_barrier_ ABSL_GUARDED_BY(mutex_);
  std::vector<TaskMetrics> published_task_metrics_ ABSL_GUARDED_BY(mutex_);
  KafkaClientStats consumer_stats_ ABSL_GUARDED_BY(mutex_);
  KafkaClientStats producer_stats_ ABSL_GUARDED_BY(mutex_);
};

}  // namespace weir::internal

#endif  // WEIR_ENGINE_INTERNAL_STREAM_THREAD_H_
