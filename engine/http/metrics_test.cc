// RenderMetrics over a snapshot in which every figure is present: each declared family is
// rendered with exactly its declared labels, and a debug family only at recording level debug.
#include "engine/http/metrics.h"

#include <gmock/gmock.h>
#include <gtest/gtest.h>

#include <map>
#include <regex>
#include <set>
#include <string>
#include <vector>

namespace weir {
namespace {

Sensor::Reading Seen() {
  return {.count = 3, .sum = 6, .count_rate = 0.1, .sum_rate = 0.2, .avg = 2, .min = 1, .max = 3};
}

// A snapshot with one thread, one task holding every kind of figure, a standby and queries.
MetricsSnapshot Everything() {
  MetricsSnapshot s{.client_id = "app-1",
                    .state = "RUNNING",
                    .failed_threads = 1,
                    .resident_bytes = 100,
                    .memory_plan_bytes = 200};
  ThreadSnapshot& t = s.threads.emplace_back();
  t.name = "app-1-StreamThread-1";
  t.state = ThreadState::kRunning;
  t.state_dir_free_bytes = int64_t{1} << 30;  // rendered once the thread has looked
  TaskMetrics& task = t.metrics.tasks.emplace_back();
  task.id = {0, 3};
  task.process = task.dropped = task.e2e_latency_ms = task.sink_e2e_latency_ms = Seen();
  task.caches = {{.store = "card-windows", .hits = 2, .misses = 1}};
  TaskDbStatistics& db = task.rocksdb.emplace();
  db.tickers_enabled = true;
  db.stores["card-windows"] = {};
  for (int op = 0; op < kStoreOperationCount; ++op) {
    task.store_operations["card-windows"].by_operation[static_cast<StoreOperation>(op)] = Seen();
  }
  for (KafkaClientStats* stats : {&t.metrics.consumer, &t.metrics.producer}) {
    stats->reported = true;
    stats->brokers = stats->brokers_up = 1;
  }
  t.metrics.consumer.records_lag[{"payments", 3}] = 7;
  s.standbys.push_back({.id = {0, 4}, .lag = 2, .applied = 9});
  s.global_thread = GlobalThreadStatus{
      .bootstrapped = true, .records_applied = 7, .bootstrap_records = 5, .records_skipped = 1};
  s.queries = MetricsSnapshot::Queries{.counts = {{{"card-5m/windows", 200, false}, 4}},
                                       .latency_ms = Seen()};
  return s;
}

// Family name -> the label names of each of its samples.
std::map<std::string, std::vector<std::vector<std::string>>> Samples(const std::string& text) {
  std::map<std::string, std::vector<std::vector<std::string>>> samples;
  static const std::regex sample("^(weir_[a-z0-9_]+)\\{([^}]*)\\}", std::regex::multiline);
  static const std::regex label("([a-z_]+)=\"");
  for (std::sregex_iterator it(text.begin(), text.end(), sample), end; it != end; ++it) {
    const std::string labels = (*it)[2].str();
    std::vector<std::string> names;
    for (std::sregex_iterator l(labels.begin(), labels.end(), label); l != end; ++l) {
      names.push_back((*l)[1].str());
    }
    samples[(*it)[1].str()].push_back(names);
  }
  return samples;
}

TEST(RenderMetrics, EveryFamilyCarriesExactlyItsDeclaredLabels) {
  const RenderedMetrics rendered = RenderMetrics(Everything(), RecordingLevel::kDebug);
  EXPECT_THAT(rendered.mismatched_families, ::testing::IsEmpty());
  const auto samples = Samples(rendered.text);
  for (const MetricDescription& d : MetricDescriptions()) {
    ASSERT_TRUE(samples.contains(d.name)) << d.name << " is declared but not rendered";
    const std::span<const char* const> declared = LabelNames(d.labels);
    for (const std::vector<std::string>& names : samples.at(d.name)) {
      EXPECT_THAT(names, ::testing::UnorderedElementsAreArray(declared)) << d.name;
    }
  }
  for (const auto& [name, unused] : samples) {
    EXPECT_TRUE(std::any_of(MetricDescriptions().begin(), MetricDescriptions().end(),
                            [&](const MetricDescription& d) { return name == d.name; }))
        << name << " is rendered but not declared";
  }
}

TEST(RenderMetrics, DebugFamiliesOnlyAtRecordingLevelDebug) {
  const auto samples = Samples(RenderMetrics(Everything(), RecordingLevel::kInfo).text);
  int debug = 0;
  for (const MetricDescription& d : MetricDescriptions()) {
    if (d.level == RecordingLevel::kDebug) {
      ++debug;
      EXPECT_FALSE(samples.contains(d.name)) << d.name << " is debug-level";
    } else {
      EXPECT_TRUE(samples.contains(d.name)) << d.name << " is info-level";
    }
  }
  EXPECT_GT(debug, 20) << "the record cache's and the metered stores' families";
}

TEST(RenderMetrics, TheDocsTableNamesTypesLabelsAndLevels) {
  const std::string table = MetricsMarkdownTable();
  EXPECT_THAT(table,
              ::testing::HasSubstr("| `weir_record_cache_hit_ratio` | gauge | thread_id, task_id, "
                                   "record_cache_id |"));
  EXPECT_THAT(table, ::testing::HasSubstr("| `weir_task_restore_total` | counter | thread_id, "
                                          "task_id |"));
  EXPECT_THAT(table, ::testing::ContainsRegex("weir_state_put_rate.*\\| debug \\|"));
}

}  // namespace
}  // namespace weir
