// The one path by which changelog records reach a task's local state: the state updater
// (engine/runtime/internal/state_updater.h) restores active tasks and updates standby tasks by
// checking the local state against the changelogs with CheckChangelogs() and applying what it reads
// through a ChangelogApplier.
//
// A task's changelogs carry its commits: each commit's changed entries, then a commit marker (a
// record with a reserved key: sequence number, stream time, input offsets) sent to every logged
// store's changelog, all tagged with their writer's epoch. Records of a writer the group has
// replaced - an epoch below one already read in that changelog - are dropped as they are read.
// The applier applies whole commits only, and only those that every store's changelog holds up
// to its marker: a crash may have delivered one commit's markers to some changelogs and not
// others, and a reader may simply not have fetched them all yet. Each RocksDB write carries the
// last marker applied (its input offsets become the state's) and each store's next changelog
// offset, so a task that later becomes active resumes its input exactly where the restored
// state stands.
//
// Concurrency: a ChangelogApplier belongs to the thread that owns its task.
#ifndef WEIR_ENGINE_RUNTIME_INTERNAL_CHANGELOG_READER_H_
#define WEIR_ENGINE_RUNTIME_INTERNAL_CHANGELOG_READER_H_

#include <librdkafka/rdkafka.h>

#include <deque>
#include <functional>
#include <map>
#include <optional>
#include <string>
#include <vector>

#include "absl/status/statusor.h"
#include "engine/kafka/client_config.h"
#include "engine/runtime/app_config.h"
#include "engine/runtime/internal/task.h"

namespace weir::internal {

// Where a task's local state stands in one of its changelogs.
struct ChangelogTail {
  std::string store;
  std::string topic;
  int32_t partition = 0;
  int64_t from = 0;  // next offset the local state needs
  int64_t high = 0;  // the changelog's end when checked
};

struct ChangelogCheck {
  // False (logged) when the local state must be wiped: it claims changelog records beyond a
  // changelog's end (it belongs to another log), or it has commits and needs records the
  // changelog no longer holds (broker retention moved the log start beyond it).
  bool usable = true;
  // A fresh state whose changelog no longer starts at 0: reading starts at the log start and
  // the state lacks what was before it (logged).
  bool truncated = false;
  std::vector<ChangelogTail> tails;  // every logged store, `from` <= `high`
};

// Reads the start and end of each of `task`'s changelogs through `offsets` (a client of
// NewOffsetsClient's) and compares them with the local state. `who` prefixes the log lines (a
// thread's name).
absl::StatusOr<ChangelogCheck> CheckChangelogs(Task& task, rd_kafka_t* offsets,
                                               const std::string& application_id,
                                               const std::string& who);

// A consumer that never joins a group or commits: assign() and read changelogs from given
// offsets (restoration, standbys). read_committed under exactly_once_v2.
absl::StatusOr<KafkaHandle> NewChangelogConsumer(const AppConfig& config,
                                                 const std::string& client_id);

// A client only for offset queries: read_uncommitted whatever the guarantee, so a partition's
// end is its high watermark, records of open transactions included. Under exactly_once_v2 the
// last stable offset stays behind a transaction a killed instance left open until the broker
// aborts it (transaction.timeout.ms), while later transactions of the task's next owner are
// already committed: compared with the last stable offset, a state that reflects them would
// look as if it came from another log, and a restoration reading only up to it would stop
// short. A read_committed reader reaches the high watermark once the open transaction ends.
// Never fetching, its queries do not wait behind a fetch long-poll.
absl::StatusOr<KafkaHandle> NewOffsetsClient(const AppConfig& config,
                                             const std::string& client_id);

class ChangelogApplier {
 public:
  explicit ChangelogApplier(Task& task);

  // Takes one record read from `store`'s changelog at `offset`.
  absl::Status Add(const std::string& store, RawRecord record, int64_t offset);
  // Applies, in order, every commit that all stores' changelogs hold in full, writing to the
  // task's RocksDB instance about every `batch_records` records and after the last commit;
  // `on_write` hears the records applied by each write. Returns the records applied.
  absl::StatusOr<int64_t> Apply(int64_t batch_records,
                                const std::function<void(int64_t)>& on_write = {});
  // Records read but not yet applied.
  int64_t buffered() const { return buffered_; }
  // Records dropped as a replaced writer's (changelog_marker.h).
  int64_t stale() const { return stale_; }

 private:
  struct Commit {
    ChangelogMarker marker;
    std::vector<RawRecord> records;
    int64_t next_offset = 0;  // changelog offset after the marker
  };
  struct StoreLog {
    std::deque<Commit> commits;   // whole commits read, oldest first
    std::vector<RawRecord> open;  // records after the last marker read
    int64_t epoch = 0;            // the highest writer epoch read (or the state's)
  };

  Task& task_;
  std::map<std::string, StoreLog> logs_;
  int64_t buffered_ = 0;
  int64_t stale_ = 0;
};

}  // namespace weir::internal

#endif  // WEIR_ENGINE_RUNTIME_INTERNAL_CHANGELOG_READER_H_
