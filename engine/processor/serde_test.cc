#include "engine/processor/serde.h"

#include <gmock/gmock.h>
#include <gtest/gtest.h>

#include "engine/dsl/windows.h"
#include "engine/kafka/partitioner.h"

namespace weir {
namespace {

TEST(Serdes, IntegersAreKafkaBigEndian) {
  EXPECT_EQ(serdes::Int64()->Serialize(1), std::string("\0\0\0\0\0\0\0\1", 8));
  EXPECT_EQ(serdes::Int32()->Serialize(-2), std::string("\xff\xff\xff\xfe", 4));
  for (int64_t v : {int64_t{0}, int64_t{-1}, int64_t{1} << 40, INT64_MIN, INT64_MAX}) {
    EXPECT_EQ(*serdes::Int64()->Deserialize(serdes::Int64()->Serialize(v)), v);
  }
  EXPECT_TRUE(absl::IsInvalidArgument(serdes::Int32()->Deserialize("abc").status()));
}

TEST(Serdes, JsonRoundTripsAndRejectsGarbage) {
  const nlohmann::json doc = {{"amount", 125.4}, {"card", "x"}};
  EXPECT_EQ(*serdes::Json()->Deserialize(serdes::Json()->Serialize(doc)), doc);
  EXPECT_TRUE(absl::IsInvalidArgument(serdes::Json()->Deserialize("{not json").status()));
}

TEST(Serdes, WindowedKeysAreKeyThenStart) {
  TimeWindowedSerde<std::string> serde(serdes::String(), 60'000);
  const std::string bytes = serde.Serialize({"card", 120'000, 180'000});
  EXPECT_EQ(bytes, "card" + serdes::Int64()->Serialize(120'000));
  absl::StatusOr<Windowed<std::string>> back = serde.Deserialize(bytes);
  ASSERT_TRUE(back.ok());
  EXPECT_EQ(*back, (Windowed<std::string>{"card", 120'000, 180'000}));
}

// Kafka's UtilsTest.testMurmur2 vectors.
TEST(Partitioner, Murmur2MatchesKafka) {
  EXPECT_EQ(static_cast<int32_t>(Murmur2("21")), -973932308);
  EXPECT_EQ(static_cast<int32_t>(Murmur2("foobar")), -790332482);
  EXPECT_EQ(static_cast<int32_t>(Murmur2("a-little-bit-long-string")), -985981536);
  EXPECT_EQ(static_cast<int32_t>(Murmur2("a-little-bit-longer-string")), -1486304829);
  EXPECT_EQ(static_cast<int32_t>(Murmur2("lkjh234lh9fiuh90y23oiuhsafujhadof229phr9h19h89h8")),
            -58897971);
  EXPECT_EQ(static_cast<int32_t>(Murmur2("abc")), 479470107);
}

TEST(Windows, StartsAreThoseOfEveryWindowContainingTheTimestamp) {
  const TimeWindows tumbling = TimeWindows::OfSizeWithNoGrace(60'000);
  EXPECT_THAT(tumbling.WindowStartsFor(0), ::testing::ElementsAre(0));
  EXPECT_THAT(tumbling.WindowStartsFor(119'999), ::testing::ElementsAre(60'000));
  const TimeWindows hopping = TimeWindows::OfSizeWithNoGrace(300'000).AdvanceBy(60'000);
  EXPECT_THAT(hopping.WindowStartsFor(59'999), ::testing::ElementsAre(0));
  EXPECT_THAT(hopping.WindowStartsFor(300'000),
              ::testing::ElementsAre(60'000, 120'000, 180'000, 240'000, 300'000));
  EXPECT_EQ(hopping.WindowStartsFor(300'000).size(), 5u);
  // An advance that does not divide the size keeps the starts weir always computed.
  const TimeWindows odd = TimeWindows::OfSizeWithNoGrace(5).AdvanceBy(2);
  EXPECT_THAT(odd.WindowStartsFor(7), ::testing::ElementsAre(3, 5));
  EXPECT_THAT(odd.WindowStartsFor(4), ::testing::ElementsAre(1, 3));
  EXPECT_THAT(odd.WindowStartsFor(0), ::testing::ElementsAre(0));
}

}  // namespace
}  // namespace weir
