#include "engine/runtime/standby_placement.h"

#include <algorithm>
#include <tuple>

namespace weir {

std::map<TaskId, std::string> PredictRangeAssignment(const std::vector<GroupMember>& members,
                                                     const std::vector<SourceTopic>& topics) {
  std::map<TaskId, std::string> owners;
  if (members.empty()) return owners;
  std::vector<const GroupMember*> sorted;
  for (const GroupMember& member : members) sorted.push_back(&member);
  std::sort(sorted.begin(), sorted.end(),
            [](const GroupMember* a, const GroupMember* b) { return a->member_id < b->member_id; });
  const auto count = static_cast<int32_t>(sorted.size());
  for (const SourceTopic& topic : topics) {
    const int32_t each = topic.partitions / count;
    const int32_t extra = topic.partitions % count;
    for (int32_t i = 0; i < count; ++i) {
      const int32_t start = each * i + std::min(i, extra);
      const int32_t length = each + (i < extra ? 1 : 0);
      for (int32_t p = start; p < start + length; ++p) {
        owners[TaskId{topic.subtopology, p}] = sorted[i]->instance;
      }
    }
  }
  return owners;
}

std::map<TaskId, std::vector<std::string>> PlaceStandbys(const std::vector<GroupMember>& members,
                                                         const std::vector<SourceTopic>& topics,
                                                         const std::set<int>& stateful,
                                                         int replicas) {
  std::map<TaskId, std::vector<std::string>> hosts;
  if (replicas <= 0 || members.empty()) return hosts;
  std::set<std::string> instances;
  for (const GroupMember& member : members) instances.insert(member.instance);
  const std::map<TaskId, std::string> now = PredictRangeAssignment(members, topics);

  // Where each task would land, per departing instance; weight 2 when its owner departs.
  std::map<TaskId, std::map<std::string, int>> landings;
  for (const std::string& departing : instances) {
    std::vector<GroupMember> rest;
    for (const GroupMember& member : members) {
      if (member.instance != departing) rest.push_back(member);
    }
    for (const auto& [task, owner] : PredictRangeAssignment(rest, topics)) {
      const auto current = now.find(task);
      if (current == now.end() || current->second == owner) continue;
      landings[task][owner] += current->second == departing ? 2 : 1;
    }
  }

  std::map<std::string, int> load;  // standbys placed per instance
  for (const std::string& instance : instances) load[instance] = 0;
  for (const auto& [task, owner] : now) {
    if (!stateful.contains(task.subtopology)) continue;
    std::vector<std::string>& chosen = hosts[task];
    std::vector<std::pair<std::string, int>> candidates(landings[task].begin(),
                                                        landings[task].end());
    std::sort(candidates.begin(), candidates.end(), [](const auto& a, const auto& b) {
      return std::tie(b.second, a.first) < std::tie(a.second, b.first);
    });
    for (const auto& [instance, weight] : candidates) {
      if (static_cast<int>(chosen.size()) == replicas) break;
      if (instance == owner) continue;
      chosen.push_back(instance);
      ++load[instance];
    }
    while (static_cast<int>(chosen.size()) < replicas) {
      const std::string* least = nullptr;
      for (const auto& [instance, placed] : load) {
        if (instance == owner ||
            std::find(chosen.begin(), chosen.end(), instance) != chosen.end()) {
          continue;
        }
        if (least == nullptr || placed < load[*least]) least = &instance;
      }
      if (least == nullptr) break;  // no other instance left
      chosen.push_back(*least);
      ++load[*least];
    }
  }
  return hosts;
}

}  // namespace weir
