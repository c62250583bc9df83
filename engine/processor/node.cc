// NodeBase's view of the task running it: the one place node templates touch TaskContext.
#include "engine/processor/node.h"

#include <algorithm>

#include "engine/processor/internal/task_context.h"

namespace weir::nodes {

int64_t NodeBase::stream_time() const { return task_->stream_time; }

int64_t NodeBase::system_time_ms() const { return task_->system_time_ms; }

bool NodeBase::AdmitSourceRecord(int64_t timestamp) {
  internal::TaskContext& task = *task_;
  if (timestamp < 0) {
    task.Dropped(DropReason::kInvalid);
    return false;
  }
  task.stream_time = std::max(task.stream_time, timestamp);
  task.record_timestamp = timestamp;
  const int64_t now = task.system_time_ms;
  // A record stamped ahead of this host's clock (a producer's clock ahead, or a generator
  // running ahead of real time) is counted; its latency is 0, never negative.
  if (timestamp > now) ++task.counters.future_records;
  task.sensors.e2e_latency_ms.Record(static_cast<double>(std::max<int64_t>(now - timestamp, 0)),
                                     now);
  if (task.record_debug_metrics) task.sensors.process.Record(1, now);
  return true;
}

void NodeBase::Send(const std::string& topic, RawRecord record) {
  const int64_t now = task_->system_time_ms;
  task_->sensors.sink_e2e_latency_ms.Record(
      static_cast<double>(std::max<int64_t>(now - record.timestamp, 0)), now);
  task_->collector->Send(topic, std::move(record));
}

Cancellable NodeBase::SchedulePunctuation(int64_t interval_ms, PunctuationType type,
                                          std::function<void(int64_t)> punctuate) {
  auto cancelled = std::make_shared<bool>(false);
  const int64_t next =
      type == PunctuationType::kStreamTime ? 0 : task_->wall_clock() + interval_ms;
  task_->punctuations.push_back({.node = this,
                                 .type = type,
                                 .interval_ms = interval_ms,
                                 .next_ms = next,
                                 .callback = std::move(punctuate),
                                 .cancelled = cancelled});
  return Cancellable(cancelled);
}

StateStore* NodeBase::FindStore(absl::string_view name) const {
  auto it = task_->stores.find(name);
  return it == task_->stores.end() ? nullptr : it->second.get();
}

StateStore* NodeBase::FindGlobalStore(absl::string_view name) const {
  return task_->global_store ? task_->global_store(name) : nullptr;
}

const std::optional<RecordMetadata>& NodeBase::record_metadata_of_task() const {
  return task_->metadata;
}

TaskId NodeBase::task_id_of_task() const { return task_->task_id; }

const std::string& NodeBase::application_id_of_task() const { return task_->application_id; }

void NodeBase::Dropped(DropReason reason) { task_->Dropped(reason); }

void NodeBase::FailTask(absl::Status status) {
  if (task_->failure.ok()) task_->failure = std::move(status);
}

}  // namespace weir::nodes
