// `weir bench compare`: default vs tuned (vs any) RocksDB option sets on one fraud workload.
#include <unistd.h>

#include <cstdio>
#include <filesystem>

#include "absl/strings/str_cat.h"
#include "bench/compare.h"
#include "cli/bench_commands.h"
#include "cli/commands.h"
#include "common/status.h"

namespace weir::cli {
namespace {

struct CompareFlags {
  bench::CompareOptions options;
  std::string output;
};

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
  return WriteOutputFiles(flags.output,
                          {{"results.json", bench::ResultsJson(flags.options, results)},
                           {"report.html", bench::ResultsHtml(flags.options, results)}});
}

}  // namespace

void AddBenchCompareCommand(CLI::App& bench, int* exit_code) {
  auto flags = std::make_shared<CompareFlags>();
  CLI::App* compare = bench.add_subcommand(
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
}

}  // namespace weir::cli
