#include "cli/commands.h"
#include "common/logging.h"

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

void ReportOutcome(const char* command, const absl::Status& status, int* exit_code) {
  if (status.ok()) return;
  spdlog::error("weir {}: {}", command, status.message());
  *exit_code = absl::IsInvalidArgument(status) || absl::IsNotFound(status) ? 2 : 1;
}

}  // namespace weir::cli
