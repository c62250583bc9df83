// Golden files: `weir replay` of a payments story must produce exactly the expected alerts.
#include <gmock/gmock.h>
#include <gtest/gtest.h>

#include <cstdlib>
#include <fstream>
#include <sstream>

#include "tests/support/subprocess.h"

namespace weir {
namespace {

std::string ReadFile(const std::string& path) {
  std::ifstream in(path);
  std::stringstream text;
  text << in.rdbuf();
  return text.str();
}

TEST(Golden, FraudReplayMatchesTheExpectedAlerts) {
  setenv("WEIR_CARD_TOKEN_KEY", "golden-key", 1);  // the child inherits it
  const std::string output = ::testing::TempDir() + "/golden-alerts.jsonl";
  const testing::CommandResult result =
      testing::RunCommand({testing::WeirBinary(), "replay", "--input",
                           "tests/golden/fraud/payments.jsonl", "--output", output},
                          "", std::chrono::seconds(60));
  ASSERT_EQ(result.exit_status, 0) << result.err;
  EXPECT_EQ(ReadFile(output), ReadFile("tests/golden/fraud/alerts.jsonl"));
  EXPECT_THAT(result.err, ::testing::HasSubstr("alerts: 3 GEO_HOP=1 HIGH_SPEND=1 VELOCITY=1"));
  EXPECT_THAT(result.err, ::testing::HasSubstr("late (dropped window updates): 9"));
  EXPECT_THAT(result.err, ::testing::HasSubstr("dead letters: 3"));
}

TEST(Golden, ReplayNamesAMissingInput) {
  const testing::CommandResult result = testing::RunCommand(
      {testing::WeirBinary(), "replay", "--input", "no/such.jsonl"}, "", std::chrono::seconds(30));
  EXPECT_EQ(result.exit_status, 2);
  EXPECT_THAT(result.err, ::testing::HasSubstr("no/such.jsonl: cannot read the input"));
}

}  // namespace
}  // namespace weir
