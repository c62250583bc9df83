// Rebalance handling of the stream thread (engine/runtime/internal/stream_thread.h says how
// assignment and revocation work): librdkafka calls the callback on the thread's own polls.
#include <string_view>
#include <utility>

#include "absl/strings/str_cat.h"
#include "common/logging.h"
#include "common/status.h"
#include "engine/kafka/kafka_status.h"
#include "engine/runtime/internal/stream_thread.h"

namespace weir::internal {

void StreamThread::RebalanceCallback(rd_kafka_t* rk, rd_kafka_resp_err_t err,
                                     rd_kafka_topic_partition_list_t* partitions, void* opaque) {
  auto* self = static_cast<StreamThread*>(opaque);
  // Cooperative rebalances hand over only the partitions that move; eager ones revoke and
  // reassign everything. The callback is the same either way, only librdkafka's call differs.
  const bool cooperative = std::string_view(rd_kafka_rebalance_protocol(rk)) == "COOPERATIVE";
  absl::Status status;
  if (err == RD_KAFKA_RESP_ERR__ASSIGN_PARTITIONS) {
    self->rebalance_watch_->BeforeAssign();
    self->to_pause_.reset(rd_kafka_topic_partition_list_new(4));
    status = self->OnAssign(partitions);
    if (status.ok()) {
      status = cooperative ? KafkaStatus(rd_kafka_incremental_assign(rk, partitions), "assigning")
                           : KafkaStatus(rd_kafka_assign(rk, partitions), "assigning");
    }
    if (status.ok() && self->to_pause_->cnt > 0) {
      status = KafkaStatus(rd_kafka_pause_partitions(rk, self->to_pause_.get()),
                           "pausing partitions of restoring tasks");
    }
    self->rebalance_watch_->AfterAssign();
  } else {
    self->rebalance_watch_->OnRevoke(cooperative);
    status = self->OnRevoke(partitions, rd_kafka_assignment_lost(rk));
    // Give the partitions up even after a failure: the next owner resumes from the last commit.
    absl::Status unassigned =
        cooperative ? KafkaStatus(rd_kafka_incremental_unassign(rk, partitions), "unassigning")
                    : KafkaStatus(rd_kafka_assign(rk, nullptr), "unassigning");
    if (status.ok()) status = unassigned;
  }
  if (!status.ok() && self->fatal_.ok()) self->fatal_ = status;
  self->member_id_stale_ = true;  // read by the loop: not here (ReadMemberId)
  self->PublishTasks();
  self->PublishMetrics(/*force=*/true);  // new tasks show in /metrics at once
}

absl::Status StreamThread::OnAssign(rd_kafka_topic_partition_list_t* partitions) {
  assigned_ = true;
  // Only the assignment right after the rejected commit may use what it kept. Starting there
  // loses nothing even if another member owned a partition meanwhile: everything before it was
  // processed here, and its output delivered.
  const auto carried = std::exchange(uncommitted_revoked_, {});
  for (int i = 0; i < partitions->cnt; ++i) {
    const std::string topic = partitions->elems[i].topic;
    const int32_t partition = partitions->elems[i].partition;
    auto sub = subtopology_of_topic_.find(topic);
    if (sub == subtopology_of_topic_.end()) {
      return absl::InternalError(absl::StrCat("assigned ", topic, ", which no source reads"));
    }
    const TaskId id{sub->second, partition};
    task_of_partition_.insert_or_assign({topic, partition}, id);
    if (!tasks_.contains(id) && !restoring_.contains(id)) {
      WEIR_ASSIGN_OR_RETURN(std::unique_ptr<Task> task, CreateTask(id, partitions));
      ++tasks_created_;
      task_created_sensor_.Record(1, wall_clock_());
      spdlog::info("{}: task {} created{}", name_, id.ToString(),
                   task == nullptr ? "; restoring its state" : "");
      if (task != nullptr) tasks_.emplace(id, std::move(task));
    }
    int64_t resume = -1;
    if (restoring_.contains(id) || paused_for_disk_) {
      // Held until its state is restored (ResumeRestored() then seeks and resumes it), or until
      // state.dir has room again (WatchDisk).
      rd_kafka_topic_partition_list_add(to_pause_.get(), topic.c_str(), partition);
    }
    if (!restoring_.contains(id)) {
      // Local state knows exactly which input it reflects: resume there, not at the group's
      // committed offset (which may be behind it, or ahead after a crash).
      const TaskDb::Offsets stored = tasks_.at(id)->StoredOffsets();
      if (auto at = stored.find({topic, partition}); at != stored.end()) {
        resume = at->second;
        spdlog::info("{}: task {} resumes {}-{} at offset {} from its local state", name_,
                     id.ToString(), topic, partition, resume);
      } else if (auto kept = carried.find({topic, partition}); kept != carried.end()) {
        resume = kept->second;
        spdlog::info(
            "{}: task {} resumes {}-{} at offset {}, where it was before the rejected commit",
            name_, id.ToString(), topic, partition, resume);
      } else {
        spdlog::info("{}: task {} resumes {}-{} at the group's committed offset (no local state)",
                     name_, id.ToString(), topic, partition);
      }
      if (resume >= 0) partitions->elems[i].offset = resume;
    }
    // The next commit tells the group where processing stands, even if nothing new arrives
    // (the group's offset may trail it after a commit a rebalance rejected, or a crash).
    next_offsets_.insert_or_assign({topic, partition}, resume);
  }
  return absl::OkStatus();
}

absl::Status StreamThread::OnRevoke(rd_kafka_topic_partition_list_t* partitions, bool lost) {
  absl::Status committed = fatal_;
  if (lost) {
    // The group already gave these partitions to someone else: committing would be rejected.
    spdlog::warn("{}: {} partitions lost; records since the last commit will be processed again",
                 name_, partitions->cnt);
    // Under exactly_once_v2 the open transaction holds output of those records, which their
    // new owners produce again: committing it later (with the next assignment's offsets)
    // would deliver it twice. Abort it, as Kafka Streams resets its producer on lost tasks.
    committer_->Abort();
    ++assignments_lost_;
  } else {
    spdlog::info("{}: {} partitions revoked: committing and closing their tasks", name_,
                 partitions->cnt);
    if (committed.ok()) committed = Commit();
    if (absl::IsAborted(committed)) {
      // The embedded broker rejects commits as soon as a member joins (a real broker accepts
      // them until the join completes); remember how far this thread got.
      spdlog::warn("{}: {}; kept the processed offsets in case the partitions come back", name_,
                   committed.message());
      committed = absl::OkStatus();
      for (int i = 0; i < partitions->cnt; ++i) {
        auto at = next_offsets_.find({partitions->elems[i].topic, partitions->elems[i].partition});
        if (at != next_offsets_.end() && at->second >= 0) uncommitted_revoked_.insert(*at);
      }
    }
  }
  by_handle_.clear();
  std::set<TaskId> affected;
  for (int i = 0; i < partitions->cnt; ++i) {
    const std::pair<std::string, int32_t> key{partitions->elems[i].topic,
                                              partitions->elems[i].partition};
    auto owner = task_of_partition_.find(key);
    if (owner == task_of_partition_.end()) continue;
    affected.insert(owner->second);
    task_of_partition_.erase(owner);
    next_offsets_.erase(key);
    unseeked_.erase(key);
    strays_.erase(key);
  }
  CloseUnassignedTasks(affected);
  return committed;
}

void StreamThread::CloseUnassignedTasks(const std::set<TaskId>& candidates) {
  // A task closes once none of its partitions is left (with `range`, all go together).
  std::set<TaskId> unassigned = candidates;
  for (const auto& [partition, id] : task_of_partition_) unassigned.erase(id);
  for (const TaskId& id : unassigned) {
    if (auto it = tasks_.find(id); it != tasks_.end()) {
      std::unique_ptr<Task> task = std::move(it->second);
      tasks_.erase(it);
      CloseTask(std::move(task));
    } else if (restoring_.erase(id) > 0) {
      restoring_any_ = !restoring_.empty();
      StateUpdater::Returned returned = hooks_.state_updater->Cancel(id);
      records_restored_ += returned.records_restored;
      if (returned.task != nullptr) CloseTask(std::move(returned.task));
    }
  }
}

}  // namespace weir::internal
