// deploy/: the Prometheus config and alert rules pass promtool (syntax and rule unit tests), and
// every metric the rules and the Grafana dashboard use is one weir exports (engine/metrics.cc).
#include <gmock/gmock.h>
#include <gtest/gtest.h>

#include <fstream>
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

}  // namespace
}  // namespace weir
