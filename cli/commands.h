// The `weir` command's subcommands. Each Add*Command registers one subcommand on the app with
// its flags, help text and an example, and sets the callback that runs it. A callback reports
// its outcome through the exit code it stores in `*exit_code` (0 success, 1 runtime failure,
// 2 bad flags or config).
#ifndef WEIR_CLI_COMMANDS_H_
#define WEIR_CLI_COMMANDS_H_

#include <CLI/CLI.hpp>
#include <string>
#include <vector>

#include "absl/status/status.h"

namespace weir::cli {

// Flags shared by commands that read config/weir.yaml.
struct ConfigFlags {
  std::string path;                    // --config
  std::vector<std::string> overrides;  // --set key=value, in order
};

// Adds --config and --set to `command`; `default_path` is used when --config is not given
// ("" = built-in defaults only).
void AddConfigFlags(CLI::App& command, ConfigFlags& flags, const std::string& default_path);

// Logs a failed command's status as "weir <command>: <message>" and sets the exit code: 2 for
// bad flags, config or input (InvalidArgument, NotFound), 1 for anything else.
void ReportOutcome(const char* command, const absl::Status& status, int* exit_code);

// Validators for numeric flags whose errors say what was expected ("expected a positive number,
// got 'abc'"); CLI11's own PositiveNumber and Range word theirs with the limits of double.
CLI::Validator Positive();
CLI::Validator NonNegative();
CLI::Validator InRange(double min, double max);

// Writes `text` to `path` atomically (a temporary file renamed over it), so a script polling for
// the file never reads half of it: `weir broker --bootstrap-file`, `weir run --port-file`.
absl::Status WriteFileAtomically(const std::string& path, const std::string& text);

// Prints a flag parsing error as one line naming the (sub)command and pointing at its --help,
// and returns the exit code for usage errors, 2 (CLI11's own codes are not passed on).
int ReportUsageError(const CLI::App& app, const CLI::ParseError& error);

void AddBrokerCommand(CLI::App& app, int* exit_code);
void AddConfigCommand(CLI::App& app, int* exit_code);
void AddRunCommand(CLI::App& app, int* exit_code);
void AddReplayCommand(CLI::App& app, int* exit_code);
void AddLoadgenCommand(CLI::App& app, int* exit_code);
void AddBenchCommand(CLI::App& app, int* exit_code);
void AddStateCommand(CLI::App& app, int* exit_code);
void AddPlanCommand(CLI::App& app, int* exit_code);
void AddStatusCommand(CLI::App& app, int* exit_code);
void AddQueryCommand(CLI::App& app, int* exit_code);

}  // namespace weir::cli

#endif  // WEIR_CLI_COMMANDS_H_
