#include <unistd.h>

#include <algorithm>
#include <cerrno>
#include <cstdio>
#include <cstring>
#include <filesystem>
#include <fstream>
#include <functional>

#include "absl/strings/ascii.h"
#include "absl/strings/numbers.h"
#include "absl/strings/str_cat.h"
#include "absl/strings/str_format.h"
#include "cli/commands.h"
#include "common/logging.h"
#include "engine/kafka/client_config.h"

namespace weir::cli {

void AddConfigFlags(CLI::App& command, ConfigFlags& flags, const std::string& default_path) {
  flags.path = default_path;
  command
      .add_option("-c,--config", flags.path,
                  "Application config file (YAML; keys in docs/configuration.md)")
      ->capture_default_str();
  command.add_option("--set", flags.overrides,
                     "Override one config key, KEY=VALUE; repeatable, applied after the file "
                     "(e.g. --set num.stream.threads=2)");
}

namespace {

CLI::Validator NumberCheck(std::string description, std::string expected,
                           std::function<bool(double)> accepts) {
  return CLI::Validator(
      [expected, accepts](std::string& text) -> std::string {
        double value = 0;
        if (absl::SimpleAtod(text, &value) && accepts(value)) return "";
        return absl::StrCat("expected ", expected, ", got '", text, "'");
      },
      std::move(description));
}

}  // namespace

CLI::Validator Positive() {
  return NumberCheck("POSITIVE", "a positive number", [](double v) { return v > 0; });
}

CLI::Validator NonNegative() {
  return NumberCheck("NONNEGATIVE", "a number >= 0", [](double v) { return v >= 0; });
}

CLI::Validator InRange(double min, double max) {
  return NumberCheck(absl::StrFormat("[%g - %g]", min, max),
                     absl::StrFormat("a number in [%g, %g]", min, max),
                     [min, max](double v) { return v >= min && v <= max; });
}

int ReportUsageError(const CLI::App& app, const CLI::ParseError& error) {
  // The deepest subcommand parsed before the error is the one whose help explains its flags.
  std::string command = app.get_name();
  for (const CLI::App* at = &app; !at->get_subcommands().empty();) {
    at = at->get_subcommands().front();
    absl::StrAppend(&command, " ", at->get_name());
  }
  std::string message = error.what();
  std::replace(message.begin(), message.end(), '\n', ' ');
  std::fprintf(stderr, "%s: %s (see '%s --help')\n", command.c_str(),
               std::string(absl::StripAsciiWhitespace(message)).c_str(), command.c_str());
  return 2;
}

void ReportOutcome(const char* command, const absl::Status& outcome, int* exit_code) {
  if (outcome.ok()) return;
  const absl::Status status = ExplainLoginFailure(outcome);
  spdlog::error("weir {}: {}", command, status.message());
  *exit_code = absl::IsInvalidArgument(status) || absl::IsNotFound(status) ? 2 : 1;
}

absl::Status WriteFileAtomically(const std::string& path, const std::string& text) {
  const std::string temporary = absl::StrCat(path, ".tmp.", getpid());
  {
    std::ofstream out(temporary, std::ios::trunc);
    out << text;
    if (!out.flush()) {
      return absl::InternalError(absl::StrCat(path, ": cannot write: ", std::strerror(errno)));
    }
  }
  std::error_code error;
  std::filesystem::rename(temporary, path, error);
  if (error) {
    return absl::InternalError(absl::StrCat(path, ": cannot write: ", error.message()));
  }
  return absl::OkStatus();
}

}  // namespace weir::cli
