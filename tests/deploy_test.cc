// deploy/: the Prometheus config and alert rules pass promtool (syntax and rule unit tests),
// every metric the rules and the Grafana dashboard use is one weir exports (engine/metrics.cc),
// and the systemd unit passes `systemd-analyze verify` with the memory limit the plan gives.
#include <gmock/gmock.h>
#include <gtest/gtest.h>

#include <filesystem>
#include <fstream>
#include <map>
#include <nlohmann/json.hpp>
#include <regex>
#include <set>
#include <sstream>

#include "engine/metrics.h"
#include "tests/support/subprocess.h"

namespace weir {
namespace {

using testing::ReadFile;

std::set<std::string> MetricNamesIn(const std::string& text) {
  static const std::regex name("weir_[a-z0-9_]+");
  std::set<std::string> names;
  for (std::sregex_iterator it(text.begin(), text.end(), name), end; it != end; ++it) {
    names.insert(it->str());
  }
  return names;
}

std::set<std::string> Declared() {
  std::set<std::string> names;
  for (const MetricDescription& d : MetricDescriptions()) names.insert(d.name);
  return names;
}

TEST(Deploy, PromtoolAcceptsTheConfigAndTheRulesAndTheirUnitTestsPass) {
  for (const std::vector<std::string>& argv :
       {std::vector<std::string>{"promtool", "check", "config", "deploy/prometheus/prometheus.yml"},
        std::vector<std::string>{"promtool", "check", "rules", "deploy/prometheus/weir-rules.yml"},
        std::vector<std::string>{"promtool", "test", "rules",
                                 "deploy/prometheus/weir-rules.test.yml"}}) {
    const testing::CommandResult result = testing::RunCommand(argv, "", std::chrono::seconds(60));
    EXPECT_EQ(result.exit_status, 0) << argv[1] << " " << argv[2] << ":\n"
                                     << result.out << result.err;
  }
}

TEST(Deploy, RulesUseOnlyExportedMetrics) {
  const std::set<std::string> used = MetricNamesIn(ReadFile("deploy/prometheus/weir-rules.yml"));
  EXPECT_GE(used.size(), 5u);
  const std::set<std::string> declared = Declared();
  for (const std::string& name : used) EXPECT_TRUE(declared.contains(name)) << name;
}

TEST(Deploy, TheDashboardShowsWhatOperatorsWatchWithExportedMetrics) {
  const nlohmann::json dashboard =
      nlohmann::json::parse(ReadFile("deploy/grafana/weir-dashboard.json"), nullptr, false);
  ASSERT_FALSE(dashboard.is_discarded()) << "deploy/grafana/weir-dashboard.json is not JSON";
  std::string expressions;
  for (const auto& panel : dashboard["panels"]) {
    for (const auto& target : panel["targets"])
      expressions += target["expr"].get<std::string>() + "\n";
  }
  const std::set<std::string> used = MetricNamesIn(expressions);
  const std::set<std::string> declared = Declared();
  for (const std::string& name : used) EXPECT_TRUE(declared.contains(name)) << name;
  for (const char* needed :
       {"weir_thread_process_rate", "weir_kafka_consumer_records_lag",
        "weir_processor_node_record_e2e_latency_avg", "weir_state_block_cache_data_hit_ratio",
        "weir_state_write_stall_duration_total", "weir_state_cur_size_all_mem_tables",
        "weir_state_block_cache_usage"}) {
    EXPECT_TRUE(used.contains(needed)) << "the dashboard has no panel on " << needed;
  }
}

// The unit's `Key=value` lines.
std::map<std::string, std::string> UnitSettings(const std::string& text) {
  std::map<std::string, std::string> settings;
  std::istringstream lines(text);
  for (std::string line; std::getline(lines, line);) {
    const size_t eq = line.find('=');
    if (line.empty() || line[0] == '#' || line[0] == '[' || eq == std::string::npos) continue;
    settings[line.substr(0, eq)] = line.substr(eq + 1);
  }
  return settings;
}

TEST(Deploy, TheSystemdUnitVerifiesIsHardenedAndHasThePlansMemoryLimit) {
  const std::string unit = ReadFile("deploy/systemd/weir.service");
  ASSERT_FALSE(unit.empty());
  // systemd-analyze checks that ExecStart's binary exists: point it at the one just built.
  const std::string dir = ::testing::TempDir() + "/systemd-unit";
  std::filesystem::create_directories(dir);
  const std::string copy = dir + "/weir.service";
  std::ofstream(copy) << std::regex_replace(
      unit, std::regex("/usr/local/bin/weir"),
      std::filesystem::absolute(testing::WeirBinary()).string());
  const testing::CommandResult verify =
      testing::RunCommand({"systemd-analyze", "verify", copy}, "", std::chrono::seconds(60));
  EXPECT_EQ(verify.exit_status, 0) << verify.err;
  EXPECT_EQ(verify.out + verify.err, "") << "systemd-analyze warns about the unit";

  std::map<std::string, std::string> settings = UnitSettings(unit);
  for (const auto& [key, value] :
       std::map<std::string, std::string>{{"User", "weir"},
                                          {"Restart", "on-failure"},
                                          {"KillSignal", "SIGTERM"},
                                          {"ProtectSystem", "strict"},
                                          {"ReadWritePaths", "/var/lib/weir"},
                                          {"NoNewPrivileges", "true"},
                                          {"PrivateTmp", "true"},
                                          {"EnvironmentFile", "/etc/weir/token-key.env"}}) {
    EXPECT_EQ(settings.count(key) ? settings.at(key) : "(absent)", value) << key;
  }
  EXPECT_THAT(settings["ExecStart"], ::testing::HasSubstr("--set state.dir=/var/lib/weir"));
  EXPECT_EQ(settings.count("Environment"), 0u)
      << "the card token key belongs in the EnvironmentFile, not the unit";

  // MemoryMax is the memory plan's container limit for the configuration the unit runs.
  const testing::CommandResult plan =
      testing::RunCommand({testing::WeirBinary(), "plan", "memory", "--config", "config/weir.yaml",
                           "--format", "systemd"},
                          "", std::chrono::seconds(60));
  ASSERT_EQ(plan.exit_status, 0) << plan.err;
  EXPECT_THAT(plan.out, ::testing::HasSubstr("MemoryMax=" + settings["MemoryMax"] + "\n"));
}

}  // namespace
}  // namespace weir
