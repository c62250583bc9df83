#include "engine/sensor.h"

#include <gtest/gtest.h>

#include <cmath>

namespace weir {
namespace {

TEST(Sensor, RatesAreOverTheSampledWindowPaddedToOneFullWindow) {
  Sensor sensor;
  for (int i = 0; i < 10; ++i) sensor.Record(2.0, 1'000 + i * 100);
  // 10 records within 1 s, but the window is padded to 30 s (Kafka's Rate.windowSize).
  Sensor::Reading r = sensor.Read(2'000);
  EXPECT_EQ(r.count, 10);
  EXPECT_DOUBLE_EQ(r.sum, 20.0);
  EXPECT_NEAR(r.count_rate, 10 / 31.0, 1e-9);
  EXPECT_NEAR(r.sum_rate, 20 / 31.0, 1e-9);
  EXPECT_DOUBLE_EQ(r.avg, 2.0);
}

TEST(Sensor, OldSamplesLeaveTheWindowButNotTheTotals) {
  Sensor sensor;
  sensor.Record(5, 0);       // sample 1: [0, 30 s)
  sensor.Record(1, 40'000);  // sample 2: [40 s, 70 s)
  Sensor::Reading r = sensor.Read(50'000);
  EXPECT_DOUBLE_EQ(r.max, 5);
  EXPECT_DOUBLE_EQ(r.min, 1);
  EXPECT_NEAR(r.count_rate, 2 / 50.0, 1e-9);  // elapsed from the oldest sample's start
  sensor.Record(3, 75'000);                   // reuses sample 1's slot: 5 leaves the window
  r = sensor.Read(80'000);
  EXPECT_DOUBLE_EQ(r.max, 3);
  EXPECT_EQ(r.count, 3);
  EXPECT_DOUBLE_EQ(r.sum, 9);
  r = sensor.Read(1'000'000);  // long idle: nothing live
  EXPECT_TRUE(std::isnan(r.avg));
  EXPECT_DOUBLE_EQ(r.count_rate, 0);
  EXPECT_EQ(r.count, 3);
}

}  // namespace
}  // namespace weir
