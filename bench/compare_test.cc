// bench compare's reports, from results made up here (the runs themselves: tests/bench_test.cc).
#include "bench/compare.h"

#include <gmock/gmock.h>
#include <gtest/gtest.h>

#include <cmath>
#include <limits>
#include <nlohmann/json.hpp>

#include "absl/strings/str_cat.h"
#include "stores/store_statistics.h"

namespace weir::bench {
namespace {

using ::testing::HasSubstr;
using ::testing::Not;

// A set whose state never reached RocksDB's block cache (everything in memtables).
CompareResult IdleCacheResult() {
  CompareResult r;
  r.option_set = "idle";
  r.records = 100;
  r.seconds = 1;
  r.records_per_s = 100;
  r.peak_rss_bytes = int64_t{300} << 20;
  r.baseline_rss_bytes = int64_t{100} << 20;
  r.planned_bytes = int64_t{200} << 20;
  r.block_cache_data_hit_ratio = HitRatio(0, 0);
  r.samples = {{.records = 50, .seconds = 0.5, .records_per_s = 100, .hit_ratio = HitRatio(0, 0)},
               {.records = 100, .seconds = 1, .records_per_s = 100, .hit_ratio = HitRatio(0, 0)}};
  return r;
}

TEST(HitRatio, IsAbsentWithoutLookups) {
  EXPECT_TRUE(std::isnan(HitRatio(0, 0)));
  EXPECT_DOUBLE_EQ(HitRatio(0, 4), 0.0);
  EXPECT_DOUBLE_EQ(HitRatio(3, 1), 0.75);
}

TEST(CompareReports, ACacheWithoutReadsSaysNoReadsNotZero) {
  const std::vector<CompareResult> results = {IdleCacheResult()};
  const std::string table = ResultsTable(results);
  EXPECT_THAT(table, HasSubstr("no reads"));
  EXPECT_THAT(table, Not(HasSubstr("nan")));

  const std::string html = ResultsHtml(CompareOptions{}, results);
  EXPECT_THAT(html, HasSubstr("<td>no reads</td>"));
  EXPECT_THAT(html, HasSubstr("idle (no reads)"));  // the hit ratio chart's legend
  EXPECT_THAT(html, Not(HasSubstr("nan")));

  const nlohmann::json json = nlohmann::json::parse(ResultsJson(CompareOptions{}, results));
  EXPECT_TRUE(json["results"][0]["block_cache_data_hit_ratio"].is_null());
  EXPECT_TRUE(json["results"][0]["samples"][0]["hit_ratio"].is_null());
  EXPECT_EQ(json["build_type"], BuildType());
  EXPECT_THAT(table, HasSubstr(absl::StrCat("build type: ", BuildType())));
  EXPECT_THAT(std::string(BuildType()),
              ::testing::AnyOf("RelWithDebInfo", "Release", "Debug", "MinSizeRel"));
}

TEST(CompareReports, EndToEndReportsTheMaximumAndNoP99) {
  CompareResult r = IdleCacheResult();
  r.raw_consume_records_per_s = 1'000'000;  // an end-to-end result
  r.latency_p99_us = std::numeric_limits<double>::quiet_NaN();
  r.latency_max_us = 42.5;
  const std::string table = ResultsTable({r});
  EXPECT_THAT(table, HasSubstr("max us"));
  EXPECT_THAT(table, Not(HasSubstr("p99 us")));
  EXPECT_THAT(table, HasSubstr("42.5"));
  EXPECT_THAT(table, Not(HasSubstr("nan")));

  CompareOptions options;
  options.end_to_end = true;
  const std::string html = ResultsHtml(options, {r});
  EXPECT_THAT(html, HasSubstr("<th>max µs</th>"));
  EXPECT_THAT(html, Not(HasSubstr("p99 µs")));
  EXPECT_THAT(html, HasSubstr("<td>42.5</td>"));
  EXPECT_THAT(html, Not(HasSubstr("nan")));

  const nlohmann::json json = nlohmann::json::parse(ResultsJson(options, {r}));
  EXPECT_TRUE(json["results"][0]["latency_p99_us"].is_null());
  EXPECT_EQ(json["results"][0]["latency_max_us"], 42.5);
}

// What a set's child process reports reads back as it was, figures not measured included.
TEST(CompareReports, AResultSurvivesItsJsonRoundTrip) {
  CompareResult r = IdleCacheResult();
  r.latency_p99_us = std::numeric_limits<double>::quiet_NaN();
  r.raw_rocksdb_one_value_get_us_per_record = 2.5;
  r.samples[1].stall_ms = 7;
  absl::StatusOr<CompareResult> back = CompareResultFromJson(CompareResultToJson(r));
  ASSERT_TRUE(back.ok()) << back.status();
  EXPECT_EQ(back->option_set, "idle");
  EXPECT_EQ(back->peak_rss_bytes, r.peak_rss_bytes);
  EXPECT_TRUE(std::isnan(back->latency_p99_us));
  EXPECT_TRUE(std::isnan(back->block_cache_data_hit_ratio));
  EXPECT_DOUBLE_EQ(back->raw_rocksdb_one_value_get_us_per_record, 2.5);
  ASSERT_EQ(back->samples.size(), 2u);
  EXPECT_TRUE(std::isnan(back->samples[0].hit_ratio));
  EXPECT_DOUBLE_EQ(back->samples[1].stall_ms, 7);
  EXPECT_FALSE(CompareResultFromJson("{\"records\": 1}").ok()) << "fields missing";
  EXPECT_FALSE(CompareResultFromJson("not json").ok());
}

// An option set's path goes into the report as text, never as markup.
TEST(CompareReports, TheHtmlReportEscapesPaths) {
  CompareResult r = IdleCacheResult();
  r.option_set = "/tmp/<b>&'\".yaml";
  r.raw_rocksdb_records_per_s = 10;
  r.raw_rocksdb_one_value_records_per_s = 20;
  const std::string html = ResultsHtml(CompareOptions{}, {r});
  EXPECT_THAT(html, Not(HasSubstr("<b>")));
  EXPECT_THAT(html, HasSubstr("/tmp/&lt;b&gt;&amp;&#39;&quot;.yaml"));
}

}  // namespace
}  // namespace weir::bench
