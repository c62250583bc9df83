#include "engine/runtime/test_driver.h"

#include <deque>

#include "absl/strings/str_cat.h"
#include "common/check.h"
#include "common/status.h"
#include "engine/kafka/partitioner.h"
#include "engine/runtime/internal/task.h"
#include "stores/record_cache.h"
#include "stores/rocksdb_key_value_store.h"
#include "stores/task_db.h"

namespace weir {

class TopologyTestDriver::Impl : private internal::RecordCollector {
 public:
  Impl(const Topology& topology, TestDriverOptions options);
  ~Impl() override;

  absl::Status PipeRaw(const std::string& topic, RawRecord record);
  absl::Status Drain();
  absl::Status Commit();
  void AdvanceWallClockTime(int64_t ms);

  TestDriverOptions options_;
  int64_t wall_clock_ms_;
  std::unique_ptr<RecordCache> cache_;  // before tasks_, whose stores use it
  std::vector<std::unique_ptr<internal::Task>> tasks_;
  // Topic -> partition -> the task reading it.
  std::map<std::string, std::map<int32_t, internal::Task*>, std::less<>> readers_;
  std::map<std::pair<std::string, int32_t>, int64_t> next_offset_;
  // Global stores (in memory, or in global_db_), and their specs by topic: a record piped to a
  // global topic updates its store at once, as Kafka Streams' driver does.
  std::unique_ptr<TaskDb> global_db_;
  std::map<std::string, std::unique_ptr<KeyValueBytesStore>, std::less<>> globals_;
  std::map<std::string, Topology::GlobalStoreSpec, std::less<>> global_topics_;
  std::deque<std::pair<std::string, RawRecord>> pending_;
  std::map<std::string, std::vector<OutputRecord>, std::less<>> outputs_;
  int32_t round_robin_ = 0;

 private:
  void Send(const std::string& topic, RawRecord record) override;
  const int64_t* SendToPartition(const std::string& topic, int32_t /*partition*/,
                                 RawRecord record) override {
    Send(topic, std::move(record));
    return nullptr;
  }
  int32_t PartitionOf(const RawRecord& record);
};

TopologyTestDriver::Impl::Impl(const Topology& topology, TestDriverOptions options)
    : options_(std::move(options)), wall_clock_ms_(options_.wall_clock_start_ms) {
  WEIR_CHECK(topology.status().ok()) << topology.status();
  WEIR_CHECK(options_.partitions > 0) << "partitions must be positive";
  if (options_.cache_max_bytes > 0)
    cache_ = std::make_unique<RecordCache>(options_.cache_max_bytes);
  if (options_.open_global_db && !topology.global_stores().empty()) {
    absl::StatusOr<std::unique_ptr<TaskDb>> opened = options_.open_global_db();
    WEIR_CHECK(opened.ok()) << "global stores: " << opened.status();
    global_db_ = *std::move(opened);
  }
  for (const Topology::GlobalStoreSpec& spec : topology.global_stores()) {
    if (global_db_ != nullptr) {
      absl::StatusOr<std::unique_ptr<RocksDbKeyValueStore>> store =
          RocksDbKeyValueStore::Open(spec.store, global_db_.get());
      WEIR_CHECK(store.ok()) << "global store " << spec.store << ": " << store.status();
      globals_[spec.store] = *std::move(store);
    } else {
      globals_[spec.store] = std::make_unique<InMemoryKeyValueStore>(spec.store);
    }
    global_topics_[spec.topic] = spec;
  }
  const GlobalStoreFinder global_stores = [this](absl::string_view name) -> StateStore* {
    auto it = globals_.find(name);
    return it == globals_.end() ? nullptr : it->second.get();
  };
  for (const Topology::Subtopology& sub : topology.Subtopologies()) {
    for (int32_t partition = 0; partition < options_.partitions; ++partition) {
      const TaskId id{sub.id, partition};
      std::unique_ptr<TaskDb> db;
      if (options_.open_task_db && !sub.stores.empty()) {
        absl::StatusOr<std::unique_ptr<TaskDb>> opened = options_.open_task_db(id);
        WEIR_CHECK(opened.ok()) << "task " << id.ToString() << ": " << opened.status();
        db = *std::move(opened);
      }
      absl::StatusOr<std::unique_ptr<internal::Task>> task = internal::Task::Create(
          topology, sub, id, options_.application_id, [this] { return wall_clock_ms_; },
          static_cast<internal::RecordCollector*>(this), std::move(db), cache_.get(),
          /*debug_metrics=*/false, global_stores);
      WEIR_CHECK(task.ok()) << task.status();
      tasks_.push_back(*std::move(task));
      for (const std::string& topic : tasks_.back()->source_topics()) {
        readers_[topic][partition] = tasks_.back().get();
      }
    }
  }
}

TopologyTestDriver::Impl::~Impl() {
  for (auto& task : tasks_) task->Close();
}

int32_t TopologyTestDriver::Impl::PartitionOf(const RawRecord& record) {
  if (options_.partitions == 1) return 0;
  if (!record.key.has_value()) return round_robin_++ % options_.partitions;
  return PartitionForKey(*record.key, options_.partitions);
}

absl::Status TopologyTestDriver::Impl::PipeRaw(const std::string& topic, RawRecord record) {
  if (auto global = global_topics_.find(topic); global != global_topics_.end()) {
    return global->second.apply(record, *globals_.at(global->second.store));
  }
  if (!readers_.contains(topic)) {
    return absl::NotFoundError(absl::StrCat("the topology does not read topic '", topic, "'"));
  }
  pending_.emplace_back(topic, std::move(record));
  return Drain();
}

absl::Status TopologyTestDriver::Impl::Drain() {
  absl::Status first_error;
  while (!pending_.empty()) {
    auto [topic, record] = std::move(pending_.front());
    pending_.pop_front();
    const int32_t partition = PartitionOf(record);
    const int64_t offset = next_offset_[{topic, partition}]++;
    internal::Task* task = readers_.find(topic)->second.at(partition);
    absl::Status status = task->Process(
        record, RecordMetadata{.topic = topic, .partition = partition, .offset = offset},
        wall_clock_ms_);
    if (status.ok()) status = task->failure();
    if (!status.ok() && first_error.ok()) {
      first_error = absl::Status(
          status.code(), absl::StrCat(topic, "-", partition, "@", offset, ": ", status.message()));
    }
  }
  return first_error;
}

void TopologyTestDriver::Impl::Send(const std::string& topic, RawRecord record) {
  if (readers_.contains(topic)) {
    pending_.emplace_back(topic, std::move(record));  // processed after the current record
    return;
  }
  const int32_t partition = PartitionOf(record);
  outputs_[topic].push_back({std::move(record), partition});
}

absl::Status TopologyTestDriver::Impl::Commit() {
  for (auto& task : tasks_) {
    TaskDb::Offsets offsets;
    for (const std::string& topic : task->source_topics()) {
      auto at = next_offset_.find({topic, task->id().partition});
      if (at != next_offset_.end()) offsets[at->first] = at->second;
    }
    WEIR_RETURN_IF_ERROR(task->Flush());
    task->PrepareCommit(offsets);
    task->SealCommit();
    WEIR_RETURN_IF_ERROR(task->Commit(offsets));
  }
  if (global_db_ != nullptr) WEIR_RETURN_IF_ERROR(global_db_->Commit({}));
  return Drain();  // what cache flushes forwarded to internal topics
}

void TopologyTestDriver::Impl::AdvanceWallClockTime(int64_t ms) {
  wall_clock_ms_ += ms;
  for (auto& task : tasks_) task->PunctuateWallClock(wall_clock_ms_);
  Drain().IgnoreError();  // records from punctuations are produced, not deserialized from input
}

TopologyTestDriver::TopologyTestDriver(const Topology& topology, TestDriverOptions options)
    : impl_(std::make_unique<Impl>(topology, std::move(options))) {}

TopologyTestDriver::~TopologyTestDriver() = default;

absl::Status TopologyTestDriver::PipeRaw(const std::string& topic, RawRecord record) {
  return impl_->PipeRaw(topic, std::move(record));
}

void TopologyTestDriver::AdvanceWallClockTime(int64_t ms) { impl_->AdvanceWallClockTime(ms); }

int64_t TopologyTestDriver::wall_clock_ms() const { return impl_->wall_clock_ms_; }

absl::Status TopologyTestDriver::Commit() { return impl_->Commit(); }

std::vector<OutputRecord> TopologyTestDriver::ReadOutput(const std::string& topic) {
  auto it = impl_->outputs_.find(topic);
  if (it == impl_->outputs_.end()) return {};
  std::vector<OutputRecord> records = std::move(it->second);
  impl_->outputs_.erase(it);
  return records;
}

TaskCounters TopologyTestDriver::Totals() const {
  TaskCounters totals;
  for (const auto& task : impl_->tasks_) {
    totals.processed += task->counters().processed;
    totals.dropped += task->counters().dropped;
    totals.late += task->counters().late;
    totals.deserialization_errors += task->counters().deserialization_errors;
    totals.punctuations += task->counters().punctuations;
    totals.future_records += task->counters().future_records;
  }
  return totals;
}

std::vector<TaskMetrics> TopologyTestDriver::Metrics(bool with_rocksdb) const {
  std::vector<TaskMetrics> metrics;
  for (const auto& task : impl_->tasks_) {
    metrics.push_back(task->Metrics(impl_->wall_clock_ms_, with_rocksdb));
  }
  return metrics;
}

StateStore* TopologyTestDriver::store(TaskId task, absl::string_view name) const {
  for (const auto& t : impl_->tasks_) {
    if (t->id() == task) return t->store(name);
  }
  return nullptr;
}

int64_t TopologyTestDriver::stream_time(TaskId task) const {
  for (const auto& t : impl_->tasks_) {
    if (t->id() == task) return t->stream_time();
  }
  WEIR_CHECK(false) << "no task " << task.ToString();
  return -1;
}

}  // namespace weir
