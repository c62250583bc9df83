// A real Prometheus server (Debian's `prometheus`, loopback only, 1 s scrapes) scrapes
// `weir run` on the embedded broker while `weir loadgen` feeds it; the test then asks
// Prometheus' HTTP API what it stored. Also: `promtool check metrics` accepts /metrics, and
// /metrics and docs/metrics.md (MetricDescriptions) agree family for family.
#include <gmock/gmock.h>
#include <gtest/gtest.h>
#include <signal.h>

#include <filesystem>
#include <algorithm>
#include <fstream>
#include <map>
#include <nlohmann/json.hpp>
#include <regex>
#include <set>
#include <thread>

#include "absl/strings/str_cat.h"
#include "absl/strings/str_split.h"
#include "common/http_client.h"
#include "engine/http/metrics.h"
#include "tests/support/subprocess.h"

namespace weir {
namespace {

using test::RunCommand;
using test::Subprocess;
using test::WaitFor;
using test::WeirBinary;
using Clock = std::chrono::steady_clock;

constexpr int kPartitions = 12;  // the embedded broker's default for payments

class PrometheusScrape : public ::testing::Test {
 protected:
  void SetUp() override {
    root_ = std::filesystem::temp_directory_path() / absl::StrCat("weir-prom-", ::getpid());
    std::error_code ignored;
    std::filesystem::remove_all(root_, ignored);
    std::filesystem::create_directories(root_);
  }
  void TearDown() override {
    for (Subprocess* p : {prometheus_.get(), weir_.get()}) {
      if (p != nullptr) p->Signal(SIGTERM);
    }
    if (prometheus_ != nullptr) prometheus_->Wait(std::chrono::seconds(30));
    if (weir_ != nullptr) weir_->Wait(std::chrono::seconds(60));
    test::RemoveUnlessFailed(root_);
  }

  // Prometheus' instant query result for `query` (the `data.result` array).
  nlohmann::json Query(const std::string& query) const {
    const HttpResponse response =
        HttpGet(prometheus_port_, "/api/v1/query?query=" + UrlEncode(query));
    if (response.status != 200) return nlohmann::json::array();
    const nlohmann::json body = nlohmann::json::parse(response.body, nullptr, false);
    if (body.is_discarded() || body.value("status", "") != "success")
      return nlohmann::json::array();
    return body["data"]["result"];
  }
  // Waits up to 90 s for `query` to return at least `series` series.
  nlohmann::json WaitForSeries(const std::string& query, size_t series) const {
    nlohmann::json result = nlohmann::json::array();
    WaitFor(
        [&] {
          result = Query(query);
          return result.size() >= series;
        },
        std::chrono::seconds(90), std::chrono::milliseconds(500));
    return result;
  }

  std::filesystem::path root_;
  std::unique_ptr<Subprocess> weir_;
  std::unique_ptr<Subprocess> prometheus_;
  int prometheus_port_ = 0;
};

TEST_F(PrometheusScrape, PrometheusStoresWeirsMetricsAndTheyMatchTheDocs) {
  setenv("WEIR_CARD_TOKEN_KEY", "prometheus-test", 1);
  auto weir = Subprocess::Start(
      {WeirBinary(), "run", "--progress-interval", "0", "--port-file",
       (root_ / "weir.port").string(), "--set",
       absl::StrCat("state.dir=", (root_ / "state").string()), "--set", "metrics.host=127.0.0.1",
       "--set", "metrics.port=0", "--set", "commit.interval.ms=1000"},
      (root_ / "weir.log").string());
  ASSERT_TRUE(weir.ok()) << weir.status();
  weir_ = *std::move(weir);
  const int metrics_port =
      ReadPortFile((root_ / "weir.port").string(), std::chrono::seconds(60)).value_or(0);
  ASSERT_NE(metrics_port, 0) << "weir wrote no --port-file; see " << (root_ / "weir.log");
  const std::optional<std::string> bootstrap = weir_->ReadLine(std::chrono::seconds(60));
  ASSERT_TRUE(bootstrap.has_value()) << "weir run printed no bootstrap servers";

  // /readyz turns 200 once the group has assigned every partition.
  ASSERT_TRUE(WaitFor([&] { return HttpGet(metrics_port, "/readyz").status == 200; },
                      std::chrono::seconds(60), std::chrono::milliseconds(200)))
      << "not ready within 60 s; see " << (root_ / "weir.log");
  EXPECT_EQ(HttpGet(metrics_port, "/healthz").status, 200);

  const test::CommandResult produced = RunCommand(
      {WeirBinary(), "loadgen", "--set", absl::StrCat("bootstrap.servers=", *bootstrap),
       "--records", "20000", "--rate", "4000", "--cards", "5000", "--progress-interval", "0"},
      "", std::chrono::seconds(120));
  ASSERT_EQ(produced.exit_status, 0) << produced.err;

  std::ofstream(root_ / "prometheus.yml")
      << "global:\n  scrape_interval: 1s\n  evaluation_interval: 1s\n"
      << "scrape_configs:\n  - job_name: weir\n    static_configs:\n      - targets: ['127.0.0.1:"
      << metrics_port << "']\n";
  auto prometheus = Subprocess::Start(
      {"prometheus", absl::StrCat("--config.file=", (root_ / "prometheus.yml").string()),
       absl::StrCat("--storage.tsdb.path=", (root_ / "tsdb").string()),
       "--web.listen-address=127.0.0.1:0",
       "--storage.tsdb.retention.time=1h"},
      (root_ / "prometheus.log").string());
  ASSERT_TRUE(prometheus.ok()) << prometheus.status();
  prometheus_ = *std::move(prometheus);
  prometheus_port_ = ListeningPort(prometheus_->pid(), std::chrono::seconds(60)).value_or(0);
  ASSERT_NE(prometheus_port_, 0) << "Prometheus listens on no one port; see "
                                 << (root_ / "prometheus.log");

  const nlohmann::json rate = WaitForSeries("weir_thread_process_rate > 0", 1);
  ASSERT_GE(rate.size(), 1u) << "Prometheus never saw a process rate above zero";
  const nlohmann::json hit_ratio =
      WaitForSeries("count by (store) (weir_state_block_cache_data_hit_ratio)", 1);
  const nlohmann::json stalls =
      WaitForSeries("count by (store) (weir_state_write_stall_duration_total)", 1);
  std::set<std::string> hit_stores, stall_stores;
  for (const auto& s : hit_ratio) hit_stores.insert(s["metric"]["store"].get<std::string>());
  for (const auto& s : stalls) stall_stores.insert(s["metric"]["store"].get<std::string>());
  const std::set<std::string> stores = {"card-windows"};
  EXPECT_EQ(hit_stores, stores);
  EXPECT_EQ(stall_stores, stores);
  const nlohmann::json lag =
      WaitForSeries("weir_kafka_consumer_records_lag{topic=\"payments\"}", kPartitions);
  std::set<std::string> partitions;
  for (const auto& s : lag) partitions.insert(s["metric"]["partition"].get<std::string>());
  EXPECT_EQ(partitions.size(), static_cast<size_t>(kPartitions)) << "lag for every partition";

  // One interactive query, so that its families have a sample.
  const HttpResponse query =
      HttpSend({.url = absl::StrCat("http://127.0.0.1:", metrics_port, "/state/card-5m/windows"),
                .body = R"({"token": "00000000000000000000000000000000"})"});
  EXPECT_EQ(query.status, 200) << query.body;

  // promtool accepts the exposition, and it agrees with docs/metrics.md.
  const HttpResponse metrics = HttpGet(metrics_port, "/metrics");
  ASSERT_EQ(metrics.status, 200);
  const test::CommandResult check =
      RunCommand({"promtool", "check", "metrics"}, metrics.body, std::chrono::seconds(60));
  EXPECT_EQ(check.exit_status, 0) << check.out << check.err;
  std::set<std::string> exported;
  static const std::regex type_line("# TYPE (weir_[a-z0-9_]+) ");
  for (std::sregex_iterator it(metrics.body.begin(), metrics.body.end(), type_line), end; it != end;
       ++it) {
    exported.insert((*it)[1].str());
  }
  std::set<std::string> documented_info;
  std::set<std::string> documented;
  for (const MetricDescription& d : MetricDescriptions()) {
    documented.insert(d.name);
    if (d.level == RecordingLevel::kInfo) documented_info.insert(d.name);
  }
  for (const std::string& name : exported) {
    EXPECT_TRUE(documented.contains(name)) << name << " is exported but not in docs/metrics.md";
  }
  // Per-standby families need a second instance to hold standbys: tests/failover_test.cc
  // checks them on a survivor. The global thread's need a global table, which the fraud
  // topology has not: tests/kafka_streams_test.cc's global table test checks them.
  const std::set<std::string> standby_only = {
      "weir_task_update_total", "weir_task_standby_records_lag",
      "weir_global_thread_records_applied_total", "weir_global_thread_bootstrap_records",
      "weir_global_thread_records_skipped_total", "weir_global_thread_records_lag"};
  for (const std::string& name : documented_info) {
    if (standby_only.contains(name)) continue;
    EXPECT_TRUE(exported.contains(name)) << name << " is documented (info) but not exported";
  }
  EXPECT_FALSE(exported.contains("weir_record_cache_hit_ratio")) << "debug-only at level info";

  // Every sample carries exactly the labels its family declares.
  std::map<std::string, std::vector<std::string>> declared_labels;
  for (const MetricDescription& d : MetricDescriptions()) {
    const std::span<const char* const> names = LabelNames(d.labels);
    declared_labels[d.name] = std::vector<std::string>(names.begin(), names.end());
  }
  static const std::regex sample("^(weir_[a-z0-9_]+)\\{([^}]*)\\}", std::regex::multiline);
  static const std::regex label("([a-z_]+)=\"");
  int samples = 0;
  for (std::sregex_iterator it(metrics.body.begin(), metrics.body.end(), sample), end; it != end;
       ++it) {
    const std::string name = (*it)[1].str();
    const std::string labels = (*it)[2].str();
    std::vector<std::string> names;
    for (std::sregex_iterator l(labels.begin(), labels.end(), label); l != end; ++l) {
      names.push_back((*l)[1].str());
    }
    ASSERT_TRUE(declared_labels.contains(name)) << name;
    std::vector<std::string> declared = declared_labels[name];
    std::sort(names.begin(), names.end());
    std::sort(declared.begin(), declared.end());
    EXPECT_EQ(names, declared) << "labels of " << name;
    ++samples;
  }
  EXPECT_GT(samples, 50);
  EXPECT_THAT(metrics.body, ::testing::HasSubstr(
                                "store=\"card-5m\",code=\"200\",from=\"client\"} 1"));
}

}  // namespace
}  // namespace weir
