#include "engine/test_driver.h"

#include "absl/strings/str_cat.h"
#include "common/check.h"
#include "engine/partitioner.h"

namespace weir {

TopologyTestDriver::TopologyTestDriver(const Topology& topology, TestDriverOptions options)
    : options_(std::move(options)), wall_clock_ms_(options_.wall_clock_start_ms) {
  WEIR_CHECK(topology.status().ok()) << topology.status();
  WEIR_CHECK(options_.partitions > 0) << "partitions must be positive";
  for (const Topology::Subtopology& sub : topology.Subtopologies()) {
    for (int32_t partition = 0; partition < options_.partitions; ++partition) {
      absl::StatusOr<std::unique_ptr<internal::Task>> task = internal::Task::Create(
          topology, sub, TaskId{sub.id, partition}, options_.application_id,
          [this] { return wall_clock_ms_; }, static_cast<internal::RecordCollector*>(this));
      WEIR_CHECK(task.ok()) << task.status();  // in-memory stores cannot fail to open
      tasks_.push_back(*std::move(task));
      for (const std::string& topic : tasks_.back()->source_topics()) {
        readers_[topic][partition] = tasks_.back().get();
      }
    }
  }
}

TopologyTestDriver::~TopologyTestDriver() {
  for (auto& task : tasks_) task->Close();
}

int32_t TopologyTestDriver::PartitionOf(const RawRecord& record) {
  if (options_.partitions == 1) return 0;
  if (!record.key.has_value()) return round_robin_++ % options_.partitions;
  return PartitionForKey(*record.key, options_.partitions);
}

absl::Status TopologyTestDriver::PipeRaw(const std::string& topic, RawRecord record) {
  if (!readers_.contains(topic)) {
    return absl::NotFoundError(absl::StrCat("the topology does not read topic '", topic, "'"));
  }
  pending_.emplace_back(topic, std::move(record));
  return Drain();
}

absl::Status TopologyTestDriver::Drain() {
  absl::Status first_error;
  while (!pending_.empty()) {
    auto [topic, record] = std::move(pending_.front());
    pending_.pop_front();
    const int32_t partition = PartitionOf(record);
    const int64_t offset = next_offset_[{topic, partition}]++;
    internal::Task* task = readers_.find(topic)->second.at(partition);
    absl::Status status = task->Process(
        record, RecordMetadata{.topic = topic, .partition = partition, .offset = offset});
    if (!status.ok() && first_error.ok()) {
      first_error = absl::Status(
          status.code(), absl::StrCat(topic, "-", partition, "@", offset, ": ", status.message()));
    }
  }
  return first_error;
}

void TopologyTestDriver::Send(const std::string& topic, RawRecord record) {
  if (readers_.contains(topic)) {
    pending_.emplace_back(topic, std::move(record));  // processed after the current record
    return;
  }
  const int32_t partition = PartitionOf(record);
  outputs_[topic].push_back({std::move(record), partition});
}

void TopologyTestDriver::AdvanceWallClockTime(int64_t ms) {
  wall_clock_ms_ += ms;
  for (auto& task : tasks_) task->MaybePunctuate(PunctuationType::kWallClockTime);
  Drain().IgnoreError();  // records from punctuations are produced, not deserialized from input
}

std::vector<OutputRecord> TopologyTestDriver::ReadOutput(const std::string& topic) {
  auto it = outputs_.find(topic);
  if (it == outputs_.end()) return {};
  std::vector<OutputRecord> records = std::move(it->second);
  outputs_.erase(it);
  return records;
}

internal::TaskCounters TopologyTestDriver::Totals() const {
  internal::TaskCounters totals;
  for (const auto& task : tasks_) {
    totals.processed += task->counters().processed;
    totals.dropped += task->counters().dropped;
    totals.late += task->counters().late;
    totals.deserialization_errors += task->counters().deserialization_errors;
    totals.punctuations += task->counters().punctuations;
  }
  return totals;
}

StateStore* TopologyTestDriver::store(TaskId task, absl::string_view name) const {
  for (const auto& t : tasks_) {
    if (t->id() == task) return t->store(name);
  }
  return nullptr;
}

}  // namespace weir
