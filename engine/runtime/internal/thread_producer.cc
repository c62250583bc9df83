#include "engine/runtime/internal/thread_producer.h"

#include <algorithm>
#include <set>

#include "absl/strings/numbers.h"
#include "absl/strings/str_cat.h"
#include "common/logging.h"
#include "common/status.h"
#include "engine/kafka/dead_letter.h"
#include "engine/kafka/kafka_status.h"
#include "engine/processor/topic_name.h"
#include "engine/runtime/internal/stream_clients.h"

namespace weir::internal {

absl::StatusOr<std::unique_ptr<ThreadProducer>> ThreadProducer::Create(
    const AppConfig& config, const Topology& topology, const std::string& thread_name,
    Options options) {
  std::unique_ptr<ThreadProducer> producer(
      new ThreadProducer(config, thread_name, std::move(options)));
  WEIR_RETURN_IF_ERROR(producer->Init(config, topology));
  return producer;
}

ThreadProducer::ThreadProducer(const AppConfig& config, std::string thread_name, Options options)
    : production_handler_(config.production_exception_handler),
      dead_letter_topic_(config.dead_letter_queue_topic),
      name_(std::move(thread_name)),
      options_(std::move(options)) {}

ThreadProducer::~ThreadProducer() = default;

absl::Status ThreadProducer::Init(const AppConfig& config, const Topology& topology) {
  const ClientProperties properties =
      StreamProducerProperties(config, name_, options_.transactional_id);
  WEIR_ASSIGN_OR_RETURN(KafkaConf conf, BuildKafkaConf(properties, ClientKind::kProducer));
  rd_kafka_conf_set_dr_msg_cb(conf.get(), &ThreadProducer::DeliveryCallback);
  rd_kafka_conf_set_stats_cb(conf.get(), &ThreadProducer::StatisticsCallback);
  rd_kafka_conf_set_opaque(conf.get(), this);
  if (options_.configure_client) options_.configure_client(conf.get(), ClientKind::kProducer);
  WEIR_ASSIGN_OR_RETURN(producer_, NewKafkaClient(std::move(conf), ClientKind::kProducer));
  redact_dead_letter_ = topology.dead_letter_redactor();
  // Ask for the leaders of every topic this thread writes now, not on its first commit: there,
  // the first produce to each changelog waited for metadata, stalling the thread 0.5-0.7 s
  // (`weir bench load`'s first commit). rd_kafka_topic_new queries an unknown topic's leader.
  std::set<std::string> outputs;
  for (const Topology::NodeSpec& spec : topology.nodes()) {
    if (spec.kind != Topology::NodeKind::kSink) continue;
    outputs.insert(spec.internal_topics ? InternalTopic(config.application_id, spec.topics[0])
                                        : spec.topics[0]);
  }
  if (options_.changelogs) {
    for (const Topology::StoreSpec& store : topology.stores()) {
      outputs.insert(ChangelogTopic(config.application_id, store.name));
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

void ThreadProducer::SendDeadLetter(const RawRecord& raw, const RecordMetadata& where,
                                    absl::string_view exception, absl::string_view why) {
  if (dead_letter_topic_.empty()) return;
  RawRecord dead = raw;
  if (redact_dead_letter_) redact_dead_letter_(dead);
  dead.headers = DeadLetterHeaders(std::move(dead.headers), exception, why, where);
  Send(dead_letter_topic_, std::move(dead));
}

void ThreadProducer::Send(const std::string& topic, RawRecord record) {
  if (IsDeadLetter(record.headers)) {
    ++dead_letters_;
    const bool truncated = TruncateToFit(record, max_message_bytes_);
    LogDeadLetter(topic, record, truncated);
  }
  Produce(topic, RD_KAFKA_PARTITION_UA, std::move(record), nullptr);
}

void ThreadProducer::LogDeadLetter(const std::string& topic, const RawRecord& record,
                                   bool truncated) {
  const auto now = std::chrono::steady_clock::now();
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

const int64_t* ThreadProducer::SendToPartition(const std::string& topic, int32_t partition,
                                               RawRecord record) {
  int64_t& end = changelog_ends_.try_emplace({topic, partition}, -1).first->second;
  Produce(topic, partition, std::move(record), &end);
  return &end;
}

void ThreadProducer::Produce(const std::string& topic, int32_t partition, RawRecord record,
                             int64_t* delivered_end) {
  if (committer_ != nullptr) {
    if (absl::Status ready = committer_->BeforeProduce(); !ready.ok()) {
      Fail(std::move(ready));
      return;
    }
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
    if (delivered_end == nullptr && production_handler_ == ProductionHandler::kContinue) {
      spdlog::warn(
          "{}: skipping a record for {}: {} (default.production.exception.handler: "
          "continue)",
          name_, topic, rd_kafka_err2str(err));
      return;
    }
    Fail(KafkaStatus(err, absl::StrCat("producing to ", topic, " (", value_size,
                                       " bytes of value)")));
    return;
  }
}

void ThreadProducer::DeliveryCallback(rd_kafka_t*, const rd_kafka_message_t* message,
                                      void* opaque) {
  if (message->err == RD_KAFKA_RESP_ERR_NO_ERROR) {
    if (auto* end = static_cast<int64_t*>(message->_private); end != nullptr) {
      *end = std::max(*end, message->offset + 1);
    }
    return;
  }
  auto* self = static_cast<ThreadProducer*>(opaque);
  ++self->production_errors_;
  const std::string what = absl::StrCat("delivery to ", rd_kafka_topic_name(message->rkt),
                                        " failed after retries: ", rd_kafka_err2str(message->err));
  if (self->production_handler_ == ProductionHandler::kContinue && message->_private == nullptr) {
    spdlog::warn("{}: {} (default.production.exception.handler: continue)", self->name_, what);
    return;
  }
  self->Fail(absl::UnavailableError(what));
}

int ThreadProducer::StatisticsCallback(rd_kafka_t* rk, char* json, size_t json_len,
                                       void* opaque) {
  auto* self = static_cast<ThreadProducer*>(opaque);
  if (self->options_.on_statistics) {
    self->options_.on_statistics(rk, absl::string_view(json, json_len));
  }
  return 0;  // librdkafka frees `json`
}

}  // namespace weir::internal
