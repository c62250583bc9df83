// A stream thread's producer: where its tasks' sink records, changelog records and dead letters
// go (the tasks' RecordCollector).
//
// Operation. One idempotent librdkafka producer per stream thread (transactional under
// exactly_once_v2: its Committer opens a transaction before the first record after a commit).
// Changelog records carry a slot that delivery reports raise to the partition's offset after the
// last record delivered: the changelog ends a commit writes with the state. Dead letters (records
// with engine/kafka/dead_letter.h's headers) are counted, cut to fit `message.max.bytes` and
// logged, at most one line a second.
//
// Failure. A changelog record that cannot be sent or delivered is fatal whatever
// `default.production.exception.handler` says (restoration would miss it); any other record
// follows the handler: `fail` is fatal, `continue` logs and drops it. The first fatal error is
// kept in error(); the stream thread checks it after each batch and before each commit.
//
// Concurrency: used by its stream thread only; the counters may be read from any thread.
#ifndef WEIR_ENGINE_RUNTIME_INTERNAL_THREAD_PRODUCER_H_
#define WEIR_ENGINE_RUNTIME_INTERNAL_THREAD_PRODUCER_H_

#include <atomic>
#include <chrono>
#include <functional>
#include <map>
#include <memory>
#include <string>
#include <utility>
#include <vector>

#include "absl/status/statusor.h"
#include "engine/kafka/client_config.h"
#include "engine/processor/internal/task_context.h"
#include "engine/processor/topology.h"
#include "engine/runtime/app_config.h"
#include "engine/runtime/internal/committer.h"

namespace weir::internal {

class ThreadProducer : public RecordCollector {
 public:
  struct Options {
    // The transactional.id under exactly_once_v2; empty: `<application.id>-<thread name>`.
    std::string transactional_id;
    // Called with the producer's configuration before the client is made.
    std::function<void(rd_kafka_conf_t*, ClientKind)> configure_client;
    // librdkafka's statistics (JSON), on the thread's polls.
    std::function<void(rd_kafka_t*, absl::string_view json)> on_statistics;
    bool changelogs = false;  // the thread's tasks log state changes
  };
  // InvalidArgument when the client properties do not make a valid producer.
  static absl::StatusOr<std::unique_ptr<ThreadProducer>> Create(const AppConfig& config,
                                                                const Topology& topology,
                                                                const std::string& thread_name,
                                                                Options options);
  ~ThreadProducer() override;

  rd_kafka_t* handle() const { return producer_.get(); }
  // Consulted before each record (exactly-once opens its transaction); set once, before the
  // first record.
  void set_committer(Committer* committer) { committer_ = committer; }

  // RecordCollector.
  void Send(const std::string& topic, RawRecord record) override;
  const int64_t* SendToPartition(const std::string& topic, int32_t partition,
                                 RawRecord record) override;
  // `raw`, read at `where`, cannot be processed (`exception`, e.g. DeserializationException,
  // and why): to `errors.dead.letter.queue.topic.name` when it is set.
  void SendDeadLetter(const RawRecord& raw, const RecordMetadata& where,
                      absl::string_view exception, absl::string_view why);
  // Serves delivery reports.
  void Poll() { rd_kafka_poll(producer_.get(), 0); }

  // The first fatal error (see above); OK otherwise.
  const absl::Status& error() const { return error_; }
  int64_t dead_letters() const { return dead_letters_; }
  int64_t production_errors() const { return production_errors_; }

 private:
  ThreadProducer(const AppConfig& config, std::string thread_name, Options options);
  absl::Status Init(const AppConfig& config, const Topology& topology);
  // `partition` RD_KAFKA_PARTITION_UA: the partitioner's choice. `delivered_end`, when set, is
  // raised to the offset after the record once it is delivered.
  void Produce(const std::string& topic, int32_t partition, RawRecord record,
               int64_t* delivered_end);
  // A warning per dead letter, at most one a second; the rest are counted into the next one.
  void LogDeadLetter(const std::string& topic, const RawRecord& record, bool truncated);
  void Fail(absl::Status status) {
    if (error_.ok()) error_ = std::move(status);
  }
  static void DeliveryCallback(rd_kafka_t* rk, const rd_kafka_message_t* message, void* opaque);
  static int StatisticsCallback(rd_kafka_t* rk, char* json, size_t json_len, void* opaque);

  const ProductionHandler production_handler_;
  const std::string dead_letter_topic_;  // empty: dead letters are dropped (counted)
  const std::string name_;
  const Options options_;
  std::function<void(RawRecord&)> redact_dead_letter_;  // the topology's (Topology)
  KafkaHandle producer_;
  struct TopicDeleter {
    void operator()(rd_kafka_topic_t* topic) const { rd_kafka_topic_destroy(topic); }
  };
  // Handles on the topics the producer writes, held so their metadata is known before the
  // first record; before producer_ dies.
  std::vector<std::unique_ptr<rd_kafka_topic_t, TopicDeleter>> output_topics_;
  Committer* committer_ = nullptr;
  // Changelog partitions' offsets after the last delivered record (delivery reports raise them).
  std::map<std::pair<std::string, int32_t>, int64_t> changelog_ends_;
  // The producer's message.max.bytes (librdkafka's default until Init reads it).
  size_t max_message_bytes_ = 1'000'000;
  std::chrono::steady_clock::time_point next_dead_letter_log_;
  int64_t unlogged_dead_letters_ = 0;
  absl::Status error_;
  std::atomic<int64_t> dead_letters_{0};
  std::atomic<int64_t> production_errors_{0};
};

}  // namespace weir::internal

#endif  // WEIR_ENGINE_RUNTIME_INTERNAL_THREAD_PRODUCER_H_
