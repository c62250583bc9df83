// A task: one sub-topology's node instances and stores over one partition (Kafka Streams'
// StreamTask, without the Kafka I/O).
//
// Operation. Built from the topology for (sub-topology, partition): every node instantiated,
// linked to its children, its stores opened - in the task's RocksDB instance (TaskDb) when it has
// one, in memory otherwise (the test driver) - then every node initialised. Process() runs one
// record depth-first from the source of its topic, then its due stream-time punctuations;
// PunctuateWallClock() fires due wall-clock punctuations.
//
// Concurrency: a task is used by one thread at a time (its stream thread, or the test driver).
// Failure: a record whose key or value cannot be deserialized is not processed; Process()
// returns InvalidArgument and the caller's deserialization handler decides what happens.
#ifndef WEIR_ENGINE_RUNTIME_INTERNAL_TASK_H_
#define WEIR_ENGINE_RUNTIME_INTERNAL_TASK_H_

#include <map>
#include <memory>
#include <optional>
#include <string>
#include <vector>

#include "absl/status/status.h"
#include "absl/strings/string_view.h"
#include "engine/metrics/thread_metrics.h"
#include "engine/processor/internal/task_context.h"
#include "engine/processor/node.h"
#include "engine/processor/topology.h"
#include "engine/runtime/internal/changelog_marker.h"
#include "stores/record_cache.h"
#include "stores/task_db.h"

namespace weir {
class StoreSensors;  // engine/metrics/metered_stores.h
}  // namespace weir

namespace weir::internal {

class Task {
 public:
  // `db` null: stores in memory. `cache` (the stream thread's record cache; null or a zero
  // budget: none) puts every RocksDB store behind it; it must outlive the task.
  static absl::StatusOr<std::unique_ptr<Task>> Create(
      const Topology& topology, const Topology::Subtopology& subtopology, TaskId id,
      std::string application_id, std::function<int64_t()> wall_clock, RecordCollector* collector,
      std::unique_ptr<TaskDb> db = nullptr, RecordCache* cache = nullptr,
      bool debug_metrics = false, GlobalStoreFinder global_stores = {});
  ~Task();
  Task(const Task&) = delete;
  Task& operator=(const Task&) = delete;

  TaskId id() const { return context_.task_id; }
  // The topics this task's sources read, internal ones with their application-id prefix.
  const std::vector<std::string>& source_topics() const { return source_topics_; }

  // Runs `raw`, read at `metadata`, through the source of `metadata.topic`, then fires due
  // stream-time punctuations. `system_time_ms`: the caller's wall clock, read once per batch.
  absl::Status Process(const RawRecord& raw, const RecordMetadata& metadata,
                       int64_t system_time_ms);
  // Counts a record read from another partition than murmur2 of its key gives; `dropped`: it
  // goes to the dead-letter topic instead of being processed.
  void CountMisplaced(bool dropped) {
    ++context_.counters.misplaced;
    if (dropped) context_.Dropped(DropReason::kInvalid);
  }
  // Fires every due wall-clock punctuation at `system_time_ms` (the caller's clock, read once for
  // all its tasks); returns how many fired.
  int PunctuateWallClock(int64_t system_time_ms);
  // Flushes every store: record cache entries go to the stores (and, for DSL aggregations,
  // downstream), so that PrepareCommit sees them.
  absl::Status Flush();
  // Commit, in three steps around the producer's flushes (or transaction commit):
  // PrepareCommit sends the stores' pending changes to their changelogs (partition = the task's);
  // SealCommit, once those and every output record before them are delivered, sends a commit
  // marker to each - a record with a reserved key whose value is the commit's sequence number
  // and `offsets` - so that restoration applies whole commits only, and only commits whose
  // output reached Kafka; Commit then makes the state durable together with `offsets`, the next
  // input offsets it reflects, and each changelog's end (one atomic write in the task's RocksDB
  // instance; nothing to do in memory).
  void PrepareCommit(const TaskDb::Offsets& offsets);
  void SealCommit();
  absl::Status Commit(const TaskDb::Offsets& offsets);

  // Restoration: the next changelog offset the local state has applied for `store` (0 if none).
  int64_t ChangelogOffset(absl::string_view store);
  // Applies one changelog commit of `store` (its data records, then marker `seq`).
  absl::Status ApplyChangelogRecord(absl::string_view store, absl::string_view key,
                                    std::optional<absl::string_view> value);
  // Makes restored changes durable with the last applied `marker` (its input offsets, stream
  // time and sequence number) and each restored store's next changelog offset.
  // Restoration writes skip RocksDB's WAL (the changelog is the log); FinishRestore() makes
  // them durable by flushing the memtables.
  absl::Status CommitRestored(const ChangelogMarker& marker,
                              const std::map<std::string, int64_t>& changelog_ends);
  absl::Status FinishRestore() { return db_ == nullptr ? absl::OkStatus() : db_->FlushMemtables(); }
  // A restore into fresh state whose changelog starts past offset 0 (broker retention deleted
  // its head) calls this first; LostState() then judges what was deleted once it is restored.
  void set_restore_truncated() { restore_truncated_ = true; }
  // After a truncated restore, whether what retention deleted may still have been live state:
  // every deleted record was written before the first restored commit, at a stream time of at
  // most that commit's, so it had expired in its store too once stream time has since moved on
  // by the longest store retention (a window store's plus its window size). Empty when the
  // restore was whole or the deletion lost nothing live; otherwise why, for the log.
  std::string LostState() const;
  // Bytes of state writes waiting for the next commit (0 in memory).
  size_t uncommitted_bytes() { return db_ == nullptr ? 0 : db_->pending_bytes(); }
  int64_t commit_seq() const { return commit_seq_; }
  // The writer epoch of the last commit sent or applied (changelog_marker.h).
  int64_t commit_epoch() const { return commit_epoch_; }
  // Names of the stores that log their changes.
  std::vector<std::string> logged_stores() const;
  // The input offsets the task's durable state reflects; empty in memory or for new state.
  TaskDb::Offsets StoredOffsets() { return db_ ? db_->StoredOffsets() : TaskDb::Offsets{}; }
  // Closes every node (processors' Close()). Called once; the destructor calls it if needed.
  void Close();

  // Metrics: sensors, restoration progress, record cache counts and (`with_rocksdb`) the task's
  // RocksDB statistics, which cost a few property reads per store.
  TaskMetrics Metrics(int64_t now_ms, bool with_rocksdb) const;
  // The task's state came from a standby of this instance
  // (engine/runtime/internal/state_updater.h).
  void set_from_standby(bool from_standby) { from_standby_ = from_standby; }
  void SetRestoreProgress(int64_t restored, int64_t remaining) {
    records_restored_ = restored;
    restore_remaining_ = remaining;
  }

  int64_t stream_time() const { return context_.stream_time; }
  const TaskCounters& counters() const { return context_.counters; }
  // What a processor stopped the task with (ProcessorContext::Fail); OK while none has.
  const absl::Status& failure() const { return context_.failure; }
  StateStore* store(absl::string_view name) const;

 private:
  Task() = default;
  // Fires every due punctuation of `type` at `now` (stream time or system time).
  int Punctuate(PunctuationType type, int64_t now);
  // Writes the stream time, commit number and `changelog_ends` with the pending state and
  // `offsets` in one RocksDB write.
  absl::Status WriteCommit(const TaskDb::Offsets& offsets,
                           const std::map<std::string, int64_t>& changelog_ends,
                           bool write_ahead_log = true);
  absl::Status Init(const Topology& topology, const Topology::Subtopology& subtopology,
                    RecordCache* cache, bool debug_metrics);

  std::unique_ptr<TaskDb> db_;                             // before the stores, which use it
  int64_t commit_seq_ = 0;                                 // of the last commit marker sent
  int64_t commit_epoch_ = 0;                               // its writer's epoch
  int64_t writer_epoch_ = -1;                              // this activation's, once it writes
  std::map<std::string, const int64_t*> changelog_slots_;  // store -> end slot, this commit
  std::optional<RawRecord> pending_marker_;                // this commit's, until sealed
  TaskContext context_;
  std::vector<std::unique_ptr<nodes::NodeBase>> nodes_;
  std::map<std::string, nodes::SourceNodeBase*, std::less<>> source_by_topic_;
  std::vector<std::string> source_topics_;
  bool closed_ = false;
  std::map<std::string, const StoreSensors*> metered_;  // store -> its sensors (debug)
  int64_t records_restored_ = 0;
  int64_t restore_remaining_ = 0;
  int64_t created_ms_ = 0;
  int64_t first_processed_ms_ = -1;
  bool from_standby_ = false;
  int64_t longest_retention_ms_ = 0;  // of the task's stores; 0: one keeps entries forever
  bool restore_truncated_ = false;
  int64_t first_restored_stream_time_ = -1;  // of the first commit a restore applied
};

}  // namespace weir::internal

#endif  // WEIR_ENGINE_RUNTIME_INTERNAL_TASK_H_
