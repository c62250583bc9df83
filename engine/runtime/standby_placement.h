// Where standby replicas go, computed alike by every instance from the membership view.
//
// Kafka Streams places standbys with its own group assignor. librdkafka runs the assignor in
// the client and offers no custom one (docs/engine.md, "Assignment"), so weir cannot choose where a
// task moves when an instance dies - but it can predict it. The default assignor, `range`, is a
// pure function of the group's member ids (sorted as bytes) and each topic's partition count, and
// the surviving members of a group keep their member ids when they rejoin. So for every
// instance X of the application, weir computes the assignment the group would make if X's
// members left, and notes every task that would land on another instance than today. Those
// landing places are the standby hosts: when X dies, each task it owned (and each task `range`
// shuffles between the survivors) finds a warm copy on the instance that receives it.
//
// A task gets `replicas` hosts: first those where a departure would move it (the departure of
// its own owner first, then others, the most frequent first), then the least-loaded instances
// that are neither its owner nor a host already; ties go to the smaller instance id. Every
// instance computes the same answer from the same view, with no coordination.
//
// With `range` and 3 single-thread instances over 12 partitions (owners A 0-3, B 4-7, C 8-11),
// A leaving gives B 0-5 and C 6-11: tasks 0-3 move to B, 6-7 move from B to C. Over the three
// departures every task has exactly one landing place, so one standby each covers every
// single failure. The price is balance: coverage decides, and here B hosts 8 standbys (0-3 and
// 8-11) while A and C host 2 each. Kafka Streams balances standbys first and then moves
// actives to caught-up copies with probing rebalances; weir cannot move actives, so it puts
// the copies where the actives will go.
#ifndef WEIR_ENGINE_RUNTIME_STANDBY_PLACEMENT_H_
#define WEIR_ENGINE_RUNTIME_STANDBY_PLACEMENT_H_

#include <map>
#include <set>
#include <string>
#include <vector>

#include "engine/processor/topology.h"

namespace weir {

// One consumer of the group (a stream thread), as its instance reports it.
struct GroupMember {
  std::string member_id;  // librdkafka's rd_kafka_memberid()
  std::string instance;   // the instance (process) it belongs to
};

// A topic a sub-topology reads, with its partition count.
struct SourceTopic {
  std::string name;
  int32_t partitions = 0;
  int subtopology = 0;
};

// The owner instance of every task under librdkafka's `range` assignor: per topic, members
// sorted by member id, partitions split in order, the first (partitions % members) members
// taking one more.
std::map<TaskId, std::string> PredictRangeAssignment(const std::vector<GroupMember>& members,
                                                     const std::vector<SourceTopic>& topics);

// Standby hosts of each task of a sub-topology in `stateful`, `replicas` each at most (fewer
// when there are not enough other instances).
std::map<TaskId, std::vector<std::string>> PlaceStandbys(const std::vector<GroupMember>& members,
                                                         const std::vector<SourceTopic>& topics,
                                                         const std::set<int>& stateful,
                                                         int replicas);

}  // namespace weir

#endif  // WEIR_ENGINE_RUNTIME_STANDBY_PLACEMENT_H_
