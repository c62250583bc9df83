#include "bench/compare.h"

#include <sys/resource.h>
#include <unistd.h>

#include <algorithm>
#include <chrono>
#include <cmath>
#include <cstdio>
#include <filesystem>
#include <limits>
#include <optional>
#include <thread>

#include "absl/strings/numbers.h"
#include "absl/strings/str_cat.h"
#include "absl/strings/str_format.h"
#include "absl/strings/str_split.h"
#include "bench/client_perf.h"
#include "bench/compare_workload.h"
#include "bench/measure.h"
#include "bench/perf_producer.h"
#include "bench/rocksdb_alone.h"
#include "common/status.h"
#include "common/subprocess.h"
#include "engine/kafka/embedded_broker.h"
#include "engine/kafka/partitioner.h"
#include "engine/runtime/kafka_streams.h"
#include "engine/runtime/memory_plan.h"
#include "engine/runtime/test_driver.h"
#include "stores/rocksdb_option_set.h"
#include "stores/store_statistics.h"
#include "stores/task_db.h"
#include "topologies/fraud_config.h"
#include "topologies/fraud_topology.h"
#include "topologies/payment.h"
#include "topologies/payment_generator.h"

namespace weir::bench {
namespace {

using Clock = std::chrono::steady_clock;

struct TickerTotals {
  int64_t hits = 0, misses = 0, stall_micros = 0, bytes_written = 0, flushed = 0,
          compaction_read = 0, compaction_written = 0;
};

void Add(const TaskMetrics& m, TickerTotals& t) {
  if (!m.rocksdb.has_value()) return;
  const RocksDbTickers& k = m.rocksdb->tickers;
  t.hits += k.block_cache_data_hit;
  t.misses += k.block_cache_data_miss;
  t.stall_micros += k.stall_micros;
  t.bytes_written += k.bytes_written;
  t.flushed += k.memtable_bytes_flushed;
  t.compaction_read += k.compaction_bytes_read;
  t.compaction_written += k.compaction_bytes_written;
}

// The tickers of every task, in process (read now) or of a running instance (as published).
TickerTotals Tickers(const TopologyTestDriver& driver) {
  TickerTotals t;
  for (const TaskMetrics& m : driver.Metrics(/*with_rocksdb=*/true)) Add(m, t);
  return t;
}
TickerTotals Tickers(const KafkaStreams& streams) {
  TickerTotals t;
  for (const ThreadSnapshot& thread : streams.threads()) {
    for (const TaskMetrics& m : thread.metrics.tasks) Add(m, t);
  }
  return t;
}


// `weir plan memory`'s total for this run: the option set, the record cache of the one thread
// (driver or stream thread), the tasks, and librdkafka's buffers when the run has clients.
absl::StatusOr<int64_t> PlannedBytes(const AppConfig& config, const RocksDbOptionSet& set,
                                     const Topology& topology, int64_t tasks, bool kafka_clients) {
  WEIR_ASSIGN_OR_RETURN(MemoryPlan plan, PlanMemory(config, set, topology, tasks,
                                                    /*overhead_bytes=*/0, kafka_clients));
  return plan.total;
}

// The figures every mode reports the same way, at the end of a run.
void Finish(const TickerTotals& t, const std::filesystem::path& state_dir, CompareResult& result) {
  result.records_per_s = static_cast<double>(result.records) / result.seconds;
  result.mb_per_s = static_cast<double>(result.input_bytes) / result.seconds / (1 << 20);
  result.block_cache_data_hit_ratio = HitRatio(t.hits, t.misses);
  result.write_stall_ms = static_cast<double>(t.stall_micros) / 1'000.0;
  result.bytes_written = t.bytes_written;
  result.memtable_bytes_flushed = t.flushed;
  result.compaction_bytes_read = t.compaction_read;
  result.compaction_bytes_written = t.compaction_written;
  rusage usage{};
  getrusage(RUSAGE_SELF, &usage);
  result.peak_rss_bytes = static_cast<int64_t>(usage.ru_maxrss) * 1024;
  result.state_bytes = DirectoryBytes(state_dir);
}

// One option set, in this (child) process.
absl::StatusOr<CompareResult> RunOne(const CompareOptions& options, const std::string& set_path,
                                     const std::filesystem::path& state_dir) {
  WEIR_ASSIGN_OR_RETURN(InProcessWorkload workload, LoadInProcessWorkload(options, set_path));
  const fraud::FraudConfig& fraud_config = workload.fraud_config;
  CompareResult result{.option_set = set_path, .baseline_rss_bytes = ReadResidentBytes()};
  const Topology topology = fraud::BuildFraudTopology(fraud_config, workload.tokenizer);
  AppConfig plan_config;  // one thread with the run's record cache; the rest as `weir run`'s
  plan_config.num_stream_threads = 1;
  plan_config.statestore_cache_max_bytes = options.cache_max_bytes;
  WEIR_ASSIGN_OR_RETURN(result.planned_bytes,
                        PlannedBytes(plan_config, workload.set, topology, options.partitions,
                                     /*kafka_clients=*/false));
  TopologyTestDriver driver(
      topology, {.application_id = "bench-compare",
                 .partitions = options.partitions,
                 .open_task_db = [&](TaskId id) -> absl::StatusOr<std::unique_ptr<TaskDb>> {
                   WEIR_ASSIGN_OR_RETURN(rocksdb::Options rocksdb_options,
                                         BuildRocksDbOptions(workload.set, workload.shared));
                   return TaskDb::Open((state_dir / id.ToString()).string(), rocksdb_options);
                 },
                 .cache_max_bytes = options.cache_max_bytes});

  std::vector<float> latencies_us;
  latencies_us.reserve(static_cast<size_t>(options.records));
  Clock::duration busy{};
  const int64_t sample_every = std::max<int64_t>(options.records / std::max(options.samples, 1), 1);
  TickerTotals last;
  Clock::duration last_busy{};
  int64_t last_records = 0;
  std::vector<fraud::GeneratedPayment> chunk;
  Progress progress("weir", options.records);
  for (int64_t done = 0; done < options.records;) {
    chunk.clear();  // generate outside the timed section
    const int64_t n = std::min<int64_t>(options.commit_every, options.records - done);
    for (int64_t i = 0; i < n; ++i) chunk.push_back(workload.generator.Next());
    for (const fraud::GeneratedPayment& p : chunk) {
      const auto start = Clock::now();
      WEIR_RETURN_IF_ERROR(
          driver.PipeRaw(fraud_config.payments_topic, RawRecord{.key = p.card, .value = p.json}));
      const auto elapsed = Clock::now() - start;
      busy += elapsed;
      latencies_us.push_back(std::chrono::duration<float, std::micro>(elapsed).count());
      result.input_bytes += static_cast<int64_t>(p.card.size() + p.json.size());
      ++done;
      if (done % sample_every == 0 || done == options.records) {
        const TickerTotals now = Tickers(driver);
        const double interval = std::chrono::duration<double>(busy - last_busy).count();
        result.samples.push_back(
            {.records = done,
             .seconds = std::chrono::duration<double>(busy).count(),
             .records_per_s =
                 interval > 0 ? static_cast<double>(done - last_records) / interval : 0,
             .hit_ratio = HitRatio(now.hits - last.hits, now.misses - last.misses),
             .stall_ms = static_cast<double>(now.stall_micros) / 1'000.0});
        last = now;
        last_busy = busy;
        last_records = done;
      }
      progress.Update(done, std::chrono::duration<double>(busy).count());
    }
    const auto start = Clock::now();
    WEIR_RETURN_IF_ERROR(driver.Commit());
    busy += Clock::now() - start;
    for (const char* topic : {fraud_config.alerts_topic.c_str(), fraud_config.dlq_topic.c_str()}) {
      driver.ReadOutput(topic);
    }
    driver.ReadOutput(absl::StrCat("bench-compare-", fraud::kCardWindowsStore, "-changelog"));
  }
  result.records = options.records;
  result.seconds = std::chrono::duration<double>(busy).count();
  Finish(Tickers(driver), state_dir, result);
  double sum = 0;
  for (float l : latencies_us) sum += l;
  result.latency_avg_us = sum / static_cast<double>(latencies_us.size());
  std::sort(latencies_us.begin(), latencies_us.end());
  result.latency_p99_us = PercentileOfSorted(latencies_us, 0.99);
  result.latency_max_us = latencies_us.back();
  return result;
}

// The end-to-end run's input on an embedded broker: the payments produced first (their bytes
// counted), then read once by a raw consumer, whose rate is the run's baseline.
absl::StatusOr<std::unique_ptr<EmbeddedBroker>> ProduceInput(const CompareOptions& options,
                                                            const fraud::FraudConfig& fraud_config,
                                                            int32_t partitions,
                                                            CompareResult& result) {
  WEIR_ASSIGN_OR_RETURN(std::unique_ptr<EmbeddedBroker> broker, EmbeddedBroker::Start(1));
  WEIR_RETURN_IF_ERROR(
      broker->CreateTopic({.name = fraud_config.payments_topic, .partitions = partitions}));
  for (const std::string& topic : {fraud_config.alerts_topic, fraud_config.dlq_topic}) {
    WEIR_RETURN_IF_ERROR(broker->CreateTopic({.name = topic, .partitions = 4}));
  }
  WEIR_ASSIGN_OR_RETURN(fraud::PaymentGenerator generator,
                        fraud::PaymentGenerator::Create(GeneratorOptions(options), fraud_config));
  PerfStats stats;
  WEIR_ASSIGN_OR_RETURN(std::unique_ptr<PerfProducer> producer,
                        PerfProducer::Create({.bootstrap_servers = broker->bootstrap_servers(),
                                              .specific = {{"linger.ms", "20"}}},
                                             fraud_config.payments_topic, &stats));
  for (int64_t i = 0; i < options.records; ++i) {
    const fraud::GeneratedPayment p = generator.Next();
    result.input_bytes += static_cast<int64_t>(p.card.size() + p.json.size());
    WEIR_RETURN_IF_ERROR(producer->Send(p.card, p.json, p.ts));
  }
  WEIR_RETURN_IF_ERROR(producer->Flush());
  WEIR_ASSIGN_OR_RETURN(ConsumeTotals raw,
                        ConsumeThroughput({.bootstrap_servers = broker->bootstrap_servers(),
                                           .specific = {{"group.id", "bench-compare-raw"},
                                                        {"enable.auto.commit", "false"}}},
                                          fraud_config.payments_topic, options.records));
  result.raw_consume_records_per_s = static_cast<double>(raw.messages) / raw.seconds;
  return broker;
}

// The instance `weir run` would run, with the run's option set, threads and record cache.
AppConfig EndToEndConfig(const CompareOptions& options, const std::string& set_path,
                         const std::string& bootstrap, const std::filesystem::path& state_dir) {
  AppConfig app;
  app.application_id = "bench-compare";
  app.bootstrap_servers = bootstrap;
  app.num_stream_threads = options.threads;
  app.state_dir = state_dir.string();
  app.rocksdb_options = set_path;
  app.topology_config = options.fraud_config;
  app.statestore_cache_max_bytes = options.cache_max_bytes;
  app.commit_interval_ms = 1'000;  // state reaches RocksDB during the run, not only at the end
  return app;
}

// Watches the instance process the input, sampling throughput, hit ratio and stalls along the
// way; sets the run's records and seconds (from its first record processed).
absl::Status SampleUntilProcessed(const CompareOptions& options, KafkaStreams& streams,
                                  CompareResult& result) {
  const int64_t sample_every = std::max<int64_t>(options.records / std::max(options.samples, 1), 1);
  std::optional<Clock::time_point> first;
  int64_t next_sample = sample_every, last_records = 0;
  double last_seconds = 0;
  Progress progress("weir", options.records);
  TickerTotals last;
  absl::Status threads;
  const bool processed = WaitFor(
      [&] {
        threads = streams.CheckThreads();
        if (!threads.ok()) return true;
        const int64_t done = SumOver(streams.threads(), &ThreadSnapshot::processed);
        if (done > 0 && !first) first = Clock::now();
        if (first && (done >= next_sample || done >= options.records)) {
          const double seconds = std::chrono::duration<double>(Clock::now() - *first).count();
          const TickerTotals now = Tickers(streams);
          result.samples.push_back(
              {.records = done,
               .seconds = seconds,
               .records_per_s = seconds > last_seconds
                                    ? static_cast<double>(done - last_records) /
                                          (seconds - last_seconds)
                                    : 0,
               .hit_ratio = HitRatio(now.hits - last.hits, now.misses - last.misses),
               .stall_ms = static_cast<double>(now.stall_micros) / 1'000.0});
          last = now;
          last_records = done;
          last_seconds = seconds;
          next_sample = done + sample_every;
          progress.Update(done, seconds);
        }
        return done >= options.records;
      },
      std::chrono::seconds(600));
  WEIR_RETURN_IF_ERROR(threads);
  if (!processed) {
    return absl::DeadlineExceededError("the instance did not process the input in 600 s");
  }
  result.records = options.records;
  result.seconds = std::chrono::duration<double>(Clock::now() - *first).count();
  return absl::OkStatus();
}

// Over the threads: the average of their averages, the largest maximum. The threads' sensors
// keep no percentile, so there is no p99 end to end.
void ThreadLatencies(const KafkaStreams& streams, int threads, CompareResult& result) {
  result.latency_avg_us = result.latency_max_us = 0;
  result.latency_p99_us = std::numeric_limits<double>::quiet_NaN();
  for (const ThreadSnapshot& thread : streams.threads()) {
    result.latency_avg_us += thread.metrics.process_latency.avg * 1'000.0 / threads;
    result.latency_max_us =
        std::max(result.latency_max_us, thread.metrics.process_latency.max * 1'000.0);
  }
}

// One option set end to end, in this (child) process.
absl::StatusOr<CompareResult> RunOneEndToEnd(const CompareOptions& options,
                                             const std::string& set_path,
                                             const std::filesystem::path& state_dir) {
  WEIR_ASSIGN_OR_RETURN(fraud::FraudConfig fraud_config,
                        fraud::LoadFraudConfig(options.fraud_config));
  // The embedded broker keeps 5 MiB per partition: spread the input wide enough.
  const int32_t partitions =
      std::max<int32_t>(options.partitions, static_cast<int32_t>(options.records / 20'000 + 1));
  CompareResult result{.option_set = set_path};
  WEIR_ASSIGN_OR_RETURN(std::unique_ptr<EmbeddedBroker> broker,
                        ProduceInput(options, fraud_config, partitions, result));

  const AppConfig app = EndToEndConfig(options, set_path, broker->bootstrap_servers(), state_dir);
  const fraud::CardTokenizer tokenizer("weir-bench-compare");
  const Topology topology = fraud::BuildFraudTopology(fraud_config, tokenizer);
  WEIR_ASSIGN_OR_RETURN(RocksDbOptionSet set, LoadRocksDbOptionSet(set_path));
  WEIR_ASSIGN_OR_RETURN(result.planned_bytes,
                        PlannedBytes(app, set, topology, partitions, /*kafka_clients=*/true));
  // Here the process already holds the embedded broker's log of the whole input.
  result.baseline_rss_bytes = ReadResidentBytes();
  KafkaStreamsOptions streams_options;
  streams_options.create_topic = [&broker](const TopicSpec& t) { return broker->CreateTopic(t); };
  WEIR_ASSIGN_OR_RETURN(std::unique_ptr<KafkaStreams> streams,
                        KafkaStreams::Create(topology, app, std::move(streams_options)));
  WEIR_RETURN_IF_ERROR(streams->Start());
  WEIR_RETURN_IF_ERROR(SampleUntilProcessed(options, *streams, result));
  // Wait for a commit after the last record (its writes reach RocksDB), then for a metrics
  // publication after it (about every second).
  const auto commits = [&] { return SumOver(streams->threads(), &ThreadSnapshot::commits); };
  const int64_t commits_at_end = commits();
  WaitFor([&] { return commits() > commits_at_end; }, std::chrono::seconds(10));
  std::this_thread::sleep_for(std::chrono::milliseconds(1'100));  // the metrics' publication
  ThreadLatencies(*streams, options.threads, result);
  const TickerTotals t = Tickers(*streams);
  streams->Close();
  Finish(t, state_dir, result);
  return result;
}

}  // namespace

absl::StatusOr<std::vector<CompareResult>> RunCompare(const CompareOptions& options) {
  if (options.option_sets.empty()) {
    return absl::InvalidArgumentError("give at least one --options FILE");
  }
  if (options.threads != 1 && !options.end_to_end) {
    return absl::InvalidArgumentError(
        "--threads needs --end-to-end: in process, the test driver runs one thread");
  }
  // Check every input before the first child starts: a typo should not cost a whole run.
  WEIR_RETURN_IF_ERROR(fraud::LoadFraudConfig(options.fraud_config).status());
  for (const std::string& set : options.option_sets) {
    WEIR_RETURN_IF_ERROR(LoadRocksDbOptionSet(set).status());
  }
  std::vector<CompareResult> results;
  for (size_t i = 0; i < options.option_sets.size(); ++i) {
    const std::string& set = options.option_sets[i];
    const std::filesystem::path state =
        std::filesystem::path(options.state_root) /
        absl::StrCat(i, "-", std::filesystem::path(set).stem().string());
    std::error_code error;
    std::filesystem::remove_all(state, error);
    std::filesystem::create_directories(state, error);
    if (error) {
      return absl::InvalidArgumentError(
          absl::StrCat(state.string(), ": cannot create the state directory: ", error.message()));
    }
    std::fprintf(stderr, "[%zu/%zu] %s: %lld records over %lld cards, %d tasks...\n", i + 1,
                 options.option_sets.size(), set.c_str(), static_cast<long long>(options.records),
                 static_cast<long long>(options.cards), options.partitions);
    // Each set runs in a child of its own: its peak RSS is that run's alone.
    absl::StatusOr<std::string> text = RunForked([&]() -> absl::StatusOr<std::string> {
      absl::StatusOr<CompareResult> result =
          options.end_to_end ? RunOneEndToEnd(options, set, state) : RunOne(options, set, state);
      if (!result.ok()) return result.status();
      if (options.end_to_end) return CompareResultToJson(*result);
      // After weir's run, whose peak RSS is taken: RocksDB alone on the same work.
      std::fprintf(stderr, "[%zu/%zu] %s: RocksDB alone on the same reads and writes...\n", i + 1,
                   options.option_sets.size(), set.c_str());
      WEIR_ASSIGN_OR_RETURN(const RocksDbAloneResult six,
                            RunRocksDbAlone(options, set, state / "rocksdb-alone-six-windows",
                                            AloneLayout::kSixWindows));
      WEIR_ASSIGN_OR_RETURN(const RocksDbAloneResult one,
                            RunRocksDbAlone(options, set, state / "rocksdb-alone-one-value",
                                            AloneLayout::kOneValue));
      result->raw_rocksdb_records_per_s = six.records_per_s;
      result->raw_rocksdb_get_us_per_record = six.get_us_per_record;
      result->raw_rocksdb_one_value_records_per_s = one.records_per_s;
      result->raw_rocksdb_one_value_get_us_per_record = one.get_us_per_record;
      return CompareResultToJson(*result);
    });
    if (!text.ok()) {
      return absl::InternalError(absl::StrCat(set, ": the run failed: ", text.status().message()));
    }
    absl::StatusOr<CompareResult> result = CompareResultFromJson(*text);
    if (!result.ok()) {
      return absl::InternalError(
          absl::StrCat(set, ": the run reported no result: ", result.status().message()));
    }
    results.push_back(*std::move(result));
    std::fprintf(stderr, "[%zu/%zu] %s: %.0f records/s\n", i + 1, options.option_sets.size(),
                 set.c_str(), results.back().records_per_s);
  }
  return results;
}
}  // namespace weir::bench
