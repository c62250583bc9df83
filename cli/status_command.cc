// `weir status`: the whole application's view - instances, tasks, standbys and lags - from the
// membership topic every instance heartbeats on (engine/runtime/membership.h).
#include <algorithm>
#include <chrono>
#include <cstdio>
#include <map>

#include "absl/strings/str_cat.h"
#include "absl/strings/str_format.h"
#include "absl/strings/str_join.h"
#include "cli/commands.h"
#include "common/clock.h"
#include "common/logging.h"
#include "common/status.h"
#include "engine/runtime/app_config.h"
#include "engine/runtime/membership.h"
#include "nlohmann/json.hpp"

namespace weir::cli {
namespace {

struct StatusFlags {
  ConfigFlags config;
  bool json = false;
  double timeout_s = 10;
};

std::string Lag(int64_t lag) { return lag < 0 ? "?" : absl::StrCat(lag); }

void PrintTable(const AppConfig& config, const std::vector<InstanceView>& instances, int64_t now) {
  struct Row {
    const InstanceView* owner = nullptr;
    const ActiveTaskView* active = nullptr;
    std::vector<std::pair<const InstanceView*, const StandbyTaskView*>> standbys;
  };
  std::map<TaskId, Row> tasks;
  size_t standby_count = 0;
  for (const InstanceView& instance : instances) {
    for (const ActiveTaskView& task : instance.active) {
      tasks[task.id].owner = &instance;
      tasks[task.id].active = &task;
    }
    for (const StandbyTaskView& task : instance.standby) {
      tasks[task.id].standbys.push_back({&instance, &task});
      ++standby_count;
    }
  }
  std::printf("application %s at %s: %zu instances, %zu active tasks, %zu standby tasks\n\n",
              config.application_id.c_str(), config.bootstrap_servers.c_str(), instances.size(),
              static_cast<size_t>(std::count_if(tasks.begin(), tasks.end(),
                                                [](const auto& t) { return t.second.active; })),
              standby_count);
  std::printf("%-10s %-24s %7s %6s %7s %10s\n", "INSTANCE", "ENDPOINT", "THREADS", "ACTIVE",
              "STANDBY", "HEARTBEAT");
  for (const InstanceView& instance : instances) {
    std::printf("%-10s %-24s %7zu %6zu %7zu %8.1fs\n", instance.instance.c_str(),
                instance.endpoint.c_str(), instance.member_ids.size(), instance.active.size(),
                instance.standby.size(), static_cast<double>(now - instance.heartbeat_ms) / 1e3);
  }
  std::printf("\n%-6s %-10s %9s %9s  %s\n", "TASK", "ACTIVE", "INPUT LAG", "RESTORED",
              absl::StrFormat("STANDBYS (instance: changelog lag; * = within "
                              "acceptable.recovery.lag %d)",
                              config.acceptable_recovery_lag)
                  .c_str());
  for (const auto& [id, row] : tasks) {
    std::vector<std::string> standbys;
    for (const auto& [instance, standby] : row.standbys) {
      standbys.push_back(
          absl::StrCat(instance->instance, ": ", standby->lag, standby->caught_up ? "*" : ""));
    }
    std::printf("%-6s %-10s %9s %9s  %s\n", id.ToString().c_str(),
                row.owner != nullptr ? row.owner->instance.c_str() : "(none)",
                row.active != nullptr ? Lag(row.active->input_lag).c_str() : "",
                row.active != nullptr ? absl::StrCat(row.active->restored).c_str() : "",
                standbys.empty() ? "-" : absl::StrJoin(standbys, ", ").c_str());
  }
}

absl::Status Status(const StatusFlags& flags) {
  WEIR_ASSIGN_OR_RETURN(AppConfig config, LoadAppConfig(flags.config.path, flags.config.overrides));
  if (config.bootstrap_servers.empty()) {
    return absl::InvalidArgumentError(
        "key 'bootstrap.servers' is empty: `weir status` reads the membership topic of the "
        "cluster the application runs on (e.g. --set bootstrap.servers=host:9092)");
  }
  if (config.application_id.empty()) {
    return absl::InvalidArgumentError("key 'application.id': required to find the application");
  }
  // --timeout bounds the whole read: the topic's metadata and offsets, then its records.
  const auto start = std::chrono::steady_clock::now();
  const int timeout_ms = static_cast<int>(flags.timeout_s * 1000);
  WEIR_ASSIGN_OR_RETURN(
      std::unique_ptr<MembershipReader> reader,
      MembershipReader::Create(config, config.application_id + "-status", 1000, timeout_ms));
  const auto spent = std::chrono::duration_cast<std::chrono::milliseconds>(
                         std::chrono::steady_clock::now() - start)
                         .count();
  WEIR_RETURN_IF_ERROR(reader->CatchUp(static_cast<int>(std::max<int64_t>(timeout_ms - spent, 1))));
  const int64_t now = WallClockMs();
  const std::vector<InstanceView> instances = reader->Live(now);
  if (flags.json) {
    nlohmann::json json = nlohmann::json::array();
    for (const InstanceView& instance : instances) {
      json.push_back(nlohmann::json::parse(instance.ToJson()));
    }
    std::printf("%s\n", json.dump(2).c_str());
  } else {
    PrintTable(config, instances, now);
  }
  if (instances.empty()) {
    return absl::NotFoundError(absl::StrCat("no live instance of '", config.application_id,
                                            "' heartbeats on ",
                                            MembershipTopic(config.application_id)));
  }
  return absl::OkStatus();
}

}  // namespace

void AddStatusCommand(CLI::App& app, int* exit_code) {
  auto flags = std::make_shared<StatusFlags>();
  CLI::App* command = app.add_subcommand(
      "status",
      "Print the application's instances, tasks and standbys with their lags, as the\n"
      "instances report them on the membership topic <application.id>-instances.");
  AddConfigFlags(*command, flags->config, "config/weir.yaml");
  command->add_flag("--json", flags->json, "Print the instances' heartbeats as JSON");
  command
      ->add_option("--timeout", flags->timeout_s,
                   "Seconds to wait for the membership topic's records")
      ->capture_default_str()
      ->check(Positive());
  command->footer(
      "\nEach instance heartbeats once a second; an instance is listed while its latest\n"
      "heartbeat is younger than its session.timeout.ms and it has not left.\n"
      "Columns: INPUT LAG = records behind the input partitions' ends; RESTORED = changelog\n"
      "records the task restored when this instance took it; a standby's lag counts changelog\n"
      "records it trails by (docs/standby.md). Exit status 2 when no instance is live.\n\n"
      "Example:\n"
      "  weir status --set bootstrap.servers=localhost:9092 --set application.id=fraud-detection");
  command->callback([flags, exit_code] { ReportOutcome("status", Status(*flags), exit_code); });
}

}  // namespace weir::cli
