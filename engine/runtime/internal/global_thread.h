// The global stream thread (Kafka Streams' GlobalStreamThread): one per instance, it keeps the
// topology's global stores (Topology::AddGlobalStore, the DSL's GlobalKTable) - every record of
// every partition of their topics - in this instance.
//
// Bootstrap() reads each partition from the checkpoint to the end it had when called (its high
// watermark), before any stream thread starts: a stream record then sees the global tables at
// least as they stood when the instance started. Start() then applies new records as they
// arrive, on its own thread. Under RocksDB the stores live in
// `<state.dir>/<application.id>/global`, whose offsets (written with the stores' data in one
// atomic RocksDB write, every commit.interval.ms) are the checkpoint: a restart reads only
// what was produced since. In memory, a restart reads everything again. A record whose key or
// value does not deserialize is skipped, logged and counted; a store that cannot be written
// stops the thread, and the instance with it (KafkaStreams::CheckThreads), as Kafka Streams.
//
// Concurrency: Create, Bootstrap, Start and Stop from the controlling thread; the stores (by
// Find) and snapshot() from any thread.
#ifndef WEIR_ENGINE_RUNTIME_INTERNAL_GLOBAL_THREAD_H_
#define WEIR_ENGINE_RUNTIME_INTERNAL_GLOBAL_THREAD_H_

#include <librdkafka/rdkafka.h>

#include <atomic>
#include <map>
#include <memory>
#include <string>
#include <thread>
#include <utility>
#include <vector>

#include "absl/status/statusor.h"
#include "absl/synchronization/mutex.h"
#include "engine/kafka/client_config.h"
#include "engine/processor/topology.h"
#include "engine/runtime/app_config.h"
#include "stores/shared_key_value_store.h"
#include "stores/task_db.h"

namespace weir::internal {

class GlobalStreamThread {
 public:
  struct Snapshot {
    bool bootstrapped = false;
    int64_t records_applied = 0;     // since start, the bootstrap's included
    int64_t bootstrap_records = 0;   // read by Bootstrap()
    double bootstrap_seconds = 0;    // how long Bootstrap() took
    int64_t records_skipped = 0;     // keys or values that do not deserialize
    int64_t lag = 0;                 // records behind the partitions' ends, at the last check
    absl::Status error;              // why the thread stopped; OK while it runs
  };

  // Opens the stores and the consumer. `open_db` opens the RocksDB instance the stores and the
  // checkpoint live in; null: the stores are in memory.
  static absl::StatusOr<std::unique_ptr<GlobalStreamThread>> Create(
      const AppConfig& config, std::shared_ptr<const Topology> topology,
      std::function<absl::StatusOr<std::unique_ptr<TaskDb>>()> open_db);
  ~GlobalStreamThread();
  GlobalStreamThread(const GlobalStreamThread&) = delete;
  GlobalStreamThread& operator=(const GlobalStreamThread&) = delete;

  absl::Status Bootstrap();
  void Start();
  // Stops applying, commits what was applied (the checkpoint) and closes the consumer.
  void Stop();

  // The global store called `name`, or null; its reads are safe from any thread.
  StateStore* Find(absl::string_view name) const;
  Snapshot snapshot() const;

 private:
  GlobalStreamThread(const AppConfig& config, std::shared_ptr<const Topology> topology)
      : config_(config), topology_(std::move(topology)) {}
  // Applies what one poll brings; false when nothing came.
  absl::StatusOr<bool> PollOnce(int timeout_ms);
  // Writes the applied records and their offsets as the checkpoint (RocksDB only).
  absl::Status Commit();
  // The partitions' next offsets to read, from the consumer.
  absl::Status UpdatePositions();
  void Run();

  const AppConfig config_;
  const std::shared_ptr<const Topology> topology_;
  KafkaHandle consumer_;
  KafkaHandle offsets_client_;
  rd_kafka_queue_t* queue_ = nullptr;  // consumer_'s, destroyed before it
  mutable absl::Mutex mutex_;          // around the stores and the database
  std::unique_ptr<TaskDb> db_;
  std::map<std::string, std::unique_ptr<SharedKeyValueStore>, std::less<>> stores_;
  std::map<std::string, const Topology::GlobalStoreSpec*> by_topic_;
  TaskDb::Offsets positions_;  // (topic, partition) -> next offset to read
  std::thread thread_;
  std::atomic<bool> stop_{false};
  mutable absl::Mutex snapshot_mutex_;
  Snapshot snapshot_;
  int64_t last_skip_log_ms_ = 0;
  std::vector<rd_kafka_message_t*> batch_ = std::vector<rd_kafka_message_t*>(1000);  // reused
};

}  // namespace weir::internal

#endif  // WEIR_ENGINE_RUNTIME_INTERNAL_GLOBAL_THREAD_H_
