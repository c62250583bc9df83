// TaskDb: the one RocksDB instance of one task, holding every store of the task and the input
// offsets its state reflects (docs/state-layout.md).
//
// Operation. Stores write into the task's pending writes - per column family an ordered map
// holding the latest value (or deletion) of each key - and read through them (their own
// uncommitted writes are visible to them). Commit(offsets) adds the task's next input offsets and
// writes everything, in key order, as one WriteBatch in one atomic RocksDB write, so the state on
// disk and the offsets it reflects can never disagree: after a crash at any moment the task
// resumes from exactly the offsets stored with its state. Why a map and not RocksDB's
// WriteBatchWithIndex: a put cost ~0.8 us at p50 there (its skiplist compares entries by decoding
// them from the batch buffer) against ~0.25 us here, and a key written several times between
// commits reaches RocksDB once (docs/benchmarks.md, state_store_bench).
//
// Column families: `default` holds metadata (offsets, each store's stream time); each store
// segment has its own, created on first write and dropped whole on expiry (the drop happens after
// the commit that stops using it).
//
// Durability. The WAL stays on, unsynced (Kafka Streams runs it off; docs/state-layout.md says why
// weir does not): one sequential append per commit makes every commit survive `kill -9` - the page
// cache holds it - so a restart reprocesses at most one commit interval, where WAL-off state would
// fall back to the last memtable flush and reprocess everything since. After a power loss the WAL
// is recovered to its last consistent write (kPointInTimeRecovery), which still carries its
// offsets: the state is older, never torn.
//
// Locking: RocksDB's own LOCK file keeps a second process (or instance) from opening a task
// directory; Open says which directory is held.
//
// Errors. A failed read (corruption, I/O) cannot be reported through the stores' value-returning
// reads, so it is remembered and returned by the next Commit, which stops the task.
//
// Concurrency: used by the one thread that runs the task.
#ifndef WEIR_STORES_TASK_DB_H_
#define WEIR_STORES_TASK_DB_H_

#include <rocksdb/db.h>
#include <rocksdb/options.h>

#include <atomic>
#include <cstdint>
#include <functional>
#include <map>
#include <memory>
#include <optional>
#include <string>
#include <vector>

#include "absl/container/btree_map.h"
#include "absl/container/flat_hash_map.h"
#include "absl/status/status.h"
#include "absl/status/statusor.h"
#include "absl/strings/string_view.h"
#include "stores/store_statistics.h"

namespace weir {

class TimestampExpiry;

class TaskDb {
  // The pending writes of one column family in key order; nullopt = deletion.
  using PendingMap = absl::btree_map<std::string, std::optional<std::string>, std::less<>>;
  struct Family {
    PendingMap writes;
    uint64_t generation = 0;  // moves when nodes may move (an insert, a commit's clear)
  };

 public:
  // Input offsets: (topic, partition) -> next offset to process.
  using Offsets = std::map<std::pair<std::string, int32_t>, int64_t>;

  // The version of the on-disk layout this weir writes and reads (docs/state-layout.md). It is
  // stored in every task database (`layout/version` in `default`); raise it with any change an
  // older weir would misread, so that an older weir refuses the state instead.
  static constexpr int64_t kLayoutVersion = 1;

  // Opens (creating) the task's database in `dir` with every column family it has.
  // FailedPrecondition when another process holds `dir`, or when its state was written in a
  // newer layout than kLayoutVersion (by a newer weir: roll forward, or delete the directory so
  // that the task restores from its changelogs).
  static absl::StatusOr<std::unique_ptr<TaskDb>> Open(const std::string& dir,
                                                      const rocksdb::Options& options);
  ~TaskDb();
  TaskDb(const TaskDb&) = delete;
  TaskDb& operator=(const TaskDb&) = delete;

  const std::string& dir() const { return dir_; }

  // Reads a task directory without taking it over (read-only; the owner may be stopped or
  // running) and visits every entry: column family, key, value, in family then key order.
  using EntryVisitor =
      std::function<void(absl::string_view family, absl::string_view key, absl::string_view value)>;
  static absl::Status Dump(const std::string& dir, const EntryVisitor& visit);

  // Deletes the task directory `dir` unless a TaskDb of this process has it open or another
  // process holds RocksDB's lock in it; true when it was deleted. Atomic with respect to Open in
  // this process, so a task being opened is never deleted under it.
  static absl::StatusOr<bool> DeleteIfUnused(const std::string& dir);

  // The column family `name`, created when missing.
  absl::StatusOr<rocksdb::ColumnFamilyHandle*> ColumnFamily(const std::string& name);
  // Names of the existing column families that start with `prefix`.
  std::vector<std::string> ColumnFamilies(absl::string_view prefix) const;
  // Drops column family `name` after the next Commit.
  void DropAfterCommit(const std::string& name);
  // Lets flushes and compactions of `cf` drop every entry whose value begins with a big-endian
  // timestamp at or before `*observed_time - retention_ms` (KeyValueStoreOptions). RocksDB's
  // background threads read `*observed_time`; the store that owns `cf` moves it forward.
  void ExpireByTimestamp(rocksdb::ColumnFamilyHandle* cf, int64_t retention_ms,
                         std::shared_ptr<const std::atomic<int64_t>> observed_time);

  // Pending writes, applied by Commit; a later write of a key replaces an earlier one.
  void Put(rocksdb::ColumnFamilyHandle* cf, absl::string_view key, absl::string_view value);
  void Delete(rocksdb::ColumnFamilyHandle* cf, absl::string_view key);
  // Reads see pending writes first. The view is valid until the next call on this TaskDb.
  std::optional<absl::string_view> Get(rocksdb::ColumnFamilyHandle* cf, absl::string_view key);

  // A forward iterator over one column family: its committed entries merged with its pending
  // writes (a pending write wins over the committed entry of its key; pending deletions hide
  // keys). Writes to the family while iterating are seen from the next key on: the iterator
  // re-finds its place after them. key() and value() are valid until the next call on the
  // iterator or the next write to the family. A read error ends the iteration and is remembered
  // like a failed Get.
  class Iterator {
   public:
    void SeekToFirst();
    void Seek(absl::string_view target);
    bool Valid() const { return valid_; }
    void Next();
    absl::string_view key() const { return key_; }
    absl::string_view value() const { return value_; }

   private:
    friend class TaskDb;
    Iterator(TaskDb* db, Family* family, std::unique_ptr<rocksdb::Iterator> base);
    // Moves both sides past deletions to the smallest visible key and sets key_/value_.
    void Settle();

    TaskDb* db_;
    Family* family_;
    std::unique_ptr<rocksdb::Iterator> base_;
    uint64_t generation_ = 0;  // the family's generation when pending_ was taken
    PendingMap::const_iterator pending_;
    bool valid_ = false;
    std::string key_;
    absl::string_view value_;
  };
  std::unique_ptr<Iterator> NewIterator(rocksdb::ColumnFamilyHandle* cf);
  void PutMeta(absl::string_view key, absl::string_view value) { Put(meta_, key, value); }
  std::optional<std::string> GetMeta(absl::string_view key) {
    const std::optional<absl::string_view> value = Get(meta_, key);
    if (!value.has_value()) return std::nullopt;
    return std::string(*value);
  }

  // Visits the pending (uncommitted) writes to `cf`, the latest per key; value nullopt = delete.
  void ForEachPending(rocksdb::ColumnFamilyHandle* cf,
                      const std::function<void(absl::string_view key,
                                               std::optional<absl::string_view> value)>& visit);

  // The text form of offsets in metadata and changelog commit markers.
  static std::string EncodeOffsets(const Offsets& offsets);
  static absl::StatusOr<Offsets> DecodeOffsets(absl::string_view text);

  // Tickers, block cache usage and per-store properties; `stores` are the store names (a
  // store's column families are `<store>` and `<store>:<segment>`).
  TaskDbStatistics Statistics(const std::vector<std::string>& stores) const;

  // The offsets stored with the state (empty for a new task).
  Offsets StoredOffsets();
  // Writes the pending batch and `offsets` in one atomic write, then drops expired column
  // families. Returns a remembered read error instead, writing nothing.
  // `write_ahead_log` false (restoration): the write skips the WAL and is durable only after
  // FlushMemtables(); a crash before that leaves the state as it was before those writes.
  absl::Status Commit(const Offsets& offsets, bool write_ahead_log = true);
  // Flushes every column family's memtables to SST files (committed writes only): the stores'
  // families first, the metadata (offsets, commit number) last, so a crash in between leaves
  // state at or ahead of its metadata, never behind - replaying changelog commits over it is
  // idempotent.
  absl::Status FlushMemtables();
  // Pending writes since the last commit (each write counts, also one that replaced another).
  size_t pending_writes() const { return pending_; }
  // Memory of the pending writes: keys, values and each entry's fixed size.
  size_t pending_bytes() const { return pending_bytes_; }
  rocksdb::DB* db() const { return db_.get(); }

 private:
  TaskDb(std::string dir, std::unique_ptr<rocksdb::DB> db,
         std::map<std::string, rocksdb::ColumnFamilyHandle*> families,
         const rocksdb::ColumnFamilyOptions& cf_options, std::shared_ptr<TimestampExpiry> expiry);
  void RememberError(const rocksdb::Status& status, absl::string_view context);
  Family& PendingOf(rocksdb::ColumnFamilyHandle* cf);
  // Records `value` (nullopt: a deletion) as the key's pending write.
  void Write(rocksdb::ColumnFamilyHandle* cf, absl::string_view key,
             std::optional<absl::string_view> value);

  const std::string dir_;
  std::unique_ptr<rocksdb::DB> db_;
  std::map<std::string, rocksdb::ColumnFamilyHandle*> families_;
  rocksdb::ColumnFamilyHandle* meta_;
  const rocksdb::ColumnFamilyOptions cf_options_;
  const std::shared_ptr<TimestampExpiry> expiry_;  // the compaction filter factory
  absl::flat_hash_map<rocksdb::ColumnFamilyHandle*, std::unique_ptr<Family>> pending_families_;
  rocksdb::PinnableSlice read_;  // the last Get's value, when it came from RocksDB
  size_t pending_ = 0;
  size_t pending_bytes_ = 0;
  std::vector<std::string> to_drop_;
  absl::Status error_;
};

}  // namespace weir

#endif  // WEIR_STORES_TASK_DB_H_
