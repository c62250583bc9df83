// The word count's topology through weir's test driver, as a user tests theirs.
#include <gmock/gmock.h>
#include <gtest/gtest.h>

#include <map>

#include "engine/runtime/test_driver.h"
#include "examples/word-count/word_count.h"

namespace {

TEST(WordCount, CountsEachWordAcrossLines) {
  absl::StatusOr<weir::Topology> topology = word_count::BuildTopology();
  ASSERT_TRUE(topology.ok()) << topology.status();
  weir::TopologyTestDriver driver(*topology);
  weir::TestInputTopic<std::string, std::string> lines(
      driver, word_count::kInput, weir::serdes::String(), weir::serdes::String());
  ASSERT_TRUE(lines.Pipe("", "all streams lead to Kafka", 1).ok());
  ASSERT_TRUE(lines.Pipe("", "hello kafka streams", 2).ok());
  weir::TestOutputTopic<std::string, std::optional<int64_t>> counts(
      driver, word_count::kOutput, weir::serdes::String(),
      weir::serdes::Optional(weir::serdes::Int64()));
  absl::StatusOr<std::vector<weir::Record<std::string, std::optional<int64_t>>>> records =
      counts.ReadRecords();
  ASSERT_TRUE(records.ok()) << records.status();
  std::map<std::string, int64_t> last;
  for (const auto& record : *records) last[record.key] = record.value.value_or(-1);
  EXPECT_EQ(last, (std::map<std::string, int64_t>{
                      {"all", 1}, {"streams", 2}, {"lead", 1}, {"to", 1}, {"kafka", 2},
                      {"hello", 1}}));
}

TEST(WordCount, SplitsAtPunctuationAndLowerCases) {
  EXPECT_THAT(word_count::Words("Hello, World! hello"),
              ::testing::ElementsAre("hello", "world", "hello"));
}

}  // namespace
