#include "engine/runtime/standby_placement.h"

#include <gtest/gtest.h>

namespace weir {
namespace {

std::vector<SourceTopic> Payments(int32_t partitions) {
  return {{.name = "payments", .partitions = partitions, .subtopology = 0}};
}

TEST(StandbyPlacement, RangeSortsMembersByIdAndGivesTheFirstOnesTheRemainder) {
  // Member ids sort c-... < m-... < x-...; 10 partitions over 3: 4, 3, 3.
  const std::vector<GroupMember> members = {{.member_id = "x-1", .instance = "X"},
                                            {.member_id = "c-1", .instance = "C"},
                                            {.member_id = "m-1", .instance = "M"}};
  const auto owners = PredictRangeAssignment(members, Payments(10));
  ASSERT_EQ(owners.size(), 10u);
  for (int p = 0; p < 4; ++p) EXPECT_EQ(owners.at(TaskId{0, p}), "C") << p;
  for (int p = 4; p < 7; ++p) EXPECT_EQ(owners.at(TaskId{0, p}), "M") << p;
  for (int p = 7; p < 10; ++p) EXPECT_EQ(owners.at(TaskId{0, p}), "X") << p;
}

TEST(StandbyPlacement, OneStandbyCoversEverySingleDepartureOfThreeInstances) {
  const std::vector<GroupMember> members = {{.member_id = "a", .instance = "A"},
                                            {.member_id = "b", .instance = "B"},
                                            {.member_id = "c", .instance = "C"}};
  const auto hosts = PlaceStandbys(members, Payments(12), {0}, 1);
  ASSERT_EQ(hosts.size(), 12u);
  const auto now = PredictRangeAssignment(members, Payments(12));
  for (const std::string departing : {"A", "B", "C"}) {
    std::vector<GroupMember> rest;
    for (const auto& m : members) {
      if (m.instance != departing) rest.push_back(m);
    }
    for (const auto& [task, owner] : PredictRangeAssignment(rest, Payments(12))) {
      if (owner == now.at(task)) continue;  // did not move
      EXPECT_EQ(hosts.at(task), std::vector<std::string>{owner})
          << task.ToString() << " moves to " << owner << " when " << departing << " leaves";
    }
  }
  // Never on the task's owner. `range` sends A's and C's tasks to B when either leaves (A
  // 0-3, B 4-7, C 8-11; without A: B 0-5; without C: B 6-11), so coverage, not balance,
  // decides: B hosts 0-3 and 8-11, A hosts 4-5, C hosts 6-7.
  std::map<std::string, int> load;
  for (const auto& [task, chosen] : hosts) {
    for (const auto& host : chosen) {
      EXPECT_NE(host, now.at(task));
      ++load[host];
    }
  }
  EXPECT_EQ(load, (std::map<std::string, int>{{"A", 2}, {"B", 8}, {"C", 2}}));
}

TEST(StandbyPlacement, InstancesWithSeveralThreadsCountAsOneHost) {
  // Two threads each; member ids interleave the instances when sorted.
  const std::vector<GroupMember> members = {{.member_id = "1", .instance = "A"},
                                            {.member_id = "2", .instance = "B"},
                                            {.member_id = "3", .instance = "A"},
                                            {.member_id = "4", .instance = "B"}};
  const auto hosts = PlaceStandbys(members, Payments(8), {0}, 1);
  const auto now = PredictRangeAssignment(members, Payments(8));
  for (const auto& [task, chosen] : hosts) {
    ASSERT_EQ(chosen.size(), 1u);
    EXPECT_NE(chosen[0], now.at(task)) << task.ToString();
  }
}

TEST(StandbyPlacement, ExtraReplicasGoToTheLeastLoadedAndStatelessTasksGetNone) {
  const std::vector<GroupMember> members = {{.member_id = "a", .instance = "A"},
                                            {.member_id = "b", .instance = "B"},
                                            {.member_id = "c", .instance = "C"},
                                            {.member_id = "d", .instance = "D"}};
  std::vector<SourceTopic> topics = Payments(8);
  topics.push_back({.name = "app-rekeyed-repartition", .partitions = 8, .subtopology = 1});
  const auto hosts = PlaceStandbys(members, topics, {1}, 2);
  EXPECT_EQ(hosts.size(), 8u);  // sub-topology 0 is stateless
  // A 0-1, B 2-3, C 4-5, D 6-7. The first host is where the owner's departure sends the task;
  // the second is the least-loaded other instance at that point (ties: smaller id).
  const auto now = PredictRangeAssignment(members, topics);
  std::map<std::string, int> load;
  for (const auto& [task, chosen] : hosts) {
    EXPECT_EQ(task.subtopology, 1);
    ASSERT_EQ(chosen.size(), 2u);
    EXPECT_NE(chosen[0], chosen[1]);
    for (const auto& host : chosen) {
      EXPECT_NE(host, now.at(task));
      ++load[host];
    }
  }
  int most = 0, least = 100;
  for (const auto& [instance, placed] : load) {
    most = std::max(most, placed);
    least = std::min(least, placed);
  }
  EXPECT_LE(most - least, 3) << "second replicas should even out the first ones";
}

TEST(StandbyPlacement, ALoneInstanceHasNowhereToPutStandbys) {
  const auto hosts =
      PlaceStandbys({{.member_id = "a", .instance = "A"}, {.member_id = "b", .instance = "A"}},
                    Payments(4), {0}, 1);
  for (const auto& [task, chosen] : hosts) EXPECT_TRUE(chosen.empty()) << task.ToString();
}

}  // namespace
}  // namespace weir
