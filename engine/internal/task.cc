#include "engine/internal/task.h"

#include "absl/base/internal/endian.h"
#include "absl/strings/str_cat.h"
#include "common/check.h"
#include "common/status.h"
#include "stores/in_memory_window_store.h"
#include "stores/rocksdb_window_store.h"

namespace weir::internal {
namespace {

constexpr absl::string_view kStreamTimeKey = "task/stream-time";

}  // namespace

absl::StatusOr<std::unique_ptr<Task>> Task::Create(const Topology& topology,
                                                   const Topology::Subtopology& subtopology,
                                                   TaskId id, std::string application_id,
                                                   std::function<int64_t()> wall_clock,
                                                   RecordCollector* collector,
                                                   std::unique_ptr<TaskDb> db) {
  std::unique_ptr<Task> task(new Task());
  task->db_ = std::move(db);
  task->context_.task_id = id;
  task->context_.application_id = std::move(application_id);
  task->context_.wall_clock = std::move(wall_clock);
  task->context_.collector = collector;
  if (task->db_ != nullptr) {
    if (std::optional<std::string> time = task->db_->GetMeta(kStreamTimeKey);
        time && time->size() == 8) {
      task->context_.stream_time = static_cast<int64_t>(absl::big_endian::Load64(time->data()));
    }
  }
  WEIR_RETURN_IF_ERROR(task->Init(topology, subtopology));
  return task;
}

absl::Status Task::Init(const Topology& topology, const Topology::Subtopology& subtopology) {
  for (int store : subtopology.stores) {
    const Topology::StoreSpec& spec = topology.stores()[store];
    if (db_ == nullptr) {
      context_.stores.emplace(spec.name, std::make_unique<InMemoryWindowStore>(spec.window));
    } else {
      WEIR_ASSIGN_OR_RETURN(std::unique_ptr<RocksDbWindowStore> opened,
                            RocksDbWindowStore::Open(spec.window, db_.get()));
      context_.stores.emplace(spec.name, std::move(opened));
    }
  }
  std::map<int, NodeBase*> by_index;
  for (int index : subtopology.nodes) {
    const Topology::NodeSpec& spec = topology.nodes()[index];
    nodes_.push_back(spec.make(spec));
    by_index[index] = nodes_.back().get();
    if (spec.kind == Topology::NodeKind::kSource) {
      auto* source = dynamic_cast<SourceNodeBase*>(nodes_.back().get());
      for (const std::string& topic : spec.topics) {
        const std::string resolved =
            spec.internal_topics ? absl::StrCat(context_.application_id, "-", topic) : topic;
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

absl::Status Task::Process(const RawRecord& raw, const RecordMetadata& metadata) {
  auto source = source_by_topic_.find(metadata.topic);
  if (source == source_by_topic_.end()) {
    return absl::NotFoundError(
        absl::StrCat("task ", id().ToString(), " does not read topic ", metadata.topic));
  }
  ++context_.counters.processed;
  context_.metadata = metadata;
  absl::Status status = source->second->ProcessRaw(raw);
  context_.metadata.reset();
  if (!status.ok()) {
    ++context_.counters.deserialization_errors;
    return status;
  }
  MaybePunctuate(PunctuationType::kStreamTime);
  return absl::OkStatus();
}

int Task::MaybePunctuate(PunctuationType type) {
  const int64_t now =
      type == PunctuationType::kStreamTime ? context_.stream_time : context_.wall_clock();
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

absl::Status Task::Commit(const TaskDb::Offsets& offsets) {
  if (db_ == nullptr) return absl::OkStatus();
  // Stream time decides lateness: a restart must see the same stream time the state was built
  // with, or records dropped before the crash would be accepted after it.
  char bytes[8];
  absl::big_endian::Store64(bytes, static_cast<uint64_t>(context_.stream_time));
  db_->PutMeta(kStreamTimeKey, absl::string_view(bytes, 8));
  return db_->Commit(offsets);
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

}  // namespace weir::internal
