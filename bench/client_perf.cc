#include "bench/client_perf.h"

#include <unistd.h>

#include <chrono>
#include <memory>
#include <random>

#include "absl/strings/str_cat.h"
#include "absl/strings/str_format.h"
#include "bench/perf_producer.h"
#include "common/logging.h"
#include "common/status.h"
#include "engine/kafka/embedded_broker.h"
#include "engine/kafka/kafka_status.h"

namespace weir::bench {

absl::StatusOr<ConsumeTotals> ConsumeThroughput(const ClientProperties& properties,
                                                const std::string& topic, int64_t records) {
  WEIR_ASSIGN_OR_RETURN(KafkaConf conf, BuildKafkaConf(properties, ClientKind::kConsumer));
  WEIR_ASSIGN_OR_RETURN(KafkaHandle consumer,
                        NewKafkaClient(std::move(conf), ClientKind::kConsumer));
  rd_kafka_t* c = consumer.get();
  const rd_kafka_metadata_t* metadata = nullptr;
  rd_kafka_topic_t* handle = rd_kafka_topic_new(c, topic.c_str(), nullptr);
  const absl::Status read = KafkaStatus(rd_kafka_metadata(c, 0, handle, &metadata, 10'000),
                                        absl::StrCat("reading the metadata of ", topic));
  rd_kafka_topic_destroy(handle);
  WEIR_RETURN_IF_ERROR(read);
  rd_kafka_topic_partition_list_t* list = rd_kafka_topic_partition_list_new(16);
  if (metadata->topic_cnt == 1 && metadata->topics[0].err == RD_KAFKA_RESP_ERR_NO_ERROR) {
    for (int p = 0; p < metadata->topics[0].partition_cnt; ++p) {
      rd_kafka_topic_partition_list_add(list, topic.c_str(), p)->offset = RD_KAFKA_OFFSET_BEGINNING;
    }
  }
  rd_kafka_metadata_destroy(metadata);
  const int partitions = list->cnt;
  const absl::Status assigned = KafkaStatus(rd_kafka_assign(c, list), "assigning");
  rd_kafka_topic_partition_list_destroy(list);
  WEIR_RETURN_IF_ERROR(assigned);
  if (partitions == 0) return absl::NotFoundError(absl::StrCat("topic ", topic, " not found"));
  ConsumeTotals totals;
  std::chrono::steady_clock::time_point start;
  auto last = std::chrono::steady_clock::now();
  while (totals.messages < records) {
    rd_kafka_message_t* m = rd_kafka_consumer_poll(c, 1000);
    if (m == nullptr) {
      if (std::chrono::steady_clock::now() - last > std::chrono::seconds(10)) {
        rd_kafka_consumer_close(c);
        return absl::DeadlineExceededError(
            absl::StrCat("read ", totals.messages, " of ", records, " records of ", topic,
                         ", then nothing for 10 s: does the topic hold that many?"));
      }
      continue;
    }
    last = std::chrono::steady_clock::now();
    if (m->err == RD_KAFKA_RESP_ERR_NO_ERROR) {
      if (totals.messages == 0) start = last;  // from the first record, as the perf test
      ++totals.messages;
      totals.bytes += static_cast<int64_t>(m->len + m->key_len);
    }
    rd_kafka_message_destroy(m);
  }
  totals.seconds = std::chrono::duration<double>(std::chrono::steady_clock::now() - start).count();
  rd_kafka_consumer_close(c);
  return totals;
}

const ClientSettings kBaselineProducer = {
    {"batch.size", "16384"}, {"linger.ms", "0"}, {"compression.type", "none"}};
const ClientSettings kTunedProducer = {
    {"batch.size", "65536"}, {"linger.ms", "20"}, {"compression.type", "lz4"}};
const ClientSettings kBaselineConsumer = {
    {"fetch.min.bytes", "1"}, {"max.partition.fetch.bytes", "1048576"}};
const ClientSettings kTunedConsumer = {{"fetch.min.bytes", "1048576"},
                                       {"fetch.wait.max.ms", "500"},
                                       {"max.partition.fetch.bytes", "1048576"}};

namespace {

// The brokers to use: the config's, or an embedded broker with the topic created.
absl::StatusOr<std::string> Brokers(const AppConfig& config, const ClientBenchOptions& options,
                                    std::unique_ptr<EmbeddedBroker>& embedded) {
  if (!config.bootstrap_servers.empty()) return config.bootstrap_servers;
  WEIR_ASSIGN_OR_RETURN(embedded, EmbeddedBroker::Start(1));
  WEIR_RETURN_IF_ERROR(
      embedded->CreateTopic({.name = options.topic, .partitions = options.partitions}));
  spdlog::info("embedded broker at {} (bootstrap.servers is empty), topic {} with {} partitions",
               embedded->bootstrap_servers(), options.topic, options.partitions);
  return embedded->bootstrap_servers();
}

// kafka-producer-perf-test with `settings`: records of `record_size` random letters. `keyed`:
// key i for record i, spreading records evenly over the partitions (for filling the embedded
// broker, which keeps 5 MiB per partition); otherwise no key, as the perf test.
absl::StatusOr<PerfStats::Totals> ProducePerf(const AppConfig& config,
                                              const ClientBenchOptions& options,
                                              const std::string& brokers,
                                              const ClientSettings& settings, bool keyed = false) {
  ClientProperties properties{.bootstrap_servers = brokers, .common = config.kafka};
  properties.specific = {{"acks", "all"}, {"enable.idempotence", "true"}};
  for (const auto& [k, v] : config.producer) properties.specific[k] = v;
  for (const auto& [k, v] : settings) properties.specific[k] = v;
  PerfStats stats;
  WEIR_ASSIGN_OR_RETURN(std::unique_ptr<PerfProducer> producer,
                        PerfProducer::Create(properties, options.topic, &stats));
  std::mt19937_64 random(1);
  std::string value(static_cast<size_t>(options.record_size), 'A');
  const auto start = std::chrono::steady_clock::now();
  for (int64_t i = 0; i < options.records; ++i) {
    for (char& c : value) c = static_cast<char>('A' + random() % 26);
    if (options.throughput > 0) {
      const auto due = start + std::chrono::duration_cast<std::chrono::steady_clock::duration>(
                                   std::chrono::duration<double>(i / options.throughput));
      const auto ahead = std::chrono::duration_cast<std::chrono::milliseconds>(
          due - std::chrono::steady_clock::now());
      if (ahead.count() >= 1) producer->Poll(ahead);
    }
    WEIR_RETURN_IF_ERROR(producer->Send(keyed ? std::to_string(i) : "", value, 0));
  }
  WEIR_RETURN_IF_ERROR(producer->Flush());
  return stats.Total(
      std::chrono::duration<double>(std::chrono::steady_clock::now() - start).count());
}

// kafka-consumer-perf-test with `settings`: a fresh group reads `records` from the start.
absl::StatusOr<ConsumeTotals> ConsumePerf(const AppConfig& config,
                                          const ClientBenchOptions& options,
                                          const std::string& brokers, const std::string& group,
                                          const ClientSettings& settings) {
  ClientProperties properties{.bootstrap_servers = brokers, .common = config.kafka};
  properties.specific = {
      {"group.id", group}, {"auto.offset.reset", "earliest"}, {"enable.auto.commit", "false"}};
  for (const auto& [k, v] : config.consumer) properties.specific[k] = v;
  for (const auto& [k, v] : settings) properties.specific[k] = v;
  return ConsumeThroughput(properties, options.topic, options.records);
}

}  // namespace

absl::StatusOr<std::string> CompareProducers(const AppConfig& config,
                                             const ClientBenchOptions& options) {
  std::unique_ptr<EmbeddedBroker> embedded;
  WEIR_ASSIGN_OR_RETURN(const std::string brokers, Brokers(config, options, embedded));
  std::string table =
      "| Config    | Records/sec | MB/sec | Avg Latency | P99 Latency |\n"
      "|-----------|-------------|--------|-------------|-------------|\n";
  for (const auto& [name, settings] :
       {std::pair{"Baseline", &kBaselineProducer}, std::pair{"Tuned", &kTunedProducer}}) {
    spdlog::info("{}: {} records of {} bytes", name, options.records, options.record_size);
    WEIR_ASSIGN_OR_RETURN(const PerfStats::Totals t,
                          ProducePerf(config, options, brokers, *settings));
    absl::StrAppendFormat(&table, "| %-9s | %11.0f | %6.2f | %8.1f ms | %8.1f ms |\n", name,
                          t.records_per_s, t.mb_per_s, t.avg_ms, t.p99_ms);
  }
  table +=
      "Baseline: batch.size=16384 linger.ms=0 compression.type=none; Tuned: batch.size=65536 "
      "linger.ms=20 compression.type=lz4; both acks=all enable.idempotence=true.\n";
  return table;
}

absl::StatusOr<std::string> CompareConsumers(const AppConfig& config,
                                             const ClientBenchOptions& options) {
  std::unique_ptr<EmbeddedBroker> embedded;
  WEIR_ASSIGN_OR_RETURN(const std::string brokers, Brokers(config, options, embedded));
  if (embedded != nullptr) {  // a fresh broker holds nothing: fill the topic first
    spdlog::info("producing {} records to read back", options.records);
    WEIR_RETURN_IF_ERROR(
        ProducePerf(config, options, brokers, kTunedProducer, /*keyed=*/true).status());
  }
  std::string table =
      "| Config    | data.consumed.in.MB | MB.sec | data.consumed.in.nMsg | nMsg.sec |\n"
      "|-----------|---------------------|--------|-----------------------|----------|\n";
  int run = 0;
  for (const auto& [name, settings] :
       {std::pair{"Baseline", &kBaselineConsumer}, std::pair{"Tuned", &kTunedConsumer}}) {
    WEIR_ASSIGN_OR_RETURN(
        const ConsumeTotals t,
        ConsumePerf(config, options, brokers,
                    absl::StrCat("weir-bench-consume-", getpid(), "-", run++), *settings));
    const double mb = static_cast<double>(t.bytes) / (1024.0 * 1024.0);
    absl::StrAppendFormat(&table, "| %-9s | %19.2f | %6.2f | %21d | %8.0f |\n", name, mb,
                          mb / t.seconds, t.messages, static_cast<double>(t.messages) / t.seconds);
  }
  table +=
      "Baseline: fetch.min.bytes=1; Tuned: fetch.min.bytes=1048576 fetch.wait.max.ms=500; "
      "both max.partition.fetch.bytes=1048576.\n";
  return table;
}

}  // namespace weir::bench
