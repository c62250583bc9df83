// The interactive queries of DSL tables (KTable::Queryable), answered by a QueryService over a
// test driver: the same views `weir run` serves over HTTP.
#include "engine/http/query_service.h"

#include <gmock/gmock.h>
#include <gtest/gtest.h>

#include <nlohmann/json.hpp>

#include "engine/dsl/streams_builder.h"
#include "engine/runtime/test_driver.h"

namespace weir {
namespace {

using ::testing::HasSubstr;

nlohmann::json Ask(const QueryService& service, const std::string& path,
                   const nlohmann::json& body) {
  const HttpReply reply = service.Handle({.method = "POST", .path = path, .body = body.dump()});
  EXPECT_EQ(reply.status, 200) << path << ": " << reply.body;
  return nlohmann::json::parse(reply.body, nullptr, false);
}

TEST(QueryService, DslTablesAreQueryableByKeyAndByWindow) {
  const auto s = serdes::String();
  StreamsBuilder builder;
  builder.Table<std::string, std::string>("prices", s, s, Materialized<std::string>::As("prices"))
      .Queryable();
  auto clicks = builder.Stream<std::string, std::string>("clicks", s, s);
  clicks.GroupByKey().Count(Materialized<int64_t>::As("clicks-total")).Queryable("totals");
  clicks.GroupByKey()
      .WindowedBy(SessionWindows::OfInactivityGapAndGrace(1'000, 10'000))  // kept 11 s
      .Count(Materialized<int64_t>::As("click-sessions"))
      .Queryable("sessions");
  clicks.GroupByKey()
      .WindowedBy(SlidingWindows::OfTimeDifferenceAndGrace(500, 10'000))
      .Count(Materialized<int64_t>::As("click-bursts"))
      .Queryable("bursts");
  absl::StatusOr<Topology> topology = builder.Build();
  ASSERT_TRUE(topology.ok()) << topology.status();

  TopologyTestDriver driver(*topology, {.partitions = 2});
  TestInputTopic<std::string, std::string> prices(driver, "prices", s, s);
  ASSERT_TRUE(prices.Pipe("apple", "1.20", 100).ok());
  ASSERT_TRUE(prices.Pipe("apple", "1.25", 200).ok());
  TestInputTopic<std::string, std::string> in(driver, "clicks", s, s);
  for (int64_t ts : {1'000, 1'300, 1'600, 5'000}) ASSERT_TRUE(in.Pipe("ann", "c", ts).ok());
  const QueryService service(*topology, driver, 2);

  nlohmann::json price = Ask(service, "/state/prices/key", {{"key", "apple"}});
  EXPECT_EQ(price["found"], true) << price;
  EXPECT_EQ(price["value"], "1.25") << price;
  EXPECT_EQ(price["timestamp"], 200) << price;
  EXPECT_EQ(Ask(service, "/state/prices/key", {{"key", "pear"}})["found"], false);

  EXPECT_EQ(Ask(service, "/state/totals/key", {{"key", "ann"}})["value"], 4);

  // Two sessions: [1000, 1600] of three clicks, [5000, 5000] of one.
  nlohmann::json sessions = Ask(service, "/state/sessions/windows", {{"key", "ann"}});
  ASSERT_EQ(sessions["windows"].size(), 2u) << sessions;
  EXPECT_EQ(sessions["windows"][0],
            nlohmann::json({{"start", 1'000}, {"end", 1'600}, {"value", 3}}));
  EXPECT_EQ(sessions["windows"][1],
            nlohmann::json({{"start", 5'000}, {"end", 5'000}, {"value", 1}}));
  // Only those overlapping [from, to].
  EXPECT_EQ(Ask(service, "/state/sessions/windows", {{"key", "ann"}, {"from", 2'000}})["windows"]
                .size(),
            1u);

  // Sliding windows of 500 ms: the window ending at 1,600 holds 1,300 and 1,600.
  nlohmann::json bursts =
      Ask(service, "/state/bursts/windows", {{"key", "ann"}, {"from", 1'100}, {"to", 1'100}});
  ASSERT_EQ(bursts["windows"].size(), 1u) << bursts;
  EXPECT_EQ(bursts["windows"][0], nlohmann::json({{"start", 1'100}, {"end", 1'600}, {"value", 2}}));
}

TEST(QueryService, ATableWithoutAStoreOfItsOwnCannotBeQueried) {
  const auto s = serdes::String();
  StreamsBuilder builder;
  builder.Table<std::string, std::string>("prices", s, s, Materialized<std::string>::As("prices"))
      .Filter([](const std::string&, const std::string& v) { return !v.empty(); })
      .Queryable("cheap");
  absl::StatusOr<Topology> topology = builder.Build();
  ASSERT_FALSE(topology.ok());
  EXPECT_THAT(topology.status().message(), HasSubstr("cannot be queried"));
}

}  // namespace
}  // namespace weir
