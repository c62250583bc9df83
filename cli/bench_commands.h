// `weir bench`'s subcommands, one file each (cli/bench_*_command.cc): flags, help and output
// files here, the benchmarks themselves in bench/.
#ifndef WEIR_CLI_BENCH_COMMANDS_H_
#define WEIR_CLI_BENCH_COMMANDS_H_

#include <CLI/CLI.hpp>
#include <string>
#include <utility>
#include <vector>

#include "absl/status/status.h"
#include "absl/status/statusor.h"

namespace weir::cli {

void AddBenchCompareCommand(CLI::App& bench, int* exit_code);
void AddBenchLoadCommand(CLI::App& bench, int* exit_code);
void AddBenchFailoverCommand(CLI::App& bench, int* exit_code);
void AddBenchKStreamsCommand(CLI::App& bench, int* exit_code);
void AddBenchClientCommands(CLI::App& bench, int* exit_code);  // produce, consume

// Writes each (file name, text) into directory `dir`, creating it: a bench's --output.
absl::Status WriteOutputFiles(const std::string& dir,
                              const std::vector<std::pair<std::string, std::string>>& files);

// This executable's path, for benches that start weir as child processes.
absl::StatusOr<std::string> SelfExecutable();

}  // namespace weir::cli

#endif  // WEIR_CLI_BENCH_COMMANDS_H_
