#include "stores/task_db.h"

#include <fcntl.h>
#include <rocksdb/compaction_filter.h>
#include <rocksdb/statistics.h>
#include <rocksdb/write_batch.h>
#include <unistd.h>

#include <algorithm>
#include <filesystem>
#include <set>

#include "absl/strings/match.h"
#include "absl/strings/numbers.h"
#include "absl/strings/str_cat.h"
#include "absl/strings/str_split.h"
#include "absl/synchronization/mutex.h"
#include "common/byte_order.h"
#include "common/status.h"
#include "stores/rocksdb_status.h"

namespace weir {
namespace {

constexpr absl::string_view kOffsetsKey = "offsets";

rocksdb::Slice AsSlice(absl::string_view s) { return rocksdb::Slice(s.data(), s.size()); }
absl::string_view AsView(const rocksdb::Slice& s) { return absl::string_view(s.data(), s.size()); }

// Directories with a TaskDb open in this process. RocksDB's own lock (fcntl) cannot tell: a
// process never conflicts with its own fcntl locks.
absl::Mutex open_dirs_mutex;
std::set<std::string>& OpenDirs() ABSL_EXCLUSIVE_LOCKS_REQUIRED(open_dirs_mutex) {
  static auto* dirs = new std::set<std::string>;
  return *dirs;
}

std::string Canonical(const std::string& dir) {
  std::error_code error;
  std::filesystem::path path = std::filesystem::weakly_canonical(dir, error);
  return error ? dir : path.string();
}

// True when another process holds RocksDB's lock in `dir`.
bool LockedByAnotherProcess(const std::string& dir) {
  const int fd = ::open((std::filesystem::path(dir) / "LOCK").c_str(), O_RDWR);
  if (fd < 0) return false;  // no database there
  struct flock lock = {};
  lock.l_type = F_WRLCK;
  lock.l_whence = SEEK_SET;
  const bool held = ::fcntl(fd, F_GETLK, &lock) == 0 && lock.l_type != F_UNLCK;
  ::close(fd);
  return held;
}

}  // namespace

// The compaction filter factory of every TaskDb: per column family registered with
// ExpireByTimestamp, a filter that drops entries whose value's timestamp has expired; no filter
// for the others. Used from RocksDB's flush and compaction threads.
class TimestampExpiry : public rocksdb::CompactionFilterFactory {
 public:
  void Register(uint32_t family, int64_t retention_ms,
                std::shared_ptr<const std::atomic<int64_t>> observed) {
    absl::MutexLock lock(&mutex_);
    families_[family] = {retention_ms, std::move(observed)};
  }

  std::unique_ptr<rocksdb::CompactionFilter> CreateCompactionFilter(
      const rocksdb::CompactionFilter::Context& context) override {
    absl::MutexLock lock(&mutex_);
    auto it = families_.find(context.column_family_id);
    if (it == families_.end()) return nullptr;
    const int64_t observed = it->second.observed->load(std::memory_order_relaxed);
    if (observed < 0) return nullptr;
    return std::make_unique<ExpiredFilter>(observed - it->second.retention_ms);
  }
  bool ShouldFilterTableFileCreation(rocksdb::TableFileCreationReason reason) const override {
    return reason == rocksdb::TableFileCreationReason::kFlush ||
           reason == rocksdb::TableFileCreationReason::kCompaction;
  }
  const char* Name() const override { return "weir.TimestampExpiry"; }

 private:
  class ExpiredFilter : public rocksdb::CompactionFilter {
   public:
    explicit ExpiredFilter(int64_t expired_at_or_before)
        : expired_at_or_before_(expired_at_or_before) {}
    bool Filter(int /*level*/, const rocksdb::Slice& /*key*/, const rocksdb::Slice& value,
                std::string* /*new_value*/, bool* /*value_changed*/) const override {
      return value.size() >= 8 &&
             static_cast<int64_t>(LoadBigEndian64(value.data())) <= expired_at_or_before_;
    }
    const char* Name() const override { return "weir.TimestampExpiry"; }

   private:
    const int64_t expired_at_or_before_;
  };
  struct Expiry {
    int64_t retention_ms;
    std::shared_ptr<const std::atomic<int64_t>> observed;
  };
  absl::Mutex mutex_;
  std::map<uint32_t, Expiry> families_ ABSL_GUARDED_BY(mutex_);
};

void TaskDb::ExpireByTimestamp(rocksdb::ColumnFamilyHandle* cf, int64_t retention_ms,
                               std::shared_ptr<const std::atomic<int64_t>> observed_time) {
  expiry_->Register(cf->GetID(), retention_ms, std::move(observed_time));
}

absl::StatusOr<bool> TaskDb::DeleteIfUnused(const std::string& dir) {
  absl::MutexLock lock(&open_dirs_mutex);
  if (OpenDirs().contains(Canonical(dir)) || LockedByAnotherProcess(dir)) return false;
  std::error_code error;
  std::filesystem::remove_all(dir, error);
  if (error) return absl::InternalError(absl::StrCat("deleting ", dir, ": ", error.message()));
  return true;
}

// "topic\tpartition\toffset\n" per partition: Kafka topic names never hold tabs or newlines.
std::string TaskDb::EncodeOffsets(const Offsets& offsets) {
  std::string out;
  for (const auto& [partition, offset] : offsets) {
    absl::StrAppend(&out, partition.first, "\t", partition.second, "\t", offset, "\n");
  }
  return out;
}

absl::StatusOr<TaskDb::Offsets> TaskDb::DecodeOffsets(absl::string_view text) {
  TaskDb::Offsets offsets;
  for (absl::string_view line : absl::StrSplit(text, '\n', absl::SkipEmpty())) {
    std::vector<absl::string_view> fields = absl::StrSplit(line, '\t');
    int32_t partition;
    int64_t offset;
    if (fields.size() != 3 || !absl::SimpleAtoi(fields[1], &partition) ||
        !absl::SimpleAtoi(fields[2], &offset)) {
      return absl::DataLossError(absl::StrCat("stored offsets line '", line, "' is malformed"));
    }
    offsets[{std::string(fields[0]), partition}] = offset;
  }
  return offsets;
}

namespace {

constexpr char kLayoutVersionKey[] = "layout/version";

// Refuses state in a newer layout; stamps state without a version (new, or written before the
// layout carried one - the same layout as version 1) with kLayoutVersion.
absl::Status CheckLayoutVersion(rocksdb::DB& db, const std::string& dir) {
  std::string stored;
  const rocksdb::Status read = db.Get(rocksdb::ReadOptions(), kLayoutVersionKey, &stored);
  if (read.IsNotFound()) {
    return RocksDbStatus(db.Put(rocksdb::WriteOptions(), kLayoutVersionKey,
                                std::to_string(TaskDb::kLayoutVersion)),
                         absl::StrCat("stamping the state layout version in ", dir));
  }
  WEIR_RETURN_IF_ERROR(RocksDbStatus(read, absl::StrCat("reading the state layout of ", dir)));
  int64_t version = 0;
  if (!absl::SimpleAtoi(stored, &version)) {
    return absl::DataLossError(
        absl::StrCat("task state in ", dir, " has an unreadable layout version '", stored, "'"));
  }
  if (version > TaskDb::kLayoutVersion) {
    return absl::FailedPreconditionError(absl::StrCat(
        "task state in ", dir, " has layout version ", version, ", written by a newer weir; this ",
        "weir reads layout version ", TaskDb::kLayoutVersion, " and will not touch it. Run the ",
        "newer weir again, or delete the directory so that the task restores from its changelogs ",
        "(docs/runbook.md, Rolling back)"));
  }
  return absl::OkStatus();
}

}  // namespace

absl::StatusOr<std::unique_ptr<TaskDb>> TaskDb::Open(const std::string& dir,
                                                     const rocksdb::Options& options) {
  absl::MutexLock registry(&open_dirs_mutex);  // held until the directory is registered
  std::error_code error;
  std::filesystem::create_directories(dir, error);
  if (error) {
    return absl::InternalError(
        absl::StrCat("cannot create state directory ", dir, ": ", error.message()));
  }
  rocksdb::Options db_options = options;
  auto expiry = std::make_shared<TimestampExpiry>();
  db_options.compaction_filter_factory = expiry;
  db_options.create_if_missing = true;
  db_options.create_missing_column_families = true;
  db_options.wal_recovery_mode = rocksdb::WALRecoveryMode::kPointInTimeRecovery;

  std::vector<std::string> names;
  rocksdb::Status listed = rocksdb::DB::ListColumnFamilies(db_options, dir, &names);
  if (!listed.ok() || names.empty()) names = {rocksdb::kDefaultColumnFamilyName};  // a new DB
  std::vector<rocksdb::ColumnFamilyDescriptor> descriptors;
  for (const std::string& name : names) {
    descriptors.emplace_back(name, rocksdb::ColumnFamilyOptions(db_options));
  }
  std::vector<rocksdb::ColumnFamilyHandle*> handles;
  rocksdb::DB* raw = nullptr;
  const rocksdb::Status opened = rocksdb::DB::Open(db_options, dir, descriptors, &handles, &raw);
  if (!opened.ok()) {
    if (opened.IsIOError() && opened.ToString().find("lock") != std::string::npos) {
      return absl::FailedPreconditionError(
          absl::StrCat("state directory ", dir, " is in use by another weir instance (",
                       opened.ToString(), "): give each instance its own state.dir"));
    }
    return RocksDbStatus(opened, absl::StrCat("opening task state in ", dir));
  }
  if (absl::Status layout = CheckLayoutVersion(*raw, dir); !layout.ok()) {
    for (rocksdb::ColumnFamilyHandle* handle : handles) raw->DestroyColumnFamilyHandle(handle);
    delete raw;
    return layout;
  }
  std::map<std::string, rocksdb::ColumnFamilyHandle*> families;
  for (size_t i = 0; i < names.size(); ++i) families[names[i]] = handles[i];
  OpenDirs().insert(Canonical(dir));
  return std::unique_ptr<TaskDb>(new TaskDb(dir, std::unique_ptr<rocksdb::DB>(raw),
                                            std::move(families),
                                            rocksdb::ColumnFamilyOptions(db_options),
                                            std::move(expiry)));
}

absl::Status TaskDb::Dump(const std::string& dir, const EntryVisitor& visit) {
  rocksdb::Options options;
  std::vector<std::string> names;
  WEIR_RETURN_IF_ERROR(RocksDbStatus(rocksdb::DB::ListColumnFamilies(options, dir, &names),
                                     absl::StrCat("reading task state in ", dir)));
  std::sort(names.begin(), names.end());
  std::vector<rocksdb::ColumnFamilyDescriptor> descriptors;
  for (const std::string& name : names) descriptors.emplace_back(name, options);
  std::vector<rocksdb::ColumnFamilyHandle*> handles;
  rocksdb::DB* raw = nullptr;
  WEIR_RETURN_IF_ERROR(
      RocksDbStatus(rocksdb::DB::OpenForReadOnly(options, dir, descriptors, &handles, &raw),
                    absl::StrCat("opening task state in ", dir, " read-only")));
  std::unique_ptr<rocksdb::DB> db(raw);
  absl::Status status;
  for (size_t i = 0; i < handles.size(); ++i) {
    std::unique_ptr<rocksdb::Iterator> it(db->NewIterator(rocksdb::ReadOptions(), handles[i]));
    for (it->SeekToFirst(); it->Valid(); it->Next()) {
      visit(names[i], absl::string_view(it->key().data(), it->key().size()),
            absl::string_view(it->value().data(), it->value().size()));
    }
    if (status.ok()) status = RocksDbStatus(it->status(), absl::StrCat("reading ", dir));
  }
  for (rocksdb::ColumnFamilyHandle* handle : handles) db->DestroyColumnFamilyHandle(handle);
  return status;
}

TaskDb::TaskDb(std::string dir, std::unique_ptr<rocksdb::DB> db,
               std::map<std::string, rocksdb::ColumnFamilyHandle*> families,
               const rocksdb::ColumnFamilyOptions& cf_options,
               std::shared_ptr<TimestampExpiry> expiry)
    : dir_(std::move(dir)),
      db_(std::move(db)),
      families_(std::move(families)),
      meta_(families_.at(rocksdb::kDefaultColumnFamilyName)),
      cf_options_(cf_options),
      expiry_(std::move(expiry)) {}

TaskDb::~TaskDb() {
  // Uncommitted writes are dropped: the offsets stored with the state say where to resume.
  for (auto& [name, handle] : families_) db_->DestroyColumnFamilyHandle(handle);
  db_->Close().PermitUncheckedError();
  absl::MutexLock registry(&open_dirs_mutex);
  OpenDirs().erase(Canonical(dir_));
}

void TaskDb::RememberError(const rocksdb::Status& status, absl::string_view context) {
  if (error_.ok()) error_ = RocksDbStatus(status, absl::StrCat(context, " in ", dir_));
}

absl::StatusOr<rocksdb::ColumnFamilyHandle*> TaskDb::ColumnFamily(const std::string& name) {
  if (auto it = families_.find(name); it != families_.end()) return it->second;
  rocksdb::ColumnFamilyHandle* handle = nullptr;
  const rocksdb::Status created = db_->CreateColumnFamily(cf_options_, name, &handle);
  if (!created.ok()) {
    RememberError(created, absl::StrCat("creating column family ", name));  // fails Commit
    return RocksDbStatus(created, absl::StrCat("creating column family ", name, " in ", dir_));
  }
  families_[name] = handle;
  return handle;
}

std::vector<std::string> TaskDb::ColumnFamilies(absl::string_view prefix) const {
  std::vector<std::string> names;
  for (const auto& [name, handle] : families_) {
    if (absl::string_view(name).substr(0, prefix.size()) == prefix) names.push_back(name);
  }
  return names;
}

void TaskDb::DropAfterCommit(const std::string& name) { to_drop_.push_back(name); }

TaskDb::Family& TaskDb::PendingOf(rocksdb::ColumnFamilyHandle* cf) {
  std::unique_ptr<Family>& family = pending_families_[cf];
  if (family == nullptr) family = std::make_unique<Family>();
  return *family;
}

void TaskDb::Write(rocksdb::ColumnFamilyHandle* cf, absl::string_view key,
                   std::optional<absl::string_view> value) {
  Family& family = PendingOf(cf);
  auto [entry, inserted] = family.writes.try_emplace(key);
  if (inserted) {
    pending_bytes_ += sizeof(PendingMap::value_type) + key.size();
    ++family.generation;  // nodes may have moved
  } else if (entry->second.has_value()) {
    pending_bytes_ -= entry->second->size();
  }
  if (value.has_value()) {
    if (!entry->second.has_value()) entry->second.emplace();
    entry->second->assign(value->data(), value->size());  // reuses the buffer of an update
    pending_bytes_ += value->size();
  } else {
    entry->second.reset();
  }
  ++pending_;
}

void TaskDb::Put(rocksdb::ColumnFamilyHandle* cf, absl::string_view key, absl::string_view value) {
  Write(cf, key, value);
}

void TaskDb::Delete(rocksdb::ColumnFamilyHandle* cf, absl::string_view key) {
  Write(cf, key, std::nullopt);
}

std::optional<absl::string_view> TaskDb::Get(rocksdb::ColumnFamilyHandle* cf,
                                             absl::string_view key) {
  if (auto family = pending_families_.find(cf); family != pending_families_.end()) {
    if (auto entry = family->second->writes.find(key); entry != family->second->writes.end()) {
      if (!entry->second.has_value()) return std::nullopt;
      return absl::string_view(*entry->second);
    }
  }
  read_.Reset();
  const rocksdb::Status status = db_->Get(rocksdb::ReadOptions(), cf, AsSlice(key), &read_);
  if (status.ok()) return absl::string_view(read_.data(), read_.size());
  if (!status.IsNotFound()) RememberError(status, "reading");
  return std::nullopt;
}

std::unique_ptr<TaskDb::Iterator> TaskDb::NewIterator(rocksdb::ColumnFamilyHandle* cf) {
  return std::unique_ptr<Iterator>(new Iterator(
      this, &PendingOf(cf),
      std::unique_ptr<rocksdb::Iterator>(db_->NewIterator(rocksdb::ReadOptions(), cf))));
}

TaskDb::Iterator::Iterator(TaskDb* db, Family* family, std::unique_ptr<rocksdb::Iterator> base)
    : db_(db), family_(family), base_(std::move(base)) {}

void TaskDb::Iterator::SeekToFirst() {
  base_->SeekToFirst();
  pending_ = family_->writes.begin();
  generation_ = family_->generation;
  Settle();
}

void TaskDb::Iterator::Seek(absl::string_view target) {
  base_->Seek(AsSlice(target));
  pending_ = family_->writes.lower_bound(target);
  generation_ = family_->generation;
  Settle();
}

void TaskDb::Iterator::Next() {
  if (!valid_) return;
  if (base_->Valid() && AsView(base_->key()) == key_) base_->Next();
  if (generation_ != family_->generation) {  // the map changed under the iterator: re-find
    pending_ = family_->writes.upper_bound(key_);
    generation_ = family_->generation;
  } else if (pending_ != family_->writes.end() && pending_->first == key_) {
    ++pending_;
  }
  Settle();
}

void TaskDb::Iterator::Settle() {
  for (;;) {
    const bool has_pending = pending_ != family_->writes.end();
    if (!base_->Valid() && !base_->status().ok()) {
      db_->RememberError(base_->status(), "iterating");
      valid_ = false;
      return;
    }
    const bool has_base = base_->Valid();
    if (!has_pending && !has_base) {
      valid_ = false;
      return;
    }
    // < 0: the pending side holds the smaller key; 0: both hold it; > 0: the committed side.
    const int order = !has_pending ? 1
                      : !has_base
                          ? -1
                          : absl::string_view(pending_->first).compare(AsView(base_->key()));
    if (order > 0) {
      key_.assign(base_->key().data(), base_->key().size());
      value_ = AsView(base_->value());
      valid_ = true;
      return;
    }
    if (!pending_->second.has_value()) {  // a pending deletion hides the key
      if (order == 0) base_->Next();
      ++pending_;
      continue;
    }
    key_ = pending_->first;
    value_ = *pending_->second;
    valid_ = true;
    return;
  }
}

void TaskDb::ForEachPending(
    rocksdb::ColumnFamilyHandle* cf,
    const std::function<void(absl::string_view key, std::optional<absl::string_view> value)>&
        visit) {
  auto family = pending_families_.find(cf);
  if (family == pending_families_.end()) return;
  for (const auto& [key, value] : family->second->writes) {
    if (value.has_value()) {
      visit(key, *value);
    } else {
      visit(key, std::nullopt);
    }
  }
}

absl::Status TaskDb::FlushMemtables() {
  std::vector<rocksdb::ColumnFamilyHandle*> stores;
  for (const auto& [name, handle] : families_) {
    if (handle != meta_) stores.push_back(handle);
  }
  if (!stores.empty()) {
    WEIR_RETURN_IF_ERROR(RocksDbStatus(db_->Flush(rocksdb::FlushOptions(), stores),
                                       absl::StrCat("flushing memtables in ", dir_)));
  }
  return RocksDbStatus(db_->Flush(rocksdb::FlushOptions(), meta_),
                       absl::StrCat("flushing the metadata memtable in ", dir_));
}

TaskDbStatistics TaskDb::Statistics(const std::vector<std::string>& stores) const {
  TaskDbStatistics out;
  if (const std::shared_ptr<rocksdb::Statistics> stats = db_->GetOptions().statistics) {
    out.tickers_enabled = true;
    const auto count = [&](rocksdb::Tickers t) {
      return static_cast<int64_t>(stats->getTickerCount(t));
    };
    RocksDbTickers& t = out.tickers;
    t.block_cache_data_hit = count(rocksdb::BLOCK_CACHE_DATA_HIT);
    t.block_cache_data_miss = count(rocksdb::BLOCK_CACHE_DATA_MISS);
    t.block_cache_index_hit = count(rocksdb::BLOCK_CACHE_INDEX_HIT);
    t.block_cache_index_miss = count(rocksdb::BLOCK_CACHE_INDEX_MISS);
    t.block_cache_filter_hit = count(rocksdb::BLOCK_CACHE_FILTER_HIT);
    t.block_cache_filter_miss = count(rocksdb::BLOCK_CACHE_FILTER_MISS);
    t.stall_micros = count(rocksdb::STALL_MICROS);
    t.bytes_written = count(rocksdb::BYTES_WRITTEN);
    t.bytes_read = count(rocksdb::BYTES_READ);
    t.memtable_bytes_flushed = count(rocksdb::FLUSH_WRITE_BYTES);
    t.memtable_hit = count(rocksdb::MEMTABLE_HIT);
    t.memtable_miss = count(rocksdb::MEMTABLE_MISS);
    t.compaction_bytes_read = count(rocksdb::COMPACT_READ_BYTES);
    t.compaction_bytes_written = count(rocksdb::COMPACT_WRITE_BYTES);
    t.files_opened = count(rocksdb::NO_FILE_OPENS);
    t.files_closed = count(rocksdb::NO_FILE_CLOSES);
    t.file_errors = count(rocksdb::NO_FILE_ERRORS);
  }
  const auto property = [&](rocksdb::ColumnFamilyHandle* cf, const std::string& name) {
    uint64_t value = 0;
    return db_->GetIntProperty(cf, name, &value) ? static_cast<int64_t>(value) : 0;
  };
  out.block_cache = {.capacity = property(meta_, "rocksdb.block-cache-capacity"),
                     .usage = property(meta_, "rocksdb.block-cache-usage"),
                     .pinned_usage = property(meta_, "rocksdb.block-cache-pinned-usage")};
  // Per column family, except background errors (a DB-wide count).
  const int64_t background_errors = property(meta_, "rocksdb.background-errors");
  for (const std::string& store : stores) {
    RocksDbProperties& p = out.stores[store];
    p.background_errors = background_errors;
    for (const auto& [name, cf] : families_) {
      if (name != store && !absl::StartsWith(name, absl::StrCat(store, ":"))) continue;
      p.num_immutable_mem_table += property(cf, "rocksdb.num-immutable-mem-table");
      p.cur_size_active_mem_table += property(cf, "rocksdb.cur-size-active-mem-table");
      p.cur_size_all_mem_tables += property(cf, "rocksdb.cur-size-all-mem-tables");
      p.size_all_mem_tables += property(cf, "rocksdb.size-all-mem-tables");
      p.estimate_num_keys += property(cf, "rocksdb.estimate-num-keys");
      p.estimate_pending_compaction_bytes +=
          property(cf, "rocksdb.estimate-pending-compaction-bytes");
      p.live_sst_files_size += property(cf, "rocksdb.live-sst-files-size");
      p.total_sst_files_size += property(cf, "rocksdb.total-sst-files-size");
    }
    // Flushes and compactions running are DB-wide figures.
    p.num_running_flushes = property(meta_, "rocksdb.num-running-flushes");
    p.num_running_compactions = property(meta_, "rocksdb.num-running-compactions");
  }
  return out;
}

TaskDb::Offsets TaskDb::StoredOffsets() {
  std::optional<std::string> text = GetMeta(kOffsetsKey);
  if (!text) return {};
  absl::StatusOr<Offsets> offsets = DecodeOffsets(*text);
  if (!offsets.ok()) {
    if (error_.ok())
      error_ = absl::DataLossError(absl::StrCat(dir_, ": ", offsets.status().message()));
    return {};
  }
  return *offsets;
}

absl::Status TaskDb::Commit(const Offsets& offsets, bool write_ahead_log) {
  WEIR_RETURN_IF_ERROR(error_);
  if (!offsets.empty()) {
    Offsets merged = StoredOffsets();
    for (const auto& [partition, offset] : offsets) merged[partition] = offset;
    PutMeta(kOffsetsKey, EncodeOffsets(merged));
  }
  if (pending_ > 0) {
    rocksdb::WriteBatch batch(pending_bytes_);
    for (auto& [cf, family] : pending_families_) {
      for (const auto& [key, value] : family->writes) {
        WEIR_RETURN_IF_ERROR(RocksDbStatus(value.has_value()
                                               ? batch.Put(cf, AsSlice(key), AsSlice(*value))
                                               : batch.Delete(cf, AsSlice(key)),
                                           absl::StrCat("batching task state in ", dir_)));
      }
    }
    rocksdb::WriteOptions write;
    write.sync = false;
    write.disableWAL = !write_ahead_log;
    WEIR_RETURN_IF_ERROR(
        RocksDbStatus(db_->Write(write, &batch), absl::StrCat("committing task state in ", dir_)));
    for (auto& [cf, family] : pending_families_) {
      family->writes.clear();
      ++family->generation;
    }
    pending_ = 0;
    pending_bytes_ = 0;
  }
  for (const std::string& name : to_drop_) {
    auto it = families_.find(name);
    if (it == families_.end()) continue;
    WEIR_RETURN_IF_ERROR(
        RocksDbStatus(db_->DropColumnFamily(it->second),
                      absl::StrCat("dropping column family ", name, " in ", dir_)));
    pending_families_.erase(it->second);
    db_->DestroyColumnFamilyHandle(it->second);
    families_.erase(it);
  }
  to_drop_.clear();
  return absl::OkStatus();
}

}  // namespace weir
