#include "engine/internal/standby_updater.h"

#include <chrono>

#include "absl/strings/str_cat.h"
#include "common/logging.h"
#include "common/status.h"
#include "engine/kafka_status.h"

namespace weir::internal {
namespace {

constexpr int kPollMs = 100;
constexpr size_t kBatch = 1000;
constexpr int64_t kWriteBatchRecords = 10'000;
constexpr int64_t kRetryOpenMs = 5'000;

}  // namespace

absl::StatusOr<std::unique_ptr<StandbyUpdater>> StandbyUpdater::Create(
    const AppConfig& config, std::shared_ptr<const Topology> topology, TaskDbOpener open_task_db,
    std::function<int64_t()> wall_clock) {
  std::unique_ptr<StandbyUpdater> updater(new StandbyUpdater(
      config, std::move(topology), std::move(open_task_db), std::move(wall_clock)));
  WEIR_ASSIGN_OR_RETURN(updater->consumer_,
                        internal::NewChangelogConsumer(
                            config, absl::StrCat(config.application_id, "-standby-consumer")));
  // Offsets are read with a client that never fetches: on the consumer, each query would wait
  // behind a fetch long-poll (fetch.wait.max.ms) on the same connection.
  WEIR_ASSIGN_OR_RETURN(updater->offsets_client_,
                        internal::NewOffsetsClient(
                            config, absl::StrCat(config.application_id, "-standby-offsets")));
  return updater;
}

StandbyUpdater::StandbyUpdater(const AppConfig& config, std::shared_ptr<const Topology> topology,
                               TaskDbOpener open_task_db, std::function<int64_t()> wall_clock)
    : config_(config),
      topology_(std::move(topology)),
      subtopologies_(topology_->Subtopologies()),
      open_task_db_(std::move(open_task_db)),
      wall_clock_(std::move(wall_clock)),
      unplaced_grace_ms_(3 * SessionTimeoutMs(config_)) {}

StandbyUpdater::~StandbyUpdater() { Stop(); }

void StandbyUpdater::Start() {
  thread_ = std::thread([this] { Run(); });
}

void StandbyUpdater::Stop() {
  if (thread_.joinable()) {
    stop_ = true;
    thread_.join();
  }
  absl::MutexLock lock(&mutex_);
  while (!standbys_.empty()) Close(standbys_.begin());
  if (consumer_ != nullptr) rd_kafka_assign(consumer_.get(), nullptr);
}

void StandbyUpdater::SetTargets(std::set<TaskId> targets) {
  absl::MutexLock lock(&mutex_);
  targets_ = std::move(targets);
}

bool StandbyUpdater::ClaimForActive(TaskId id) {
  absl::MutexLock lock(&mutex_);
  claimed_.insert(id);
  // A standby of `id` being opened right now holds its files: wait for that open to finish.
  const auto not_opening = [this, id]()
                               ABSL_EXCLUSIVE_LOCKS_REQUIRED(mutex_) { return opening_ != id; };
  mutex_.Await(absl::Condition(&not_opening));
  auto it = standbys_.find(id);
  if (it == standbys_.end()) return false;
  spdlog::info("standby {} hands its state over to the active task (lag {})", id.ToString(),
               it->second.lag);
  Close(it);
  return true;
}

void StandbyUpdater::ReleaseFromActive(TaskId id) {
  absl::MutexLock lock(&mutex_);
  claimed_.erase(id);
}

std::vector<StandbyTaskView> StandbyUpdater::snapshot() const {
  absl::MutexLock lock(&mutex_);
  std::vector<StandbyTaskView> views;
  for (const auto& [id, standby] : standbys_) {
    views.push_back({.id = id,
                     .lag = standby.lag,
                     .applied = standby.applied,
                     .caught_up = standby.lag <= config_.acceptable_recovery_lag});
  }
  return views;
}

void StandbyUpdater::Send(const std::string& topic, RawRecord) {
  spdlog::error("standby task tried to send a record to {}; dropped (standbys process nothing)",
                topic);
}

const int64_t* StandbyUpdater::SendToPartition(const std::string& topic, int32_t,
                                               RawRecord record) {
  Send(topic, std::move(record));
  return nullptr;
}

absl::StatusOr<StandbyUpdater::Standby> StandbyUpdater::Open(TaskId id) {
  for (int attempt = 0;; ++attempt) {
    WEIR_ASSIGN_OR_RETURN(std::unique_ptr<TaskDb> db, open_task_db_(id));
    const std::string dir = db->dir();
    Standby standby;
    WEIR_ASSIGN_OR_RETURN(
        standby.task,
        internal::Task::Create(*topology_, subtopologies_[id.subtopology], id,
                               config_.application_id, wall_clock_,
                               static_cast<internal::RecordCollector*>(this), std::move(db)));
    WEIR_ASSIGN_OR_RETURN(internal::ChangelogCheck check,
                          internal::CheckChangelogs(*standby.task, offsets_client_.get(),
                                                    config_.application_id, "standby"));
    if (check.usable || attempt > 0) {
      standby.tails = std::move(check.tails);
      for (const internal::ChangelogTail& tail : standby.tails) {
        standby.lag += tail.high - tail.from;
      }
      standby.applier = std::make_unique<internal::ChangelogApplier>(*standby.task);
      return standby;
    }
    standby.task.reset();
    WEIR_ASSIGN_OR_RETURN(const bool deleted, TaskDb::DeleteIfUnused(dir));
    if (!deleted) return absl::InternalError(absl::StrCat("cannot wipe ", dir, ": still in use"));
  }
}

void StandbyUpdater::Close(std::map<TaskId, Standby>::iterator it) {
  // Standby writes skip the WAL, like restoration's: flush them before the files change hands.
  if (absl::Status flushed = it->second.task->FinishRestore(); !flushed.ok()) {
    spdlog::warn("standby {}: {}", it->first.ToString(), flushed.message());
  }
  it->second.task->Close();
  standbys_.erase(it);
  assignment_stale_ = true;
}

bool StandbyUpdater::Reconcile() {
  const int64_t now = wall_clock_();
  // An instance's death changes the view (after session.timeout.ms) before the group hands its
  // tasks over (the rebalance follows): a standby no longer placed here stays open and current
  // for a while, so the task it is about to become finds it warm.
  std::vector<TaskId> to_open;
  {
    absl::MutexLock lock(&mutex_);
    for (auto it = standbys_.begin(); it != standbys_.end();) {
      if (targets_.contains(it->first)) {
        it->second.unplaced_since_ms = -1;
        ++it;
        continue;
      }
      if (it->second.unplaced_since_ms < 0) it->second.unplaced_since_ms = now;
      if (now - it->second.unplaced_since_ms < unplaced_grace_ms_) {
        ++it;
        continue;
      }
      spdlog::info("standby {} closed: no longer placed here", it->first.ToString());
      Close(it++);
    }
    for (const TaskId& id : targets_) {
      if (standbys_.contains(id) || claimed_.contains(id)) continue;
      if (auto failed = failed_at_ms_.find(id);
          failed != failed_at_ms_.end() && now - failed->second < kRetryOpenMs) {
        continue;
      }
      to_open.push_back(id);
    }
  }
  // Opening reads the changelogs' offsets from the broker: without the lock, so that a stream
  // thread claiming a task in its rebalance callback waits for one open at most.
  for (const TaskId& id : to_open) {
    {
      absl::MutexLock lock(&mutex_);
      if (claimed_.contains(id) || !targets_.contains(id)) continue;
      opening_ = id;
    }
    const auto started = std::chrono::steady_clock::now();
    absl::StatusOr<Standby> opened = Open(id);
    absl::MutexLock lock(&mutex_);
    opening_.reset();
    if (!opened.ok()) {
      spdlog::warn("standby {} cannot open yet: {}", id.ToString(), opened.status().message());
      failed_at_ms_[id] = now;
      continue;
    }
    failed_at_ms_.erase(id);
    auto [it, inserted] = standbys_.emplace(id, *std::move(opened));
    ++tasks_opened_;
    assignment_stale_ = true;
    if (claimed_.contains(id)) {  // a stream thread wants it now: hand it over at once
      Close(it);
      continue;
    }
    spdlog::info("standby {} opened in {} ms, {} changelog records behind", id.ToString(),
                 std::chrono::duration_cast<std::chrono::milliseconds>(
                     std::chrono::steady_clock::now() - started)
                     .count(),
                 it->second.lag);
  }
  absl::MutexLock lock(&mutex_);
  return std::exchange(assignment_stale_, false);
}

absl::Status StandbyUpdater::Assign() {
  reading_.clear();
  PartitionList assignment(rd_kafka_topic_partition_list_new(4));
  for (auto& [id, standby] : standbys_) {
    // Reading restarts where the state stands: what was read and not applied is read again.
    standby.applier = std::make_unique<internal::ChangelogApplier>(*standby.task);
    for (internal::ChangelogTail& tail : standby.tails) {
      tail.from = std::max(tail.from, standby.task->ChangelogOffset(tail.store));
      rd_kafka_topic_partition_list_add(assignment.get(), tail.topic.c_str(), tail.partition)
          ->offset = tail.from;
      reading_[{tail.topic, tail.partition}] = {id, tail.store};
    }
  }
  return KafkaStatus(rd_kafka_assign(consumer_.get(), assignment.get()),
                     "assigning standby changelogs");
}

void StandbyUpdater::RefreshLags() {
  for (auto& [id, standby] : standbys_) {
    int64_t lag = 0;
    for (internal::ChangelogTail& tail : standby.tails) {
      int64_t low = -1;
      int64_t high = -1;
      // Cached from fetch responses: no broker round trip.
      if (rd_kafka_get_watermark_offsets(consumer_.get(), tail.topic.c_str(), tail.partition, &low,
                                         &high) == RD_KAFKA_RESP_ERR_NO_ERROR &&
          high >= 0) {
        tail.high = std::max(tail.high, high);
      }
      lag += std::max<int64_t>(tail.high - standby.task->ChangelogOffset(tail.store), 0);
    }
    standby.lag = lag;
  }
}

void StandbyUpdater::Run() {
  std::vector<rd_kafka_message_t*> batch(kBatch);
  rd_kafka_queue_t* queue = rd_kafka_queue_get_consumer(consumer_.get());
  auto next_lag_refresh = std::chrono::steady_clock::now();
  while (!stop_) {
    if (Reconcile()) {
      absl::MutexLock lock(&mutex_);
      if (absl::Status assigned = Assign(); !assigned.ok()) {
        spdlog::warn("standby updater: {}", assigned.message());
        assignment_stale_ = true;
      }
    }
    const ssize_t count = rd_kafka_consume_batch_queue(queue, kPollMs, batch.data(), batch.size());
    absl::MutexLock lock(&mutex_);
    std::set<TaskId> touched;
    for (ssize_t i = 0; i < count; ++i) {
      rd_kafka_message_t* m = batch[i];
      if (m->err == RD_KAFKA_RESP_ERR_NO_ERROR && m->rkt != nullptr) {
        auto target = reading_.find({rd_kafka_topic_name(m->rkt), m->partition});
        auto standby =
            target == reading_.end() ? standbys_.end() : standbys_.find(target->second.first);
        if (standby != standbys_.end()) {  // else: closed meanwhile
          absl::Status added =
              standby->second.applier->Add(target->second.second, ToRawRecord(*m), m->offset);
          if (!added.ok()) {
            spdlog::error("standby {}: {}", standby->first.ToString(), added.message());
          }
          touched.insert(standby->first);
        }
      } else if (m->err != RD_KAFKA_RESP_ERR_NO_ERROR &&
                 m->err != RD_KAFKA_RESP_ERR__PARTITION_EOF) {
        spdlog::warn("standby consumer: {}", rd_kafka_message_errstr(m));
      }
      rd_kafka_message_destroy(m);
    }
    for (const TaskId& id : touched) {
      auto standby = standbys_.find(id);
      if (standby == standbys_.end()) continue;
      absl::StatusOr<int64_t> applied = standby->second.applier->Apply(kWriteBatchRecords);
      if (!applied.ok()) {
        // The state stays at its last whole commit; reading again from there may succeed.
        spdlog::error("standby {}: {}; reopening it", id.ToString(), applied.status().message());
        Close(standby);
        continue;
      }
      standby->second.applied += *applied;
      records_applied_ += *applied;
    }
    if (std::chrono::steady_clock::now() >= next_lag_refresh) {
      RefreshLags();
      next_lag_refresh = std::chrono::steady_clock::now() + std::chrono::seconds(1);
    }
  }
  rd_kafka_queue_destroy(queue);
}

}  // namespace weir::internal
