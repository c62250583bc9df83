// What other threads may read about a stream thread (KafkaStreams::threads(), /metrics, /tasks):
// its state, tasks, counters and metrics, copied out by the thread itself.
#ifndef WEIR_ENGINE_RUNTIME_THREAD_SNAPSHOT_H_
#define WEIR_ENGINE_RUNTIME_THREAD_SNAPSHOT_H_

#include <cstdint>
#include <string>
#include <vector>

#include "engine/metrics/thread_metrics.h"
#include "engine/processor/record.h"

namespace weir {

enum class ThreadState { kCreated, kRunning, kPendingShutdown, kDead, kStopped };

// What other threads may read about a stream thread.
struct ThreadSnapshot {
  std::string name;
  ThreadState state = ThreadState::kCreated;
  std::vector<TaskId> tasks;
  int64_t processed = 0;
  int64_t dropped = 0;  // late or invalid records
  int64_t late = 0;     // of which late
  int64_t deserialization_errors = 0;
  int64_t dead_letters = 0;
  int64_t production_errors = 0;
  int64_t commits = 0;
  int64_t punctuations = 0;
  int64_t tasks_created = 0;
  int64_t tasks_closed = 0;
  int64_t states_wiped = 0;        // local task states found to belong to another log
  int64_t records_restored = 0;    // changelog records applied to local state
  int64_t restores_truncated = 0;  // restorations that found the changelog's start beyond the state
  // of which the deleted records may still have been live state (Task::LostState)
  int64_t restores_lost_state = 0;
  // Task migrations survived: the thread's producer was fenced or its group generation went
  // stale, and it closed its tasks, made a new producer and rejoined (Kafka Streams'
  // TaskMigratedException).
  int64_t tasks_migrated = 0;
  // Assignments the group took away while this thread was not looking (a pause past
  // session.timeout.ms): its tasks closed without committing, its open transaction aborted.
  int64_t assignments_lost = 0;
  // The record cache (statestore.cache.max.bytes per thread).
  int64_t cache_hits = 0;
  int64_t cache_misses = 0;
  int64_t cache_evictions = 0;
  int64_t cache_bytes = 0;
  int64_t early_commits = 0;  // commits forced by statestore.uncommitted.max.bytes
  std::string member_id;      // the consumer's group member id (empty before it joins)
  bool assigned = false;      // the group has given this thread an assignment at least once
  bool restoring = false;     // a task of this thread is restoring its state
  // Consumption stopped: state.dir's free space fell under state.dir.min.free.bytes.
  bool paused_for_disk = false;
  int64_t state_dir_free_bytes = -1;  // at the thread's last check (every second); -1: none
  ThreadMetrics metrics;      // task and client figures refreshed about once a second
};

// `counter` summed over `threads` (&ThreadSnapshot::processed, ::commits, ...): the instance's.
inline int64_t SumOver(const std::vector<ThreadSnapshot>& threads,
                       int64_t ThreadSnapshot::*counter) {
  int64_t total = 0;
  for (const ThreadSnapshot& thread : threads) total += thread.*counter;
  return total;
}

// What the instance's global stream thread has done (engine/runtime/internal/global_thread.h).
struct GlobalThreadStatus {
  bool bootstrapped = false;
  int64_t records_applied = 0;    // since the start, the bootstrap's included
  int64_t bootstrap_records = 0;  // read by the bootstrap: those produced since the checkpoint
  double bootstrap_seconds = 0;   // how long the bootstrap took
  int64_t records_skipped = 0;    // keys or values that did not deserialize
  int64_t lag = 0;                // records behind the global topics' ends
};

}  // namespace weir

#endif  // WEIR_ENGINE_RUNTIME_THREAD_SNAPSHOT_H_
