// A weir instance (Kafka Streams' KafkaStreams): a topology run by `num.stream.threads` stream
// threads against a Kafka cluster.
//
//   absl::StatusOr<std::unique_ptr<KafkaStreams>> streams = KafkaStreams::Create(topology, config);
//   WEIR_RETURN_IF_ERROR((*streams)->Start());
//   while (!stopping) { WEIR_RETURN_IF_ERROR((*streams)->CheckThreads()); ... }
//   (*streams)->Close();
//
// Start() checks that every input topic exists, creates the topology's internal (repartition)
// topics when missing - with as many partitions as the largest input topic - and starts the
// threads. Every thread is a member of the consumer group `application.id`; several instances
// with the same id share the partitions (engine/runtime/internal/stream_thread.h explains the
// model).
//
// Shutdown order: Close() asks every thread to stop, and each finishes its batch and commits;
// once all have committed (a member leaving would start a rebalance that rejects the others'
// commits), each closes its tasks and leaves the group; Close() returns when all have.
//
// Concurrency: Create, Start, CheckThreads and Close from one controlling thread; threads() from
// any thread.
#ifndef WEIR_ENGINE_RUNTIME_KAFKA_STREAMS_H_
#define WEIR_ENGINE_RUNTIME_KAFKA_STREAMS_H_

#include <atomic>
#include <functional>
#include <memory>
#include <optional>
#include <set>
#include <string>
#include <vector>

#include "absl/status/statusor.h"
#include "absl/synchronization/mutex.h"
#include "engine/kafka/topic_admin.h"
#include "engine/processor/topology.h"
#include "engine/runtime/app_config.h"
#include "engine/runtime/membership.h"
#include "engine/runtime/standby_placement.h"
#include "engine/runtime/thread_snapshot.h"

namespace weir {

// Defined where the instance's implementation needs them; this header pulls in no RocksDB.
struct RocksDbOptionSet;
struct SharedResources;
class TaskDb;
namespace internal {
class GlobalStreamThread;
class StateUpdater;
class StreamThread;
}  // namespace internal

struct KafkaStreamsOptions {
  // Creates a topic the topology needs. Empty: the Kafka admin API (CreateTopics). The embedded
  // broker has no CreateTopics, so `weir run` passes EmbeddedBroker::CreateTopic.
  std::function<absl::Status(const TopicSpec&)> create_topic;
  // Wall clock in epoch ms; empty: the system clock. Called concurrently from every stream
  // thread, the state updater, the membership thread and readers of threads() (HTTP
  // handlers): it must be thread-safe.
  std::function<int64_t()> wall_clock;
  // Called on the state updater's thread as it starts restoring a task
  // (engine/runtime/internal/state_updater.h).
  std::function<void(TaskId, int64_t remaining)> on_restore_start;
  // Called with each stream thread's consumer and producer configuration before the client is
  // made: the place for librdkafka interceptors (`weir bench load` times every hop with them).
  std::function<void(rd_kafka_conf_t*, ClientKind)> configure_client;
};

class KafkaStreams {
 public:
  // InvalidArgument when the topology did not build, application.id is empty, the client
  // properties are invalid or the RocksDB option set (rocksdb.options) does not load.
  static absl::StatusOr<std::unique_ptr<KafkaStreams>> Create(Topology topology, AppConfig config,
                                                              KafkaStreamsOptions options = {});
  ~KafkaStreams();

  // Where this instance's HTTP listener is reached (`application.server` overrides it);
  // advertised on the membership topic. Call before Start(); the HTTP listener may already be
  // answering /tasks (LocalView) meanwhile.
  void SetEndpoint(std::string endpoint) ABSL_LOCKS_EXCLUDED(mutex_);
  // NotFound naming a missing input topic; otherwise starts the threads, the membership
  // heartbeat (engine/runtime/membership.h) and, with num.standby.replicas > 0, the state updater.
  absl::Status Start();
  // Applies `stream.thread.error.policy` to threads that died: starts replacements, or returns
  // the first dead thread's error (the instance should then Close and exit non-zero).
  absl::Status CheckThreads();
  // Deletes task directories under `<state.dir>/<application.id>` that no thread owns, no other
  // process holds (RocksDB's lock) and nobody touched for `state.cleanup.delay.ms`; returns the
  // directories deleted. `weir run` calls it every few seconds.
  std::vector<std::string> CleanUpState();
  void Close();

  std::vector<ThreadSnapshot> threads() const;
  // /healthz: every stream thread is running (none died, the instance is not closing).
  bool Healthy() const;
  // /readyz: healthy, and every thread has its assignment with no task restoring and reaches
  // a broker (its consumer's last statistics show one UP). NotReadyReason says which is
  // missing ("" when ready).
  std::string NotReadyReason() const;
  bool Ready() const { return NotReadyReason().empty(); }
  // Kafka Streams' client states (KafkaStreams.State), named as there by StateName.
  enum class State { kCreated, kRebalancing, kRunning, kNotRunning, kError };
  static const char* StateName(State state);
  State state() const;
  // Stream threads that died since the start (Kafka Streams' failed-stream-threads).
  int64_t failed_threads() const;
  const AppConfig& config() const { return config_; }
  const std::string& process_id() const { return process_id_; }
  // This instance's tasks as /tasks and the membership topic show them.
  InstanceView LocalView() const;
  // The live instances of the application (this one included), from the membership topic.
  std::vector<InstanceView> ApplicationView() const;
  // Interactive queries (engine/processor/state_query.h, engine/http/query_service.h). What this
  // instance reads for `query` from `view`'s store of task `id`: the active task's, on its stream
  // thread between two batches; or, with `query.allow_stale` and no active task here that can
  // answer, a standby's held here, with its lag. Unavailable saying why when neither answers (the
  // task is elsewhere, restoring, or its thread is rebalancing); DeadlineExceeded after `timeout`.
  struct LocalReading {
    StoreReading reading;
    bool standby = false;
    int64_t lag = 0;  // a standby's changelog records behind
  };
  absl::StatusOr<LocalReading> ReadLocal(TaskId id, const QueryableStore& view,
                                         const StateQuery& query, absl::Duration timeout) const;
  // The partitions of `subtopology`'s input topics (0 before Start() or for an unknown one).
  int32_t PartitionsOf(int subtopology) const;
  // The endpoint this instance advertises (SetEndpoint, or `application.server`).
  std::string endpoint() const ABSL_LOCKS_EXCLUDED(mutex_);
  const Topology& topology() const { return *topology_; }
  // Standby tasks held here, and the changelog records applied to them since the start.
  std::vector<StandbyTaskView> standbys() const;
  int64_t standby_records_applied() const;
  // The global thread's progress; nullopt when the topology has no global store.
  std::optional<GlobalThreadStatus> global_thread() const;
  // Tasks the membership view currently places on another instance than `range` would
  // (non-zero while a rebalance is pending, or with another assignor): placement is a guess.
  int64_t placement_mismatches() const { return placement_mismatches_; }
  // The container limit of this instance's memory plan (`weir plan memory`), as
  // weir_client_memory_plan_bytes shows it beside the process's resident set; 0: not planned.
  // Thread-safe.
  void SetMemoryPlan(int64_t container_limit_bytes) { memory_plan_bytes_ = container_limit_bytes; }
  int64_t memory_plan_bytes() const { return memory_plan_bytes_; }

 private:
  KafkaStreams(std::shared_ptr<const Topology> topology, AppConfig config,
               KafkaStreamsOptions options);
  // Reads the cluster before the threads start: the input topics' partitions (source_topics_),
  // whether it is an embedded broker (on_embedded_broker_); then creates the internal topics
  // it lacks (membership, repartition, changelogs) and refuses ones of another partition count.
  absl::Status PrepareCluster();
  // On the embedded broker: a 3 s group session and a 10 ms fetch wait unless the user set them.
  void UseEmbeddedBrokerSettings();
  // The membership view changed: recompute where this instance keeps standbys.
  void OnView(const std::vector<InstanceView>& view);
  absl::StatusOr<std::unique_ptr<internal::StreamThread>> NewThread();
  // The global thread's stores for tasks' processors (empty: none).
  GlobalStoreFinder GlobalStores() const;

  // Opens a task's RocksDB instance in `<state.dir>/<application.id>/<task>`.
  absl::StatusOr<std::unique_ptr<TaskDb>> OpenTaskDb(TaskId id) const;

  const std::shared_ptr<const Topology> topology_;
  // Set at construction; Start() may shorten the group session and the fetch wait on an
  // embedded broker before anything reads them (UseEmbeddedBrokerSettings).
  AppConfig config_;
  std::unique_ptr<const RocksDbOptionSet> rocksdb_options_;
  std::unique_ptr<const SharedResources> rocksdb_shared_;
  KafkaStreamsOptions options_;
  const std::string process_id_;
  std::string endpoint_ ABSL_GUARDED_BY(mutex_);
  // Set by Start() once source_topics_, state_updater_ and membership_ are: the HTTP
  // listener, up before Start(), reads them only then.
  std::atomic<bool> started_{false};
  std::vector<SourceTopic> source_topics_;  // set by Start() (PrepareCluster)
  std::set<int> stateful_subtopologies_;    // set by Start()
  // Restores active tasks and keeps standbys (null: no stateful RocksDB task).
  std::unique_ptr<internal::StateUpdater> state_updater_;
  // Keeps the global stores (null: the topology has none); bootstrapped before the threads.
  std::unique_ptr<internal::GlobalStreamThread> global_thread_;
  std::atomic<bool> bootstrapping_{false};
  std::unique_ptr<Membership> membership_;
  std::atomic<int64_t> placement_mismatches_{0};
  std::atomic<int64_t> memory_plan_bytes_{0};
  int next_thread_index_ = 1;
  // static.membership: this state directory's stable instance id; empty otherwise.
  std::string instance_id_;
  bool on_embedded_broker_ = false;  // the cluster is librdkafka's mock (PrepareCluster)
  // SessionTimeoutMs(config_), for readers on other threads (LocalView) while Start() runs.
  std::atomic<int64_t> session_timeout_ms_;
  mutable absl::Mutex mutex_;
  std::vector<std::unique_ptr<internal::StreamThread>> threads_ ABSL_GUARDED_BY(mutex_);
  std::set<std::string> counted_dead_ ABSL_GUARDED_BY(mutex_);
  int64_t failed_threads_ ABSL_GUARDED_BY(mutex_) = 0;
  bool closing_ ABSL_GUARDED_BY(mutex_) = false;
};

}  // namespace weir

#endif  // WEIR_ENGINE_RUNTIME_KAFKA_STREAMS_H_
