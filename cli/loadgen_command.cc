// `weir loadgen`: synthetic payments (topologies/payment_generator.h) to the payments topic at a
// target rate, reported the way kafka-producer-perf-test reports, or to a JSONL file.

#include <chrono>
#include <cstdio>
#include <fstream>
#include <map>
#include <memory>
#include <optional>
#include <vector>

#include <nlohmann/json.hpp>

#include "absl/strings/str_cat.h"
#include "absl/strings/str_format.h"
#include "bench/perf_producer.h"
#include "cli/commands.h"
#include "cli/shutdown_signal.h"
#include "common/clock.h"
#include "common/logging.h"
#include "common/status.h"
#include "engine/runtime/app_config.h"
#include "topologies/fraud_config.h"
#include "topologies/payment_generator.h"

namespace weir::cli {
namespace {

using Clock = std::chrono::steady_clock;

struct LoadgenFlags {
  ConfigFlags config;
  std::string topic;  // "" = the fraud config's payments topic
  double rate = -1;   // unset: 1,000/s to Kafka, as fast as possible to a file
  int64_t records = 0;
  double duration_s = 0;
  int64_t cards = 100'000;
  uint64_t seed = 1;
  double fraud_fraction = 0.01;
  double zipf = 0.6;
  int64_t start_ts = 0;  // 0 = now (to Kafka) or 1732269900000 (to a file)
  std::string truth;
  std::string output;
  double progress_interval_s = 5;
};

// Where the payments go: a JSONL file or a Kafka topic.
class Sink {
 public:
  virtual ~Sink() = default;
  virtual absl::Status Send(const fraud::GeneratedPayment& payment) = 0;
  // Serves callbacks for up to `timeout` (or returns at once for a file).
  virtual void Poll(std::chrono::milliseconds timeout) = 0;
  virtual absl::Status Finish() = 0;
};

class FileSink : public Sink {
 public:
  // Owns `out` unless it is stdout.
  FileSink(std::FILE* out, bench::PerfStats* stats) : out_(out), stats_(stats) {}
  ~FileSink() override {
    if (out_ != stdout) std::fclose(out_);
  }
  absl::Status Send(const fraud::GeneratedPayment& payment) override {
    if (std::fprintf(out_, "%s\n", payment.json.c_str()) < 0) {
      return absl::InternalError(absl::StrCat("cannot write the output: ", std::strerror(errno)));
    }
    stats_->Sent(payment.json.size() + 1);
    return absl::OkStatus();
  }
  void Poll(std::chrono::milliseconds timeout) override {
    if (timeout.count() > 0) WaitForShutdownSignal(timeout);
  }
  absl::Status Finish() override {
    if (std::fflush(out_) != 0) {
      return absl::InternalError(absl::StrCat("cannot write the output: ", std::strerror(errno)));
    }
    return absl::OkStatus();
  }

 private:
  std::FILE* out_;
  bench::PerfStats* stats_;
};

class KafkaSink : public Sink {
 public:
  explicit KafkaSink(std::unique_ptr<bench::PerfProducer> producer)
      : producer_(std::move(producer)) {}
  absl::Status Send(const fraud::GeneratedPayment& payment) override {
    return producer_->Send(payment.card, payment.json, payment.ts);
  }
  void Poll(std::chrono::milliseconds timeout) override { producer_->Poll(timeout); }
  absl::Status Finish() override { return producer_->Flush(); }

 private:
  std::unique_ptr<bench::PerfProducer> producer_;
};

absl::Status WriteTruth(std::FILE* truth, const std::vector<fraud::ExpectedAlert>& alerts) {
  for (const fraud::ExpectedAlert& a : alerts) {
    const nlohmann::ordered_json line = {
        {"rule", a.rule}, {"txn_id", a.txn_id}, {"card", a.masked_card}, {"ts", a.ts}};
    if (std::fprintf(truth, "%s\n", line.dump().c_str()) < 0) {
      return absl::InternalError(
          absl::StrCat("cannot write the ground truth: ", std::strerror(errno)));
    }
  }
  return absl::OkStatus();
}

// The records/s to send at: --rate, else 1,000/s to Kafka and as fast as possible to a file.
double Rate(const LoadgenFlags& flags) {
  return flags.rate >= 0 ? flags.rate : (flags.output.empty() ? 1'000 : 0);
}

absl::StatusOr<fraud::PaymentGenerator> NewGenerator(const LoadgenFlags& flags,
                                                     const fraud::FraudConfig& fraud_config) {
  const bool to_file = !flags.output.empty();
  const double rate = Rate(flags);
  return fraud::PaymentGenerator::Create(
      {.cards = flags.cards,
       .zipf_exponent = flags.zipf,
       .seed = flags.seed,
       .fraud_fraction = flags.fraud_fraction,
       // Event time follows the target rate; unthrottled runs pretend 1,000/s.
       .rate = rate > 0 ? rate : 1'000,
       .start_ms = flags.start_ts > 0
                       ? flags.start_ts
                       : (to_file ? fraud::PaymentGeneratorOptions{}.start_ms : WallClockMs())},
      fraud_config);
}

// The JSONL file of --output ("-": stdout), or the payments topic on config's brokers.
absl::StatusOr<std::unique_ptr<Sink>> OpenSink(const LoadgenFlags& flags, const AppConfig& config,
                                               const fraud::FraudConfig& fraud_config,
                                               bench::PerfStats* stats) {
  if (!flags.output.empty()) {
    std::FILE* out = flags.output == "-" ? stdout : std::fopen(flags.output.c_str(), "w");
    if (out == nullptr) {
      return absl::InvalidArgumentError(
          absl::StrCat(flags.output, ": cannot write the output: ", std::strerror(errno)));
    }
    return std::make_unique<FileSink>(out, stats);
  }
  if (config.bootstrap_servers.empty()) {
    return absl::InvalidArgumentError(
        "bootstrap.servers is empty: point it at a broker (e.g. start 'weir broker' and pass "
        "--set bootstrap.servers=<its address>), or write a file with --output");
  }
  const std::string topic = flags.topic.empty() ? fraud_config.payments_topic : flags.topic;
  // Java producers' partitioner (murmur2 of the key), as weir's own producers and `weir replay
  // --partitions` use, so a card lands on the partition they expect; and, as Java producers
  // since Kafka 3.0, idempotence: a retried batch (a leader moving, as on a real cluster just
  // after a topic is created) can then not overtake the batches after it, so a card's payments
  // arrive in the order they were made.
  std::map<std::string, std::string> common = {{"partitioner", "murmur2_random"},
                                               {"enable.idempotence", "true"}};
  for (const auto& [k, v] : config.kafka) common[k] = v;
  WEIR_ASSIGN_OR_RETURN(
      std::unique_ptr<bench::PerfProducer> producer,
      bench::PerfProducer::Create({.bootstrap_servers = config.bootstrap_servers,
                                   .common = std::move(common),
                                   .specific = config.producer},
                                  topic, stats));
  spdlog::info("producing payments to {} at {}", topic, config.bootstrap_servers);
  return std::make_unique<KafkaSink>(std::move(producer));
}

using File = std::unique_ptr<std::FILE, int (*)(std::FILE*)>;

// The --truth file, or none.
absl::StatusOr<File> OpenTruth(const LoadgenFlags& flags) {
  File truth(nullptr, &std::fclose);
  if (flags.truth.empty()) return truth;
  truth.reset(std::fopen(flags.truth.c_str(), "w"));
  if (truth == nullptr) {
    return absl::InvalidArgumentError(
        absl::StrCat(flags.truth, ": cannot write the ground truth: ", std::strerror(errno)));
  }
  return truth;
}

// How far a run is: what it has sent, and what the injected patterns it completed expect.
struct Sent {
  int64_t expected_alerts = 0;
  int signal = 0;  // the shutdown signal that stopped it, or 0
};

// Sends payments at the rate until --records, --duration or a shutdown signal, with a progress
// line every --progress-interval seconds.
absl::StatusOr<Sent> Generate(const LoadgenFlags& flags, fraud::PaymentGenerator& generator,
                              Sink& sink, std::FILE* truth, bench::PerfStats& stats,
                              Clock::time_point start) {
  const bool to_file = !flags.output.empty();
  const double rate = Rate(flags);
  // To Kafka without --start-ts, each payment is stamped with its send time, so the stream
  // never runs ahead of the wall clock (and end-to-end latency means what it says).
  const bool stamp_send_time = !to_file && flags.start_ts <= 0;
  const int64_t records = flags.records > 0 || flags.duration_s > 0 ? flags.records : 100'000;
  const std::optional<Clock::time_point> until =
      flags.duration_s > 0
          ? std::optional(start + std::chrono::duration_cast<Clock::duration>(
                                      std::chrono::duration<double>(flags.duration_s)))
          : std::nullopt;
  auto last_report = start;
  Sent sent;
  for (int64_t i = 0; (records <= 0 || i < records) && sent.signal == 0; ++i) {
    if (rate > 0) {  // throttle: record i leaves at start + i / rate
      const auto due = start + std::chrono::duration_cast<Clock::duration>(
                                   std::chrono::duration<double>(static_cast<double>(i) / rate));
      const auto ahead = std::chrono::duration_cast<std::chrono::milliseconds>(due - Clock::now());
      if (ahead.count() >= 1) sink.Poll(ahead);
    }
    const auto now = Clock::now();
    if (until.has_value() && now >= *until) break;
    if (i % 1'000 == 0) {
      sent.signal = WaitForShutdownSignal(std::chrono::milliseconds(0));
      if (!to_file) sink.Poll(std::chrono::milliseconds(0));
    }
    WEIR_RETURN_IF_ERROR(
        sink.Send(stamp_send_time ? generator.Next(WallClockMs()) : generator.Next()));
    const std::vector<fraud::ExpectedAlert> completed = generator.TakeExpected();
    sent.expected_alerts += static_cast<int64_t>(completed.size());
    if (truth != nullptr) WEIR_RETURN_IF_ERROR(WriteTruth(truth, completed));
    const double window_s = std::chrono::duration<double>(now - last_report).count();
    if (flags.progress_interval_s > 0 && window_s >= flags.progress_interval_s) {
      if (to_file) {  // no acknowledgements, so no latency: progress only
        std::fprintf(stderr, "%lld records written.\n", static_cast<long long>(stats.sent()));
      } else {
        stats.PrintWindow(window_s);
      }
      last_report = now;
    }
  }
  return sent;
}

absl::Status Loadgen(const LoadgenFlags& flags) {
  WEIR_ASSIGN_OR_RETURN(AppConfig config, LoadAppConfig(flags.config.path, flags.config.overrides));
  WEIR_ASSIGN_OR_RETURN(fraud::FraudConfig fraud_config,
                        fraud::LoadFraudConfig(config.topology_config));
  bench::PerfStats stats;
  WEIR_ASSIGN_OR_RETURN(std::unique_ptr<Sink> sink,
                        OpenSink(flags, config, fraud_config, &stats));
  WEIR_ASSIGN_OR_RETURN(fraud::PaymentGenerator generator, NewGenerator(flags, fraud_config));
  WEIR_ASSIGN_OR_RETURN(File truth, OpenTruth(flags));

  const auto start = Clock::now();
  WEIR_ASSIGN_OR_RETURN(const Sent sent,
                        Generate(flags, generator, *sink, truth.get(), stats, start));
  if (sent.signal != 0) {
    spdlog::info("signal {}: stopping after {} records", sent.signal, stats.sent());
  }
  WEIR_RETURN_IF_ERROR(sink->Finish());
  const double seconds = std::chrono::duration<double>(Clock::now() - start).count();
  if (!flags.output.empty()) {
    stats.PrintWritten(seconds);
  } else {
    stats.PrintTotal(seconds);
  }
  std::fprintf(stderr,
               "injected patterns: VELOCITY=%lld GEO_HOP=%lld HIGH_SPEND=%lld; %lld completed, "
               "whose alerts are expected%s%s\n",
               static_cast<long long>(generator.patterns_injected("VELOCITY")),
               static_cast<long long>(generator.patterns_injected("GEO_HOP")),
               static_cast<long long>(generator.patterns_injected("HIGH_SPEND")),
               static_cast<long long>(sent.expected_alerts), flags.truth.empty() ? "" : " (in ",
               flags.truth.empty() ? "" : absl::StrCat(flags.truth, ")").c_str());
  return absl::OkStatus();
}

}  // namespace

void AddLoadgenCommand(CLI::App& app, int* exit_code) {
  auto flags = std::make_shared<LoadgenFlags>();
  CLI::App* command = app.add_subcommand(
      "loadgen", "Produce synthetic payments, with injected fraud, at a target rate");
  AddConfigFlags(*command, flags->config, "config/weir.yaml");
  command->add_option("--topic", flags->topic,
                      "Topic (default: the fraud config's payments topic)");
  command
      ->add_option("--rate", flags->rate,
                   "Records per second; 0 = as fast as possible (default: 1000 to Kafka, as fast "
                   "as possible to a file)")
      ->check(NonNegative());
  command
      ->add_option("--records", flags->records,
                   "Records to send (default 100000 unless --duration is given)")
      ->check(Positive());
  command->add_option("--duration", flags->duration_s, "Seconds to run (ends earlier at --records)")
      ->check(Positive());
  command->add_option("--cards", flags->cards, "Background card population")
      ->check(Positive())
      ->capture_default_str();
  command->add_option("--seed", flags->seed, "Random seed: same seed, same payments")
      ->capture_default_str();
  command
      ->add_option("--fraud-fraction", flags->fraud_fraction,
                   "Fraction of payments that belong to injected fraud patterns")
      ->check(InRange(0.0, 0.5))
      ->capture_default_str();
  command
      ->add_option("--zipf", flags->zipf,
                   "Zipf exponent of card activity (0 = uniform; larger = busier hot cards)")
      ->check(InRange(0.0, 3.0))
      ->capture_default_str();
  command->add_option("--start-ts", flags->start_ts,
                      "Event time of the first payment, epoch ms; later ones follow --rate "
                      "(default: to Kafka each payment carries its send time; to a file "
                      "1732269900000, then 1 ms apart when unthrottled)");
  command->add_option("--truth", flags->truth,
                      "Write the alerts the injected patterns must raise here (JSONL: rule, "
                      "txn_id, masked card, ts)");
  command->add_option("-o,--output", flags->output,
                      "Write payments to this JSONL file ('-' = stdout) instead of Kafka, e.g. "
                      "for 'weir replay'");
  command
      ->add_option("--progress-interval", flags->progress_interval_s,
                   "Seconds between progress lines; 0 turns them off")
      ->check(NonNegative())
      ->capture_default_str();
  command->footer(
      "Payments: Zipf-distributed card activity over --cards cards, log-normal amounts (median\n"
      "about 33.00), weighted home countries (DE, FR, GB, US, NL, ES) and Zipf merchants. "
      "Injected\n"
      "fraud, each pattern on a card of its own: velocity bursts (rules.velocity.count payments\n"
      "1 s apart), geo hops (two countries 20 s apart) and high spends (three payments reaching\n"
      "rules.high_spend.amount). Key = card number, value = payment JSON (docs/fraud.md),\n"
      "partitioned by murmur2 of the key as Java producers and weir itself do.\n"
      "Busy background cards raise alerts of their own (the default 1000/s over 100000 cards\n"
      "at Zipf 0.6 gives the busiest card ~4 payments/s): raise --cards or lower --zipf for a\n"
      "quieter background.\n"
      "Reports like kafka-producer-perf-test: records/s, MB/s, average, max and percentile\n"
      "latency from send to acknowledgement.\n\n"
      "Examples:\n"
      "  weir loadgen --set bootstrap.servers=127.0.0.1:9092 --rate 5000 --duration 60\n"
      "  weir loadgen --records 1000000 --rate 0 --output payments.jsonl --truth truth.jsonl\n");
  command->callback([flags, exit_code] { ReportOutcome("loadgen", Loadgen(*flags), exit_code); });
}

}  // namespace weir::cli
