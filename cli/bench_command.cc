// `weir bench`: the group of benchmark subcommands (cli/bench_commands.h), and what they share.
#include <unistd.h>

#include <filesystem>
#include <fstream>

#include "absl/strings/str_cat.h"
#include "cli/bench_commands.h"
#include "cli/commands.h"
#include "common/logging.h"

namespace weir::cli {

absl::Status WriteOutputFiles(const std::string& dir,
                              const std::vector<std::pair<std::string, std::string>>& files) {
  std::error_code error;
  std::filesystem::create_directories(dir, error);
  if (error) {
    return absl::InvalidArgumentError(
        absl::StrCat(dir, ": cannot create the output directory: ", error.message()));
  }
  std::string names;
  for (const auto& [name, text] : files) {
    const std::filesystem::path path = std::filesystem::path(dir) / name;
    std::ofstream out(path, std::ios::trunc);
    out << text;
    if (!out.flush()) {
      return absl::InvalidArgumentError(absl::StrCat(path.string(), ": cannot write"));
    }
    absl::StrAppend(&names, names.empty() ? "" : ", ", name);
  }
  spdlog::info("wrote {} in {}", names, dir);
  return absl::OkStatus();
}

absl::StatusOr<std::string> SelfExecutable() {
  char self[4096] = {};
  const ssize_t length = readlink("/proc/self/exe", self, sizeof(self) - 1);
  if (length <= 0) return absl::InternalError("cannot find the weir executable (/proc/self/exe)");
  return std::string(self, static_cast<size_t>(length));
}

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
  AddBenchCompareCommand(*bench, exit_code);
  AddBenchLoadCommand(*bench, exit_code);
  AddBenchFailoverCommand(*bench, exit_code);
  AddBenchKStreamsCommand(*bench, exit_code);
  AddBenchClientCommands(*bench, exit_code);
}

}  // namespace weir::cli
