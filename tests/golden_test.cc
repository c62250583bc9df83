// Golden files: `weir replay` of a payments story must produce exactly the expected alerts.
#include <gmock/gmock.h>
#include <gtest/gtest.h>

#include <algorithm>
#include <cstdlib>
#include <filesystem>
#include <fstream>
#include <sstream>

#include "tests/support/subprocess.h"

namespace weir {
namespace {

using test::ReadFile;

// Every directory under tests/golden/fraud is a scenario (see its README).
std::vector<std::string> Scenarios() {
  std::vector<std::string> names;
  for (const auto& entry : std::filesystem::directory_iterator("tests/golden/fraud")) {
    if (entry.is_directory()) names.push_back(entry.path().filename().string());
  }
  std::sort(names.begin(), names.end());
  return names;
}

class FraudGolden : public ::testing::TestWithParam<std::string> {};

TEST_P(FraudGolden, ReplayMatchesTheExpectedAlertsAndSummary) {
  const std::string dir = "tests/golden/fraud/" + GetParam();
  setenv("WEIR_CARD_TOKEN_KEY", "golden-key", 1);  // the child inherits it
  const std::string output = ::testing::TempDir() + "/golden-" + GetParam() + ".jsonl";
  const test::CommandResult result = test::RunCommand(
      {test::WeirBinary(), "replay", "--input", dir + "/payments.jsonl", "--output", output}, "",
      std::chrono::seconds(60));
  ASSERT_EQ(result.exit_status, 0) << result.err;
  EXPECT_EQ(ReadFile(output), ReadFile(dir + "/alerts.jsonl")) << ReadFile(dir + "/story.txt");
  std::istringstream summary(ReadFile(dir + "/summary.txt"));
  int lines = 0;
  for (std::string line; std::getline(summary, line); ++lines) {
    EXPECT_THAT(result.err, ::testing::HasSubstr(line));
  }
  EXPECT_EQ(lines, 3) << dir << "/summary.txt: alerts, late and dead-letter lines expected";
}

INSTANTIATE_TEST_SUITE_P(Scenarios, FraudGolden, ::testing::ValuesIn(Scenarios()),
                         [](const auto& info) {
                           std::string name = info.param;
                           std::replace(name.begin(), name.end(), '-', '_');
                           return name;
                         });

TEST(Golden, ThereAreAtLeastFifteenScenarios) { EXPECT_GE(Scenarios().size(), 15u); }

TEST(Golden, ReplayNamesAMissingInput) {
  const test::CommandResult result = test::RunCommand(
      {test::WeirBinary(), "replay", "--input", "no/such.jsonl"}, "", std::chrono::seconds(30));
  EXPECT_EQ(result.exit_status, 2);
  EXPECT_THAT(result.err, ::testing::HasSubstr("no/such.jsonl: cannot read the input"));
}

}  // namespace
}  // namespace weir
