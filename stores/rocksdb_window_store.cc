#include "stores/rocksdb_window_store.h"

#include <algorithm>
#include <tuple>
#include <vector>

#include "absl/strings/match.h"
#include "absl/strings/numbers.h"
#include "absl/strings/str_cat.h"
#include "common/byte_order.h"
#include "common/status.h"
#include "stores/window_key.h"

namespace weir {
namespace {

std::string EncodeTime(int64_t t) {
  char bytes[8];
  StoreBigEndian64(bytes, static_cast<uint64_t>(t));
  return std::string(bytes, 8);
}

}  // namespace

absl::StatusOr<std::unique_ptr<RocksDbWindowStore>> RocksDbWindowStore::Open(
    WindowStoreOptions options, TaskDb* db) {
  std::unique_ptr<RocksDbWindowStore> store(new RocksDbWindowStore(std::move(options), db));
  const std::string prefix = absl::StrCat(store->options_.name, ":");
  for (const std::string& name : db->ColumnFamilies(prefix)) {
    int64_t id;
    if (!absl::SimpleAtoi(absl::string_view(name).substr(prefix.size()), &id)) continue;
    WEIR_ASSIGN_OR_RETURN(store->segments_[id], db->ColumnFamily(name));
  }
  if (std::optional<std::string> time =
          db->GetMeta(absl::StrCat("stream-time/", store->options_.name));
      time && time->size() == 8) {
    store->observed_stream_time_ = static_cast<int64_t>(LoadBigEndian64(time->data()));
  }
  // Segments expired by the stored stream time: a process killed after a commit and before the
  // segment drops that follow it leaves them behind (unreadable, but taking space), and time
  // may never advance again to drop them.
  store->ExpireSegments();
  return store;
}

RocksDbWindowStore::RocksDbWindowStore(WindowStoreOptions options, TaskDb* db)
    : options_(std::move(options)),
      db_(db),
      segment_interval_ms_(options_.segment_interval_ms > 0
                               ? options_.segment_interval_ms
                               : std::max<int64_t>(options_.retention_ms / 2, 60'000)) {}

std::string RocksDbWindowStore::SegmentName(int64_t id) const {
  return absl::StrCat(options_.name, ":", id);
}

bool RocksDbWindowStore::Put(absl::string_view key, int64_t window_start,
                             std::optional<absl::string_view> value) {
  if (window_start > observed_stream_time_) {
    observed_stream_time_ = window_start;
    db_->PutMeta(absl::StrCat("stream-time/", options_.name), EncodeTime(window_start));
    ExpireSegments();
  }
  if (window_start < MinLiveStart()) return false;
  const int64_t id = SegmentId(window_start);
  auto segment = segments_.find(id);
  if (segment == segments_.end()) {
    if (!value.has_value()) return true;  // nothing to delete
    absl::StatusOr<rocksdb::ColumnFamilyHandle*> cf = db_->ColumnFamily(SegmentName(id));
    if (!cf.ok()) return false;  // the task's next commit reports the error
    segment = segments_.emplace(id, *cf).first;
  }
  if (value.has_value()) {
    db_->Put(segment->second, WindowKeyInto(key, window_start, scratch_), *value);
  } else {
    db_->Delete(segment->second, WindowKeyInto(key, window_start, scratch_));
  }
  return true;
}

std::optional<std::string> RocksDbWindowStore::Fetch(absl::string_view key,
                                                     int64_t window_start) const {
  if (window_start < MinLiveStart()) return std::nullopt;
  auto segment = segments_.find(SegmentId(window_start));
  if (segment == segments_.end()) return std::nullopt;
  const std::optional<absl::string_view> value =
      db_->Get(segment->second, WindowKeyInto(key, window_start, scratch_));
  if (!value.has_value()) return std::nullopt;
  return std::string(*value);
}

void RocksDbWindowStore::Fetch(absl::string_view key, int64_t from, int64_t to,
                               const Visitor& visit) const {
  from = std::max(from, MinLiveStart());
  if (from > to) return;
  for (auto segment = segments_.lower_bound(SegmentId(from));
       segment != segments_.end() && segment->first <= SegmentId(to); ++segment) {
    std::unique_ptr<TaskDb::Iterator> it = db_->NewIterator(segment->second);
    for (it->Seek(WindowKey(key, from)); it->Valid() && absl::StartsWith(it->key(), key);
         it->Next()) {
      // A longer key that starts with `key` can sort among its windows: skip it.
      if (it->key().size() != key.size() + 8) continue;
      const int64_t start = WindowKeyStart(it->key());
      if (start > to) break;
      visit(key, start, it->value());
    }
  }
}

void RocksDbWindowStore::FetchAll(int64_t from, int64_t to, const Visitor& visit) const {
  from = std::max(from, MinLiveStart());
  if (from > to) return;
  // Segments are ordered by time; callers expect key order, so gather then sort.
  std::vector<std::tuple<std::string, int64_t, std::string>> found;
  for (auto segment = segments_.lower_bound(SegmentId(from));
       segment != segments_.end() && segment->first <= SegmentId(to); ++segment) {
    std::unique_ptr<TaskDb::Iterator> it = db_->NewIterator(segment->second);
    for (it->SeekToFirst(); it->Valid(); it->Next()) {
      if (it->key().size() < 8) continue;
      const int64_t start = WindowKeyStart(it->key());
      if (start < from || start > to) continue;
      found.emplace_back(std::string(WindowKeyRecordKey(it->key())), start,
                         std::string(it->value()));
    }
  }
  std::sort(found.begin(), found.end());
  for (const auto& [key, start, value] : found) visit(key, start, value);
}

void RocksDbWindowStore::ForEachPendingChange(const ChangeVisitor& visit) const {
  for (const auto& [id, cf] : segments_) db_->ForEachPending(cf, visit);
}

absl::Status RocksDbWindowStore::ApplyChange(absl::string_view key,
                                             std::optional<absl::string_view> value) {
  if (key.size() < 8) {
    return absl::DataLossError(absl::StrCat("changelog record of window store ", options_.name,
                                            " has a ", key.size(), "-byte key (needs >= 8)"));
  }
  Put(WindowKeyRecordKey(key), WindowKeyStart(key), value);  // an expired window stays expired
  return absl::OkStatus();
}

void RocksDbWindowStore::ExpireSegments() {
  const int64_t min_live = MinLiveStart();
  while (!segments_.empty() &&
         (segments_.begin()->first + 1) * segment_interval_ms_ - 1 < min_live) {
    db_->DropAfterCommit(SegmentName(segments_.begin()->first));
    segments_.erase(segments_.begin());
  }
}

}  // namespace weir
