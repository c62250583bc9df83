#include "engine/runtime/internal/global_thread.h"

#include <spdlog/spdlog.h>

#include <algorithm>
#include <chrono>

#include "absl/strings/str_cat.h"
#include "common/status.h"
#include "engine/kafka/kafka_status.h"
#include "engine/kafka/topic_admin.h"
#include "engine/runtime/internal/changelog_reader.h"
#include "stores/rocksdb_key_value_store.h"

namespace weir::internal {
namespace {

constexpr int kPollMs = 100;

int64_t NowMs() {
  return std::chrono::duration_cast<std::chrono::milliseconds>(
             std::chrono::steady_clock::now().time_since_epoch())
      .count();
}

}  // namespace

absl::StatusOr<std::unique_ptr<GlobalStreamThread>> GlobalStreamThread::Create(
    const AppConfig& config, std::shared_ptr<const Topology> topology,
    std::function<absl::StatusOr<std::unique_ptr<TaskDb>>()> open_db) {
  std::unique_ptr<GlobalStreamThread> thread(new GlobalStreamThread(config, std::move(topology)));
  if (open_db) {
    WEIR_ASSIGN_OR_RETURN(thread->db_, open_db());
    thread->positions_ = thread->db_->StoredOffsets();
  }
  for (const Topology::GlobalStoreSpec& spec : thread->topology_->global_stores()) {
    std::unique_ptr<KeyValueBytesStore> store;
    if (thread->db_ != nullptr) {
      WEIR_ASSIGN_OR_RETURN(store, RocksDbKeyValueStore::Open(spec.store, thread->db_.get()));
    } else {
      store = std::make_unique<InMemoryKeyValueStore>(spec.store);
    }
    thread->stores_[spec.store] =
        std::make_unique<SharedKeyValueStore>(std::move(store), &thread->mutex_);
    thread->by_topic_[spec.topic] = &spec;
  }
  const std::string client = absl::StrCat(config.application_id, "-global");
  WEIR_ASSIGN_OR_RETURN(thread->consumer_, NewChangelogConsumer(config, client));
  WEIR_ASSIGN_OR_RETURN(thread->offsets_client_,
                        NewOffsetsClient(config, absl::StrCat(client, "-offsets")));
  thread->queue_ = rd_kafka_queue_get_consumer(thread->consumer_.get());
  return thread;
}

GlobalStreamThread::~GlobalStreamThread() {
  Stop();
  if (queue_ != nullptr) rd_kafka_queue_destroy(queue_);
}

StateStore* GlobalStreamThread::Find(absl::string_view name) const {
  auto it = stores_.find(name);
  return it == stores_.end() ? nullptr : it->second.get();
}

GlobalStreamThread::Snapshot GlobalStreamThread::snapshot() const {
  absl::MutexLock lock(&snapshot_mutex_);
  return snapshot_;
}

absl::Status GlobalStreamThread::Bootstrap() {
  const auto started = std::chrono::steady_clock::now();
  WEIR_ASSIGN_OR_RETURN(const auto counts, PartitionCounts(offsets_client_.get()));
  PartitionList assignment(rd_kafka_topic_partition_list_new(4));
  std::map<std::pair<std::string, int32_t>, int64_t> ends;
  int64_t from_checkpoint = 0;
  int64_t behind = 0;
  for (const auto& [topic, spec] : by_topic_) {
    auto count = counts.find(topic);
    if (count == counts.end()) {
      return absl::NotFoundError(absl::StrCat("global store '", spec->store, "' reads topic '",
                                              topic, "', which does not exist"));
    }
    for (int32_t partition = 0; partition < count->second; ++partition) {
      int64_t low = 0;
      int64_t high = 0;
      WEIR_RETURN_IF_ERROR(
          QueryWatermarks(offsets_client_.get(), topic, partition, &low, &high));
      int64_t& next = positions_[{topic, partition}];
      if (next > 0) ++from_checkpoint;
      // A checkpoint the log no longer holds (retention, a recreated topic) reads from the start.
      if (next < low || next > high) next = low;
      ends[{topic, partition}] = high;
      behind += high - next;
      rd_kafka_topic_partition_list_add(assignment.get(), topic.c_str(), partition)->offset = next;
    }
  }
  WEIR_RETURN_IF_ERROR(KafkaStatus(rd_kafka_assign(consumer_.get(), assignment.get()),
                                   "assigning the global topics' partitions"));
  spdlog::info("global thread: bootstrapping {} stores from {} partitions ({} from the checkpoint): "
               "{} records to read",
               stores_.size(), ends.size(), from_checkpoint, behind);
  int64_t read = 0;
  int64_t last_log_ms = NowMs();
  while (true) {
    bool done = true;
    int64_t remaining = 0;
    for (const auto& [where, end] : ends) {
      const int64_t next = positions_[where];
      if (next < end) {
        done = false;
        remaining += end - next;
      }
    }
    if (done) break;
    if (stop_) return absl::CancelledError("stopped while bootstrapping the global stores");
    const int64_t before = snapshot().records_applied;
    WEIR_RETURN_IF_ERROR(PollOnce(kPollMs).status());
    WEIR_RETURN_IF_ERROR(UpdatePositions());
    read += snapshot().records_applied - before;
    if (NowMs() - last_log_ms >= 10'000) {
      last_log_ms = NowMs();
      spdlog::info("global thread: bootstrapping, {} records read, {} to go", read, remaining);
    }
  }
  WEIR_RETURN_IF_ERROR(Commit());
  const double seconds =
      std::chrono::duration<double>(std::chrono::steady_clock::now() - started).count();
  spdlog::info("global thread: bootstrapped in {:.1f} s: {} records read since the checkpoint "
               "({:.0f} records/s)",
               seconds, read, seconds > 0 ? static_cast<double>(read) / seconds : 0.0);
  absl::MutexLock lock(&snapshot_mutex_);
  snapshot_.bootstrapped = true;
  snapshot_.bootstrap_records = read;
  snapshot_.bootstrap_seconds = seconds;
  return absl::OkStatus();
}

absl::StatusOr<bool> GlobalStreamThread::PollOnce(int timeout_ms) {
  std::vector<rd_kafka_message_t*>& batch = batch_;
  const ssize_t count = ConsumeBatch(queue_, timeout_ms, batch);
  if (count < 0) {
    return KafkaStatus(rd_kafka_last_error(), "polling the global topics");
  }
  int64_t applied = 0;
  int64_t skipped = 0;
  absl::Status failed;
  for (ssize_t i = 0; i < count; ++i) {
    rd_kafka_message_t* m = batch[i];
    if (m->err == RD_KAFKA_RESP_ERR__PARTITION_EOF || !failed.ok()) {
      rd_kafka_message_destroy(m);
      continue;
    }
    if (m->err != RD_KAFKA_RESP_ERR_NO_ERROR) {
      spdlog::warn("global thread: {}", rd_kafka_message_errstr(m));
      rd_kafka_message_destroy(m);
      continue;
    }
    const std::string topic = rd_kafka_topic_name(m->rkt);
    auto spec = by_topic_.find(topic);
    if (spec != by_topic_.end()) {
      const RawRecord record = ToRawRecord(*m);
      // The shared store takes the mutex for each of its calls.
      const absl::Status status = spec->second->apply(record, *stores_.at(spec->second->store));
      if (status.ok()) {
        ++applied;
      } else if (absl::IsInvalidArgument(status)) {
        ++skipped;
        if (NowMs() - last_skip_log_ms_ >= 10'000) {
          last_skip_log_ms_ = NowMs();
          spdlog::warn("global thread: skipping {}-{}@{}: {}", topic, m->partition, m->offset,
                       std::string(status.message()));
        }
      } else {
        failed = status;
      }
      positions_[{topic, m->partition}] = m->offset + 1;
    }
    rd_kafka_message_destroy(m);
  }
  {
    absl::MutexLock lock(&snapshot_mutex_);
    snapshot_.records_applied += applied;
    snapshot_.records_skipped += skipped;
  }
  if (!failed.ok()) return failed;
  return count > 0;
}

absl::Status GlobalStreamThread::UpdatePositions() {
  // The consumer's position passes transaction markers, which no message shows.
  PartitionList list(rd_kafka_topic_partition_list_new(static_cast<int>(positions_.size())));
  for (const auto& [where, next] : positions_) {
    rd_kafka_topic_partition_list_add(list.get(), where.first.c_str(), where.second);
  }
  WEIR_RETURN_IF_ERROR(
      KafkaStatus(rd_kafka_position(consumer_.get(), list.get()), "reading the positions"));
  for (int i = 0; i < list->cnt; ++i) {
    const rd_kafka_topic_partition_t& p = list->elems[i];
    if (p.offset < 0) continue;
    int64_t& next = positions_[{p.topic, p.partition}];
    next = std::max(next, p.offset);
  }
  return absl::OkStatus();
}

absl::Status GlobalStreamThread::Commit() {
  if (db_ == nullptr) return absl::OkStatus();
  absl::MutexLock lock(&mutex_);
  return db_->Commit(positions_);
}

void GlobalStreamThread::Start() {
  thread_ = std::thread([this] { Run(); });
}

void GlobalStreamThread::Run() {
  int64_t next_commit_ms = NowMs() + config_.commit_interval_ms;
  int64_t next_lag_ms = 0;
  while (!stop_) {
    absl::StatusOr<bool> polled = PollOnce(kPollMs);
    absl::Status status = polled.status();
    if (status.ok() && NowMs() >= next_commit_ms) {
      status = UpdatePositions();
      if (status.ok()) status = Commit();
      next_commit_ms = NowMs() + config_.commit_interval_ms;
    }
    if (status.ok() && NowMs() >= next_lag_ms) {
      int64_t lag = 0;
      for (const auto& [where, next] : positions_) {
        int64_t low = -1;
        int64_t high = -1;
        if (rd_kafka_get_watermark_offsets(consumer_.get(), where.first.c_str(), where.second,
                                           &low, &high) == RD_KAFKA_RESP_ERR_NO_ERROR &&
            high >= 0) {
          lag += std::max<int64_t>(high - next, 0);
        }
      }
      absl::MutexLock lock(&snapshot_mutex_);
      snapshot_.lag = lag;
      next_lag_ms = NowMs() + 1'000;
    }
    if (!status.ok()) {
      spdlog::error("global thread: {} - it stops, and the instance with it",
                    std::string(status.message()));
      absl::MutexLock lock(&snapshot_mutex_);
      snapshot_.error = status;
      return;
    }
  }
}

void GlobalStreamThread::Stop() {
  stop_ = true;
  if (queue_ != nullptr) rd_kafka_queue_yield(queue_);
  if (thread_.joinable()) thread_.join();
  if (consumer_ != nullptr && snapshot().error.ok() && snapshot().bootstrapped) {
    if (absl::Status positions = UpdatePositions(); positions.ok()) {
      if (absl::Status committed = Commit(); !committed.ok()) {
        spdlog::warn("global thread: the checkpoint was not written: {}",
                     std::string(committed.message()));
      }
    }
  }
  if (consumer_ != nullptr) rd_kafka_assign(consumer_.get(), nullptr);
}

}  // namespace weir::internal
