// `weir state dump`: print what an application's tasks hold on local disk.
#include <cstdio>
#include <filesystem>
#include <set>

#include "absl/strings/escaping.h"
#include "absl/strings/str_cat.h"
#include "cli/commands.h"
#include "common/logging.h"
#include "engine/runtime/app_config.h"
#include "stores/task_db.h"

namespace weir::cli {
namespace {

absl::Status Dump(const ConfigFlags& flags) {
  absl::StatusOr<AppConfig> config = LoadAppConfig(flags.path, flags.overrides);
  if (!config.ok()) return config.status();
  if (config->application_id.empty()) {
    return absl::InvalidArgumentError("key 'application.id': required to find the state");
  }
  const std::filesystem::path root =
      std::filesystem::path(config->state_dir) / config->application_id;
  std::error_code error;
  if (!std::filesystem::is_directory(root, error)) {
    return absl::NotFoundError(
        absl::StrCat("no state for application '", config->application_id, "' in ", root.string()));
  }
  std::set<std::string> tasks;  // sorted: the output is stable
  for (const auto& entry : std::filesystem::directory_iterator(root)) {
    if (entry.is_directory()) tasks.insert(entry.path().filename().string());
  }
  for (const std::string& task : tasks) {
    absl::Status status = TaskDb::Dump(
        (root / task).string(),
        [&](absl::string_view family, absl::string_view key, absl::string_view value) {
          std::printf("%s\t%s\t%s\t%s\n", task.c_str(), std::string(family).c_str(),
                      absl::BytesToHexString(key).c_str(), absl::BytesToHexString(value).c_str());
        });
    if (!status.ok()) return status;
  }
  return absl::OkStatus();
}

}  // namespace

void AddStateCommand(CLI::App& app, int* exit_code) {
  CLI::App* command = app.add_subcommand("state", "Inspect an application's local state.");
  command->require_subcommand(1);
  auto flags = std::make_shared<ConfigFlags>();
  CLI::App* dump = command->add_subcommand(
      "dump",
      "Print every entry of every task's RocksDB instance under\n"
      "<state.dir>/<application.id>/, one per line: task, column family, key (hex), value (hex),\n"
      "in task, family and key order. Column family `default` holds each task's input offsets\n"
      "and stream times; `<store>:<segment>` families hold window segments\n"
      "(docs/state-layout.md). Reads without taking the state over: the instance may be\n"
      "running, in which case the dump shows its last commit.");
  AddConfigFlags(*dump, *flags, "config/weir.yaml");
  dump->footer(
      "Example:\n"
      "  weir state dump --config config/weir.yaml > /tmp/state.tsv");
  dump->callback([flags, exit_code] { ReportOutcome("state dump", Dump(*flags), exit_code); });
}

}  // namespace weir::cli
