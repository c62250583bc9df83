// `weir bench` end to end at tiny sizes: compare runs every set and writes the table,
// results.json and a self-contained report.html, and names a bad option set before anything
// runs; produce and consume print kafka-producer-perf-test's and
// kafka-consumer-perf-test's tables for both client configurations.
#include <gmock/gmock.h>
#include <gtest/gtest.h>

#include <filesystem>
#include <fstream>
#include <nlohmann/json.hpp>
#include <regex>
#include <sstream>

#include "absl/strings/str_cat.h"
#include "tests/support/subprocess.h"

namespace weir {
namespace {

using test::ReadFile;

TEST(BenchCompare, RunsEverySetAndWritesTheJsonAndASelfContainedReport) {
  const std::filesystem::path out =
      std::filesystem::temp_directory_path() / absl::StrCat("weir-compare-test-", getpid());
  std::filesystem::remove_all(out);
  const test::CommandResult result = test::RunCommand(
      {test::WeirBinary(), "bench", "compare", "--options", "config/rocksdb/default.yaml",
       "--options", "config/rocksdb/bounded.yaml", "--records", "3000", "--cards", "500",
       "--commit-every", "1000", "--output", out.string()},
      "", std::chrono::seconds(120));
  ASSERT_EQ(result.exit_status, 0) << result.err;
  EXPECT_THAT(result.out, ::testing::HasSubstr("config/rocksdb/default.yaml"));
  EXPECT_THAT(result.out, ::testing::HasSubstr("config/rocksdb/bounded.yaml"));
  const nlohmann::json json = nlohmann::json::parse(ReadFile(out / "results.json"), nullptr, false);
  ASSERT_FALSE(json.is_discarded());
  ASSERT_EQ(json["results"].size(), 2u);
  for (const auto& set : json["results"]) {
    EXPECT_EQ(set["records"], 3000);
    EXPECT_GT(set["records_per_s"].get<double>(), 0);
    EXPECT_GT(set["bytes_written"].get<int64_t>(), 0);
    EXPECT_GT(set["peak_rss_bytes"].get<int64_t>(), 0);
    EXPECT_GT(set["baseline_rss_bytes"].get<int64_t>(), 0);
    EXPECT_LT(set["baseline_rss_bytes"].get<int64_t>(), set["peak_rss_bytes"].get<int64_t>());
    EXPECT_GT(set["state_bytes"].get<int64_t>(), 0);
    EXPECT_GE(set["samples"].size(), 10u);
    // The baseline ran, and checked that its counts add up to the payments (else it fails).
    EXPECT_GT(set["raw_rocksdb_records_per_s"].get<double>(), 0);
    EXPECT_GT(set["raw_rocksdb_get_us_per_record"].get<double>(), 0);
    EXPECT_GT(set["raw_rocksdb_one_value_records_per_s"].get<double>(), 0);
    EXPECT_GT(set["raw_rocksdb_one_value_get_us_per_record"].get<double>(), 0);
  }
  for (const char* layout : {"one value per payment \\(today's layout\\)",
                             "six windows per payment \\(the first layout\\)"}) {
    EXPECT_THAT(result.out, ::testing::ContainsRegex(absl::StrCat(
                                "default.yaml: RocksDB alone, ", layout,
                                " [0-9]+ records/s \\(its gets [0-9.]+ us per record\\); weir "
                                "[0-9.]+x")));
  }
  // Bounded's plan in process: the 1 MiB record cache, the 64 MiB bound on uncommitted writes
  // and the one shared 256 MiB cache that also holds the memtables - no librdkafka buffers.
  EXPECT_EQ(json["results"][1]["planned_bytes"].get<int64_t>(), int64_t{(1 + 64 + 256)} << 20);
  EXPECT_THAT(result.out, ::testing::ContainsRegex(
                              "bounded.yaml: peak RSS [0-9.]+x of its budget \\([0-9]+M before"));
  const std::string html = ReadFile(out / "report.html");
  EXPECT_THAT(html, ::testing::HasSubstr("<svg"));
  EXPECT_THAT(html, ::testing::Not(::testing::HasSubstr("http://"))) << "no network resources";
  EXPECT_THAT(html, ::testing::Not(::testing::HasSubstr("https://")));
  std::filesystem::remove_all(out);
}

TEST(BenchCompare, EndToEndRunsThroughTheBrokerBesideARawConsumer) {
  const std::filesystem::path out =
      std::filesystem::temp_directory_path() / absl::StrCat("weir-compare-e2e-", getpid());
  const test::CommandResult result =
      test::RunCommand({test::WeirBinary(), "bench", "compare", "--end-to-end", "--options",
                           "config/rocksdb/default.yaml", "--records", "5000", "--cards", "1000",
                           "--output", out.string()},
                          "", std::chrono::seconds(180));
  ASSERT_EQ(result.exit_status, 0) << result.err;
  EXPECT_THAT(result.out,
              ::testing::ContainsRegex("raw consume [1-9][0-9]* records/s in the same run"));
  const nlohmann::json json = nlohmann::json::parse(ReadFile(out / "results.json"), nullptr, false);
  ASSERT_FALSE(json.is_discarded());
  EXPECT_EQ(json["workload"]["mode"], "end-to-end");
  EXPECT_EQ(json["results"][0]["records"], 5000);
  EXPECT_GT(json["results"][0]["raw_consume_records_per_s"].get<double>(), 0);
  EXPECT_GT(json["results"][0]["bytes_written"].get<int64_t>(), 0) << "commits reached RocksDB";
  std::filesystem::remove_all(out);
}

TEST(BenchCompare, NamesABadOptionSetBeforeRunningAnything) {
  const std::filesystem::path bad =
      std::filesystem::temp_directory_path() / absl::StrCat("weir-bad-set-", getpid(), ".yaml");
  std::ofstream(bad) << "block_cache_size: lots\n";
  const test::CommandResult result = test::RunCommand(
      {test::WeirBinary(), "bench", "compare", "--options", "config/rocksdb/default.yaml",
       "--options", bad.string(), "--records", "100"},
      "", std::chrono::seconds(60));
  EXPECT_EQ(result.exit_status, 2);
  EXPECT_THAT(result.err, ::testing::HasSubstr(bad.string()));
  EXPECT_THAT(result.err, ::testing::Not(::testing::HasSubstr("[1/2]")));
  std::filesystem::remove(bad);
}

TEST(BenchClients, ProduceAndConsumeReportBaselineAndTuned) {
  const test::CommandResult produce = test::RunCommand(
      {test::WeirBinary(), "bench", "produce", "--records", "2000", "--record-size", "100"}, "",
      std::chrono::seconds(120));
  ASSERT_EQ(produce.exit_status, 0) << produce.err;
  EXPECT_THAT(produce.out, ::testing::HasSubstr(
                               "| Config    | Records/sec | MB/sec | Avg Latency | P99 Latency |"));
  EXPECT_THAT(produce.out, ::testing::ContainsRegex("\\| Baseline +\\| +[1-9][0-9]* \\|"));
  EXPECT_THAT(produce.out, ::testing::ContainsRegex("\\| Tuned +\\| +[1-9][0-9]* \\|"));
  const test::CommandResult consume =
      test::RunCommand({test::WeirBinary(), "bench", "consume", "--records", "2000"}, "",
                          std::chrono::seconds(120));
  ASSERT_EQ(consume.exit_status, 0) << consume.err;
  EXPECT_THAT(consume.out,
              ::testing::ContainsRegex("\\| Baseline +\\| +[0-9.]+ \\| +[0-9.]+ \\| +2000 \\|"));
  EXPECT_THAT(consume.out,
              ::testing::ContainsRegex("\\| Tuned +\\| +[0-9.]+ \\| +[0-9.]+ \\| +2000 \\|"));
}

TEST(BenchLoad, ReportsEveryPhaseAndFailsACheckItCannotMeet) {
  const std::filesystem::path config =
      std::filesystem::temp_directory_path() / absl::StrCat("weir-load-", getpid(), ".yaml");
  // A lag threshold of 0 cannot hold while records flow: that check must FAIL, and the run exit 1.
  std::ofstream(config) << "peak.rate: 500\nwarmup.records: 500\nsustained.records: 1500\n"
                           "burst.records: 1500\nsla.p99.ms: 60000\nmax.lag.records: 0\n"
                           "cards: 2000\n";
  const test::CommandResult result = test::RunCommand(
      {test::WeirBinary(), "bench", "load", "--load-config", config.string()}, "",
      std::chrono::seconds(180));
  EXPECT_EQ(result.exit_status, 1) << result.err;
  EXPECT_THAT(result.out, ::testing::ContainsRegex("\\| sustained \\| 1500 \\| 500 \\|"));
  EXPECT_THAT(result.out, ::testing::ContainsRegex("\\| burst \\| 1500 \\| 1000 \\|"));
  EXPECT_THAT(result.out, ::testing::ContainsRegex("\\| warm-up \\| 500 \\| 500 \\|"));
  // Every alert read is timed at every hop: the hop table counts as many alerts per phase as
  // the phase table, and its five hops each have a p50 and a p99.
  for (const char* phase : {"sustained", "burst"}) {
    std::smatch alerts, timed;
    const std::string out = result.out;
    ASSERT_TRUE(std::regex_search(
        out, alerts, std::regex(absl::StrCat("\\| ", phase, " \\| [0-9]+ \\| [0-9]+ \\| [0-9]+ \\| ([0-9]+) \\|"))))
        << out;
    ASSERT_TRUE(std::regex_search(
        out, timed,
        std::regex(absl::StrCat("\\| ", phase, " \\| ([0-9]+) \\|( [0-9.]+ / [0-9.]+ \\|){5}\n"))))
        << out;
    EXPECT_GT(std::stoi(alerts[1].str()), 0) << phase;
    EXPECT_EQ(alerts[1].str(), timed[1].str()) << phase;
  }
  EXPECT_THAT(result.out,
              ::testing::ContainsRegex("\\| consumer lag under threshold \\| max [1-9][0-9]* "
                                       "records \\| <= 0 records \\| FAIL \\|"));
  EXPECT_THAT(result.out, ::testing::ContainsRegex(
                              "\\| p99 latency under SLA \\| .* \\| <= 60000 ms \\| PASS \\|"));
  std::filesystem::remove(config);
}

}  // namespace
}  // namespace weir
