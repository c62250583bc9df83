// `weir replay`: the fraud topology over a JSONL file, in process, without a broker.
#include <algorithm>
#include <chrono>
#include <cstdio>
#include <fstream>
#include <map>
#include <vector>

#include "absl/strings/str_cat.h"
#include "bench/measure.h"
#include "cli/commands.h"
#include "common/logging.h"
#include "common/status.h"
#include "engine/http/query_service.h"
#include "engine/runtime/app_config.h"
#include "engine/runtime/test_driver.h"
#include "topologies/fraud_topology.h"

namespace weir::cli {
namespace {

struct ReplayFlags {
  ConfigFlags config;
  std::string input;
  std::string output = "-";
  int partitions = 1;
  std::string query;    // <view>/<windows|key>
  std::string queries;  // request bodies, one JSON object per line
  std::string answers = "-";
};

// The "rule" of an alert the fraud topology wrote (docs/fraud.md: its rule names need no
// escaping), without parsing the whole alert.
std::string RuleOf(absl::string_view alert) {
  constexpr absl::string_view kRule = "\"rule\":\"";
  const size_t at = alert.find(kRule);
  if (at == absl::string_view::npos) return "?";
  const size_t start = at + kRule.size();
  const size_t end = alert.find('"', start);
  return end == absl::string_view::npos ? "?" : std::string(alert.substr(start, end - start));
}

// Answers each body of `queries` as POST /state/<flags.query> would on a running instance
// holding this state, one JSON answer per line.
absl::Status AnswerQueries(const Topology& topology, const TopologyTestDriver& driver,
                           const ReplayFlags& flags, std::ifstream& queries) {
  FILE* out = flags.answers == "-" ? stdout : std::fopen(flags.answers.c_str(), "w");
  if (out == nullptr) {
    return absl::InvalidArgumentError(
        absl::StrCat(flags.answers, ": cannot write the answers: ", std::strerror(errno)));
  }
  const QueryService service(topology, driver, flags.partitions);
  std::string body;
  int64_t line = 0;
  absl::Status status;
  while (status.ok() && std::getline(queries, body)) {
    ++line;
    if (body.empty()) continue;
    const HttpReply reply =
        service.Handle({.method = "POST", .path = absl::StrCat("/state/", flags.query),
                        .body = body});
    if (reply.status != 200) {
      status = absl::InvalidArgumentError(
          absl::StrCat(flags.queries, ":", line, ": ", reply.status, " ", reply.body));
    } else {
      std::fprintf(out, "%s", reply.body.c_str());
    }
  }
  if (out != stdout) std::fclose(out);
  return status;
}

// What a replay counted, and how long each payment took through the topology.
struct ReplayCounts {
  int64_t records = 0;
  int64_t dead_letters = 0;
  std::map<std::string, int64_t> alerts_by_rule;
  std::vector<float> latencies_us;
  double seconds = 0;
};

// Pipes every payment of `in` (keyed by its card number, as a producer of the payments topic
// would key it) through `driver`, writing the alerts to `out` as they come.
absl::StatusOr<ReplayCounts> ReplayPayments(TopologyTestDriver& driver, std::ifstream& in,
                                            std::FILE* out,
                                            const fraud::FraudConfig& fraud_config) {
  ReplayCounts counts;
  const auto start = std::chrono::steady_clock::now();
  const auto drain = [&] {
    for (const OutputRecord& alert : driver.ReadOutput(fraud_config.alerts_topic)) {
      std::fprintf(out, "%s\n", alert.record.value->c_str());
      ++counts.alerts_by_rule[RuleOf(*alert.record.value)];
    }
    counts.dead_letters += static_cast<int64_t>(driver.ReadOutput(fraud_config.dlq_topic).size());
  };
  std::string line;
  while (std::getline(in, line)) {
    if (line.empty()) continue;
    RawRecord record{.key = fraud::ExtractCard(line).value_or(""), .value = line, .timestamp = 0};
    const auto piped = std::chrono::steady_clock::now();
    WEIR_RETURN_IF_ERROR(driver.PipeRaw(fraud_config.payments_topic, std::move(record)));
    counts.latencies_us.push_back(std::chrono::duration<float, std::micro>(
                                      std::chrono::steady_clock::now() - piped)
                                      .count());
    if (++counts.records % 1'000'000 == 0) {
      drain();
      spdlog::info("replayed {} records", counts.records);
    }
  }
  drain();
  counts.seconds = std::chrono::duration<double>(std::chrono::steady_clock::now() - start).count();
  return counts;
}

void PrintSummary(const ReplayCounts& counts, const ReplayFlags& flags, int64_t late) {
  int64_t alerts = 0;
  std::string by_rule;
  for (const auto& [rule, count] : counts.alerts_by_rule) {
    alerts += count;
    absl::StrAppend(&by_rule, " ", rule, "=", count);
  }
  std::fprintf(stderr,
               "replay: %lld records in %.2f s (%.0f records/s), %d partition(s)\n"
               "  alerts: %lld%s\n  late (dropped window updates): %lld\n  dead letters: %lld\n",
               static_cast<long long>(counts.records), counts.seconds,
               static_cast<double>(counts.records) / std::max(counts.seconds, 1e-9),
               flags.partitions, static_cast<long long>(alerts), by_rule.c_str(),
               static_cast<long long>(late), static_cast<long long>(counts.dead_letters));
  if (counts.latencies_us.empty()) return;
  const std::vector<double> latencies(counts.latencies_us.begin(), counts.latencies_us.end());
  std::fprintf(stderr, "  processing per record: p50 %.1f us, p99 %.1f us\n",
               bench::Percentile(latencies, 0.5), bench::Percentile(latencies, 0.99));
}

absl::Status Replay(const ReplayFlags& flags) {
  if (flags.query.empty() != flags.queries.empty()) {
    return absl::InvalidArgumentError("--query and --queries go together");
  }
  WEIR_ASSIGN_OR_RETURN(AppConfig config, LoadAppConfig(flags.config.path, flags.config.overrides));
  WEIR_ASSIGN_OR_RETURN(fraud::FraudConfig fraud_config,
                        fraud::LoadFraudConfig(config.topology_config));
  std::ifstream in(flags.input);
  if (!in) {
    return absl::NotFoundError(
        absl::StrCat(flags.input, ": cannot read the input: ", std::strerror(errno)));
  }
  std::ifstream queries;
  if (!flags.query.empty()) {
    queries.open(flags.queries);
    if (!queries) {
      return absl::NotFoundError(
          absl::StrCat(flags.queries, ": cannot read the queries: ", std::strerror(errno)));
    }
  }
  FILE* out = flags.output == "-" ? stdout : std::fopen(flags.output.c_str(), "w");
  if (out == nullptr) {
    return absl::InvalidArgumentError(
        absl::StrCat(flags.output, ": cannot write the output: ", std::strerror(errno)));
  }
  const fraud::CardTokenizer tokenizer =
      fraud::CardTokenizer::FromEnvironment(fraud_config.card_token_key_env);
  const Topology topology = fraud::BuildFraudTopology(fraud_config, tokenizer);
  TopologyTestDriver driver(
      topology,
      {.application_id = config.application_id.empty() ? "weir-replay" : config.application_id,
       .partitions = flags.partitions});
  absl::StatusOr<ReplayCounts> counts = ReplayPayments(driver, in, out, fraud_config);
  if (out != stdout) std::fclose(out);
  WEIR_RETURN_IF_ERROR(counts.status());
  PrintSummary(*counts, flags, driver.Totals().late);
  if (!flags.query.empty()) {
    WEIR_RETURN_IF_ERROR(AnswerQueries(topology, driver, flags, queries));
  }
  return absl::OkStatus();
}

}  // namespace

void AddReplayCommand(CLI::App& app, int* exit_code) {
  auto flags = std::make_shared<ReplayFlags>();
  CLI::App* command = app.add_subcommand(
      "replay", "Run the fraud topology over a JSONL file of payments, without a broker");
  AddConfigFlags(*command, flags->config, "config/weir.yaml");
  command->add_option("-i,--input", flags->input, "Payments, one JSON object per line")->required();
  command
      ->add_option("-o,--output", flags->output,
                   "Alerts, one JSON object per line in emission order; - for stdout")
      ->capture_default_str();
  command
      ->add_option("--partitions", flags->partitions,
                   "Partitions to spread cards over (Kafka's key hash), one task each")
      ->check(InRange(1, 1000))
      ->capture_default_str();
  command
      ->add_option("--query", flags->query,
                   "After the replay, answer --queries as POST /state/<this> would on a running "
                   "instance holding the same state, e.g. card-5m/windows (docs/queries.md)")
      ->check(CLI::IsMember({"card-1m/windows", "card-5m/windows", "card-windows/key"}));
  command->add_option("--queries", flags->queries,
                      "Request bodies for --query, one JSON object per line");
  command->add_option("--answers", flags->answers, "Where --query's answers go; - for stdout")
      ->capture_default_str();
  command->footer(
      "For backtesting rule changes on history and for golden tests: the same topology as\n"
      "'weir run' (thresholds from the config's topology.config) runs in process through the\n"
      "test driver. With one partition the output is fully deterministic. A summary (records,\n"
      "rate, alerts by rule, late drops, dead letters) goes to stderr.\n"
      "\nExamples:\n"
      "  weir replay --input payments.jsonl --output alerts.jsonl\n"
      "  weir replay -i history.jsonl --set topology.config=/tmp/stricter-rules.yaml\n"
      "  weir replay -i payments.jsonl -o /dev/null --partitions 12 --query card-5m/windows \\\n"
      "      --queries cards.jsonl --answers windows.jsonl   # cards.jsonl: {\"card\": \"...\"}\n");
  command->callback([flags, exit_code] { ReportOutcome("replay", Replay(*flags), exit_code); });
}

}  // namespace weir::cli
