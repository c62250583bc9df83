#include "cli/capacity_plan.h"

#include <gmock/gmock.h>
#include <gtest/gtest.h>

namespace weir {
namespace {

using ::testing::HasSubstr;

CapacityInputs WorksheetInputs() {
  return {.peak_records_per_s = 10'000,
          .record_bytes = 512,
          .retention_days = 7,
          .replication_factor = 3,
          .consumers = 4};
}

std::string Value(const CapacityPlan& plan, const std::string& what) {
  for (const CapacityPlan::Line& line : plan.kafka) {
    if (line.what == what) return line.value;
  }
  return "no line " + what;
}

TEST(CapacityPlan, TheWorksheetsInputsGiveItsArithmeticWithEveryDigitKept) {
  absl::StatusOr<CapacityPlan> plan = PlanCapacity(WorksheetInputs(), std::nullopt);
  ASSERT_TRUE(plan.ok()) << plan.status();
  EXPECT_DOUBLE_EQ(plan->ingress_mb_per_s, 5.12);
  EXPECT_EQ(Value(*plan, "ingress"), "5.12 MB/s");
  EXPECT_EQ(Value(*plan, "storage per day"), "442 GB/day");     // 5.12 x 86,400
  EXPECT_EQ(Value(*plan, "with replication"), "1.33 TB/day");   // x 3
  EXPECT_EQ(Value(*plan, "for the retention"), "9.29 TB");      // x 7
  EXPECT_EQ(plan->partitions_for_throughput, 1);                // 5.12 / 10, rounded up
  EXPECT_EQ(plan->partitions_for_parallelism, 4);
  EXPECT_EQ(plan->partitions, 6);                               // 4 x 1.5
  EXPECT_EQ(Value(*plan, "instances"), "3-4");                  // 1.5-2 partitions each
  // The worksheet's own figures, from its ingress rounded to 5 MB/s.
  EXPECT_THAT(plan->rounded_chain, HasSubstr("5 MB/s first: 432 GB/day, 1.3 TB/day, 9.1 TB"));
  EXPECT_FALSE(plan->threads_needed.has_value());
}

TEST(CapacityPlan, AnIngressOfWholeMegabytesNeedsNoRoundingNote) {
  CapacityInputs in = WorksheetInputs();
  in.record_bytes = 500;  // 5.00 MB/s
  absl::StatusOr<CapacityPlan> plan = PlanCapacity(in, std::nullopt);
  ASSERT_TRUE(plan.ok());
  EXPECT_EQ(Value(*plan, "storage per day"), "432 GB/day");
  EXPECT_EQ(Value(*plan, "with replication"), "1.3 TB/day");
  EXPECT_EQ(Value(*plan, "for the retention"), "9.07 TB");
  EXPECT_TRUE(plan->rounded_chain.empty());
}

TEST(CapacityPlan, ThroughputPartitionsFollowTheRuleAndHeadroom) {
  CapacityInputs in = WorksheetInputs();
  in.peak_records_per_s = 200'000;  // 102.4 MB/s: 11 partitions at 10 MB/s, more than 4 consumers
  absl::StatusOr<CapacityPlan> plan = PlanCapacity(in, std::nullopt);
  ASSERT_TRUE(plan.ok());
  EXPECT_EQ(plan->partitions_for_throughput, 11);
  EXPECT_EQ(plan->partitions, 17);  // 11 x 1.5 = 16.5, rounded up
  EXPECT_EQ(plan->instances_low, 9);
  EXPECT_EQ(plan->instances_high, 11);
}

TEST(CapacityPlan, AMeasuredRatePerThreadGivesTheThreadsWithHeadroom) {
  const MeasuredRun run{.source = "test", .records_per_s_per_thread = 4'000};
  absl::StatusOr<CapacityPlan> plan = PlanCapacity(WorksheetInputs(), run);
  ASSERT_TRUE(plan.ok());
  EXPECT_EQ(plan->threads_needed, 4);  // 10,000 x 1.5 / 4,000 = 3.75
}

TEST(CapacityPlan, ABadInputIsNamed) {
  CapacityInputs in = WorksheetInputs();
  in.record_bytes = 0;
  absl::StatusOr<CapacityPlan> plan = PlanCapacity(in, std::nullopt);
  ASSERT_FALSE(plan.ok());
  EXPECT_THAT(plan.status().message(), HasSubstr("--record-size"));
}

TEST(MeasuredRun, ReadsBenchCompareResultsForTheConfiguredOptionSet) {
  const std::string json = R"({"build_type": "Release",
    "workload": {"records": 2000000, "cards": 1000000, "mode": "in-process", "stream_threads": 1},
    "results": [{"option_set": "config/rocksdb/default.yaml", "records_per_s": 50000,
                 "state_bytes": 100000000},
                {"option_set": "config/rocksdb/tuned.yaml", "records_per_s": 66000,
                 "state_bytes": 90000000}]})";
  absl::StatusOr<MeasuredRun> run = ReadMeasuredRun("r.json", json, "config/rocksdb/tuned.yaml");
  ASSERT_TRUE(run.ok()) << run.status();
  EXPECT_DOUBLE_EQ(run->records_per_s_per_thread, 66'000);
  EXPECT_DOUBLE_EQ(run->state_bytes_per_card, 90);
  EXPECT_THAT(run->source, HasSubstr("tuned.yaml"));
  run = ReadMeasuredRun("r.json", json, "config/rocksdb/other.yaml");  // absent: the first
  ASSERT_TRUE(run.ok());
  EXPECT_DOUBLE_EQ(run->records_per_s_per_thread, 50'000);
}

TEST(MeasuredRun, ReadsWeirsRunOfBenchKstreams) {
  const std::string json = R"({"records": 1000000, "cards": 100000, "runs": [
    {"system": "kafka-streams", "records_per_s_per_thread": 20000, "state_bytes": 5},
    {"system": "weir", "records_per_s_per_thread": 90000, "state_bytes": 30000000}]})";
  absl::StatusOr<MeasuredRun> run = ReadMeasuredRun("k.json", json, "");
  ASSERT_TRUE(run.ok()) << run.status();
  EXPECT_DOUBLE_EQ(run->records_per_s_per_thread, 90'000);
  EXPECT_DOUBLE_EQ(run->state_bytes_per_card, 300);
}

TEST(MeasuredRun, AnythingElseIsRefusedNamingTheFile) {
  for (const char* text :
       {"not json", "[]", R"({"results": []})", R"({"runs": [{"system": "x"}]})"}) {
    absl::StatusOr<MeasuredRun> run = ReadMeasuredRun("bad.json", text, "");
    ASSERT_FALSE(run.ok()) << text;
    EXPECT_THAT(run.status().message(), HasSubstr("bad.json")) << text;
  }
}

}  // namespace
}  // namespace weir
