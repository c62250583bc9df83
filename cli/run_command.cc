// `weir run`: the fraud-detection service.
#include <unistd.h>

#include <chrono>
#include <filesystem>
#include <fstream>
#include <map>
#include <optional>

#include "absl/cleanup/cleanup.h"
#include "absl/strings/str_cat.h"
#include "absl/strings/str_format.h"
#include "absl/strings/str_join.h"
#include "cli/audit_log.h"
#include "cli/commands.h"
#include "cli/shutdown_signal.h"
#include "common/logging.h"
#include "common/status.h"
#include "engine/http/http_server.h"
#include "engine/http/metrics.h"
#include "engine/http/query_service.h"
#include "engine/kafka/client_config.h"
#include "engine/kafka/embedded_broker.h"
#include "engine/kafka/topic_offsets.h"
#include "engine/runtime/app_config.h"
#include "engine/runtime/kafka_streams.h"
#include "engine/runtime/membership.h"
#include "engine/runtime/memory_plan.h"
#include "stores/rocksdb_option_set.h"
#include "topologies/fraud_topology.h"

namespace weir::cli {
namespace {

// This host's name; "localhost" when it has none.
std::string HostName() {
  char name[256] = {};
  if (::gethostname(name, sizeof(name) - 1) != 0 || name[0] == '\0') return "localhost";
  return name;
}

// host:port of the HTTP listener as others reach it: the host name when it binds every
// interface.
std::string AdvertisedEndpoint(const std::string& host, int port) {
  if (host != "0.0.0.0" && host != "::") return absl::StrCat(host, ":", port);
  return absl::StrCat(HostName(), ":", port);
}

struct RunFlags {
  ConfigFlags config;
  double progress_interval_s = 5;
  std::string port_file;  // where the HTTP listener's port goes once it listens
};

// The embedded broker, when bootstrap.servers is empty, with the configured topics and the
// fraud topology's own (12 partitions unless broker.topics says otherwise).
// The topics the embedded broker starts with: the fraud topology's, 12 partitions each unless
// `broker.topics` says otherwise.
absl::StatusOr<std::map<std::string, int32_t>> EmbeddedTopics(const AppConfig& config,
                                                              const fraud::FraudConfig& fraud) {
  std::map<std::string, int32_t> topics = {
      {fraud.payments_topic, 12}, {fraud.alerts_topic, 12}, {fraud.dlq_topic, 12}};
  for (const std::string& spec : config.broker_topics) {
    WEIR_ASSIGN_OR_RETURN(TopicSpec topic, ParseTopicSpec(spec));
    topics[topic.name] = topic.partitions;
  }
  return topics;
}

absl::StatusOr<std::unique_ptr<EmbeddedBroker>> StartEmbeddedBroker(
    const AppConfig& config, const std::map<std::string, int32_t>& topics) {
  WEIR_ASSIGN_OR_RETURN(std::unique_ptr<EmbeddedBroker> broker,
                        EmbeddedBroker::Start(static_cast<int>(config.broker_brokers)));
  for (const auto& [name, partitions] : topics) {
    WEIR_RETURN_IF_ERROR(broker->CreateTopic({.name = name, .partitions = partitions}));
  }
  spdlog::info("embedded broker (librdkafka mock cluster, in memory, development only) at {}",
               broker->bootstrap_servers());
  return broker;
}

// Creates `state.dir` if needed and checks that a file can be written there, so a bad path is
// reported at start (exit 2) rather than when the first task opens its state.
absl::Status CheckStateDir(const std::string& state_dir) {
  std::error_code error;
  std::filesystem::create_directories(state_dir, error);
  const std::filesystem::path probe =
      std::filesystem::path(state_dir) / absl::StrCat(".weir-write-check-", ::getpid());
  if (!error) {
    std::ofstream(probe) << "ok";
    if (!std::filesystem::exists(probe, error)) {
      error = std::make_error_code(std::errc::permission_denied);
    }
    std::filesystem::remove(probe);
  }
  if (error) {
    return absl::InvalidArgumentError(absl::StrCat(
        "key 'state.dir': ", state_dir, " is not a writable directory: ", error.message()));
  }
  return absl::OkStatus();
}

// Partitions of `topic` on the cluster.
absl::StatusOr<int64_t> InputPartitions(const AppConfig& config, const std::string& topic) {
  WEIR_ASSIGN_OR_RETURN(std::unique_ptr<TopicOffsetsReader> reader,
                        TopicOffsetsReader::Open({.bootstrap_servers = config.bootstrap_servers,
                                                  .common = config.kafka,
                                                  .specific = config.admin}));
  WEIR_ASSIGN_OR_RETURN(std::vector<TopicOffsets> topics, reader->Read(std::chrono::seconds(10)));
  for (const TopicOffsets& t : topics) {
    if (t.topic == topic) return t.partitions;
  }
  return absl::NotFoundError(
      absl::StrCat("input topic '", topic, "' does not exist at ", config.bootstrap_servers));
}

// What the progress line and the summary report: this instance's counters, and the alerts and
// dead letters the output topics hold (all instances').
struct Totals {
  int64_t processed = 0, late = 0, tasks = 0, hits = 0, misses = 0;
  int64_t alerts = 0, dead_letters = 0;
};

Totals Count(const KafkaStreams& streams, TopicOffsetsReader& reader,
             const fraud::FraudConfig& fraud_config) {
  const std::vector<ThreadSnapshot> threads = streams.threads();
  Totals totals{.processed = SumOver(threads, &ThreadSnapshot::processed),
                .late = SumOver(threads, &ThreadSnapshot::late),  // invalid: dead letters
                .hits = SumOver(threads, &ThreadSnapshot::cache_hits),
                .misses = SumOver(threads, &ThreadSnapshot::cache_misses)};
  for (const ThreadSnapshot& t : threads) totals.tasks += static_cast<int64_t>(t.tasks.size());
  if (absl::StatusOr<std::vector<TopicOffsets>> offsets = reader.Read(std::chrono::seconds(5));
      offsets.ok()) {
    for (const TopicOffsets& t : *offsets) {
      if (t.topic == fraud_config.alerts_topic) totals.alerts = t.end_offsets;
      if (t.topic == fraud_config.dlq_topic) totals.dead_letters = t.end_offsets;
    }
  }
  return totals;
}

// What the audit log's stop entry says about a run.
struct RunRecord {
  std::unique_ptr<AuditLog> audit;  // null until the configuration loaded
  std::chrono::steady_clock::time_point started = std::chrono::steady_clock::now();
  int stop_signal = 0;
  int64_t dead_letters = 0;
};

// Everything a run reads before it starts: the three configurations (each read once), the card
// tokenizer and the topology built from them.
struct RunSetup {
  AppConfig config;
  fraud::FraudConfig fraud;
  RocksDbOptionSet rocksdb;
  std::optional<fraud::CardTokenizer> tokenizer;
  std::optional<Topology> topology;
};

absl::StatusOr<RunSetup> LoadSetup(const RunFlags& flags) {
  RunSetup setup;
  WEIR_ASSIGN_OR_RETURN(setup.config, LoadAppConfig(flags.config.path, flags.config.overrides));
  WEIR_ASSIGN_OR_RETURN(setup.fraud, fraud::LoadFraudConfig(setup.config.topology_config));
  WEIR_ASSIGN_OR_RETURN(setup.rocksdb, LoadRocksDbOptionSet(setup.config.rocksdb_options));
  if (setup.config.application_id.empty()) {
    return absl::InvalidArgumentError(
        absl::StrCat(flags.config.path,
                     ": key 'application.id': required by 'weir run' (it names the "
                     "consumer group and internal topics)"));
  }
  WEIR_RETURN_IF_ERROR(CheckStateDir(setup.config.state_dir));
  setup.tokenizer = fraud::CardTokenizer::FromEnvironment(setup.fraud.card_token_key_env);
  setup.topology = fraud::BuildFraudTopology(setup.fraud, *setup.tokenizer);
  return setup;
}

// Opens the audit log and writes its start entry: who runs what, with the effective
// configuration (secrets masked by the schemas' dumps) and the token key fingerprinted.
absl::StatusOr<std::unique_ptr<AuditLog>> AuditStart(const RunFlags& flags,
                                                     const RunSetup& setup) {
  const AppConfig& config = setup.config;
  WEIR_ASSIGN_OR_RETURN(
      std::unique_ptr<AuditLog> audit,
      AuditLog::Open(config.audit_log.empty()
                         ? (std::filesystem::path(config.state_dir) / "audit.jsonl").string()
                         : config.audit_log));
  const std::string effective =
      absl::StrCat(AppConfigSchema().Dump(config, {}), "---\n",
                   fraud::FraudConfigSchema().Dump(setup.fraud, {}), "---\n",
                   RocksDbOptionSetSchema().Dump(setup.rocksdb, {}));
  const fraud::CardTokenizer& tokenizer = *setup.tokenizer;
  audit->Write("start",
               {{"version", WeirVersion()},
                {"pid", ::getpid()},
                {"uid", ::getuid()},
                {"host", HostName()},
                {"application_id", config.application_id},
                {"bootstrap_servers", config.bootstrap_servers.empty()
                                          ? "(embedded broker)"
                                          : config.bootstrap_servers},
                {"processing_guarantee", ProcessingGuaranteeName(config.processing_guarantee)},
                {"config_file", flags.config.path},
                {"config_fingerprint", Sha256Hex(effective)},
                {"card_token_key", tokenizer.uses_development_key()
                                       ? "the development key (" +
                                             setup.fraud.card_token_key_env + " unset)"
                                       : "from " + setup.fraud.card_token_key_env},
                {"card_token_key_fingerprint", tokenizer.KeyFingerprint()}});
  spdlog::info("audit log: {}", audit->path());
  return audit;
}

// The memory plan, before anything starts: worst case, this instance owns a task for every one
// of `partitions` input partitions. Refuses a plan beyond `memory.limit.bytes`; warns when it
// exceeds the host's or cgroup's memory. Returns the plan's container limit, 0 without a plan.
absl::StatusOr<int64_t> CheckMemoryPlan(const RunSetup& setup,
                                        const absl::StatusOr<int64_t>& partitions) {
  const AppConfig& config = setup.config;
  // Without a plan weir can still run, but not when the brokers refused the login.
  if (config.memory_limit_bytes > 0 || (!partitions.ok() && LastLoginFailure().has_value())) {
    WEIR_RETURN_IF_ERROR(partitions.status());
  }
  if (!partitions.ok()) {
    spdlog::warn("no memory plan: {}", partitions.status().message());
    return 0;
  }
  WEIR_ASSIGN_OR_RETURN(const MemoryPlan plan,
                        PlanMemory(config, setup.rocksdb, *setup.topology, *partitions,
                                   kDefaultProcessOverheadBytes));
  if (config.memory_limit_bytes > 0 && plan.container_limit > config.memory_limit_bytes) {
    return absl::InvalidArgumentError(absl::StrCat(
        "key 'memory.limit.bytes': ", FormatBytes(config.memory_limit_bytes),
        " is less than this configuration needs with ", *partitions, " tasks:\n", plan.ToText(),
        "Lower the caches or write buffers (rocksdb.options), use a bounded option set, or "
        "raise the limit; `weir plan memory` shows the same arithmetic."));
  }
  if (config.memory_limit_bytes > 0) {
    spdlog::info("memory plan {} fits memory.limit.bytes {}", FormatBytes(plan.container_limit),
                 FormatBytes(config.memory_limit_bytes));
  }
  if (std::optional<MemoryCeiling> ceiling = ReadMemoryCeiling()) {
    if (std::optional<std::string> warning = MemoryPlanWarning(plan, *ceiling)) {
      spdlog::warn("{} ({} tasks)", *warning, *partitions);
    }
  }
  return plan.container_limit;
}

// The embedded broker's log dies with the process, so local state from an earlier run describes
// input that no longer exists: start from empty state.
absl::Status RemoveEarlierState(const AppConfig& config) {
  const std::filesystem::path state =
      std::filesystem::path(config.state_dir) / config.application_id;
  std::error_code error;
  if (!std::filesystem::exists(state, error)) return absl::OkStatus();
  spdlog::info("embedded broker: removing state of an earlier run in {}", state.string());
  std::filesystem::remove_all(state, error);
  if (error) {
    return absl::InternalError(
        absl::StrCat("cannot remove earlier state in ", state.string(), ": ", error.message()));
  }
  return absl::OkStatus();
}

// The HTTP listener of `streams` and `queries`, up before the threads start so that /readyz
// answers 503 (not a refused connection) meanwhile. Its port goes to the log and, with
// --port-file, to that file for scripts and tests.
absl::StatusOr<std::unique_ptr<HttpServer>> StartHttp(const RunFlags& flags,
                                                      const AppConfig& config,
                                                      KafkaStreams& streams,
                                                      const QueryService& queries,
                                                      const std::string& token) {
  WEIR_ASSIGN_OR_RETURN(
      std::unique_ptr<HttpServer> http,
      HttpServer::Start(config.metrics_host, static_cast<int>(config.metrics_port),
                        {.metrics = [&] { return RenderMetrics(streams, &queries); },
                         .healthy = [&streams] { return streams.Healthy(); },
                         .not_ready = [&streams] { return streams.NotReadyReason(); },
                         .tasks = [&streams] { return streams.LocalView().ToJson(); },
                         .state = [&queries](const HttpRequest& r) { return queries.Handle(r); },
                         .bearer_token = token}));
  spdlog::info("metrics and health on http://{}:{} (/metrics, /healthz, /readyz, /tasks, "
               "/state{})",
               config.metrics_host, http->port(), token.empty() ? "" : "; /tasks and /state "
               "need the bearer token");
  if (!flags.port_file.empty()) {
    WEIR_RETURN_IF_ERROR(WriteFileAtomically(flags.port_file, absl::StrCat(http->port(), "\n")));
  }
  return http;
}

// Audits the records this instance sent to the dead-letter topic as their count grows, at most
// once a minute.
class DeadLetterAudit {
 public:
  DeadLetterAudit(AuditLog& audit, std::string topic) : audit_(audit), topic_(std::move(topic)) {}

  void Check(const KafkaStreams& streams) {
    const auto now = std::chrono::steady_clock::now();
    if (now < next_) return;
    const int64_t dead = SumOver(streams.threads(), &ThreadSnapshot::dead_letters);
    if (dead == audited_) return;
    audit_.Write("dead_letters", {{"topic", topic_},
                                  {"since_start", dead},
                                  {"since_last_entry", dead - audited_}});
    audited_ = dead;
    next_ = now + std::chrono::minutes(1);
  }

 private:
  AuditLog& audit_;
  const std::string topic_;
  int64_t audited_ = 0;  // as the audit log last said
  std::chrono::steady_clock::time_point next_ = std::chrono::steady_clock::now();
};

// One progress line: records processed and their rate, alerts, dead letters, late drops, tasks
// (or why there are none yet) and the record cache's hit ratio.
class ProgressLine {
 public:
  ProgressLine(const fraud::FraudConfig& fraud, TopicOffsetsReader& reader)
      : fraud_(fraud), reader_(reader) {}

  void Log(const KafkaStreams& streams) {
    const Totals totals = Count(streams, reader_, fraud_);
    const auto now = std::chrono::steady_clock::now();
    const double seconds = std::chrono::duration<double>(now - last_).count();
    const AppConfig& config = streams.config();
    const std::string tasks =
        totals.tasks > 0
            ? absl::StrCat(totals.tasks)
            : absl::StrCat("0 (joining group ", config.application_id,
                           ": the broker assigns partitions once every member has joined, up "
                           "to session.timeout.ms = ",
                           SessionTimeoutMs(config) / 1000, " s)");
    const std::string hits =
        totals.hits + totals.misses > 0
            ? absl::StrFormat("%.1f%%", 100.0 * static_cast<double>(totals.hits) /
                                            static_cast<double>(totals.hits + totals.misses))
            : "no reads";
    spdlog::info(
        "processed {} (+{:.0f}/s)  alerts {}  dead letters {}  late drops {}  tasks {}  record "
        "cache hits {}",
        totals.processed, (totals.processed - last_processed_) / seconds, totals.alerts,
        totals.dead_letters, totals.late, tasks, hits);
    last_processed_ = totals.processed;
    last_ = now;
  }

 private:
  const fraud::FraudConfig& fraud_;
  TopicOffsetsReader& reader_;
  int64_t last_processed_ = 0;
  std::chrono::steady_clock::time_point last_ = std::chrono::steady_clock::now();
};

// Watches the running instance until a shutdown signal or a dead thread the error policy does
// not replace; returns the signal (0 on failure) and the failure.
int Supervise(const RunFlags& flags, KafkaStreams& streams, DeadLetterAudit& dead_letters,
              ProgressLine& progress, absl::Status& failure) {
  const auto interval = std::chrono::milliseconds(
      static_cast<int64_t>(std::max(0.1, flags.progress_interval_s) * 1000));
  int signal_number = 0;
  while ((signal_number = WaitForShutdownSignal(interval)) == 0) {
    failure = streams.CheckThreads();
    if (!failure.ok()) break;
    streams.CleanUpState();
    dead_letters.Check(streams);
    if (flags.progress_interval_s > 0) progress.Log(streams);
  }
  return signal_number;
}

absl::Status RunService(const RunFlags& flags, RunRecord& run) {
  WEIR_ASSIGN_OR_RETURN(RunSetup setup, LoadSetup(flags));
  AppConfig& config = setup.config;
  WEIR_ASSIGN_OR_RETURN(run.audit, AuditStart(flags, setup));

  const bool embedded = config.bootstrap_servers.empty();
  std::map<std::string, int32_t> embedded_topics;
  absl::StatusOr<int64_t> partitions = absl::UnknownError("not read");
  if (embedded) {
    WEIR_ASSIGN_OR_RETURN(embedded_topics, EmbeddedTopics(config, setup.fraud));
    partitions = embedded_topics.at(setup.fraud.payments_topic);
  } else {
    partitions = InputPartitions(config, setup.fraud.payments_topic);
  }
  WEIR_ASSIGN_OR_RETURN(const int64_t planned_limit, CheckMemoryPlan(setup, partitions));

  std::unique_ptr<EmbeddedBroker> broker;
  KafkaStreamsOptions options;
  if (embedded) {
    WEIR_ASSIGN_OR_RETURN(broker, StartEmbeddedBroker(config, embedded_topics));
    config.bootstrap_servers = broker->bootstrap_servers();
    options.create_topic = [&broker](const TopicSpec& topic) { return broker->CreateTopic(topic); };
    std::printf("%s\n", config.bootstrap_servers.c_str());
    std::fflush(stdout);
    WEIR_RETURN_IF_ERROR(RemoveEarlierState(config));
  }

  spdlog::info("topology:\n{}", setup.topology->Describe());
  WEIR_ASSIGN_OR_RETURN(
      std::unique_ptr<KafkaStreams> streams,
      KafkaStreams::Create(*std::move(setup.topology), config, std::move(options)));
  streams->SetMemoryPlan(planned_limit);
  WEIR_ASSIGN_OR_RETURN(const std::string token, HttpAuthToken(config));
  const QueryService queries(*streams, {.bearer_token = token});
  WEIR_ASSIGN_OR_RETURN(std::unique_ptr<HttpServer> http,
                        StartHttp(flags, config, *streams, queries, token));
  const absl::Cleanup remove_port_file = [&flags] {
    if (!flags.port_file.empty()) std::filesystem::remove(flags.port_file);
  };
  streams->SetEndpoint(config.application_server.empty()
                           ? AdvertisedEndpoint(config.metrics_host, http->port())
                           : config.application_server);
  WEIR_RETURN_IF_ERROR(streams->Start());
  WEIR_ASSIGN_OR_RETURN(std::unique_ptr<TopicOffsetsReader> reader,
                        TopicOffsetsReader::Open({.bootstrap_servers = config.bootstrap_servers,
                                                  .common = config.kafka,
                                                  .specific = config.admin}));
  spdlog::info("fraud detection running on {}; Ctrl-C stops it", config.bootstrap_servers);

  DeadLetterAudit dead_letters(*run.audit, setup.fraud.dlq_topic);
  ProgressLine progress(setup.fraud, *reader);
  absl::Status failure;
  run.stop_signal = Supervise(flags, *streams, dead_letters, progress, failure);
  if (run.stop_signal != 0) {
    spdlog::info("signal {}: finishing the batch, committing, leaving", run.stop_signal);
  }
  streams->Close();
  const Totals totals = Count(*streams, *reader, setup.fraud);
  spdlog::info(
      "summary: processed {} records, late drops {}; topics now hold {} alerts ({}) and "
      "{} dead letters ({})",
      totals.processed, totals.late, totals.alerts, setup.fraud.alerts_topic,
      totals.dead_letters, setup.fraud.dlq_topic);
  http.reset();  // no scrape may run into a destroyed instance
  run.dead_letters = SumOver(streams->threads(), &ThreadSnapshot::dead_letters);
  streams.reset();
  reader.reset();
  broker.reset();
  return failure;
}

// "INVALID_ARGUMENT: key 'x': ..." without the detail lines that may follow.
std::string FirstLine(const absl::Status& status) {
  const std::string text = status.ToString();
  return text.substr(0, text.find('\n'));
}

// The service, with its stop - for whatever reason - in the audit log.
absl::Status Run(const RunFlags& flags) {
  RunRecord run;
  const absl::Status status = RunService(flags, run);
  if (run.audit != nullptr) {
    run.audit->Write(
        "stop", {{"reason", run.stop_signal != 0 ? absl::StrCat("signal ", run.stop_signal)
                            : status.ok()        ? std::string("stopped")
                                                 : FirstLine(status)},
                 {"uptime_s", std::chrono::duration_cast<std::chrono::seconds>(
                                  std::chrono::steady_clock::now() - run.started)
                                  .count()},
                 {"dead_letters", run.dead_letters}});
  }
  return status;
}

}  // namespace

void AddRunCommand(CLI::App& app, int* exit_code) {
  auto flags = std::make_shared<RunFlags>();
  CLI::App* command =
      app.add_subcommand("run",
                         "Run the fraud-detection service until Ctrl-C (embedded broker when no "
                         "bootstrap.servers)");
  AddConfigFlags(*command, flags->config, "config/weir.yaml");
  command
      ->add_option("--progress-interval", flags->progress_interval_s,
                   "Seconds between progress lines (records processed and rate, alerts, dead "
                   "letters, late drops, tasks, record cache hit ratio); 0 turns them off")
      ->check(NonNegative())
      ->capture_default_str();
  command->add_option("--port-file", flags->port_file,
                      "Write the HTTP listener's port to this file once it listens (written "
                      "whole, removed at exit): for scripts and tests that start weir with "
                      "metrics.port=0");
  command->footer(
      "Reads payments (key: card number, value: JSON) from the payments topic, keeps per-card\n"
      "one-minute slices of its windows (store card-windows), evaluates VELOCITY, HIGH_SPEND and\n"
      "GEO_HOP, and writes alerts to fraud-alerts and invalid records to payments-dlq\n"
      "(docs/fraud.md). With bootstrap.servers empty it starts the embedded broker, prints its\n"
      "bootstrap servers on stdout and creates the topics. SIGINT/SIGTERM: finish the batch,\n"
      "commit, leave the group, exit 0; a second signal exits at once. Exit status 1 when a\n"
      "stream thread dies under stream.thread.error.policy: shutdown_client, 2 for bad config.\n"
      "\nExamples:\n"
      "  weir run\n"
      "  weir run --set num.stream.threads=4 --set bootstrap.servers=kafka-1:9092\n"
      "  WEIR_CARD_TOKEN_KEY=$(cat /run/secrets/token-key) weir run --config prod.yaml");
  command->callback([flags, exit_code] { ReportOutcome("run", Run(*flags), exit_code); });
}

}  // namespace weir::cli
