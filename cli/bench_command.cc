// `weir bench compare`: default vs tuned (vs any) RocksDB option sets on one fraud workload.
#include <unistd.h>

#include <cstdio>
#include <filesystem>
#include <fstream>
#include <map>
#include <random>

#include "absl/strings/str_cat.h"
#include "bench/client_perf.h"
#include "bench/compare.h"
#include "bench/failover.h"
#include "bench/kstreams.h"
#include "bench/load_test.h"
#include "bench/perf_producer.h"
#include "cli/commands.h"
#include "common/logging.h"
#include "common/status.h"
#include "engine/kafka/client_config.h"
#include "engine/kafka/embedded_broker.h"
#include "engine/runtime/app_config.h"
#include "nlohmann/json.hpp"

namespace weir::cli {
namespace {

struct CompareFlags {
  bench::CompareOptions options;
  std::string output;
};

absl::Status WriteFile(const std::filesystem::path& path, const std::string& text) {
  std::ofstream out(path, std::ios::trunc);
  out << text;
  if (!out.flush()) {
    return absl::InvalidArgumentError(absl::StrCat(path.string(), ": cannot write"));
  }
  return absl::OkStatus();
}

absl::Status Compare(CompareFlags flags) {
  if (flags.options.state_root.empty()) {
    flags.options.state_root =
        (std::filesystem::temp_directory_path() / absl::StrCat("weir-bench-compare-", getpid()))
            .string();
  }
  WEIR_ASSIGN_OR_RETURN(std::vector<bench::CompareResult> results,
                        bench::RunCompare(flags.options));
  std::fputs(bench::ResultsTable(results).c_str(), stdout);
  std::error_code error;
  std::filesystem::remove_all(flags.options.state_root, error);
  if (flags.output.empty()) return absl::OkStatus();
  std::filesystem::create_directories(flags.output, error);
  if (error) {
    return absl::InvalidArgumentError(
        absl::StrCat(flags.output, ": cannot create the output directory: ", error.message()));
  }
  const std::filesystem::path dir(flags.output);
  WEIR_RETURN_IF_ERROR(WriteFile(dir / "results.json", bench::ResultsJson(flags.options, results)));
  WEIR_RETURN_IF_ERROR(WriteFile(dir / "report.html", bench::ResultsHtml(flags.options, results)));
  spdlog::info("wrote {} and {}", (dir / "results.json").string(), (dir / "report.html").string());
  return absl::OkStatus();
}

// Producer and consumer tuning as usually recommended for throughput (batching, lz4, large
// fetches), against the Java client's defaults as the baseline (docs/benchmarks.md).
const std::map<std::string, std::string> kBaselineProducer = {
    {"batch.size", "16384"}, {"linger.ms", "0"}, {"compression.type", "none"}};
const std::map<std::string, std::string> kTunedProducer = {
    {"batch.size", "65536"}, {"linger.ms", "20"}, {"compression.type", "lz4"}};
const std::map<std::string, std::string> kBaselineConsumer = {
    {"fetch.min.bytes", "1"}, {"max.partition.fetch.bytes", "1048576"}};
const std::map<std::string, std::string> kTunedConsumer = {
    {"fetch.min.bytes", "1048576"},
    {"fetch.wait.max.ms", "500"},
    {"max.partition.fetch.bytes", "1048576"}};

struct ClientBenchFlags {
  ConfigFlags config;
  std::string topic = "perf-test";
  // The embedded broker keeps at most 5 MiB per partition: 50,000 x 512 bytes over 12
  // partitions stays well inside it. Against a real cluster use 1,000,000 or more.
  int64_t records = 50'000;
  int64_t record_size = 512;
  double throughput = -1;  // records/s; -1 unthrottled, as kafka-producer-perf-test
  int partitions = 12;
};

// The brokers to use: the config's, or an embedded broker with `topic` created.
absl::StatusOr<std::string> Brokers(const ClientBenchFlags& flags, const AppConfig& config,
                                    std::unique_ptr<EmbeddedBroker>& embedded) {
  if (!config.bootstrap_servers.empty()) return config.bootstrap_servers;
  WEIR_ASSIGN_OR_RETURN(embedded, EmbeddedBroker::Start(1));
  WEIR_RETURN_IF_ERROR(
      embedded->CreateTopic({.name = flags.topic, .partitions = flags.partitions}));
  spdlog::info("embedded broker at {} (bootstrap.servers is empty), topic {} with {} partitions",
               embedded->bootstrap_servers(), flags.topic, flags.partitions);
  return embedded->bootstrap_servers();
}

// kafka-producer-perf-test with `props`: records of `record_size` random letters.
// `keyed`: key i for record i, spreading records evenly over the partitions (for filling the
// embedded broker, which keeps 5 MiB per partition); otherwise no key, as the perf test.
absl::StatusOr<bench::PerfStats::Totals> ProducePerf(
    const ClientBenchFlags& flags, const AppConfig& config, const std::string& brokers,
    const std::map<std::string, std::string>& props, bool keyed = false) {
  ClientProperties properties{.bootstrap_servers = brokers, .common = config.kafka};
  properties.specific = {{"acks", "all"}, {"enable.idempotence", "true"}};
  for (const auto& [k, v] : config.producer) properties.specific[k] = v;
  for (const auto& [k, v] : props) properties.specific[k] = v;
  bench::PerfStats stats;
  WEIR_ASSIGN_OR_RETURN(std::unique_ptr<bench::PerfProducer> producer,
                        bench::PerfProducer::Create(properties, flags.topic, &stats));
  std::mt19937_64 random(1);
  std::string value(static_cast<size_t>(flags.record_size), 'A');
  const auto start = std::chrono::steady_clock::now();
  for (int64_t i = 0; i < flags.records; ++i) {
    for (char& c : value) c = static_cast<char>('A' + random() % 26);
    if (flags.throughput > 0) {
      const auto due = start + std::chrono::duration_cast<std::chrono::steady_clock::duration>(
                                   std::chrono::duration<double>(i / flags.throughput));
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

absl::Status Produce(const ClientBenchFlags& flags) {
  WEIR_ASSIGN_OR_RETURN(AppConfig config, LoadAppConfig(flags.config.path, flags.config.overrides));
  std::unique_ptr<EmbeddedBroker> embedded;
  WEIR_ASSIGN_OR_RETURN(const std::string brokers, Brokers(flags, config, embedded));
  std::vector<std::pair<const char*, bench::PerfStats::Totals>> rows;
  for (const auto& [name, props] :
       {std::pair{"Baseline", &kBaselineProducer}, std::pair{"Tuned", &kTunedProducer}}) {
    spdlog::info("{}: {} records of {} bytes", name, flags.records, flags.record_size);
    WEIR_ASSIGN_OR_RETURN(bench::PerfStats::Totals totals,
                          ProducePerf(flags, config, brokers, *props));
    rows.emplace_back(name, totals);
  }
  std::printf(
      "| Config    | Records/sec | MB/sec | Avg Latency | P99 Latency |\n"
      "|-----------|-------------|--------|-------------|-------------|\n");
  for (const auto& [name, t] : rows) {
    std::printf("| %-9s | %11.0f | %6.2f | %8.1f ms | %8.1f ms |\n", name, t.records_per_s,
                t.mb_per_s, t.avg_ms, t.p99_ms);
  }
  std::printf(
      "Baseline: batch.size=16384 linger.ms=0 compression.type=none; Tuned: batch.size=65536 "
      "linger.ms=20 compression.type=lz4; both acks=all enable.idempotence=true.\n");
  return absl::OkStatus();
}

// kafka-consumer-perf-test with `props`: a fresh group reads `flags.records` from the start.
absl::StatusOr<bench::ConsumeTotals> ConsumePerf(const ClientBenchFlags& flags,
                                                 const AppConfig& config,
                                                 const std::string& brokers,
                                                 const std::string& group,
                                                 const std::map<std::string, std::string>& props) {
  ClientProperties properties{.bootstrap_servers = brokers, .common = config.kafka};
  properties.specific = {
      {"group.id", group}, {"auto.offset.reset", "earliest"}, {"enable.auto.commit", "false"}};
  for (const auto& [k, v] : config.consumer) properties.specific[k] = v;
  for (const auto& [k, v] : props) properties.specific[k] = v;
  return bench::ConsumeThroughput(properties, flags.topic, flags.records);
}

absl::Status Consume(const ClientBenchFlags& flags) {
  WEIR_ASSIGN_OR_RETURN(AppConfig config, LoadAppConfig(flags.config.path, flags.config.overrides));
  std::unique_ptr<EmbeddedBroker> embedded;
  WEIR_ASSIGN_OR_RETURN(const std::string brokers, Brokers(flags, config, embedded));
  if (embedded != nullptr) {  // a fresh broker holds nothing: fill the topic first
    spdlog::info("producing {} records to read back", flags.records);
    WEIR_RETURN_IF_ERROR(
        ProducePerf(flags, config, brokers, kTunedProducer, /*keyed=*/true).status());
  }
  std::printf(
      "| Config    | data.consumed.in.MB | MB.sec | data.consumed.in.nMsg | nMsg.sec |\n"
      "|-----------|---------------------|--------|-----------------------|----------|\n");
  int run = 0;
  for (const auto& [name, props] :
       {std::pair{"Baseline", &kBaselineConsumer}, std::pair{"Tuned", &kTunedConsumer}}) {
    WEIR_ASSIGN_OR_RETURN(
        bench::ConsumeTotals t,
        ConsumePerf(flags, config, brokers,
                    absl::StrCat("weir-bench-consume-", getpid(), "-", run++), *props));
    const double mb = t.bytes / (1024.0 * 1024.0);
    std::printf("| %-9s | %19.2f | %6.2f | %21lld | %8.0f |\n", name, mb, mb / t.seconds,
                static_cast<long long>(t.messages), t.messages / t.seconds);
  }
  std::printf(
      "Baseline: fetch.min.bytes=1; Tuned: fetch.min.bytes=1048576 fetch.wait.max.ms=500; "
      "both max.partition.fetch.bytes=1048576.\n");
  return absl::OkStatus();
}

struct LoadFlags {
  ConfigFlags config;
  std::string load_config = "config/loadtest.yaml";
};

absl::Status Load(const LoadFlags& flags, int* exit_code) {
  WEIR_ASSIGN_OR_RETURN(AppConfig config, LoadAppConfig(flags.config.path, flags.config.overrides));
  WEIR_ASSIGN_OR_RETURN(bench::LoadTestConfig load, bench::LoadLoadTestConfig(flags.load_config));
  WEIR_ASSIGN_OR_RETURN(bench::LoadTestReport report,
                        bench::RunLoadTest(config, config.topology_config, load));
  std::fputs(bench::FormatReport(load, report).c_str(), stdout);
  if (!report.all_pass()) {
    spdlog::error("weir bench load: a readiness check failed (see the verdicts)");
    *exit_code = 1;
  }
  return absl::OkStatus();
}

void AddClientBenchFlags(CLI::App& command, ClientBenchFlags& flags) {
  AddConfigFlags(command, flags.config, "config/weir.yaml");
  command.add_option("--topic", flags.topic, "Topic")->capture_default_str();
  command.add_option("--records", flags.records, "Records per configuration")
      ->check(Positive())
      ->capture_default_str();
  command
      .add_option("--partitions", flags.partitions,
                  "Partitions of the topic the embedded broker creates")
      ->check(InRange(1, 1000))
      ->capture_default_str();
}

struct FailoverFlags {
  bench::FailoverOptions options;
  std::vector<int> replicas = {0, 1};
  std::string output;  // JSON of the reports
};

absl::Status Failover(FailoverFlags flags) {
  char self[4096] = {};
  const ssize_t length = readlink("/proc/self/exe", self, sizeof(self) - 1);
  if (length <= 0) return absl::InternalError("cannot find the weir executable (/proc/self/exe)");
  flags.options.weir_binary.assign(self, static_cast<size_t>(length));
  const std::string root =
      flags.options.work_dir.empty()
          ? (std::filesystem::temp_directory_path() / absl::StrCat("weir-failover-", getpid()))
                .string()
          : flags.options.work_dir;
  std::vector<bench::FailoverReport> reports;
  nlohmann::json json = nlohmann::json::array();
  for (const int replicas : flags.replicas) {
    bench::FailoverOptions options = flags.options;
    options.standby_replicas = replicas;
    options.work_dir = absl::StrCat(root, "/standby-", replicas);
    std::fprintf(stderr, "failover with num.standby.replicas=%d (logs in %s)...\n", replicas,
                 options.work_dir.c_str());
    WEIR_ASSIGN_OR_RETURN(bench::FailoverReport report, bench::RunFailover(options));
    nlohmann::json moved = nlohmann::json::array();
    for (const bench::MovedTask& task : report.moved) {
      moved.push_back({{"task", task.task},
                       {"from", task.from},
                       {"to", task.to},
                       {"standby_on_new_owner", task.standby_on_new_owner},
                       {"standby_lag", task.standby_lag},
                       {"restored", task.restored},
                       {"failover_ms", task.failover_ms}});
    }
    json.push_back({{"num_standby_replicas", replicas},
                    {"fill_records", report.fill_records},
                    {"stream_records", report.stream_records},
                    {"state_changelog_records", report.state_changelog_records},
                    {"records_restored", report.records_restored},
                    {"failover_ms_median", report.failover_ms_median},
                    {"failover_ms_max", report.failover_ms_max},
                    {"moved", moved}});
    reports.push_back(std::move(report));
  }
  std::printf("%s", bench::FailoverTable(reports).c_str());
  if (!flags.output.empty()) {
    std::ofstream out(flags.output);
    out << json.dump(2) << "\n";
    if (!out) return absl::InternalError(absl::StrCat("cannot write ", flags.output));
  }
  if (flags.options.work_dir.empty()) {
    std::error_code ignored;
    std::filesystem::remove_all(root, ignored);
  }
  return absl::OkStatus();
}

void AddFailoverCommand(CLI::App& bench, int* exit_code) {
  auto flags = std::make_shared<FailoverFlags>();
  bench::FailoverOptions& o = flags->options;
  CLI::App* failover = bench.add_subcommand(
      "failover",
      "Kill one of several instances mid-stream: records restored and failover time, "
      "with and without standby replicas");
  failover->add_option("--replicas", flags->replicas, "num.standby.replicas of each run, in order")
      ->capture_default_str();
  failover->add_option("--instances", o.instances, "Instances (processes) of the application")
      ->check(InRange(2, 16))
      ->capture_default_str();
  failover->add_option("--partitions", o.partitions, "Partitions of the payments topic (tasks)")
      ->check(InRange(1, 64))
      ->capture_default_str();
  failover
      ->add_option("--fill", o.fill_records,
                   "Payments sent first, as fast as possible: the state the failover must bring "
                   "back (the embedded broker keeps 100,000 records or 5 MiB per partition)")
      ->check(NonNegative())
      ->capture_default_str();
  failover->add_option("--records", o.stream_records, "Payments streamed around the kill")
      ->check(Positive())
      ->capture_default_str();
  failover->add_option("--rate", o.rate, "Payments per second in the stream")
      ->check(Positive())
      ->capture_default_str();
  failover->add_option("--kill-after", o.kill_after_s, "Seconds into the stream of the kill")
      ->check(Positive())
      ->capture_default_str();
  failover->add_option("--cards", o.cards, "Card population")
      ->check(Positive())
      ->capture_default_str();
  failover
      ->add_option("--session-timeout-ms", o.session_timeout_ms,
                   "consumer.session.timeout.ms of the instances")
      ->check(InRange(1000, 300000))
      ->capture_default_str();
  failover->add_option("--config", o.config_path, "The instances' config file")
      ->check(CLI::ExistingFile)
      ->capture_default_str();
  failover->add_option("--set", o.overrides, "More KEY=VALUE for every instance; repeatable");
  failover->add_option("--bootstrap-servers", o.bootstrap_servers,
                       "Run on this Kafka cluster instead of a `weir broker` (topics "
                       "failover-bench-*, a previous run's deleted first)");
  failover->add_option("--work-dir", o.work_dir,
                       "Keep logs and state here (default: a temporary directory, removed)");
  failover->add_option("-o,--output", flags->output, "Write the reports as JSON to this file");
  failover->footer(
      "Runs `weir broker`, --instances x `weir run` (one stream thread each) and `weir loadgen`\n"
      "as processes on loopback. After the fill is processed (and, with standbys, every standby\n"
      "is within acceptable.recovery.lag), payments stream at --rate and the last instance is\n"
      "killed with SIGKILL --kill-after seconds in. Each moved task's new owner is watched\n"
      "through /tasks: changelog records restored there, and kill -> first record processed.\n"
      "On the embedded broker the group protocol dominates the time: the death is noticed\n"
      "after the session timeout and the mock's join phase waits another session timeout\n"
      "minus 1 s (docs/standby.md). On a real cluster (--bootstrap-servers) it is the session\n"
      "timeout and one rebalance; its brokers need group.min.session.timeout.ms at or below\n"
      "--session-timeout-ms (Kafka's default: 6000).\n\n"
      "Examples:\n"
      "  weir bench failover --fill 200000 --records 30000 --output /tmp/failover.json\n"
      "  weir bench failover --bootstrap-servers 127.0.0.1:9092 --records 60000\n");
  failover->callback(
      [flags, exit_code] { ReportOutcome("bench failover", Failover(*flags), exit_code); });
}

struct KStreamsFlags {
  bench::KStreamsOptions options;
  std::string output;  // directory for results.json and report.html
};

absl::Status KStreams(KStreamsFlags flags) {
  char self[4096] = {};
  const ssize_t length = readlink("/proc/self/exe", self, sizeof(self) - 1);
  if (length <= 0) return absl::InternalError("cannot find the weir executable (/proc/self/exe)");
  flags.options.weir_binary.assign(self, static_cast<size_t>(length));
  const bool temporary = flags.options.work_dir.empty();
  if (temporary) {
    flags.options.work_dir =
        (std::filesystem::temp_directory_path() / absl::StrCat("weir-kstreams-", getpid()))
            .string();
  }
  absl::StatusOr<bench::KStreamsReport> report = bench::RunKStreams(flags.options);
  std::error_code error;
  if (temporary && report.ok()) std::filesystem::remove_all(flags.options.work_dir, error);
  if (!report.ok()) {
    return absl::Status(report.status().code(),
                        absl::StrCat(report.status().message(), " (work directory kept: ",
                                     flags.options.work_dir, ")"));
  }
  const std::string table = bench::KStreamsTable(*report);
  if (!flags.output.empty()) {
    std::filesystem::create_directories(flags.output, error);
    if (error) {
      return absl::InvalidArgumentError(
          absl::StrCat(flags.output, ": cannot create the output directory: ", error.message()));
    }
    const std::filesystem::path dir(flags.output);
    WEIR_RETURN_IF_ERROR(WriteFile(dir / "results.json", bench::KStreamsJson(*report)));
    WEIR_RETURN_IF_ERROR(WriteFile(dir / "report.html", bench::KStreamsHtml(*report)));
    WEIR_RETURN_IF_ERROR(WriteFile(dir / "table.txt", table));
    spdlog::info("wrote {}/results.json, report.html and table.txt", flags.output);
  }
  std::fputs(table.c_str(), stdout);
  return absl::OkStatus();
}

void AddKStreamsCommand(CLI::App& bench, int* exit_code) {
  auto flags = std::make_shared<KStreamsFlags>();
  bench::KStreamsOptions& o = flags->options;
  CLI::App* kstreams = bench.add_subcommand(
      "kstreams",
      "weir against Kafka Streams on the fraud topology: same real broker, same input, "
      "throughput, latency, memory and alerts compared");
  kstreams->add_option("--records", o.records, "Payments `weir loadgen` generates")
      ->check(InRange(int64_t{2}, int64_t{100'000'000}))
      ->capture_default_str();
  kstreams->add_option("--cards", o.cards, "Card population")->check(Positive())->capture_default_str();
  kstreams->add_option("--seed", o.seed, "Workload seed")->capture_default_str();
  kstreams->add_option("--threads", o.threads, "Stream threads of each run, in order")
      ->check(InRange(1, 16))
      ->capture_default_str();
  kstreams->add_option("--systems", o.systems, "Systems to run, in order")
      ->check(CLI::IsMember({"weir", "kafka-streams"}))
      ->capture_default_str();
  kstreams
      ->add_option("--latency-records", o.latency_records,
                   "The last payments, sent at --latency-rate once the rest is processed: the "
                   "alerts they raise give the end-to-end latency")
      ->check(NonNegative())
      ->capture_default_str();
  kstreams->add_option("--latency-rate", o.latency_rate, "Payments per second of that phase")
      ->check(Positive())
      ->capture_default_str();
  kstreams
      ->add_option("--commit-interval-ms", o.commit_interval_ms,
                   "commit.interval.ms of both systems (Kafka Streams flushes its RocksDB "
                   "memtables at every commit)")
      ->check(InRange(10, 600'000))
      ->capture_default_str();
  kstreams->add_option("--bootstrap-servers", o.bootstrap_servers,
                       "A Kafka cluster to use (default: start one with scripts/kafka.sh)");
  kstreams->add_option("--config", o.config_path, "weir's config file (and its topology.config)")
      ->check(CLI::ExistingFile)
      ->capture_default_str();
  kstreams->add_option("--peer-dir", o.peer_dir, "The Kafka Streams peer's Maven project")
      ->capture_default_str();
  kstreams->add_option("--jvm-option", o.jvm_options, "The peer's JVM options (repeatable)")
      ->capture_default_str();
  kstreams
      ->add_option("--peer-rocksdb-memory", o.rocksdb_memory_bytes,
                   "Bytes of the peer's RocksDB block cache, shared by every store (memtables "
                   "charged to it)")
      ->check(NonNegative())
      ->capture_default_str();
  kstreams->add_option("--work-dir", o.work_dir,
                       "Keep the payments file, logs and state here (default: a temporary "
                       "directory, removed after a successful run)");
  kstreams->add_option("-o,--output", flags->output,
                       "Write results.json, report.html and table.txt to this directory");
  kstreams->footer(
      "Generates the payments once (`weir loadgen --rate 0`), then per thread count runs weir\n"
      "and the Kafka Streams peer (bench/peers/kafka-streams, built with Maven) one after the\n"
      "other, each from empty state on its own topics (12 partitions, murmur2, broker append\n"
      "time): all but the last --latency-records payments are produced, the system consumes\n"
      "them (records/s = records its group committed from its first commit to the last, over\n"
      "that time), then the rest arrive at --latency-rate (alert append time minus payment\n"
      "append time = end-to-end latency). Peak RSS, CPU seconds, state on disk, and every\n"
      "alert compared by alert_id. Needs scripts/setup.sh (Java, Maven); runs from the\n"
      "repository root. Figures: docs/benchmarks.md.\n\n"
      "Examples:\n"
      "  weir bench kstreams --records 1000000 --cards 100000 --output /tmp/kstreams\n"
      "  weir bench kstreams --records 20000 --threads 1 --latency-records 2000\n");
  kstreams->callback(
      [flags, exit_code] { ReportOutcome("bench kstreams", KStreams(*flags), exit_code); });
}

}  // namespace

void AddBenchCommand(CLI::App& app, int* exit_code) {
  CLI::App* bench = app.add_subcommand("bench", "Benchmarks on weir's own workload");
  bench->require_subcommand(1);
  bench->footer(
      "Examples:\n"
      "  weir bench compare --options config/rocksdb/default.yaml \\\n"
      "      --options config/rocksdb/tuned.yaml --output /tmp/compare\n"
      "  weir bench load --load-config config/loadtest.yaml\n"
      "  weir bench produce    weir bench consume\n"
      "  weir bench failover --fill 200000\n"
      "  weir bench kstreams --records 1000000 --cards 100000 --output /tmp/kstreams\n"
      "Figures and what they mean: docs/benchmarks.md");
  auto flags = std::make_shared<CompareFlags>();
  CLI::App* compare = bench->add_subcommand(
      "compare", "Run one deterministic fraud workload once per RocksDB option set and compare");
  compare
      ->add_option("--options", flags->options.option_sets,
                   "A RocksDB option-set file; repeat for each set to compare")
      ->required()
      ->check(CLI::ExistingFile);
  compare->add_option("--records", flags->options.records, "Payments to process per set")
      ->check(Positive())
      ->capture_default_str();
  compare
      ->add_option("--cards", flags->options.cards,
                   "Card population: many cards make the windows outgrow the block caches")
      ->check(Positive())
      ->capture_default_str();
  compare->add_option("--seed", flags->options.seed, "Workload seed")->capture_default_str();
  compare->add_option("--tasks", flags->options.partitions, "Tasks (partitions)")
      ->check(InRange(1, 64))
      ->capture_default_str();
  compare
      ->add_option("--cache-bytes", flags->options.cache_max_bytes,
                   "Record cache (small, so RocksDB does the work)")
      ->check(NonNegative())
      ->capture_default_str();
  compare->add_option("--commit-every", flags->options.commit_every, "Records between commits")
      ->check(Positive())
      ->capture_default_str();
  compare->add_option("--fraud-config", flags->options.fraud_config, "The topology's rules")
      ->check(CLI::ExistingFile)
      ->capture_default_str();
  compare
      ->add_option("--threads", flags->options.threads,
                   "Stream threads of the instance (with --end-to-end; give --tasks at least as "
                   "many)")
      ->check(InRange(1, 16))
      ->capture_default_str();
  compare->add_flag("--end-to-end", flags->options.end_to_end,
                    "Through an embedded broker: produce the payments, then let the instance "
                    "`weir run` runs consume them (--threads stream threads), beside a raw "
                    "consumer");
  compare->add_option("--state-dir", flags->options.state_root,
                      "Where each set's fresh state goes (default: a temporary directory, "
                      "removed afterwards)");
  compare->add_option("-o,--output", flags->output,
                      "Directory for results.json and report.html (self-contained, no network)");
  compare->footer(
      "In process: the fraud topology runs through the test driver with RocksDB state, the\n"
      "record cache and commits, each option set in a child process of its own from an empty\n"
      "state directory (so peak RSS and caches do not carry over). Reports per set: records/s,\n"
      "MB/s, average and p99 processing latency, block cache data hit ratio, write-stall time,\n"
      "bytes written, memtable bytes flushed, compaction bytes, peak RSS, state size; then\n"
      "the rate of RocksDB alone doing the same payments' window gets and puts with the same\n"
      "options and no engine, and how long its gets took (reads no engine can skip).\n"
      "--end-to-end: the payments go to an embedded broker first, then the instance `weir run`\n"
      "runs consumes them (--threads stream threads, a commit every second), and a raw\n"
      "consumer's rate over the same input is printed beside.\n\n"
      "Examples:\n"
      "  weir bench compare --options config/rocksdb/default.yaml \\\n"
      "      --options config/rocksdb/tuned.yaml --output /tmp/compare\n"
      "  weir bench compare --end-to-end --threads 2 --options config/rocksdb/tuned.yaml\n");
  compare->callback(
      [flags, exit_code] { ReportOutcome("bench compare", Compare(*flags), exit_code); });

  AddFailoverCommand(*bench, exit_code);
  AddKStreamsCommand(*bench, exit_code);

  auto produce_flags = std::make_shared<ClientBenchFlags>();
  CLI::App* produce = bench->add_subcommand(
      "produce", "Producer throughput, baseline vs tuned client settings");
  AddClientBenchFlags(*produce, *produce_flags);
  produce->add_option("--record-size", produce_flags->record_size, "Bytes per record")
      ->check(InRange(1, 1'000'000))
      ->capture_default_str();
  produce
      ->add_option("--throughput", produce_flags->throughput,
                   "Records per second; -1 = as fast as possible")
      ->capture_default_str();
  produce->footer(
      "Like kafka-producer-perf-test, twice: Baseline (batch.size=16384, linger.ms=0, no\n"
      "compression: the Java client's defaults) and Tuned (batch.size=65536, linger.ms=20,\n"
      "compression.type=lz4), both acks=all with idempotence; records of random letters.\n"
      "Prints records/s, MB/s, average and p99 send-to-acknowledgement latency. With\n"
      "bootstrap.servers empty it starts the embedded broker in process (its limits: 100,000\n"
      "records or 5 MiB per partition, docs/broker.md).\n\n"
      "Example:\n  weir bench produce --set bootstrap.servers=127.0.0.1:9092 --records 1000000\n");
  produce->callback([produce_flags, exit_code] {
    ReportOutcome("bench produce", Produce(*produce_flags), exit_code);
  });

  auto load_flags = std::make_shared<LoadFlags>();
  CLI::App* load = bench->add_subcommand(
      "load", "Production load test: sustained peak, 2x burst, consumer throughput, verdicts");
  AddConfigFlags(*load, load_flags->config, "config/weir.yaml");
  load->add_option("--load-config", load_flags->load_config,
                   "Peak rate, phases, SLA and lag threshold (keys: docs/benchmarks.md)")
      ->check(CLI::ExistingFile)
      ->capture_default_str();
  load->footer(
      "A three-phase load test (docs/benchmarks.md) against the fraud-detection instance `weir\n"
      "run` runs, in this\n"
      "process (on bootstrap.servers, or an embedded broker when it is empty): phase 1 sends\n"
      "generated payments at peak.rate, phase 2 at twice that, then a fresh consumer reads the\n"
      "payments back (consumer throughput). It reports per phase the rate offered and\n"
      "processed, payment-to-alert latency p50/p99 and the most records waiting, and a\n"
      "PASS/FAIL verdict per production-readiness check: burst processed at 2x peak, p99 under\n"
      "sla.p99.ms, lag under max.lag.records. Exit status 1 when a check fails.\n\n"
      "Example:\n  weir bench load --load-config config/loadtest.yaml\n");
  load->callback([load_flags, exit_code] {
    ReportOutcome("bench load", Load(*load_flags, exit_code), exit_code);
  });

  auto consume_flags = std::make_shared<ClientBenchFlags>();
  CLI::App* consume = bench->add_subcommand(
      "consume", "Consumer throughput, baseline vs tuned fetch settings");
  AddClientBenchFlags(*consume, *consume_flags);
  consume->footer(
      "Like kafka-consumer-perf-test, twice: Baseline (fetch.min.bytes=1) and Tuned\n"
      "(fetch.min.bytes=1048576, fetch.wait.max.ms=500), each a fresh consumer reading --records\n"
      "records of --topic from the beginning. With bootstrap.servers empty it starts the\n"
      "embedded broker and fills the topic first.\n\n"
      "Example:\n  weir bench consume --set bootstrap.servers=127.0.0.1:9092 --topic perf-test\n");
  consume->callback([consume_flags, exit_code] {
    ReportOutcome("bench consume", Consume(*consume_flags), exit_code);
  });
}

}  // namespace weir::cli
