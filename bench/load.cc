#include "bench/load.h"

#include <unistd.h>

#include <algorithm>
#include <atomic>
#include <chrono>
#include <filesystem>
#include <mutex>
#include <nlohmann/json.hpp>
#include <optional>
#include <thread>

#include "absl/cleanup/cleanup.h"
#include "absl/strings/match.h"
#include "absl/strings/str_cat.h"
#include "absl/strings/str_format.h"
#include "bench/client_perf.h"
#include "bench/hop_clock.h"
#include "bench/measure.h"
#include "bench/perf_producer.h"
#include "common/clock.h"
#include "common/logging.h"
#include "common/status.h"
#include "common/subprocess.h"
#include "engine/kafka/embedded_broker.h"
#include "engine/kafka/kafka_status.h"
#include "engine/kafka/topic_admin.h"
#include "engine/runtime/kafka_streams.h"
#include "topologies/fraud_config.h"
#include "topologies/fraud_topology.h"
#include "topologies/payment_generator.h"

namespace weir::bench {
namespace {

using Clock = std::chrono::steady_clock;

constexpr const char* kWarmUp = "warm-up";

int64_t Processed(const KafkaStreams& streams) {
  return SumOver(streams.threads(), &ThreadSnapshot::processed);
}

// Reads the alerts topic on its own thread and keeps each alert's payment-to-alert latency.
class AlertTimer {
 public:
  static absl::StatusOr<std::unique_ptr<AlertTimer>> Start(const AppConfig& app,
                                                           const std::string& topic, HopClock* hops,
                                                           bool on_embedded_broker) {
    ClientProperties properties{.bootstrap_servers = app.bootstrap_servers, .common = app.kafka};
    properties.specific = {{"group.id", absl::StrCat("weir-bench-load-alerts-", getpid())},
                           {"auto.offset.reset", "earliest"},
                           {"enable.auto.commit", "false"}};
    // As weir's own consumers there: the embedded broker does not cut a fetch's wait short.
    if (on_embedded_broker) properties.specific["fetch.wait.max.ms"] = "10";
    WEIR_ASSIGN_OR_RETURN(KafkaConf conf, BuildKafkaConf(properties, ClientKind::kConsumer));
    auto timer = std::unique_ptr<AlertTimer>(new AlertTimer);
    timer->hops_ = hops;
    WEIR_ASSIGN_OR_RETURN(timer->consumer_, NewKafkaClient(std::move(conf), ClientKind::kConsumer));
    rd_kafka_topic_partition_list_t* list = rd_kafka_topic_partition_list_new(1);
    rd_kafka_topic_partition_list_add(list, topic.c_str(), RD_KAFKA_PARTITION_UA);
    const absl::Status subscribed =
        KafkaStatus(rd_kafka_subscribe(timer->consumer_.get(), list), "subscribing to alerts");
    rd_kafka_topic_partition_list_destroy(list);
    WEIR_RETURN_IF_ERROR(subscribed);
    timer->thread_ = std::thread([t = timer.get()] { t->Run(); });
    return timer;
  }
  ~AlertTimer() {
    stop_ = true;
    if (thread_.joinable()) thread_.join();
    rd_kafka_consumer_close(consumer_.get());
  }
  bool assigned() const { return assigned_; }
  // (payment timestamp, latency ms) of every alert read so far.
  std::vector<std::pair<int64_t, double>> Latencies() {
    std::lock_guard<std::mutex> lock(mutex_);
    return latencies_;
  }

 private:
  AlertTimer() = default;
  void Run() {
    while (!stop_) {
      rd_kafka_message_t* m = rd_kafka_consumer_poll(consumer_.get(), 100);
      if (!assigned_) {
        rd_kafka_topic_partition_list_t* assignment = nullptr;
        if (rd_kafka_assignment(consumer_.get(), &assignment) == RD_KAFKA_RESP_ERR_NO_ERROR) {
          assigned_ = assignment->cnt > 0;
          rd_kafka_topic_partition_list_destroy(assignment);
        }
      }
      if (m == nullptr) continue;
      const int64_t now = WallClockMs();
      if (m->err == RD_KAFKA_RESP_ERR_NO_ERROR && m->payload != nullptr) {
        const nlohmann::json alert =
            nlohmann::json::parse(static_cast<const char*>(m->payload),
                                  static_cast<const char*>(m->payload) + m->len, nullptr, false);
        if (!alert.is_discarded() && alert.contains("ts")) {
          const int64_t ts = alert["ts"].get<int64_t>();
          hops_->AlertRead(alert.value("alert_id", ""), alert.value("txn_id", ""), ts);
          std::lock_guard<std::mutex> lock(mutex_);
          latencies_.emplace_back(ts, static_cast<double>(now - ts));
        }
      }
      rd_kafka_message_destroy(m);
    }
  }

  HopClock* hops_ = nullptr;
  KafkaHandle consumer_;
  std::thread thread_;
  std::atomic<bool> stop_{false};
  std::atomic<bool> assigned_{false};
  std::mutex mutex_;
  std::vector<std::pair<int64_t, double>> latencies_;
};

// Samples the instance's processed count every 100 ms: the lag (produced - processed, its
// maximum since the last TakeMax()) and the processing rate between two counts.
class LagSampler {
 public:
  LagSampler(const KafkaStreams& streams, const std::atomic<int64_t>& produced)
      : streams_(streams), produced_(produced), thread_([this] { Run(); }) {}
  ~LagSampler() {
    stop_ = true;
    thread_.join();
  }
  int64_t TakeMax() { return max_.exchange(0); }
  // Records per second while the processed count went from `from` to `to`: the slope between
  // the first samples at or past each, so the pipeline's latency does not count as slowness.
  double RateBetween(int64_t from, int64_t to) {
    std::lock_guard<std::mutex> lock(mutex_);
    std::optional<std::pair<Clock::time_point, int64_t>> first, last;
    for (const auto& sample : samples_) {
      if (!first && sample.second >= from) first = sample;
      if (!last && sample.second >= to) last = sample;
    }
    if (!first || !last || last->first <= first->first) return 0;
    return static_cast<double>(last->second - first->second) /
           std::chrono::duration<double>(last->first - first->first).count();
  }

 private:
  void Run() {
    while (!stop_) {
      const int64_t processed = Processed(streams_);
      {
        std::lock_guard<std::mutex> lock(mutex_);
        samples_.emplace_back(Clock::now(), processed);
      }
      const int64_t lag = std::max<int64_t>(produced_.load() - processed, 0);
      int64_t seen = max_.load();
      while (lag > seen && !max_.compare_exchange_weak(seen, lag)) {
      }
      std::this_thread::sleep_for(std::chrono::milliseconds(100));  // the sampling period
    }
  }
  const KafkaStreams& streams_;
  const std::atomic<int64_t>& produced_;
  std::atomic<bool> stop_{false};
  std::atomic<int64_t> max_{0};
  std::mutex mutex_;
  std::vector<std::pair<Clock::time_point, int64_t>> samples_;
  std::thread thread_;  // last: starts once the members above exist
};

}  // namespace

const config::Schema<LoadTestConfig>& LoadTestConfigSchema() {
  using L = LoadTestConfig;
  static const auto* schema =
      &(*new config::Schema<LoadTestConfig>())
           .Int("peak.rate", &L::peak_rate, 1, 10'000'000,
                "Payments per second the service must handle at peak; the burst phase sends "
                "twice this.")
           .Int("warmup.records", &L::warmup_records, 0, 1'000'000'000,
                "Payments sent at the peak rate before phase 1: reported, not judged (the "
                "start's one-off costs, such as the first commit, fall in it). 0: none.")
           .Int("sustained.records", &L::sustained_records, 1, 1'000'000'000,
                "Payments sent at the peak rate (phase 1).")
           .Int("burst.records", &L::burst_records, 1, 1'000'000'000,
                "Payments sent at twice the peak rate (phase 2).")
           .Int("sla.p99.ms", &L::sla_p99_ms, 1, 3'600'000,
                "Service level: 99th percentile of payment-to-alert latency, ms.")
           .Int("max.lag.records", &L::max_lag_records, 0, 1'000'000'000,
                "Most records allowed to wait in the application (produced, not yet processed) "
                "at any moment.")
           .Int("cards", &L::cards, 1, 100'000'000, "Card population of the generated payments.")
           .Int("partitions", &L::partitions, 1, 1'000,
                "Partitions of the payments topic the run creates (the alerts and dead-letter "
                "topics get 4).");
  return *schema;
}

absl::StatusOr<LoadTestConfig> LoadLoadTestConfig(const std::string& path) {
  LoadTestConfig config;
  config::Provenance provenance;
  WEIR_RETURN_IF_ERROR(LoadTestConfigSchema().LoadFile(path, config, &provenance));
  return config;
}

bool LoadTestReport::all_pass() const {
  return std::all_of(verdicts.begin(), verdicts.end(), [](const Verdict& v) { return v.pass; });
}

namespace {

// The run's topics: on an embedded broker started here, or on the cluster, named after the run
// (so it never touches a real application's data) and deleted at the end through `admin`.
struct RunTopics {
  std::unique_ptr<EmbeddedBroker> embedded;
  KafkaHandle admin;  // on a real cluster
};

absl::StatusOr<RunTopics> CreateRunTopics(AppConfig& app, fraud::FraudConfig& fraud,
                                          const LoadTestConfig& load,
                                          KafkaStreamsOptions& options) {
  RunTopics run;
  const int32_t partitions = static_cast<int32_t>(load.partitions);
  if (app.bootstrap_servers.empty()) {
    WEIR_ASSIGN_OR_RETURN(run.embedded, EmbeddedBroker::Start(1));
    EmbeddedBroker* broker = run.embedded.get();
    app.bootstrap_servers = broker->bootstrap_servers();
    WEIR_RETURN_IF_ERROR(
        broker->CreateTopic({.name = fraud.payments_topic, .partitions = partitions}));
    for (const std::string& topic : {fraud.alerts_topic, fraud.dlq_topic}) {
      WEIR_RETURN_IF_ERROR(broker->CreateTopic({.name = topic, .partitions = 4}));
    }
    options.create_topic = [broker](const TopicSpec& t) { return broker->CreateTopic(t); };
    spdlog::info("embedded broker at {}", app.bootstrap_servers);
    return run;
  }
  for (std::string* topic : {&fraud.payments_topic, &fraud.alerts_topic, &fraud.dlq_topic}) {
    *topic = absl::StrCat(app.application_id, "-", *topic);
  }
  WEIR_ASSIGN_OR_RETURN(KafkaConf conf, BuildKafkaConf({.bootstrap_servers = app.bootstrap_servers,
                                                        .common = app.kafka,
                                                        .specific = app.admin},
                                                       ClientKind::kAdmin));
  WEIR_ASSIGN_OR_RETURN(run.admin, NewKafkaClient(std::move(conf), ClientKind::kAdmin));
  WEIR_RETURN_IF_ERROR(CreateTopics(run.admin.get(),
                                    {{.name = fraud.payments_topic, .partitions = partitions},
                                     {.name = fraud.alerts_topic, .partitions = 4},
                                     {.name = fraud.dlq_topic, .partitions = 4}},
                                    static_cast<int>(app.replication_factor)));
  spdlog::info("cluster at {}: topics {}, {} and {} for this run", app.bootstrap_servers,
               fraud.payments_topic, fraud.alerts_topic, fraud.dlq_topic);
  return run;
}

// Deletes the topics named `<application_id>-*` (the run's own and its internal ones).
void DeleteRunTopics(rd_kafka_t* admin, const std::string& application_id) {
  absl::StatusOr<std::map<std::string, int32_t>> counts = PartitionCounts(admin);
  std::vector<std::string> topics;
  if (counts.ok()) {
    for (const auto& [name, partitions] : *counts) {
      if (absl::StartsWith(name, absl::StrCat(application_id, "-"))) topics.push_back(name);
    }
  }
  absl::Status deleted = counts.ok() ? DeleteTopics(admin, topics) : counts.status();
  if (deleted.ok()) {
    spdlog::info("deleted this run's {} topics", topics.size());
  } else {
    spdlog::warn("could not delete this run's topics ({}*): {}", application_id, deleted.message());
  }
}

// The phases: the warm-up takes the start's one-off costs (the first commit, caches filling) out
// of the judged phases; it is reported, not judged.
struct Phase {
  const char* name;
  int64_t multiple;  // of the peak rate
  int64_t records;
  uint64_t seed;
};

std::vector<Phase> Phases(const LoadTestConfig& load) {
  std::vector<Phase> phases = {{kWarmUp, 1, load.warmup_records, 3},
                               {"sustained", 1, load.sustained_records, 1},
                               {"burst", 2, load.burst_records, 2}};
  if (load.warmup_records == 0) phases.erase(phases.begin());
  return phases;
}

// What a phase's run needs: the instance, the producer and what was produced, the lag sampler.
struct PhaseRunner {
  KafkaStreams& streams;
  PerfProducer& producer;
  std::atomic<int64_t>& produced;
  LagSampler& lag;
  const fraud::FraudConfig& fraud;
  const LoadTestConfig& load;

  // Sends the phase's payments at its rate, waits for the instance to process them, and returns
  // the phase's rates and largest lag (its latencies come later, from the alerts).
  absl::StatusOr<PhaseResult> Run(const Phase& phase, int64_t start_ms) {
    const double rate = static_cast<double>(load.peak_rate * phase.multiple);
    WEIR_ASSIGN_OR_RETURN(fraud::PaymentGenerator generator,
                          fraud::PaymentGenerator::Create({.cards = load.cards,
                                                           .seed = phase.seed,
                                                           .fraud_fraction = 0.01,
                                                           .rate = rate,
                                                           .start_ms = start_ms},
                                                          fraud));
    spdlog::info("phase {}: {} payments at {:.0f}/s", phase.name, phase.records, rate);
    const auto start = Clock::now();
    const int64_t before = produced.load();
    for (int64_t i = 0; i < phase.records; ++i) {
      const auto due = start + std::chrono::duration_cast<Clock::duration>(
                                   std::chrono::duration<double>(static_cast<double>(i) / rate));
      const auto ahead = std::chrono::duration_cast<std::chrono::milliseconds>(due - Clock::now());
      if (ahead.count() >= 1) producer.Poll(ahead);
      const fraud::GeneratedPayment p = generator.Next();
      WEIR_RETURN_IF_ERROR(producer.Send(p.card, p.json, p.ts));
      ++produced;
    }
    WEIR_RETURN_IF_ERROR(producer.Flush());
    absl::Status threads;
    WaitFor(
        [&] {
          threads = streams.CheckThreads();
          return !threads.ok() || Processed(streams) >= produced.load();
        },
        std::chrono::seconds(300));
    WEIR_RETURN_IF_ERROR(threads);
    std::this_thread::sleep_for(std::chrono::milliseconds(200));  // a sample past the end
    return PhaseResult{
        .name = phase.name,
        .records = produced.load() - before,
        .offered_rate = rate,
        // Between 10% and 100% of the phase's records processed.
        .processed_rate = lag.RateBetween(before + phase.records / 10, before + phase.records),
        .max_lag = lag.TakeMax()};
  }
};

// Each phase's alerts and latencies: payment to alert, and hop by hop. Returns the latencies of
// the judged phases (all but the warm-up).
std::vector<double> TimePhases(LoadTestReport& report, const std::vector<int64_t>& starts_ms,
                               const std::vector<std::pair<int64_t, double>>& latencies,
                               const std::vector<HopClock::Alert>& timed) {
  std::vector<double> judged;
  for (size_t i = 0; i < report.phases.size(); ++i) {
    const auto in_phase = [&](int64_t ms) {
      return ms >= starts_ms[i] && (i + 1 >= starts_ms.size() || ms < starts_ms[i + 1]);
    };
    PhaseResult& phase = report.phases[i];
    std::vector<double> phase_latencies;
    for (const auto& [ts, latency] : latencies) {
      if (in_phase(ts)) phase_latencies.push_back(latency);
    }
    phase.alerts = static_cast<int64_t>(phase_latencies.size());
    phase.latency_p50_ms = Percentile(phase_latencies, 0.5);
    phase.latency_p99_ms = Percentile(phase_latencies, 0.99);
    for (int hop = 0; hop < HopClock::kHopCount; ++hop) {
      std::vector<double> values;
      for (const HopClock::Alert& a : timed) {
        if (in_phase(a.due_ms)) values.push_back(a.hops_ms[hop]);
      }
      phase.timed_alerts = static_cast<int64_t>(values.size());
      phase.hop_p50_ms[hop] = Percentile(values, 0.5);
      phase.hop_p99_ms[hop] = Percentile(values, 0.99);
    }
    if (phase.name != kWarmUp) {
      judged.insert(judged.end(), phase_latencies.begin(), phase_latencies.end());
    }
  }
  return judged;
}

// The readiness checks: the burst processed at 2x peak, p99 under the SLA, lag under threshold.
std::vector<Verdict> Verdicts(const LoadTestConfig& load, const LoadTestReport& report,
                              const std::vector<double>& judged_latencies) {
  const PhaseResult& burst = report.phases.back();
  const double p99 = Percentile(judged_latencies, 0.99);
  int64_t max_lag = 0;
  for (const PhaseResult& p : report.phases) {
    if (p.name != kWarmUp) max_lag = std::max(max_lag, p.max_lag);
  }
  return {
      {"throughput >= 2x peak", absl::StrFormat("burst processed at %.0f/s", burst.processed_rate),
       absl::StrFormat(">= %.0f/s (95%% of %d offered)", 0.95 * 2 * load.peak_rate,
                       2 * load.peak_rate),
       burst.processed_rate >= 0.95 * 2 * static_cast<double>(load.peak_rate)},
      {"p99 latency under SLA",
       absl::StrFormat("%.0f ms over %d alerts", p99, judged_latencies.size()),
       absl::StrFormat("<= %d ms", load.sla_p99_ms),
       !judged_latencies.empty() && p99 <= static_cast<double>(load.sla_p99_ms)},
      {"consumer lag under threshold", absl::StrFormat("max %d records", max_lag),
       absl::StrFormat("<= %d records", load.max_lag_records), max_lag <= load.max_lag_records}};
}

}  // namespace

absl::StatusOr<LoadTestReport> RunLoadTest(AppConfig app, const std::string& fraud_config_path,
                                           const LoadTestConfig& load) {
  WEIR_ASSIGN_OR_RETURN(fraud::FraudConfig fraud, fraud::LoadFraudConfig(fraud_config_path));
  // Its own application id, state and (on a real cluster) topics, so a run never touches a real
  // application's group, state or data.
  app.application_id = absl::StrCat(app.application_id, "-loadtest-", getpid());
  const std::filesystem::path state =
      std::filesystem::temp_directory_path() / absl::StrCat("weir-bench-load-", getpid());
  app.state_dir = state.string();
  KafkaStreamsOptions options;
  WEIR_ASSIGN_OR_RETURN(RunTopics topics, CreateRunTopics(app, fraud, load, options));
  // Runs after every client of the run has closed (declared before them).
  auto delete_topics = absl::MakeCleanup([&topics, &app] {
    if (topics.admin != nullptr) DeleteRunTopics(topics.admin.get(), app.application_id);
  });
  HopClock hops(fraud.payments_topic, fraud.alerts_topic);
  options.configure_client = [&hops](rd_kafka_conf_t* conf, ClientKind) { hops.Intercept(conf); };
  const fraud::CardTokenizer tokenizer("weir-bench-load");
  WEIR_ASSIGN_OR_RETURN(
      std::unique_ptr<KafkaStreams> streams,
      KafkaStreams::Create(fraud::BuildFraudTopology(fraud, tokenizer), app, std::move(options)));
  WEIR_RETURN_IF_ERROR(streams->Start());
  WEIR_ASSIGN_OR_RETURN(std::unique_ptr<AlertTimer> alerts,
                        AlertTimer::Start(app, fraud.alerts_topic, &hops,
                                          /*on_embedded_broker=*/topics.embedded != nullptr));
  if (!WaitFor([&] { return streams->Ready() && alerts->assigned(); }, std::chrono::seconds(90),
               std::chrono::milliseconds(100))) {
    return absl::DeadlineExceededError("the instance was not ready in 90 s");
  }
  spdlog::info("instance ready: {} stream threads", app.num_stream_threads);

  PerfStats producer_stats;
  WEIR_ASSIGN_OR_RETURN(std::unique_ptr<PerfProducer> producer,
                        PerfProducer::Create({.bootstrap_servers = app.bootstrap_servers,
                                              .common = app.kafka,
                                              .specific = {{"batch.size", "65536"},
                                                           // As weir's own producer
                                                           // (config/weir.yaml).
                                                           {"linger.ms", "5"},
                                                           {"compression.type", "lz4"},
                                                           {"acks", "all"},
                                                           {"enable.idempotence", "true"}}},
                                             fraud.payments_topic, &producer_stats,
                                             [&hops](rd_kafka_conf_t* c) { hops.Intercept(c); }));
  std::atomic<int64_t> produced{0};
  auto sampler = std::make_unique<LagSampler>(*streams, produced);
  PhaseRunner runner{*streams, *producer, produced, *sampler, fraud, load};
  LoadTestReport report;
  std::vector<int64_t> phase_starts_ms;
  for (const Phase& phase : Phases(load)) {
    phase_starts_ms.push_back(WallClockMs());
    WEIR_ASSIGN_OR_RETURN(PhaseResult result, runner.Run(phase, phase_starts_ms.back()));
    report.phases.push_back(std::move(result));
  }
  std::this_thread::sleep_for(std::chrono::seconds(2));  // trailing alerts in flight (linger)
  const std::vector<std::pair<int64_t, double>> latencies = alerts->Latencies();
  alerts.reset();
  const std::vector<double> judged = TimePhases(report, phase_starts_ms, latencies, hops.Alerts());

  spdlog::info("phase consumer: reading {} payments back", produced.load());
  WEIR_ASSIGN_OR_RETURN(
      ConsumeTotals consumed,
      ConsumeThroughput({.bootstrap_servers = app.bootstrap_servers,
                         .common = app.kafka,
                         .specific = {{"group.id", absl::StrCat("weir-bench-load-read-", getpid())},
                                      {"enable.auto.commit", "false"},
                                      {"fetch.min.bytes", "1048576"},
                                      {"fetch.wait.max.ms", "100"}}},
                        fraud.payments_topic, produced.load()));
  report.consumer_records_per_s = consumed.messages / consumed.seconds;
  report.consumer_mb_per_s = consumed.bytes / consumed.seconds / (1 << 20);
  sampler.reset();  // it reads the instance
  streams->Close();
  streams.reset();
  std::error_code ignored;
  std::filesystem::remove_all(state, ignored);
  report.verdicts = Verdicts(load, report, judged);
  return report;
}

std::string FormatReport(const LoadTestConfig& load, const LoadTestReport& report) {
  std::string out = absl::StrFormat(
      "Peak %d payments/s; SLA p99 %d ms; lag threshold %d records.\n\n"
      "| phase | payments | offered/s | processed/s | alerts | p50 ms | p99 ms | max lag |\n"
      "|---|---|---|---|---|---|---|---|\n",
      load.peak_rate, load.sla_p99_ms, load.max_lag_records);
  for (const PhaseResult& p : report.phases) {
    absl::StrAppendFormat(&out, "| %s | %d | %.0f | %.0f | %d | %.0f | %.0f | %d |\n", p.name,
                          p.records, p.offered_rate, p.processed_rate, p.alerts, p.latency_p50_ms,
                          p.latency_p99_ms, p.max_lag);
  }
  absl::StrAppendFormat(&out, "| consumer | - | - | %.0f (%.2f MB/s) | - | - | - | - |\n\n",
                        report.consumer_records_per_s, report.consumer_mb_per_s);
  absl::StrAppend(&out, "Per hop, p50 / p99 ms (alerts timed at every hop):\n\n| phase | alerts |");
  for (const char* hop : HopClock::kHops) absl::StrAppend(&out, " ", hop, " |");
  absl::StrAppend(&out, "\n|---|---|---|---|---|---|---|\n");
  for (const PhaseResult& p : report.phases) {
    absl::StrAppendFormat(&out, "| %s | %d |", p.name, p.timed_alerts);
    for (int hop = 0; hop < HopClock::kHopCount; ++hop) {
      absl::StrAppendFormat(&out, " %.1f / %.1f |", p.hop_p50_ms[hop], p.hop_p99_ms[hop]);
    }
    absl::StrAppend(&out, "\n");
  }
  absl::StrAppend(&out, "\n| check | measured | target | verdict |\n|---|---|---|---|\n");
  for (const Verdict& v : report.verdicts) {
    absl::StrAppendFormat(&out, "| %s | %s | %s | %s |\n", v.check, v.measured, v.target,
                          v.pass ? "PASS" : "FAIL");
  }
  return out;
}

}  // namespace weir::bench
