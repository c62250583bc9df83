#include "engine/runtime/internal/task.h"

#include <algorithm>

#include "absl/strings/str_cat.h"
#include "common/byte_order.h"
#include "common/check.h"
#include "common/status.h"
#include "engine/metrics/metered_stores.h"
#include "engine/processor/topic_name.h"
#include "stores/caching_key_value_store.h"
#include "stores/caching_window_store.h"
#include "stores/in_memory_window_store.h"
#include "stores/rocksdb_key_value_store.h"
#include "stores/rocksdb_window_store.h"

namespace weir::internal {
namespace {

constexpr absl::string_view kStreamTimeKey = "task/stream-time";
constexpr absl::string_view kCommitSeqKey = "task/commit-seq";
constexpr absl::string_view kCommitEpochKey = "task/commit-epoch";

std::string ChangelogKey(absl::string_view store) { return absl::StrCat("changelog/", store); }

std::string Encode64(int64_t v) {
  char bytes[8];
  StoreBigEndian64(bytes, static_cast<uint64_t>(v));
  return std::string(bytes, 8);
}

std::optional<int64_t> Decode64(const std::optional<std::string>& bytes) {
  if (!bytes || bytes->size() != 8) return std::nullopt;
  return static_cast<int64_t>(LoadBigEndian64(bytes->data()));
}

}  // namespace

absl::StatusOr<std::unique_ptr<Task>> Task::Create(
    const Topology& topology, const Topology::Subtopology& subtopology, TaskId id,
    std::string application_id, std::function<int64_t()> wall_clock, RecordCollector* collector,
    std::unique_ptr<TaskDb> db, RecordCache* cache, bool debug_metrics,
    GlobalStoreFinder global_stores) {
  std::unique_ptr<Task> task(new Task());
  task->db_ = std::move(db);
  task->context_.global_store = std::move(global_stores);
  task->context_.task_id = id;
  task->context_.application_id = std::move(application_id);
  task->context_.wall_clock = std::move(wall_clock);
  task->context_.collector = collector;
  task->created_ms_ = task->context_.wall_clock();
  if (task->db_ != nullptr) {
    task->context_.stream_time = Decode64(task->db_->GetMeta(kStreamTimeKey)).value_or(-1);
    task->commit_seq_ = Decode64(task->db_->GetMeta(kCommitSeqKey)).value_or(0);
    task->commit_epoch_ = Decode64(task->db_->GetMeta(kCommitEpochKey)).value_or(0);
  }
  task->context_.record_debug_metrics = debug_metrics;
  WEIR_RETURN_IF_ERROR(task->Init(topology, subtopology, cache, debug_metrics));
  return task;
}

absl::Status Task::Init(const Topology& topology, const Topology::Subtopology& subtopology,
                        RecordCache* cache, bool debug_metrics) {
  const bool cached = cache != nullptr && cache->max_bytes() > 0;
  auto record_timestamp = [context = &context_] { return context->record_timestamp; };
  for (int store : subtopology.stores) {
    const Topology::StoreSpec& spec = topology.stores()[store];
    // Kafka Streams' cache namespace: `<task>-<store>`.
    const std::string ns = absl::StrCat(context_.task_id.ToString(), "-", spec.name);
    const int64_t retention_ms = spec.kind == Topology::StoreKind::kWindow
                                     ? spec.window.retention_ms + spec.window.window_size_ms
                                     : spec.keyvalue.retention_ms;
    if (retention_ms == 0 || longest_retention_ms_ < 0) {
      longest_retention_ms_ = -1;  // kept forever: any deletion loses live state
    } else {
      longest_retention_ms_ = std::max(longest_retention_ms_, retention_ms);
    }
    std::unique_ptr<StateStore> opened;
    if (spec.kind == Topology::StoreKind::kKeyValue) {
      std::unique_ptr<KeyValueBytesStore> kv;
      if (db_ == nullptr) {
        kv = std::make_unique<InMemoryKeyValueStore>(spec.keyvalue);
      } else {
        WEIR_ASSIGN_OR_RETURN(kv, RocksDbKeyValueStore::Open(spec.keyvalue, db_.get()));
      }
      if (cached)
        kv = std::make_unique<CachingKeyValueStore>(std::move(kv), cache, ns, record_timestamp);
      if (debug_metrics) {
        auto metered = std::make_unique<MeteredKeyValueStore>(std::move(kv), context_.wall_clock);
        metered_[spec.name] = &metered->sensors();
        kv = std::move(metered);
      }
      opened = std::move(kv);
    } else {
      std::unique_ptr<WindowBytesStore> window;
      if (db_ == nullptr) {
        window = std::make_unique<InMemoryWindowStore>(spec.window);
      } else {
        WEIR_ASSIGN_OR_RETURN(window, RocksDbWindowStore::Open(spec.window, db_.get()));
      }
      if (cached) {
        window = std::make_unique<CachingWindowStore>(std::move(window), spec.window, cache, ns,
                                                      record_timestamp);
      }
      if (debug_metrics) {
        auto metered = std::make_unique<MeteredWindowStore>(std::move(window), context_.wall_clock);
        metered_[spec.name] = &metered->sensors();
        window = std::move(metered);
      }
      opened = std::move(window);
    }
    context_.stores.emplace(spec.name, std::move(opened));
  }
  std::map<int, nodes::NodeBase*> by_index;
  for (int index : subtopology.nodes) {
    const Topology::NodeSpec& spec = topology.nodes()[index];
    nodes_.push_back(spec.make(spec));
    by_index[index] = nodes_.back().get();
    if (spec.kind == Topology::NodeKind::kSource) {
      auto* source = dynamic_cast<nodes::SourceNodeBase*>(nodes_.back().get());
      for (const std::string& topic : spec.topics) {
        const std::string resolved =
            spec.internal_topics ? InternalTopic(context_.application_id, topic) : topic;
        source_by_topic_[resolved] = source;
        source_topics_.push_back(resolved);
      }
    }
  }
  for (int index : subtopology.nodes) {
    for (int child : topology.nodes()[index].children) {
      WEIR_CHECK(by_index[index]->Connect(by_index[child]))
          << "type mismatch linking " << topology.nodes()[index].name << " to "
          << topology.nodes()[child].name;
    }
  }
  for (auto& node : nodes_) node->Init(context_);
  return absl::OkStatus();
}

Task::~Task() { Close(); }

absl::Status Task::Process(const RawRecord& raw, const RecordMetadata& metadata,
                           int64_t system_time_ms) {
  auto source = source_by_topic_.find(metadata.topic);
  if (source == source_by_topic_.end()) {
    return absl::NotFoundError(
        absl::StrCat("task ", id().ToString(), " does not read topic ", metadata.topic));
  }
  context_.system_time_ms = system_time_ms;
  if (context_.counters.processed++ == 0) first_processed_ms_ = system_time_ms;
  context_.metadata = metadata;
  absl::Status status = source->second->ProcessRaw(raw);
  context_.metadata.reset();
  if (!status.ok()) {
    ++context_.counters.deserialization_errors;
    return status;
  }
  Punctuate(PunctuationType::kStreamTime, context_.stream_time);
  return absl::OkStatus();
}

int Task::PunctuateWallClock(int64_t system_time_ms) {
  context_.system_time_ms = system_time_ms;
  return Punctuate(PunctuationType::kWallClockTime, system_time_ms);
}

int Task::Punctuate(PunctuationType type, int64_t now) {
  if (now < 0) return 0;
  int fired = 0;
  // By index: a callback may schedule more punctuations, which first run on a later call.
  const size_t count = context_.punctuations.size();
  for (size_t i = 0; i < count; ++i) {
    ScheduledPunctuation& p = context_.punctuations[i];
    if (p.type != type || *p.cancelled || now < p.next_ms) continue;
    // Kafka Streams' PunctuationSchedule.next: align to the interval, skip missed ones.
    p.next_ms = now - ((now - p.next_ms) % p.interval_ms) + p.interval_ms;
    auto callback = p.callback;  // the vector may grow during the call
    callback(now);
    ++fired;
  }
  std::erase_if(context_.punctuations, [](const ScheduledPunctuation& p) { return *p.cancelled; });
  context_.counters.punctuations += fired;
  return fired;
}

absl::Status Task::Flush() {
  for (auto& [name, store] : context_.stores) WEIR_RETURN_IF_ERROR(store->Flush());
  return absl::OkStatus();
}

void Task::PrepareCommit(const TaskDb::Offsets& offsets) {
  changelog_slots_.clear();
  pending_marker_.reset();
  if (db_ == nullptr) return;
  // Stamped with the time they are written, not the records' event time: the broker deletes a
  // changelog record by its timestamp (retention.ms, for stores with a retention), and a
  // backfill's event times lie in the past - their state would be deleted as it was written,
  // and a restore would come back without it. The retention then runs from the write: nothing
  // goes before retention + windowstore.changelog.additional.retention.ms of wall time, by
  // which the store expired it too unless stream time stood still (docs/state-layout.md).
  const int64_t timestamp = context_.wall_clock();
  // This activation's writer epoch, drawn at its first write: above every epoch the state has
  // applied (a restore or a standby brought in the last owner's), and at least the wall clock,
  // so that two owners that both restored the same last commit - the first paused before it
  // wrote anything - still differ. changelog_marker.h says what readers do with it.
  if (writer_epoch_ < 0) writer_epoch_ = std::max(commit_epoch_ + 1, timestamp);
  const Header epoch = ChangelogMarker::EpochHeader(writer_epoch_);
  bool changed = false;
  for (const auto& [name, store] : context_.stores) {
    const std::string topic = ChangelogTopic(context_.application_id, name);
    store->ForEachPendingChange([&](absl::string_view key, std::optional<absl::string_view> value) {
      changed = true;
      context_.collector->SendToPartition(
          topic, context_.task_id.partition,
          RawRecord{.key = std::string(key),
                    .value = value ? std::optional<std::string>(std::string(*value)) : std::nullopt,
                    .timestamp = timestamp,
                    .headers = {epoch}});
    });
  }
  if (!changed) return;
  ++commit_seq_;
  commit_epoch_ = writer_epoch_;
  pending_marker_ = RawRecord{
      .key = std::string(ChangelogMarker::kKey),
      .value = ChangelogMarker{.seq = commit_seq_, .stream_time = context_.stream_time,
                               .offsets = offsets}
                   .Encode(),
      .timestamp = timestamp,
      .headers = {epoch}};
}

void Task::SealCommit() {
  if (!pending_marker_.has_value()) return;
  // A marker to every logged store, changed or not, all with the same sequence number: each
  // changelog then carries every commit, and restoration can bring all stores to one commit.
  for (const std::string& name : logged_stores()) {
    changelog_slots_[name] = context_.collector->SendToPartition(
        ChangelogTopic(context_.application_id, name), context_.task_id.partition,
        *pending_marker_);
  }
  pending_marker_.reset();
}

absl::Status Task::Commit(const TaskDb::Offsets& offsets) {
  if (db_ == nullptr) return absl::OkStatus();
  std::map<std::string, int64_t> changelog_ends;
  for (const auto& [store, slot] : changelog_slots_) {
    if (slot != nullptr && *slot >= 0) changelog_ends[store] = *slot;
  }
  changelog_slots_.clear();
  return WriteCommit(offsets, changelog_ends);
}

absl::Status Task::WriteCommit(const TaskDb::Offsets& offsets,
                               const std::map<std::string, int64_t>& changelog_ends,
                               bool write_ahead_log) {
  // Stream time decides lateness: a restart must see the same stream time the state was built
  // with, or records dropped before the crash would be accepted after it.
  db_->PutMeta(kStreamTimeKey, Encode64(context_.stream_time));
  db_->PutMeta(kCommitSeqKey, Encode64(commit_seq_));
  db_->PutMeta(kCommitEpochKey, Encode64(commit_epoch_));
  for (const auto& [store, end] : changelog_ends) db_->PutMeta(ChangelogKey(store), Encode64(end));
  return db_->Commit(offsets, write_ahead_log);
}

int64_t Task::ChangelogOffset(absl::string_view store) {
  return db_ == nullptr ? 0 : Decode64(db_->GetMeta(ChangelogKey(store))).value_or(0);
}

absl::Status Task::ApplyChangelogRecord(absl::string_view store, absl::string_view key,
                                        std::optional<absl::string_view> value) {
  auto it = context_.stores.find(store);
  if (it == context_.stores.end()) {
    return absl::InternalError(absl::StrCat("task ", id().ToString(), " has no store ", store));
  }
  return it->second->ApplyChange(key, value);
}

absl::Status Task::CommitRestored(const ChangelogMarker& marker,
                                  const std::map<std::string, int64_t>& changelog_ends) {
  commit_seq_ = marker.seq;
  commit_epoch_ = marker.epoch;
  context_.stream_time = marker.stream_time;
  if (first_restored_stream_time_ < 0) first_restored_stream_time_ = marker.stream_time;
  return WriteCommit(marker.offsets, changelog_ends, /*write_ahead_log=*/false);
}

std::string Task::LostState() const {
  if (!restore_truncated_) return "";
  if (first_restored_stream_time_ < 0) {
    return "no whole commit is left after the deleted head: the state starts empty";
  }
  if (longest_retention_ms_ < 0) {
    return "a store keeps its entries without retention, so the deleted head held live ones";
  }
  const int64_t moved = context_.stream_time - first_restored_stream_time_;
  if (moved >= longest_retention_ms_) return "";
  return absl::StrCat("stream time moved ", moved, " ms over what is left, less than the ",
                      "stores' retention (", longest_retention_ms_, " ms): entries written ",
                      "before it may still have been live");
}

std::vector<std::string> Task::logged_stores() const {
  std::vector<std::string> names;
  for (const auto& [name, store] : context_.stores) {
    if (store->logged()) names.push_back(name);
  }
  return names;
}

void Task::Close() {
  if (closed_) return;
  closed_ = true;
  for (auto& node : nodes_) node->Close();
}

StateStore* Task::store(absl::string_view name) const {
  auto it = context_.stores.find(name);
  return it == context_.stores.end() ? nullptr : it->second.get();
}

TaskMetrics Task::Metrics(int64_t now_ms, bool with_rocksdb) const {
  TaskMetrics m{.id = context_.task_id,
                .process = context_.sensors.process.Read(now_ms),
                .dropped = context_.sensors.dropped.Read(now_ms),
                .e2e_latency_ms = context_.sensors.e2e_latency_ms.Read(now_ms),
                .sink_e2e_latency_ms = context_.sensors.sink_e2e_latency_ms.Read(now_ms),
                .future_records = context_.counters.future_records,
                .misplaced_records = context_.counters.misplaced,
                .records_restored = records_restored_,
                .restore_remaining = restore_remaining_,
                .created_ms = created_ms_,
                .first_processed_ms = first_processed_ms_,
                .from_standby = from_standby_};
  std::vector<std::string> names;
  for (const auto& [name, store] : context_.stores) {
    names.push_back(name);
    if (const CacheNamespace* cache = store->cache_namespace()) {
      m.caches.push_back({name, cache->hits(), cache->misses()});
    }
  }
  if (with_rocksdb && db_ != nullptr) m.rocksdb = db_->Statistics(names);
  for (const auto& [name, sensors] : metered_) m.store_operations[name] = sensors->Readings(now_ms);
  return m;
}

}  // namespace weir::internal
