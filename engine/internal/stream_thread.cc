#include "engine/internal/stream_thread.h"

#include <algorithm>
#include <chrono>
#include <thread>
#include <filesystem>
#include <limits>
#include <set>
#include <string_view>
#include <utility>

#include "absl/cleanup/cleanup.h"
#include "absl/strings/numbers.h"
#include "absl/strings/str_cat.h"
#include "absl/strings/str_join.h"
#include "common/logging.h"
#include "common/status.h"
#include "engine/dead_letter.h"
#include "engine/internal/changelog_reader.h"
#include "engine/kafka_status.h"
#include "engine/topic_admin.h"
#include "engine/topic_name.h"

namespace weir::internal {
namespace {

constexpr int kFlushTimeoutMs = 60'000;
constexpr int kCommitTimeoutMs = 60'000;
// Changelog records restored per RocksDB write.
constexpr int64_t kRestoreBatchRecords = 10'000;

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

absl::Status TxnStatus(rd_kafka_error_t* error, absl::string_view context) {
  if (error == nullptr) return absl::OkStatus();
  const std::string message = absl::StrCat(context, ": ", rd_kafka_error_string(error));
  const bool retriable = rd_kafka_error_is_retriable(error);
  rd_kafka_error_destroy(error);
  return retriable ? absl::UnavailableError(message) : absl::InternalError(message);
}

}  // namespace

absl::StatusOr<std::unique_ptr<StreamThread>> StreamThread::Create(
    const AppConfig& config, std::shared_ptr<const Topology> topology, std::string thread_name,
    std::function<int64_t()> wall_clock, StreamThreadHooks hooks) {
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
      exactly_once_(config.processing_guarantee == ProcessingGuarantee::kExactlyOnceV2),
      cache_(config.statestore_cache_max_bytes) {}

StreamThread::~StreamThread() {
  RequestStop();
  Join();
}

absl::Status StreamThread::Init() {
  for (const Topology::Subtopology& sub : subtopologies_) {
    for (int node : sub.nodes) {
      const Topology::NodeSpec& spec = topology_->nodes()[node];
      if (spec.kind != Topology::NodeKind::kSource) continue;
      for (const std::string& topic : spec.topics) {
        subtopology_of_topic_[spec.internal_topics
                                  ? absl::StrCat(config_.application_id, "-", topic)
                                  : topic] = sub.id;
      }
    }
  }

  // A sub-topology that reads several topics needs partition p of each on one member (its task
  // 0_p reads them all): only `range` promises that, so other assignors are refused for it.
  std::map<int32_t, std::vector<std::string>> topics_of_subtopology;
  for (const auto& [topic, sub] : subtopology_of_topic_)
    topics_of_subtopology[sub].push_back(topic);
  std::string co_partitioned;
  for (const auto& [sub, topics] : topics_of_subtopology) {
    if (topics.size() > 1 && co_partitioned.empty()) {
      co_partitioned =
          absl::StrCat("sub-topology ", sub, " reads ", absl::StrJoin(topics, " and "));
    }
  }

  // Defaults first, then the user's properties, which win.
  ClientProperties consumer_properties{.bootstrap_servers = config_.bootstrap_servers};
  consumer_properties.common = {
      {"group.id", config_.application_id},
      {"client.id", absl::StrCat(name_, "-consumer")},
      {"enable.auto.commit", "false"},
      {"enable.auto.offset.store", "false"},
      {"auto.offset.reset", "earliest"},
      {"partition.assignment.strategy", "range"},
      {"isolation.level", exactly_once_ ? "read_committed" : "read_uncommitted"},
      // Client statistics (lag, bytes, latency) for the metrics; 0 turns them off.
      {"statistics.interval.ms", "5000"}};
  if (!hooks_.group_instance_id.empty()) {
    consumer_properties.common["group.instance.id"] = hooks_.group_instance_id;
  }
  for (const auto& [k, v] : config_.kafka) consumer_properties.common[k] = v;
  consumer_properties.specific = config_.consumer;
  auto strategy = consumer_properties.specific.find("partition.assignment.strategy");
  if (strategy == consumer_properties.specific.end()) {
    strategy = consumer_properties.common.find("partition.assignment.strategy");  // the default
  }
  if (!co_partitioned.empty() && strategy->second != "range") {
    return absl::InvalidArgumentError(absl::StrCat(
        "partition.assignment.strategy: ", strategy->second, " may give one task's partitions ",
        "to different members, but ", co_partitioned, "; use range"));
  }
  WEIR_ASSIGN_OR_RETURN(KafkaConf consumer_conf,
                        BuildKafkaConf(consumer_properties, ClientKind::kConsumer));
  rd_kafka_conf_set_rebalance_cb(consumer_conf.get(), &StreamThread::RebalanceCallback);
  rebalance_watch_ = std::make_unique<RebalanceWatch>(
      name_, MaxPollIntervalMs(consumer_conf.get()),
      [] {
        return std::chrono::duration_cast<std::chrono::milliseconds>(
                   SteadyClock::now().time_since_epoch())
            .count();
      });
  rebalance_watch_->Intercept(consumer_conf.get());
  rd_kafka_conf_set_stats_cb(consumer_conf.get(), &StreamThread::StatisticsCallback);
  rd_kafka_conf_set_opaque(consumer_conf.get(), this);
  if (hooks_.configure_client) hooks_.configure_client(consumer_conf.get(), ClientKind::kConsumer);
  WEIR_ASSIGN_OR_RETURN(consumer_, NewKafkaClient(std::move(consumer_conf), ClientKind::kConsumer));
  rd_kafka_poll_set_consumer(consumer_.get());
  consumer_queue_.reset(rd_kafka_queue_get_consumer(consumer_.get()));
  batch_.resize(static_cast<size_t>(config_.max_poll_records));

  ClientProperties producer_properties{.bootstrap_servers = config_.bootstrap_servers};
  producer_properties.common = {{"client.id", absl::StrCat(name_, "-producer")},
                                {"partitioner", "murmur2_random"},
                                {"enable.idempotence", "true"},
                                // Kafka Streams overrides the producer default the same way.
                                {"linger.ms", "100"},
                                {"statistics.interval.ms", "5000"}};
  if (exactly_once_) {
    producer_properties.common["transactional.id"] =
        hooks_.transactional_id.empty() ? absl::StrCat(config_.application_id, "-", name_)
                                        : hooks_.transactional_id;
    // Kafka Streams' exactly-once default: a transaction a crashed instance left open (one a
    // restart cannot fence, its state directory gone with its instance id) holds
    // read_committed readers back for at most 10 s, not librdkafka's 60.
    producer_properties.common["transaction.timeout.ms"] = "10000";
  }
  for (const auto& [k, v] : config_.kafka) producer_properties.common[k] = v;
  producer_properties.specific = config_.producer;
  WEIR_ASSIGN_OR_RETURN(KafkaConf producer_conf,
                        BuildKafkaConf(producer_properties, ClientKind::kProducer));
  rd_kafka_conf_set_dr_msg_cb(producer_conf.get(), &StreamThread::DeliveryCallback);
  rd_kafka_conf_set_stats_cb(producer_conf.get(), &StreamThread::StatisticsCallback);
  rd_kafka_conf_set_opaque(producer_conf.get(), this);
  if (hooks_.configure_client) hooks_.configure_client(producer_conf.get(), ClientKind::kProducer);
  WEIR_ASSIGN_OR_RETURN(producer_, NewKafkaClient(std::move(producer_conf), ClientKind::kProducer));
  // Ask for the leaders of every topic this thread writes now, not on its first commit: there,
  // the first produce to each changelog waited for metadata, stalling the thread 0.5-0.7 s
  // (`weir bench load`'s first commit). rd_kafka_topic_new queries an unknown topic's leader.
  std::set<std::string> outputs;
  for (const Topology::NodeSpec& spec : topology_->nodes()) {
    if (spec.kind != Topology::NodeKind::kSink) continue;
    outputs.insert(spec.internal_topics ? absl::StrCat(config_.application_id, "-", spec.topics[0])
                                        : spec.topics[0]);
  }
  if (hooks_.open_task_db) {
    for (const Topology::StoreSpec& store : topology_->stores()) {
      outputs.insert(ChangelogTopic(config_.application_id, store.name));
    }
  }
  for (const std::string& topic : outputs) {
    output_topics_.emplace_back(rd_kafka_topic_new(producer_.get(), topic.c_str(), nullptr));
  }
  char max_bytes[32];
  size_t max_bytes_size = sizeof(max_bytes);
  size_t parsed = 0;
  if (rd_kafka_conf_get(rd_kafka_conf(producer_.get()), "message.max.bytes", max_bytes,
                        &max_bytes_size) == RD_KAFKA_CONF_OK &&
      absl::SimpleAtoi(max_bytes, &parsed)) {
    max_message_bytes_ = parsed;
  }
  return absl::OkStatus();
}

ssize_t StreamThread::PollBatch(int timeout_ms) {
  // rd_kafka_consume_batch_queue returns only when the batch is full or the timeout is up, so
  // at any rate below max.poll.records per poll.ms every record would wait out poll.ms. Like
  // Kafka's poll(), wait for the first record only, then take what has already arrived.
  ssize_t count =
      rd_kafka_consume_batch_queue(consumer_queue_.get(), 0, batch_.data(), batch_.size());
  if (count != 0 || timeout_ms == 0) return count;
  count = rd_kafka_consume_batch_queue(consumer_queue_.get(), timeout_ms, batch_.data(), 1);
  if (count != 1 || batch_.size() == 1) return count;
  const ssize_t more =
      rd_kafka_consume_batch_queue(consumer_queue_.get(), 0, batch_.data() + 1, batch_.size() - 1);
  return more > 0 ? 1 + more : 1;
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
  if (!status.ok()) {
    // Leave the group without committing: what is in flight is reprocessed by the next owner.
    if (std::shared_ptr<LeaveBarrier> barrier = TakeLeaveBarrier()) barrier->Arrive();
    if (fatal_.ok()) fatal_ = status;  // so the revocation below does not commit
    if (in_transaction_) {
      TxnStatus(rd_kafka_abort_transaction(producer_.get(), kCommitTimeoutMs), "aborting")
          .IgnoreError();
      in_transaction_ = false;
    }
    CloseAllTasks();
    rd_kafka_consumer_close(consumer_.get());
    Die(std::move(status));
    return;
  }
  state_ = ThreadState::kStopped;
  spdlog::info("{}: stopped", name_);
}

absl::Status StreamThread::RunLoop() {
  if (exactly_once_) {
    WEIR_RETURN_IF_ERROR(TxnStatus(rd_kafka_init_transactions(producer_.get(), kCommitTimeoutMs),
                                   "initialising transactions"));
  }
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
    // Restoration runs here, in slices between batches, not in the rebalance callback: the
    // group is not held up, and the thread's other tasks keep processing meanwhile.
    if (!restoring_tasks_.empty()) WEIR_RETURN_IF_ERROR(RestoreStep());
    // One batch per iteration; polling the consumer queue also serves the rebalance callback.
    const auto poll_start = SteadyClock::now();
    const ssize_t count =
        PollBatch(restoring_tasks_.empty() ? static_cast<int>(config_.poll_ms) : 0);
    const auto poll_end = SteadyClock::now();
    const int64_t now_ms = wall_clock_();
    poll_sensor_.Record(Millis(poll_end - poll_start), now_ms);
    blocked_ns_ += Nanos(poll_end - poll_start);
    if (count > 0) poll_records_sensor_.Record(static_cast<double>(count), now_ms);
    absl::Status status;
    for (ssize_t i = 0; i < count; ++i) {
      if (status.ok()) status = ProcessMessage(*batch_[i], now_ms);
      if (status.ok()) status = fatal_;
      rd_kafka_message_destroy(batch_[i]);  // every message, even after a failure
    }
    WEIR_RETURN_IF_ERROR(status);
    if (count > 0) {  // Kafka Streams records process-rate and -latency per loop iteration
      process_sensor_.Record(static_cast<double>(count), now_ms);
      process_latency_sensor_.Record(Millis(SteadyClock::now() - poll_end) / count, now_ms);
    }
    rd_kafka_poll(producer_.get(), 0);  // delivery reports
    WEIR_RETURN_IF_ERROR(fatal_);
    const auto punctuate_start = SteadyClock::now();
    const int64_t punctuate_ms = wall_clock_();  // once for every task, after the batch
    int punctuated = 0;
    for (auto& [id, task] : tasks_) {
      if (restoring_tasks_.contains(id)) continue;  // its state is not complete yet
      punctuated += task->PunctuateWallClock(punctuate_ms);
    }
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
  }
  state_ = ThreadState::kPendingShutdown;
  spdlog::info("{}: shutting down: committing and leaving the group", name_);
  absl::Status committed = CommitOrWarn();
  if (std::shared_ptr<LeaveBarrier> barrier = TakeLeaveBarrier()) {
    barrier->ArriveAndWait(absl::Seconds(30));
  }
  WEIR_RETURN_IF_ERROR(committed);
  // Closing the consumer revokes the assignment (OnRevoke closes the tasks) and leaves the group.
  WEIR_RETURN_IF_ERROR(KafkaStatus(rd_kafka_consumer_close(consumer_.get()), "leaving the group"));
  WEIR_RETURN_IF_ERROR(fatal_);
  CloseAllTasks();
  PublishTasks(/*member_id=*/"");  // out of the group
  return absl::OkStatus();
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
    auto task = task_of_partition_.find({topic, message.partition});
    if (task == task_of_partition_.end()) {
      return absl::InternalError(
          absl::StrCat("record from unassigned partition ", topic, "-", message.partition));
    }
    auto offset = next_offsets_.find({topic, message.partition});
    assigned = by_handle_
                   .emplace(std::pair{message.rkt, message.partition},
                            Assigned{task->second, &offset->first.first, &offset->second})
                   .first;
  }
  const RecordMetadata where{
      .topic = *assigned->second.topic, .partition = message.partition, .offset = message.offset};
  const RawRecord raw = ToRawRecord(message);
  absl::Status status = assigned->second.task->Process(raw, where, now_ms);
  *assigned->second.next_offset = where.offset + 1;
  ++processed_;
  if (status.ok()) return absl::OkStatus();
  ++deserialization_errors_;
  const std::string at = absl::StrCat(where.topic, "-", where.partition, "@", where.offset);
  if (config_.deserialization_exception_handler == DeserializationHandler::kLogAndFail) {
    return absl::InvalidArgumentError(
        absl::StrCat("cannot deserialize record ", at, ": ", status.message(),
                     " (default.deserialization.exception.handler: log_and_fail)"));
  }
  spdlog::warn("{}: skipping record {} that does not deserialize: {}", name_, at, status.message());
  return SendToDeadLetterQueue(raw, where, status);
}

absl::Status StreamThread::SendToDeadLetterQueue(const RawRecord& raw, const RecordMetadata& where,
                                                 const absl::Status& why) {
  if (config_.dead_letter_queue_topic.empty()) return absl::OkStatus();
  RawRecord dead = raw;
  dead.headers =
      DeadLetterHeaders(std::move(dead.headers), "DeserializationException", why.message(), where);
  Send(config_.dead_letter_queue_topic, std::move(dead));
  return fatal_;
}

void StreamThread::Send(const std::string& topic, RawRecord record) {
  if (IsDeadLetter(record.headers)) {
    ++dead_letters_;
    const bool truncated = TruncateToFit(record, max_message_bytes_);
    LogDeadLetter(topic, record, truncated);
  }
  Produce(topic, RD_KAFKA_PARTITION_UA, std::move(record), nullptr);
}

void StreamThread::LogDeadLetter(const std::string& topic, const RawRecord& record,
                                 bool truncated) {
  const auto now = SteadyClock::now();
  if (now < next_dead_letter_log_) {
    ++unlogged_dead_letters_;
    return;
  }
  next_dead_letter_log_ = now + std::chrono::seconds(1);
  const auto header = [&](const char* key) {
    return HeaderValue(record.headers, key).value_or("?");
  };
  std::string also;
  if (unlogged_dead_letters_ > 0) {
    also = absl::StrCat(" (", unlogged_dead_letters_, " more since the last one logged)");
    unlogged_dead_letters_ = 0;
  }
  spdlog::warn(
      "{}: dead letter to {}: record {}-{}@{}: {}{}{}", name_, topic, header(kErrorTopicHeader),
      header(kErrorPartitionHeader), header(kErrorOffsetHeader), header(kErrorMessageHeader),
      truncated ? absl::StrCat(" (value of ", header(kOriginalValueSizeHeader), " bytes cut to ",
                               record.value->size(), " to fit message.max.bytes)")
                : "",
      also);
}

const int64_t* StreamThread::SendToPartition(const std::string& topic, int32_t partition,
                                             RawRecord record) {
  int64_t& end = changelog_ends_.try_emplace({topic, partition}, -1).first->second;
  Produce(topic, partition, std::move(record), &end);
  return &end;
}

void StreamThread::Produce(const std::string& topic, int32_t partition, RawRecord record,
                           int64_t* delivered_end) {
  if (exactly_once_ && !in_transaction_) {
    absl::Status begun = TxnStatus(rd_kafka_begin_transaction(producer_.get()), "beginning");
    if (!begun.ok()) {
      if (fatal_.ok()) fatal_ = begun;
      return;
    }
    in_transaction_ = true;
  }
  rd_kafka_headers_t* headers =
      record.headers.empty() ? nullptr : rd_kafka_headers_new(record.headers.size());
  for (const Header& h : record.headers) {
    rd_kafka_header_add(headers, h.key.data(), static_cast<ssize_t>(h.key.size()),
                        h.value ? h.value->data() : nullptr,
                        h.value ? static_cast<ssize_t>(h.value->size()) : 0);
  }
  const void* key = record.key ? record.key->data() : nullptr;
  const size_t key_size = record.key ? record.key->size() : 0;
  void* value = record.value ? record.value->data() : nullptr;
  const size_t value_size = record.value ? record.value->size() : 0;
  while (true) {
    const rd_kafka_resp_err_t err = rd_kafka_producev(
        producer_.get(), RD_KAFKA_V_TOPIC(topic.c_str()), RD_KAFKA_V_PARTITION(partition),
        RD_KAFKA_V_MSGFLAGS(RD_KAFKA_MSG_F_COPY), RD_KAFKA_V_OPAQUE(delivered_end),
        RD_KAFKA_V_KEY(key, key_size), RD_KAFKA_V_VALUE(value, value_size),
        RD_KAFKA_V_TIMESTAMP(record.timestamp), RD_KAFKA_V_HEADERS(headers), RD_KAFKA_V_END);
    if (err == RD_KAFKA_RESP_ERR_NO_ERROR) return;  // the producer owns the headers now
    if (err == RD_KAFKA_RESP_ERR__QUEUE_FULL) {
      rd_kafka_poll(producer_.get(), 10);  // wait for deliveries to make room
      continue;
    }
    if (headers != nullptr) rd_kafka_headers_destroy(headers);
    ++production_errors_;
    // A changelog record that cannot be sent would corrupt restoration: fatal whatever the
    // handler says. Any other record follows default.production.exception.handler.
    if (delivered_end == nullptr &&
        config_.production_exception_handler == ProductionHandler::kContinue) {
      spdlog::warn(
          "{}: skipping a record for {}: {} (default.production.exception.handler: "
          "continue)",
          name_, topic, rd_kafka_err2str(err));
      return;
    }
    if (fatal_.ok()) {
      fatal_ = KafkaStatus(
          err, absl::StrCat("producing to ", topic, " (", value_size, " bytes of value)"));
    }
    return;
  }
}

void StreamThread::DeliveryCallback(rd_kafka_t*, const rd_kafka_message_t* message, void* opaque) {
  if (message->err == RD_KAFKA_RESP_ERR_NO_ERROR) {
    if (auto* end = static_cast<int64_t*>(message->_private); end != nullptr) {
      *end = std::max(*end, message->offset + 1);
    }
    return;
  }
  auto* self = static_cast<StreamThread*>(opaque);
  ++self->production_errors_;
  const std::string what = absl::StrCat("delivery to ", rd_kafka_topic_name(message->rkt),
                                        " failed after retries: ", rd_kafka_err2str(message->err));
  // A lost changelog record would corrupt restoration: that is fatal whatever the handler says.
  if (self->config_.production_exception_handler == ProductionHandler::kContinue &&
      message->_private == nullptr) {
    spdlog::warn("{}: {} (default.production.exception.handler: continue)", self->name_, what);
    return;
  }
  if (self->fatal_.ok()) self->fatal_ = absl::UnavailableError(what);
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
  // A restoring task has processed nothing and its state is written by its restoration.
  for (auto& [id, task] : tasks_) {
    if (!restoring_tasks_.contains(id)) WEIR_RETURN_IF_ERROR(task->Flush());
  }
  const std::map<internal::Task*, TaskDb::Offsets> offsets_of_task = OffsetsOfTasks();
  // Changelog records and commit markers, delivered by the flush or transaction commit below.
  for (auto& [id, task] : tasks_) {
    if (!restoring_tasks_.contains(id)) {
      task->PrepareCommit(OffsetsOf(offsets_of_task, task.get()));
    }
  }
  WEIR_RETURN_IF_ERROR(fatal_);
  next_commit_ms_ = wall_clock_() + config_.commit_interval_ms;
  PartitionList offsets(rd_kafka_topic_partition_list_new(static_cast<int>(next_offsets_.size())));
  for (const auto& [partition, offset] : next_offsets_) {
    if (offset < 0) continue;
    rd_kafka_topic_partition_list_add(offsets.get(), partition.first.c_str(), partition.second)
        ->offset = offset;
  }
  const bool any_offsets = offsets->cnt > 0;
  if (exactly_once_) {
    if (!in_transaction_ && !any_offsets) return absl::OkStatus();
    if (!in_transaction_) {
      WEIR_RETURN_IF_ERROR(TxnStatus(rd_kafka_begin_transaction(producer_.get()), "beginning"));
      in_transaction_ = true;
    }
    if (any_offsets) {
      rd_kafka_consumer_group_metadata_t* group = rd_kafka_consumer_group_metadata(consumer_.get());
      absl::Status sent = TxnStatus(rd_kafka_send_offsets_to_transaction(
                                        producer_.get(), offsets.get(), group, kCommitTimeoutMs),
                                    "sending offsets to the transaction");
      rd_kafka_consumer_group_metadata_destroy(group);
      WEIR_RETURN_IF_ERROR(sent);
    }
    WEIR_RETURN_IF_ERROR(TxnStatus(rd_kafka_commit_transaction(producer_.get(), kCommitTimeoutMs),
                                   "committing the transaction"));
    in_transaction_ = false;
    WEIR_RETURN_IF_ERROR(CommitTasks(offsets_of_task));
  } else {
    WEIR_RETURN_IF_ERROR(
        KafkaStatus(rd_kafka_flush(producer_.get(), kFlushTimeoutMs), "flushing the producer"));
    WEIR_RETURN_IF_ERROR(fatal_);  // a delivery failed: do not commit past it
    WEIR_RETURN_IF_ERROR(CommitTasks(offsets_of_task));
    if (any_offsets) {
      rd_kafka_resp_err_t err = rd_kafka_commit(consumer_.get(), offsets.get(), 0);
      // The group coordinator moved or is loading its offsets (a broker stopped or restarted):
      // retriable, as Kafka's clients treat it, until the commit timeout.
      const auto deadline =
          std::chrono::steady_clock::now() + std::chrono::milliseconds(kCommitTimeoutMs);
      while ((err == RD_KAFKA_RESP_ERR_COORDINATOR_LOAD_IN_PROGRESS ||
              err == RD_KAFKA_RESP_ERR_COORDINATOR_NOT_AVAILABLE ||
              err == RD_KAFKA_RESP_ERR_NOT_COORDINATOR) &&
             std::chrono::steady_clock::now() < deadline) {
        std::this_thread::sleep_for(std::chrono::milliseconds(100));  // retry backoff
        err = rd_kafka_commit(consumer_.get(), offsets.get(), 0);
      }
      if (err == RD_KAFKA_RESP_ERR_REBALANCE_IN_PROGRESS ||
          err == RD_KAFKA_RESP_ERR_ILLEGAL_GENERATION ||
          err == RD_KAFKA_RESP_ERR_UNKNOWN_MEMBER_ID) {
        rebalance_watch_->OnCommitRejected();
        // The group moved on: these offsets can no longer be committed by this member. Whoever
        // owns the partitions next resumes from the last commit (at-least-once duplicates).
        return absl::AbortedError(
            absl::StrCat("commit rejected by a rebalance: ", rd_kafka_err2str(err)));
      }
      WEIR_RETURN_IF_ERROR(KafkaStatus(err, "committing offsets"));
    }
  }
  for (auto& [partition, offset] : next_offsets_) offset = -1;
  ++commits_;
  return absl::OkStatus();
}

std::map<internal::Task*, TaskDb::Offsets> StreamThread::OffsetsOfTasks() const {
  std::map<internal::Task*, TaskDb::Offsets> offsets_of_task;
  for (const auto& [partition, offset] : next_offsets_) {
    if (offset < 0) continue;
    if (auto task = task_of_partition_.find(partition); task != task_of_partition_.end()) {
      offsets_of_task[task->second][partition] = offset;
    }
  }
  return offsets_of_task;
}

const TaskDb::Offsets& StreamThread::OffsetsOf(
    const std::map<internal::Task*, TaskDb::Offsets>& offsets_of_task, internal::Task* task) {
  static const TaskDb::Offsets* const kNone = new TaskDb::Offsets;
  auto offsets = offsets_of_task.find(task);
  return offsets == offsets_of_task.end() ? *kNone : offsets->second;
}

absl::Status StreamThread::CommitTasks(
    const std::map<internal::Task*, TaskDb::Offsets>& offsets_of_task) {
  for (auto& [id, task] : tasks_) {
    if (restoring_tasks_.contains(id)) continue;
    WEIR_RETURN_IF_ERROR(task->Commit(OffsetsOf(offsets_of_task, task.get())));
  }
  return absl::OkStatus();
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
  if (!absl::IsAborted(status)) return status;
  spdlog::warn("{}: {}; records since the last commit will be processed again", name_,
               status.message());
  return absl::OkStatus();
}

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
      status = cooperative ? TxnStatus(rd_kafka_incremental_assign(rk, partitions), "assigning")
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
        cooperative ? TxnStatus(rd_kafka_incremental_unassign(rk, partitions), "unassigning")
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
    auto& task = tasks_[id];
    if (task == nullptr) {
      absl::StatusOr<std::unique_ptr<internal::Task>> created = CreateTask(id, partitions);
      if (!created.ok()) {
        tasks_.erase(id);
        return created.status();
      }
      task = *std::move(created);
      ++tasks_created_;
      task_created_sensor_.Record(1, wall_clock_());
      spdlog::info("{}: task {} created", name_, id.ToString());
    }
    // Local state knows exactly which input it reflects: resume there, not at the group's
    // committed offset (which may be behind it, or ahead after a crash).
    const TaskDb::Offsets stored = task->StoredOffsets();
    int64_t resume = -1;
    if (auto at = stored.find({topic, partition}); at != stored.end()) {
      resume = at->second;
      spdlog::info("{}: task {} resumes {}-{} at offset {} from its local state", name_,
                   id.ToString(), topic, partition, resume);
    } else if (auto kept = carried.find({topic, partition}); kept != carried.end()) {
      resume = kept->second;
      spdlog::info(
          "{}: task {} resumes {}-{} at offset {}, where it was before the rejected "
          "commit",
          name_, id.ToString(), topic, partition, resume);
    }
    if (resume >= 0) partitions->elems[i].offset = resume;
    task_of_partition_[{topic, partition}] = task.get();
    if (restoring_tasks_.contains(id)) {
      // Held until its state is restored; RestoreStep() then seeks and resumes it.
      rd_kafka_topic_partition_list_add(to_pause_.get(), topic.c_str(), partition);
      resume = -1;
    } else if (resume < 0) {
      spdlog::info("{}: task {} resumes {}-{} at the group's committed offset (no local state)",
                   name_, id.ToString(), topic, partition);
    }
    // The next commit tells the group where processing stands, even if nothing new arrives
    // (the group's offset may trail it after a commit a rebalance rejected, or a crash).
    next_offsets_.insert_or_assign({topic, partition}, resume);
  }
  return absl::OkStatus();
}

absl::StatusOr<std::unique_ptr<internal::Task>> StreamThread::CreateTask(
    TaskId id, const rd_kafka_topic_partition_list_t* assigned) {
  const bool stateful = hooks_.open_task_db && !subtopologies_[id.subtopology].stores.empty();
  const bool from_standby = stateful && hooks_.claim_task && hooks_.claim_task(id);
  auto release = absl::MakeCleanup([&] {
    if (stateful && hooks_.release_task) hooks_.release_task(id);
  });
  for (int attempt = 0;; ++attempt) {
    std::unique_ptr<TaskDb> db;
    // Stateless sub-topologies need no database; without an opener stores live in memory.
    if (stateful) {
      WEIR_ASSIGN_OR_RETURN(db, hooks_.open_task_db(id));
    }
    const std::string dir = db != nullptr ? db->dir() : "";
    WEIR_ASSIGN_OR_RETURN(const bool trusted,
                          db != nullptr ? InputMatchesState(id, *db, assigned) : true);
    WEIR_ASSIGN_OR_RETURN(
        std::unique_ptr<internal::Task> task,
        internal::Task::Create(*topology_, subtopologies_[id.subtopology], id,
                               config_.application_id, wall_clock_,
                               static_cast<internal::RecordCollector*>(this), std::move(db),
                               &cache_, config_.metrics_recording_level == RecordingLevel::kDebug));
    if (dir.empty()) return task;
    if (trusted) {
      task->set_from_standby(from_standby && attempt == 0);
      WEIR_ASSIGN_OR_RETURN(const bool complete, BeginRestore(*task, attempt > 0));
      if (complete || attempt > 0) {
        std::move(release).Cancel();  // the task holds the state until it closes
        return task;
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

absl::StatusOr<rd_kafka_t*> StreamThread::OffsetsClient() {
  if (offsets_client_ == nullptr) {
    WEIR_ASSIGN_OR_RETURN(offsets_client_,
                          internal::NewOffsetsClient(config_, name_ + "-offsets"));
  }
  return offsets_client_.get();
}

absl::StatusOr<bool> StreamThread::BeginRestore(internal::Task& task, bool wiped) {
  if (task.logged_stores().empty()) return true;
  WEIR_ASSIGN_OR_RETURN(rd_kafka_t* const offsets, OffsetsClient());
  WEIR_ASSIGN_OR_RETURN(
      internal::ChangelogCheck check,
      internal::CheckChangelogs(task, offsets, config_.application_id, name_));
  if (!check.usable && !wiped) return false;
  if (check.truncated) ++restores_truncated_;
  Restoration restoration{.task = &task};
  for (internal::ChangelogTail& tail : check.tails) {
    if (tail.from >= tail.high) continue;
    restoration.remaining += tail.high - tail.from;
    restoration.tails.push_back(std::move(tail));
  }
  if (restoration.tails.empty()) return true;
  spdlog::info("{}: task {}: restoring {} changelog records", name_, task.id().ToString(),
               restoration.remaining);
  task.SetRestoreProgress(0, restoration.remaining);
  restoration.applier = std::make_unique<internal::ChangelogApplier>(task);
  restoring_tasks_[task.id()] = std::move(restoration);
  restore_assignment_stale_ = true;
  restoring_ = true;  // not ready (/readyz) until every task has restored
  return true;
}

absl::Status StreamThread::RestoreStep() {
  const auto start = SteadyClock::now();
  auto blocked = absl::MakeCleanup([&] { blocked_ns_ += Nanos(SteadyClock::now() - start); });
  if (restore_consumer_ == nullptr) {
    WEIR_ASSIGN_OR_RETURN(restore_consumer_,
                          internal::NewChangelogConsumer(config_, name_ + "-restore-consumer"));
  }
  if (std::exchange(restore_assignment_stale_, false)) {
    // (Re)reading starts where each state stands: what was read and not applied is read again.
    restore_reading_.clear();
    PartitionList assignment(rd_kafka_topic_partition_list_new(4));
    for (auto& [id, restoration] : restoring_tasks_) {
      if (hooks_.on_restore_start && !restoration.announced) {
        restoration.announced = true;
        hooks_.on_restore_start(id, restoration.remaining);
      }
      restoration.applier = std::make_unique<internal::ChangelogApplier>(*restoration.task);
      for (const internal::ChangelogTail& tail : restoration.tails) {
        if (restoration.done.contains(tail.topic)) continue;
        rd_kafka_topic_partition_list_add(assignment.get(), tail.topic.c_str(), tail.partition)
            ->offset = std::max(tail.from, restoration.task->ChangelogOffset(tail.store));
        restore_reading_[{tail.topic, tail.partition}] = {id, &tail};
      }
    }
    WEIR_RETURN_IF_ERROR(
        KafkaStatus(rd_kafka_assign(restore_consumer_.get(), assignment.get()), "restoring"));
  }
  // A slice of reading, then whole commits applied; the loop keeps processing other tasks.
  std::set<TaskId> touched;
  int64_t read = 0;
  while (read < kRestoreBatchRecords &&
         SteadyClock::now() - start < std::chrono::milliseconds(100)) {
    rd_kafka_message_t* m = rd_kafka_consumer_poll(restore_consumer_.get(), 20);
    if (m == nullptr) continue;
    auto target = m->rkt != nullptr
                      ? restore_reading_.find({rd_kafka_topic_name(m->rkt), m->partition})
                      : restore_reading_.end();
    absl::Status added;
    if (target != restore_reading_.end()) {
      auto restoration = restoring_tasks_.find(target->second.first);
      if (restoration != restoring_tasks_.end()) {
        const internal::ChangelogTail& tail = *target->second.second;
        if (m->err == RD_KAFKA_RESP_ERR_NO_ERROR) {
          added = restoration->second.applier->Add(tail.store, ToRawRecord(*m), m->offset);
          ++read;
        } else if (m->err != RD_KAFKA_RESP_ERR__PARTITION_EOF) {
          spdlog::warn("{}: restore consumer: {}", name_, rd_kafka_message_errstr(m));
        } else if (m->offset < tail.high && restoration->second.held.insert(tail.topic).second) {
          spdlog::info(
              "{}: task {}: changelog {}-{} is readable up to offset {} of {}: waiting for an "
              "open transaction (one a stopped instance left is aborted by the broker after "
              "transaction.timeout.ms)",
              name_, restoration->first.ToString(), tail.topic, tail.partition, m->offset,
              tail.high);
        }
        // Done at the high watermark checked at the start, not at the first end of partition:
        // under read_committed that may be a last stable offset held back by a transaction a
        // killed instance left open, with committed state beyond it.
        if ((m->err == RD_KAFKA_RESP_ERR_NO_ERROR || m->err == RD_KAFKA_RESP_ERR__PARTITION_EOF) &&
            m->offset + (m->err == RD_KAFKA_RESP_ERR_NO_ERROR ? 1 : 0) >= tail.high) {
          restoration->second.done.insert(tail.topic);
        }
        touched.insert(restoration->first);
      }
    }
    rd_kafka_message_destroy(m);
    WEIR_RETURN_IF_ERROR(added);
  }
  for (const TaskId& id : touched) {
    Restoration& restoration = restoring_tasks_.at(id);
    internal::Task& task = *restoration.task;
    WEIR_RETURN_IF_ERROR(
        restoration.applier
            ->Apply(kRestoreBatchRecords,
                    [&](int64_t records) {
                      restoration.applied += records;
                      records_restored_ += records;
                      task.SetRestoreProgress(
                          restoration.applied,
                          std::max<int64_t>(restoration.remaining - restoration.applied, 0));
                    })
            .status());
    if (restoration.done.size() < restoration.tails.size()) continue;
    WEIR_RETURN_IF_ERROR(task.FinishRestore());  // restored writes skipped the WAL
    task.SetRestoreProgress(restoration.applied, 0);
    spdlog::info("{}: task {}: restored {} records to commit {}", name_, id.ToString(),
                 restoration.applied, task.commit_seq());
    // Resume the task's input where the restored state stands.
    const TaskDb::Offsets stored = task.StoredOffsets();
    PartitionList seek(rd_kafka_topic_partition_list_new(4));
    PartitionList resume(rd_kafka_topic_partition_list_new(4));
    for (const auto& [partition, owner] : task_of_partition_) {
      if (owner != &task) continue;
      rd_kafka_topic_partition_list_add(resume.get(), partition.first.c_str(), partition.second);
      if (auto at = stored.find(partition); at != stored.end()) {
        rd_kafka_topic_partition_list_add(seek.get(), partition.first.c_str(), partition.second)
            ->offset = at->second;
        next_offsets_.insert_or_assign(partition, at->second);
        spdlog::info("{}: task {} resumes {}-{} at offset {} from its restored state", name_,
                     id.ToString(), partition.first, partition.second, at->second);
      } else {
        spdlog::info("{}: task {} resumes {}-{} at the group's committed offset (restored "
                     "state holds no offset)", name_, id.ToString(), partition.first,
                     partition.second);
      }
    }
    if (seek->cnt > 0) {
      rd_kafka_error_t* error = rd_kafka_seek_partitions(consumer_.get(), seek.get(), 10'000);
      WEIR_RETURN_IF_ERROR(TxnStatus(error, "seeking to the restored state's offsets"));
      for (int i = 0; i < seek->cnt; ++i) {
        const rd_kafka_topic_partition_t& p = seek->elems[i];
        if (p.err == RD_KAFKA_RESP_ERR__STATE) {
          // A rebalance is taking the partition away (its revocation is queued for this
          // thread's next poll); whoever gets it next resumes from the task's state, as an
          // assignment always does.
          spdlog::info("{}: task {}: {}-{} is being revoked; not seeking it", name_,
                       id.ToString(), p.topic, p.partition);
          continue;
        }
        WEIR_RETURN_IF_ERROR(KafkaStatus(p.err, "seeking a restored partition"));
      }
    }
    WEIR_RETURN_IF_ERROR(KafkaStatus(rd_kafka_resume_partitions(consumer_.get(), resume.get()),
                                     "resuming a restored task's partitions"));
    restoring_tasks_.erase(id);
    restore_assignment_stale_ = true;
  }
  if (restoring_tasks_.empty()) {
    rd_kafka_assign(restore_consumer_.get(), nullptr);
    restore_reading_.clear();
    restore_assignment_stale_ = false;
    restoring_ = false;
  }
  return absl::OkStatus();
}

absl::StatusOr<bool> StreamThread::InputMatchesState(
    TaskId id, TaskDb& db, const rd_kafka_topic_partition_list_t* assigned) {
  // Local state is trusted only if it describes this log: it must not claim input beyond a
  // partition's end (a recreated topic, another cluster). Restore() checks the changelogs the
  // same way.
  const TaskDb::Offsets stored = db.StoredOffsets();
  WEIR_ASSIGN_OR_RETURN(rd_kafka_t* const offsets, OffsetsClient());
  for (int i = 0; i < assigned->cnt; ++i) {
    const rd_kafka_topic_partition_t& p = assigned->elems[i];
    auto offset = stored.find({p.topic, p.partition});
    if (offset == stored.end()) continue;  // another task's partition, or nothing stored
    int64_t low = 0;
    int64_t high = 0;
    WEIR_RETURN_IF_ERROR(
        QueryWatermarks(offsets, p.topic, p.partition, &low, &high, kCommitTimeoutMs));
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

absl::Status StreamThread::OnRevoke(rd_kafka_topic_partition_list_t* partitions, bool lost) {
  absl::Status committed = fatal_;
  if (lost) {
    // The group already gave these partitions to someone else: committing would be rejected.
    spdlog::warn("{}: {} partitions lost; records since the last commit will be processed again",
                 name_, partitions->cnt);
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
  std::set<internal::Task*> affected;
  for (int i = 0; i < partitions->cnt; ++i) {
    const std::pair<std::string, int32_t> key{partitions->elems[i].topic,
                                              partitions->elems[i].partition};
    auto owner = task_of_partition_.find(key);
    if (owner == task_of_partition_.end()) continue;
    affected.insert(owner->second);
    task_of_partition_.erase(owner);
    next_offsets_.erase(key);
  }
  // A task closes once none of its partitions is left (with `range`, all go together).
  for (const auto& [topic_partition, task] : task_of_partition_) affected.erase(task);
  for (auto it = tasks_.begin(); it != tasks_.end();) {
    if (affected.contains(it->second.get())) {
      it = CloseTask(it);
    } else {
      ++it;
    }
  }
  return committed;
}

StreamThread::TaskMap::iterator StreamThread::CloseTask(TaskMap::iterator it) {
  internal::Task& task = *it->second;
  const TaskId id = task.id();
  if (restoring_tasks_.erase(id) > 0) {
    restore_assignment_stale_ = true;
    restoring_ = !restoring_tasks_.empty();
  }
  task.Close();
  closed_dropped_ += task.counters().dropped;
  closed_late_ += task.counters().late;
  closed_punctuations_ += task.counters().punctuations;
  ++tasks_closed_;
  task_closed_sensor_.Record(1, wall_clock_());
  spdlog::info("{}: task {} closed", name_, id.ToString());
  it = tasks_.erase(it);  // closes its RocksDB instance
  if (hooks_.release_task) hooks_.release_task(id);
  return it;
}

void StreamThread::CloseAllTasks() {
  for (auto it = tasks_.begin(); it != tasks_.end();) it = CloseTask(it);
  task_of_partition_.clear();
  next_offsets_.clear();
  by_handle_.clear();
}

std::shared_ptr<LeaveBarrier> StreamThread::TakeLeaveBarrier() {
  absl::MutexLock lock(&mutex_);
  return std::move(leave_barrier_);
}

int StreamThread::StatisticsCallback(rd_kafka_t* rk, char* json, size_t json_len, void* opaque) {
  auto* self = static_cast<StreamThread*>(opaque);
  absl::StatusOr<KafkaClientStats> stats = ParseKafkaStatistics(absl::string_view(json, json_len));
  if (!stats.ok()) {
    spdlog::warn("{}: {}", self->name_, stats.status().message());
    return 0;
  }
  absl::MutexLock lock(&self->mutex_);
  (rd_kafka_type(rk) == RD_KAFKA_CONSUMER ? self->consumer_stats_ : self->producer_stats_) =
      *std::move(stats);
  return 0;  // librdkafka frees `json`
}

void StreamThread::PublishMetrics(bool force) {
  const int64_t now = wall_clock_();
  if (!force && now < next_metrics_ms_) return;
  next_metrics_ms_ = now + 1'000;
  std::vector<TaskMetrics> tasks;
  tasks.reserve(tasks_.size());
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
  absl::MutexLock lock(&mutex_);
  published_task_metrics_ = std::move(tasks);
}

std::string StreamThread::ReadMemberId() {
  char* member_id = rd_kafka_memberid(consumer_.get());
  std::string member = member_id != nullptr ? member_id : "";
  if (member_id != nullptr) rd_kafka_mem_free(consumer_.get(), member_id);
  return member;
}

void StreamThread::PublishTasks(std::optional<std::string> member) {
  std::vector<TaskId> ids;
  int64_t dropped = closed_dropped_;
  int64_t late = closed_late_;
  int64_t punctuations = closed_punctuations_;
  for (const auto& [id, task] : tasks_) {
    ids.push_back(id);
    dropped += task->counters().dropped;
    late += task->counters().late;
    punctuations += task->counters().punctuations;
  }
  const int64_t hits = cache_.hits();
  const int64_t misses = cache_.misses();
  absl::MutexLock lock(&mutex_);
  if (member.has_value() && *member != published_member_id_) {
    spdlog::info("{}: group member id {} (was {})", name_, *member,
                 published_member_id_.empty() ? "none" : published_member_id_);
    published_member_id_ = *member;
  }
  published_tasks_ = std::move(ids);
  published_dropped_ = dropped;
  published_late_ = late;
  published_punctuations_ = punctuations;
  published_cache_hits_ = hits;
  published_cache_misses_ = misses;
  published_cache_evictions_ = cache_.evictions();
  published_cache_bytes_ = cache_.size_bytes();
}

ThreadSnapshot StreamThread::snapshot() const {
  ThreadSnapshot s{.name = name_,
                   .state = state_,
                   .processed = processed_,
                   .deserialization_errors = deserialization_errors_,
                   .dead_letters = dead_letters_,
                   .production_errors = production_errors_,
                   .commits = commits_,
                   .tasks_created = tasks_created_,
                   .tasks_closed = tasks_closed_,
                   .states_wiped = states_wiped_,
                   .records_restored = records_restored_,
                   .restores_truncated = restores_truncated_};
  absl::MutexLock lock(&mutex_);
  s.tasks = published_tasks_;
  s.member_id = published_member_id_;
  s.dropped = published_dropped_;
  s.late = published_late_;
  s.punctuations = published_punctuations_;
  s.cache_hits = published_cache_hits_;
  s.cache_misses = published_cache_misses_;
  s.cache_evictions = published_cache_evictions_;
  s.cache_bytes = published_cache_bytes_;
  s.assigned = assigned_;
  s.early_commits = early_commits_;
  s.restoring = restoring_;
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
  m.tasks = published_task_metrics_;
  m.consumer = consumer_stats_;
  m.producer = producer_stats_;
  return s;
}

}  // namespace weir::internal
