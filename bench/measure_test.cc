#include "bench/measure.h"

#include <gtest/gtest.h>

#include <cmath>
#include <fstream>
#include <string>

namespace weir::bench {
namespace {

TEST(Percentile, IsTheNearestRank) {
  const std::vector<double> ten = {10, 1, 9, 2, 8, 3, 7, 4, 6, 5};
  EXPECT_EQ(Percentile(ten, 0.5), 5);   // rank ceil(5) = 5
  EXPECT_EQ(Percentile(ten, 0.51), 6);  // rank ceil(5.1) = 6
  EXPECT_EQ(Percentile(ten, 0.9), 9);
  EXPECT_EQ(Percentile(ten, 0.99), 10);  // rank ceil(9.9) = 10
  EXPECT_EQ(Percentile(ten, 1.0), 10);
  EXPECT_EQ(Percentile(ten, 0.01), 1);
  EXPECT_EQ(Percentile({42}, 0.99), 42);
  EXPECT_EQ(Percentile({1, 2}, 0.5), 1);  // floor(q*n) would say 2
  EXPECT_EQ(Percentile({3, 1, 2}, 0.5), 2);
}

TEST(Percentile, OfNothingIsNaN) {
  EXPECT_TRUE(std::isnan(Percentile({}, 0.99)));
  EXPECT_TRUE(std::isnan(PercentileOfSorted(std::vector<float>{}, 0.5)));
}

TEST(Percentile, OfSortedValuesFollowsTheSameRule) {
  const std::vector<float> sorted = {1, 2, 3, 4, 5, 6, 7, 8, 9, 10};
  for (const double q : {0.01, 0.5, 0.51, 0.9, 0.99, 1.0}) {
    EXPECT_EQ(PercentileOfSorted(sorted, q),
              Percentile(std::vector<double>(sorted.begin(), sorted.end()), q))
        << q;
  }
}

TEST(DirectoryBytes, AddsTheFilesUnderADirectory) {
  const std::filesystem::path dir =
      std::filesystem::path(::testing::TempDir()) / "weir-measure-test";
  std::filesystem::remove_all(dir);
  std::filesystem::create_directories(dir / "sub");
  std::ofstream(dir / "a") << std::string(100, 'a');
  std::ofstream(dir / "sub" / "b") << std::string(23, 'b');
  EXPECT_EQ(DirectoryBytes(dir), 123);
  EXPECT_EQ(DirectoryBytes(dir / "missing"), 0);
  std::filesystem::remove_all(dir);
}

}  // namespace
}  // namespace weir::bench
