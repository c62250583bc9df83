// End-to-end: a weir pass-through topology against raw librdkafka consumption of the same input,
// through the same embedded broker, in one run (issue: engine benchmark, target ratio >= 0.8).
//
//   build/bench/passthrough_bench [--records N] [--partitions P] [--threads T] [--runs R]
//
// Produces N records of 100 bytes to P partitions once, then R times each: (a) a raw consumer
// assigned every partition reads them all; (b) a weir instance with T stream threads runs
// input -> output. weir's time runs from its first processed record to its last (the consumer
// group join, about 3 s on the embedded broker, is excluded), and includes producing every
// record to the output topic, which the raw consumer does not do. Prints each run and the
// medians; compare the ratio, not the absolute rates (the machine is shared).
#include <CLI/CLI.hpp>
#include <algorithm>
#include <chrono>
#include <cstdio>
#include <thread>
#include <vector>

#include "absl/strings/str_cat.h"
#include "common/logging.h"
#include "engine/dsl/streams_builder.h"
#include "engine/kafka/embedded_broker.h"
#include "engine/runtime/kafka_streams.h"

namespace weir {
namespace {

using Clock = std::chrono::steady_clock;

[[noreturn]] void Fail(const absl::Status& status) {
  std::fprintf(stderr, "passthrough_bench: %s\n", status.ToString().c_str());
  std::exit(1);
}

void Produce(const std::string& bootstrap, const std::string& topic, int records) {
  absl::StatusOr<KafkaConf> conf = BuildKafkaConf(
      {.bootstrap_servers = bootstrap, .common = {{"linger.ms", "20"}, {"batch.size", "1000000"}}},
      ClientKind::kProducer);
  if (!conf.ok()) Fail(conf.status());
  absl::StatusOr<KafkaHandle> producer = NewKafkaClient(*std::move(conf), ClientKind::kProducer);
  if (!producer.ok()) Fail(producer.status());
  const std::string value(100, 'v');
  for (int i = 0; i < records; ++i) {
    const std::string key = absl::StrCat("card-", i % 10'000);
    while (rd_kafka_producev(producer->get(), RD_KAFKA_V_TOPIC(topic.c_str()),
                             RD_KAFKA_V_MSGFLAGS(RD_KAFKA_MSG_F_COPY),
                             RD_KAFKA_V_KEY(key.data(), key.size()),
                             RD_KAFKA_V_VALUE(const_cast<char*>(value.data()), value.size()),
                             RD_KAFKA_V_END) == RD_KAFKA_RESP_ERR__QUEUE_FULL) {
      rd_kafka_poll(producer->get(), 10);
    }
  }
  if (rd_kafka_flush(producer->get(), 120'000) != RD_KAFKA_RESP_ERR_NO_ERROR) {
    Fail(absl::InternalError("produce did not finish"));
  }
}

// Records per second for a raw consumer reading every partition from the start to the end and,
// when `copy_to` is set, producing each record to it with the producer settings weir uses
// (idempotent, linger.ms 100) - the least librdkafka work a pass-through can do.
double RawConsume(const std::string& bootstrap, const std::string& topic, int partitions,
                  int records, const std::string& copy_to = "") {
  KafkaHandle producer;
  if (!copy_to.empty()) {
    absl::StatusOr<KafkaConf> producer_conf =
        BuildKafkaConf({.bootstrap_servers = bootstrap,
                        .common = {{"enable.idempotence", "true"}, {"linger.ms", "100"}}},
                       ClientKind::kProducer);
    if (!producer_conf.ok()) Fail(producer_conf.status());
    absl::StatusOr<KafkaHandle> created =
        NewKafkaClient(*std::move(producer_conf), ClientKind::kProducer);
    if (!created.ok()) Fail(created.status());
    producer = *std::move(created);
  }
  absl::StatusOr<KafkaConf> conf =
      BuildKafkaConf({.bootstrap_servers = bootstrap,
                      .common = {{"group.id", "raw-bench"}, {"enable.auto.commit", "false"}}},
                     ClientKind::kConsumer);
  if (!conf.ok()) Fail(conf.status());
  absl::StatusOr<KafkaHandle> consumer = NewKafkaClient(*std::move(conf), ClientKind::kConsumer);
  if (!consumer.ok()) Fail(consumer.status());
  rd_kafka_topic_partition_list_t* list = rd_kafka_topic_partition_list_new(partitions);
  for (int p = 0; p < partitions; ++p) {
    rd_kafka_topic_partition_list_add(list, topic.c_str(), p)->offset = RD_KAFKA_OFFSET_BEGINNING;
  }
  rd_kafka_assign(consumer->get(), list);
  rd_kafka_topic_partition_list_destroy(list);
  int seen = 0;
  Clock::time_point first;
  Clock::time_point last_message = Clock::now();
  while (seen < records) {
    rd_kafka_message_t* m = rd_kafka_consumer_poll(consumer->get(), 1000);
    if (m == nullptr) {
      if (Clock::now() - last_message > std::chrono::seconds(15)) {
        Fail(absl::DeadlineExceededError(absl::StrCat(
            "raw consumer stalled at ", seen, " of ", records,
            " records: the embedded broker keeps at most 5 MiB or 100,000 records per partition; "
            "use fewer --records or more --partitions")));
      }
      continue;
    }
    last_message = Clock::now();
    if (m->err == RD_KAFKA_RESP_ERR_NO_ERROR) {
      if (seen++ == 0) first = Clock::now();
      while (producer != nullptr &&
             rd_kafka_producev(producer.get(), RD_KAFKA_V_TOPIC(copy_to.c_str()),
                               RD_KAFKA_V_MSGFLAGS(RD_KAFKA_MSG_F_COPY),
                               RD_KAFKA_V_KEY(m->key, m->key_len),
                               RD_KAFKA_V_VALUE(m->payload, m->len),
                               RD_KAFKA_V_END) == RD_KAFKA_RESP_ERR__QUEUE_FULL) {
        rd_kafka_poll(producer.get(), 10);
      }
      if (producer != nullptr) rd_kafka_poll(producer.get(), 0);
    }
    rd_kafka_message_destroy(m);
  }
  const double seconds = std::chrono::duration<double>(Clock::now() - first).count();
  rd_kafka_consumer_close(consumer->get());
  if (producer != nullptr) rd_kafka_flush(producer.get(), 60'000);
  return records / seconds;
}

double WeirPassThrough(const std::string& bootstrap, EmbeddedBroker& broker,
                       const std::string& topic, int threads, int records, int run) {
  StreamsBuilder builder;
  const std::string out = absl::StrCat(topic, "-out-", run);
  builder.Stream<std::string, std::string>(topic, serdes::String(), serdes::String()).To(out);
  AppConfig config;
  config.application_id = absl::StrCat("passthrough-bench-", run);
  config.bootstrap_servers = bootstrap;
  config.num_stream_threads = threads;
  config.commit_interval_ms = 1000;
  // The embedded broker holds every rebalance for session.timeout.ms - 1 s (docs/broker.md), and
  // a thread that joins after the other has started triggers one: with librdkafka's 45 s default
  // it outlasted the stall limit below (seen: 43.9 s at 50,000 of 100,000 records, 2 threads).
  config.consumer["session.timeout.ms"] = "6000";
  absl::StatusOr<std::unique_ptr<KafkaStreams>> streams = KafkaStreams::Create(
      *builder.Build(), config,
      {.create_topic = [&](const TopicSpec& t) { return broker.CreateTopic(t); }});
  if (!streams.ok()) Fail(streams.status());
  if (absl::Status s = (*streams)->Start(); !s.ok()) Fail(s);
  const auto processed = [&] {
    int64_t total = 0;
    for (const ThreadSnapshot& t : (*streams)->threads()) total += t.processed;
    return total;
  };
  const Clock::time_point started = Clock::now();
  while (processed() == 0) {
    if (Clock::now() - started > std::chrono::seconds(60)) {
      Fail(absl::DeadlineExceededError("weir processed nothing within 60 s"));
    }
    std::this_thread::sleep_for(std::chrono::milliseconds(1));
  }
  const Clock::time_point first = Clock::now();
  int64_t last_count = 0;
  Clock::time_point last_progress = Clock::now();
  while (processed() < records) {
    std::this_thread::sleep_for(std::chrono::milliseconds(1));
    if (const int64_t now = processed(); now != last_count) {
      last_count = now;
      last_progress = Clock::now();
    } else if (Clock::now() - last_progress > std::chrono::seconds(30)) {
      Fail(absl::DeadlineExceededError(
          absl::StrCat("weir stalled at ", now, " of ", records, " records")));
    }
  }
  const double seconds = std::chrono::duration<double>(Clock::now() - first).count();
  (*streams)->Close();
  return records / seconds;
}

double Median(std::vector<double> values) {
  std::sort(values.begin(), values.end());
  return values[values.size() / 2];
}

}  // namespace
}  // namespace weir

int main(int argc, char** argv) {
  int records = 100'000;
  int partitions = 4;
  int threads = 1;
  int runs = 3;
  CLI::App app("weir pass-through topology vs raw librdkafka consumption, embedded broker");
  app.add_option("--records", records,
                 "Input records (the embedded broker keeps <= 5 MiB per partition)")
      ->capture_default_str();
  app.add_option("--partitions", partitions, "Input partitions")->capture_default_str();
  app.add_option("--threads", threads, "weir stream threads")->capture_default_str();
  app.add_option("--runs", runs, "Repetitions of each measurement")->capture_default_str();
  CLI11_PARSE(app, argc, argv);
  spdlog::set_level(spdlog::level::warn);

  absl::StatusOr<std::unique_ptr<weir::EmbeddedBroker>> broker = weir::EmbeddedBroker::Start(1);
  if (!broker.ok()) weir::Fail(broker.status());
  const std::string bootstrap = (*broker)->bootstrap_servers();
  if (absl::Status s = (*broker)->CreateTopic({.name = "bench-in", .partitions = partitions});
      !s.ok()) {
    weir::Fail(s);
  }
  weir::Produce(bootstrap, "bench-in", records);
  std::vector<double> raw, copy, weir_rates;
  for (int run = 0; run < runs; ++run) {
    raw.push_back(weir::RawConsume(bootstrap, "bench-in", partitions, records));
    copy.push_back(weir::RawConsume(bootstrap, "bench-in", partitions, records,
                                    absl::StrCat("bench-copy-", run)));
    weir_rates.push_back(
        weir::WeirPassThrough(bootstrap, **broker, "bench-in", threads, records, run));
    std::printf(
        "run %d: raw consume %.0f, raw consume+produce %.0f, weir pass-through %.0f records/s\n",
        run + 1, raw.back(), copy.back(), weir_rates.back());
  }
  const double raw_median = weir::Median(raw), copy_median = weir::Median(copy),
               weir_median = weir::Median(weir_rates);
  std::printf(
      "median of %d runs, %d records x 100 B, %d partitions, %d weir thread(s), %s build:\n"
      "  raw librdkafka consume            %10.0f records/s\n"
      "  raw librdkafka consume+produce    %10.0f records/s\n"
      "  weir pass-through                 %10.0f records/s\n"
      "  ratio weir/raw consume            %10.2f\n"
      "  ratio weir/raw consume+produce    %10.2f\n",
      runs, records, partitions, threads, WEIR_BUILD_TYPE, raw_median, copy_median, weir_median,
      weir_median / raw_median, weir_median / copy_median);
  return 0;
}
