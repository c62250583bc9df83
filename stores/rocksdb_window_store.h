// A window store in the task's RocksDB instance (Kafka Streams' RocksDBSegmentedBytesStore): the
// WindowBytesStore contract, with one column family per time segment, named
// `<store>:<segment id>`, dropped whole once the segment leaves retention.
//
// Layout (docs/state-layout.md): in a segment, key = the record key's bytes followed by the
// window start as 8 big-endian bytes, value = the value's bytes. The store's stream time lives in
// the task's metadata under `stream-time/<store>`, written in the same batch as the windows.
// Writes go to the task's pending batch and reach RocksDB at the task's commit (TaskDb).
//
// Concurrency: used by the one thread that runs the task.
#ifndef WEIR_STORES_ROCKSDB_WINDOW_STORE_H_
#define WEIR_STORES_ROCKSDB_WINDOW_STORE_H_

#include <map>
#include <memory>
#include <string>

#include "absl/status/statusor.h"
#include "stores/task_db.h"
#include "stores/window_store.h"

namespace weir {

class RocksDbWindowStore : public WindowBytesStore {
 public:
  // Opens the store's existing segments in `db` (which must outlive the store).
  static absl::StatusOr<std::unique_ptr<RocksDbWindowStore>> Open(WindowStoreOptions options,
                                                                  TaskDb* db);

  const std::string& name() const override { return options_.name; }
  // Writes reach RocksDB at the task's commit; nothing to do here.
  absl::Status Flush() override { return absl::OkStatus(); }
  bool Put(absl::string_view key, int64_t window_start,
           std::optional<absl::string_view> value) override;
  std::optional<std::string> Fetch(absl::string_view key, int64_t window_start) const override;
  void Fetch(absl::string_view key, int64_t from, int64_t to, const Visitor& visit) const override;
  void FetchAll(int64_t from, int64_t to, const Visitor& visit) const override;
  int64_t observed_stream_time() const override { return observed_stream_time_; }

  // Changelog records: key = record key + window start (8 bytes big-endian), as in a segment.
  bool logged() const override { return true; }
  void ForEachPendingChange(const ChangeVisitor& visit) const override;
  absl::Status ApplyChange(absl::string_view key, std::optional<absl::string_view> value) override;

  size_t live_segments() const { return segments_.size(); }

 private:
  RocksDbWindowStore(WindowStoreOptions options, TaskDb* db);
  int64_t SegmentId(int64_t window_start) const { return window_start / segment_interval_ms_; }
  int64_t MinLiveStart() const { return observed_stream_time_ - options_.retention_ms + 1; }
  std::string SegmentName(int64_t id) const;
  void ExpireSegments();

  WindowStoreOptions options_;
  TaskDb* db_;
  int64_t segment_interval_ms_;
  int64_t observed_stream_time_ = -1;
  std::map<int64_t, rocksdb::ColumnFamilyHandle*> segments_;  // segment id -> column family
  mutable std::string scratch_;  // the last stored key built (saves an allocation per access)
};

}  // namespace weir

#endif  // WEIR_STORES_ROCKSDB_WINDOW_STORE_H_
