// `weir bench compare`: default vs tuned (vs any) RocksDB option sets on one fraud workload.
#include <cstdio>
#include <filesystem>
#include <fstream>

#include "absl/strings/str_cat.h"
#include "bench/compare.h"
#include "cli/commands.h"
#include "common/logging.h"
#include "common/status.h"

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

}  // namespace

void AddBenchCommand(CLI::App& app, int* exit_code) {
  CLI::App* bench = app.add_subcommand("bench", "Benchmarks on weir's own workload");
  bench->require_subcommand(1);
  auto flags = std::make_shared<CompareFlags>();
  CLI::App* compare = bench->add_subcommand(
      "compare", "Run one deterministic fraud workload once per RocksDB option set and compare");
  compare->add_option("--options", flags->options.option_sets,
                      "A RocksDB option-set file; repeat for each set to compare")
      ->required()
      ->check(CLI::ExistingFile);
  compare->add_option("--records", flags->options.records, "Payments to process per set")
      ->check(CLI::PositiveNumber)
      ->capture_default_str();
  compare->add_option("--cards", flags->options.cards,
                      "Card population: many cards make the windows outgrow the block caches")
      ->check(CLI::PositiveNumber)
      ->capture_default_str();
  compare->add_option("--seed", flags->options.seed, "Workload seed")->capture_default_str();
  compare->add_option("--tasks", flags->options.partitions, "Tasks (partitions)")
      ->check(CLI::Range(1, 64))
      ->capture_default_str();
  compare->add_option("--cache-bytes", flags->options.cache_max_bytes,
                      "Record cache (small, so RocksDB does the work)")
      ->check(CLI::NonNegativeNumber)
      ->capture_default_str();
  compare->add_option("--commit-every", flags->options.commit_every, "Records between commits")
      ->check(CLI::PositiveNumber)
      ->capture_default_str();
  compare->add_option("--fraud-config", flags->options.fraud_config, "The topology's rules")
      ->check(CLI::ExistingFile)
      ->capture_default_str();
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
      "bytes written, memtable bytes flushed, compaction bytes, peak RSS, state size.\n\n"
      "Example:\n"
      "  weir bench compare --options config/rocksdb/default.yaml \\\n"
      "      --options config/rocksdb/tuned.yaml --output /tmp/compare\n");
  compare->callback([flags, exit_code] { ReportOutcome("bench compare", Compare(*flags), exit_code); });
}

}  // namespace weir::cli
