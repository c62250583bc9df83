#include "engine/runtime/internal/stream_thread.h"

#include <algorithm>
#include <chrono>
#include <filesystem>
#include <limits>
#include <set>
#include <string_view>
#include <utility>

#include "absl/cleanup/cleanup.h"
#include "absl/strings/numbers.h"
#include "absl/strings/str_cat.h"
#include "common/logging.h"
#include "common/status.h"
#include "engine/kafka/kafka_status.h"
#include "engine/kafka/partitioner.h"
#include "engine/kafka/topic_admin.h"
#include "engine/processor/topic_name.h"
#include "engine/runtime/internal/changelog_reader.h"
#include "engine/runtime/internal/stream_clients.h"
#include "engine/runtime/memory_plan.h"

namespace weir::internal {
namespace {

constexpr int kQueryTimeoutMs = 60'000;

using SteadyClock = std::chrono::steady_clock;

double Millis(SteadyClock::duration d) {
  return std::chrono::duration<double, std::milli>(d).count();
}
int64_t Nanos(SteadyClock::duration d) {
  return std::chrono::duration_cast<std::chrono::nanoseconds>(d).count();
}

// The longest a group join may take (the rebalance timeout librdkafka sends with JoinGroup).
int64_t MaxPollIntervalMs(const rd_kafka_conf_t* conf) {
  char value[32];
  size_t size = sizeof(value);
  int64_t ms = 300'000;  // librdkafka's default
  if (rd_kafka_conf_get(conf, "max.poll.interval.ms", value, &size) == RD_KAFKA_CONF_OK) {
    (void)absl::SimpleAtoi(value, &ms);
  }
  return ms;
}

}  // namespace

absl::StatusOr<std::unique_ptr<StreamThread>> StreamThread::Create(
    const AppConfig& config, std::shared_ptr<const Topology> topology, std::string thread_name,
    std::function<int64_t()> wall_clock, StreamThreadHooks hooks) {
  if (static_cast<bool>(hooks.open_task_db) != (hooks.state_updater != nullptr)) {
    return absl::InternalError("a stream thread needs both a task state opener and a state "
                               "updater, or neither");
  }
  std::unique_ptr<StreamThread> thread(new StreamThread(config, std::move(topology),
                                                        std::move(thread_name),
                                                        std::move(wall_clock), std::move(hooks)));
  WEIR_RETURN_IF_ERROR(thread->Init());
  return thread;
}

StreamThread::StreamThread(const AppConfig& config, std::shared_ptr<const Topology> topology,
                           std::string name, std::function<int64_t()> wall_clock,
                           StreamThreadHooks hooks)
    : config_(config),
      topology_(std::move(topology)),
      subtopologies_(topology_->Subtopologies()),
      name_(std::move(name)),
      wall_clock_(std::move(wall_clock)),
      hooks_(std::move(hooks)),
      cache_(config.statestore_cache_max_bytes) {}

StreamThread::~StreamThread() {
  RequestStop();
  Join();
  // A thread that never ran its loop still owes its queries an answer.
  AnswerQueries(absl::UnavailableError(absl::StrCat(name_, " has stopped")));
}

absl::Status StreamThread::Init() {
  for (const Topology::Subtopology& sub : subtopologies_) {
    for (int node : sub.nodes) {
      const Topology::NodeSpec& spec = topology_->nodes()[node];
      if (spec.kind != Topology::NodeKind::kSource) continue;
      for (const std::string& topic : spec.topics) {
        subtopology_of_topic_[spec.internal_topics
                                  ? InternalTopic(config_.application_id, topic)
                                  : topic] = sub.id;
      }
    }
  }
  WEIR_RETURN_IF_ERROR(CreateConsumer());
  return CreateProducer();
}

absl::Status StreamThread::CreateProducer() {
  std::unique_ptr<ThreadProducer> fenced;
  {
    absl::MutexLock lock(&mutex_);  // snapshot() reads the producer's counters
    if (producer_ != nullptr) {
      earlier_dead_letters_ += producer_->dead_letters();
      earlier_production_errors_ += producer_->production_errors();
    }
    fenced = std::move(producer_);
  }
  committer_.reset();
  fenced.reset();  // first: its transactional.id is the new one's
  WEIR_ASSIGN_OR_RETURN(
      std::unique_ptr<ThreadProducer> producer,
      ThreadProducer::Create(
          config_, *topology_, name_,
          {.transactional_id = hooks_.transactional_id,
           .configure_client = hooks_.configure_client,
           .on_statistics = [this](rd_kafka_t* rk, absl::string_view json) {
             OnStatistics(rk, json);
           },
           .changelogs = static_cast<bool>(hooks_.open_task_db)}));
  {
    absl::MutexLock lock(&mutex_);
    producer_ = std::move(producer);
  }
  committer_ = Committer::Create(config_.processing_guarantee, consumer_.get(),
                                 producer_->handle(), rebalance_watch_.get());
  producer_->set_committer(committer_.get());
  return absl::OkStatus();
}

bool StreamThread::TaskMigrated(const absl::Status& status) const {
  if (status.ok() || stop_requested_) return false;
  if (IsTaskMigrated(status)) return true;
  // Under exactly_once_v2 any failure of the producer - fenced, its transaction failed (a
  // pause let its records time out), a fatal error - loses nothing when the tasks start over
  // from their last commit with a new producer: the transaction's output is never visible.
  if (config_.processing_guarantee != ProcessingGuarantee::kExactlyOnceV2) return false;
  char reason[512];
  return rd_kafka_fatal_error(producer_->handle(), reason, sizeof(reason)) !=
             RD_KAFKA_RESP_ERR_NO_ERROR ||
         !producer_->error().ok();
}

absl::Status StreamThread::Rejoin(const absl::Status& cause) {
  // One that comes back before any commit succeeds is no migration but a failure that starting
  // over cannot cure (a record the producer refuses every time): the thread dies of it.
  if (++migrations_since_commit_ > 3) return cause;
  ++tasks_migrated_;
  spdlog::warn("{}: {}: the group or the transaction coordinator went on without this thread "
               "(paused past session.timeout.ms or transaction.timeout.ms?); closing its tasks "
               "without committing, making a new producer and rejoining",
               name_, cause.message());
  // The partitions the consumer holds are given up and taken again, so their tasks start over
  // from their state's last commit: the group may still count this member (only its
  // transaction timed out). If it does not, the next poll revokes them as lost and the
  // consumer rejoins. `fatal_` set: nothing commits on the way.
  rd_kafka_topic_partition_list_t* held = nullptr;
  WEIR_RETURN_IF_ERROR(
      KafkaStatus(rd_kafka_assignment(consumer_.get(), &held), "reading the assignment"));
  PartitionList assignment(held);
  fatal_ = cause;
  if (!ProducerFenced(producer_->handle())) committer_->Abort();
  if (assignment->cnt > 0) {
    RebalanceCallback(consumer_.get(), RD_KAFKA_RESP_ERR__REVOKE_PARTITIONS, assignment.get(),
                      this);
  }
  CloseAllTasks();  // restoring ones too
  uncommitted_revoked_.clear();
  fatal_ = absl::OkStatus();
  WEIR_RETURN_IF_ERROR(CreateProducer());
  WEIR_RETURN_IF_ERROR(committer_->Init());
  next_commit_ms_ = wall_clock_() + config_.commit_interval_ms;
  if (assignment->cnt > 0) {
    RebalanceCallback(consumer_.get(), RD_KAFKA_RESP_ERR__ASSIGN_PARTITIONS, assignment.get(),
                      this);
  }
  return Fatal();
}

absl::Status StreamThread::CreateConsumer() {
  WEIR_ASSIGN_OR_RETURN(const ClientProperties properties,
                        StreamConsumerProperties(config_, name_, hooks_.group_instance_id,
                                                 subtopology_of_topic_));
  WEIR_ASSIGN_OR_RETURN(KafkaConf conf, BuildKafkaConf(properties, ClientKind::kConsumer));
  rd_kafka_conf_set_rebalance_cb(conf.get(), &StreamThread::RebalanceCallback);
  rebalance_watch_ = std::make_unique<RebalanceWatch>(
      name_, MaxPollIntervalMs(conf.get()),
      [] {
        return std::chrono::duration_cast<std::chrono::milliseconds>(
                   SteadyClock::now().time_since_epoch())
            .count();
      });
  rebalance_watch_->Intercept(conf.get());
  rd_kafka_conf_set_stats_cb(conf.get(), &StreamThread::StatisticsCallback);
  rd_kafka_conf_set_opaque(conf.get(), this);
  if (hooks_.configure_client) hooks_.configure_client(conf.get(), ClientKind::kConsumer);
  WEIR_ASSIGN_OR_RETURN(consumer_, NewKafkaClient(std::move(conf), ClientKind::kConsumer));
  rd_kafka_poll_set_consumer(consumer_.get());
  consumer_queue_.reset(rd_kafka_queue_get_consumer(consumer_.get()));
  batch_.resize(static_cast<size_t>(config_.max_poll_records));
  return absl::OkStatus();
}

void StreamThread::Start() {
  state_ = ThreadState::kRunning;
  thread_ = std::thread([this] { Run(); });
}

void StreamThread::Join() {
  if (thread_.joinable()) thread_.join();
}

absl::Status StreamThread::error() const {
  absl::MutexLock lock(&mutex_);
  return error_;
}

void StreamThread::Die(absl::Status status) {
  spdlog::error("{}: stream thread dies: {}", name_, status.message());
  {
    absl::MutexLock lock(&mutex_);
    error_ = std::move(status);
  }
  state_ = ThreadState::kDead;
}

void StreamThread::Run() {
  absl::Status status = RunLoop();
  AnswerQueries(absl::UnavailableError(absl::StrCat(name_, " has stopped")));
  if (!status.ok()) {
    // Leave the group without committing: what is in flight is reprocessed by the next owner.
    if (std::shared_ptr<LeaveBarrier> barrier = TakeLeaveBarrier()) barrier->Arrive();
    if (fatal_.ok()) fatal_ = status;  // so the revocation below does not commit
    committer_->Abort();
    CloseAllTasks();
    rd_kafka_consumer_close(consumer_.get());
    Die(std::move(status));
    return;
  }
  state_ = ThreadState::kStopped;
  spdlog::info("{}: stopped", name_);
}

absl::Status StreamThread::Iterate() {
  // Tasks the state updater has restored (it wakes the poll below when one is ready).
  if (!restoring_.empty() || !unseeked_.empty()) WEIR_RETURN_IF_ERROR(ResumeRestored());
  AnswerQueries();
  // One batch per iteration; polling the consumer queue also serves the rebalance callback.
  const auto poll_start = SteadyClock::now();
  const ssize_t count = PollBatch(static_cast<int>(config_.poll_ms));
  const auto poll_end = SteadyClock::now();
  const int64_t now_ms = wall_clock_();
  poll_sensor_.Record(Millis(poll_end - poll_start), now_ms);
  blocked_ns_ += Nanos(poll_end - poll_start);
  if (count > 0) poll_records_sensor_.Record(static_cast<double>(count), now_ms);
  absl::Status status;
  for (ssize_t i = 0; i < count; ++i) {
    if (status.ok()) status = ProcessMessage(*batch_[i], now_ms);
    if (status.ok()) status = Fatal();
    rd_kafka_message_destroy(batch_[i]);  // every message, even after a failure
  }
  WEIR_RETURN_IF_ERROR(status);
  if (count > 0) {  // Kafka Streams records process-rate and -latency per loop iteration
    process_sensor_.Record(static_cast<double>(count), now_ms);
    process_latency_sensor_.Record(Millis(SteadyClock::now() - poll_end) / count, now_ms);
  }
  producer_->Poll();  // delivery reports
  WEIR_RETURN_IF_ERROR(Fatal());
  const auto punctuate_start = SteadyClock::now();
  const int64_t punctuate_ms = wall_clock_();  // once for every task, after the batch
  int punctuated = 0;
  for (auto& [id, task] : tasks_) punctuated += task->PunctuateWallClock(punctuate_ms);
  if (punctuated > 0) {
    punctuate_sensor_.Record(Millis(SteadyClock::now() - punctuate_start) / punctuated, now_ms);
  }
  if ((punctuate_ms >= next_commit_ms_ || UncommittedOverLimit()) &&
      !rebalance_watch_->HoldsCommits()) {
    WEIR_RETURN_IF_ERROR(CommitOrWarn());
  }
  PublishTasks(std::exchange(member_id_stale_, false) ? std::optional(ReadMemberId())
                                                      : std::nullopt);
  PublishMetrics(/*force=*/false);
  return WatchDisk(now_ms);
}

absl::Status StreamThread::WatchDisk(int64_t now_ms) {
  if (config_.state_dir_min_free_bytes == 0 || !hooks_.open_task_db || now_ms < next_disk_ms_) {
    return absl::OkStatus();
  }
  next_disk_ms_ = now_ms + 1'000;
  std::error_code error;
  const std::filesystem::space_info space = std::filesystem::space(config_.state_dir, error);
  if (error) return absl::OkStatus();  // not there yet: the first task creates it
  const int64_t free = static_cast<int64_t>(space.available);
  state_dir_free_bytes_ = free;
  const int64_t reserve = config_.state_dir_min_free_bytes;
  if (!paused_for_disk_ && free < reserve) {
    spdlog::error("{}: {} has {} free, under state.dir.min.free.bytes ({}): stopped consuming "
                  "(partitions paused, group membership kept) until {} is free "
                  "(docs/runbook.md, \"Disk full\")",
                  name_, config_.state_dir, FormatBytes(free),
                  FormatBytes(reserve),
                  FormatBytes(StateDirResumeBytes(config_)));
    paused_for_disk_ = true;
    return PauseProcessing(/*pause=*/true);
  }
  if (paused_for_disk_ && free >= StateDirResumeBytes(config_)) {
    spdlog::info("{}: {} has {} free again: consuming", name_, config_.state_dir,
                 FormatBytes(free));
    paused_for_disk_ = false;
    return PauseProcessing(/*pause=*/false);
  }
  return absl::OkStatus();
}

absl::Status StreamThread::PauseProcessing(bool pause) {
  PartitionList partitions(rd_kafka_topic_partition_list_new(8));
  for (const auto& [partition, id] : task_of_partition_) {
    if (restoring_.contains(id)) continue;  // paused until restored, then resumed by the loop
    rd_kafka_topic_partition_list_add(partitions.get(), partition.first.c_str(),
                                      partition.second);
  }
  if (partitions->cnt == 0) return absl::OkStatus();
  return KafkaStatus(pause ? rd_kafka_pause_partitions(consumer_.get(), partitions.get())
                           : rd_kafka_resume_partitions(consumer_.get(), partitions.get()),
                     pause ? "pausing for disk space" : "resuming after disk space returned");
}

absl::Status StreamThread::RunLoop() {
  WEIR_RETURN_IF_ERROR(committer_->Init());
  std::vector<std::string> topics;
  for (const auto& [topic, sub] : subtopology_of_topic_) topics.push_back(topic);
  PartitionList subscription(rd_kafka_topic_partition_list_new(static_cast<int>(topics.size())));
  for (const std::string& topic : topics) {
    rd_kafka_topic_partition_list_add(subscription.get(), topic.c_str(), RD_KAFKA_PARTITION_UA);
  }
  WEIR_RETURN_IF_ERROR(
      KafkaStatus(rd_kafka_subscribe(consumer_.get(), subscription.get()), "subscribing"));
  next_commit_ms_ = wall_clock_() + config_.commit_interval_ms;

  while (!stop_requested_) {
    absl::Status status = Iterate();
    if (TaskMigrated(status)) status = Rejoin(status);
    WEIR_RETURN_IF_ERROR(status);
  }
  state_ = ThreadState::kPendingShutdown;
  AnswerQueries(absl::UnavailableError(absl::StrCat(name_, " is shutting down")));
  spdlog::info("{}: shutting down: committing and leaving the group", name_);
  absl::Status committed = CommitOrWarn();
  if (std::shared_ptr<LeaveBarrier> barrier = TakeLeaveBarrier()) {
    barrier->ArriveAndWait(absl::Seconds(30));
  }
  WEIR_RETURN_IF_ERROR(committed);
  // Closing the consumer revokes the assignment (OnRevoke closes the tasks) and leaves the group.
  WEIR_RETURN_IF_ERROR(KafkaStatus(rd_kafka_consumer_close(consumer_.get()), "leaving the group"));
  WEIR_RETURN_IF_ERROR(Fatal());
  CloseAllTasks();
  PublishTasks(/*member_id=*/"");  // out of the group
  return absl::OkStatus();
}

void StreamThread::Query(TaskId id, std::string store, StoreRead read, QueryDone done) {
  {
    absl::MutexLock lock(&mutex_);
    if (!queries_closed_) {
      queries_.push_back({id, std::move(store), std::move(read), std::move(done)});
      if (consumer_queue_ != nullptr) rd_kafka_queue_yield(consumer_queue_.get());
      return;
    }
  }
  done(absl::UnavailableError(absl::StrCat(name_, " has stopped")));
}

bool StreamThread::HoldsTask(TaskId id) const {
  absl::MutexLock lock(&mutex_);
  return std::binary_search(published_.tasks.begin(), published_.tasks.end(), id);
}

void StreamThread::AnswerQueries(std::optional<absl::Status> refusal) {
  std::vector<PendingQuery> queries;
  {
    absl::MutexLock lock(&mutex_);
    if (refusal.has_value()) queries_closed_ = true;
    if (queries_.empty()) return;
    queries.swap(queries_);
  }
  for (PendingQuery& query : queries) {
    const std::string task = query.task.ToString();
    if (refusal.has_value()) {
      query.done(*refusal);
    } else if (restoring_.contains(query.task)) {
      query.done(absl::UnavailableError(
          absl::StrCat("task ", task, " is restoring its state from the changelogs")));
    } else if (rebalance_watch_->HoldsCommits()) {
      query.done(absl::UnavailableError(
          absl::StrCat("a rebalance is in progress (", name_, " is rejoining the group)")));
    } else if (auto it = tasks_.find(query.task); it == tasks_.end()) {
      query.done(absl::UnavailableError(absl::StrCat("task ", task, " is not on ", name_)));
    } else if (StateStore* store = it->second->store(query.store); store == nullptr) {
      query.done(absl::NotFoundError(absl::StrCat("task ", task, " has no store ", query.store)));
    } else {
      query.done(query.read(*store));
    }
  }
}

absl::Status StreamThread::ProcessMessage(const rd_kafka_message_t& message, int64_t now_ms) {
  if (message.err == RD_KAFKA_RESP_ERR__PARTITION_EOF) return absl::OkStatus();
  if (message.err != RD_KAFKA_RESP_ERR_NO_ERROR) {
    // Consumer errors are mostly transient (librdkafka retries); log them and go on.
    spdlog::warn("{}: consumer: {}", name_, rd_kafka_message_errstr(&message));
    return absl::OkStatus();
  }
  auto assigned = by_handle_.find({message.rkt, message.partition});
  if (assigned == by_handle_.end()) {
    const std::string topic = rd_kafka_topic_name(message.rkt);
    auto owner = task_of_partition_.find({topic, message.partition});
    auto task = owner == task_of_partition_.end() ? tasks_.end() : tasks_.find(owner->second);
    if (task == tasks_.end() && owner != task_of_partition_.end() &&
        restoring_.contains(owner->second)) {
      // Fetched between the assignment and the pause of a restoring task's partition: not
      // processed now. ResumeRestored seeks the partition where the restored state stands, or,
      // when that holds no offset, back to the first record dropped here.
      auto [stray, added] = strays_.try_emplace(owner->first, message.offset);
      if (!added) stray->second = std::min(stray->second, message.offset);
      return absl::OkStatus();
    }
    if (task == tasks_.end()) {
      return absl::InternalError(absl::StrCat("record from ", topic, "-", message.partition,
                                              ", which no processing task of this thread reads"));
    }
    auto offset = next_offsets_.find({topic, message.partition});
    auto partitions = hooks_.source_partitions.find(topic);
    const bool check = config_.misplaced_records != MisplacedRecords::kIgnore &&
                       partitions != hooks_.source_partitions.end() && partitions->second > 1;
    assigned = by_handle_
                   .emplace(std::pair{message.rkt, message.partition},
                            Assigned{task->second.get(), &offset->first.first, &offset->second,
                                     check ? partitions->second : 0})
                   .first;
  }
  const RecordMetadata where{
      .topic = *assigned->second.topic, .partition = message.partition, .offset = message.offset};
  const RawRecord raw = ToRawRecord(message);
  const std::optional<int32_t> expected = Misplaced(assigned->second, raw, where, now_ms);
  if (expected.has_value() && config_.misplaced_records == MisplacedRecords::kDeadLetter) {
    *assigned->second.next_offset = where.offset + 1;
    ++processed_;
    producer_->SendDeadLetter(raw, where, "MisplacedKey",
                              absl::StrCat("Kafka's default partitioner (murmur2) puts the key in "
                                           "partition ", *expected, " of ",
                                           assigned->second.partitions));
    return Fatal();
  }
  absl::Status status = assigned->second.task->Process(raw, where, now_ms);
  *assigned->second.next_offset = where.offset + 1;
  ++processed_;
  if (const absl::Status& failure = assigned->second.task->failure(); !failure.ok()) {
    return absl::Status(failure.code(),
                        absl::StrCat("task ", assigned->second.task->id().ToString(), " stopped at ",
                                     where.topic, "-", where.partition, "@", where.offset, ": ",
                                     failure.message()));
  }
  if (status.ok()) return absl::OkStatus();
  ++deserialization_errors_;
  const std::string at = absl::StrCat(where.topic, "-", where.partition, "@", where.offset);
  if (config_.deserialization_exception_handler == DeserializationHandler::kLogAndFail) {
    return absl::InvalidArgumentError(
        absl::StrCat("cannot deserialize record ", at, ": ", status.message(),
                     " (default.deserialization.exception.handler: log_and_fail)"));
  }
  spdlog::warn("{}: skipping record {} that does not deserialize: {}", name_, at, status.message());
  producer_->SendDeadLetter(raw, where, "DeserializationException", status.message());
  return Fatal();
}

std::optional<int32_t> StreamThread::Misplaced(const Assigned& assigned, const RawRecord& raw,
                                               const RecordMetadata& where, int64_t now_ms) {
  if (assigned.partitions == 0 || !raw.key.has_value()) return std::nullopt;
  const int32_t expected = PartitionForKey(*raw.key, assigned.partitions);
  if (expected == where.partition) return std::nullopt;
  assigned.task->CountMisplaced(config_.misplaced_records == MisplacedRecords::kDeadLetter);
  if (now_ms < next_misplaced_log_ms_) {
    ++unlogged_misplaced_;
    return expected;
  }
  next_misplaced_log_ms_ = now_ms + 60'000;
  spdlog::warn(
      "{}: record {}-{}@{} is in the wrong partition: Kafka's default partitioner (murmur2) puts "
      "its key in partition {}; {}{} (is the producer using another partitioner?)",
      name_, where.topic, where.partition, where.offset, expected,
      config_.misplaced_records == MisplacedRecords::kDeadLetter
          ? "sent to the dead-letter topic (misplaced.records: dead-letter)"
          : "processed here, its key's state split over tasks (misplaced.records: process)",
      unlogged_misplaced_ > 0 ? absl::StrCat("; ", unlogged_misplaced_, " more since the last "
                                             "such line")
                              : "");
  unlogged_misplaced_ = 0;
  return expected;
}

absl::Status StreamThread::Commit() {
  const auto start = SteadyClock::now();
  absl::Status status = CommitOnce();
  const auto elapsed = SteadyClock::now() - start;
  blocked_ns_ += Nanos(elapsed);
  commit_sensor_.Record(Millis(elapsed), wall_clock_());
  return status;
}

absl::Status StreamThread::CommitOnce() {
  for (auto& [id, task] : tasks_) WEIR_RETURN_IF_ERROR(task->Flush());
  const std::map<TaskId, TaskDb::Offsets> offsets_of_task = OffsetsOfTasks();
  const auto offsets_of = [&](TaskId id) -> const TaskDb::Offsets& {
    static const TaskDb::Offsets* const kNone = new TaskDb::Offsets;
    auto offsets = offsets_of_task.find(id);
    return offsets == offsets_of_task.end() ? *kNone : offsets->second;
  };
  // Changelog records, then (sealing) commit markers, made durable by the committer below.
  for (auto& [id, task] : tasks_) task->PrepareCommit(offsets_of(id));
  WEIR_RETURN_IF_ERROR(Fatal());
  next_commit_ms_ = wall_clock_() + config_.commit_interval_ms;
  PartitionList offsets(rd_kafka_topic_partition_list_new(static_cast<int>(next_offsets_.size())));
  for (const auto& [partition, offset] : next_offsets_) {
    if (offset < 0) continue;
    rd_kafka_topic_partition_list_add(offsets.get(), partition.first.c_str(), partition.second)
        ->offset = offset;
  }
  WEIR_RETURN_IF_ERROR(committer_->Commit(
      *offsets,
      {// Fatal(): a delivery failed, so nothing may be committed past it.
       .delivered = [&] { return Fatal(); },
       .seal = [&] { for (auto& [id, task] : tasks_) task->SealCommit(); },
       .write_state = [&]() -> absl::Status {
         WEIR_RETURN_IF_ERROR(Fatal());
         // Each task's state with the offsets it reflects, in one RocksDB write.
         for (auto& [id, task] : tasks_) WEIR_RETURN_IF_ERROR(task->Commit(offsets_of(id)));
         return absl::OkStatus();
       }}));
  if (spdlog::should_log(spdlog::level::debug)) {
    std::string committed;
    for (int i = 0; i < offsets->cnt; ++i) {
      absl::StrAppend(&committed, " ", offsets->elems[i].topic, "-", offsets->elems[i].partition,
                      "@", offsets->elems[i].offset);
    }
    std::string states;
    for (const auto& [id, task] : tasks_) {
      absl::StrAppend(&states, " ", id.ToString(), ":", task->commit_seq());
    }
    spdlog::debug("{}: committed{}; task commits{}", name_, committed, states);
  }
  for (auto& [partition, offset] : next_offsets_) offset = -1;
  ++commits_;
  return absl::OkStatus();
}

std::map<TaskId, TaskDb::Offsets> StreamThread::OffsetsOfTasks() const {
  std::map<TaskId, TaskDb::Offsets> offsets_of_task;
  for (const auto& [partition, offset] : next_offsets_) {
    if (offset < 0) continue;
    if (auto task = task_of_partition_.find(partition); task != task_of_partition_.end()) {
      offsets_of_task[task->second][partition] = offset;
    }
  }
  return offsets_of_task;
}

bool StreamThread::UncommittedOverLimit() {
  if (config_.statestore_uncommitted_max_bytes <= 0) return false;
  size_t bytes = 0;
  for (auto& [id, task] : tasks_) bytes += task->uncommitted_bytes();
  if (bytes <= static_cast<size_t>(config_.statestore_uncommitted_max_bytes)) return false;
  ++early_commits_;
  return true;
}

absl::Status StreamThread::CommitOrWarn() {
  absl::Status status = Commit();
  if (status.ok()) migrations_since_commit_ = 0;
  if (!absl::IsAborted(status)) return status;
  spdlog::warn("{}: {}; records since the last commit will be processed again", name_,
               status.message());
  return absl::OkStatus();
}

absl::StatusOr<std::unique_ptr<Task>> StreamThread::CreateTask(
    TaskId id, const rd_kafka_topic_partition_list_t* assigned) {
  // Stateless sub-topologies need no database; without an opener stores live in memory.
  const bool stateful = hooks_.open_task_db && !subtopologies_[id.subtopology].stores.empty();
  StateUpdater* const updater = hooks_.state_updater;
  const bool from_standby = stateful && updater->ClaimForActive(id);
  auto release = absl::MakeCleanup([&] {
    if (stateful) updater->ReleaseFromActive(id);
  });
  for (int attempt = 0;; ++attempt) {
    std::unique_ptr<TaskDb> db;
    if (stateful) {
      WEIR_ASSIGN_OR_RETURN(db, hooks_.open_task_db(id));
    }
    const std::string dir = db != nullptr ? db->dir() : "";
    WEIR_ASSIGN_OR_RETURN(const bool trusted,
                          db != nullptr ? InputMatchesState(id, *db, assigned) : true);
    WEIR_ASSIGN_OR_RETURN(
        std::unique_ptr<Task> task,
        Task::Create(*topology_, subtopologies_[id.subtopology], id, config_.application_id,
                     wall_clock_, producer_.get(), std::move(db), &cache_,
                     config_.metrics_recording_level == RecordingLevel::kDebug,
                     hooks_.global_stores));
    if (dir.empty() || task->logged_stores().empty()) return task;
    if (trusted) {
      task->set_from_standby(from_standby && attempt == 0);
      WEIR_ASSIGN_OR_RETURN(ChangelogCheck check,
                            CheckChangelogs(*task, updater->offsets_client(),
                                            config_.application_id, name_));
      if (check.usable || attempt > 0) {
        if (check.truncated) {
          ++restores_truncated_;
          task->set_restore_truncated();
        }
        std::erase_if(check.tails, [](const ChangelogTail& t) { return t.from >= t.high; });
        std::move(release).Cancel();  // the task holds the state until it closes
        if (check.tails.empty()) {
          JudgeRestore(*task);
          return task;
        }
        restoring_.insert(id);
        restoring_any_ = true;  // not ready (/readyz) until every task has restored
        updater->Restore(std::move(task), std::move(check.tails),
                         [queue = consumer_queue_.get()] { rd_kafka_queue_yield(queue); });
        return nullptr;
      }
    }
    // The local state belongs to another log, or the changelog no longer holds what it needs:
    // start over from empty state and restore what exists.
    task.reset();
    WEIR_ASSIGN_OR_RETURN(const bool deleted, TaskDb::DeleteIfUnused(dir));
    if (!deleted) return absl::InternalError(absl::StrCat("cannot wipe ", dir, ": still in use"));
    ++states_wiped_;
  }
}

absl::StatusOr<bool> StreamThread::InputMatchesState(
    TaskId id, TaskDb& db, const rd_kafka_topic_partition_list_t* assigned) {
  // Local state is trusted only if it describes this log: it must not claim input beyond a
  // partition's end (a recreated topic, another cluster). CheckChangelogs checks the changelogs
  // the same way.
  const TaskDb::Offsets stored = db.StoredOffsets();
  for (int i = 0; i < assigned->cnt; ++i) {
    const rd_kafka_topic_partition_t& p = assigned->elems[i];
    auto offset = stored.find({p.topic, p.partition});
    if (offset == stored.end()) continue;  // another task's partition, or nothing stored
    int64_t low = 0;
    int64_t high = 0;
    WEIR_RETURN_IF_ERROR(QueryWatermarks(hooks_.state_updater->offsets_client(), p.topic,
                                         p.partition, &low, &high, kQueryTimeoutMs));
    if (offset->second > high) {
      spdlog::error(
          "{}: task {}: the state reflects {}-{} up to offset {} but the partition ends at {}: "
          "the local state belongs to another log; wiping {} and starting the task from empty "
          "state",
          name_, id.ToString(), p.topic, p.partition, offset->second, high, db.dir());
      return false;
    }
  }
  return true;
}

void StreamThread::JudgeRestore(const Task& task) {
  const std::string lost = task.LostState();
  if (lost.empty()) return;
  ++restores_lost_state_;
  spdlog::error("{}: task {}: broker retention deleted changelog records this restore needed "
                "({}); the restored state lacks them (weir_thread_restores_lost_state_total; "
                "docs/runbook.md, \"State lost to changelog retention\")",
                name_, task.id().ToString(), lost);
}

absl::Status StreamThread::ResumeRestored() {
  if (!unseeked_.empty()) {
    // Partitions a rebalance in progress kept from being seeked: seek them now if they are
    // still assigned (a revocation since took the others).
    std::map<std::pair<std::string, int32_t>, int64_t> retry = std::exchange(unseeked_, {});
    std::erase_if(retry,
                  [&](const auto& entry) { return !task_of_partition_.contains(entry.first); });
    WEIR_RETURN_IF_ERROR(SeekAndResume(retry, {}));
  }
  for (StateUpdater::Returned& restored : hooks_.state_updater->TakeRestored(restoring_)) {
    const TaskId id = restored.task->id();
    restoring_.erase(id);
    restoring_any_ = !restoring_.empty();
    records_restored_ += restored.records_restored;
    if (!restored.status.ok()) {
      CloseTask(std::move(restored.task));
      return absl::Status(restored.status.code(),
                          absl::StrCat("restoring task ", id.ToString(), ": ",
                                       restored.status.message()));
    }
    JudgeRestore(*restored.task);
    // Resume the task's input where the restored state stands.
    Task& task = *tasks_.emplace(id, std::move(restored.task)).first->second;
    const TaskDb::Offsets stored = task.StoredOffsets();
    std::map<std::pair<std::string, int32_t>, int64_t> seek;
    std::vector<std::pair<std::string, int32_t>> unpositioned;
    for (const auto& [partition, owner] : task_of_partition_) {
      if (owner != id) continue;
      if (auto at = stored.find(partition); at != stored.end()) {
        seek[partition] = at->second;
        next_offsets_.insert_or_assign(partition, at->second);
        spdlog::info("{}: task {} resumes {}-{} at offset {} from its restored state", name_,
                     id.ToString(), partition.first, partition.second, at->second);
      } else if (auto stray = strays_.find(partition); stray != strays_.end()) {
        seek[partition] = stray->second;
        spdlog::info("{}: task {} resumes {}-{} at offset {}, the first record fetched before "
                     "its restore", name_, id.ToString(), partition.first, partition.second,
                     stray->second);
      } else {
        unpositioned.push_back(partition);
        spdlog::info("{}: task {} resumes {}-{} at the group's committed offset (restored "
                     "state holds no offset)", name_, id.ToString(), partition.first,
                     partition.second);
      }
      strays_.erase(partition);
    }
    WEIR_RETURN_IF_ERROR(SeekAndResume(seek, unpositioned));
  }
  return absl::OkStatus();
}

absl::Status StreamThread::SeekAndResume(
    const std::map<std::pair<std::string, int32_t>, int64_t>& seek,
    const std::vector<std::pair<std::string, int32_t>>& unpositioned) {
  PartitionList resume(rd_kafka_topic_partition_list_new(static_cast<int>(seek.size() + 1)));
  for (const auto& [topic, partition] : unpositioned) {
    rd_kafka_topic_partition_list_add(resume.get(), topic.c_str(), partition);
  }
  if (!seek.empty()) {
    PartitionList list(rd_kafka_topic_partition_list_new(static_cast<int>(seek.size())));
    for (const auto& [partition, offset] : seek) {
      rd_kafka_topic_partition_list_add(list.get(), partition.first.c_str(), partition.second)
          ->offset = offset;
    }
    WEIR_RETURN_IF_ERROR(KafkaStatus(rd_kafka_seek_partitions(consumer_.get(), list.get(), 10'000),
                                     "seeking to the restored state's offsets"));
    for (int i = 0; i < list->cnt; ++i) {
      const rd_kafka_topic_partition_t& p = list->elems[i];
      if (p.err == RD_KAFKA_RESP_ERR__STATE) {
        // A rebalance is under way. The partition stays paused: resumed unseeked, it would
        // fetch from the group's committed offset, which may lie behind the restored state
        // (a crash between the changelog and the group commit), and records the state
        // already holds would be applied twice. Retried on the next iteration if the
        // partition is still assigned then; whoever gets it otherwise resumes from the
        // task's state, as an assignment always does.
        spdlog::info("{}: {}-{} is being rebalanced; not seeking it yet", name_, p.topic,
                     p.partition);
        unseeked_[{p.topic, p.partition}] = p.offset;
        continue;
      }
      WEIR_RETURN_IF_ERROR(KafkaStatus(p.err, "seeking a restored partition"));
      rd_kafka_topic_partition_list_add(resume.get(), p.topic, p.partition);
    }
  }
  if (paused_for_disk_ || resume->cnt == 0) return absl::OkStatus();
  return KafkaStatus(rd_kafka_resume_partitions(consumer_.get(), resume.get()),
                     "resuming a restored task's partitions");
}

void StreamThread::CloseTask(std::unique_ptr<Task> task) {
  const TaskId id = task->id();
  task->Close();
  closed_dropped_ += task->counters().dropped;
  closed_late_ += task->counters().late;
  closed_punctuations_ += task->counters().punctuations;
  ++tasks_closed_;
  task_closed_sensor_.Record(1, wall_clock_());
  spdlog::info("{}: task {} closed", name_, id.ToString());
  task.reset();  // closes its RocksDB instance
  if (hooks_.state_updater != nullptr) hooks_.state_updater->ReleaseFromActive(id);
}

void StreamThread::CloseAllTasks() {
  std::set<TaskId> all(restoring_.begin(), restoring_.end());
  for (const auto& [id, task] : tasks_) all.insert(id);
  task_of_partition_.clear();
  CloseUnassignedTasks(all);
  next_offsets_.clear();
  unseeked_.clear();
  strays_.clear();
  by_handle_.clear();
}

std::shared_ptr<LeaveBarrier> StreamThread::TakeLeaveBarrier() {
  absl::MutexLock lock(&mutex_);
  return std::move(leave_barrier_);
}

int StreamThread::StatisticsCallback(rd_kafka_t* rk, char* json, size_t json_len, void* opaque) {
  static_cast<StreamThread*>(opaque)->OnStatistics(rk, absl::string_view(json, json_len));
  return 0;  // librdkafka frees `json`
}

void StreamThread::OnStatistics(rd_kafka_t* rk, absl::string_view json) {
  absl::StatusOr<KafkaClientStats> stats = ParseKafkaStatistics(json);
  if (!stats.ok()) {
    spdlog::warn("{}: {}", name_, stats.status().message());
    return;
  }
  stats->received_ms = wall_clock_();
  absl::MutexLock lock(&mutex_);
  (rd_kafka_type(rk) == RD_KAFKA_CONSUMER ? published_.consumer_stats
                                          : published_.producer_stats) = *std::move(stats);
}

void StreamThread::PublishMetrics(bool force) {
  const int64_t now = wall_clock_();
  if (!force && now < next_metrics_ms_) return;
  next_metrics_ms_ = now + 1'000;
  std::vector<TaskMetrics> tasks;
  tasks.reserve(tasks_.size() + restoring_.size());
  std::erase_if(ticker_sensors_, [&](const auto& entry) { return !tasks_.contains(entry.first); });
  for (const auto& [id, task] : tasks_) {
    TaskMetrics& m = tasks.emplace_back(task->Metrics(now, /*with_rocksdb=*/true));
    if (!m.rocksdb.has_value() || !m.rocksdb->tickers_enabled) continue;
    const RocksDbTickers& t = m.rocksdb->tickers;
    const bool first = !ticker_sensors_.contains(id);
    TickerSensors& sensors = ticker_sensors_[id];
    const std::pair<const char*, int64_t RocksDbTickers::*> growing[] = {
        {"bytes_written", &RocksDbTickers::bytes_written},
        {"bytes_read", &RocksDbTickers::bytes_read},
        {"memtable_bytes_flushed", &RocksDbTickers::memtable_bytes_flushed},
        {"compaction_bytes_read", &RocksDbTickers::compaction_bytes_read},
        {"compaction_bytes_written", &RocksDbTickers::compaction_bytes_written},
        {"write_stall", &RocksDbTickers::stall_micros}};
    for (const auto& [name, field] : growing) {
      Sensor& sensor = sensors.growth[name];
      if (!first) sensor.Record(static_cast<double>(t.*field - sensors.last.*field), now);
      m.rocksdb_rates[name] = sensor.Read(now);
    }
    sensors.last = t;
  }
  if (!restoring_.empty()) {  // restoration progress, from the state updater
    for (TaskMetrics& m : hooks_.state_updater->RestoringMetrics(restoring_, now)) {
      tasks.push_back(std::move(m));
    }
  }
  absl::MutexLock lock(&mutex_);
  published_.task_metrics = std::move(tasks);
}

std::string StreamThread::ReadMemberId() {
  char* member_id = rd_kafka_memberid(consumer_.get());
  std::string member = member_id != nullptr ? member_id : "";
  if (member_id != nullptr) rd_kafka_mem_free(consumer_.get(), member_id);
  return member;
}

void StreamThread::PublishTasks(std::optional<std::string> member) {
  std::vector<TaskId> ids(restoring_.begin(), restoring_.end());
  int64_t dropped = closed_dropped_;
  int64_t late = closed_late_;
  int64_t punctuations = closed_punctuations_;
  for (const auto& [id, task] : tasks_) {
    ids.push_back(id);
    dropped += task->counters().dropped;
    late += task->counters().late;
    punctuations += task->counters().punctuations;
  }
  std::sort(ids.begin(), ids.end());
  absl::MutexLock lock(&mutex_);
  if (member.has_value() && *member != published_.member_id) {
    spdlog::info("{}: group member id {} (was {})", name_, *member,
                 published_.member_id.empty() ? "none" : published_.member_id);
    published_.member_id = *member;
  }
  published_.tasks = std::move(ids);
  published_.dropped = dropped;
  published_.late = late;
  published_.punctuations = punctuations;
  published_.cache_hits = cache_.hits();
  published_.cache_misses = cache_.misses();
  published_.cache_evictions = cache_.evictions();
  published_.cache_bytes = cache_.size_bytes();
}

ThreadSnapshot StreamThread::snapshot() const {
  ThreadSnapshot s{.name = name_,
                   .state = state_,
                   .processed = processed_,
                   .deserialization_errors = deserialization_errors_,
                   .commits = commits_,
                   .tasks_created = tasks_created_,
                   .tasks_closed = tasks_closed_,
                   .states_wiped = states_wiped_,
                   .records_restored = records_restored_,
                   .restores_truncated = restores_truncated_,
                   .restores_lost_state = restores_lost_state_,
                   .tasks_migrated = tasks_migrated_,
                   .assignments_lost = assignments_lost_};
  absl::MutexLock lock(&mutex_);
  s.dead_letters = earlier_dead_letters_ + (producer_ ? producer_->dead_letters() : 0);
  s.production_errors =
      earlier_production_errors_ + (producer_ ? producer_->production_errors() : 0);
  s.tasks = published_.tasks;
  s.member_id = published_.member_id;
  s.dropped = published_.dropped;
  s.late = published_.late;
  s.punctuations = published_.punctuations;
  s.cache_hits = published_.cache_hits;
  s.cache_misses = published_.cache_misses;
  s.cache_evictions = published_.cache_evictions;
  s.cache_bytes = published_.cache_bytes;
  s.assigned = assigned_;
  s.early_commits = early_commits_;
  s.restoring = restoring_any_;
  s.paused_for_disk = paused_for_disk_;
  s.state_dir_free_bytes = state_dir_free_bytes_;
  const int64_t now = wall_clock_();
  ThreadMetrics& m = s.metrics;
  m.process = process_sensor_.Read(now);
  m.process_latency = process_latency_sensor_.Read(now);
  m.poll = poll_sensor_.Read(now);
  m.poll_records = poll_records_sensor_.Read(now);
  m.commit = commit_sensor_.Read(now);
  m.punctuate = punctuate_sensor_.Read(now);
  m.task_created = task_created_sensor_.Read(now);
  m.task_closed = task_closed_sensor_.Read(now);
  m.blocked_time_ns_total = static_cast<double>(blocked_ns_.load());
  m.tasks = published_.task_metrics;
  m.consumer = published_.consumer_stats;
  m.producer = published_.producer_stats;
  return s;
}

}  // namespace weir::internal
