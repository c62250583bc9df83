// `weir bench kstreams`: weir against Kafka Streams on one real broker and one input.
#include <unistd.h>

#include <cstdio>
#include <filesystem>

#include "absl/strings/str_cat.h"
#include "bench/kstreams.h"
#include "cli/bench_commands.h"
#include "cli/commands.h"
#include "common/status.h"

namespace weir::cli {
namespace {

struct KStreamsFlags {
  bench::KStreamsOptions options;
  std::string output;  // directory for results.json and report.html
};

absl::Status KStreams(KStreamsFlags flags) {
  WEIR_ASSIGN_OR_RETURN(flags.options.weir_binary, SelfExecutable());
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
                        absl::StrCat(report.status().message(),
                                     " (work directory kept: ", flags.options.work_dir, ")"));
  }
  const std::string table = bench::KStreamsTable(*report);
  if (!flags.output.empty()) {
    WEIR_RETURN_IF_ERROR(
        WriteOutputFiles(flags.output, {{"results.json", bench::KStreamsJson(*report)},
                                        {"report.html", bench::KStreamsHtml(*report)},
                                        {"table.txt", table}}));
  }
  std::fputs(table.c_str(), stdout);
  return absl::OkStatus();
}

}  // namespace

void AddBenchKStreamsCommand(CLI::App& bench, int* exit_code) {
  auto flags = std::make_shared<KStreamsFlags>();
  bench::KStreamsOptions& o = flags->options;
  CLI::App* kstreams = bench.add_subcommand(
      "kstreams",
      "weir against Kafka Streams on the fraud topology: same real broker, same input, "
      "throughput, latency, memory and alerts compared");
  kstreams->add_option("--records", o.records, "Payments `weir loadgen` generates")
      ->check(InRange(int64_t{2}, int64_t{100'000'000}))
      ->capture_default_str();
  kstreams->add_option("--cards", o.cards, "Card population")
      ->check(Positive())
      ->capture_default_str();
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

}  // namespace weir::cli
