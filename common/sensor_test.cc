#include "common/sensor.h"

#include <gtest/gtest.h>

#include <atomic>
#include <chrono>
#include <cmath>
#include <thread>

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

// One thread records while another reads: every reading is of whole records (each records 1, so
// sum == count and the window's avg is exactly 1), and counts never go back. The writer runs
// until the reader has read many times while the count moved.
TEST(Sensor, ReadsBesideTheRecordingThreadSeeWholeRecords) {
  Sensor sensor;
  std::atomic<bool> stop{false};
  std::atomic<int64_t> recorded{0};
  std::thread writer([&] {
    for (int64_t i = 0; !stop; ++i) {
      sensor.Record(1.0, i / 1'000);  // windows roll over every 30,000 records
      recorded.store(i + 1, std::memory_order_relaxed);
    }
  });
  while (recorded.load() == 0) std::this_thread::yield();
  const auto deadline = std::chrono::steady_clock::now() + std::chrono::seconds(20);
  int64_t first = -1, last = 0, readings = 0;
  bool torn = false;
  while ((readings < 100'000 || last == first) && std::chrono::steady_clock::now() < deadline) {
    // Read at a time ahead of every record, so every sample is live.
    const Sensor::Reading r = sensor.Read(int64_t{1} << 40);
    torn |= r.sum != static_cast<double>(r.count) || r.count < last;
    if (first < 0) first = r.count;
    last = r.count;
    ++readings;
  }
  stop = true;
  writer.join();
  EXPECT_FALSE(torn) << "a reading mixed two records' fields";
  EXPECT_GT(last, first) << "the writer never ran during the reads";
  EXPECT_EQ(sensor.Read(int64_t{1} << 40).count, recorded.load());
}

}  // namespace
}  // namespace weir
