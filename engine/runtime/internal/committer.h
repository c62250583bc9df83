// How a stream thread makes its output, its tasks' state and its input offsets durable together:
// one strategy per processing guarantee behind one interface.
//
//  - at_least_once: flush the producer and wait for every delivery, seal (the tasks send their
//    changelog commit markers) and flush again, commit the offsets to the group, then write the
//    tasks' state with the offsets it reflects. A crash between the steps repeats records (never
//    loses them): output is durable before the offsets that skip it, and before the marker that
//    lets a restore take the commit as whole - a marker delivered ahead of an alert the commit
//    produced would let a restarted task skip the record that raised it. A task resumes where
//    its local state stands, not at the group's offset. The state comes last so that a member
//    the group has replaced (paused past its session timeout) keeps none of what it committed
//    after: its commit is rejected, while its changelog records may land after the new owner's
//    (changelog_marker.h says how readers drop them).
//  - exactly_once_v2: every record goes into the thread's transaction, opened before the first
//    record after a commit; a commit seals, sends the offsets into the transaction
//    (send_offsets_to_transaction with the consumer's group metadata) and commits it, then
//    writes the tasks' state. Output, changelogs and offsets become visible to read_committed
//    readers at once, or not at all.
//
// Concurrency: used by its stream thread only.
#ifndef WEIR_ENGINE_RUNTIME_INTERNAL_COMMITTER_H_
#define WEIR_ENGINE_RUNTIME_INTERNAL_COMMITTER_H_

#include <librdkafka/rdkafka.h>

#include <functional>
#include <memory>

#include "absl/status/status.h"
#include "engine/runtime/app_config.h"
#include "engine/runtime/rebalance_watch.h"

namespace weir::internal {

class Committer {
 public:
  // `consumer` and `producer` are the thread's; `watch` hears of commits a rebalance rejects.
  // All must outlive the committer.
  static std::unique_ptr<Committer> Create(ProcessingGuarantee guarantee, rd_kafka_t* consumer,
                                           rd_kafka_t* producer, RebalanceWatch* watch);
  virtual ~Committer() = default;

  // Once, before the first record is produced (exactly-once: init_transactions, which fences
  // an earlier producer with the same transactional.id).
  virtual absl::Status Init() { return absl::OkStatus(); }
  // Before each record is produced (exactly-once: opens a transaction when none is open).
  virtual absl::Status BeforeProduce() { return absl::OkStatus(); }
  // What a commit calls back, in the order the guarantee needs (see above).
  struct Steps {
    std::function<absl::Status()> delivered;    // did every record so far reach Kafka?
    std::function<void()> seal;                 // the tasks send their commit markers
    std::function<absl::Status()> write_state;  // the tasks' state with its offsets
  };
  // Makes what was produced since the last commit durable with the input `offsets` (the next
  // offset of each partition processed; may be empty). kAborted when a rebalance rejected the
  // offsets: not fatal, the records since the last commit will be processed again by the
  // partitions' next owner; the state is not written.
  virtual absl::Status Commit(const rd_kafka_topic_partition_list_t& offsets,
                              const Steps& steps) = 0;
  // After a fatal error, before the thread leaves: exactly-once aborts the open transaction.
  virtual void Abort() {}
};

// Kafka Streams' TaskMigratedException: the group or the transaction coordinator moved on
// without this thread - its producer fenced (a transaction past transaction.timeout.ms was
// aborted, or a newer producer took its transactional.id), or its offsets refused for a stale
// generation (a pause past session.timeout.ms). Not fatal: the thread closes its tasks without
// committing, makes a new producer and rejoins the group. `cause` says what happened.
absl::Status TaskMigratedError(const absl::Status& cause);
bool IsTaskMigrated(const absl::Status& status);
// Whether `producer`'s fatal error, if it has one, is a fencing (then it must be replaced).
bool ProducerFenced(rd_kafka_t* producer);

}  // namespace weir::internal

#endif  // WEIR_ENGINE_RUNTIME_INTERNAL_COMMITTER_H_
