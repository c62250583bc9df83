#include "engine/runtime/internal/state_updater.h"

#include <chrono>
#include <utility>

#include "absl/strings/str_cat.h"
#include "common/logging.h"
#include "common/status.h"
#include "engine/kafka/kafka_status.h"

namespace weir::internal {
namespace {

constexpr int kPollMs = 100;
constexpr size_t kBatch = 10'000;  // records per poll, as many per RocksDB write at most
// Changelog records applied per RocksDB write.
constexpr int64_t kWriteBatchRecords = 10'000;
constexpr int64_t kRetryOpenMs = 5'000;
// A restoration logs its progress every this many records applied.
constexpr int64_t kProgressRecords = 50'000;

}  // namespace

absl::StatusOr<std::unique_ptr<StateUpdater>> StateUpdater::Create(
    const AppConfig& config, std::shared_ptr<const Topology> topology, Options options) {
  std::unique_ptr<StateUpdater> updater(
      new StateUpdater(config, std::move(topology), std::move(options)));
  WEIR_ASSIGN_OR_RETURN(updater->consumer_,
                        NewChangelogConsumer(config, absl::StrCat(config.application_id,
                                                                  "-restore-consumer")));
  updater->queue_ = rd_kafka_queue_get_consumer(updater->consumer_.get());
  // Offsets are read with a client that never fetches: on the consumer, each query would wait
  // behind a fetch long-poll (fetch.wait.max.ms) on the same connection.
  WEIR_ASSIGN_OR_RETURN(
      updater->offsets_client_,
      NewOffsetsClient(config, absl::StrCat(config.application_id, "-offsets")));
  return updater;
}

StateUpdater::StateUpdater(const AppConfig& config, std::shared_ptr<const Topology> topology,
                           Options options)
    : config_(config),
      topology_(std::move(topology)),
      subtopologies_(topology_->Subtopologies()),
      options_(std::move(options)),
      unplaced_grace_ms_(3 * SessionTimeoutMs(config_)) {}

StateUpdater::~StateUpdater() {
  Stop();
  if (queue_ != nullptr) rd_kafka_queue_destroy(queue_);
}

void StateUpdater::Start() {
  thread_ = std::thread([this] { Run(); });
}

void StateUpdater::Stop() {
  if (thread_.joinable()) {
    stop_ = true;
    rd_kafka_queue_yield(queue_);
    thread_.join();
  }
  absl::MutexLock lock(&mutex_);
  for (auto it = tasks_.begin(); it != tasks_.end();) {
    if (it->second.restoring()) {
      it->second.task->Close();
      it = tasks_.erase(it);
    } else {
      CloseStandby(it++);
    }
  }
  returned_.clear();
  if (consumer_ != nullptr) rd_kafka_assign(consumer_.get(), nullptr);
}

void StateUpdater::Restore(std::unique_ptr<Task> task, std::vector<ChangelogTail> tails,
                           std::function<void()> wake) {
  const TaskId id = task->id();
  Updating restoring{.task = std::move(task), .tails = std::move(tails), .wake = std::move(wake)};
  for (const ChangelogTail& tail : restoring.tails) restoring.remaining += tail.high - tail.from;
  restoring.task->SetRestoreProgress(0, restoring.remaining);
  spdlog::info("task {}: restoring {} changelog records", id.ToString(), restoring.remaining);
  absl::MutexLock lock(&mutex_);
  tasks_.insert_or_assign(id, std::move(restoring));
  assignment_stale_ = true;
  rd_kafka_queue_yield(queue_);  // a poll waiting for standby records returns now
}

std::vector<StateUpdater::Returned> StateUpdater::TakeRestored(const std::set<TaskId>& ids) {
  std::vector<Returned> taken;
  absl::MutexLock lock(&mutex_);
  for (auto it = returned_.begin(); it != returned_.end();) {
    if (ids.contains(it->first)) {
      taken.push_back(std::move(it->second));
      it = returned_.erase(it);
    } else {
      ++it;
    }
  }
  return taken;
}

StateUpdater::Returned StateUpdater::Cancel(TaskId id) {
  absl::MutexLock lock(&mutex_);
  if (auto it = returned_.find(id); it != returned_.end()) {
    Returned returned = std::move(it->second);
    returned_.erase(it);
    return returned;
  }
  auto it = tasks_.find(id);
  if (it == tasks_.end() || !it->second.restoring()) return {};
  Returned returned{.task = std::move(it->second.task),
                    .status = absl::CancelledError("restoration cancelled"),
                    .records_restored = it->second.applied};
  tasks_.erase(it);
  assignment_stale_ = true;
  return returned;
}

std::vector<TaskMetrics> StateUpdater::RestoringMetrics(const std::set<TaskId>& ids,
                                                        int64_t now_ms) const {
  std::vector<TaskMetrics> metrics;
  absl::MutexLock lock(&mutex_);
  for (const TaskId& id : ids) {
    if (auto it = tasks_.find(id); it != tasks_.end() && it->second.restoring()) {
      metrics.push_back(it->second.task->Metrics(now_ms, /*with_rocksdb=*/true));
    }
  }
  return metrics;
}

void StateUpdater::SetTargets(std::set<TaskId> targets) {
  absl::MutexLock lock(&mutex_);
  targets_ = std::move(targets);
}

bool StateUpdater::ClaimForActive(TaskId id) {
  absl::MutexLock lock(&mutex_);
  claimed_.insert(id);
  // A standby of `id` being opened right now holds its files: wait for that open to finish.
  const auto not_opening = [this, id]()
                               ABSL_EXCLUSIVE_LOCKS_REQUIRED(mutex_) { return opening_ != id; };
  mutex_.Await(absl::Condition(&not_opening));
  auto it = tasks_.find(id);
  if (it == tasks_.end() || it->second.restoring()) return false;
  spdlog::info("standby {} hands its state over to the active task (lag {})", id.ToString(),
               it->second.lag);
  CloseStandby(it);
  return true;
}

void StateUpdater::ReleaseFromActive(TaskId id) {
  absl::MutexLock lock(&mutex_);
  claimed_.erase(id);
}

absl::StatusOr<std::pair<StoreReading, int64_t>> StateUpdater::QueryStandby(
    TaskId id, const std::string& store, const StoreRead& read) {
  absl::MutexLock lock(&mutex_);
  auto it = tasks_.find(id);
  if (it == tasks_.end() || it->second.restoring()) {
    return absl::UnavailableError(absl::StrCat("no standby of task ", id.ToString(), " here"));
  }
  StateStore* found = it->second.task->store(store);
  if (found == nullptr) {
    return absl::NotFoundError(absl::StrCat("task ", id.ToString(), " has no store ", store));
  }
  absl::StatusOr<StoreReading> reading = read(*found);
  if (!reading.ok()) return reading.status();
  return std::pair{*std::move(reading), it->second.lag};
}

std::vector<StandbyTaskView> StateUpdater::standbys() const {
  absl::MutexLock lock(&mutex_);
  std::vector<StandbyTaskView> views;
  for (const auto& [id, standby] : tasks_) {
    if (standby.restoring()) continue;
    views.push_back({.id = id,
                     .lag = standby.lag,
                     .applied = standby.applied,
                     .caught_up = standby.lag <= config_.acceptable_recovery_lag});
  }
  return views;
}

void StateUpdater::Send(const std::string& topic, RawRecord) {
  spdlog::error("a task of the state updater tried to send a record to {}; dropped (it "
                "processes nothing)",
                topic);
}

const int64_t* StateUpdater::SendToPartition(const std::string& topic, int32_t,
                                             RawRecord record) {
  Send(topic, std::move(record));
  return nullptr;
}

absl::StatusOr<StateUpdater::Updating> StateUpdater::OpenStandby(TaskId id) {
  for (int attempt = 0;; ++attempt) {
    WEIR_ASSIGN_OR_RETURN(std::unique_ptr<TaskDb> db, options_.open_task_db(id));
    const std::string dir = db->dir();
    Updating standby;
    WEIR_ASSIGN_OR_RETURN(
        standby.task,
        Task::Create(*topology_, subtopologies_[id.subtopology], id, config_.application_id,
                     options_.wall_clock, static_cast<RecordCollector*>(this), std::move(db),
                     nullptr, false, options_.global_stores));
    WEIR_ASSIGN_OR_RETURN(ChangelogCheck check,
                          CheckChangelogs(*standby.task, offsets_client_.get(),
                                          config_.application_id, "standby"));
    if (check.usable || attempt > 0) {
      standby.tails = std::move(check.tails);
      for (const ChangelogTail& tail : standby.tails) standby.lag += tail.high - tail.from;
      return standby;
    }
    standby.task.reset();
    WEIR_ASSIGN_OR_RETURN(const bool deleted, TaskDb::DeleteIfUnused(dir));
    if (!deleted) return absl::InternalError(absl::StrCat("cannot wipe ", dir, ": still in use"));
  }
}

void StateUpdater::CloseStandby(TaskMap::iterator it) {
  // Standby writes skip the WAL, like restoration's: flush them before the files change hands.
  if (absl::Status flushed = it->second.task->FinishRestore(); !flushed.ok()) {
    spdlog::warn("standby {}: {}", it->first.ToString(), flushed.message());
  }
  it->second.task->Close();
  tasks_.erase(it);
  assignment_stale_ = true;
}

void StateUpdater::ReconcileStandbys() {
  const int64_t now = options_.wall_clock();
  // An instance's death changes the view (after session.timeout.ms) before the group hands its
  // tasks over (the rebalance follows): a standby no longer placed here stays open and current
  // for a while, so the task it is about to become finds it warm.
  std::vector<TaskId> to_open;
  {
    absl::MutexLock lock(&mutex_);
    for (auto it = tasks_.begin(); it != tasks_.end();) {
      Updating& standby = it->second;
      if (standby.restoring() || targets_.contains(it->first)) {
        standby.unplaced_since_ms = -1;
        ++it;
        continue;
      }
      if (standby.unplaced_since_ms < 0) standby.unplaced_since_ms = now;
      if (now - standby.unplaced_since_ms < unplaced_grace_ms_) {
        ++it;
        continue;
      }
      spdlog::info("standby {} closed: no longer placed here", it->first.ToString());
      CloseStandby(it++);
    }
    for (const TaskId& id : targets_) {
      if (tasks_.contains(id) || claimed_.contains(id)) continue;
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
    absl::StatusOr<Updating> opened = OpenStandby(id);
    absl::MutexLock lock(&mutex_);
    opening_.reset();
    if (!opened.ok()) {
      spdlog::warn("standby {} cannot open yet: {}", id.ToString(), opened.status().message());
      failed_at_ms_[id] = now;
      continue;
    }
    failed_at_ms_.erase(id);
    auto [it, inserted] = tasks_.emplace(id, *std::move(opened));
    assignment_stale_ = true;
    if (claimed_.contains(id)) {  // a stream thread wants it now: hand it over at once
      CloseStandby(it);
      continue;
    }
    spdlog::info("standby {} opened in {} ms, {} changelog records behind", id.ToString(),
                 std::chrono::duration_cast<std::chrono::milliseconds>(
                     std::chrono::steady_clock::now() - started)
                     .count(),
                 it->second.lag);
  }
}

void StateUpdater::Announce() {
  if (!options_.on_restore_start) return;
  std::vector<std::pair<TaskId, int64_t>> started;
  {
    absl::MutexLock lock(&mutex_);
    for (auto& [id, updating] : tasks_) {
      if (updating.restoring() && !std::exchange(updating.announced, true)) {
        started.emplace_back(id, updating.remaining);
      }
    }
  }
  for (const auto& [id, remaining] : started) options_.on_restore_start(id, remaining);
}

absl::Status StateUpdater::Assign() {
  reading_.clear();
  PartitionList assignment(rd_kafka_topic_partition_list_new(4));
  for (auto& [id, updating] : tasks_) {
    // Reading restarts where the state stands: what was read and not applied is read again.
    updating.applier = std::make_unique<ChangelogApplier>(*updating.task);
    for (ChangelogTail& tail : updating.tails) {
      if (updating.done.contains(tail.topic)) continue;
      tail.from = std::max(tail.from, updating.task->ChangelogOffset(tail.store));
      rd_kafka_topic_partition_list_add(assignment.get(), tail.topic.c_str(), tail.partition)
          ->offset = tail.from;
      reading_[{tail.topic, tail.partition}] = {id, &tail};
    }
  }
  return KafkaStatus(rd_kafka_assign(consumer_.get(), assignment.get()),
                     "assigning changelog partitions");
}

void StateUpdater::Dispatch(const rd_kafka_message_t& m, std::set<TaskId>& touched) {
  auto target = m.rkt != nullptr ? reading_.find({rd_kafka_topic_name(m.rkt), m.partition})
                                 : reading_.end();
  if (target == reading_.end()) {
    if (m.err != RD_KAFKA_RESP_ERR_NO_ERROR && m.err != RD_KAFKA_RESP_ERR__PARTITION_EOF) {
      spdlog::warn("state updater: changelog consumer: {}", rd_kafka_message_errstr(&m));
    }
    return;
  }
  const auto [id, tail] = target->second;
  auto it = tasks_.find(id);
  if (it == tasks_.end()) return;  // closed, or handed back, meanwhile
  Updating& updating = it->second;
  if (m.err == RD_KAFKA_RESP_ERR_NO_ERROR) {
    if (absl::Status added = updating.applier->Add(tail->store, ToRawRecord(m), m.offset);
        !added.ok()) {
      spdlog::error("task {}: {}", id.ToString(), added.message());
      if (updating.restoring()) {
        HandBack(it, std::move(added));
        return;
      }
    }
  } else if (m.err != RD_KAFKA_RESP_ERR__PARTITION_EOF) {
    spdlog::warn("state updater: changelog consumer: {}", rd_kafka_message_errstr(&m));
    return;
  } else if (updating.restoring() && m.offset < tail->high &&
             updating.held.insert(tail->topic).second) {
    spdlog::info(
        "task {}: changelog {}-{} is readable up to offset {} of {}: waiting for an open "
        "transaction (one a stopped instance left is aborted by the broker after "
        "transaction.timeout.ms)",
        id.ToString(), tail->topic, tail->partition, m.offset, tail->high);
  }
  // A restoration is done at the high watermark checked at its start (see the header).
  if (updating.restoring() &&
      m.offset + (m.err == RD_KAFKA_RESP_ERR_NO_ERROR ? 1 : 0) >= tail->high) {
    updating.done.insert(tail->topic);
  }
  touched.insert(id);
}

void StateUpdater::ApplyTo(TaskId id) {
  auto it = tasks_.find(id);
  if (it == tasks_.end()) return;
  Updating& updating = it->second;
  Task& task = *updating.task;
  absl::StatusOr<int64_t> applied =
      updating.applier->Apply(kWriteBatchRecords, [&](int64_t records) {
        const int64_t before = updating.applied;
        updating.applied += records;
        if (!updating.restoring()) return;
        task.SetRestoreProgress(updating.applied,
                                std::max<int64_t>(updating.remaining - updating.applied, 0));
        if (updating.applied / kProgressRecords > before / kProgressRecords) {
          spdlog::info("task {}: restored {} of {} changelog records", id.ToString(),
                       updating.applied, updating.remaining);
        }
      });
  if (!updating.restoring()) {
    if (!applied.ok()) {
      // The state stays at its last whole commit; reading again from there may succeed.
      spdlog::error("standby {}: {}; reopening it", id.ToString(), applied.status().message());
      CloseStandby(it);
      return;
    }
    standby_records_applied_ += *applied;
    return;
  }
  if (!applied.ok()) {
    HandBack(it, applied.status());
    return;
  }
  if (updating.done.size() < updating.tails.size()) return;
  absl::Status finished = task.FinishRestore();  // restored writes skipped the WAL
  task.SetRestoreProgress(updating.applied, 0);
  if (finished.ok()) {
    spdlog::info("task {}: restored {} records to commit {}", id.ToString(), updating.applied,
                 task.commit_seq());
    if (updating.applier->stale() > 0) {
      spdlog::warn("task {}: dropped {} changelog records written by an owner the group had "
                   "already replaced (a member paused past its session timeout)",
                   id.ToString(), updating.applier->stale());
    }
  }
  HandBack(it, std::move(finished));
}

void StateUpdater::HandBack(TaskMap::iterator it, absl::Status status) {
  Updating& updating = it->second;
  returned_[it->first] = {.task = std::move(updating.task),
                          .status = std::move(status),
                          .records_restored = updating.applied};
  updating.wake();
  tasks_.erase(it);
  assignment_stale_ = true;
}

void StateUpdater::RefreshLags() {
  for (auto& [id, standby] : tasks_) {
    if (standby.restoring()) continue;
    int64_t lag = 0;
    for (ChangelogTail& tail : standby.tails) {
      int64_t low = -1;
      int64_t high = -1;
      // Cached from fetch responses: no broker round trip.
      if (rd_kafka_get_watermark_offsets(consumer_.get(), tail.topic.c_str(), tail.partition,
                                         &low, &high) == RD_KAFKA_RESP_ERR_NO_ERROR &&
          high >= 0) {
        tail.high = std::max(tail.high, high);
      }
      lag += std::max<int64_t>(tail.high - standby.task->ChangelogOffset(tail.store), 0);
    }
    standby.lag = lag;
  }
}

void StateUpdater::Run() {
  std::vector<rd_kafka_message_t*> batch(kBatch);
  auto next_lag_refresh = std::chrono::steady_clock::now();
  while (!stop_) {
    if (config_.num_standby_replicas > 0) ReconcileStandbys();
    Announce();
    {
      absl::MutexLock lock(&mutex_);
      if (std::exchange(assignment_stale_, false)) {
        if (absl::Status assigned = Assign(); !assigned.ok()) {
          spdlog::warn("state updater: {}", assigned.message());
          assignment_stale_ = true;
        }
      }
    }
    const ssize_t count = ConsumeBatch(queue_, kPollMs, batch);
    absl::MutexLock lock(&mutex_);
    std::set<TaskId> touched;
    for (ssize_t i = 0; i < count; ++i) {
      Dispatch(*batch[i], touched);
      rd_kafka_message_destroy(batch[i]);
    }
    for (const TaskId& id : touched) ApplyTo(id);
    if (std::chrono::steady_clock::now() >= next_lag_refresh) {
      RefreshLags();
      next_lag_refresh = std::chrono::steady_clock::now() + std::chrono::seconds(1);
    }
  }
}

}  // namespace weir::internal
