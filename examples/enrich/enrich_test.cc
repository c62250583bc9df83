// The enrichment through weir's test driver: a table updated before and after an order, a
// global table, an unknown customer and an unknown product.
#include <gmock/gmock.h>
#include <gtest/gtest.h>

#include "engine/runtime/test_driver.h"
#include "examples/enrich/enrich.h"

namespace {

using ::testing::ElementsAre;

TEST(Enrich, OrdersSeeTheTablesAsTheyStandWhenProcessed) {
  absl::StatusOr<weir::Topology> topology = enrich::BuildTopology();
  ASSERT_TRUE(topology.ok()) << topology.status();
  weir::TopologyTestDriver driver(*topology, {.partitions = 2});
  const auto s = weir::serdes::String();
  weir::TestInputTopic<std::string, std::string> orders(driver, enrich::kOrders, s, s);
  weir::TestInputTopic<std::string, std::string> customers(driver, enrich::kCustomers, s, s);
  weir::TestInputTopic<std::string, std::string> products(driver, enrich::kProducts, s, s);
  ASSERT_TRUE(products.Pipe("p1", "teapot", 1).ok());
  ASSERT_TRUE(customers.Pipe("c1", "Ada", 2).ok());
  ASSERT_TRUE(orders.Pipe("c1", "p1,2", 3).ok());
  ASSERT_TRUE(orders.Pipe("c2", "p1,1", 4).ok());       // no such customer yet
  ASSERT_TRUE(customers.Pipe("c1", "Ada L.", 5).ok());  // renamed: later orders see it
  ASSERT_TRUE(orders.Pipe("c1", "p1,3", 6).ok());
  ASSERT_TRUE(orders.Pipe("c1", "p9,1", 7).ok());  // no such product: dropped
  weir::TestOutputTopic<std::string, std::string> enriched(driver, enrich::kEnriched, s, s);
  absl::StatusOr<std::vector<weir::Record<std::string, std::string>>> records =
      enriched.ReadRecords();
  ASSERT_TRUE(records.ok()) << records.status();
  std::vector<std::string> lines;
  for (const auto& r : *records) lines.push_back(r.key + ": " + r.value);
  EXPECT_THAT(lines, ElementsAre("c1: Ada bought 2 x teapot", "c2: someone bought 1 x teapot",
                                 "c1: Ada L. bought 3 x teapot"));
}

}  // namespace
