// `weir bench failover`: one of several instances killed mid-stream, with and without standbys.
#include <unistd.h>

#include <cstdio>
#include <filesystem>
#include <fstream>

#include "absl/strings/str_cat.h"
#include "bench/failover.h"
#include "cli/bench_commands.h"
#include "cli/commands.h"
#include "common/status.h"

namespace weir::cli {
namespace {

struct FailoverFlags {
  bench::FailoverOptions options;
  std::vector<int> replicas = {0, 1};
  std::string output;  // JSON of the reports
};

absl::Status Failover(FailoverFlags flags) {
  WEIR_ASSIGN_OR_RETURN(flags.options.weir_binary, SelfExecutable());
  const std::string root =
      flags.options.work_dir.empty()
          ? (std::filesystem::temp_directory_path() / absl::StrCat("weir-failover-", getpid()))
                .string()
          : flags.options.work_dir;
  std::vector<bench::FailoverReport> reports;
  for (const int replicas : flags.replicas) {
    bench::FailoverOptions options = flags.options;
    options.standby_replicas = replicas;
    options.work_dir = absl::StrCat(root, "/standby-", replicas);
    std::fprintf(stderr, "failover with num.standby.replicas=%d (logs in %s)...\n", replicas,
                 options.work_dir.c_str());
    WEIR_ASSIGN_OR_RETURN(bench::FailoverReport report, bench::RunFailover(options));
    reports.push_back(std::move(report));
  }
  std::printf("%s", bench::FailoverTable(reports).c_str());
  if (!flags.output.empty()) {
    std::ofstream out(flags.output);
    out << bench::FailoverJson(reports);
    if (!out) return absl::InternalError(absl::StrCat("cannot write ", flags.output));
  }
  if (flags.options.work_dir.empty()) {
    std::error_code ignored;
    std::filesystem::remove_all(root, ignored);
  }
  return absl::OkStatus();
}

}  // namespace

void AddBenchFailoverCommand(CLI::App& bench, int* exit_code) {
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
  failover
      ->add_option("--pause", o.pause_s,
                   "Instead of killing the last instance, stop it (SIGSTOP) for this many "
                   "seconds, then resume it: every instance must be ready again (a long pause, "
                   "a network blip; past the session timeout it is fenced and must rejoin)")
      ->check(CLI::NonNegativeNumber);
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
      "  weir bench failover --bootstrap-servers 127.0.0.1:9092 --records 60000\n"
      "  weir bench failover --bootstrap-servers 127.0.0.1:9092 --records 70000 --pause 12 \\\n"
      "      --set processing.guarantee=exactly_once_v2\n");
  failover->callback(
      [flags, exit_code] { ReportOutcome("bench failover", Failover(*flags), exit_code); });
}

}  // namespace weir::cli
